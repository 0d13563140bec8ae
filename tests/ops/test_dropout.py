"""Oracles for the occlusion kernels: holes and JPEG round trips."""

from __future__ import annotations

import numpy as np
import pytest

from augcli import ops
from tests.conftest import KIND_IDS, KINDS, full_scale, make_image

DTYPES = [np.uint8, np.uint16]


def _mae(a: np.ndarray, b: np.ndarray) -> float:
    """Mean absolute difference in 0-255 units."""
    return float(np.abs(a.astype(np.float64) - b).mean() * 255 / full_scale(a.dtype))


@pytest.mark.parametrize("dtype", DTYPES)
def test_coarse_dropout_fills_exactly_the_boxes(dtype: type) -> None:
    image = make_image(dtype, 3, 30, 40)
    boxes = [[2, 3, 10, 7], [30, 20, 40, 30], [5, 5, 5, 9]]  # the last one is empty
    out = ops.coarse_dropout(image, boxes, 128)
    mask = np.zeros(image.shape[:2], bool)
    for x0, y0, x1, y1 in boxes:
        mask[y0:y1, x0:x1] = True
    assert (out[mask] == 128 * full_scale(dtype) // 255).all()
    assert np.array_equal(out[~mask], image[~mask])


def test_coarse_dropout_colour_fill_and_grey_luma() -> None:
    image = make_image(np.uint8, 3, 20, 20)
    out = ops.coarse_dropout(image, [[0, 0, 4, 4]], (10, 20, 30))
    assert (out[:4, :4] == [10, 20, 30]).all()
    grey = ops.coarse_dropout(make_image(np.uint8, 1, 20, 20), [[0, 0, 4, 4]], (10, 20, 30))
    assert (grey[:4, :4] == round(0.114 * 10 + 0.587 * 20 + 0.299 * 30)).all()


def test_coarse_dropout_per_channel_drops_one_channel() -> None:
    image = make_image(np.uint16, 4, 20, 20)
    out = ops.coarse_dropout(image, [[0, 0, 5, 5], [10, 10, 20, 20]], 255, channels=[2, 0])
    assert (out[:5, :5, 2] == 65535).all() and (out[10:, 10:, 0] == 65535).all()
    expected = image.copy()
    expected[:5, :5, 2] = 65535
    expected[10:, 10:, 0] = 65535
    assert np.array_equal(out, expected)


def test_coarse_dropout_random_fill_is_noise_from_the_seed() -> None:
    image = np.full((30, 30, 4), 7, np.uint8)
    boxes = [[0, 0, 15, 15], [20, 20, 30, 30]]
    out = ops.coarse_dropout(image, boxes, "random", seed=9)
    assert np.array_equal(out, ops.coarse_dropout(image, boxes, "random", seed=9))
    assert not np.array_equal(out, ops.coarse_dropout(image, boxes, "random", seed=10))
    hole = out[:15, :15, :3]
    assert len(np.unique(hole)) > 100 and hole.std() > 50
    assert (out[15:20] == 7).all() and (out[:, :, 3] == 7).all()


@pytest.mark.parametrize(("dtype", "channels"), KINDS, ids=KIND_IDS)
def test_jpeg_quality_100_is_close_and_lower_is_worse(dtype: type, channels: int) -> None:
    image = make_image(dtype, channels, 64, 64)
    errors = [_mae(ops.compress_jpeg(image, q), image) for q in (100, 75, 30, 5)]
    assert errors[0] < 3.0  # 4:2:0 chroma subsampling costs a little on colour images
    assert errors == sorted(errors) and errors[-1] > errors[0] + 3


def test_jpeg_keeps_alpha_and_16bit_is_8bit_scaled() -> None:
    image = make_image(np.uint16, 4, 32, 32)
    out = ops.compress_jpeg(image, 80)
    assert np.array_equal(out[:, :, 3], image[:, :, 3])
    assert (out[:, :, :3] % 257 == 0).all()


def test_jpeg_of_a_flat_grey_image_is_exact() -> None:
    image = np.full((16, 16, 1), 90, np.uint8)
    assert np.array_equal(ops.compress_jpeg(image, 50), image)
