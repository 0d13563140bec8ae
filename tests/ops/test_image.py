"""Oracles for the shared image helpers: depth conversion between uint8 and uint16."""

from __future__ import annotations

import numpy as np

from augcli import ops


def test_to_dtype_16_to_8_rounds_to_nearest_over_every_value() -> None:
    values = np.arange(65536, dtype=np.uint16).reshape(256, 256, 1)
    expected = np.floor(values.astype(np.float64) / 257.0 + 0.5)  # 257 is odd: no value is a tie
    out = ops.to_dtype(values, np.uint8)
    assert out.dtype == np.uint8 and out.shape == values.shape
    assert np.array_equal(out, expected)


def test_to_dtype_8_to_16_is_exact_and_round_trips() -> None:
    values = np.arange(256, dtype=np.uint8).reshape(16, 16, 1)
    wide = ops.to_dtype(values, np.uint16)
    assert wide.dtype == np.uint16 and np.array_equal(wide, values.astype(np.int64) * 257)
    assert wide[-1, -1, 0] == 65535
    assert np.array_equal(ops.to_dtype(wide, np.uint8), values)


def test_to_dtype_to_its_own_dtype_is_the_image() -> None:
    image = np.zeros((2, 3, 1), np.uint16)
    assert ops.to_dtype(image, np.uint16) is image


def test_16bit_jpeg_is_the_8bit_jpeg_of_the_rounded_image_scaled_back() -> None:
    rng = np.random.default_rng(0)
    wide = (rng.integers(0, 256, (24, 32, 3)) * 257 + rng.integers(-128, 129, (24, 32, 3))).clip(0, 65535)
    wide = wide.astype(np.uint16)
    eight = np.floor(wide / 257.0 + 0.5).astype(np.uint8)
    assert np.array_equal(ops.compress_jpeg(wide, 70), ops.compress_jpeg(eight, 70).astype(np.uint16) * 257)
