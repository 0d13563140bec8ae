"""Recipes: YAML loaded with line marks, validated against the registry before any image is read."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace
from importlib import resources
from pathlib import Path
from typing import Any

import numpy as np
import yaml

import augcli.transforms  # noqa: F401  (fills the registry)
from augcli.compose import GROUP_PARAMS, Group, Node, Op, Shape, Step, sample_pipeline
from augcli.errors import RecipeError
from augcli.spec import REGISTRY, Choice, Number, _show, did_you_mean

DEFAULT_RECIPE = "default.yaml"
FORMATS = ("same", "jpg", "png", "webp")
TOP_KEYS = ("seed", "copies", "output", "pipeline", "classes", "balance")
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
        return RecipeError(where, expected, got, hint=hint).located(self.source, _line_for(where, self.lines))

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


def load_recipe(path: str | Path | None = None) -> Recipe:
    """Load and validate a recipe file; None loads the packaged default recipe."""
    if path is None:
        return parse_recipe(packaged_recipe(DEFAULT_RECIPE), source=f"<default recipe {DEFAULT_RECIPE}>")
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise RecipeError("--recipe", "an existing recipe file", str(path)) from None
    except (OSError, UnicodeDecodeError) as exc:
        raise RecipeError("--recipe", "a readable UTF-8 YAML file", f"{path} ({exc})") from None
    return parse_recipe(text, source=str(path))


def packaged_recipe(name: str) -> str:
    """Text of a recipe shipped in the wheel (``augcli.configs``), or in configs/ of a source checkout."""
    try:
        return resources.files("augcli.configs").joinpath(name).read_text(encoding="utf-8")
    except ModuleNotFoundError:  # running from a source tree that is not installed in editable mode
        return (Path(__file__).resolve().parent.parent / "configs" / name).read_text(encoding="utf-8")


def parse_recipe(text: str, source: str = "<recipe>") -> Recipe:
    """Parse YAML text into a validated Recipe; errors name the file, line and step path."""
    data, lines = _load_yaml(text, source)
    try:
        return replace(_build(data, source), lines=lines)
    except RecipeError as exc:
        raise exc.located(source, _line_for(exc.where, lines)) from None


def _load_yaml(text: str, source: str) -> tuple[Any, dict[str, int]]:
    """Compose YAML keeping each node's line, keyed by the dotted path validation reports."""
    loader = yaml.SafeLoader(text)
    try:
        node = loader.get_single_node()
        lines: dict[str, int] = {}
        if node is not None:
            _walk(node, "", lines, loader, source)
        data = loader.construct_document(node) if node is not None else None
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        problem = getattr(exc, "problem", None) or str(exc)
        raise RecipeError("recipe", "valid YAML", problem, source=source,
                          line=mark.line + 1 if mark else None) from None
    finally:
        loader.dispose()
    return data, lines


def _walk(node: yaml.Node, path: str, lines: dict[str, int], loader: yaml.SafeLoader, source: str) -> None:
    """Record the line of every path below ``node`` and refuse duplicate keys."""
    lines.setdefault(path, node.start_mark.line + 1)
    if isinstance(node, yaml.MappingNode):
        seen: set[Any] = set()
        for key_node, value_node in node.value:
            key = loader.construct_object(key_node)
            sub = f"{path}.{key}" if path else str(key)
            if key in seen:
                raise RecipeError(sub, "each key once", "it twice", source=source,
                                  line=key_node.start_mark.line + 1)
            seen.add(key)
            lines[sub] = key_node.start_mark.line + 1
            _walk(value_node, sub, lines, loader, source)
    elif isinstance(node, yaml.SequenceNode):
        for i, item in enumerate(node.value):
            _walk(item, f"{path}[{i}]", lines, loader, source)


def _line_for(where: str, lines: Mapping[str, int]) -> int | None:
    """The line of the longest known prefix of a dotted path."""
    while where:
        if where in lines:
            return lines[where]
        cut = max(where.rfind("."), where.rfind("["))
        where = where[:cut] if cut > 0 else ""
    return lines.get("")


def _build(data: Any, source: str) -> Recipe:
    """Validate the top level and build the Recipe."""
    if data is None:
        data = {}
    if not isinstance(data, Mapping):
        raise RecipeError("recipe", "a mapping with keys " + ", ".join(TOP_KEYS), _show(data))
    for key in data:
        if key not in TOP_KEYS:
            raise RecipeError(str(key), "a recipe key (" + ", ".join(TOP_KEYS) + ")", _show(key),
                              hint=_key_hint(key, TOP_KEYS))
    pipeline = data.get("pipeline")
    if pipeline is None:
        raise RecipeError("pipeline", "a list of steps", "nothing", hint="add 'pipeline:' with at least one step")
    return Recipe(
        pipeline=_steps(pipeline, "pipeline"),
        seed=SEED.validate(data["seed"], "seed") if "seed" in data else 0,
        copies=COPIES.validate(data["copies"], "copies") if "copies" in data else COPIES.default,
        output=_output(data.get("output"), "output"),
        classes=_classes(data.get("classes"), "classes"),
        balance=_mapping(data.get("balance"), "balance"),
        source=source,
    )


