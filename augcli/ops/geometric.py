"""Geometric kernels and the 3x3 matrices that ``render`` fuses into one warp.

Coordinates are pixel centres: x to the right, y down, the top-left pixel at (0, 0).
A matrix maps a source point to its place in the output.
"""

from __future__ import annotations

import math
from typing import Any

import cv2
import numpy as np
import numpy.typing as npt

from augcli.ops._image import BORDERS, INTERPOLATIONS, Image, cv_view, hwc, scale_fill

Matrix = npt.NDArray[np.float64]
Size = tuple[int, int]  # (width, height)


def translation(dx: float, dy: float) -> Matrix:
    """Matrix that moves every point by (dx, dy)."""
    return np.array([[1.0, 0.0, dx], [0.0, 1.0, dy], [0.0, 0.0, 1.0]])


def hflip_matrix(width: int) -> Matrix:
    """Matrix of a left-right mirror of an image ``width`` pixels wide."""
    return np.array([[-1.0, 0.0, width - 1.0], [0.0, 1.0, 0.0], [0.0, 0.0, 1.0]])


def vflip_matrix(height: int) -> Matrix:
    """Matrix of an up-down mirror of an image ``height`` pixels high."""
    return np.array([[1.0, 0.0, 0.0], [0.0, -1.0, height - 1.0], [0.0, 0.0, 1.0]])


def rot90_matrix(k: int, width: int, height: int) -> tuple[Matrix, Size]:
    """Matrix and output size of ``k`` quarter turns counter-clockwise (as ``np.rot90``)."""
    k %= 4
    if k == 0:
        return np.eye(3), (width, height)
    if k == 1:
        return np.array([[0.0, 1.0, 0.0], [-1.0, 0.0, width - 1.0], [0.0, 0.0, 1.0]]), (height, width)
    if k == 2:
        return np.array([[-1.0, 0.0, width - 1.0], [0.0, -1.0, height - 1.0], [0.0, 0.0, 1.0]]), (width, height)
    return np.array([[0.0, -1.0, height - 1.0], [1.0, 0.0, 0.0], [0.0, 0.0, 1.0]]), (height, width)


def affine_matrix(
    width: int,
    height: int,
    *,
    angle: float = 0.0,
    scale: tuple[float, float] = (1.0, 1.0),
    translate: tuple[float, float] = (0.0, 0.0),
    shear: tuple[float, float] = (0.0, 0.0),
) -> Matrix:
    """Matrix about the image centre: scale, then rotate (degrees, counter-clockwise), then shear
    (degrees), then translate (fractions of width and height).

    Order and shear sign are albumentations' (``create_affine_transformation_matrix`` with the shear
    angles negated, as ``Affine`` samples them): a positive x shear moves rows below the centre to the
    left, as in torchvision.
    """
    cx, cy = (width - 1) / 2.0, (height - 1) / 2.0
    a = math.radians(angle)
    rot = np.array([[math.cos(a), math.sin(a), 0.0], [-math.sin(a), math.cos(a), 0.0], [0.0, 0.0, 1.0]])
    shx, shy = (math.tan(math.radians(-s)) for s in shear)
    sh = np.array([[1.0, shx, 0.0], [shy, 1.0, 0.0], [0.0, 0.0, 1.0]])
    sc = np.diag([scale[0], scale[1], 1.0])
    move = translation(cx + translate[0] * width, cy + translate[1] * height)
    return move @ sh @ rot @ sc @ translation(-cx, -cy)


def box_matrix(box: tuple[float, float, float, float], out: Size) -> Matrix:
    """Matrix that maps the box (x0, y0, x1, y1), given in pixel edges, onto an ``out`` image."""
    x0, y0, x1, y1 = box
    sx, sy = out[0] / (x1 - x0), out[1] / (y1 - y0)
    return np.array([[sx, 0.0, sx * (0.5 - x0) - 0.5], [0.0, sy, sy * (0.5 - y0) - 0.5], [0.0, 0.0, 1.0]])


