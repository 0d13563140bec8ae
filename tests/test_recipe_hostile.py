"""A recipe is untrusted input: every hostile recipe is a RecipeError naming the file and line, and quick.

Alias bombs, recursive aliases, deep nesting, too many steps, non-finite or huge numbers, output sizes
that would allocate gigabytes, a misspelt balance section, and custom steps with allow_custom=False.
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from augcli.errors import RecipeError, RunError
from augcli.recipe import MAX_CHARS, MAX_DEPTH, MAX_NODES, MAX_STEPS, load_recipe, parse_recipe
from augcli.render import render
from augcli.rng import generator
from augcli.formats import MAX_SIDE

CUSTOM_HINT = "custom steps run Python code named by the recipe; refused because allow_custom=False was given"


def _error(text: str) -> str:
    with pytest.raises(RecipeError) as info:
        parse_recipe(text, source="r.yaml")
    return str(info.value)


def _laughs(levels: int = 9) -> str:
    """The YAML 'billion laughs': each anchor is a list of ten aliases of the one before (10**levels nodes)."""
    lines = ["a0: &a0 [lol, lol, lol, lol, lol, lol, lol, lol, lol, lol]"]
    for i in range(1, levels):
        lines.append(f"a{i}: &a{i} [" + ", ".join([f"*a{i - 1}"] * 10) + "]")
    return "\n".join(["pipeline: [hflip]", *lines]) + "\n"


# ---------------------------------------------------------------- YAML structure


def test_billion_laughs_is_refused_at_the_alias_that_crosses_the_limit() -> None:
    text = _laughs()
    assert len(text) < 1024
    message = _error(text)
    assert message.startswith("r.yaml:5: recipe: ")  # a3 holds 10**4 lol: with the anchors, past the limit
    assert f"expected at most {MAX_NODES} YAML nodes once aliases are expanded" in message
    assert "billion laughs" in message


def test_many_plain_nodes_are_refused_too() -> None:
    message = _error("pipeline: [hflip]\nseed: [" + "1, " * MAX_NODES + "]\n")
    assert message.startswith("r.yaml:2: recipe: ") and f"at most {MAX_NODES} YAML nodes" in message
    assert "billion laughs" not in message


@pytest.mark.parametrize(("text", "line", "alias"), [
    ("a: &a [*a]\npipeline: [hflip]\n", 1, "*a inside &a"),
    ("pipeline: [hflip]\nb: &b\n  c: [1, {d: *b}]\n", 3, "*b inside &b"),
])
def test_recursive_alias_is_refused(text: str, line: int, alias: str) -> None:
    message = _error(text)
    assert message.startswith(f"r.yaml:{line}: recipe: expected an alias to a finished anchor, got {alias}")
    assert "recursive alias" in message


@pytest.mark.parametrize(("text", "line"), [
    ("pipeline: " + "[" * 2000 + "]" * 2000 + "\n", 1),  # flow lists: refused before PyYAML sees them
    ("pipeline: " + "{a: " * 2000 + "1" + "}" * 2000 + "\n", 1),  # flow mappings
    ("pipeline: " + '[ "]]", ' * 2000 + "]" * 2000 + "\n", 1),  # brackets in strings hide the depth from the pre-scan
    ("pipeline:\n  " + "- " * 2000 + "hflip\n", 2),  # block lists on one line
    ("pipeline:\n" + "".join("  " * i + "-\n" for i in range(1, 60)), MAX_DEPTH + 1),  # block lists, indented
], ids=["flow-lists", "flow-mappings", "quoted-brackets", "dashes", "indented"])
def test_deep_nesting_is_refused(text: str, line: int) -> None:
    message = _error(text)
    assert message.startswith(f"r.yaml:{line}: recipe: expected lists and mappings nested at most {MAX_DEPTH} deep")


def test_nesting_through_an_alias_counts_the_alias_expanded() -> None:
    deep = "[" * 40 + "]" * 40
    text = f"a: &a {deep}\nseed: {'[' * 20}*a{']' * 20}\npipeline: [hflip]\n"
    assert _error(text).startswith("r.yaml:2: recipe: expected lists and mappings nested at most 50 deep "
                                   "(aliases expanded)")


@pytest.mark.parametrize(("text", "line", "got"), [
    ("pipeline: [hflip]\nseed: 2001-13-45\n", 2, "month must be in 1..12"),
    ("pipeline: [hflip]\nseed: !!float abc\n", 2, "could not convert string to float"),
    ("pipeline: [hflip]\nseed: " + "9" * 5000 + "\n", 2, "Exceeds the limit (4300 digits)"),
])
def test_values_python_cannot_read_are_yaml_errors(text: str, line: int, got: str) -> None:
    message = _error(text)
    assert message.startswith(f"r.yaml:{line}: recipe: expected valid YAML, got a value that cannot be read")
    assert got in message


def test_a_long_key_repeated_through_an_alias_costs_no_memory() -> None:
    """Line bookkeeping keeps paths short: 5,000 aliased items below a 200,000-character key are not 1 GB."""
    text = "x: &x [" + "1, " * 4900 + "]\n? " + "k" * 200_000 + "\n: [*x]\npipeline: [hflip]\n"
    assert _error(text).startswith("r.yaml:1: x: expected a recipe key")


@pytest.mark.parametrize(("text", "message"), [
    ("pipeline: [hflip]\nseed: '\ud800'\n", "r.yaml:2: recipe: expected text that UTF-8 can encode, got an "
                                          "unpaired surrogate at character 25"),
    ("pipeline: [hflip]\n\x00\n", "r.yaml:2: recipe: expected valid YAML, got control characters are not "
                                 "allowed (character #x0000)"),
    ("pipeline: !!python/object/apply:os.system [echo]\n", "r.yaml:1: recipe: expected valid YAML, got could not "
                                                         "determine a constructor for the tag"),
])
def test_text_yaml_cannot_hold_is_refused(text: str, message: str) -> None:
    assert _error(text).startswith(message)


def test_unhashable_keys_are_refused() -> None:
    assert _error("pipeline: [hflip]\nclasses: {[1, 2]: 3}\n").startswith(
        "r.yaml:2: classes: expected plain keys (names), got a list as a key")


def test_oversized_text_is_refused_and_a_huge_file_is_not_read_whole(tmp_path: Path) -> None:
    assert "recipe: expected at most" in _error("pipeline: [hflip]\n" + "#" * MAX_CHARS + "\n")
    path = tmp_path / "big.yaml"
    path.write_text("pipeline: [hflip]\n" + "#" * (4 * MAX_CHARS) + "\n", encoding="utf-8")
    with pytest.raises(RecipeError, match=rf"^{path}: recipe: expected at most {MAX_CHARS} characters of YAML"):
        load_recipe(path)


def test_merge_keys_work_and_count_toward_the_limits() -> None:
    text = "pipeline:\n  - rotate: &r {degrees: 10, border: constant}\n  - rotate: {<<: *r, degrees: 20}\n"
    recipe = parse_recipe(text, "r.yaml")
    assert [step.transform.values()["degrees"] for step in recipe.pipeline] == [(10.0, 10.0), (20.0, 20.0)]
    assert recipe.pipeline[1].transform.values()["border"] == "constant"


# ---------------------------------------------------------------- steps


def test_too_many_steps_is_refused_at_the_first_one_over() -> None:
    text = "pipeline:\n" + "  - hflip\n" * (MAX_STEPS + 5)
    message = _error(text)
    assert message.startswith(f"r.yaml:{MAX_STEPS + 2}: pipeline[{MAX_STEPS}]: expected at most {MAX_STEPS} steps")


def test_steps_are_counted_over_groups_and_per_class_pipelines() -> None:
    group = "  - one_of: [" + ", ".join(["hflip"] * 99) + "]\n"  # 100 steps: the group and its children
    text = "pipeline:\n" + group * 6 + "classes:\n  cat:\n    pipeline:\n" + "      - vflip\n" * 401
    message = _error(text)
    assert message.startswith(f"r.yaml:{8 + 400 + 3}: classes.cat.pipeline[400]: expected at most {MAX_STEPS}")
    assert "per-class pipelines included" in message


def test_a_chain_of_growing_steps_stops_before_allocating() -> None:
    recipe = parse_recipe("pipeline:\n" + "  - resize: {factor: 20}\n" * 3, "r.yaml")
    with pytest.raises(RunError, match=rf"resize: expected an image of at most {MAX_SIDE} pixels per side, "
                                       r"got 192000 x 144000 from 9600 x 7200"):
        recipe.sample(generator(0), (18, 24, 3))


# ---------------------------------------------------------------- numbers


@pytest.mark.parametrize("weights", ["[.inf, 1]", "[.nan, 1]", "[-.inf, 1]", "[1.0e308, 1.0e308]", "[1, 1e3]",
                                     f"[{10**400}, 1]", "[true, 1]"])
def test_weights_must_be_finite_non_negative_numbers(weights: str) -> None:
    text = f"pipeline:\n  - one_of:\n      of: [hflip, vflip]\n      weights: {weights}\n"
    message = _error(text)
    assert message.startswith("r.yaml:4: pipeline[0].one_of.weights: expected 2 non-negative numbers, not all 0")


def test_non_finite_weights_say_why() -> None:
    assert _error("pipeline:\n  - one_of: {of: [hflip, vflip], weights: [.inf, 1]}\n").endswith(
        "got [inf, 1]; weights are finite numbers (not .inf or .nan) with a finite sum")


@pytest.mark.parametrize(("step", "where"), [
    ("rotate: {degrees: .inf}", "pipeline[0].rotate.degrees"),
    ("rotate: {degrees: [.nan, 1]}", "pipeline[0].rotate.degrees"),
    ("rotate: {degrees: [-.inf, .inf]}", "pipeline[0].rotate.degrees"),
    ("gaussian_noise: {std: .nan}", "pipeline[0].gaussian_noise.std"),
    ("brightness: {limit: .inf}", "pipeline[0].brightness.limit"),
    ("clahe: {tile: .nan}", "pipeline[0].clahe.tile"),
    ("rotate: {fill: .nan}", "pipeline[0].rotate.fill"),
    ("rotate: {fill: [0, .inf, 0]}", "pipeline[0].rotate.fill"),
    ("crop: {box: [0, 0, .inf, 4]}", "pipeline[0].crop.box"),
    ("hflip: {p: .nan}", "pipeline[0].hflip.p"),
    ("some_of: {of: [hflip], n: .inf}", "pipeline[0].some_of.n"),
    ("sequence: {of: [hflip], p: .inf}", "pipeline[0].sequence.p"),
    (f"rotate: {{degrees: {10**400}}}", "pipeline[0].rotate.degrees"),
])
def test_non_finite_and_huge_params_are_refused(step: str, where: str) -> None:
    assert _error(f"pipeline:\n  - {step}\n").startswith(f"r.yaml:2: {where}: expected ")


@pytest.mark.parametrize(("section", "where"), [
    ("copies: .inf", "copies"), ("copies: .nan", "copies"), ("output: {quality: .nan}", "output.quality"),
    ("seed: .inf", "seed"), ("seed: .nan", "seed"), ("seed: true", "seed"), ("seed: 1.0e300", "seed"),
    ("seed: -1", "seed"), (f"seed: {2**63}", "seed"), (f"seed: {10**400}", "seed"),
])
def test_top_level_numbers_are_refused(section: str, where: str) -> None:
    message = _error(f"{section}\npipeline: [hflip]\n")
    assert message.startswith(f"r.yaml:1: {where}: expected ")
    assert "digits" in message or len(message) < 200  # a huge value is summarised, not printed


@pytest.mark.parametrize(("step", "where"), [
    ("resize: {width: 65535, height: 65535}", "resize.width"),
    ("resize: {height: 16385}", "resize.height"),
    ("random_resized_crop: {width: 65535}", "random_resized_crop.width"),
    ("random_crop: {width: 20, height: 65535}", "random_crop.height"),
    ("crop: {box: [0, 0, 65535, 10]}", "crop.box"),
    ("pad: {left: 65535}", "pad.left"),
])
def test_output_sizes_are_bounded(step: str, where: str) -> None:
    message = _error(f"pipeline:\n  - {step}\n")
    assert message.startswith(f"r.yaml:2: pipeline[0].{where}: expected ")
    assert f", {MAX_SIDE}]" in message or ", 4096]" in message  # the bound is in the message


def test_resize_at_the_bound_is_accepted() -> None:
    recipe = parse_recipe(f"pipeline:\n  - resize: {{width: {MAX_SIDE}, height: 8}}\n", "r.yaml")
    assert recipe.sample(generator(0), (4, 4, 3))[0]["params"]["width"] == MAX_SIDE


# ---------------------------------------------------------------- the balance section


BAD_BALANCE = [
    ("balance: {targte: 3, method: smot}", "balance.targte: expected one of target, method, undersample, got "
                                           "'targte'; did you mean 'target'?"),
    ("balance: {method: smot}", "balance.method: expected one of transforms, smote, mixup, cutmix, got 'smot' instead; "
                                "did you mean 'smote'?"),
    ("balance: {target: 0}", "balance.target: expected max, a whole number of images N >= 1"),
    ("balance: {target: 2.5}", "balance.target: expected max"),
    ("balance: {target: .nan}", "balance.target: expected max"),
    ("balance: {target: 1000001}", "balance.target: expected max"),
    ("balance: {target: {cat: 1000001}}",
     "balance.target.cat: expected a whole number of images N >= 1 and at most 1000000"),
    ("balance: {target: {cat: 0}}", "balance.target.cat: expected a whole number of images N >= 1"),
    ("balance: {target: {cat: 2.5}}", "balance.target.cat: expected a whole number of images N >= 1"),
    ("balance: {undersample: maybe}", "balance.undersample: expected true or false, got 'maybe' instead"),
    ("balance: [max]", "balance: expected a mapping, got ['max']"),
]


@pytest.mark.parametrize(("section", "message"), BAD_BALANCE)
def test_balance_section_is_validated_at_load(tmp_path: Path, section: str, message: str) -> None:
    path = tmp_path / "r.yaml"
    path.write_text(f"pipeline: [hflip]\n{section}\n", encoding="utf-8")
    with pytest.raises(RecipeError) as info:
        load_recipe(path)
    assert str(info.value).startswith(f"{path}:2: {message}")


def test_valid_balance_sections_load() -> None:
    for section in ("{target: max}", "{target: 7, undersample: true}", "{target: '0.5', method: smote}",
                    "{target: {cat: 5}}", "{}"):
        assert parse_recipe(f"pipeline: [hflip]\nbalance: {section}\n", "r.yaml").balance is not None


def test_expand_refuses_a_bad_balance_section(cli: Any, make_tree: Any, tmp_path: Path) -> None:
    recipe = tmp_path / "r.yaml"
    recipe.write_text("seed: 1\npipeline: [hflip]\nbalance: {targte: 3, method: smot}\n", encoding="utf-8")
    result = cli("expand", "-q", "-w", 1, "-r", recipe, make_tree({"cat": 1}), tmp_path / "out")
    assert result.exit_code == 2
    assert f"{recipe}:3: balance.targte: expected one of target, method, undersample" in result.output
    assert "Traceback" not in result.output
    assert not (tmp_path / "out").exists()


# ---------------------------------------------------------------- custom steps


@pytest.fixture
def marker_module(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> tuple[str, Path]:
    """A module that leaves a file behind when it is imported: proof of whether a recipe ran code."""
    name = f"hostile_marker_{tmp_path.name.replace('-', '_')}"
    marker = tmp_path / "imported"
    (tmp_path / f"{name}.py").write_text(
        f"from pathlib import Path\nPath({str(marker)!r}).write_text('ran')\n"
        "def fn(image, rng, params):\n    return image\n", encoding="utf-8")
    monkeypatch.syspath_prepend(str(tmp_path))
    yield name, marker
    sys.modules.pop(name, None)


@pytest.mark.parametrize("where", ["pipeline[1]", "pipeline[1].one_of.of[1]", "classes.cat.pipeline[0]"])
def test_custom_is_refused_before_anything_is_imported(marker_module: tuple[str, Path], where: str) -> None:
    name, marker = marker_module
    step = f"custom: {{fn: '{name}:fn'}}"
    body = {"pipeline[1]": f"pipeline:\n  - hflip\n  - {step}\n",
            "pipeline[1].one_of.of[1]": f"pipeline:\n  - hflip\n  - one_of:\n      of: [vflip, {{{step}}}]\n",
            "classes.cat.pipeline[0]": f"pipeline: [hflip]\nclasses:\n  cat:\n    pipeline:\n      - {step}\n"}[where]
    with pytest.raises(RecipeError) as info:
        parse_recipe(body, "r.yaml", allow_custom=False)
    message = str(info.value)
    assert message.startswith(f"r.yaml:{body.count(chr(10), 0, body.index('custom')) + 1}: {where}: expected ")
    assert message.endswith(f"got 'custom'; {CUSTOM_HINT}")
    assert name not in sys.modules and not marker.exists()


def test_custom_refused_through_load_recipe(tmp_path: Path, marker_module: tuple[str, Path]) -> None:
    name, marker = marker_module
    path = tmp_path / "shared.yaml"
    path.write_text(f"pipeline:\n  - custom: {{fn: '{name}:fn'}}\n", encoding="utf-8")
    with pytest.raises(RecipeError, match=rf"^{path}:2: pipeline\[0\]: .*allow_custom=False was given$"):
        load_recipe(path, allow_custom=False)
    assert not marker.exists()


def test_custom_is_allowed_by_default(marker_module: tuple[str, Path]) -> None:
    name, marker = marker_module
    recipe = parse_recipe(f"pipeline:\n  - custom: {{fn: '{name}:fn', amount: 3}}\n", "r.yaml")
    assert marker.read_text() == "ran"  # validation imports the module: that is what --no-custom prevents
    ops = recipe.sample(generator(0), (4, 4, 3))
    assert ops[0]["name"] == "custom" and ops[0]["params"]["params"] == {"amount": 3}


def test_excluding_custom_by_name_is_not_running_it() -> None:
    recipe = parse_recipe("pipeline: [hflip]\nclasses: {cat: {exclude: [custom]}}\n", "r.yaml", allow_custom=False)
    assert recipe.classes["cat"].exclude == frozenset({"custom"})



def test_recipe_errors_survive_pickling() -> None:
    """A RecipeError raised in a worker process reaches the parent with every field (it raised TypeError)."""
    import pickle

    error = RecipeError("pipeline[0].rotate.degrees", "a number", "'x'", source="r.yaml", line=3, hint="try 30")
    again = pickle.loads(pickle.dumps(error))
    assert isinstance(again, RecipeError) and str(again) == str(error)
    assert (again.where, again.line, again.hint) == ("pipeline[0].rotate.degrees", 3, "try 30")


def test_one_pixel_wide_sources_do_not_hang_cubic_reflect_warps() -> None:
    """OpenCV's cubic warp with BORDER_REFLECT_101 never returned on a 1 px wide source: such a source now
    uses BORDER_REFLECT (its one column repeated), the same as a mirror of a single column."""
    text = "pipeline: [{crop: {box: [0, 0, 1, 10]}}, invert, {rotate: {degrees: 10, interpolation: cubic}}]"
    image = np.full((24, 32, 3), 40, dtype=np.uint8)
    out = render(image, parse_recipe(text).sample(generator(1), image.shape))
    # Oracle: a flat image stays flat under crop, invert and any turn that repeats its border.
    assert out.shape == (10, 1, 3) and np.array_equal(out, np.full((10, 1, 3), 215, dtype=np.uint8))


def test_random_resized_crop_fallback_never_rounds_to_zero_pixels() -> None:
    """An extreme ratio on a narrow image fell back to a 0 px box (ZeroDivisionError); now at least 1 px."""
    recipe = parse_recipe("pipeline: [{random_resized_crop: {ratio: [0.01, 0.01], width: 8, height: 8}}]")
    image = np.zeros((24, 32, 3), dtype=np.uint8)
    for seed in range(5):
        ops = recipe.sample(generator(seed), image.shape)
        x0, y0, x1, y1 = ops[0]["params"]["box"]
        assert 1 <= x1 - x0 <= 32 and 1 <= y1 - y0 <= 24
        assert render(image, ops).shape == (8, 8, 3)
