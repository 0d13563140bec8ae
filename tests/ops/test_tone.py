"""Oracles for the tone kernels: exact values where the definition is exact."""

from __future__ import annotations

import cv2
import numpy as np
import pytest

from augcli import ops
from augcli.ops.tone import JITTER_ORDER
from tests.conftest import KIND_IDS, KINDS, full_scale, make_image

DTYPES = [np.uint8, np.uint16]


def _noise(dtype: type, channels: int, seed: int = 0, shape: tuple[int, int] = (19, 23)) -> np.ndarray:
    """Uniform random values over the full range of a dtype."""
    return np.random.default_rng(seed).integers(0, full_scale(dtype) + 1, size=(*shape, channels)).astype(dtype)


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("channels", [1, 3])
def test_invert_is_top_minus_x(dtype: type, channels: int) -> None:
    image = _noise(dtype, channels)
    assert np.array_equal(ops.invert(image), full_scale(dtype) - image)


def test_invert_chosen_channels_only() -> None:
    image = _noise(np.uint16, 3)
    out = ops.invert(image, [2, 0])
    assert np.array_equal(out[:, :, [0, 2]], 65535 - image[:, :, [0, 2]])
    assert np.array_equal(out[:, :, 1], image[:, :, 1])
    assert np.array_equal(ops.invert(image, []), image)


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("threshold", [0, 100, 128, 255])
def test_solarize_exact(dtype: type, threshold: int) -> None:
    image = _noise(dtype, 3)
    top = full_scale(dtype)
    cut = threshold * top / 255
    expected = np.where(image >= cut, top - image.astype(np.int64), image).astype(dtype)
    assert np.array_equal(ops.solarize(image, threshold), expected)


def test_solarize_threshold_is_inclusive() -> None:
    image = np.array([[[127], [128], [129]]], dtype=np.uint8)
    assert ops.solarize(image, 128)[0, :, 0].tolist() == [127, 127, 126]


@pytest.mark.parametrize("bits", range(0, 9))
def test_posterize_uint8_is_mask(bits: int) -> None:
    image = np.arange(256, dtype=np.uint8).reshape(16, 16, 1)
    mask = (0xFF << (8 - bits)) & 0xFF
    out = ops.posterize(image, bits)
    assert np.array_equal(out, image & mask)
    assert len(np.unique(out)) == 2**bits


@pytest.mark.parametrize("bits", [1, 4, 8])
def test_posterize_uint16_has_as_many_levels(bits: int) -> None:
    image = np.arange(65536, dtype=np.uint16).reshape(256, 256, 1)
    out = ops.posterize(image, bits)
    assert np.array_equal(out, image & ((0xFFFF << (16 - bits)) & 0xFFFF))
    assert len(np.unique(out)) == 2**bits


