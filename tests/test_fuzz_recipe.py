"""Property tests: whatever a recipe holds, loading it gives a Recipe or a RecipeError, and a Recipe renders.

Random structures are placed at random recipe keys and as random steps (transform names from the
registry, parameter values valid, extreme or of the wrong type), and the packaged configs are mutated.
Hypothesis runs derandomized, so CI sees the same examples every time.
"""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any

import numpy as np
import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from augcli.compose import GROUPS, next_shape
from augcli.errors import RecipeError, RunError
from augcli.recipe import TOP_KEYS, Recipe, parse_recipe
from augcli.render import render
from augcli.rng import generator
from augcli.formats import MAX_SIDE
from augcli.params import Choice, Fill, Flag, Number, Numbers, Param, Range
from augcli.registry import REGISTRY
from tests.conftest import make_image

CONFIGS = sorted((Path(__file__).resolve().parents[1] / "configs").glob("*.yaml"))
SOURCE = "fuzz.yaml"
SHAPE = (24, 32, 3)
IMAGE = make_image(np.uint8, 3, *SHAPE[:2])
NAMES = sorted(REGISTRY)  # custom too: loading runs with allow_custom=False, so nothing is imported
PEAK_PIXELS = 4_000_000  # larger (valid) outputs are sampled but not rendered, to keep the test quick
EXAMPLES = {"random": 400, "mutated": 200, "text": 300}  # about 10 s in all on one core


def _fuzz(examples: int) -> settings:
    """Hypothesis settings: derandomized (the same examples on every run), no deadline, no database."""
    return settings(max_examples=examples, deadline=None, derandomize=True, database=None,
                    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])


# ---------------------------------------------------------------- strategies

EXTREME_FLOATS = [math.inf, -math.inf, math.nan, 1e300, -1e300, 1e-300, 0.0, -0.0, 0.5, 1.0, 2.0, 65535.0]
EXTREME_INTS = [0, 1, -1, 2, 3, 255, 256, 16384, 16385, 65535, 2**31, 2**63 - 1, 2**63, 2**64, -(2**63), 10**400]
WORDS = [*NAMES, *GROUPS, *TOP_KEYS, "of", "p", "n", "weights", "random_order", "exclude", "target",
         "method", "undersample", "max", "smote", "transforms", "format", "quality", "fn", "", "on", "null"]

scalars = st.one_of(
    st.none(),
    st.booleans(),
    st.sampled_from(EXTREME_INTS),
    st.integers(min_value=-(2**70), max_value=2**70),
    st.sampled_from(EXTREME_FLOATS),
    st.floats(allow_nan=True, allow_infinity=True),
    st.sampled_from(WORDS),
    st.text(max_size=8),
)
keys = st.one_of(st.sampled_from(WORDS), st.text(max_size=6), st.integers(-3, 3), st.booleans(), st.none())
values = st.recursive(scalars, lambda inner: st.one_of(st.lists(inner, max_size=4),
                                                      st.dictionaries(keys, inner, max_size=4)), max_leaves=12)


def _within(bounds: tuple[float, float], integer: bool) -> st.SearchStrategy[Any]:
    """Numbers inside declared bounds (open ends cut to a million), endpoints included."""
    lo, hi = (max(bounds[0], -1e6), min(bounds[1], 1e6))
    inside = st.integers(math.ceil(lo), math.floor(hi)) if integer else st.floats(lo, hi)
    return st.one_of(st.sampled_from([int(lo) if integer else lo, int(hi) if integer else hi]), inside)


def _valid(param: Param) -> st.SearchStrategy[Any]:
    """A value the parameter most likely accepts (a symmetric or factor range reads a single number its own way)."""
    if isinstance(param, Number):
        return _within(param.bounds, param.integer)
    if isinstance(param, Range):
        one = _within(param.bounds, param.integer)
        return st.one_of(one, st.lists(one, min_size=2, max_size=2).map(sorted))
    if isinstance(param, Choice):
        return st.sampled_from(param.options)
    if isinstance(param, Flag):
        return st.booleans()
    if isinstance(param, Fill):
        byte = st.integers(0, 255)
        return st.one_of(byte, st.lists(byte, min_size=3, max_size=4))
    if isinstance(param, Numbers):
        return st.lists(_within(param.bounds, param.integer), min_size=param.length, max_size=param.length)
    return values


def _maybe(draw: st.DrawFn, valid: st.SearchStrategy[Any], chaos: int) -> Any:
    """Draw from ``valid``, or (about chaos in 100 times) anything at all."""
    return draw(values) if chaos and draw(st.integers(0, 99)) < chaos else draw(valid)