def _mapping(value: Any, where: str) -> dict[str, Any]:
    """A mapping, or an empty one for nothing."""
    if value is None:
        return {}
    if not isinstance(value, Mapping):
        raise RecipeError(where, "a mapping", _show(value))
    return dict(value)


def _check_keys(value: Mapping[str, Any], known: Sequence[str], where: str) -> None:
    """Refuse unknown keys, with a did-you-mean."""
    for key in value:
        if key not in known:
            raise RecipeError(f"{where}.{key}", "one of " + ", ".join(known), _show(key), hint=_key_hint(key, known))


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


def _classes(value: Any, where: str) -> dict[str, ClassRule]:
    """Validate per-class rules: ``{label: {exclude: [names], pipeline: [steps]}}``."""
    rules = {}
    for label, body in _mapping(value, where).items():
        here = f"{where}.{label}"
        body = _mapping(body, here)
        _check_keys(body, ["exclude", "pipeline"], here)
        excluded = body.get("exclude") or []
        if not isinstance(excluded, list):
            raise RecipeError(f"{here}.exclude", "a list of transform names", _show(excluded))
        for i, name in enumerate(excluded):
            if name not in REGISTRY:
                raise RecipeError(f"{here}.exclude[{i}]", "a transform name", _show(name),
                                  hint=did_you_mean(str(name), list(REGISTRY)))
        extra = _steps(body["pipeline"], f"{here}.pipeline") if body.get("pipeline") else ()
        rules[str(label)] = ClassRule(frozenset(excluded), extra)
    return rules


def _steps(items: Any, where: str) -> tuple[Node, ...]:
    """Validate a list of steps."""
    if not isinstance(items, list):
        raise RecipeError(where, "a list of steps (each '- name: {params}')", _show(items))
    return tuple(_step(item, f"{where}[{i}]") for i, item in enumerate(items))


def _step(item: Any, where: str) -> Node:
    """Validate one step: ``name``, ``name: {params}`` or a group."""
    if isinstance(item, str):
        name, body = item, None
    elif isinstance(item, Mapping) and len(item) == 1:
        name, body = next(iter(item.items()))
    else:
        raise RecipeError(where, "a one-key mapping 'name: {params}'", _show(item) if not isinstance(
            item, Mapping) else f"{len(item)} keys ({', '.join(map(str, item))})")
    here = f"{where}.{name}"
    if name in GROUP_PARAMS:
        return _group(name, body, here)
    spec = REGISTRY.get(name)
    if spec is None:
        raise RecipeError(where, "a transform name (see 'augcli transforms') or one_of, some_of, sequence",
                          _show(name), hint=did_you_mean(str(name), [*REGISTRY, *GROUP_PARAMS]))
    if spec.cls.inputs > 1:
        raise RecipeError(where, "a single-image transform", _show(name),
                          hint=f"'{name}' combines two images and is made by 'augcli balance', not by a recipe step")
    body = _mapping(body, here)
    p = GROUP_PARAMS["sequence"]["p"].validate(body.pop("p"), f"{here}.p") if "p" in body else 1.0
    return Step(name, spec.build(body, here), p)


def _group(kind: str, body: Any, where: str) -> Group:
    """Validate ``sequence``, ``one_of`` or ``some_of`` (a list, or a mapping with ``of``)."""
    listed = isinstance(body, list)
    body = _mapping({"of": body} if listed else body, where)
    known = ["of", *GROUP_PARAMS[kind]]
    _check_keys(body, known, where)
    if "of" not in body:
        raise RecipeError(where, "'of: [steps]'", "no 'of'")
    children = _steps(body["of"], where if listed else f"{where}.of")
    p = GROUP_PARAMS[kind]["p"].validate(body["p"], f"{where}.p") if "p" in body else 1.0
    weights = _weights(body.get("weights"), len(children), f"{where}.weights")
    n = (1, 1)
    if kind == "some_of":
        n = GROUP_PARAMS[kind]["n"].validate(body.get("n", [1, len(children)]), f"{where}.n")
        if n[1] > len(children):
            raise RecipeError(f"{where}.n", f"at most {len(children)} (the number of steps in 'of')", _show(body["n"]))
    random_order = GROUP_PARAMS["some_of"]["random_order"].validate(body.get("random_order", False),
                                                                      f"{where}.random_order")
    return Group(kind, children, p, weights, n, random_order)


def _weights(value: Any, count: int, where: str) -> tuple[float, ...] | None:
    """Validate one_of weights: one non-negative number per step, not all zero."""
    if value is None:
        return None
    ok = isinstance(value, list) and len(value) == count
    ok = ok and all(isinstance(v, int | float) and not isinstance(v, bool) and v >= 0 for v in value)
    if not ok or sum(value) <= 0:
        raise RecipeError(where, f"{count} non-negative numbers, not all 0 (one per step)", _show(value))
    return tuple(float(v) for v in value)