def perspective_matrix(src: npt.ArrayLike, dst: npt.ArrayLike) -> Matrix:
    """Matrix that sends four source points onto four destination points."""
    return cv2.getPerspectiveTransform(np.asarray(src, np.float32), np.asarray(dst, np.float32)).astype(np.float64)


def warp(
    image: Image,
    matrix: Matrix,
    size: Size,
    *,
    interpolation: str = "linear",
    border: str = "reflect",
    fill: Any = 0,
) -> Image:
    """Resample ``image`` through a 3x3 matrix into an image of ``size`` (width, height).

    OpenCV defines no area filter for warps: ``area`` resamples bilinearly here, and
    :func:`augcli.render.resample` only calls this with ``area`` where the warp does not shrink.
    """
    flags = INTERPOLATIONS[interpolation]
    if flags == cv2.INTER_AREA:
        flags = cv2.INTER_LINEAR
    value = scale_fill(fill, image)
    src = _widened(image, flags)
    mode = safe_border(BORDERS[border], image.shape)
    if abs(matrix[2, 0]) > 1e-12 or abs(matrix[2, 1]) > 1e-12 or abs(matrix[2, 2] - 1.0) > 1e-12:
        out = cv2.warpPerspective(src, matrix, size, flags=flags, borderMode=mode, borderValue=value)
    else:
        out = cv2.warpAffine(src, matrix[:2], size, flags=flags, borderMode=mode, borderValue=value)
    return _narrowed(out, image.shape[2])


# Largest image (pixels) that bilinear warps widen to BGRA (see :func:`_widened`).
WIDEN_MAX_PIXELS = 4_000_000


def _widened(image: Image, flags: int) -> Image:
    """The source OpenCV should resample: a 3-channel image goes through as BGRA for bilinear sampling.

    OpenCV 5 has vector code for bilinear warps and remaps of 1- and 4-channel images but not of
    3-channel ones: through a fourth channel they run about twice as fast, with the same bytes in the
    three colour channels (each channel is sampled on its own with the same weights;
    ``tests/ops/test_geometric.py`` checks it). Nearest, cubic and Lanczos are not faster that way.
    Above ``WIDEN_MAX_PIXELS`` the warp is bound by memory, not arithmetic (12 megapixels took 110 ms
    either way here), and the two BGRA copies would cost 2.7 times the image: it goes through as is.
    """
    if flags == cv2.INTER_LINEAR and image.shape[2] == 3 and image.shape[0] * image.shape[1] <= WIDEN_MAX_PIXELS:
        return cv2.cvtColor(image, cv2.COLOR_BGR2BGRA)
    return cv_view(image)


def _narrowed(out: Image, channels: int) -> Image:
    """The resampled image back in the source's channel count (undoes :func:`_widened`)."""
    if channels == 3 and out.shape[2] == 4:
        return cv2.cvtColor(out, cv2.COLOR_BGRA2BGR)
    return hwc(out, channels)


def safe_border(mode: int, shape: tuple[int, ...]) -> int:
    """OpenCV's warps and remap never return with BORDER_REFLECT_101 on a source 1 px wide or tall (there
    is nothing to mirror to): such a source uses BORDER_REFLECT, which repeats its one row or column."""
    if mode == cv2.BORDER_REFLECT_101 and min(shape[0], shape[1]) == 1:
        return cv2.BORDER_REFLECT
    return mode


def hflip(image: Image) -> Image:
    """Mirror left-right (cv2.flip: 30x faster than copying a reversed numpy view)."""
    return hwc(cv2.flip(cv_view(image), 1), image.shape[2])


def vflip(image: Image) -> Image:
    """Mirror up-down."""
    return hwc(cv2.flip(cv_view(image), 0), image.shape[2])


_ROTATIONS = {1: cv2.ROTATE_90_COUNTERCLOCKWISE, 2: cv2.ROTATE_180, 3: cv2.ROTATE_90_CLOCKWISE}


def rot90(image: Image, k: int) -> Image:
    """Turn by ``k`` quarter turns counter-clockwise, as ``np.rot90``."""
    if k % 4 == 0:
        return image.copy()
    return hwc(cv2.rotate(cv_view(image), _ROTATIONS[k % 4]), image.shape[2])


