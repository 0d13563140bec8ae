"""Oracles for the colour kernels: fast paths against the plain numpy formula they replace."""

from __future__ import annotations

import cv2
import numpy as np
import pytest

from augcli import ops
from tests.conftest import full_scale

DTYPES = [np.uint8, np.uint16]


def _brightness_reference(image: np.ndarray, delta: float) -> np.ndarray:
    """``rint((x / top + delta) * top)``, clipped, per value, in float64; alpha is kept."""
    top = full_scale(image.dtype)
    colour = image[:, :, :3] if image.shape[2] == 4 else image
    out = np.clip(np.rint((colour / top + delta) * top), 0, top).astype(image.dtype)
    return np.dstack([out, image[:, :, 3:]]) if image.shape[2] == 4 else out


def _deltas(rng: np.random.Generator, top: int) -> list[float]:
    """Random offsets, whole-step ones, half-step ones (ties of the rounding) and the extremes."""
    steps = rng.integers(-top, top + 1, 8)
    return [*rng.uniform(-1, 1, 12), *(steps / top), *((steps + 0.5) / top), -1.0, 1.0, 0.0, 0.6 / top, -0.5 / top]


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("channels", [1, 3, 4])
def test_brightness_equals_the_rounded_offset_formula(dtype: type, channels: int) -> None:
    rng = np.random.default_rng(11)
    top = full_scale(dtype)
    for delta in _deltas(rng, top):
        shape = (int(rng.integers(1, 40)), int(rng.integers(1, 40)), channels)
        image = rng.integers(0, top + 1, shape).astype(dtype)
        out = ops.adjust_brightness(image, float(delta))
        assert out.dtype == image.dtype and out.shape == image.shape and out is not image
        assert np.array_equal(out, _brightness_reference(image, float(delta))), delta


def _hsv_reference(image: np.ndarray, hue: float, saturation: float, value: float) -> np.ndarray:
    """Float HSV (OpenCV's conversion, hue in degrees), each plane changed with numpy, rounded once."""
    top = full_scale(image.dtype)
    hsv = cv2.cvtColor(image.astype(np.float32), cv2.COLOR_BGR2HSV)
    h, s, v = hsv[:, :, 0].copy(), hsv[:, :, 1].copy(), hsv[:, :, 2].copy()
    h = h + np.float32(hue % 360.0)
    s = np.minimum(s * np.float32(1.0 + saturation), np.float32(1.0))
    v = np.clip(v + np.float32(value * top), 0.0, float(top))
    back = cv2.cvtColor(np.dstack([h, s, v]).astype(np.float32), cv2.COLOR_HSV2BGR)
    return np.clip(np.rint(back), 0, top).astype(image.dtype)


@pytest.mark.parametrize("band_pixels", [None, 7])
@pytest.mark.parametrize("dtype", DTYPES)
def test_hsv_equals_the_float_hsv_formula(
    dtype: type, band_pixels: int | None, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Also in bands of one or a few rows (``band_pixels`` 7): the bands meet without a seam."""
    if band_pixels is not None:
        monkeypatch.setattr("augcli.ops._image.BAND_PIXELS", band_pixels)
    rng = np.random.default_rng(12)
    top = full_scale(dtype)
    for i in range(40):
        shape = (int(rng.integers(1, 40)), int(rng.integers(1, 40)), 3)
        image = rng.integers(0, top + 1, shape).astype(dtype)
        hue, saturation, value = (float(v) if i % (k + 2) else 0.0 for k, v in enumerate(rng.uniform(-1, 1, 3)))
        hue *= 360.0
        if hue == saturation == value == 0.0:
            continue
        expected = _hsv_reference(image, hue, saturation, value)
        assert np.array_equal(ops.shift_hsv(image, hue, saturation, value), expected)