@st.composite
def _params(draw: st.DrawFn, name: str, chaos: int) -> dict[Any, Any]:
    """Parameters for one step: each declared one left out or given; with chaos, wrong values and stray keys."""
    out: dict[Any, Any] = {}
    for pname, param in REGISTRY[name].params.items():
        if draw(st.booleans()):
            out[pname] = _maybe(draw, _valid(param), chaos)
    if chaos and draw(st.integers(0, 99)) < chaos:
        out[draw(keys)] = draw(values)
    if draw(st.booleans()):
        out["p"] = _maybe(draw, st.floats(0, 1), chaos)
    return out


@st.composite
def _step(draw: st.DrawFn, chaos: int, depth: int = 0) -> Any:
    """A transform step (bare name or with parameters), a group of steps, or anything at all."""
    if chaos and draw(st.integers(0, 99)) < chaos:
        return draw(values)
    kind = draw(st.sampled_from(["step", "step", "step", "bare", "group"] if depth < 2 else ["step", "bare"]))
    name = draw(st.sampled_from(NAMES))
    if kind == "bare":
        return name
    if kind == "step":
        return {name: draw(_params(name, chaos))}
    group = draw(st.sampled_from(sorted(GROUPS)))
    children = draw(st.lists(_step(chaos, depth + 1), min_size=0, max_size=4))
    body: dict[str, Any] = {"of": children}
    if group == "one_of" and draw(st.booleans()):
        weights = st.lists(st.one_of(st.floats(0, 10), st.integers(0, 3)), min_size=len(children),
                           max_size=len(children))
        body["weights"] = _maybe(draw, weights, chaos)
    if group == "some_of" and draw(st.booleans()):
        n = st.one_of(st.integers(0, len(children)), st.lists(st.integers(0, len(children)), min_size=2,
                                                              max_size=2).map(sorted))
        body["n"] = _maybe(draw, n, chaos)
    if group == "some_of" and draw(st.booleans()):
        body["random_order"] = _maybe(draw, st.booleans(), chaos)
    if draw(st.booleans()):
        body["p"] = _maybe(draw, st.floats(0, 1), chaos)
    return {group: body if draw(st.booleans()) else children}


SECTIONS = {
    "seed": st.integers(0, 2**63 - 1),
    "copies": st.integers(1, 10),
    "output": st.fixed_dictionaries({}, optional={"format": st.sampled_from(["same", "jpg", "png", "webp"]),
                                                  "quality": st.integers(1, 100)}),
    "balance": st.fixed_dictionaries({}, optional={
        "target": st.one_of(st.sampled_from(["max", 0.5, 3, "7", "0.25"]),
                            st.dictionaries(st.sampled_from(["cat", "dog"]), st.integers(1, 9), max_size=2)),
        "method": st.sampled_from(["transforms", "smote"]),
        "undersample": st.booleans()}),
}


@st.composite
def _recipe(draw: st.DrawFn) -> dict[Any, Any]:
    """A recipe of random steps and sections; its chaos (0 to 30 in 100) decides how often a value is anything."""
    chaos = draw(st.sampled_from([0, 0, 0, 2, 10, 30]))
    data: dict[Any, Any] = {"pipeline": _maybe(draw, st.lists(_step(chaos), min_size=1, max_size=6), chaos)}
    for key, valid in SECTIONS.items():
        if draw(st.booleans()):
            data[key] = _maybe(draw, valid, chaos)
    if draw(st.booleans()):
        rule = st.fixed_dictionaries({}, optional={"exclude": st.lists(st.sampled_from(NAMES), max_size=3),
                                                   "pipeline": st.lists(_step(chaos, 1), max_size=3)})
        labels = st.sampled_from(["cat", "dog", "3"])
        data["classes"] = _maybe(draw, st.dictionaries(labels, rule, max_size=2), chaos)
    if chaos and draw(st.integers(0, 99)) < chaos:
        data[draw(st.sampled_from(TOP_KEYS) | keys)] = draw(values)
    return data


def _dump(data: Any) -> str:
    """YAML text for any structure (inf and nan become .inf and .nan)."""
    return yaml.safe_dump(data, sort_keys=False, allow_unicode=True)


# ---------------------------------------------------------------- mutations of the packaged configs


