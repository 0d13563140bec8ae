"""Non-linear geometric kernels: dense displacement fields sampled with ``cv2.remap``.

A displacement (dx, dy) at an output pixel means that pixel is read from the source at
(x + dx, y + dy). Every channel moves, alpha included.
"""

from __future__ import annotations

import math
from typing import Any

import cv2
import numpy as np
import numpy.typing as npt

from augcli.ops._image import Image
from augcli.ops.geometric import remap

Field = npt.NDArray[np.float32]

_GRID_SIGMA = 2.0  # smoothing of the coarse random grid, in grid cells


def _coarse_field(height: int, width: int, sigma: float, seed: int) -> Field:
    """Smoothed uniform noise on a grid about ``sigma / 2`` pixels apart, as (gh, gw, 2), peak magnitude 1."""
    step = max(1.0, sigma / _GRID_SIGMA)
    gw, gh = max(2, round(width / step)), max(2, round(height / step))
    noise = np.random.default_rng(seed).uniform(-1.0, 1.0, size=(gh, gw, 2)).astype(np.float32)
    sx, sy = max(sigma * gw / width, 1e-3), max(sigma * gh / height, 1e-3)
    kx, ky = 2 * math.ceil(3 * sx) + 1, 2 * math.ceil(3 * sy) + 1
    smooth = cv2.GaussianBlur(noise, (kx, ky), sigmaX=sx, sigmaY=sy, borderType=cv2.BORDER_REFLECT_101)
    peak = float(np.sqrt((smooth * smooth).sum(axis=2).max()))
    return np.asarray(smooth * np.float32(1.0 / peak if peak > 1e-12 else 0.0), dtype=np.float32)


def _full_size(coarse: Field, height: int, width: int) -> Field:
    """Cubic upscaling of a (gh, gw, 2) field to (height, width, 2)."""
    if coarse.shape[:2] == (height, width):
        return coarse
    out = cv2.resize(coarse, (width, height), interpolation=cv2.INTER_CUBIC)
    return np.asarray(out, dtype=np.float32).reshape(height, width, 2)


def elastic_field(height: int, width: int, sigma: float, seed: int) -> tuple[Field, Field]:
    """Smooth random displacements of largest magnitude about 1, from a seed (Simard et al. 2003).

    Uniform noise in [-1, 1] is drawn on a grid about ``sigma / 2`` pixels apart, smoothed there
    by a Gaussian worth ``sigma`` image pixels, scaled to a peak magnitude of 1 and upscaled with
    cubic interpolation (the approximation albumentations uses, made cheaper by working on the
    coarse grid; cubic overshoot can make the full-size peak differ from 1 by a few percent).
    """
    field = _full_size(_coarse_field(height, width, sigma, seed), height, width)
    return np.ascontiguousarray(field[:, :, 0]), np.ascontiguousarray(field[:, :, 1])


def displace(image: Image, dx: Field, dy: Field, *, interpolation: str = "linear", border: str = "reflect",
             fill: Any = 0) -> Image:
    """Read every output pixel from the source at its position plus (dx, dy)."""
    h, w = image.shape[:2]
    map_x = dx + np.arange(w, dtype=np.float32)[None, :]
    map_y = dy + np.arange(h, dtype=np.float32)[:, None]
    return remap(image, map_x, map_y, interpolation=interpolation, border=border, fill=fill)


def elastic(image: Image, alpha: float, sigma: float, seed: int, *, interpolation: str = "linear",
            border: str = "reflect", fill: Any = 0) -> Image:
    """Elastic deformation: a random field ``sigma`` pixels smooth moves pixels by up to about ``alpha``."""
    if alpha == 0:
        return image.copy()
    h, w = image.shape[:2]
    field = _full_size(_coarse_field(h, w, sigma, seed) * np.float32(alpha), h, w)
    return displace(image, field[:, :, 0], field[:, :, 1], interpolation=interpolation, border=border,
                    fill=fill)


def _hats(n: int, points: int) -> tuple[Field, Field, npt.NDArray[np.intp]]:
    """Linear-interpolation weights (n, points) of ``points`` knots spread over n pixels, corner to corner.

    Also returns each pixel's position inside its interval (0 to 1) and the interval's index.
    """
    u = np.arange(n, dtype=np.float64) * ((points - 1) / max(n - 1, 1))
    k = np.minimum(u.astype(np.intp), points - 2)
    t = (u - k).astype(np.float32)
    weights = np.zeros((n, points), np.float32)
    weights[np.arange(n), k] = 1.0 - t
    weights[np.arange(n), k + 1] = t
    return weights, t, k


def piecewise_affine_field(height: int, width: int, offsets: npt.ArrayLike) -> tuple[Field, Field]:
    """Dense displacements that are affine on each triangle of a regular control grid.

    ``offsets`` is (rows, cols, 2): the (dx, dy) of each control point as fractions of the width
    and height. Control points sit on a regular grid whose outer points are the image corners
    and edges; each cell is split along its main diagonal into two triangles. On a cell, the
    piecewise-affine map equals the bilinear one plus ``e * (min(tx, ty) - tx * ty)``, where
    ``e = d00 - d01 - d10 + d11``, so it is computed with small matrix products.
    """
    d = np.asarray(offsets, dtype=np.float32) * np.array([width, height], dtype=np.float32)
    rows, cols = d.shape[:2]
    wy, ty, i = _hats(height, rows)
    wx, tx, j = _hats(width, cols)
    bend = np.minimum(ty[:, None], tx[None, :]) - ty[:, None] * tx[None, :]
    cell_y = np.zeros((height, rows - 1), np.float32)
    cell_y[np.arange(height), i] = 1.0
    cell_x = np.zeros((width, cols - 1), np.float32)
    cell_x[np.arange(width), j] = 1.0
    out = []
    for k in range(2):
        c = d[:, :, k]
        e = c[:-1, :-1] - c[:-1, 1:] - c[1:, :-1] + c[1:, 1:]
        out.append(wy @ c @ wx.T + (cell_y @ e @ cell_x.T) * bend)
    return out[0], out[1]


def piecewise_affine(image: Image, offsets: npt.ArrayLike, *, interpolation: str = "linear",
                     border: str = "reflect", fill: Any = 0) -> Image:
    """Move a regular grid of control points by ``offsets`` and warp piecewise-affinely between them."""
    dx, dy = piecewise_affine_field(image.shape[0], image.shape[1], offsets)
    return displace(image, dx, dy, interpolation=interpolation, border=border, fill=fill)
