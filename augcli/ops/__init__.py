"""Pure pixel kernels: no randomness, no validation. Callers pass checked arguments.

Every kernel takes and returns an image laid out (H, W, C) with C in {1, 3, 4}
and dtype uint8 or uint16, and never modifies its input.

One module per transform family, named as in ``augcli.transforms`` (``_image`` holds the
shared helpers). The public kernels are re-exported here, as torchvision's functional layer
does, so ``augcli.ops.warp(image, matrix, size)`` works without knowing the family. The
matrix tests and splits that ``render`` uses to plan fused warps (``is_exact``,
``split_scale``, ``footprint``, ...) stay in ``augcli.ops.geometric``. Importing this
package imports no transform declaration and no registry.
"""

from augcli.ops._image import from_float, to_dtype, to_float
from augcli.ops.background import (
    background_mask,
    estimate_background,
    feather_mask,
    fit_background,
    replace_background,
)
from augcli.ops.blur import gaussian_blur, median_blur, motion_blur, motion_kernel
from augcli.ops.color import adjust_brightness, adjust_contrast, luma_mean, shift_hsv, to_grayscale
from augcli.ops.distort import displace, elastic, elastic_field, piecewise_affine, piecewise_affine_field
from augcli.ops.dropout import coarse_dropout, compress_jpeg
from augcli.ops.filters import convolve, edge_detect, emboss, emboss_kernel, sharpen, sharpen_kernel
from augcli.ops.geometric import (
    affine_matrix,
    box_matrix,
    crop,
    hflip,
    hflip_matrix,
    pad,
    permute,
    perspective_matrix,
    remap,
    resize,
    rot90,
    rot90_matrix,
    translation,
    vflip,
    vflip_matrix,
    warp,
)
from augcli.ops.masks import (
    blend_frequency_noise,
    blend_masked,
    blend_treated,
    blend_value_noise,
    frequency_noise_mask,
    replace_superpixels,
    sharpen_mask,
    superpixel_labels,
    value_noise_mask,
)
from augcli.ops.mix import blend_pair, match_partner, mosaic, mosaic_regions, paste_box
from augcli.ops.noise import add_gaussian_noise, add_salt_pepper, normal_field
from augcli.ops.tone import (
    adjust_gamma,
    adjust_saturation,
    adjust_sharpness,
    autocontrast,
    clahe,
    equalize,
    invert,
    jitter_color,
    posterize,
    rotate_hue,
    scale_brightness,
    shift_rgb,
    shuffle_channels,
    solarize,
)

__all__ = [  # sorted; the imports above group them by family
    "add_gaussian_noise", "add_salt_pepper", "adjust_brightness", "adjust_contrast", "adjust_gamma",
    "adjust_saturation", "adjust_sharpness", "affine_matrix", "autocontrast", "background_mask",
    "blend_frequency_noise", "blend_masked", "blend_pair", "blend_treated", "blend_value_noise", "box_matrix",
    "clahe", "coarse_dropout", "compress_jpeg", "convolve", "crop", "displace", "edge_detect", "elastic",
    "elastic_field", "emboss", "emboss_kernel", "equalize", "estimate_background", "feather_mask", "fit_background",
    "frequency_noise_mask", "from_float", "gaussian_blur", "hflip", "hflip_matrix", "invert", "jitter_color",
    "luma_mean", "match_partner", "median_blur", "mosaic", "mosaic_regions", "motion_blur", "motion_kernel",
    "normal_field", "pad", "paste_box", "permute", "perspective_matrix", "piecewise_affine", "piecewise_affine_field",
    "posterize", "remap", "replace_background", "replace_superpixels", "resize", "rot90", "rot90_matrix",
    "rotate_hue", "scale_brightness", "sharpen", "sharpen_kernel", "sharpen_mask", "shift_hsv", "shift_rgb",
    "shuffle_channels", "solarize", "superpixel_labels", "to_dtype", "to_float", "to_grayscale", "translation",
    "value_noise_mask", "vflip", "vflip_matrix", "warp",
]
