"""Oracles for the blur kernels: median windows and line kernels."""

from __future__ import annotations

import numpy as np
import pytest
from numpy.lib.stride_tricks import sliding_window_view

from augcli import ops
from tests.conftest import KIND_IDS, KINDS, correlate, full_scale, make_image

DTYPES = [np.uint8, np.uint16]


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("ksize", [3, 5, 7])
def test_median_removes_a_single_salt_pixel(dtype: type, ksize: int) -> None:
    image = np.full((15, 15, 3), 100, dtype)
    image[7, 7] = full_scale(dtype)
    assert (ops.median_blur(image, ksize) == 100).all()


def test_median_matches_numpy_on_the_interior() -> None:
    image = np.random.default_rng(0).integers(0, 256, (20, 24, 1)).astype(np.uint8)
    expected = np.median(sliding_window_view(image[:, :, 0], (5, 5)), axis=(2, 3))
    assert np.array_equal(ops.median_blur(image, 5)[2:-2, 2:-2, 0], expected.astype(np.uint8))


def test_median_16bit_window_is_clamped_to_5() -> None:
    image = make_image(np.uint16, 3)
    assert np.array_equal(ops.median_blur(image, 9), ops.median_blur(image, 5))
    small = make_image(np.uint8, 3)
    assert not np.array_equal(ops.median_blur(small, 9), ops.median_blur(small, 5))
    assert np.array_equal(ops.median_blur(image, 1), image)


@pytest.mark.parametrize("angle", [0, 17, 30, 45, 90, 120, 180, -60])
@pytest.mark.parametrize("ksize", [1, 3, 9])
def test_motion_kernel_is_a_normalised_symmetric_line(angle: float, ksize: int) -> None:
    kernel = ops.motion_kernel(ksize, angle)
    assert kernel.shape == (ksize, ksize)
    assert np.isclose(kernel.sum(), 1.0)
    assert (kernel > 0).sum() == ksize
    assert np.array_equal(kernel, kernel[::-1, ::-1])
    assert kernel[ksize // 2, ksize // 2] > 0


def test_motion_kernel_directions() -> None:
    horizontal = np.zeros((5, 5), bool)
    horizontal[2] = True
    assert np.array_equal(ops.motion_kernel(5, 0) > 0, horizontal)
    assert (ops.motion_kernel(5, 90)[:, 2] == 0.2).all()
    assert np.array_equal(ops.motion_kernel(5, 45) > 0, np.fliplr(np.eye(5, dtype=bool)))  # rising to the right


@pytest.mark.parametrize(("dtype", "channels"), KINDS, ids=KIND_IDS)
def test_motion_blur_keeps_a_constant_image(dtype: type, channels: int) -> None:
    image = np.full((21, 17, channels), 3 * full_scale(dtype) // 7, dtype)
    out = ops.motion_blur(image, 9, 33.0)
    assert np.array_equal(out, image)


def test_motion_blur_matches_the_float_oracle() -> None:
    image = make_image(np.uint8, 3)
    kernel = ops.motion_kernel(7, 60)
    expected = np.clip(np.rint(correlate(image, kernel)), 0, 255)
    assert np.abs(ops.motion_blur(image, 7, 60).astype(np.float64) - expected).max() <= 1


@pytest.mark.parametrize("dtype", DTYPES)
def test_blurs_leave_alpha_alone(dtype: type) -> None:
    image = make_image(dtype, 4)
    for out in [ops.gaussian_blur(image, 2.0), ops.median_blur(image, 5), ops.motion_blur(image, 5, 10)]:
        assert np.array_equal(out[:, :, 3], image[:, :, 3])
        assert out.dtype == image.dtype and out.shape == image.shape
