"""Rendering: fused warps match step-by-step application and are at least as sharp; exact runs stay exact."""

from __future__ import annotations

import cv2
import numpy as np
import pytest

from augcli.recipe import parse_recipe
from augcli.render import fused_matrix, geometric_runs, render, render_stepwise
from augcli.rng import generator
from tests.conftest import make_image

CHAIN = [
    {"name": "hflip", "params": {}},
    {"name": "rotate", "params": {"angle": 9.5, "border": "reflect", "fill": 0, "interpolation": "linear"}},
    {"name": "scale", "params": {"sx": 1.12, "sy": 1.05, "border": "reflect", "fill": 0, "interpolation": "linear"}},
    {"name": "shear", "params": {"shear_x": 6.0, "shear_y": -3.0, "border": "reflect", "fill": 0,
                                 "interpolation": "linear"}},
    {"name": "translate", "params": {"dx": 0.04, "dy": -0.03, "border": "reflect", "fill": 0,
                                     "interpolation": "linear"}},
]


def _photo(size: int = 160, grain: int = 4, circle: bool = True) -> np.ndarray:
    """A textured image with detail about ``grain`` pixels across, and a thin circle."""
    rng = np.random.default_rng(1)
    noise = rng.integers(0, 256, (size // grain, size // grain, 3), dtype=np.uint8)
    image = cv2.resize(noise, (size, size), interpolation=cv2.INTER_CUBIC)
    if circle:
        cv2.circle(image, (size // 2, size // 2), size // 4, (255, 255, 255), 2)
    return image


def _sharpness(image: np.ndarray) -> float:
    """Variance of the Laplacian: higher is sharper."""
    return float(cv2.Laplacian(cv2.cvtColor(image, cv2.COLOR_BGR2GRAY), cv2.CV_64F).var())


def test_consecutive_geometric_ops_form_one_run() -> None:
    ops = [*CHAIN, {"name": "brightness", "params": {"delta": 0.1}}, CHAIN[0]]
    runs = geometric_runs(ops)
    assert [(geo, [op["name"] for op in run]) for geo, run in runs] == [
        (True, ["hflip", "rotate", "scale", "shear", "translate"]), (False, ["brightness"]), (True, ["hflip"])]


def test_different_border_settings_split_the_run() -> None:
    other = {"name": "rotate", "params": {**CHAIN[1]["params"], "border": "constant"}}
    assert [len(run) for _, run in geometric_runs([CHAIN[1], other])] == [1, 1]


def test_fused_matches_stepwise_within_tolerance() -> None:
    image = _photo(grain=8, circle=False)
    fused, steps = render(image, CHAIN), render_stepwise(image, CHAIN)
    # Compare away from the borders, where the two differ by what each step's border filled in.
    inner = (slice(24, -24), slice(24, -24))
    diff = np.abs(fused[inner].astype(np.int16) - steps[inner].astype(np.int16))
    assert diff.mean() < 2.0
    assert np.percentile(diff, 99) < 12


def test_fused_is_sharper_than_stepwise_on_fine_detail() -> None:
    """Four bilinear resamplings blur fine texture; one fused warp blurs it once."""
    image = _photo(grain=4)
    assert _sharpness(render(image, CHAIN)) > 1.2 * _sharpness(render_stepwise(image, CHAIN))


def test_exact_runs_are_bit_exact() -> None:
    image = make_image(np.uint16, 4, 21, 34)
    ops = [{"name": "hflip", "params": {}}, {"name": "rot90", "params": {"k": 1}},
           {"name": "crop", "params": {"box": [2, 3, 15, 30]}}, {"name": "vflip", "params": {}}]
    expected = np.rot90(image[:, ::-1], 1)[3:30, 2:15][::-1]
    assert np.array_equal(render(image, ops), expected)


def test_fused_matrix_tracks_size_changes() -> None:
    ops = [{"name": "rot90", "params": {"k": 1}},
           {"name": "resize", "params": {"width": 10, "height": 8, "border": "reflect", "fill": 0,
                                         "interpolation": "linear"}}]
    _, size = fused_matrix(ops, (30, 20, 3))
    assert size == (10, 8)
    assert render(make_image(np.uint8, 3, 30, 20), ops).shape == (8, 10, 3)


@pytest.mark.parametrize("k", [1, 2, 3])
def test_rot90_matrix_agrees_with_numpy(k: int) -> None:
    """A quarter turn through the warp path (forced by an identity rotate) equals np.rot90."""
    image = make_image(np.uint8, 3, 13, 22)
    ident = {"name": "rotate", "params": {"angle": 0.0, "border": "reflect", "fill": 0, "interpolation": "nearest"}}
    out = render(image, [{"name": "rot90", "params": {"k": k}}, ident])
    assert np.array_equal(out, np.rot90(image, k))


def test_recipe_output_is_replayable_for_every_kind() -> None:
    recipe = parse_recipe("pipeline: [hflip, {affine: {}}, brightness, {gaussian_noise: {}}, {resize: {factor: 0.5}}]")
    for channels in (1, 3, 4):
        image = make_image(np.uint16, channels, 40, 52)
        ops = recipe.sample(generator(3), image.shape)
        first = render(image, ops)
        assert first.shape == (20, 26, channels) and first.dtype == np.uint16
        assert np.array_equal(first, render(image, ops))
