"""Smooth random masks, blends of an image with a treated copy of itself, and superpixels.

Masks are float32 (H, W) arrays in [0, 1] rebuilt from a recorded seed. Blends and superpixels
act on the colour channels and leave alpha alone.
"""

from __future__ import annotations

import math
from typing import Any

import cv2
import numpy as np
import numpy.typing as npt

from augcli.ops._image import Image, keep_alpha, lut_apply, lut_from, max_value, to_float
from augcli.ops.blur import gaussian_blur
from augcli.ops.color import adjust_brightness, to_grayscale
from augcli.ops.geometric import safe_border
from augcli.ops.noise import add_gaussian_noise

Mask = npt.NDArray[np.float32]

CHILDREN = ("invert", "grayscale", "blur", "brightness", "noise")
_STEEPNESS = 20.0  # slope of the optional sigmoid, per unit of mask value
_COMPACTNESS = 10.0  # SLIC weight of distance in space against distance in Lab colour
_SLIC_ITERATIONS = 5
_CELL_PIXELS = 4.0  # noise masks are built where their finest cells span this many pixels


def _upscale(grid: Mask, height: int, width: int) -> Mask:
    """Cubic interpolation of a coarse grid whose corner cells land on the image corners."""
    gh, gw = grid.shape
    m = np.array([[(gw - 1) / max(width - 1, 1), 0.0, 0.0], [0.0, (gh - 1) / max(height - 1, 1), 0.0]])
    out = cv2.warpAffine(grid, m, (width, height), flags=cv2.INTER_CUBIC | cv2.WARP_INVERSE_MAP,
                         borderMode=safe_border(cv2.BORDER_REFLECT_101, grid.shape))
    return np.asarray(out, dtype=np.float32)


def _normalise(values: Mask) -> Mask:
    """Stretch values linearly to [0, 1] (a constant array becomes all zeros)."""
    lo, hi = float(values.min()), float(values.max())
    if hi - lo < 1e-12:
        return np.zeros(values.shape, np.float32)
    return ((values - np.float32(lo)) * np.float32(1.0 / (hi - lo))).astype(np.float32)


def sharpen_mask(mask: Mask, threshold: float, steepness: float = _STEEPNESS) -> Mask:
    """Push a [0, 1] mask towards 0 and 1 with a sigmoid centred on ``threshold``.

    The sigmoid is rescaled so that 0 and 1 stay 0 and 1.
    """
    ends = 1.0 / (1.0 + np.exp(np.float64(steepness) * (threshold - np.array([0.0, 1.0]))))
    z = np.clip((np.float32(threshold) - mask) * np.float32(steepness), -60, 60)
    s = 1.0 / (1.0 + cv2.exp(z))
    low, gain = np.float32(ends[0]), np.float32(1.0 / (ends[1] - ends[0]))
    return np.asarray(np.clip((s - low) * gain, 0, 1), dtype=np.float32)


def _work_size(height: int, width: int, cell: float) -> tuple[int, int]:
    """(h, w) at which cells ``cell`` pixels wide span about 4 pixels (never above full size)."""
    factor = min(1.0, _CELL_PIXELS / max(cell, 1e-6))
    return max(2, min(height, round(height * factor))), max(2, min(width, round(width * factor)))


def _finish(mask: Mask, height: int, width: int) -> Mask:
    """Bring a mask made at working size to full size (linear) and stretch it to [0, 1]."""
    if mask.shape != (height, width):
        mask = np.asarray(cv2.resize(mask, (width, height), interpolation=cv2.INTER_LINEAR),
                          dtype=np.float32).reshape(height, width)
    return _normalise(mask)


def value_noise_mask(height: int, width: int, size: float, octaves: int, seed: int) -> Mask:
    """Multi-octave value noise: random grids ``size``, ``size / 2``, ... pixels apart, cubic-interpolated.

    Octave k has cells ``size / 2**k`` pixels wide and weight ``0.5**k``; the sum is stretched to [0, 1].
    The octaves are summed at a size where the finest cells span about 4 pixels, then scaled up.
    """
    rng = np.random.default_rng(seed)
    mh, mw = _work_size(height, width, size / 2 ** (octaves - 1))
    total = np.zeros((mh, mw), np.float32)
    for k in range(octaves):
        cell = max(size / 2**k, 1.0)
        gw, gh = math.ceil((width - 1) / cell) + 1, math.ceil((height - 1) / cell) + 1
        grid = rng.random((max(gh, 2), max(gw, 2)), dtype=np.float32)
        total += _upscale(grid, mh, mw) * np.float32(0.5**k)
    return _finish(total, height, width)


