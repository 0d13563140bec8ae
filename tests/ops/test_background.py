"""Oracles for the background kernels: border estimate, segmentation, feathering, fitting and replacement."""

from __future__ import annotations

import numpy as np
import pytest

from augcli import ops
from tests.conftest import full_scale

DTYPES = [np.uint8, np.uint16]


def _plain(dtype: type, channels: int, colour: tuple[int, ...], h: int = 20, w: int = 30) -> np.ndarray:
    """A flat image of ``colour`` (0-255 units, scaled for 16-bit)."""
    scale = full_scale(dtype) // 255
    return np.tile(np.asarray(colour[:channels], np.int64) * scale, (h, w, 1)).astype(dtype)


def test_estimate_is_the_median_of_the_outermost_ring() -> None:
    image = np.zeros((5, 6, 3), np.uint8)
    image[1:-1, 1:-1] = 200  # the inside never counts
    ring = np.zeros((5, 6), bool)
    ring[0], ring[-1], ring[:, 0], ring[:, -1] = True, True, True, True
    values = np.arange(ring.sum()) % 7 * 10  # 18 ring pixels with known values
    image[ring] = np.stack([values, values + 1, values + 2], axis=1)
    expected = tuple(float(v) for v in np.median(image[ring], axis=0))
    assert ops.estimate_background(image) == expected
    assert ops.estimate_background(np.dstack([image, np.full((5, 6), 7, np.uint8)])) == expected  # alpha ignored


def test_estimate_of_a_tiny_image_uses_every_pixel() -> None:
    image = np.array([[[10], [20], [90]], [[30], [40], [50]]], np.uint8)  # 2 x 3: all border
    assert ops.estimate_background(image) == (35.0,)
    assert ops.estimate_background(np.array([[[7, 8, 9]]], np.uint8)) == (7.0, 8.0, 9.0)


@pytest.mark.parametrize("dtype", DTYPES)
def test_tolerance_is_in_0_255_units_and_inclusive(dtype: type) -> None:
    scale = full_scale(dtype) // 255
    image = _plain(dtype, 3, (100, 100, 100))
    image[:, 10] = 110 * scale  # a column 10 units away in every channel
    image[:, 20, 1] = 111 * scale  # a column 11 units away in one channel
    mask = ops.background_mask(image, (100.0 * scale,) * 3, 10, "threshold")
    assert mask[:, 10].all() and not mask[:, 20].any()
    assert ops.background_mask(image, (100.0 * scale,) * 3, 9.99, "threshold")[:, 10].sum() == 0


def test_flood_keeps_enclosed_background_and_threshold_takes_it() -> None:
    image = _plain(np.uint8, 3, (200, 200, 200), 21, 21)
    image[4:17, 4:17] = (10, 20, 30)  # an object ...
    image[8:13, 8:13] = (200, 200, 200)  # ... with a hole of the background colour
    hole = np.zeros((21, 21), bool)
    hole[8:13, 8:13] = True
    obj = np.zeros((21, 21), bool)
    obj[4:17, 4:17] = True
    flood = ops.background_mask(image, (200.0,) * 3, 5, "flood")
    threshold = ops.background_mask(image, (200.0,) * 3, 5, "threshold")
    assert np.array_equal(flood, ~obj)
    assert np.array_equal(threshold, ~obj | hole)


def test_flood_connects_through_edges_not_corners() -> None:
    image = _plain(np.uint8, 1, (0,), 7, 7)
    image[0:6, 0:6] = 255  # an object in the top-left corner ...
    image[0, 0] = 0  # ... leaving the corner pixel to the background
    image[1, 1] = 0  # a background-coloured pixel touching it only at a corner
    mask = ops.background_mask(image, (0.0,), 0, "flood")
    assert mask[0, 0] and not mask[1, 1]
    assert mask[6].all() and mask[:, 6].all()
    assert ops.background_mask(image, (0.0,), 0, "threshold")[1, 1]


