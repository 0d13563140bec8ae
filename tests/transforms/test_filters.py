"""Behaviour of the filter transforms: odd kernel sizes, recorded params and identities through render."""

from __future__ import annotations

import numpy as np
import pytest

from augcli.errors import RecipeError
from augcli.render import render
from augcli.rng import generator
from augcli.registry import REGISTRY
from tests.conftest import make_image

NAMES = ["median_blur", "motion_blur", "sharpen", "emboss", "edge_detect"]


def _sample(name: str, values: dict, shape: tuple[int, ...] = (37, 53, 3), seed: int = 0) -> dict:
    """Build a transform and draw its params once."""
    return REGISTRY[name].build(values, name).sample(generator(seed), shape)


def _run(image: np.ndarray, name: str, params: dict) -> np.ndarray:
    """Render one op."""
    return render(image, [{"name": name, "params": params}])


def test_all_in_blur_family() -> None:
    assert {REGISTRY[name].family for name in NAMES} == {"filters"}


@pytest.mark.parametrize(("name", "bounds"), [("median_blur", (3, 9)), ("motion_blur", (5, 11))])
def test_ksize_sampled_odd_over_the_whole_range(name: str, bounds: tuple[int, int]) -> None:
    sizes = {_sample(name, {"ksize": list(bounds)}, seed=s)["ksize"] for s in range(60)}
    assert sizes == set(range(bounds[0], bounds[1] + 1, 2))


@pytest.mark.parametrize("name", ["median_blur", "motion_blur"])
@pytest.mark.parametrize("ksize", [4, [3, 6], [2, 5]])
def test_even_ksize_is_rejected(name: str, ksize: object) -> None:
    with pytest.raises(RecipeError, match="odd kernel sizes"):
        REGISTRY[name].build({"ksize": ksize}, name)


def test_median_blur_removes_salt_through_render() -> None:
    image = np.full((20, 20, 3), 90, np.uint8)
    image[5, 5] = 255
    image[12, 14] = 0
    assert (_run(image, "median_blur", _sample("median_blur", {})) == 90).all()


def test_median_blur_large_kernel_on_16bit_runs_clamped() -> None:
    image = make_image(np.uint16, 3)
    assert np.array_equal(_run(image, "median_blur", {"ksize": 11}), _run(image, "median_blur", {"ksize": 5}))


@pytest.mark.parametrize("dtype", [np.uint8, np.uint16])
def test_motion_blur_preserves_a_constant_image(dtype: type) -> None:
    image = np.full((30, 30, 3), 77 if dtype == np.uint8 else 40000, dtype)
    for seed in range(5):
        params = _sample("motion_blur", {"ksize": [3, 15]}, image.shape, seed)
        out = _run(image, "motion_blur", params)
        assert out.mean() == image.mean()


def test_motion_blur_records_ksize_and_angle() -> None:
    params = _sample("motion_blur", {"angle": [10, 20]})
    assert set(params) == {"ksize", "angle"} and 10 <= params["angle"] <= 20


def test_horizontal_motion_blur_leaves_vertical_stripes_alone_only_when_vertical() -> None:
    image = np.zeros((20, 20, 1), np.uint8)
    image[:, ::2] = 200  # vertical stripes
    assert np.array_equal(_run(image, "motion_blur", {"ksize": 7, "angle": 90}), image)
    assert not np.array_equal(_run(image, "motion_blur", {"ksize": 7, "angle": 0}), image)


@pytest.mark.parametrize(("name", "values"), [
    ("sharpen", {"alpha": 0, "lightness": [0.5, 2]}), ("emboss", {"alpha": 0, "strength": [0.1, 3]}),
    ("edge_detect", {"alpha": 0}),
])
@pytest.mark.parametrize("dtype", [np.uint8, np.uint16])
def test_alpha_zero_is_identity(name: str, values: dict, dtype: type) -> None:
    image = make_image(dtype, 3)
    for seed in range(3):
        assert np.array_equal(_run(image, name, _sample(name, values, image.shape, seed)), image)


@pytest.mark.parametrize("name", ["sharpen", "emboss", "edge_detect"])
def test_stronger_alpha_changes_more(name: str) -> None:
    image = make_image(np.uint8, 3)
    outs = [_run(image, name, _sample(name, {"alpha": a})) for a in (0.2, 0.9)]
    diffs = [np.abs(out.astype(float) - image).mean() for out in outs]
    assert 0 < diffs[0] < diffs[1]


def test_sharpen_raises_local_contrast() -> None:
    image = make_image(np.uint8, 1, 40, 40)
    out = _run(image, "sharpen", {"alpha": 1.0, "lightness": 1.0})
    assert np.abs(np.diff(out[:, :, 0].astype(float), axis=1)).mean() > np.abs(
        np.diff(image[:, :, 0].astype(float), axis=1)).mean()
