"""Where augcli's numbers differ from albumentations' and torchvision's, written down as data.

``COUNTERPARTS`` maps each transform with a counterpart to that counterpart's name, parameters
and units; ``augcli.docs`` renders it into docs/transforms.md. ``fraction_trap`` refuses values that
are unambiguous in another library's units, and ``fixed_values`` lists range parameters given as one
number, which augcli takes as that exact value where those libraries read ±x.

Imports nothing from ``augcli.transforms`` (only the kinds and the recipe nodes below them), so
declarations can use it.
"""

from __future__ import annotations

from collections import abc
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from typing import TYPE_CHECKING

from augcli.compose import Group, Node, Step
from augcli.params import Factor, Range

if TYPE_CHECKING:
    from augcli.recipe import Recipe


def _fmt(x: float) -> str:
    """A number without a trailing .0."""
    return str(int(x)) if float(x).is_integer() else f"{x:g}"


def fraction_trap(pair: tuple[float, float], param: str, expected: str,
                  any_end: bool = False) -> tuple[str, str, str, str] | None:
    """A ``check`` problem when a 0-255 parameter is given in 0-1 units, else None.

    Refused when the top of the range is strictly between 0 and 1 (with ``any_end``, when either end
    is); the hint gives the values times 255.
    """
    lo, hi = pair
    ends = (lo, hi) if any_end else (hi,)
    if not any(0 < v < 1 for v in ends):
        return None
    got = _fmt(lo) if lo == hi else f"[{_fmt(lo)}, {_fmt(hi)}]"
    scaled = _fmt(round(lo * 255)) if lo == hi else f"[{_fmt(round(lo * 255))}, {_fmt(round(hi * 255))}]"
    return (expected, f"{got} (a fraction of full scale, as in albumentations)", param,
            f"did you mean {scaled}?")


def _steps(nodes: Iterable[Node]) -> Iterator[Step]:
    """Every step below some recipe nodes, depth first."""
    for node in nodes:
        if isinstance(node, Group):
            yield from _steps(node.children)
        else:
            yield node


def fixed_values(pipeline: Recipe | abc.Sequence[Node] | Node) -> list[str]:
    """Range parameters given as one number, which augcli takes as exactly that value.

    ``pipeline`` is a Recipe (its per-class pipelines included), a sequence of its nodes, or one
    node. A parameter is listed when its range is a single value that is not the declared default,
    e.g. ``rotate.degrees = 30 (fixed, not ±30)``: albumentations' ``limit=30`` and torchvision's
    ``degrees=30`` mean [-30, 30]. Parameters that read a number as a magnitude or a factor spread
    already (``limit``, colour jitter factors) are not listed.
    """
    if isinstance(pipeline, Step | Group):
        nodes: list[Node] = [pipeline]
    elif isinstance(pipeline, abc.Sequence):
        nodes = list(pipeline)
    else:
        nodes = [*pipeline.pipeline, *(node for label in pipeline.classes for node in pipeline.pipeline_for(label))]
    found: list[str] = []
    for step in _steps(nodes):
        for pname, param in step.transform.spec.params.items():
            if not isinstance(param, Range) or isinstance(param, Factor) or param.symmetric:
                continue
            lo, hi = getattr(step.transform, pname)
            # A signed parameter at 0 is "off" in every library (albumentations' limit 0 is [0, 0] too).
            if lo != hi or (lo, hi) == param.default or (lo == 0 and param.bounds[0] < 0):
                continue
            text = f"{step.name}.{pname} = {_fmt(lo)} (fixed"
            text += f", not ±{_fmt(abs(lo))})" if param.bounds[0] < 0 else ")"
            if text not in found:
                found.append(text)
    return found


@dataclass(frozen=True)
class Counterpart:
    """One transform's counterpart in another library: its name, and how each parameter maps."""

    name: str  # augcli transform
    library: str  # "albumentations" or "torchvision"
    other: str  # the counterpart's class
    params: tuple[tuple[str, str, str], ...] = ()  # (augcli parameter, their parameter, conversion)
    note: str = ""


_SYM = "their x means [-x, x]; here x is exactly x, so write [-x, x]"
_SAME = "same meaning"
A, TV = "albumentations", "torchvision"
_WARP = (("border", "border_mode", "constant/reflect(_101)/replicate/wrap"), ("fill", "fill", "0-255 units"),
         ("interpolation", "interpolation", "same filters"))