def test_a_tiny_image_is_all_background() -> None:
    one = np.array([[[3, 4, 5]]], np.uint16)
    assert ops.background_mask(one, ops.estimate_background(one), 0).tolist() == [[True]]


def test_feather_zero_is_the_mask_and_a_blur_stays_in_0_1() -> None:
    mask = np.zeros((40, 40), bool)
    mask[:, :20] = True
    assert np.array_equal(ops.feather_mask(mask, 0), mask.astype(np.float32))
    soft = ops.feather_mask(mask, 2.0)
    assert soft.dtype == np.float32 and soft.min() >= 0 and soft.max() <= 1
    assert (soft[:, :10] == 1).all() and (soft[:, 30:] == 0).all()  # far from the edge: unchanged
    assert 0 < soft[0, 19] < 1 and 0 < soft[0, 20] < 1


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("channels", [1, 3, 4])
def test_replace_with_a_colour_is_exact_at_weights_0_and_1(dtype: type, channels: int) -> None:
    rng = np.random.default_rng(0)
    image = rng.integers(0, full_scale(dtype) + 1, size=(12, 16, channels), dtype=dtype)
    mask = np.zeros((12, 16), bool)
    mask[:, :7] = True
    out = ops.replace_background(image, mask, [10, 20, 30])
    scale = full_scale(dtype) // 255
    luma = 0.114 * 10 + 0.587 * 20 + 0.299 * 30  # a grey image takes the colour's luma
    colour = [10 * scale, 20 * scale, 30 * scale] if channels != 1 else [round(luma * scale)]
    assert (out[mask][:, : min(channels, 3)] == colour).all()
    assert np.array_equal(out[~mask], image[~mask])
    if channels == 4:
        assert np.array_equal(out[:, :, 3], image[:, :, 3])


def test_replace_blends_between_weights() -> None:
    image = np.full((2, 2, 3), 100, np.uint8)
    weights = np.array([[0.0, 0.25], [0.5, 1.0]], np.float32)
    out = ops.replace_background(image, weights, 200)
    assert out[:, :, 0].tolist() == [[100, 125], [150, 200]]


def test_replace_with_an_image_takes_its_pixels() -> None:
    image = np.zeros((4, 5, 3), np.uint16)
    background = np.arange(60, dtype=np.uint16).reshape(4, 5, 3) * 1000
    mask = np.zeros((4, 5), bool)
    mask[1:3] = True
    out = ops.replace_background(image, mask, background)
    assert np.array_equal(out[mask], background[mask]) and (out[~mask] == 0).all()


def test_fit_cuts_the_box_exactly_when_it_has_the_image_size() -> None:
    background = np.arange(10 * 12 * 3, dtype=np.uint8).reshape(10, 12, 3)
    out = ops.fit_background(background, [2, 3, 7, 9], (5, 6), 3, np.uint8)
    assert np.array_equal(out, background[3:9, 2:7])


def test_fit_resizes_a_smaller_box_and_converts_depth_and_channels() -> None:
    background = np.full((4, 6, 4), (10, 20, 30, 0), np.uint8)  # BGRA: alpha dropped
    out = ops.fit_background(background, [0, 0, 6, 4], (12, 8), 3, np.uint16)
    assert out.shape == (8, 12, 3) and out.dtype == np.uint16
    assert (out == np.array([10, 20, 30]) * 257).all()
    grey = ops.fit_background(background, [0, 0, 6, 4], (6, 4), 1, np.uint8)
    assert grey.shape == (4, 6, 1) and (grey == round(0.114 * 10 + 0.587 * 20 + 0.299 * 30)).all()
    colour = ops.fit_background(np.full((3, 3, 1), 9, np.uint8), [0, 0, 3, 3], (3, 3), 3, np.uint8)
    assert colour.shape == (3, 3, 3) and (colour == 9).all()