def frequency_noise_mask(height: int, width: int, exponent: float, size: int, seed: int) -> Mask:
    """Noise with amplitude spectrum ``f**exponent``, made on a grid ``size`` cells long, stretched to [0, 1].

    Negative exponents give large blobs, positive ones fine specks. The grid follows the image's
    aspect ratio on its longer side; it is cubic-interpolated to where a cell spans about 4 pixels,
    then scaled up linearly.
    """
    long_side = max(height, width)
    gh = max(2, round(size * height / long_side))
    gw = max(2, round(size * width / long_side))
    white = np.random.default_rng(seed).standard_normal((gh, gw))
    fy = np.fft.fftfreq(gh)[:, None]
    fx = np.fft.rfftfreq(gw)[None, :]
    f = np.sqrt(fx * fx + fy * fy)
    f[0, 0] = 1.0
    weight = f**exponent
    weight[0, 0] = 0.0  # no constant term
    grid = np.fft.irfft2(np.fft.rfft2(white) * weight, s=(gh, gw)).astype(np.float32)
    mh, mw = _work_size(height, width, long_side / size)
    return _finish(_upscale(_normalise(grid), mh, mw), height, width)


def _treat(image: Image, child: str, params: dict[str, Any]) -> Image:
    """Apply one of the built-in treatments (``CHILDREN``) to the colour channels."""
    if child == "invert":
        return lut_apply(image, lut_from(lambda x: 1.0 - x, image.dtype))
    if child == "grayscale":
        return to_grayscale(image, 1.0)
    if child == "blur":
        return gaussian_blur(image, params["sigma"])
    if child == "brightness":
        return adjust_brightness(image, params["delta"])
    return add_gaussian_noise(image, params["std"], params["seed"])


def blend_masked(image: Image, other: Image, mask: Mask) -> Image:
    """Return ``image * (1 - mask) + other * mask`` per pixel, rounded, in the image's dtype."""
    if image.dtype == np.uint8:
        out = cv2.blendLinear(image, other, 1.0 - mask, mask)
        return out.reshape(image.shape)
    m = mask[:, :, None]
    a, b = image.astype(np.float32), other.astype(np.float32)
    mixed = a + (b - a) * m
    return np.clip(np.rint(mixed), 0, max_value(image.dtype)).astype(image.dtype)


@keep_alpha
def blend_treated(image: Image, mask: Mask, child: str, child_params: dict[str, Any]) -> Image:
    """Blend the image with a treated copy of itself through ``mask`` (1: all treated)."""
    return blend_masked(image, _treat(image, child, child_params), mask)


def _slic_input(image: Image, segments: int) -> Image:
    """The image shrunk (area interpolation) to about 48 pixels per segment, at least 64x64 in area."""
    h, w = image.shape[:2]
    area = min(h * w, max(4096, 48 * segments))
    factor = math.sqrt(area / (h * w))
    sw, sh = max(1, round(w * factor)), max(1, round(h * factor))
    if (sw, sh) == (w, h):
        return image
    return cv2.resize(image, (sw, sh), interpolation=cv2.INTER_AREA).reshape(sh, sw, image.shape[2])


def _candidates(sh: int, sw: int, gy: int, gx: int) -> npt.NDArray[np.intp]:
    """For each pixel, the indices of the 3x3 grid seeds around its starting cell, as (9, sh * sw)."""
    iy = np.arange(sh) * gy // sh
    ix = np.arange(sw) * gx // sw
    cands = []
    for dy in (-1, 0, 1):
        ny = np.clip(iy + dy, 0, gy - 1)[:, None]
        for dx in (-1, 0, 1):
            cands.append((ny * gx + np.clip(ix + dx, 0, gx - 1)[None, :]).ravel())
    return np.stack(cands)


