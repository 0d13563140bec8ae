"""Kernels that make one image from several: reconciling partners with the first image, blending,
pasting a box and tiling a mosaic.

Partners are resized to the first image's size and converted to its depth and channel count
(grey repeated to colour, colour to luma, alpha added opaque or dropped). Alpha is respected: a
pixel hidden under a partner's transparent area never shows. With an alpha channel in the result,
colours are blended premultiplied by alpha; without one, a partner with alpha is first composited
over the first image (over a white ground in a mosaic tile, as JPEG encoding flattens).
"""

from __future__ import annotations

import math

import cv2
import numpy as np

from augcli.ops._image import Image, max_value, to_dtype


def match_partner(image: Image, like: Image) -> Image:
    """Resize ``image`` to ``like``'s size and convert it to ``like``'s channel count and dtype."""
    return _match_channels(to_dtype(_resized(image, like.shape[1], like.shape[0]), like.dtype), like.shape[2])


def _resized(image: Image, width: int, height: int) -> Image:
    """``image`` at width x height (area filter when shrinking, bilinear when growing)."""
    if image.shape[:2] == (height, width):
        return image
    shrink = image.shape[0] * image.shape[1] > height * width
    resized = cv2.resize(image, (width, height), interpolation=cv2.INTER_AREA if shrink else cv2.INTER_LINEAR)
    return resized.reshape(height, width, -1)


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


def _alpha(image: Image) -> np.ndarray | None:
    """The alpha channel as float32 in [0, 1] with shape (H, W, 1), or None without one."""
    if image.shape[2] != 4:
        return None
    return image[:, :, 3:4].astype(np.float32) / np.float32(max_value(image.dtype))


def _conformed(partner: Image, like: Image) -> tuple[Image, np.ndarray | None]:
    """The partner at ``like``'s size, depth and channels, and its own alpha (None if it had none)."""
    sized = to_dtype(_resized(partner, like.shape[1], like.shape[0]), like.dtype)
    return _match_channels(sized, like.shape[2]), _alpha(sized)


def _to(image_like: Image, values: np.ndarray) -> Image:
    """Float values rounded and clipped to ``image_like``'s dtype."""
    return np.clip(np.rint(values), 0, max_value(image_like.dtype)).astype(image_like.dtype)


def blend_pair(first: Image, second: Image, step: float) -> Image:
    """``first + step * (second - first)`` in float32, rounded, clipped; a negative step extrapolates.

    With alpha in the result, colours blend premultiplied (a transparent pixel's colour counts for
    nothing) and alpha blends alike; without, a partner with alpha is composited over ``first`` first.
    """
    b, b_alpha = _conformed(second, first)
    a = first.astype(np.float32)
    t = np.float32(step)
    if first.shape[2] == 4:
        a_alpha, b_alpha = _alpha(first), _alpha(b)  # b has alpha: its own, or added opaque
        assert a_alpha is not None and b_alpha is not None
        if np.all(a_alpha == 1) and np.all(b_alpha == 1):
            return _to(first, a + t * (b.astype(np.float32) - a))
        ca, cb = a[:, :, :3] * a_alpha, b[:, :, :3].astype(np.float32) * b_alpha
        alpha = np.clip(a_alpha + t * (b_alpha - a_alpha), 0, 1)
        colour = (ca + t * (cb - ca)) / np.maximum(alpha, np.float32(1e-6))
        return _to(first, np.dstack([np.where(alpha > 0, colour, 0), alpha * np.float32(max_value(first.dtype))]))
    bf = b.astype(np.float32)
    if b_alpha is not None:  # the partner's transparent pixels show the first image
        bf = bf * b_alpha + a * (1 - b_alpha)
    return _to(first, a + t * (bf - a))


def paste_box(first: Image, second: Image, box: tuple[int, int, int, int]) -> Image:
    """``first`` with the box ``[x0, y0, x1, y1)`` taken from ``second`` (resized to ``first``'s size).

    Without alpha in ``first``, a partner with alpha is composited over ``first`` inside the box.
    """
    x0, y0, x1, y1 = box
    b, b_alpha = _conformed(second, first)
    out = first.copy()
    if b_alpha is not None and first.shape[2] != 4:
        a = first[y0:y1, x0:x1].astype(np.float32)
        alpha = b_alpha[y0:y1, x0:x1]
        out[y0:y1, x0:x1] = _to(first, b[y0:y1, x0:x1].astype(np.float32) * alpha + a * (1 - alpha))
    else:
        out[y0:y1, x0:x1] = b[y0:y1, x0:x1]
    return out


def mosaic_regions(width: int, height: int, cut_x: int, cut_y: int) -> list[tuple[int, int, int, int]]:
    """The non-empty regions ``[x0, y0, x1, y1)`` left of/right of ``cut_x`` and above/below ``cut_y``,
    in reading order (top-left, top-right, bottom-left, bottom-right)."""
    xs = [(0, cut_x), (cut_x, width)]
    ys = [(0, cut_y), (cut_y, height)]
    return [(x0, y0, x1, y1) for y0, y1 in ys for x0, x1 in xs if x1 > x0 and y1 > y0]


def mosaic(first: Image, partners: list[Image], regions: list[tuple[int, int, int, int]], order: list[int]) -> Image:
    """Tile images into ``regions`` of an image of ``first``'s size: ``order[i]`` is the region of image i
    (0 the first). Each image is scaled to cover its region, keeping its aspect, and centre-cropped."""
    out = np.zeros_like(first)
    for image, index in zip([first, *partners], order, strict=True):
        x0, y0, x1, y1 = regions[index]
        out[y0:y1, x0:x1] = _cover(image, first, x1 - x0, y1 - y0)
    return out


def _cover(image: Image, like: Image, width: int, height: int) -> Image:
    """``image`` scaled to cover width x height (aspect kept), centre-cropped, in ``like``'s kind."""
    scale = max(width / image.shape[1], height / image.shape[0])
    w, h = max(width, math.ceil(image.shape[1] * scale)), max(height, math.ceil(image.shape[0] * scale))
    sized = _resized(image, w, h)
    x0, y0 = (w - width) // 2, (h - height) // 2
    tile = to_dtype(np.ascontiguousarray(sized[y0:y0 + height, x0:x0 + width]), like.dtype)
    alpha = _alpha(tile)
    tile = _match_channels(tile, like.shape[2])
    if alpha is not None and like.shape[2] != 4:  # flattened over white, as a JPEG of it would be
        top = np.float32(max_value(like.dtype))
        return _to(like, tile.astype(np.float32) * alpha + top * (1 - alpha))
    return tile
