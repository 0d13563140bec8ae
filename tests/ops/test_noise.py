"""Oracles for the noise kernels: salt and pepper."""

from __future__ import annotations

import numpy as np
import pytest

from augcli import ops
from tests.conftest import KIND_IDS, KINDS, full_scale, make_image


@pytest.mark.parametrize(("dtype", "channels"), KINDS, ids=KIND_IDS)
def test_salt_pepper_amount_zero_is_identity(dtype: type, channels: int) -> None:
    image = make_image(dtype, channels)
    out = ops.add_salt_pepper(image, 0.0, 0.5, seed=1)
    assert np.array_equal(out, image)
    assert out is not image


@pytest.mark.parametrize(("dtype", "channels"), KINDS, ids=KIND_IDS)
def test_salt_pepper_amount_one_is_only_extremes(dtype: type, channels: int) -> None:
    image = make_image(dtype, channels, 64, 64)
    top = full_scale(dtype)
    out = ops.add_salt_pepper(image, 1.0, 0.3, seed=2)
    colour = out[:, :, : min(channels, 3)]
    assert set(np.unique(colour).tolist()) <= {0, top}
    assert (colour == colour[:, :, :1]).all()  # one decision per pixel, all colour channels together
    assert abs((colour[:, :, 0] == top).mean() - 0.3) < 0.05
    if channels == 4:
        assert np.array_equal(out[:, :, 3], image[:, :, 3])


@pytest.mark.parametrize(("ratio", "expected"), [(0.0, 0), (1.0, 255)])
def test_salt_pepper_ratio_extremes(ratio: float, expected: int) -> None:
    image = np.full((20, 20, 3), 100, np.uint8)
    out = ops.add_salt_pepper(image, 1.0, ratio, seed=3)
    assert (out == expected).all()


def test_salt_pepper_corrupts_about_amount_and_leaves_the_rest() -> None:
    image = np.full((80, 80, 3), 100, np.uint8)
    out = ops.add_salt_pepper(image, 0.3, 0.5, seed=4)
    changed = (out != 100).any(axis=2)
    assert abs(changed.mean() - 0.3) < 0.04
    assert np.array_equal(out, ops.add_salt_pepper(image, 0.3, 0.5, seed=4))
    assert not np.array_equal(out, ops.add_salt_pepper(image, 0.3, 0.5, seed=5))