def _slic(features: npt.NDArray[np.float32], segments: int, iterations: int = _SLIC_ITERATIONS,
         compactness: float = _COMPACTNESS) -> tuple[npt.NDArray[np.intp], int]:
    """SLIC-like k-means in (x, y, features): labels (h, w) and the number of seeds.

    Seeds start on a regular grid of about ``segments`` cells; each pixel only considers the
    seeds of the 3x3 cells around its starting cell, as SLIC does. Every iteration is vectorised
    over pixels (the loops run over iterations and feature planes only).
    """
    sh, sw, nf = features.shape
    spacing = math.sqrt(sw * sh / segments)
    gx, gy = min(sw, max(1, round(sw / spacing))), min(sh, max(1, round(sh / spacing)))
    count = gx * gy
    cand = _candidates(sh, sw, gy, gx)
    yy, xx = np.mgrid[0:sh, 0:sw]
    scale = np.float32(compactness / spacing)  # distance in space weighed against distance in colour
    planes = [xx.ravel().astype(np.float32) * scale, yy.ravel().astype(np.float32) * scale]
    planes += [np.ascontiguousarray(features[:, :, k]).ravel() for k in range(nf)]
    cx, cy = np.meshgrid((np.arange(gx) + 0.5) * sw / gx, (np.arange(gy) + 0.5) * sh / gy)
    start = cy.astype(np.intp).ravel() * sw + cx.astype(np.intp).ravel()
    centres = [plane[start] for plane in planes]
    pixels = np.arange(sh * sw)
    for it in range(iterations):
        dist = np.zeros(cand.shape, np.float32)
        for plane, centre in zip(planes, centres, strict=True):
            diff = plane[None, :] - centre[cand]
            dist += diff * diff
        assign = cand[dist.argmin(axis=0), pixels]
        if it == iterations - 1:
            break
        sizes = np.bincount(assign, minlength=count)
        filled = sizes > 0
        for plane, centre in zip(planes, centres, strict=True):
            centre[filled] = np.bincount(assign, weights=plane, minlength=count)[filled] / sizes[filled]
    return assign.reshape(sh, sw), count


def _features(small: Image) -> npt.NDArray[np.float32]:
    """Lab colour (L in 0-100) of a 3-channel image, or 100 x intensity of a single channel."""
    values = to_float(small)
    if small.shape[2] == 3:
        return np.asarray(cv2.cvtColor(values, cv2.COLOR_BGR2Lab), dtype=np.float32)
    return values * np.float32(100.0)


def superpixel_labels(image: Image, segments: int) -> tuple[npt.NDArray[np.int32], int]:
    """Full-size superpixel labels of the colour channels, and the number of seeds."""
    labels, count = _slic(_features(_slic_input(image, segments)), segments)
    size = (image.shape[1], image.shape[0])
    full = cv2.resize(labels.astype(np.int32), size, interpolation=cv2.INTER_NEAREST)
    return np.asarray(full, dtype=np.int32), count


@keep_alpha
def replace_superpixels(image: Image, segments: int, p_replace: float, seed: int) -> Image:
    """Fill a random share ``p_replace`` of about ``segments`` superpixels with their mean colour.

    Segmentation and means are computed on a shrunk copy; the chosen segments are scaled back
    with nearest-neighbour interpolation, and every other pixel is left exactly as it was.
    """
    small = _slic_input(image, segments)
    labels, count = _slic(_features(small), segments)
    chosen = np.random.default_rng(seed).random(count) < p_replace
    if not chosen.any():
        return image.copy()
    flat = labels.ravel()
    sizes = np.maximum(np.bincount(flat, minlength=count), 1)
    c = image.shape[2]
    plane = small.reshape(-1, c)
    sums = [np.bincount(flat, weights=plane[:, k], minlength=count) for k in range(c)]
    means = np.stack(sums, axis=1) / sizes[:, None]
    filled = np.rint(means).astype(image.dtype)[labels]
    size = (image.shape[1], image.shape[0])
    where = cv2.resize(chosen[labels].astype(np.uint8), size, interpolation=cv2.INTER_NEAREST)
    filled = cv2.resize(filled, size, interpolation=cv2.INTER_NEAREST).reshape(image.shape)
    out = image.copy()
    np.copyto(out, filled, where=where[:, :, None].astype(bool))
    return out


def _blend_through(image: Image, mask: Mask, threshold: float | None, child: str,
                   child_params: dict[str, Any]) -> Image:
    """Sharpen the mask when a threshold is given, then blend with the treated copy."""
    if threshold is not None:
        mask = sharpen_mask(mask, threshold)
    return blend_treated(image, mask, child, child_params)


def blend_value_noise(image: Image, size: float, octaves: int, threshold: float | None, seed: int,
                      child: str, child_params: dict[str, Any]) -> Image:
    """Blend with a treated copy through a multi-octave value-noise mask."""
    mask = value_noise_mask(image.shape[0], image.shape[1], size, octaves, seed)
    return _blend_through(image, mask, threshold, child, child_params)


def blend_frequency_noise(image: Image, exponent: float, size: int, threshold: float | None, seed: int,
                          child: str, child_params: dict[str, Any]) -> Image:
    """Blend with a treated copy through a mask of ``f**exponent`` noise."""
    mask = frequency_noise_mask(image.shape[0], image.shape[1], exponent, size, seed)
    return _blend_through(image, mask, threshold, child, child_params)
