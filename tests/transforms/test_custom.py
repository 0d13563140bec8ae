"""The custom step: a user function named in the recipe, checked at load, replayed from its seed."""

from __future__ import annotations

import json
import pickle
from pathlib import Path

import numpy as np
import pytest

from augcli.compose import Step
from augcli.errors import RecipeError, RunError
from augcli.manifest import MANIFEST, read_rows
from augcli.recipe import parse_recipe
from augcli.render import render
from augcli.rng import generator
from augcli.registry import REGISTRY
from tests.conftest import make_image

FN = "tests.custom_fn:add_offset"


def _recipe(body: str) -> str:
    return f"pipeline:\n  - hflip: {{p: 0.5}}\n  - custom: {body}\n"


def _op(fn: str = FN, seed: int = 0, shape: tuple[int, ...] = (37, 53, 3), **extra: object) -> dict:
    transform = REGISTRY["custom"].build({"fn": fn, **extra}, "custom")
    return {"name": "custom", "params": transform.sample(generator(seed), shape)}


def test_valid_function_runs_and_replays() -> None:
    recipe = parse_recipe(_recipe(f"{{fn: '{FN}', amount: 10}}"))
    image = make_image(np.uint8, 3)
    ops = recipe.sample(generator(5), image.shape)
    op = ops[-1]
    assert op["name"] == "custom"
    assert op["params"]["fn"] == FN and op["params"]["params"] == {"amount": 10}
    assert isinstance(op["params"]["seed"], int)
    out = render(image, ops)
    assert np.array_equal(out, render(image, json.loads(json.dumps(ops))))
    offset = int(np.random.default_rng(op["params"]["seed"]).integers(-10, 11))
    expected = render(image, ops[:-1]).astype(int) + offset
    assert np.array_equal(out, np.clip(expected, 0, 255).astype(np.uint8))


def test_other_seeds_give_other_offsets() -> None:
    image = make_image(np.uint8, 3)
    outputs = {render(image, [_op(seed=s)]).tobytes() for s in range(6)}
    assert len(outputs) > 1


@pytest.mark.parametrize(("fn", "message"), [
    ("tests.no_such_module:f", r"module 'tests\.no_such_module' not found"),
    ("no_such_package.mod:f", r"module 'no_such_package' not found"),
    ("tests.custom_fn:no_such_function", r"module 'tests\.custom_fn' has no attribute 'no_such_function'"),
    ("tests.custom_fn:NOT_A_FUNCTION", r"'NOT_A_FUNCTION' is not callable \(an object of type int\)"),
    ("tests.custom_fn.add_offset", r"no ':' between the module and the function"),
    ("tests.custom_fn:", r"an empty module or function name"),
])
def test_bad_function_paths_are_recipe_errors_at_the_step(fn: str, message: str) -> None:
    with pytest.raises(RecipeError, match=r"^r\.yaml:3: pipeline\[1\]\.custom\.fn: expected a function path "
                                          r"'package\.module:function', got .*" + message) as info:
        parse_recipe(_recipe(f"{{fn: '{fn}'}}"), source="r.yaml")
    assert info.value.exit_code == 2


def test_missing_fn_is_reported() -> None:
    with pytest.raises(RecipeError, match=r"pipeline\[1\]\.custom\.fn: expected a function .*got nothing"):
        parse_recipe(_recipe("{}"))
    with pytest.raises(RecipeError, match=r"pipeline\[1\]\.custom\.gain: expected fn \(the function's own"):
        parse_recipe(_recipe("{gain: 2}"))


def test_extra_params_must_be_plain_data() -> None:
    with pytest.raises(RecipeError, match=r"pipeline\[1\]\.custom\.when: expected plain data"):
        parse_recipe(_recipe(f"{{fn: '{FN}', when: 2024-01-01}}"))
    with pytest.raises(RecipeError, match=r"pipeline\[1\]\.custom\.sizes\[1\]: expected a finite number"):
        parse_recipe(_recipe(f"{{fn: '{FN}', sizes: [1, .inf]}}"))
    nested = parse_recipe(_recipe(f"{{fn: '{FN}', amount: 5, opts: {{a: [1, 2], b: null}}, p: 0.5}}"))
    step = nested.pipeline[1]
    assert isinstance(step, Step) and step.p == 0.5
    assert step.transform.values() == {"fn": FN, "amount": 5, "opts": {"a": [1, 2], "b": None}}


