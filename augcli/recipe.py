"""Recipes: validated against the registry before any image is read.

The YAML is read with its limits and line marks by :mod:`augcli.recipe_yaml`; this module builds
and validates the recipe from the data, placing every error on its line.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace
from importlib import resources
from pathlib import Path
from typing import Any

import numpy as np

from augcli.compose import GROUPS, Group, Node, Op, Shape, Step, sample_pipeline
from augcli.errors import RecipeError, did_you_mean, show
from augcli.params import Choice, Number, P
from augcli.recipe_yaml import MAX_CHARS, line_for, load_yaml
from augcli.recipe_yaml import MAX_DEPTH as MAX_DEPTH  # re-exported: the limits are the recipe's
from augcli.recipe_yaml import MAX_NODES as MAX_NODES
from augcli.registry import REGISTRY

DEFAULT_RECIPE = "default.yaml"
FORMATS = ("same", "jpg", "png", "webp")
TOP_KEYS = ("seed", "copies", "output", "pipeline", "classes", "balance")
MAX_STEPS = 1_000  # steps and groups in the whole recipe, per-class pipelines included
CUSTOM_HINT = "custom steps run Python code named by the recipe; refused because --no-custom was given"
BALANCE_KEYS = ("target", "method", "undersample")
BALANCE_METHODS = ("transforms", "smote")
MAX_TARGET = 1_000_000  # images per class a balance target may name (a run is also limited by --max-outputs)
TARGET_EXPECTED = "max, a whole number of images N >= 1, or a ratio in (0, 1] of the largest class"
SEED = Number(0, bounds=(0, 2**63 - 1), integer=True, doc="recipe seed")
COPIES = Number(4, bounds=(1, 100000), integer=True, doc="augmented copies per input image")
OUTPUT_PARAMS = {
    "format": Choice("same", FORMATS, doc="file format of generated images (same: as the source)"),
    "quality": Number(95, bounds=(1, 100), integer=True, doc="JPEG / WebP quality"),
}


@dataclass(frozen=True)
class OutputSpec:
    """How generated images are encoded."""

    format: str = "same"
    quality: int = 95


@dataclass(frozen=True)
class ClassRule:
    """Per-class changes: transforms left out, and steps added after the pipeline."""

    exclude: frozenset[str] = frozenset()
    extra: tuple[Node, ...] = ()


@dataclass(frozen=True)
class Recipe:
    """A validated recipe. Frozen and picklable: one object serves every worker."""

    pipeline: tuple[Node, ...]
    seed: int = 0
    copies: int = 4
    output: OutputSpec = OutputSpec()
    classes: Mapping[str, ClassRule] = field(default_factory=dict)
    balance: Mapping[str, Any] = field(default_factory=dict)
    source: str = "<recipe>"
    lines: Mapping[str, int] = field(default_factory=dict, compare=False, repr=False)
    _by_label: Mapping[str, tuple[Node, ...]] = field(default_factory=dict, init=False, compare=False, repr=False)

    def __post_init__(self) -> None:
        """Apply each class's rules once per recipe, not once per image."""
        object.__setattr__(self, "_by_label", {label: _apply_rule(self.pipeline, rule)
                                               for label, rule in self.classes.items()})

    def error(self, where: str, expected: str, got: str | None = None, hint: str | None = None) -> RecipeError:
        """A RecipeError located in this recipe's file, for checks made after loading."""
        return RecipeError(where, expected, got, hint=hint).located(self.source, line_for(where, self.lines))

    def pipeline_for(self, label: str | None) -> tuple[Node, ...]:
        """The pipeline with the class's rules applied."""
        return self._by_label.get(label, self.pipeline) if label is not None else self.pipeline

    def sample(self, rng: np.random.Generator, shape: Shape, label: str | None = None) -> list[Op]:
        """Draw the ops for one output image."""
        return sample_pipeline(self.pipeline_for(label), rng, shape)

    def to_data(self) -> dict[str, Any]:
        """Canonical form of everything that decides pixels (not seed or copies)."""
        classes = {
            label: {"exclude": sorted(rule.exclude), "pipeline": [n.to_data() for n in rule.extra]}
            for label, rule in sorted(self.classes.items())
        }
        return {
            "output": {"format": self.output.format, "quality": self.output.quality},
            "pipeline": [node.to_data() for node in self.pipeline],
            "classes": classes,
        }

    def digest(self) -> str:
        """Short hash of :meth:`to_data`: a changed recipe changes the draws."""
        text = json.dumps(self.to_data(), sort_keys=True, separators=(",", ":"))
        return hashlib.sha256(text.encode()).hexdigest()[:16]