def _paths(data: Any, prefix: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
    """Every path to a value inside nested dicts and lists."""
    out = [prefix] if prefix else []
    items = data.items() if isinstance(data, dict) else enumerate(data) if isinstance(data, list) else []
    for key, value in items:
        out += _paths(value, (*prefix, key))
    return out


def _get(data: Any, path: tuple[Any, ...]) -> Any:
    for key in path:
        data = data[key]
    return data


@st.composite
def _mutated(draw: st.DrawFn) -> str:
    """A packaged config with a few mutations: a key deleted or renamed, a value made extreme or retyped."""
    data = yaml.safe_load(draw(st.sampled_from(CONFIGS)).read_text(encoding="utf-8"))
    for _ in range(draw(st.integers(1, 3))):
        paths = _paths(data)
        numbers = [p for p in paths if isinstance(_get(data, p), int | float) and not isinstance(_get(data, p), bool)]
        path = draw(st.sampled_from(numbers if numbers and draw(st.booleans()) else paths))
        parent, key = _get(data, path[:-1]), path[-1]
        old = parent[key]
        how = draw(st.sampled_from(["delete", "rename", "extreme", "retype", "wrap", "any"]))
        if how == "delete":
            del parent[key]
        elif how == "rename" and isinstance(parent, dict):
            parent[draw(st.sampled_from(WORDS) | st.text(max_size=6))] = parent.pop(key)
        elif how == "extreme" or (how == "rename" and isinstance(old, int | float)):
            small = isinstance(old, int | float) and abs(old) < 1e6
            near = [old * 10, old / 10, -old, old + 1, 0] if small else []
            parent[key] = draw(st.sampled_from(EXTREME_FLOATS + EXTREME_INTS + near))
        elif how == "retype":
            parent[key] = draw(st.sampled_from([str(old), [old], {"x": old}, None, True]))
        elif how == "wrap":
            parent[key] = [old, old] if not isinstance(old, list) else old[:1]
        else:
            parent[key] = draw(values)
    return _dump(data)


STRAY = ["[", "]", "{", "}", ":", "- ", "&a ", "*a", "!!float ", "'", "#", "  ", ".inf", "<<: "]


@st.composite
def _text_mutated(draw: st.DrawFn) -> str:
    """A packaged config with lines dropped, repeated or cut, and stray YAML characters inserted."""
    lines = draw(st.sampled_from(CONFIGS)).read_text(encoding="utf-8").splitlines()
    for _ in range(draw(st.integers(1, 3))):
        i = draw(st.integers(0, len(lines) - 1))
        how = draw(st.sampled_from(["drop", "repeat", "cut", "insert"]))
        if how == "drop":
            del lines[i]
        elif how == "repeat":
            lines.insert(i, lines[i])
        elif how == "cut":
            lines[i] = lines[i][: draw(st.integers(0, len(lines[i])))]
        else:
            at = draw(st.integers(0, len(lines[i])))
            stray = draw(st.sampled_from(STRAY))
            lines[i] = lines[i][:at] + stray + lines[i][at:]
        if not lines:
            break
    return "\n".join(lines) + "\n"


# ---------------------------------------------------------------- the property


def _draw(recipe: Recipe, seed: int) -> tuple[list[dict[str, Any]], int]:
    """Ops for one draw, and the largest image (in pixels) along the way."""
    ops = recipe.sample(generator(seed), SHAPE)
    shape, peak = SHAPE, SHAPE[0] * SHAPE[1]
    for op in ops:
        shape = next_shape(op["name"], REGISTRY[op["name"]].cls, op["params"], shape)
        peak = max(peak, shape[0] * shape[1])
    return ops, peak


def _check(text: str) -> None:
    """parse_recipe gives a Recipe or a located RecipeError; a Recipe samples and renders."""
    try:
        recipe = parse_recipe(text, SOURCE, allow_custom=False)
    except RecipeError as exc:
        assert str(exc).startswith(SOURCE)
        return
    assert isinstance(recipe, Recipe)
    for seed in (0, 1):
        try:
            ops, peak = _draw(recipe, seed)
        except RunError as exc:  # a chain of growing steps, refused before any pixel is made
            assert f"at most {MAX_SIDE} pixels per side" in str(exc)
            continue
        if peak > PEAK_PIXELS:
            continue
        out = render(IMAGE, ops)
        assert out.dtype == np.uint8 and out.ndim == 3 and out.shape[2] == 3


@_fuzz(EXAMPLES["random"])
@given(_recipe())
def test_random_recipes_load_or_fail_cleanly(data: dict[Any, Any]) -> None:
    _check(_dump(data))


@_fuzz(EXAMPLES["mutated"])
@given(_mutated())
def test_mutated_configs_load_or_fail_cleanly(text: str) -> None:
    _check(text)


@_fuzz(EXAMPLES["text"])
@given(_text_mutated())
def test_text_mutated_configs_load_or_fail_cleanly(text: str) -> None:
    _check(text)
