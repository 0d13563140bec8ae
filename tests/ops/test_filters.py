"""Oracles for the filter kernels: imgaug's 3x3 sharpen, emboss and edge kernels."""

from __future__ import annotations

import numpy as np
import pytest

from augcli import ops
from tests.conftest import KIND_IDS, KINDS, correlate, full_scale, make_image

DTYPES = [np.uint8, np.uint16]


@pytest.mark.parametrize(("dtype", "channels"), KINDS, ids=KIND_IDS)
def test_alpha_zero_is_identity(dtype: type, channels: int) -> None:
    image = make_image(dtype, channels)
    assert np.array_equal(ops.sharpen(image, 0.0, 0.7), image)
    assert np.array_equal(ops.emboss(image, 0.0, 0.5), image)
    assert np.array_equal(ops.edge_detect(image, 0.0), image)


def test_imgaug_kernels() -> None:
    sharp = ops.sharpen_kernel(1.0, 1.0)
    assert np.allclose(sharp, [[-1, -1, -1], [-1, 9, -1], [-1, -1, -1]])
    half = ops.sharpen_kernel(0.5, 0.6)
    assert np.allclose(half, [[-0.5, -0.5, -0.5], [-0.5, 0.5 + 0.5 * 8.6, -0.5], [-0.5, -0.5, -0.5]])
    assert np.allclose(ops.emboss_kernel(1.0, 0.5), [[-1.5, -0.5, 0], [-0.5, 1, 0.5], [0, 0.5, 1.5]])
    assert np.isclose(ops.emboss_kernel(0.3, 1.7).sum(), 1.0)


@pytest.mark.parametrize("dtype", DTYPES)
def test_sharpen_and_emboss_match_the_float_oracle(dtype: type) -> None:
    image = make_image(dtype, 3)
    top = full_scale(dtype)
    for out, kernel in [
        (ops.sharpen(image, 0.6, 0.8), ops.sharpen_kernel(0.6, 0.8)),
        (ops.emboss(image, 0.7, 1.2), ops.emboss_kernel(0.7, 1.2)),
    ]:
        expected = np.clip(np.rint(correlate(image, kernel)), 0, top)
        assert np.abs(out.astype(np.float64) - expected).max() <= 1


def test_sharpen_lightness_scales_a_flat_image() -> None:
    image = np.full((9, 9, 1), 100, np.uint8)
    assert (ops.sharpen(image, 1.0, 1.0) == 100).all()
    assert (ops.sharpen(image, 0.5, 0.6) == 80).all()  # 100 * (0.5 + 0.5 * 0.6)
    assert (ops.emboss(image, 0.8, 2.0) == 100).all()


def test_edge_detect_alpha_one_is_the_clipped_laplacian() -> None:
    image = np.zeros((9, 9, 1), np.uint8)
    image[:, 5:] = 200
    out = ops.edge_detect(image, 1.0)[:, :, 0]
    assert (out[:, 4] == 200).all()  # dark side of the step: 0 + 200 from the right neighbour
    assert (out[:, 5] == 0).all()  # bright side: 3 * 200 - 4 * 200 < 0, clipped
    assert (out[:, [0, 1, 2, 3, 6, 7, 8]] == 0).all()  # flat areas have no edges


@pytest.mark.parametrize("dtype", DTYPES)
def test_filters_leave_alpha_alone(dtype: type) -> None:
    image = make_image(dtype, 4)
    for out in [ops.sharpen(image, 1, 1), ops.emboss(image, 1, 1), ops.edge_detect(image, 1)]:
        assert np.array_equal(out[:, :, 3], image[:, :, 3])
        assert out.dtype == image.dtype and out.shape == image.shape
