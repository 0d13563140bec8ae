"""Behaviour of the occlusion transforms: what they sample, record and do through render."""

from __future__ import annotations

import numpy as np
import pytest

from augcli.errors import RecipeError
from augcli.registry import REGISTRY
from tests.conftest import make_image, render_op, sample_params

NAMES = ["coarse_dropout", "random_erasing", "jpeg_compression"]


def test_families() -> None:
    assert {REGISTRY[name].family for name in NAMES} == {"dropout"}


def _box_mask(shape: tuple[int, ...], boxes: list[list[int]]) -> np.ndarray:
    """Union of end-exclusive boxes as a boolean (H, W) mask."""
    mask = np.zeros(shape[:2], bool)
    for x0, y0, x1, y1 in boxes:
        mask[y0:y1, x0:x1] = True
    return mask


@pytest.mark.parametrize("seed", range(8))
def test_coarse_dropout_boxes_are_exactly_the_changed_region(seed: int) -> None:
    image = np.clip(make_image(np.uint8, 3, 40, 60, seed=seed), 20, 235)  # never equal to the fill
    params = sample_params("coarse_dropout", {"count": [1, 6], "size": [0.1, 0.4], "fill": 5}, image.shape, seed)
    assert params["channels"] is None and params["seed"] is None and params["fill"] == 5.0
    boxes = params["boxes"]
    assert 1 <= len(boxes) <= 6
    for x0, y0, x1, y1 in boxes:
        assert 0 <= x0 < x1 <= 60 and 0 <= y0 < y1 <= 40
        assert 4 <= x1 - x0 <= 16 and 4 <= y1 - y0 <= 16  # 0.1-0.4 of the shorter side (40)
    out = render_op(image, "coarse_dropout", params)
    changed = (out != image).any(axis=2)
    assert np.array_equal(changed, _box_mask(image.shape, boxes))
    assert (out[changed] == 5).all()


def test_coarse_dropout_per_channel_records_one_colour_channel_per_hole() -> None:
    image = np.clip(make_image(np.uint8, 4, 40, 60), 20, 235)
    seen = set()
    for seed in range(10):
        params = sample_params("coarse_dropout", {"count": 3, "per_channel": True, "fill": 0}, image.shape, seed)
        assert len(params["channels"]) == 3 and set(params["channels"]) <= {0, 1, 2}
        seen.update(params["channels"])
        expected = image.copy()
        for (x0, y0, x1, y1), channel in zip(params["boxes"], params["channels"], strict=True):
            expected[y0:y1, x0:x1, channel] = 0
        assert np.array_equal(render_op(image, "coarse_dropout", params), expected)
    assert seen == {0, 1, 2}
    assert sample_params("coarse_dropout", {"count": 3, "per_channel": True}, (20, 20, 1))["channels"] == [0, 0, 0]


def test_coarse_dropout_random_fill_records_a_seed() -> None:
    params = sample_params("coarse_dropout", {"fill": "random"})
    assert params["fill"] == "random" and isinstance(params["seed"], int)
    assert sample_params("coarse_dropout", {"fill": [1, 2, 3]})["fill"] == [1.0, 2.0, 3.0]


def test_random_erasing_box_inside_and_area_in_range() -> None:
    shape = (90, 120, 3)
    for seed in range(30):
        params = sample_params("random_erasing", {"area": [0.05, 0.2], "fill": 0}, shape, seed)
        x0, y0, x1, y1 = params["box"]
        assert 0 <= x0 < x1 < 120 and 0 <= y0 < y1 < 90
        fraction = (x1 - x0) * (y1 - y0) / (90 * 120)
        assert 0.05 * 0.9 <= fraction <= 0.2 * 1.1
        ratio = (y1 - y0) / (x1 - x0)
        assert 0.3 * 0.85 <= ratio <= 3.3 * 1.15


def test_random_erasing_ratio_is_log_uniform() -> None:
    shape = (400, 400, 3)
    values = {"area": 0.02, "ratio": [0.1, 10]}
    boxes = [sample_params("random_erasing", values, shape, s)["box"] for s in range(300)]
    taller = np.mean([(y1 - y0) > (x1 - x0) for x0, y0, x1, y1 in boxes])
    assert 0.35 < taller < 0.65  # a plain uniform draw in [0.1, 10] would be taller 90% of the time


def test_random_erasing_changes_only_its_box_with_random_fill() -> None:
    image = np.full((40, 50, 3), 3, np.uint8)
    params = sample_params("random_erasing", {}, image.shape, seed=2)
    assert params["fill"] == "random" and isinstance(params["seed"], int)
    out = render_op(image, "random_erasing", params)
    x0, y0, x1, y1 = params["box"]
    mask = _box_mask(image.shape, [params["box"]])
    assert np.array_equal(out[~mask], image[~mask])
    assert out[y0:y1, x0:x1].std() > 30


def test_random_erasing_records_null_when_nothing_fits() -> None:
    image = make_image(np.uint8, 3, 30, 30)
    params = sample_params("random_erasing", {"area": [0.9, 1.0], "ratio": [50, 100]}, image.shape)
    assert params["box"] is None
    assert np.array_equal(render_op(image, "random_erasing", params), image)


def test_jpeg_records_quality() -> None:
    qualities = {sample_params("jpeg_compression", {}, seed=s)["quality"] for s in range(20)}
    assert qualities <= set(range(50, 96)) and len(qualities) > 5


@pytest.mark.parametrize("values", [{"quality": 0}, {"quality": [50, 101]}, {"quality": 50.5}])
def test_jpeg_rejects_bad_quality(values: dict) -> None:
    with pytest.raises(RecipeError, match="quality"):
        REGISTRY["jpeg_compression"].build(values, "jpeg_compression")


@pytest.mark.parametrize(("name", "values"), [
    ("coarse_dropout", {"fill": "noise"}), ("coarse_dropout", {"size": [0.5, 0.2]}),
    ("random_erasing", {"ratio": 0}),
])
def test_bad_values_raise(name: str, values: dict) -> None:
    with pytest.raises(RecipeError):
        REGISTRY[name].build(values, name)