def crop(image: Image, box: tuple[int, int, int, int]) -> Image:
    """Cut out the box (x0, y0, x1, y1) in whole pixels (a view)."""
    x0, y0, x1, y1 = box
    return image[y0:y1, x0:x1]


def _near_int(values: npt.ArrayLike, tol: float = 1e-6) -> bool:
    """True when every value is within ``tol`` of a whole number (NaN is not)."""
    flat = np.asarray(values, dtype=np.float64).ravel().tolist()  # Python floats: a few values, no ufunc calls
    return all(abs(v - round(v)) <= tol if math.isfinite(v) else False for v in flat)


def is_affine(matrix: Matrix) -> bool:
    """True when the matrix has no perspective row."""
    g, h, k = matrix[2].tolist()
    return abs(g) <= 1e-12 and abs(h) <= 1e-12 and abs(k - 1.0) <= 1e-12


def is_exact(matrix: Matrix) -> bool:
    """True when the matrix only moves whole pixels: flips, quarter turns, transposes and whole-pixel shifts."""
    if not is_affine(matrix) or not _near_int(matrix[:2]):
        return False
    (a, b, _), (c, d, _) = (row for row in np.rint(matrix[:2]).tolist())
    return abs(a) + abs(c) == 1 and abs(b) + abs(d) == 1 and abs(a) + abs(b) == 1 and abs(c) + abs(d) == 1


def permute(image: Image, matrix: Matrix, size: Size, *, border: str = "reflect", fill: Any = 0) -> Image:
    """Apply an exact matrix (see :func:`is_exact`) bit-exactly: crop or pad, then transpose and flip.

    Always returns a new C-contiguous array.
    """
    (a, b, tx), (c, d, ty) = (row for row in np.rint(matrix[:2]).astype(int).tolist())
    w, h = size
    # The inverse of a whole-pixel matrix: the transpose of its 2x2 part (a signed permutation), shifted back.
    xs = [a * (x - tx) + c * (y - ty) for x, y in ((0, 0), (w - 1, 0), (0, h - 1), (w - 1, h - 1))]
    ys = [b * (x - tx) + d * (y - ty) for x, y in ((0, 0), (w - 1, 0), (0, h - 1), (w - 1, h - 1))]
    x0, y0, x1, y1 = min(xs), min(ys), max(xs) + 1, max(ys) + 1
    height, width = image.shape[:2]
    sides = (max(0, -x0), max(0, -y0), max(0, x1 - width), max(0, y1 - height))
    if any(sides):
        image = pad(image, sides, border, fill)
        x0, x1, y0, y1 = x0 + sides[0], x1 + sides[0], y0 + sides[1], y1 + sides[1]
    part, fresh = image[y0:y1, x0:x1], bool(any(sides))
    if a == 0:  # axes swapped: transpose first, then the flips left over
        part, fresh = hwc(cv2.transpose(cv_view(part)), image.shape[2]), True
        fx, fy = b, c
    else:
        fx, fy = a, d
    code = {(-1, 1): 1, (1, -1): 0, (-1, -1): -1}.get((fx, fy))
    if code is not None:
        part, fresh = hwc(cv2.flip(cv_view(part), code), image.shape[2]), True
    return np.ascontiguousarray(part) if fresh else part.copy()


