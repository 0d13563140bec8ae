"""Helpers for the image contract: (H, W, C) layout, uint8/uint16, alpha kept aside by colour ops."""

from __future__ import annotations

import functools
from collections.abc import Callable, Iterator
from typing import Any

import cv2
import numpy as np
import numpy.typing as npt

Image = npt.NDArray[Any]

BORDERS = {
    "constant": cv2.BORDER_CONSTANT,
    "reflect": cv2.BORDER_REFLECT_101,
    "replicate": cv2.BORDER_REPLICATE,
    "wrap": cv2.BORDER_WRAP,
}
INTERPOLATIONS = {
    "nearest": cv2.INTER_NEAREST,
    "linear": cv2.INTER_LINEAR,
    "cubic": cv2.INTER_CUBIC,
    "area": cv2.INTER_AREA,
    "lanczos": cv2.INTER_LANCZOS4,
}


def max_value(dtype: np.dtype[Any] | type) -> int:
    """Largest pixel value of an image dtype (255 or 65535)."""
    return 65535 if np.dtype(dtype) == np.uint16 else 255


def to_dtype(image: Image, dtype: Any) -> Image:
    """Convert between uint8 and uint16 at the same brightness: x * 257 going up, round(x / 257) going down.

    16 to 8 bits rounds to the nearest value (``(x + 128) // 257``; 257 is odd, so there are no ties),
    so 8 to 16 to 8 bits is exact and full scale stays full scale. The image itself is returned when
    it already has ``dtype``.
    """
    dtype = np.dtype(dtype)
    if image.dtype == dtype:
        return image
    if dtype == np.uint16:
        return image.astype(np.uint16) * np.uint16(257)
    return ((image.astype(np.uint32) + 128) // 257).astype(np.uint8)


def hwc(result: Image, channels: int) -> Image:
    """Give back the channel axis that OpenCV drops for single-channel images."""
    if result.ndim == 2:
        return result.reshape(result.shape[0], result.shape[1], channels)
    return result


def cv_view(image: Image) -> Image:
    """Return the 2-D view OpenCV expects for a single-channel (H, W, 1) image."""
    return image[:, :, 0] if image.shape[2] == 1 else image


def scale_fill(fill: float | tuple[float, ...], image: Image) -> tuple[float, ...]:
    """Turn a fill in 0-255 units into an OpenCV border value for this image.

    One number fills every channel (0 leaves a transparent border on BGRA images);
    [b, g, r] fills colour and keeps alpha opaque; a grayscale image takes the luma of a colour.
    """
    if isinstance(fill, int | float):
        values = [float(fill)] * 4
    else:
        values = [*fill, 255.0][:4]
        if image.shape[2] == 1:
            values = [0.114 * fill[0] + 0.587 * fill[1] + 0.299 * fill[2]] * 4
    factor = max_value(image.dtype) / 255.0
    return tuple(v * factor for v in values)


def keep_alpha(kernel: Callable[..., Image]) -> Callable[..., Image]:
    """Apply a colour kernel to the colour channels only; alpha is passed through unchanged."""

    @functools.wraps(kernel)
    def wrapper(image: Image, *args: Any, **kwargs: Any) -> Image:
        if image.shape[2] != 4:
            return kernel(image, *args, **kwargs)
        colour = kernel(np.ascontiguousarray(image[:, :, :3]), *args, **kwargs)
        return np.dstack([colour, image[:, :, 3:]])

    return wrapper


# Pixels per band of :func:`bands`: a float32 BGR band of this size is 3 MiB, and a 500x375 photo is one band.
BAND_PIXELS = 1 << 18


def bands(image: Image) -> Iterator[slice]:
    """Row ranges that cut ``image`` into bands of about ``BAND_PIXELS`` pixels (one band for small images).

    Per-pixel kernels that need float temporaries work band by band into a preallocated output, so a
    12-megapixel image costs a few MiB of temporaries instead of several copies of itself in float32.
    The bytes are those of the whole-image computation: each pixel's value depends on that pixel only.
    """
    height, width = image.shape[:2]
    rows = max(1, BAND_PIXELS // max(width, 1))
    for top in range(0, height, rows):
        yield slice(top, min(top + rows, height))


def lut_apply(image: Image, table: npt.NDArray[Any]) -> Image:
    """Map every pixel through a lookup table of 256 (uint8) or 65536 (uint16) entries.

    ``table`` is either 1-D (same for every channel) or (entries, C).
    """
    if image.dtype == np.uint8:
        if table.ndim == 1:
            return hwc(cv2.LUT(cv_view(image), table), image.shape[2])
        lut = table.reshape(256, 1, image.shape[2])
        return hwc(cv2.LUT(cv_view(image), lut), image.shape[2])
    if table.ndim == 1:
        return table[image]
    return np.take_along_axis(table, image.reshape(-1, image.shape[2]).astype(np.intp), axis=0).reshape(image.shape)


def lut_from(fn: Callable[[npt.NDArray[np.float64]], npt.NDArray[np.float64]], dtype: Any) -> npt.NDArray[Any]:
    """Build a lookup table from ``fn`` acting on values normalised to [0, 1]."""
    top = max_value(dtype)
    x = np.arange(top + 1, dtype=np.float64) / top
    y = fn(x)
    return np.clip(np.rint(y * top), 0, top).astype(dtype)


def to_float(image: Image) -> npt.NDArray[np.float32]:
    """Convert to float32 in [0, 1]."""
    return image.astype(np.float32) * np.float32(1.0 / max_value(image.dtype))


def from_float(values: npt.NDArray[Any], dtype: Any) -> Image:
    """Convert float values in [0, 1] back to the integer dtype, rounding and clipping."""
    top = max_value(dtype)
    return np.clip(np.rint(values * top), 0, top).astype(dtype)
