"""Recipe validation: every error kind names the file, line, step path, expectation and a hint."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from augcli.compose import OneOf, SomeOf, Step
from augcli.errors import RecipeError
from augcli.recipe import load_recipe, parse_recipe

ISSUE_EXAMPLE = """\
seed: 42
copies: 4
output: {format: same, quality: 95}
pipeline:
  - hflip: {p: 0.5}
  - rotate: {degrees: [-15, 15], border: reflect, p: 0.8}
  - one_of:
      - gaussian_blur: {sigma: [0.5, 1.5]}
      - gaussian_noise: {std: [3, 12]}
  - some_of: {n: [1, 2], of: [ {brightness: {limit: 0.2}}, {contrast: {limit: 0.2}} ]}
"""


def _error(text: str) -> str:
    with pytest.raises(RecipeError) as info:
        parse_recipe(text, source="r.yaml")
    return str(info.value)


def test_issue_example_parses_into_steps_and_groups() -> None:
    recipe = parse_recipe(ISSUE_EXAMPLE, "r.yaml")
    assert (recipe.seed, recipe.copies, recipe.output.format, recipe.output.quality) == (42, 4, "same", 95)
    kinds = [type(node).__name__ for node in recipe.pipeline]
    assert kinds == ["Step", "Step", "OneOf", "SomeOf"]
    assert isinstance(recipe.pipeline[2], OneOf) and recipe.pipeline[2].weights is None
    rotate = recipe.pipeline[1]
    assert isinstance(rotate, Step) and rotate.p == 0.8 and rotate.transform.degrees == (-15.0, 15.0)
    some = recipe.pipeline[3]
    assert isinstance(some, SomeOf) and some.kind == "some_of" and some.n == (1, 2) and not some.random_order
    assert some.children[0].transform.limit == (-0.2, 0.2)  # a limit is symmetric


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("pipeline:\n  - hflip: {}\n  - rotate: {degrees: [30, 10]}\n",
         "r.yaml:3: pipeline[1].rotate.degrees: expected number or [lo, hi] in [-360, 360] (deg), got [30, 10] (lo > hi)"),
        ("pipeline:\n  - rotat: {degrees: 5}\n",
         "r.yaml:2: pipeline[0]: expected a transform name (see 'augcli transforms') or one_of, some_of, sequence, "
         "got 'rotat'; did you mean 'rotate'?"),
        ("pipeline:\n  - rotate:\n      degree: 5\n",
         "r.yaml:3: pipeline[0].rotate.degree: expected a parameter of 'rotate'"),
        ("pipeline:\n  - hflip: {p: 2}\n", "r.yaml:2: pipeline[0].hflip.p: expected number in [0, 1], got 2"),
        ("pipelin:\n  - hflip\n", "r.yaml:1: pipelin: expected a recipe key"),
        ("seed: -1\npipeline: [hflip]\n", "r.yaml:1: seed: expected integer in [0, 9223372036854775807], got -1"),
        ("pipeline:\n  - one_of:\n      of: [hflip, vflip]\n      weights: [1]\n",
         "r.yaml:4: pipeline[0].one_of.weights: expected 2 non-negative numbers, not all 0 (one per step), got [1]"),
        ("pipeline:\n  - some_of: {n: [1, 3], of: [hflip, vflip]}\n",
         "r.yaml:2: pipeline[0].some_of.n: expected at most 2 (the number of steps in 'of')"),
        ("pipeline:\n  - some_of: {n: 1, off: [hflip]}\n",
         "r.yaml:2: pipeline[0].some_of.False: expected one of of, p, n, random_order, got False; "
         "YAML reads a bare on/off/yes/no/true/false as a boolean: quote the key"),
        ("pipeline:\n  - some_of: {n: 1, off_: [hflip]}\n",
         "pipeline[0].some_of.off_: expected one of of, p, n, random_order, got 'off_'; did you mean 'of'?"),
        ("output: {format: jpeg}\npipeline: [hflip]\n",
         "r.yaml:1: output.format: expected one of same, jpg, png, webp, got 'jpeg'; did you mean 'jpg'?"),
        ("pipeline:\n  - hflip: {}\n    vflip: {}\n", "r.yaml:2: pipeline[0]: expected a one-key mapping"),
        ("pipeline:\n  - rotate: {degrees: 1, degrees: 2}\n", "r.yaml:2: pipeline[0].rotate.degrees: expected each key once"),
        ("pipeline: [hflip\n", "r.yaml:2: recipe: expected valid YAML"),
        ("classes: {cat: {exclude: [vflp]}}\npipeline: [hflip]\n",
         "r.yaml:1: classes.cat.exclude[0]: expected a transform name, got 'vflp'; did you mean 'vflip'?"),
        ("copies: 2\n", "pipeline: expected a list of steps, got nothing"),
        ("pipeline:\n  - crop: {box: [10, 0, 5, 8]}\n", "pipeline[0].crop: expected box with x0 < x1 and y0 < y1"),
    ],
)
def test_error_messages(text: str, message: str) -> None:
    assert message in _error(text)


def test_missing_recipe_file_names_it(tmp_path: Path) -> None:
    with pytest.raises(RecipeError, match="^recipe: expected an existing recipe file, got .*nope.yaml"):
        load_recipe(tmp_path / "nope.yaml")


def test_default_recipe_is_packaged_and_valid() -> None:
    recipe = load_recipe(None)
    assert recipe.source.startswith("<default recipe")
    assert recipe.pipeline


def test_digest_changes_with_pipeline_not_with_seed() -> None:
    a = parse_recipe("seed: 1\npipeline: [hflip]\n")
    b = parse_recipe("seed: 2\npipeline: [hflip]\n")
    c = parse_recipe("seed: 1\npipeline: [vflip]\n")
    assert a.digest() == b.digest() != c.digest()


def test_class_rules_exclude_and_extend() -> None:
    recipe = parse_recipe(
        "pipeline:\n  - hflip\n  - one_of: [vflip, rot90]\n"
        "classes:\n  faces: {exclude: [vflip, rot90], pipeline: [grayscale]}\n")
    names = [n.name for n in recipe.pipeline_for("faces")]
    assert names == ["hflip", "grayscale"]
    assert len(recipe.pipeline_for("cars")) == 2


def test_sampling_is_reproducible_and_records_full_params() -> None:
    recipe = parse_recipe(ISSUE_EXAMPLE)
    a = recipe.sample(np.random.default_rng(5), (40, 50, 3))
    assert a == recipe.sample(np.random.default_rng(5), (40, 50, 3))
    only_rotate = parse_recipe("pipeline: [{rotate: {degrees: [-5, 5]}}]")
    (op,) = only_rotate.sample(np.random.default_rng(9), (40, 50, 3))
    assert op["name"] == "rotate"
    assert set(op["params"]) == {"angle", "border", "fill", "interpolation"}
    assert -5 <= op["params"]["angle"] <= 5


def test_groups_declare_their_keywords_with_the_one_shared_p() -> None:
    """One P for every step and group; each group's keywords are Param kinds, bound to its children when built."""
    import pickle

    from augcli.compose import GROUPS, Sequence
    from augcli.params import P, Param

    assert list(GROUPS) == ["sequence", "one_of", "some_of"]
    assert all(group.keywords["p"] is P and all(isinstance(k, Param) for k in group.keywords.values())
               for group in GROUPS.values())
    assert list(Sequence.keywords) == ["p"] and list(OneOf.keywords) == ["p", "weights"]
    assert list(SomeOf.keywords) == ["p", "n", "random_order"]
    recipe = parse_recipe("pipeline:\n  - some_of: {of: [hflip, vflip, invert], random_order: true}\n"
                          "  - one_of: {of: [hflip, vflip], weights: [1, 3]}\n", "r.yaml")
    some, one = recipe.pipeline
    assert isinstance(some, SomeOf) and some.n == (1, 3) and some.random_order
    assert isinstance(one, OneOf) and one.weights == (1.0, 3.0)
    assert pickle.loads(pickle.dumps(recipe)).to_data() == recipe.to_data()
