"""Occlusion and compression kernels: rectangular holes and JPEG round trips.

Per-pixel randomness (the noise in a hole) comes from a recorded seed. Every kernel keeps dtype
and channel count, never mutates its input and leaves alpha alone.
"""

from __future__ import annotations

from collections.abc import Sequence

import cv2
import numpy as np

from augcli.ops._image import Image, cv_view, hwc, keep_alpha, max_value, scale_fill, to_dtype

Box = Sequence[int]
FillValue = float | str | Sequence[float]


def _fill_values(image: Image, fill: float | Sequence[float]) -> np.ndarray:
    """The fill in this image's units, one value per (colour) channel."""
    scaled = scale_fill(fill if isinstance(fill, int | float) else tuple(fill), image)
    top = max_value(image.dtype)
    return np.clip(np.rint(scaled[: image.shape[2]]), 0, top).astype(image.dtype)


@keep_alpha
def coarse_dropout(
    image: Image, boxes: Sequence[Box], fill: FillValue, channels: Sequence[int] | None = None,
    seed: int | None = None,
) -> Image:
    """Fill rectangular holes ``[x0, y0, x1, y1]`` (end-exclusive).

    ``fill`` is a value or colour in 0-255 units, or "random" for uniform noise drawn from ``seed``
    (hole by hole, in order). With ``channels`` (one index per box) a hole only drops that channel.
    """
    out = image.copy()
    top = max_value(image.dtype)
    noise = np.random.default_rng(seed) if isinstance(fill, str) else None  # "random": the one string fill
    values = _fill_values(image, 0 if isinstance(fill, str) else fill)
    for index, (x0, y0, x1, y1) in enumerate(boxes):
        channel = slice(None) if channels is None else channels[index]
        region = out[y0:y1, x0:x1, channel]
        if noise is not None:
            region[...] = noise.integers(0, top + 1, size=region.shape, dtype=image.dtype)
        else:
            region[...] = values[channel]
    return out


@keep_alpha
def compress_jpeg(image: Image, quality: int) -> Image:
    """Encode to JPEG at ``quality`` (1-100) and decode again, with OpenCV's encoder (4:2:0 chroma).

    JPEG here is 8-bit: a 16-bit image is reduced to 8 bits (x / 257, rounded), compressed and
    scaled back (x * 257) by ``to_dtype``, so it also loses its low byte.
    """
    eight = cv_view(to_dtype(image, np.uint8))
    ok, buffer = cv2.imencode(".jpg", eight, [cv2.IMWRITE_JPEG_QUALITY, int(quality)])
    if not ok:  # pragma: no cover - OpenCV encodes any 8-bit 1/3-channel image
        raise RuntimeError("JPEG encoding failed")
    flag = cv2.IMREAD_GRAYSCALE if image.shape[2] == 1 else cv2.IMREAD_COLOR
    decoded = cv2.imdecode(buffer, flag)
    if decoded is None:  # pragma: no cover - OpenCV decodes what it has just encoded
        raise RuntimeError("JPEG decoding failed")
    return np.ascontiguousarray(to_dtype(hwc(decoded, image.shape[2]), image.dtype))
