"""Every shipped recipe validates and renders on every image kind."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

import pytest

from augcli.recipe import Recipe, load_recipe, parse_recipe
from augcli.render import render
from augcli.rng import generator
from tests.conftest import KIND_IDS, KINDS, make_image

CONFIGS = sorted((Path(__file__).resolve().parents[1] / "configs").glob("*.yaml"))


def test_the_expected_recipes_ship() -> None:
    assert [p.stem for p in CONFIGS] == ["bench_albu", "default", "documents", "downscale_512", "faces", "heavy",
                                         "light", "medical_gray", "photos", "rand_augment"]


@pytest.mark.parametrize("path", CONFIGS, ids=[p.stem for p in CONFIGS])
@pytest.mark.parametrize(("dtype", "channels"), KINDS, ids=KIND_IDS)
def test_recipe_renders_every_kind(path: Path, dtype: type, channels: int) -> None:
    recipe = load_recipe(path)
    image = make_image(dtype, channels, 48, 64)
    for seed in range(4):
        out = render(image, recipe.sample(generator(seed), image.shape))
        assert out.dtype == image.dtype and out.shape[2] == channels


# sha256 (first 32 hex digits) of json.dumps(recipe.to_data()), keys in their own order, pinned before the
# group keywords were declared as classes: the canonical form is the recipe hash and the run record, so a
# change here would make resuming an old output folder refuse its recipe.
CANONICAL = {
    "bench_albu": "8c570cb0449a8f098fec32c1854774ac",
    "default": "ab767f17e319cec628939f88fbbd58dc",
    "documents": "eb8c995714b9abf0348ba4ee9efa086a",
    "downscale_512": "e43764ce8e52176e434a03686f3b9483",
    "faces": "248c93c36034b3f9fed9b5dd57c0371a",
    "heavy": "047e9c8a196aac416bdffc8ec1125733",
    "light": "1235fee47f99a820e191e6020d735aa0",
    "medical_gray": "0c827e32b17868f2e7b0c1278e1b88f4",
    "photos": "eae3738c96fb2a389e6361e28dd08446",
    "rand_augment": "8523c76e660ee255f276eb3a3f391995",
}


def _canonical(recipe: Recipe) -> str:
    return hashlib.sha256(json.dumps(recipe.to_data()).encode()).hexdigest()[:32]


@pytest.mark.parametrize("path", CONFIGS, ids=[p.stem for p in CONFIGS])
def test_canonical_form_of_shipped_recipes_is_unchanged(path: Path) -> None:
    assert _canonical(load_recipe(path)) == CANONICAL[path.stem]


EVERY_GROUP = """
seed: 3
output: {format: png}
pipeline:
  - hflip
  - sequence: [vflip, {rotate: {degrees: [-5, 5], p: 0.5}}]
  - sequence: {of: [hflip], p: 0.25}
  - one_of: {of: [hflip, vflip, invert], weights: [3, 0, 1.5], p: 0.75}
  - one_of: [hflip]
  - some_of: {n: 2, of: [hflip, vflip, invert], random_order: true}
  - some_of: [hflip, vflip]
classes:
  cat: {exclude: [vflip], pipeline: [invert]}
  dog: {exclude: [hflip]}
"""


def test_canonical_form_of_every_group_kind_is_unchanged() -> None:
    """Every group kind and keyword, and class rules, in the exact canonical JSON pinned before the refactor."""
    recipe = parse_recipe(EVERY_GROUP)
    assert json.dumps(recipe.to_data(), sort_keys=True, separators=(",", ":")) == (
        '{"classes":{"cat":{"exclude":["vflip"],"pipeline":[{"invert":{"p":1.0,"p_channel":1.0}}]},'
        '"dog":{"exclude":["hflip"],"pipeline":[]}},"output":{"format":"png","quality":95},"pipeline":['
        '{"hflip":{"p":1.0}},{"sequence":{"of":[{"vflip":{"p":1.0}},{"rotate":{"border":"reflect",'
        '"degrees":[-5.0,5.0],"fill":0,"interpolation":"linear","p":0.5}}],"p":1.0}},'
        '{"sequence":{"of":[{"hflip":{"p":1.0}}],"p":0.25}},{"one_of":{"of":[{"hflip":{"p":1.0}},'
        '{"vflip":{"p":1.0}},{"invert":{"p":1.0,"p_channel":1.0}}],"p":0.75,"weights":[3.0,0.0,1.5]}},'
        '{"one_of":{"of":[{"hflip":{"p":1.0}}],"p":1.0}},{"some_of":{"n":[2,2],"of":[{"hflip":{"p":1.0}},'
        '{"vflip":{"p":1.0}},{"invert":{"p":1.0,"p_channel":1.0}}],"p":1.0,"random_order":true}},'
        '{"some_of":{"n":[1,2],"of":[{"hflip":{"p":1.0}},{"vflip":{"p":1.0}}],"p":1.0,"random_order":false}}]}')
    assert recipe.digest() == "25796a90d0491575"
    dog = [node.to_data() for node in recipe.pipeline_for("dog")]
    assert [next(iter(d)) for d in dog] == ["sequence", "one_of", "some_of", "some_of"]
    assert dog[1]["one_of"]["weights"] == [0.0, 1.5] and dog[2]["some_of"]["n"] == [2, 2]
    assert dog[3]["some_of"] == {"of": [{"vflip": {"p": 1.0}}], "p": 1.0, "n": [1, 1], "random_order": False}
