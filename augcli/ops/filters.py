"""Convolution filters: imgaug's sharpen, emboss and edge kernels, and the correlation they share.

Filters act on the colour channels and leave alpha alone; uint8 and uint16 both work
(``cv2.filter2D`` saturates to the dtype). Borders are reflected (OpenCV's REFLECT_101).
"""

from __future__ import annotations

import cv2
import numpy as np

from augcli.ops._image import Image, cv_view, hwc, keep_alpha

_IDENTITY = np.array([[0, 0, 0], [0, 1, 0], [0, 0, 0]], dtype=np.float32)
_LAPLACIAN = np.array([[0, 1, 0], [1, -4, 1], [0, 1, 0]], dtype=np.float32)


def convolve(image: Image, kernel: np.ndarray) -> Image:
    """Correlate every channel with a float kernel, saturating to the image dtype."""
    out = cv2.filter2D(cv_view(image), -1, kernel.astype(np.float32), borderType=cv2.BORDER_REFLECT_101)
    return hwc(out, image.shape[2])


def _blend_identity(effect: np.ndarray, alpha: float) -> np.ndarray:
    """imgaug's kernel blend: ``(1 - alpha) * identity + alpha * effect``."""
    return (1.0 - alpha) * _IDENTITY + alpha * effect


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
