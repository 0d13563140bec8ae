"""Tone and colour-table kernels: LUT curves, inversions, histograms and PIL-style enhancers.

Every kernel keeps dtype (uint8/uint16) and channel count, never mutates its input and
leaves alpha alone. Values given in 0-255 units are scaled by ``max_value(dtype) / 255``.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

import cv2
import numpy as np
import numpy.typing as npt

from augcli.ops._image import Image, cv_view, hwc, keep_alpha, lut_apply, lut_from, max_value, to_dtype
from augcli.ops.color import adjust_contrast, shift_hsv

# PIL's ImageFilter.SMOOTH kernel, the "degenerate" image of ImageEnhance.Sharpness.
_SMOOTH = np.array([[1, 1, 1], [1, 5, 1], [1, 1, 1]], dtype=np.float32) / np.float32(13.0)


def _colour_count(image: Image) -> int:
    """Number of colour channels of an image whose alpha has been set aside (1 or 3)."""
    return 1 if image.shape[2] == 1 else 3


def _blend(image: Image, degenerate: Image, factor: float) -> Image:
    """PIL ``Image.blend(degenerate, image, factor)``: ``degenerate + factor * (image - degenerate)``."""
    out = cv2.addWeighted(cv_view(image), factor, cv_view(degenerate), 1.0 - factor, 0.0)
    return hwc(out, image.shape[2])


def _channel_table(image: Image, fn: Callable[[npt.NDArray[np.int64], int], npt.NDArray[Any]]) -> Image:
    """Map each channel through its own integer table ``fn(values, channel)``, clipped to the dtype."""
    top = max_value(image.dtype)
    x = np.arange(top + 1, dtype=np.int64)
    table = np.stack([np.clip(fn(x, c), 0, top) for c in range(image.shape[2])], axis=1)
    return lut_apply(image, table.astype(image.dtype))


@keep_alpha
def adjust_gamma(image: Image, gamma: float) -> Image:
    """Raise normalised values to the power ``gamma`` (below 1 brightens, above 1 darkens)."""
    return lut_apply(image, lut_from(lambda x: np.power(x, gamma), image.dtype))


@keep_alpha
def shift_rgb(image: Image, red: float, green: float, blue: float) -> Image:
    """Add per-channel offsets in 0-255 units to a BGR image; a grey image gets their mean."""
    factor = max_value(image.dtype) / 255.0
    shifts = [blue, green, red] if _colour_count(image) == 3 else [(red + green + blue) / 3.0]
    return _channel_table(image, lambda x, c: np.rint(x + shifts[c] * factor))


@keep_alpha
def invert(image: Image, channels: list[int] | None = None) -> Image:
    """Replace values by ``top - x`` in the given colour channels (all of them when None)."""
    top = max_value(image.dtype)
    if channels is None:
        return hwc(cv2.bitwise_not(cv_view(image)), image.shape[2])
    out = image.copy()
    for c in sorted(set(channels)):
        out[:, :, c] = top - image[:, :, c]
    return out


@keep_alpha
def solarize(image: Image, threshold: float) -> Image:
    """Invert values at or above ``threshold`` (0-255 units), as PIL and torchvision do."""
    top = max_value(image.dtype)
    cut = threshold * top / 255.0
    x = np.arange(top + 1, dtype=np.int64)
    table = np.where(x >= cut, top - x, x).astype(image.dtype)
    return lut_apply(image, table)


@keep_alpha
def posterize(image: Image, bits: int) -> Image:
    """Keep the ``bits`` most significant bits: 2**bits levels over the full range.

    uint8 is ``x & mask`` as in PIL; uint16 keeps its top ``bits`` bits, so both depths
    quantise to the same number of levels.
    """
    depth = 16 if image.dtype == np.uint16 else 8
    bits = min(max(int(bits), 0), 8)
    mask = ((1 << depth) - 1) ^ ((1 << (depth - bits)) - 1)
    return np.bitwise_and(image, np.array(mask, dtype=image.dtype))


def _equalize_pil(plane: Image) -> Image:
    """PIL's ``ImageOps.equalize`` of one plane (also torchvision's): ``lut[i] = (step // 2 + cdf[i - 1]) // step``.

    ``step = (pixels - count of the top used level) // 255``; a plane with step 0 is left as it is.
    uint16 uses 65536 bins and a fractional step (``/ 65535``), so small images still equalise.
    """
    top = max_value(plane.dtype)
    hist = np.bincount(plane.ravel(), minlength=top + 1).astype(np.int64)
    rest = int(hist.sum()) - int(hist[np.flatnonzero(hist)[-1]])
    before = np.concatenate([[0], np.cumsum(hist)[:-1]])
    if plane.dtype == np.uint8:
        step = rest // 255
        if step == 0:
            return plane.copy()
        table = (step // 2 + before) // step
    else:
        if rest == 0:
            return plane.copy()
        fstep = rest / 65535.0
        table = np.floor((fstep / 2 + before) / fstep)
    return np.clip(table, 0, top).astype(plane.dtype)[plane]


def _equalize_plane(plane: Image, formula: str = "opencv") -> Image:
    """Histogram-equalise one 2-D plane (OpenCV's or PIL's formula; uint16 through a 65536-bin histogram)."""
    if formula == "pil":
        return _equalize_pil(plane)
    if plane.dtype == np.uint8:
        return cv2.equalizeHist(np.ascontiguousarray(plane))
    hist = np.bincount(plane.ravel(), minlength=65536)
    cdf = np.cumsum(hist)
    first = int(np.argmax(hist > 0))
    total = int(cdf[-1])
    if int(hist[first]) == total:
        return plane.copy()
    table = np.rint((cdf - cdf[first]) * (65535.0 / (total - int(cdf[first]))))
    return np.clip(table, 0, 65535).astype(np.uint16)[plane]


@keep_alpha
def equalize(image: Image, mode: str = "luma", formula: str = "opencv") -> Image:
    """Equalise the histogram, on the luma of YCrCb (``luma``) or on each channel (``per_channel``),
    with OpenCV's ``equalizeHist`` formula or PIL's ``ImageOps.equalize`` (``formula``).

    A grey image has one plane, so both modes agree. When the luma mapping is the identity
    (a constant image) the image is returned unchanged, without a colour round trip.
    """
    if image.shape[2] == 1:
        return hwc(_equalize_plane(image[:, :, 0], formula), 1)
    if mode == "per_channel":
        return cv2.merge([_equalize_plane(plane, formula) for plane in cv2.split(image)])
    ycrcb = cv2.cvtColor(image, cv2.COLOR_BGR2YCrCb)
    luma = _equalize_plane(ycrcb[:, :, 0], formula)
    if np.array_equal(luma, ycrcb[:, :, 0]):
        return image.copy()
    ycrcb[:, :, 0] = luma
    return cv2.cvtColor(ycrcb, cv2.COLOR_YCrCb2BGR)


@keep_alpha
def autocontrast(image: Image) -> Image:
    """Stretch each channel's min..max to the full range (PIL ``ImageOps.autocontrast``, cutoff 0).

    Values map to ``floor((x - lo) * top / (hi - lo))``; a flat channel is left as it is.
    """
    top = max_value(image.dtype)
    flat = image.reshape(-1, image.shape[2])
    lows, highs = flat.min(axis=0).astype(np.int64), flat.max(axis=0).astype(np.int64)

    def table(x: npt.NDArray[np.int64], c: int) -> npt.NDArray[np.int64]:
        lo, hi = int(lows[c]), int(highs[c])
        return x if hi <= lo else (x - lo) * top // (hi - lo)

    return _channel_table(image, table)


@keep_alpha
def adjust_saturation(image: Image, factor: float) -> Image:
    """Blend with the grey image by ``factor`` (PIL ``ImageEnhance.Color``); a grey image is unchanged."""
    if image.shape[2] == 1:
        return image.copy()
    gray = cv2.cvtColor(image, cv2.COLOR_BGR2GRAY)
    return _blend(image, cv2.merge([gray, gray, gray]), factor)


@keep_alpha
def adjust_sharpness(image: Image, factor: float) -> Image:
    """Blend with a 3x3 smoothed image by ``factor`` (PIL ``ImageEnhance.Sharpness``); border pixels stay."""
    if image.shape[0] < 3 or image.shape[1] < 3:
        return image.copy()
    smooth = hwc(cv2.filter2D(cv_view(image), -1, _SMOOTH, borderType=cv2.BORDER_REPLICATE), image.shape[2])
    for edge in (np.s_[0, :], np.s_[-1, :], np.s_[:, 0], np.s_[:, -1]):
        smooth[edge] = image[edge]
    return _blend(image, smooth, factor)


@keep_alpha
def scale_brightness(image: Image, factor: float) -> Image:
    """Multiply every colour value by ``factor`` (PIL ``ImageEnhance.Brightness``: blend with black)."""
    return lut_apply(image, lut_from(lambda x: x * factor, image.dtype))


def rotate_hue(image: Image, shift: float) -> Image:
    """Rotate the hue by ``shift`` turns (torchvision ``adjust_hue``: 0.5 is half the colour circle)."""
    return shift_hsv(image, shift * 360.0, 0.0, 0.0)


_JITTER: dict[str, Callable[[Image, float], Image]] = {
    "brightness": scale_brightness,
    "contrast": adjust_contrast,
    "saturation": adjust_saturation,
    "sharpness": adjust_sharpness,
    "hue": rotate_hue,
}
JITTER_ORDER = tuple(_JITTER)


@keep_alpha
def jitter_color(
    image: Image,
    order: Sequence[str],
    brightness: float,
    contrast: float,
    saturation: float,
    sharpness: float,
    hue: float = 0.0,
) -> Image:
    """Apply brightness, contrast, saturation and sharpness factors (1 = unchanged) and a hue rotation
    (turns, 0 = unchanged) in the given order."""
    factors = dict(brightness=brightness, contrast=contrast, saturation=saturation, sharpness=sharpness, hue=hue)
    out = image
    for name in order:
        out = _JITTER[name](out, factors[name])
    return image.copy() if out is image else out


def _clahe_plane(clahe: Any, plane: Image) -> Image:
    """CLAHE on one plane; uint16 takes the mapping of its 8-bit quantisation plus the sub-8-bit residual."""
    if plane.dtype == np.uint8:
        return clahe.apply(np.ascontiguousarray(plane))
    coarse = to_dtype(plane, np.uint8)
    residual = plane.astype(np.int32) - to_dtype(coarse, np.uint16)
    mapped = to_dtype(clahe.apply(coarse), np.uint16) + residual
    return np.clip(mapped, 0, 65535).astype(np.uint16)


@keep_alpha
def clahe(image: Image, clip_limit: float, tile: int) -> Image:
    """Contrast-limited adaptive histogram equalisation on a ``tile`` x ``tile`` grid.

    Colour uint8 images are equalised on L of Lab, colour uint16 ones on Y of YCrCb
    (OpenCV has no 16-bit Lab), grey images directly.
    """
    op = cv2.createCLAHE(clipLimit=float(clip_limit), tileGridSize=(int(tile), int(tile)))
    if image.shape[2] == 1:
        return hwc(_clahe_plane(op, image[:, :, 0]), 1)
    if image.dtype == np.uint8:
        forward, back = cv2.COLOR_BGR2Lab, cv2.COLOR_Lab2BGR
    else:
        forward, back = cv2.COLOR_BGR2YCrCb, cv2.COLOR_YCrCb2BGR
    planes = cv2.cvtColor(image, forward)
    planes[:, :, 0] = _clahe_plane(op, planes[:, :, 0])
    return cv2.cvtColor(planes, back)


@keep_alpha
def shuffle_channels(image: Image, order: Sequence[int]) -> Image:
    """Reorder the colour channels: output channel i is input channel ``order[i]``."""
    if image.shape[2] == 1:
        return image.copy()
    return np.ascontiguousarray(image[:, :, list(order)])
