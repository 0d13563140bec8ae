"""Blur kernels: Gaussian, median (a rank filter) and motion blur (a line kernel).

They act on the colour channels and leave alpha alone; uint8 and uint16 both work.
Borders are reflected (OpenCV's REFLECT_101).
"""

from __future__ import annotations

import math

import cv2
import numpy as np

from augcli.ops._image import Image, cv_view, hwc, keep_alpha
from augcli.ops.filters import convolve

# OpenCV's medianBlur handles 16-bit images only for 3x3 and 5x5 windows.
MEDIAN_MAX_KSIZE_16BIT = 5


@keep_alpha
def gaussian_blur(image: Image, sigma: float) -> Image:
    """Blur with a Gaussian of ``sigma`` pixels (kernel 2*ceil(3*sigma)+1)."""
    if sigma <= 0:
        return image.copy()
    k = 2 * math.ceil(3 * sigma) + 1
    return hwc(cv2.GaussianBlur(cv_view(image), (k, k), sigma), image.shape[2])


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