@pytest.mark.parametrize("dtype", DTYPES)
def test_gamma_one_is_identity_and_curve(dtype: type) -> None:
    image = _noise(dtype, 3)
    assert np.array_equal(ops.adjust_gamma(image, 1.0), image)
    top = full_scale(dtype)
    expected = np.rint((image / top) ** 2.0 * top).astype(dtype)
    assert np.array_equal(ops.adjust_gamma(image, 2.0), expected)


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("mode", ["luma", "per_channel"])
@pytest.mark.parametrize("channels", [1, 3])
def test_equalize_constant_image_is_unchanged(dtype: type, mode: str, channels: int) -> None:
    image = np.full((9, 11, channels), 77 * full_scale(dtype) // 255, dtype=dtype)
    if channels == 3:
        image[:, :, 1] = 10
    assert np.array_equal(ops.equalize(image, mode), image)


def _equalize_reference(plane: np.ndarray, top: int) -> np.ndarray:
    """OpenCV's equalizeHist formula written with sorted values instead of a histogram."""
    ordered = np.sort(plane.ravel())
    below_or_at = np.searchsorted(ordered, plane, side="right")
    first = np.count_nonzero(ordered == ordered[0])
    return np.clip(np.rint((below_or_at - first) * (top / (ordered.size - first))), 0, top)


def test_equalize_uint8_matches_opencv_and_uint16_matches_formula() -> None:
    image8 = (_noise(np.uint8, 1) // 3 + 40).astype(np.uint8)
    assert np.array_equal(ops.equalize(image8)[:, :, 0], cv2.equalizeHist(image8[:, :, 0]))
    assert np.array_equal(ops.equalize(image8)[:, :, 0], _equalize_reference(image8[:, :, 0], 255))
    image16 = (_noise(np.uint16, 1) // 7 + 1000).astype(np.uint16)
    out = ops.equalize(image16, "per_channel")
    assert np.array_equal(out[:, :, 0], _equalize_reference(image16[:, :, 0], 65535))
    assert out.min() == 0 and out.max() == 65535


def test_equalize_per_channel_equalises_each_channel() -> None:
    image = (_noise(np.uint8, 3) // 4 + 60).astype(np.uint8)
    out = ops.equalize(image, "per_channel")
    for c in range(3):
        assert np.array_equal(out[:, :, c], cv2.equalizeHist(np.ascontiguousarray(image[:, :, c])))


@pytest.mark.parametrize("dtype", DTYPES)
def test_autocontrast_maps_min_to_zero_and_max_to_top(dtype: type) -> None:
    top = full_scale(dtype)
    image = (_noise(dtype, 3).astype(np.int64) // 3 + top // 4).astype(dtype)
    image[:, :, 2] = top // 2  # a flat channel stays as it is
    out = ops.autocontrast(image)
    for c in range(2):
        lo, hi = int(image[:, :, c].min()), int(image[:, :, c].max())
        assert out[:, :, c][image[:, :, c] == lo].max() == 0
        assert out[:, :, c][image[:, :, c] == hi].min() == top
        expected = (image[:, :, c].astype(np.int64) - lo) * top // (hi - lo)
        assert np.array_equal(out[:, :, c], expected)
    assert np.array_equal(out[:, :, 2], image[:, :, 2])


def test_saturation_zero_is_grey_and_one_is_identity() -> None:
    image = _noise(np.uint8, 3)
    gray = cv2.cvtColor(image, cv2.COLOR_BGR2GRAY)
    assert np.array_equal(ops.adjust_saturation(image, 0.0), np.dstack([gray] * 3))
    assert np.array_equal(ops.adjust_saturation(image, 1.0), image)
    more = ops.adjust_saturation(image, 2.0).astype(np.int64)
    expected = np.clip(2 * image.astype(np.int64) - gray[:, :, None], 0, 255)
    assert np.abs(more - expected).max() <= 1


@pytest.mark.parametrize("factor", [0.0, 2.5])
def test_sharpness_blends_with_pil_smooth_and_keeps_border(factor: float) -> None:
    image = _noise(np.uint8, 3)
    out = ops.adjust_sharpness(image, factor)
    x = image.astype(np.float64)
    smooth = x.copy()
    neighbours = sum(x[1 + dy : x.shape[0] - 1 + dy, 1 + dx : x.shape[1] - 1 + dx]
                     for dy in (-1, 0, 1) for dx in (-1, 0, 1))
    smooth[1:-1, 1:-1] = np.rint((neighbours + 4 * x[1:-1, 1:-1]) / 13)
    expected = np.clip(smooth + factor * (x - smooth), 0, 255)
    assert np.abs(out - expected).max() <= 1
    for edge in (np.s_[0, :], np.s_[-1, :], np.s_[:, 0], np.s_[:, -1]):
        assert np.array_equal(out[edge], image[edge])
    assert np.array_equal(ops.adjust_sharpness(image, 1.0), image)


def test_rgb_shift_is_bgr_and_grey_gets_the_mean() -> None:
    image = np.full((4, 5, 3), 100, dtype=np.uint8)
    out = ops.shift_rgb(image, red=30, green=-10, blue=5)
    assert out[0, 0].tolist() == [105, 90, 130]
    grey = np.full((4, 5, 1), 100, dtype=np.uint16)
    assert ops.shift_rgb(grey, red=30, green=-12, blue=0)[0, 0, 0] == 100 + 6 * 257
    assert ops.shift_rgb(image, red=255, green=-255, blue=0)[0, 0].tolist() == [100, 0, 255]


@pytest.mark.parametrize("order", [[0, 1, 2], [2, 0, 1], [1, 2, 0]])
def test_shuffle_channels_is_a_permutation(order: list[int]) -> None:
    image = _noise(np.uint8, 3)
    out = ops.shuffle_channels(image, order)
    assert np.array_equal(out, image[:, :, order])
    sums = image.reshape(-1, 3).sum(axis=0).tolist()
    assert sorted(out.reshape(-1, 3).sum(axis=0).tolist()) == sorted(sums)


def test_jitter_with_unit_factors_is_identity() -> None:
    image = _noise(np.uint16, 3)
    out = ops.jitter_color(image, list(JITTER_ORDER), 1.0, 1.0, 1.0, 1.0)
    assert np.array_equal(out, image)
    assert out is not image


def test_jitter_order_matters() -> None:
    image = make_image(np.uint8, 3)
    a = ops.jitter_color(image, ["brightness", "contrast", "saturation", "sharpness"], 1.6, 0.4, 1.0, 1.0)
    b = ops.jitter_color(image, ["contrast", "brightness", "saturation", "sharpness"], 1.6, 0.4, 1.0, 1.0)
    assert not np.array_equal(a, b)


def test_clahe_uint16_follows_uint8_mapping() -> None:
    image8 = make_image(np.uint8, 1, 64, 64)
    image16 = image8.astype(np.uint16) * 257
    out8 = ops.clahe(image8, 3.0, 4)
    out16 = ops.clahe(image16, 3.0, 4)
    assert np.array_equal(out16, out8.astype(np.uint16) * 257)
    assert not np.array_equal(out8, image8)


KERNELS = {
    "invert": lambda im: ops.invert(im),
    "invert_some": lambda im: ops.invert(im, [0]),
    "solarize": lambda im: ops.solarize(im, 100),
    "posterize": lambda im: ops.posterize(im, 3),
    "equalize": lambda im: ops.equalize(im),
    "equalize_per_channel": lambda im: ops.equalize(im, "per_channel"),
    "autocontrast": ops.autocontrast,
    "saturation": lambda im: ops.adjust_saturation(im, 1.7),
    "sharpness": lambda im: ops.adjust_sharpness(im, 2.0),
    "gamma": lambda im: ops.adjust_gamma(im, 0.5),
    "brightness": lambda im: ops.scale_brightness(im, 1.3),
    "rgb_shift": lambda im: ops.shift_rgb(im, 10, -20, 30),
    "jitter": lambda im: ops.jitter_color(im, list(JITTER_ORDER), 1.2, 0.8, 1.5, 2.0),
    "clahe": lambda im: ops.clahe(im, 2.0, 4),
    "shuffle": lambda im: ops.shuffle_channels(im, [2, 1, 0]),
}


@pytest.mark.parametrize("kernel", sorted(KERNELS))
@pytest.mark.parametrize(("dtype", "channels"), KINDS, ids=KIND_IDS)
def test_kernel_keeps_kind_and_alpha_and_input(kernel: str, dtype: type, channels: int) -> None:
    image = make_image(dtype, channels)
    before = image.copy()
    out = KERNELS[kernel](image)
    assert out.dtype == image.dtype and out.shape == image.shape
    assert out.flags["C_CONTIGUOUS"]
    assert np.array_equal(image, before)
    if channels == 4:
        assert np.array_equal(out[:, :, 3], image[:, :, 3])