COUNTERPARTS: tuple[Counterpart, ...] = (
    Counterpart("hflip", A, "HorizontalFlip"), Counterpart("hflip", TV, "RandomHorizontalFlip"),
    Counterpart("vflip", A, "VerticalFlip"), Counterpart("vflip", TV, "RandomVerticalFlip"),
    Counterpart("rot90", A, "RandomRotate90", (("k", "(drawn from 0-3)", "here [1, 3] by default: always turns"),)),
    Counterpart("rotate", A, "Rotate", (("degrees", "limit", _SYM), *_WARP),
                "positive angles turn counter-clockwise in both, about ((w - 1) / 2, (h - 1) / 2)"),
    Counterpart("rotate", TV, "RandomRotation", (("degrees", "degrees", _SYM),),
                "positive angles turn counter-clockwise in both; torchvision fills 0"),
    Counterpart("affine", A, "Affine",
                (("degrees", "rotate", _SYM), ("scale", "scale", _SAME + " (one factor for both axes here)"),
                 ("translate", "translate_percent", "fraction of the side; here x and y are drawn from one range"),
                 ("shear", "shear", _SYM + "; degrees, same sign"), *_WARP),
                "same order about the centre: scale, rotate, shear, translate"),
    Counterpart("affine", TV, "RandomAffine",
                (("degrees", "degrees", _SYM), ("translate", "translate", "their (a, b) is a largest fraction: "
                                                                        "write [-a, a]"),
                 ("scale", "scale", _SAME), ("shear", "shear", _SYM + "; same sign")),
                "same shear sign"),
    Counterpart("shear", A, "Affine(shear)", (("x", 'shear["x"]', _SYM + "; degrees, same sign"),
                                              ("y", 'shear["y"]', _SYM + "; degrees, same sign"), *_WARP)),
    Counterpart("translate", A, "Affine(translate_percent)",
                (("x", 'translate_percent["x"]', "fraction of the width"),
                 ("y", 'translate_percent["y"]', "fraction of the height"), *_WARP)),
    Counterpart("scale", A, "Affine(scale)", (("factor", 'scale["x"]', _SAME), ("y_factor", 'scale["y"]', _SAME),
                                              ("per_axis", "keep_ratio", "per_axis is not keep_ratio"), *_WARP)),
    Counterpart("perspective", A, "Perspective",
                (("distortion", "scale", "theirs is the std of |N(0, s)| inward corner moves; here corners move "
                                         "uniformly in [-d, d] of the side, inward or out"), *_WARP)),
    Counterpart("resize", A, "Resize", (("width", "width", _SAME), ("height", "height", _SAME),
                                        ("interpolation", "interpolation", "default area here, linear there"))),
    Counterpart("resize", TV, "Resize", (("width", "size", "size=(h, w); an int there sets the shorter side"),
                                         ("height", "size", "size=(h, w)"))),
    Counterpart("crop", A, "Crop / CenterCrop", (("box", "x_min, y_min, x_max, y_max", _SAME),
                                                 ("width", "width", _SAME), ("height", "height", _SAME)),
                "centred offsets are floor((W - w) / 2), as albumentations"),
    Counterpart("crop", TV, "CenterCrop", (("width", "size", "size=(h, w)"), ("height", "size", "size=(h, w)")),
                "torchvision rounds the centred offset (int(round((W - w) / 2))) where augcli floors: one "
                "pixel apart when W - w is odd"),
    Counterpart("random_crop", A, "RandomCrop", (("width", "width", _SAME), ("height", "height", _SAME))),
    Counterpart("random_crop", TV, "RandomCrop", (("width", "size", "size=(h, w)"), ("height", "size", "size=(h, w)"))),
    Counterpart("random_resized_crop", TV, "RandomResizedCrop",
                (("area", "scale", _SAME), ("ratio", "ratio", _SAME), ("width", "size", "size=(h, w)"),
                 ("height", "size", "size=(h, w)"), ("interpolation", "interpolation", "area honoured here"))),
    Counterpart("random_resized_crop", A, "RandomResizedCrop",
                (("area", "scale", _SAME), ("ratio", "ratio", _SAME), ("width", "size", "size=(h, w)"),
                 ("height", "size", "size=(h, w)"))),
    Counterpart("pad", A, "Pad", (("left", "padding", "pixels"), ("top", "padding", "pixels"),
                                  ("right", "padding", "pixels"), ("bottom", "padding", "pixels"),
                                  ("border", "border_mode", "same modes"), ("fill", "fill", "0-255 units"))),
    Counterpart("pad", TV, "Pad", (("left", "padding", "pixels"), ("border", "padding_mode",
                                                                   "edge is replicate, reflect is reflect")),),
    Counterpart("brightness", A, "RandomBrightnessContrast", (("limit", "brightness_limit", _SAME),),
                "an offset of x times full scale (brightness_by_max)"),
    Counterpart("contrast", A, "RandomBrightnessContrast", (("limit", "contrast_limit", _SAME),),
                "factor 1 + x about the mean brightness"),
    Counterpart("hsv", A, "HueSaturationValue",
                (("hue", "hue_shift_limit", "degrees here; on uint8 theirs counts OpenCV 2-degree units, so "
                                            "their 20 is 40 here; " + _SYM),
                 ("saturation", "sat_shift_limit", "theirs adds x/255 to S (grey turns red), here S is "
                                                   "scaled by 1 + x: no exact conversion"),
                 ("value", "val_shift_limit", "divide by 255; " + _SYM))),
    Counterpart("color_jitter", TV, "ColorJitter",
                (("brightness", "brightness", _SAME), ("contrast", "contrast", _SAME),
                 ("saturation", "saturation", _SAME), ("hue", "hue", _SAME)),
                "sharpness is an addition (1 switches it off)"),
    Counterpart("color_jitter", A, "ColorJitter",
                (("brightness", "brightness", _SAME), ("contrast", "contrast", _SAME),
                 ("saturation", "saturation", _SAME), ("hue", "hue", _SAME))),
    Counterpart("grayscale", A, "ToGray", (("alpha", "(none)", "alpha 1 is their output"),),
                "luma weights 0.299, 0.587, 0.114; channels kept"),
    Counterpart("grayscale", TV, "Grayscale", (("alpha", "(none)", "alpha 1 with num_output_channels=3"),)),
    Counterpart("gaussian_noise", A, "GaussNoise",
                (("std", "std_range", "theirs is a fraction of full scale: multiply by 255"),
                 ("per_channel", "per_channel", _SAME))),
    Counterpart("gaussian_blur", A, "GaussianBlur", (("sigma", "sigma_limit", "pixels"),)),
    Counterpart("gaussian_blur", TV, "GaussianBlur", (("sigma", "sigma", "pixels"),)),
    Counterpart("median_blur", A, "MedianBlur", (("ksize", "blur_limit", "odd sizes"),)),
    Counterpart("motion_blur", A, "MotionBlur", (("ksize", "blur_limit", "odd sizes"),
                                                 ("angle", "angle_range", "degrees"))),
    Counterpart("solarize", A, "Solarize",
                (("threshold", "threshold_range", "theirs is a fraction of full scale: multiply by 255"),)),
    Counterpart("solarize", TV, "RandomSolarize", (("threshold", "threshold", "0-255 for uint8: same"),)),
    Counterpart("posterize", A, "Posterize", (("bits", "num_bits", _SAME),)),
    Counterpart("posterize", TV, "RandomPosterize", (("bits", "bits", _SAME),)),
    Counterpart("equalize", A, "Equalize", (("mode", "by_channels", "true is per_channel, false is luma"),
                                            ("formula", "mode", "'cv' is opencv, 'pil' is pil"))),
    Counterpart("equalize", TV, "RandomEqualize", (("mode", "(per channel)", "per_channel"),
                                                   ("formula", "(PIL's)", "pil"))),
    Counterpart("clahe", A, "CLAHE", (("clip_limit", "clip_limit", _SAME),
                                      ("tile", "tile_grid_size", "square grids only here"))),
    Counterpart("channel_shuffle", A, "ChannelShuffle"),
    Counterpart("invert", A, "InvertImg"), Counterpart("invert", TV, "RandomInvert"),
    Counterpart("gamma", A, "RandomGamma", (("gamma", "gamma_limit", "divide by 100"),)),
    Counterpart("rgb_shift", A, "RGBShift", (("red", "r_shift_limit", _SYM), ("green", "g_shift_limit", _SYM),
                                             ("blue", "b_shift_limit", _SYM))),
    Counterpart("random_erasing", TV, "RandomErasing", (("area", "scale", _SAME), ("ratio", "ratio", _SAME),
                                                        ("fill", "value", "0-255 units here"))),
    Counterpart("coarse_dropout", A, "CoarseDropout", (("count", "num_holes_range", _SAME),
                                                       ("size", "hole_height_range", "fraction of the side"))),
    Counterpart("jpeg_compression", A, "ImageCompression", (("quality", "quality_range", _SAME),)),
    Counterpart("elastic", A, "ElasticTransform", (("alpha", "alpha", "here the largest move in pixels: about "
                                                                      "their alpha / (2 sigma)"),
                                                   ("sigma", "sigma", "pixels"))),
    Counterpart("piecewise_affine", A, "PiecewiseAffine", (("grid", "nb_rows", "one count for rows and columns"),
                                                           ("scale", "scale", _SAME))),
    Counterpart("superpixels", A, "Superpixels", (("segments", "n_segments", _SAME),
                                                  ("p_replace", "p_replace", _SAME))),
    Counterpart("sharpen", A, "Sharpen", (("alpha", "alpha", _SAME), ("lightness", "lightness", _SAME))),
    Counterpart("emboss", A, "Emboss", (("alpha", "alpha", _SAME), ("strength", "strength", _SAME))),
    Counterpart("salt_pepper", A, "SaltAndPepper", (("amount", "amount", _SAME),
                                                    ("salt_ratio", "salt_vs_pepper", _SAME))),
    Counterpart("rand_augment", TV, "RandAugment", (("n", "num_ops", _SAME), ("magnitude", "magnitude", _SAME),
                                                    ("num_bins", "num_magnitude_bins", _SAME),
                                                    ("fill", "fill", "default 128 here, 0 there"))),
    Counterpart("trivial_augment", TV, "TrivialAugmentWide", (("num_bins", "num_magnitude_bins", _SAME),
                                                              ("fill", "fill", "default 128 here, 0 there"))),
    Counterpart("autocontrast", TV, "RandomAutocontrast"),
    Counterpart("pil_brightness", TV, "functional.adjust_brightness", (("factor", "brightness_factor", _SAME),)),
    Counterpart("pil_color", TV, "functional.adjust_saturation", (("factor", "saturation_factor", _SAME),)),
    Counterpart("pil_sharpness", TV, "functional.adjust_sharpness", (("factor", "sharpness_factor", _SAME),)),
)
