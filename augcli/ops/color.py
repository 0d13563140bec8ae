"""Colour and tone kernels. They act on colour channels and leave alpha alone."""

from __future__ import annotations

from typing import Any

import cv2
import numpy as np

from augcli.ops._image import Image, bands, cv_view, hwc, keep_alpha, lut_apply, lut_from, max_value


def luma_mean(image: Image) -> float:
    """Mean brightness of the colour channels, normalised to [0, 1]."""
    means = cv2.mean(cv_view(image))
    value = 0.114 * means[0] + 0.587 * means[1] + 0.299 * means[2] if image.shape[2] >= 3 else means[0]
    return float(value) / max_value(image.dtype)


@keep_alpha
def adjust_brightness(image: Image, delta: float) -> Image:
    """Add ``delta`` (a fraction of full scale) to every colour value."""
    table = lut_from(lambda x: x + delta, image.dtype)
    top = max_value(image.dtype)
    offset = round(delta * top)
    if np.array_equal(table, np.clip(np.arange(top + 1) + offset, 0, top)):
        # The table is a saturating whole-number offset (it is unless delta * top ends in .5):
        # OpenCV's vector add gives the same bytes as the lookup, about six times faster.
        shift: Any = cv2.add if offset >= 0 else cv2.subtract  # OpenCV's stubs omit its scalar operand
        return hwc(shift(cv_view(image), (float(abs(offset)),) * 4), image.shape[2])
    return lut_apply(image, table)


@keep_alpha
def adjust_contrast(image: Image, factor: float) -> Image:
    """Scale distances from the mean brightness by ``factor``."""
    mean = luma_mean(image)
    return lut_apply(image, lut_from(lambda x: (x - mean) * factor + mean, image.dtype))


@keep_alpha
def shift_hsv(image: Image, hue: float, saturation: float, value: float) -> Image:
    """Shift hue (degrees), scale saturation by ``1 + saturation`` and shift value (fraction of full scale).

    Works on float HSV (hue in degrees, so there is no 2-degree quantisation as in OpenCV's 8-bit
    HSV) and rounds once. Saturation is scaled, not shifted: a neutral pixel (S = 0) stays neutral.
    With all three at 0 the image is returned unchanged (a copy). A single-channel image has no hue
    or saturation: only ``value`` applies.
    """
    if hue == 0 and saturation == 0 and value == 0:
        return image.copy()
    if image.shape[2] == 1:
        return adjust_brightness(image, value)
    out = np.empty_like(image)
    for rows in bands(image):
        _shift_hsv_band(image[rows], out[rows], hue, saturation, value)
    return out


def _shift_hsv_band(image: Image, out: Image, hue: float, saturation: float, value: float) -> None:
    """:func:`shift_hsv` of one band of rows, written into ``out`` (the same band of the result)."""
    top = max_value(image.dtype)
    # OpenCV's float HSV keeps V (and so the whole conversion) in the input's scale, S as a ratio and
    # H in degrees: no normalisation pass is needed.
    # Only the planes that change are taken out and put back (no split and merge of all three),
    # and the way back to BGR reuses the HSV buffer.
    hsv = cv2.cvtColor(image.astype(np.float32), cv2.COLOR_BGR2HSV)
    if hue:
        h = cv2.extractChannel(hsv, 0)
        h += np.float32(hue % 360.0)  # OpenCV wraps hues up to 720 degrees, not negative ones
        cv2.insertChannel(h, hsv, 0)
    if saturation:
        s = cv2.extractChannel(hsv, 1)
        cv2.insertChannel(np.minimum(s * np.float32(1.0 + saturation), np.float32(1.0)), hsv, 1)
    if value:
        v = cv2.extractChannel(hsv, 2)
        cv2.insertChannel(np.clip(v + np.float32(value * top), 0.0, float(top)), hsv, 2)
    bgr = cv2.cvtColor(hsv, cv2.COLOR_HSV2BGR, dst=hsv)
    if image.dtype == np.uint8:
        cv2.convertScaleAbs(bgr, dst=out)  # rounds and saturates to 0-255 in one pass
    else:
        out[...] = np.clip(np.rint(bgr), 0, top)


@keep_alpha
def to_grayscale(image: Image, alpha: float = 1.0) -> Image:
    """Blend the image towards its grey version by ``alpha``; channel count is kept."""
    if image.shape[2] == 1:
        return image.copy()
    gray = cv2.cvtColor(image, cv2.COLOR_BGR2GRAY)
    gray3 = cv2.merge([gray, gray, gray])
    if alpha >= 1.0:
        return gray3
    return cv2.addWeighted(image, 1.0 - alpha, gray3, alpha, 0.0)