def _apply_rule(pipeline: tuple[Node, ...], rule: ClassRule) -> tuple[Node, ...]:
    """A pipeline with a class's transforms left out and its extra steps appended."""
    nodes = [n.without(rule.exclude) for n in pipeline] if rule.exclude else list(pipeline)
    return tuple(n for n in nodes if n is not None) + rule.extra


# ---------------------------------------------------------------- loading


def load_recipe(path: str | Path | None = None, *, allow_custom: bool = True) -> Recipe:
    """Load and validate a recipe file; None loads the packaged default recipe.

    With ``allow_custom=False`` a ``custom`` step is refused before any module is imported.
    """
    if path is None:
        return parse_recipe(packaged_recipe(DEFAULT_RECIPE), source=f"<default recipe {DEFAULT_RECIPE}>",
                            allow_custom=allow_custom)
    return parse_recipe(_read(Path(path)), source=str(path), allow_custom=allow_custom)


def _read(path: Path) -> str:
    """A recipe file's text; at most one character past the limit is read, whatever the file is."""
    try:
        with path.open(encoding="utf-8") as handle:
            return handle.read(MAX_CHARS + 1)
    except FileNotFoundError:
        raise RecipeError("--recipe", "an existing recipe file", str(path)) from None
    except (OSError, UnicodeDecodeError) as exc:
        raise RecipeError("--recipe", "a readable UTF-8 YAML file", f"{path} ({exc})") from None


def packaged_recipe(name: str) -> str:
    """Text of a recipe shipped in the wheel (``augcli.configs``), or in configs/ of a source checkout."""
    try:
        return resources.files("augcli.configs").joinpath(name).read_text(encoding="utf-8")
    except ModuleNotFoundError:  # running from a source tree that is not installed in editable mode
        return (Path(__file__).resolve().parent.parent / "configs" / name).read_text(encoding="utf-8")


def parse_recipe(text: str, source: str = "<recipe>", *, allow_custom: bool = True) -> Recipe:
    """Parse YAML text into a validated Recipe; errors name the file, line and step path.

    The text is untrusted: alias expansion, nesting, the number of steps and every number are
    bounded, and with ``allow_custom=False`` a ``custom`` step is refused before anything is imported.
    """
    data, lines = load_yaml(text, source)
    try:
        return replace(_build(data, source, _Context(allow_custom=allow_custom)), lines=lines)
    except RecipeError as exc:
        raise exc.located(source, line_for(exc.where, lines)) from None




# ---------------------------------------------------------------- validation


@dataclass
class _Context:
    """What validation carries down the steps: whether custom steps may load, and the steps so far."""

    allow_custom: bool = True
    steps: int = 0

    def count(self, where: str) -> None:
        """Count one step or group; refuse the one past MAX_STEPS."""
        self.steps += 1
        if self.steps > MAX_STEPS:
            raise RecipeError(where, f"at most {MAX_STEPS} steps and groups in the whole recipe "
                                     "(per-class pipelines included)", f"step number {self.steps} here")


