"""Behaviour of the elastic and piecewise-affine declarations."""

from __future__ import annotations

import json

import numpy as np

from augcli.render import geometric_runs, render
from tests.conftest import make_image, sample_ops


def test_field_transforms_break_the_fusion_chain() -> None:
    image = make_image(np.uint8, 3)
    ops = [op for name in ("rotate", "elastic", "piecewise_affine") for op in sample_ops(name, {}, image.shape)]
    assert [geometric for geometric, _ in geometric_runs(ops)] == [True, False, False]


def test_elastic_records_seed_and_settings() -> None:
    ops = sample_ops("elastic", {"alpha": [2, 4], "sigma": 6, "border": "constant", "fill": 9}, (37, 53, 3))
    params = ops[0]["params"]
    assert set(params) == {"alpha", "sigma", "seed", "border", "fill", "interpolation"}
    assert 2 <= params["alpha"] <= 4 and params["sigma"] == 6.0 and isinstance(params["seed"], int)
    assert (params["border"], params["fill"], params["interpolation"]) == ("constant", 9.0, "linear")


def test_elastic_alpha_zero_is_identity() -> None:
    image = make_image(np.uint16, 4)
    assert np.array_equal(render(image, sample_ops("elastic", {"alpha": 0}, image.shape)), image)


def test_elastic_moves_alpha_with_colour() -> None:
    image = make_image(np.uint8, 4, 60, 80)
    out = render(image, sample_ops("elastic", {"alpha": 10, "sigma": 4}, image.shape))
    assert not np.array_equal(out[:, :, 3], image[:, :, 3])


def test_piecewise_affine_offsets_have_grid_shape() -> None:
    ops = sample_ops("piecewise_affine", {"grid": 5, "scale": 0.02}, (37, 53, 3))
    offsets = np.array(ops[0]["params"]["offsets"])
    assert offsets.shape == (5, 5, 2)
    assert 0 < np.abs(offsets).max() < 0.2


def test_piecewise_affine_scale_zero_is_identity() -> None:
    image = make_image(np.uint8, 3)
    ops = sample_ops("piecewise_affine", {"scale": 0}, image.shape)
    assert json.loads(json.dumps(ops)) == ops
    assert np.array_equal(render(image, ops), image)


def test_piecewise_affine_constant_border_shows_fill() -> None:
    image = make_image(np.uint8, 3, 60, 80)
    values = {"scale": 0.2, "border": "constant", "fill": [0, 0, 255]}
    ops = sample_ops("piecewise_affine", values, image.shape, seed=2)
    out = render(image, ops)
    assert np.all(out == np.array([0, 0, 255], np.uint8), axis=2).any()
