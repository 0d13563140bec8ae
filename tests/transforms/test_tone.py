"""Behaviour of the tone transforms: what they sample, record and do through render."""

from __future__ import annotations

import numpy as np
import pytest

from augcli.errors import RecipeError
from augcli.ops import tone as T
from augcli.registry import REGISTRY
from augcli.render import render
from tests.conftest import make_image, sample_params

TONE = [
    "channel_shuffle", "clahe", "color_jitter", "equalize", "gamma",
    "invert", "posterize", "rgb_shift", "solarize",
]


def test_all_declared_in_color_family() -> None:
    assert {REGISTRY[name].family for name in TONE} == {"tone"}


@pytest.mark.parametrize(
    ("shape", "expected"), [((8, 8, 1), [0]), ((8, 8, 3), [0, 1, 2]), ((8, 8, 4), [0, 1, 2])],
)
def test_invert_defaults_record_every_colour_channel(shape: tuple[int, ...], expected: list[int]) -> None:
    assert sample_params("invert", {}, shape) == {"channels": expected}
    assert sample_params("invert", {"p_channel": 0}, shape) == {"channels": []}


def test_invert_p_channel_picks_subsets() -> None:
    seen = {tuple(sample_params("invert", {"p_channel": 0.5}, seed=s)["channels"]) for s in range(40)}
    assert len(seen) > 3
    assert all(set(channels) <= {0, 1, 2} for channels in seen)
    image = make_image(np.uint8, 3)
    out = render(image, [{"name": "invert", "params": {"channels": [1]}}])
    assert np.array_equal(out[:, :, 1], 255 - image[:, :, 1])
    assert np.array_equal(out[:, :, [0, 2]], image[:, :, [0, 2]])


def test_channel_shuffle_records_a_permutation() -> None:
    image = make_image(np.uint8, 3)
    orders = set()
    for seed in range(30):
        params = sample_params("channel_shuffle", {}, image.shape, seed)
        assert sorted(params["order"]) == [0, 1, 2]
        orders.add(tuple(params["order"]))
        out = render(image, [{"name": "channel_shuffle", "params": params}])
        assert np.array_equal(out, image[:, :, params["order"]])
    assert len(orders) == 6


def test_channel_shuffle_leaves_grey_alone() -> None:
    image = make_image(np.uint16, 1)
    params = sample_params("channel_shuffle", {}, image.shape)
    assert params == {"order": [0]}
    assert np.array_equal(render(image, [{"name": "channel_shuffle", "params": params}]), image)


def test_color_jitter_order_is_a_permutation_and_factors_in_range() -> None:
    orders = set()
    for seed in range(30):
        params = sample_params("color_jitter", {"saturation": [0.5, 0.6]}, seed=seed)
        assert sorted(params["order"]) == sorted(T.JITTER_ORDER)
        orders.add(tuple(params["order"]))
        for name in ("brightness", "contrast", "sharpness"):
            assert 0.8 <= params[name] <= 1.2
        assert 0.5 <= params["saturation"] <= 0.6
    assert len(orders) > 5


def test_color_jitter_fixed_unit_factors_change_nothing() -> None:
    image = make_image(np.uint8, 4)
    values = {"brightness": [1, 1], "contrast": [1, 1], "saturation": [1, 1], "sharpness": [1, 1], "hue": 0}
    params = sample_params("color_jitter", values, image.shape)
    assert np.array_equal(render(image, [{"name": "color_jitter", "params": params}]), image)


def test_color_jitter_saturation_zero_gives_grey() -> None:
    image = make_image(np.uint8, 3)
    values = {"brightness": [1, 1], "contrast": [1, 1], "saturation": [0, 0], "sharpness": [1, 1]}
    out = render(image, [{"name": "color_jitter", "params": sample_params("color_jitter", values)}])
    assert np.array_equal(out[:, :, 0], out[:, :, 1]) and np.array_equal(out[:, :, 1], out[:, :, 2])


def test_posterize_draws_integer_bits_in_range() -> None:
    drawn = {sample_params("posterize", {"bits": [2, 5]}, seed=s)["bits"] for s in range(40)}
    assert drawn == {2, 3, 4, 5}
    assert all(isinstance(b, int) for b in drawn)


def test_static_settings_are_recorded() -> None:
    assert sample_params("solarize", {}) == {"threshold": 128.0}
    assert sample_params("equalize", {"mode": "per_channel"}) == {"mode": "per_channel", "formula": "opencv"}
    params = sample_params("clahe", {"clip_limit": [2, 3], "tile": 5})
    assert params["tile"] == 5 and 2 <= params["clip_limit"] <= 3


def test_rgb_shift_draws_each_channel_in_its_range() -> None:
    params = sample_params("rgb_shift", {"red": [10, 20], "green": 0, "blue": [-5, -1]})
    assert 10 <= params["red"] <= 20 and params["green"] == 0 and -5 <= params["blue"] <= -1
    image = np.full((3, 3, 3), 50, dtype=np.uint8)
    out = render(image, [{"name": "rgb_shift", "params": {"red": 20.0, "green": 0.0, "blue": -10.0}}])
    assert out[0, 0].tolist() == [40, 50, 70]


def test_gamma_below_one_brightens() -> None:
    image = make_image(np.uint16, 3)
    out = render(image, [{"name": "gamma", "params": sample_params("gamma", {"gamma": 0.5})}])
    assert out.astype(np.int64).sum() > image.astype(np.int64).sum()


@pytest.mark.parametrize(("name", "values", "pattern"), [
    ("posterize", {"bits": 0}, r"posterize\.bits: expected integer"),
    ("posterize", {"bits": 2.5}, r"posterize\.bits: expected integer"),
    ("invert", {"p_channel": 1.5}, r"invert\.p_channel: expected number in \[0, 1\]"),
    ("equalize", {"mode": "perchannel"}, r"did you mean 'per_channel'"),
    ("gamma", {"gamma": [2, 1]}, r"lo > hi"),
    ("clahe", {"tile": 0}, r"clahe\.tile: expected integer"),
    ("solarize", {"threshold": 300}, r"outside \[0, 255\]"),
])
def test_bad_values_are_recipe_errors(name: str, values: dict, pattern: str) -> None:
    with pytest.raises(RecipeError, match=pattern):
        REGISTRY[name].build(values, name)