def _build(data: Any, source: str, ctx: _Context) -> Recipe:
    """Validate the top level and build the Recipe."""
    if data is None:
        data = {}
    if not isinstance(data, Mapping):
        raise RecipeError("recipe", "a mapping with keys " + ", ".join(TOP_KEYS), show(data))
    for key in data:
        if key not in TOP_KEYS:
            raise RecipeError(str(key), "a recipe key (" + ", ".join(TOP_KEYS) + ")", show(key),
                              hint=_key_hint(key, TOP_KEYS))
    pipeline = data.get("pipeline")
    if pipeline is None:
        raise RecipeError("pipeline", "a list of steps", "nothing", hint="add 'pipeline:' with at least one step")
    return Recipe(
        seed=SEED.validate(data["seed"], "seed") if "seed" in data else 0,
        copies=COPIES.validate(data["copies"], "copies") if "copies" in data else COPIES.default,
        output=_output(data.get("output"), "output"),
        balance=balance_section(data.get("balance")),
        pipeline=_steps(pipeline, "pipeline", ctx),
        classes=_classes(data.get("classes"), "classes", ctx),
        source=source,
    )


def _mapping(value: Any, where: str) -> dict[str, Any]:
    """A mapping, or an empty one for nothing."""
    if value is None:
        return {}
    if not isinstance(value, Mapping):
        raise RecipeError(where, "a mapping", show(value))
    return dict(value)


def _check_keys(value: Mapping[str, Any], known: Sequence[str], where: str) -> None:
    """Refuse unknown keys, with a did-you-mean."""
    for key in value:
        if key not in known:
            raise RecipeError(f"{where}.{key}", "one of " + ", ".join(known), show(key), hint=_key_hint(key, known))


def _key_hint(key: Any, known: Sequence[str]) -> str | None:
    """Did-you-mean for a misspelt key; YAML 1.1 turns bare on/off/yes/no keys into booleans."""
    if isinstance(key, bool):
        return "YAML reads a bare on/off/yes/no/true/false as a boolean: quote the key"
    return did_you_mean(str(key), known)


def _output(value: Any, where: str) -> OutputSpec:
    """Validate the ``output`` section."""
    value = _mapping(value, where)
    _check_keys(value, list(OUTPUT_PARAMS), where)
    return OutputSpec(**{k: p.validate(value[k], f"{where}.{k}") if k in value else p.default
                         for k, p in OUTPUT_PARAMS.items()})


def _classes(value: Any, where: str, ctx: _Context) -> dict[str, ClassRule]:
    """Validate per-class rules: ``{label: {exclude: [names], pipeline: [steps]}}``."""
    rules = {}
    for label, body in _mapping(value, where).items():
        here = f"{where}.{label}"
        body = _mapping(body, here)
        _check_keys(body, ["exclude", "pipeline"], here)
        excluded = body.get("exclude") or []
        if not isinstance(excluded, list):
            raise RecipeError(f"{here}.exclude", "a list of transform names", show(excluded))
        for i, name in enumerate(excluded):
            if not isinstance(name, str) or name not in REGISTRY:
                raise RecipeError(f"{here}.exclude[{i}]", "a transform name", show(name),
                                  hint=did_you_mean(str(name), list(REGISTRY)))
        extra = _steps(body["pipeline"], f"{here}.pipeline", ctx) if body.get("pipeline") else ()
        rules[str(label)] = ClassRule(frozenset(excluded), extra)
    return rules


def _steps(items: Any, where: str, ctx: _Context) -> tuple[Node, ...]:
    """Validate a list of steps."""
    if not isinstance(items, list):
        raise RecipeError(where, "a list of steps (each '- name: {params}')", show(items))
    return tuple(_step(item, f"{where}[{i}]", ctx) for i, item in enumerate(items))


def _step(item: Any, where: str, ctx: _Context) -> Node:
    """Validate one step: ``name``, ``name: {params}`` or a group."""
    ctx.count(where)
    if isinstance(item, str):
        name, body = item, None
    elif isinstance(item, Mapping) and len(item) == 1:
        name, body = next(iter(item.items()))
    else:
        raise RecipeError(where, "a one-key mapping 'name: {params}'", show(item) if not isinstance(
            item, Mapping) else f"{len(item)} keys ({', '.join(map(str, item))})")
    here = f"{where}.{name}"
    if not isinstance(name, str):
        raise RecipeError(where, "a transform name (see 'augcli transforms') or one_of, some_of, sequence",
                          show(name), hint=_key_hint(name, [*REGISTRY, *GROUPS]))
    if name in GROUPS:
        return _group(GROUPS[name], body, here, ctx)
    return _transform_step(name, body, where, ctx)


