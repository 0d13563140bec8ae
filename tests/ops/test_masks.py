"""Oracles for random masks, masked blends and superpixels."""

from __future__ import annotations

import numpy as np
import pytest

from augcli import ops
from tests.conftest import make_image


def _roughness(mask: np.ndarray) -> float:
    """Mean absolute difference between horizontal and vertical neighbours."""
    return float((np.abs(np.diff(mask, axis=0)).mean() + np.abs(np.diff(mask, axis=1)).mean()) / 2)


WHITE = _roughness(np.random.default_rng(0).random((64, 96)))  # about 1/3


@pytest.mark.parametrize("make", [
    lambda seed: ops.value_noise_mask(64, 96, 24.0, 3, seed),
    lambda seed: ops.frequency_noise_mask(64, 96, -2.0, 32, seed),
])
def test_masks_reproducible_in_range_and_smooth(make) -> None:  # type: ignore[no-untyped-def]
    a, b, c = make(1), make(1), make(2)
    assert a.shape == (64, 96) and a.dtype == np.float32
    assert np.array_equal(a, b) and not np.array_equal(a, c)
    assert a.min() == pytest.approx(0.0) and a.max() == pytest.approx(1.0)
    assert _roughness(a) < 0.25 * WHITE


def test_value_noise_finer_cells_are_rougher() -> None:
    fine, coarse = ops.value_noise_mask(64, 96, 8.0, 1, 3), ops.value_noise_mask(64, 96, 48.0, 1, 3)
    assert _roughness(fine) > _roughness(coarse)


def test_frequency_exponent_sets_smoothness() -> None:
    smooth = [_roughness(ops.frequency_noise_mask(80, 120, -4.0, 48, s)) for s in range(3)]
    rough = [_roughness(ops.frequency_noise_mask(80, 120, 4.0, 48, s)) for s in range(3)]
    assert max(smooth) < min(rough) / 2


def test_sharpen_mask_is_a_sigmoid_about_the_threshold() -> None:
    mask = np.linspace(0, 1, 11, dtype=np.float32)[None, :]
    out = ops.sharpen_mask(mask, 0.3)
    assert out[0, 3] == pytest.approx(0.5, abs=0.03)
    assert np.all(np.diff(out[0]) > 0)
    assert out[0, 0] == 0 and out[0, 10] == pytest.approx(1.0, abs=1e-6)
    assert out[0, 1] < 0.1 and out[0, 6] > 0.9


@pytest.mark.parametrize("dtype", [np.uint8, np.uint16])
def test_blend_masked_endpoints_and_midpoint(dtype: type) -> None:
    image = make_image(dtype, 3)
    other = make_image(dtype, 3, seed=1)[::-1].copy()
    h, w = image.shape[:2]
    assert np.array_equal(ops.blend_masked(image, other, np.zeros((h, w), np.float32)), image)
    assert np.array_equal(ops.blend_masked(image, other, np.ones((h, w), np.float32)), other)
    half = ops.blend_masked(image, other, np.full((h, w), 0.5, np.float32)).astype(int)
    assert np.abs(half - (image.astype(int) + other) / 2).max() <= 1


@pytest.mark.parametrize("dtype", [np.uint8, np.uint16])
def test_invert_child_through_a_full_mask_and_alpha_kept(dtype: type) -> None:
    image = make_image(dtype, 4)
    top = np.iinfo(dtype).max
    out = ops.blend_treated(image, np.ones(image.shape[:2], np.float32), "invert", {})
    assert np.array_equal(out[:, :, :3], top - image[:, :, :3])
    assert np.array_equal(out[:, :, 3], image[:, :, 3])


@pytest.mark.parametrize(("child", "params"), [
    ("grayscale", {}), ("blur", {"sigma": 3.0}), ("brightness", {"delta": -0.3}),
    ("noise", {"std": 30.0, "seed": 1}),
])
def test_children_change_the_image(child: str, params: dict) -> None:
    image = make_image(np.uint8, 3)
    full = np.ones(image.shape[:2], np.float32)
    assert not np.array_equal(ops.blend_treated(image, full, child, params), image)


def _quadrants(dtype: type, channels: int) -> np.ndarray:
    """Four flat colours in the four quadrants of a 40x60 image."""
    image = np.zeros((40, 60, channels), dtype)
    top = np.iinfo(dtype).max
    colours = np.array([[0.1, 0.2, 0.9, 1], [0.8, 0.1, 0.2, 1], [0.3, 0.9, 0.3, 1], [0.9, 0.9, 0.1, 1]])
    for k, (ys, xs) in enumerate([(slice(0, 20), slice(0, 30)), (slice(0, 20), slice(30, 60)),
                                  (slice(20, 40), slice(0, 30)), (slice(20, 40), slice(30, 60))]):
        image[ys, xs] = np.rint(colours[k, :channels] * top)
    return image


@pytest.mark.parametrize("channels", [1, 3])
def test_superpixels_follow_flat_regions(channels: int) -> None:
    image = _quadrants(np.uint8, channels)
    labels, count = ops.superpixel_labels(image, 24)
    assert labels.shape == image.shape[:2] and 16 <= count <= 32
    for label in np.unique(labels):
        assert len(np.unique(image[labels == label].reshape(-1, channels), axis=0)) == 1


@pytest.mark.parametrize(("dtype", "channels"), [(np.uint8, 3), (np.uint16, 4), (np.uint16, 1)])
def test_superpixels_on_flat_regions_keep_the_image(dtype: type, channels: int) -> None:
    image = _quadrants(dtype, channels)
    assert np.array_equal(ops.replace_superpixels(image, 24, 1.0, seed=1), image)


def test_superpixels_replace_none_or_all() -> None:
    image = make_image(np.uint8, 4, 60, 80)
    assert np.array_equal(ops.replace_superpixels(image, 30, 0.0, seed=2), image)
    out = ops.replace_superpixels(image, 30, 1.0, seed=2)
    _, count = ops.superpixel_labels(image[:, :, :3], 30)
    assert len(np.unique(out[:, :, :3].reshape(-1, 3), axis=0)) <= count
    assert np.array_equal(out[:, :, 3], image[:, :, 3])


def test_superpixels_fill_segments_with_their_mean() -> None:
    image = make_image(np.uint16, 3, 50, 70)
    out = ops.replace_superpixels(image, 20, 1.0, seed=3)
    labels, _ = ops.superpixel_labels(image, 20)
    for label in np.unique(labels)[:5]:
        region = labels == label
        assert np.array_equal(out[region][0], np.rint(image[region].mean(axis=0)).astype(np.uint16))
        assert len(np.unique(out[region], axis=0)) == 1


def test_superpixels_seed_picks_segments() -> None:
    image = make_image(np.uint8, 3, 60, 80)
    a = ops.replace_superpixels(image, 30, 0.5, seed=4)
    assert np.array_equal(a, ops.replace_superpixels(image, 30, 0.5, seed=4))
    assert not np.array_equal(a, ops.replace_superpixels(image, 30, 0.5, seed=5))
