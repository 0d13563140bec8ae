"""Oracles for the colour kernels: fast paths against the plain numpy formula they replace."""

from __future__ import annotations

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
