"""Kernels that make one image from two: reconciling a partner with the first image, and blending."""

from __future__ import annotations

import cv2
import numpy as np

from augcli.ops._image import Image, max_value, to_dtype


def match_partner(image: Image, like: Image) -> Image:
    """Resize ``image`` to ``like``'s size and convert it to ``like``'s channel count and dtype."""
    height, width = like.shape[:2]
    if image.shape[:2] != (height, width):
        shrink = image.shape[0] * image.shape[1] > height * width
        resized = cv2.resize(
            image, (width, height), interpolation=cv2.INTER_AREA if shrink else cv2.INTER_LINEAR
        )
        image = resized.reshape(height, width, -1)
    return _match_channels(to_dtype(image, like.dtype), like.shape[2])


def _match_channels(image: Image, channels: int) -> Image:
    """Convert between 1, 3 and 4 channels: grey repeated, colour to luma, alpha added opaque or dropped."""
    have = image.shape[2]
    if have == channels:
        return image
    colour = image[:, :, :3] if have == 4 else image
    if channels == 1:
        grey = (
            cv2.cvtColor(np.ascontiguousarray(colour), cv2.COLOR_BGR2GRAY) if have != 1 else colour[:, :, 0]
        )
        return grey.reshape(image.shape[0], image.shape[1], 1)
    rgb = np.repeat(colour, 3, axis=2) if have == 1 else colour
    if channels == 3:
        return np.ascontiguousarray(rgb)
    alpha = np.full((*image.shape[:2], 1), max_value(image.dtype), dtype=image.dtype)
    return np.dstack([rgb, alpha])


def blend_pair(first: Image, second: Image, step: float) -> Image:
    """``first + step * (second - first)`` in float32, rounded, clipped; a negative step extrapolates."""
    a = first.astype(np.float32)
    b = match_partner(second, first).astype(np.float32)
    out = a + np.float32(step) * (b - a)
    return np.clip(np.rint(out), 0, max_value(first.dtype)).astype(first.dtype)
