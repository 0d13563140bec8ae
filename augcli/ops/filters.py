"""Convolution and rank filters: median, motion blur, and imgaug's sharpen, emboss and edge kernels.

Filters act on the colour channels and leave alpha alone; uint8 and uint16 both work
(``cv2.filter2D`` saturates to the dtype). Borders are reflected (OpenCV's REFLECT_101).
"""

from __future__ import annotations

import math

import cv2
import numpy as np

from augcli.ops._image import Image, cv_view, hwc, keep_alpha

# OpenCV's medianBlur handles 16-bit images only for 3x3 and 5x5 windows.
MEDIAN_MAX_KSIZE_16BIT = 5

_IDENTITY = np.array([[0, 0, 0], [0, 1, 0], [0, 0, 0]], dtype=np.float32)
_LAPLACIAN = np.array([[0, 1, 0], [1, -4, 1], [0, 1, 0]], dtype=np.float32)


def convolve(image: Image, kernel: np.ndarray) -> Image:
    """Correlate every channel with a float kernel, saturating to the image dtype."""
    out = cv2.filter2D(cv_view(image), -1, kernel.astype(np.float32), borderType=cv2.BORDER_REFLECT_101)
    return hwc(out, image.shape[2])


def _blend_identity(effect: np.ndarray, alpha: float) -> np.ndarray:
    """imgaug's kernel blend: ``(1 - alpha) * identity + alpha * effect``."""
    return (1.0 - alpha) * _IDENTITY + alpha * effect


@keep_alpha
def median_blur(image: Image, ksize: int) -> Image:
    """Replace each value by the median of its ``ksize`` x ``ksize`` window (odd ksize).

    16-bit images use at most a 5x5 window: OpenCV has no larger 16-bit median.
    """
    if image.dtype == np.uint16:
        ksize = min(ksize, MEDIAN_MAX_KSIZE_16BIT)
    if ksize <= 1:
        return image.copy()
    return hwc(cv2.medianBlur(cv_view(image), ksize), image.shape[2])


def motion_kernel(ksize: int, angle: float) -> np.ndarray:
    """A normalised ``ksize`` x ``ksize`` kernel: a line of ``ksize`` pixels through the centre.

    The angle is counter-clockwise from the x axis (0: horizontal streaks, 90: vertical). One pixel
    per step along the major axis, the other coordinate rounded half away from the centre, so the
    line is point-symmetric and spans the kernel.
    """
    centre = ksize // 2
    cos, sin = math.cos(math.radians(angle)), -math.sin(math.radians(angle))  # image y points down
    major = max(abs(cos), abs(sin))
    steps = np.arange(-centre, centre + 1, dtype=np.float64)
    xs, ys = (steps * (v / major) for v in (cos, sin))
    xs, ys = (np.sign(v) * np.floor(np.abs(v) + 0.5) for v in (xs, ys))
    kernel = np.zeros((ksize, ksize), dtype=np.float32)
    kernel[ys.astype(np.intp) + centre, xs.astype(np.intp) + centre] = 1.0
    return kernel / np.float32(ksize)


@keep_alpha
def motion_blur(image: Image, ksize: int, angle: float) -> Image:
    """Average along a line of ``ksize`` pixels at ``angle`` degrees (a straight camera shake)."""
    return convolve(image, motion_kernel(ksize, angle))


def sharpen_kernel(alpha: float, lightness: float) -> np.ndarray:
    """imgaug Sharpen: the 8-neighbour sharpening kernel with ``8 + lightness`` in the centre, blended."""
    effect = np.array([[-1, -1, -1], [-1, 8 + lightness, -1], [-1, -1, -1]], dtype=np.float32)
    return _blend_identity(effect, alpha)


@keep_alpha
def sharpen(image: Image, alpha: float, lightness: float) -> Image:
    """Sharpen with imgaug's kernel; ``alpha`` 0 is the identity, ``lightness`` below 1 darkens."""
    return convolve(image, sharpen_kernel(alpha, lightness))


def emboss_kernel(alpha: float, strength: float) -> np.ndarray:
    """imgaug Emboss: a diagonal relief kernel of the given strength, blended with the identity."""
    s = strength
    effect = np.array([[-1 - s, -s, 0], [-s, 1, s], [0, s, 1 + s]], dtype=np.float32)
    return _blend_identity(effect, alpha)


@keep_alpha
def emboss(image: Image, alpha: float, strength: float) -> Image:
    """Emboss with imgaug's kernel; ``alpha`` 0 is the identity."""
    return convolve(image, emboss_kernel(alpha, strength))


@keep_alpha
def edge_detect(image: Image, alpha: float) -> Image:
    """imgaug EdgeDetect: the 4-neighbour Laplacian blended with the identity (negatives clip to 0)."""
    return convolve(image, _blend_identity(_LAPLACIAN, alpha))
