"""Blur and filter kernels."""

from __future__ import annotations

import math

import cv2

from augcli.ops._image import Image, cv_view, hwc, keep_alpha


@keep_alpha
def gaussian_blur(image: Image, sigma: float) -> Image:
    """Blur with a Gaussian of ``sigma`` pixels (kernel 2*ceil(3*sigma)+1)."""
    if sigma <= 0:
        return image.copy()
    k = 2 * math.ceil(3 * sigma) + 1
    return hwc(cv2.GaussianBlur(cv_view(image), (k, k), sigma), image.shape[2])
