"""Background replacement kernels: estimate a plain background from the border, segment it, replace it.

The background colour is the per-channel median of the image's outermost ring of pixels. A pixel
is background when every colour channel is within ``tolerance`` (0-255 units, times 257 for
16-bit images) of that colour and, with the ``flood`` method, when it is connected to the border
through such pixels (4-connectivity): a flood fill from every border pixel, with a fixed range
around the estimated colour. The ``threshold`` method takes every pixel within the tolerance,
connected or not (holes inside an object too). Alpha is never read and never changed.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import cv2
import numpy as np
import numpy.typing as npt

from augcli.ops._image import Image, cv_view, hwc, keep_alpha, max_value, scale_fill, to_dtype

Mask = npt.NDArray[np.bool_]
Alpha = npt.NDArray[np.float32]
METHODS = ("flood", "threshold")


def _colour(image: Image) -> Image:
    """The colour channels (a view): alpha left out."""
    return image[:, :, :3] if image.shape[2] == 4 else image


def _ring(values: npt.NDArray[Any]) -> npt.NDArray[Any]:
    """The outermost ring of an (H, W, ...) array as (N, ...), each pixel once."""
    h, w = values.shape[:2]
    if h <= 2 or w <= 2:  # every pixel lies on the border
        return values.reshape(h * w, *values.shape[2:])
    return np.concatenate([values[0], values[-1], values[1:-1, 0], values[1:-1, -1]])


def estimate_background(image: Image) -> tuple[float, ...]:
    """The background colour: the median of the border pixels, per colour channel, in the image's units."""
    return tuple(float(v) for v in np.median(_ring(_colour(image)), axis=0))


def background_mask(image: Image, colour: Sequence[float], tolerance: float, method: str = "flood") -> Mask:
    """True where a pixel is background: (H, W) booleans.

    Args:
        image: (H, W, C), uint8 or uint16; alpha is ignored.
        colour: the background colour in the image's units, one value per colour channel
            (as :func:`estimate_background` gives it).
        tolerance: the largest difference, in any colour channel, from ``colour`` (0-255 units).
        method: ``flood`` (only pixels connected to the border, 4-connectivity) or ``threshold``
            (every pixel within the tolerance).
    """
    scale = max_value(image.dtype) / 255.0
    pixels = _colour(image).astype(np.float32)
    distance = np.abs(pixels - np.asarray(colour, np.float32)).max(axis=2)
    near = distance <= np.float32(tolerance * scale)
    if method == "threshold":
        return near
    count, labels = cv2.connectedComponents(near.astype(np.uint8), connectivity=4)
    reached = np.zeros(count, bool)
    reached[_ring(labels)] = True
    reached[0] = False  # label 0: the pixels beyond the tolerance
    return np.asarray(reached[labels], dtype=bool)


def feather_mask(mask: Mask, sigma: float) -> Alpha:
    """The mask as float32 weights in [0, 1], its edge softened by a Gaussian blur of ``sigma`` pixels (0: hard)."""
    weights = mask.astype(np.float32)
    if sigma <= 0:
        return weights
    blurred = cv2.GaussianBlur(weights, (0, 0), sigmaX=sigma, sigmaY=sigma, borderType=cv2.BORDER_REPLICATE)
    return np.asarray(np.clip(blurred, 0, 1), dtype=np.float32)


def fit_background(background: Image, box: Sequence[int], size: tuple[int, int], channels: int,
                   dtype: np.dtype[np.generic] | type) -> Image:
    """Cut ``box`` [x0, y0, x1, y1] (end-exclusive) out of a background and fit it to an image.

    The crop is resized to ``size`` (width, height) with linear interpolation when it differs,
    brought to ``dtype`` (x 257 or / 257) and to ``channels`` colour channels (1 or 3): a
    background's alpha is dropped, grey becomes BGR, BGR becomes its luma.
    """
    x0, y0, x1, y1 = (int(v) for v in box)
    region = np.ascontiguousarray(_colour(background)[y0:y1, x0:x1])
    if (region.shape[1], region.shape[0]) != tuple(size):
        region = hwc(cv2.resize(cv_view(region), tuple(size), interpolation=cv2.INTER_LINEAR), region.shape[2])
    region = to_dtype(region, dtype)
    if region.shape[2] == 3 and channels == 1:
        region = hwc(cv2.cvtColor(region, cv2.COLOR_BGR2GRAY), 1)
    elif region.shape[2] == 1 and channels == 3:
        region = np.repeat(region, 3, axis=2)
    return np.ascontiguousarray(region)


@keep_alpha
def replace_background(image: Image, weights: Alpha | Mask, background: float | Sequence[float] | Image) -> Image:
    """Show ``background`` where ``weights`` is 1, the image where it is 0, and a blend between.

    ``background`` is a colour in 0-255 units ([b, g, r]; a grey image takes its luma) or an
    image of the same size, dtype and colour channels. Pixels of weight 0 are left exactly as they
    are and pixels of weight 1 take the background exactly. Alpha is left alone.
    """
    if isinstance(background, np.ndarray) and background.ndim == 3:
        fill = background.astype(np.float32)
    else:
        given = float(background) if isinstance(background, int | float) else tuple(float(v) for v in background)
        values = scale_fill(given, image)[: image.shape[2]]
        top = max_value(image.dtype)
        fill = np.clip(np.rint(np.asarray(values, np.float32)), 0, top).reshape(1, 1, -1)
    w = np.asarray(weights, np.float32)[:, :, np.newaxis]
    out = image.astype(np.float32) * (np.float32(1) - w) + fill * w
    return np.ascontiguousarray(np.clip(np.rint(out), 0, max_value(image.dtype)).astype(image.dtype))
