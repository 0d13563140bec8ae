"""Every shipped recipe validates and renders on every image kind."""

from __future__ import annotations

from pathlib import Path

import pytest

from augcli.recipe import load_recipe
from augcli.render import render
from augcli.rng import generator
from tests.conftest import KIND_IDS, KINDS, make_image

CONFIGS = sorted((Path(__file__).resolve().parents[1] / "configs").glob("*.yaml"))


def test_the_expected_recipes_ship() -> None:
    assert [p.stem for p in CONFIGS] == ["default", "documents", "faces", "heavy", "light", "medical_gray",
                                         "photos", "rand_augment"]


@pytest.mark.parametrize("path", CONFIGS, ids=[p.stem for p in CONFIGS])
@pytest.mark.parametrize(("dtype", "channels"), KINDS, ids=KIND_IDS)
def test_recipe_renders_every_kind(path: Path, dtype: type, channels: int) -> None:
    recipe = load_recipe(path)
    image = make_image(dtype, channels, 48, 64)
    for seed in range(4):
        out = render(image, recipe.sample(generator(seed), image.shape))
        assert out.dtype == image.dtype and out.shape[2] == channels
