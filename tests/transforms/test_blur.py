"""Behaviour of the blur transforms: odd kernel sizes, recorded params and results through render."""

from __future__ import annotations

import numpy as np
import pytest

from augcli.errors import RecipeError
from augcli.registry import REGISTRY
from tests.conftest import render_op, sample_params


def test_families() -> None:
    assert {REGISTRY[name].family for name in ("gaussian_blur", "median_blur", "motion_blur")} == {"blur"}


@pytest.mark.parametrize(("name", "bounds"), [("median_blur", (3, 9)), ("motion_blur", (5, 11))])
def test_ksize_sampled_odd_over_the_whole_range(name: str, bounds: tuple[int, int]) -> None:
    sizes = {sample_params(name, {"ksize": list(bounds)}, seed=s)["ksize"] for s in range(60)}
    assert sizes == set(range(bounds[0], bounds[1] + 1, 2))


@pytest.mark.parametrize("name", ["median_blur", "motion_blur"])
@pytest.mark.parametrize("ksize", [4, [3, 6], [2, 5]])
def test_even_ksize_is_rejected(name: str, ksize: object) -> None:
    with pytest.raises(RecipeError, match="odd kernel sizes"):
        REGISTRY[name].build({"ksize": ksize}, name)


def test_motion_blur_records_ksize_and_angle() -> None:
    params = sample_params("motion_blur", {"angle": [10, 20]})
    assert set(params) == {"ksize", "angle"} and 10 <= params["angle"] <= 20


def test_horizontal_motion_blur_leaves_vertical_stripes_alone_only_when_vertical() -> None:
    image = np.zeros((20, 20, 1), np.uint8)
    image[:, ::2] = 200  # vertical stripes
    assert np.array_equal(render_op(image, "motion_blur", {"ksize": 7, "angle": 90}), image)
    assert not np.array_equal(render_op(image, "motion_blur", {"ksize": 7, "angle": 0}), image)