def _transform_step(name: str, body: Any, where: str, ctx: _Context) -> Step:
    """Validate a transform step; a custom one only when custom steps are allowed."""
    spec = REGISTRY.get(name)
    if spec is None:
        raise RecipeError(where, "a transform name (see 'augcli transforms') or one_of, some_of, sequence",
                          show(name), hint=did_you_mean(name, [*REGISTRY, *GROUPS]))
    if spec.cls.inputs > 1:
        raise RecipeError(where, "a single-image transform", show(name),
                          hint=f"'{name}' combines two images and is made by 'augcli balance', not by a recipe step")
    if name == "custom" and not ctx.allow_custom:
        raise RecipeError(where, "a step that runs no code named by the recipe", show(name), hint=CUSTOM_HINT)
    here = f"{where}.{name}"
    body = _mapping(body, here)
    p = P.validate(body.pop("p"), f"{here}.p") if "p" in body else P.default
    return Step(name, spec.build(body, here), p)


def _group(group: type[Group], body: Any, where: str, ctx: _Context) -> Group:
    """Validate ``sequence``, ``one_of`` or ``some_of`` (a list, or a mapping with ``of``) by its declaration."""
    listed = isinstance(body, list)
    body = _mapping({"of": body} if listed else body, where)
    _check_keys(body, ["of", *group.keywords], where)
    if "of" not in body:
        raise RecipeError(where, "'of: [steps]'", "no 'of'")
    children = _steps(body.pop("of"), where if listed else f"{where}.of", ctx)
    return group.build(children, body, where)


# ---------------------------------------------------------------- the balance section


def read_target(value: Any) -> str | int | float:
    """``max``, a count N in [1, MAX_TARGET] or a ratio in (0, 1], from text or a number.

    Raises:
        ValueError: with args (what was expected, the value as read).
    """
    if isinstance(value, str):
        text = value.strip().lower()
        if text == "max":
            return "max"
        value = _number_text(text, value)
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise ValueError(TARGET_EXPECTED, show(value))
    if isinstance(value, int):
        if not 1 <= value <= MAX_TARGET:
            raise ValueError(f"a number of images N >= 1 and at most {MAX_TARGET} (or max, or a ratio in (0, 1])",
                             show(value))
        return value
    if not 0.0 < value <= 1.0:
        raise ValueError("a ratio in (0, 1] of the largest class (or max, or a whole number N >= 1)", show(value))
    return float(value)


def _number_text(text: str, value: str) -> int | float:
    """An int or float written as text."""
    try:
        return int(text)
    except ValueError:
        try:
            return float(text)
        except ValueError:
            raise ValueError(TARGET_EXPECTED, show(value)) from None


def balance_section(value: Any, where: str = "balance") -> dict[str, Any]:
    """Validate a recipe's ``balance:`` section at load; class names in a target are checked against the data later."""
    section = _mapping(value, where)
    _check_keys(section, BALANCE_KEYS, where)
    if "target" in section:
        _balance_target(section["target"], f"{where}.target")
    method = section.get("method", "transforms")
    if method not in BALANCE_METHODS:
        raise RecipeError(f"{where}.method", "one of " + ", ".join(BALANCE_METHODS), f"{show(method)} instead",
                          hint=did_you_mean(str(method), BALANCE_METHODS))
    if not isinstance(section.get("undersample", False), bool):
        raise RecipeError(f"{where}.undersample", "true or false", f"{show(section['undersample'])} instead")
    return section


def _balance_target(value: Any, where: str) -> None:
    """A target: a scalar read by :func:`read_target`, or ``{class: N}``."""
    if not isinstance(value, Mapping):
        try:
            read_target(value)
        except ValueError:
            raise RecipeError(where, TARGET_EXPECTED + ", or {class: N}", f"{show(value)} instead") from None
        return
    for label, n in value.items():
        if isinstance(n, bool) or not isinstance(n, int) or not 1 <= n <= MAX_TARGET:
            raise RecipeError(f"{where}.{label}", f"a whole number of images N >= 1 and at most {MAX_TARGET}",
                              f"{show(n)} instead")