def split_scale(matrix: Matrix, size: Size) -> tuple[Matrix, Size, Matrix] | None:
    """Write an affine matrix without rotation or shear as ``exact @ scale``.

    Returns (scale, mid_size, exact): ``scale`` has positive per-axis factors and maps the source onto
    an image of ``mid_size``; ``exact`` (flips or a transpose) maps that onto the output. None when the
    matrix rotates, shears or is a perspective.
    """
    if not is_affine(matrix):
        return None
    a = matrix[:2, :2]
    tiny = 1e-12
    if abs(a[0, 1]) <= tiny and abs(a[1, 0]) <= tiny and abs(a[0, 0]) > tiny and abs(a[1, 1]) > tiny:
        d, mid = np.diag(np.sign([a[0, 0], a[1, 1]])), size
    elif abs(a[0, 0]) <= tiny and abs(a[1, 1]) <= tiny and abs(a[0, 1]) > tiny and abs(a[1, 0]) > tiny:
        d, mid = np.array([[0.0, np.sign(a[0, 1])], [np.sign(a[1, 0]), 0.0]]), (size[1], size[0])
    else:
        return None
    corners = d @ np.array([[0, mid[0] - 1, 0, mid[0] - 1], [0, 0, mid[1] - 1, mid[1] - 1]], dtype=np.float64)
    exact = np.eye(3)
    exact[:2, :2], exact[:2, 2] = d, -corners.min(axis=1)
    return np.linalg.inv(exact) @ matrix, mid, exact


def source_box(scale: Matrix, size: Size) -> tuple[float, float, float, float]:
    """The source box (x0, y0, x1, y1, in pixel edges) that a scale-and-shift matrix maps onto ``size``."""
    sx, sy, tx, ty = scale[0, 0], scale[1, 1], scale[0, 2], scale[1, 2]
    x0, y0 = 0.5 - (tx + 0.5) / sx, 0.5 - (ty + 0.5) / sy
    return x0, y0, x0 + size[0] / sx, y0 + size[1] / sy


def whole_box_inside(box: tuple[float, float, float, float],
                     shape: tuple[int, ...]) -> tuple[int, int, int, int] | None:
    """The box in whole pixels when its edges are whole numbers inside an image of ``shape``, else None."""
    if not _near_int(box):
        return None
    x0, y0, x1, y1 = (round(v) for v in box)
    if 0 <= x0 < x1 <= shape[1] and 0 <= y0 < y1 <= shape[0]:
        return x0, y0, x1, y1
    return None


def footprint(matrix: Matrix, size: Size) -> tuple[float, float]:
    """Source pixels spanned by one output pixel along x and along y (the largest, over corners and centre)."""
    inv = np.linalg.inv(matrix)
    w, h = size
    most = [0.0, 0.0]
    for x, y in ((0, 0), (w - 1, 0), (0, h - 1), (w - 1, h - 1), ((w - 1) / 2, (h - 1) / 2)):
        q = inv @ np.array([x, y, 1.0])
        jac = (inv[:2, :2] * q[2] - np.outer(q[:2], inv[2, :2])) / (q[2] * q[2])
        most = [max(most[i], float(np.hypot(*jac[:, i]))) for i in range(2)]
    return most[0], most[1]


def resize(image: Image, size: Size, interpolation: str = "area") -> Image:
    """Resize to ``size`` (width, height)."""
    if (image.shape[1], image.shape[0]) == tuple(size):
        return image.copy()
    flags = INTERPOLATIONS[interpolation]
    return hwc(cv2.resize(cv_view(image), tuple(size), interpolation=flags), image.shape[2])


def pad(image: Image, sides: tuple[int, int, int, int], border: str = "reflect", fill: Any = 0) -> Image:
    """Add (left, top, right, bottom) pixels around the image."""
    left, top, right, bottom = sides
    out = cv2.copyMakeBorder(
        cv_view(image), top, bottom, left, right, BORDERS[border], value=scale_fill(fill, image)
    )
    return hwc(out, image.shape[2])


def remap(image: Image, map_x: npt.NDArray[np.float32], map_y: npt.NDArray[np.float32], *,
          interpolation: str = "linear", border: str = "reflect", fill: Any = 0) -> Image:
    """Sample ``image`` at (map_x, map_y) for every output pixel."""
    flags = INTERPOLATIONS[interpolation]
    if flags == cv2.INTER_AREA:
        flags = cv2.INTER_LINEAR
    out = cv2.remap(_widened(image, flags), map_x, map_y, flags,
                    borderMode=safe_border(BORDERS[border], image.shape), borderValue=scale_fill(fill, image))
    return _narrowed(out, image.shape[2])