def test_extra_params_are_part_of_the_recipe_identity() -> None:
    a = parse_recipe(_recipe(f"{{fn: '{FN}', amount: 5}}"))
    b = parse_recipe(_recipe(f"{{fn: '{FN}', amount: 6}}"))
    assert a.digest() != b.digest()
    assert a.to_data()["pipeline"][1] == {"custom": {"fn": FN, "amount": 5, "p": 1.0}}
    transform = a.pipeline[1].transform  # type: ignore[union-attr]
    assert pickle.loads(pickle.dumps(transform)) == transform


def test_wrong_return_dtype_is_a_run_error_naming_the_function() -> None:
    image = make_image(np.uint8, 3)
    with pytest.raises(RunError, match=r"custom function tests\.custom_fn:to_float returned dtype float32"):
        render(image, [_op("tests.custom_fn:to_float")])


def test_channel_count_may_not_change() -> None:
    image = make_image(np.uint8, 4)
    with pytest.raises(RunError, match=r"tests\.custom_fn:drop_alpha returned shape \(37, 53, 3\)"):
        render(image, [_op("tests.custom_fn:drop_alpha", shape=image.shape)])


def test_two_dimensional_result_is_one_channel() -> None:
    grey = make_image(np.uint16, 1)
    out = render(grey, [_op("tests.custom_fn:first_plane", shape=grey.shape)])
    assert out.shape == grey.shape and np.array_equal(out, grey)
    with pytest.raises(RunError, match=r"returned shape \(37, 53\)"):
        render(make_image(np.uint8, 3), [_op("tests.custom_fn:first_plane")])


def test_errors_in_the_function_name_it() -> None:
    with pytest.raises(RunError, match=r"custom function tests\.custom_fn:fails raised ValueError: broken"):
        render(make_image(np.uint8, 3), [_op("tests.custom_fn:fails")])


def test_function_gets_a_copy_of_the_image() -> None:
    image = make_image(np.uint8, 3)
    before = image.copy()
    out = render(image, [_op("tests.custom_fn:in_place")])
    assert np.array_equal(image, before) and not out.any()


def test_cli_exits_2_on_a_bad_path_and_1_on_a_bad_result(cli, make_tree, tmp_path: Path) -> None:
    tree = make_tree({"cat": 2})
    bad_path = tmp_path / "bad.yaml"
    bad_path.write_text("pipeline:\n  - custom: {fn: 'tests.custom_fn:nope'}\n")
    result = cli("expand", "-q", "--recipe", bad_path, tree, tmp_path / "out")
    assert result.exit_code == 2
    assert "pipeline[0].custom.fn" in result.stderr and "has no attribute 'nope'" in result.stderr
    bad_result = tmp_path / "float.yaml"
    bad_result.write_text("pipeline:\n  - custom: {fn: 'tests.custom_fn:to_float'}\n")
    result = cli("expand", "-q", "--recipe", bad_result, "--workers", "1", tree, tmp_path / "out2")
    assert result.exit_code == 1
    assert "tests.custom_fn:to_float" in result.stderr


def test_expand_with_two_workers_uses_the_function(cli, make_tree, tmp_path: Path) -> None:
    tree = make_tree({"cat": 3})
    recipe = tmp_path / "r.yaml"
    recipe.write_text(f"pipeline:\n  - custom: {{fn: '{FN}', amount: 30}}\n")
    out = tmp_path / "out"
    result = cli("expand", "-q", "--recipe", recipe, "--copies", "2", "--workers", "2", tree, out)
    assert result.exit_code == 0, result.output
    rows = [row for row in read_rows(tmp_path / "out" / MANIFEST) if row.kind == "augmented"]
    assert len(rows) == 6 and all(row.op_list()[0]["params"]["params"] == {"amount": 30} for row in rows)
    replayed = cli("replay", "-q", tmp_path / "out" / MANIFEST, tmp_path / "re")
    assert replayed.exit_code == 0, replayed.output
