"""Oracles for the filter kernels: median windows, line kernels and imgaug's 3x3 kernels."""

from __future__ import annotations

import numpy as np
import pytest
from numpy.lib.stride_tricks import sliding_window_view

from augcli.ops import filters as F
from tests.conftest import KIND_IDS, KINDS, make_image

DTYPES = [np.uint8, np.uint16]


def _top(dtype: type) -> int:
    """Full scale of a dtype."""
    return 65535 if np.dtype(dtype) == np.uint16 else 255


def _correlate(image: np.ndarray, kernel: np.ndarray) -> np.ndarray:
    """Float oracle: reflect-101 padding, then a plain correlation of every channel."""
    r = kernel.shape[0] // 2
    padded = np.pad(image.astype(np.float64), ((r, r), (r, r), (0, 0)), mode="reflect")
    windows = sliding_window_view(padded, kernel.shape, axis=(0, 1))
    return np.einsum("hwcij,ij->hwc", windows, kernel.astype(np.float64))


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("ksize", [3, 5, 7])
def test_median_removes_a_single_salt_pixel(dtype: type, ksize: int) -> None:
    image = np.full((15, 15, 3), 100, dtype)
    image[7, 7] = _top(dtype)
    assert (F.median_blur(image, ksize) == 100).all()


def test_median_matches_numpy_on_the_interior() -> None:
    image = np.random.default_rng(0).integers(0, 256, (20, 24, 1)).astype(np.uint8)
    expected = np.median(sliding_window_view(image[:, :, 0], (5, 5)), axis=(2, 3))
    assert np.array_equal(F.median_blur(image, 5)[2:-2, 2:-2, 0], expected.astype(np.uint8))


def test_median_16bit_window_is_clamped_to_5() -> None:
    image = make_image(np.uint16, 3)
    assert np.array_equal(F.median_blur(image, 9), F.median_blur(image, 5))
    small = make_image(np.uint8, 3)
    assert not np.array_equal(F.median_blur(small, 9), F.median_blur(small, 5))
    assert np.array_equal(F.median_blur(image, 1), image)


@pytest.mark.parametrize("angle", [0, 17, 30, 45, 90, 120, 180, -60])
@pytest.mark.parametrize("ksize", [1, 3, 9])
def test_motion_kernel_is_a_normalised_symmetric_line(angle: float, ksize: int) -> None:
    kernel = F.motion_kernel(ksize, angle)
    assert kernel.shape == (ksize, ksize)
    assert np.isclose(kernel.sum(), 1.0)
    assert (kernel > 0).sum() == ksize
    assert np.array_equal(kernel, kernel[::-1, ::-1])
    assert kernel[ksize // 2, ksize // 2] > 0


def test_motion_kernel_directions() -> None:
    horizontal = np.zeros((5, 5), bool)
    horizontal[2] = True
    assert np.array_equal(F.motion_kernel(5, 0) > 0, horizontal)
    assert (F.motion_kernel(5, 90)[:, 2] == 0.2).all()
    assert np.array_equal(F.motion_kernel(5, 45) > 0, np.fliplr(np.eye(5, dtype=bool)))  # rising to the right


@pytest.mark.parametrize(("dtype", "channels"), KINDS, ids=KIND_IDS)
def test_motion_blur_keeps_a_constant_image(dtype: type, channels: int) -> None:
    image = np.full((21, 17, channels), 3 * _top(dtype) // 7, dtype)
    out = F.motion_blur(image, 9, 33.0)
    assert np.array_equal(out, image)


def test_motion_blur_matches_the_float_oracle() -> None:
    image = make_image(np.uint8, 3)
    kernel = F.motion_kernel(7, 60)
    expected = np.clip(np.rint(_correlate(image, kernel)), 0, 255)
    assert np.abs(F.motion_blur(image, 7, 60).astype(np.float64) - expected).max() <= 1


@pytest.mark.parametrize(("dtype", "channels"), KINDS, ids=KIND_IDS)
def test_alpha_zero_is_identity(dtype: type, channels: int) -> None:
    image = make_image(dtype, channels)
    assert np.array_equal(F.sharpen(image, 0.0, 0.7), image)
    assert np.array_equal(F.emboss(image, 0.0, 0.5), image)
    assert np.array_equal(F.edge_detect(image, 0.0), image)


def test_imgaug_kernels() -> None:
    sharp = F.sharpen_kernel(1.0, 1.0)
    assert np.allclose(sharp, [[-1, -1, -1], [-1, 9, -1], [-1, -1, -1]])
    half = F.sharpen_kernel(0.5, 0.6)
    assert np.allclose(half, [[-0.5, -0.5, -0.5], [-0.5, 0.5 + 0.5 * 8.6, -0.5], [-0.5, -0.5, -0.5]])
    assert np.allclose(F.emboss_kernel(1.0, 0.5), [[-1.5, -0.5, 0], [-0.5, 1, 0.5], [0, 0.5, 1.5]])
    assert np.isclose(F.emboss_kernel(0.3, 1.7).sum(), 1.0)


@pytest.mark.parametrize("dtype", DTYPES)
def test_sharpen_and_emboss_match_the_float_oracle(dtype: type) -> None:
    image = make_image(dtype, 3)
    top = _top(dtype)
    for out, kernel in [
        (F.sharpen(image, 0.6, 0.8), F.sharpen_kernel(0.6, 0.8)),
        (F.emboss(image, 0.7, 1.2), F.emboss_kernel(0.7, 1.2)),
    ]:
        expected = np.clip(np.rint(_correlate(image, kernel)), 0, top)
        assert np.abs(out.astype(np.float64) - expected).max() <= 1


def test_sharpen_lightness_scales_a_flat_image() -> None:
    image = np.full((9, 9, 1), 100, np.uint8)
    assert (F.sharpen(image, 1.0, 1.0) == 100).all()
    assert (F.sharpen(image, 0.5, 0.6) == 80).all()  # 100 * (0.5 + 0.5 * 0.6)
    assert (F.emboss(image, 0.8, 2.0) == 100).all()


def test_edge_detect_alpha_one_is_the_clipped_laplacian() -> None:
    image = np.zeros((9, 9, 1), np.uint8)
    image[:, 5:] = 200
    out = F.edge_detect(image, 1.0)[:, :, 0]
    assert (out[:, 4] == 200).all()  # dark side of the step: 0 + 200 from the right neighbour
    assert (out[:, 5] == 0).all()  # bright side: 3 * 200 - 4 * 200 < 0, clipped
    assert (out[:, [0, 1, 2, 3, 6, 7, 8]] == 0).all()  # flat areas have no edges


@pytest.mark.parametrize("dtype", DTYPES)
def test_filters_leave_alpha_alone(dtype: type) -> None:
    image = make_image(dtype, 4)
    for out in [F.median_blur(image, 5), F.motion_blur(image, 5, 10), F.sharpen(image, 1, 1),
                F.emboss(image, 1, 1), F.edge_detect(image, 1)]:
        assert np.array_equal(out[:, :, 3], image[:, :, 3])
        assert out.dtype == image.dtype and out.shape == image.shape
