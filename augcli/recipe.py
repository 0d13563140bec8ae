"""Recipes: validated against the registry before any image is read.

The YAML is read with its limits and line marks by :mod:`augcli.recipe_yaml`; this module builds
and validates the recipe from the data, placing every error on its line.
"""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from importlib import resources
from pathlib import Path
from typing import Any

import numpy as np

from augcli.compose import GROUPS, Group, Node, Op, Partners, Shape, Step, is_mix, sample_pipeline
from augcli.errors import RecipeError, did_you_mean, option, show
from augcli.params import Choice, Flag, Number, P
from augcli.recipe_kinds import Section, Target, check_keys, key_hint, mapping
from augcli.recipe_kinds import read_target as read_target  # re-exported: balancing reads targets through it
from augcli.recipe_yaml import MAX_CHARS, line_for, load_yaml
from augcli.recipe_yaml import MAX_DEPTH as MAX_DEPTH  # re-exported: the limits are the recipe's
from augcli.recipe_yaml import MAX_NODES as MAX_NODES
from augcli.registry import REGISTRY
from augcli.tta import Variant, tta_section

DEFAULT_RECIPE = "default.yaml"
FORMATS = ("same", "jpg", "png", "webp")
TOP_KEYS = ("seed", "copies", "output", "pipeline", "classes", "balance", "tta")
MAX_STEPS = 1_000  # steps and groups in the whole recipe, per-class pipelines included
CUSTOM_HINT = (f"custom steps run Python code named by the recipe; refused because "
               f"{option('allow_custom', False)} was given")
BALANCE_METHODS = ("transforms", "smote", "mixup", "cutmix")
SEED = Number(0, bounds=(0, 2**63 - 1), integer=True, doc="recipe seed")
COPIES = Number(4, bounds=(1, 100000), integer=True, doc="augmented copies per input image")
OUTPUT = Section({
    "format": Choice("same", FORMATS, doc="file format of generated images (same: as the source)"),
    "quality": Number(95, bounds=(1, 100), integer=True, doc="JPEG / WebP quality"),
})
BALANCE = Section({
    "target": Target(doc="the count every class reaches (default: the largest class's)"),
    "method": Choice("transforms", BALANCE_METHODS,
                     doc="how images are made: augmented copies, SMOTE blends, or copies mixed with a partner of "
                         "their class (mixup, cutmix)"),
    "undersample": Flag(False, doc="cut classes above the target to a random subset of their originals"),
})


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
    tta: tuple[Variant, ...] | None = None  # the test-time set of ``tta:`` (None: no section); not in to_data
    source: str = "<recipe>"
    lines: Mapping[str, int] = field(default_factory=dict, compare=False, repr=False)
    text: str | None = field(default=None, compare=False, repr=False)  # the YAML it was parsed from, comments kept
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

    def mixes(self) -> bool:
        """True when a pipeline has a multi-image step (its partners come from the whole input tree)."""
        return any(is_mix(node) for node in self.pipeline) or any(
            is_mix(node) for rule in self.classes.values() for node in rule.extra)

    def sample(self, rng: np.random.Generator, shape: Shape, label: str | None = None,
               partners: Partners | None = None) -> list[Op]:
        """Draw the ops for one output image (a multi-image step draws from ``partners``)."""
        return sample_pipeline(self.pipeline_for(label), rng, shape, partners)

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


def load_recipe(path: str | Path | None = None, *, allow_custom: bool = True, what: str = "recipe") -> Recipe:
    """Load and validate a recipe: a file, or a bundled recipe by name (see :func:`resolve`); None loads the
    packaged default recipe. ``what`` is the option that named it, for messages (``then_recipe``).

    With ``allow_custom=False`` a ``custom`` step is refused before any module is imported.
    """
    if path is None:
        return parse_recipe(packaged_recipe(DEFAULT_RECIPE), source=f"<default recipe {DEFAULT_RECIPE}>",
                            allow_custom=allow_custom)
    found = resolve(path, what)
    if isinstance(found, Auto):  # the API resolves it where the input is known (api._as_recipe)
        raise RecipeError(option(what), "a recipe file or a bundled recipe name here",
                          f"{show(AUTO)}, which needs an input tree to suggest a recipe from",
                          hint="pass the recipe to expand, balance or preview, or write one with `augcli suggest`")
    if isinstance(found, Bundled):
        return parse_recipe(found.text(), source=found.source, allow_custom=allow_custom)
    return parse_recipe(_read(found, what), source=str(path), allow_custom=allow_custom)


def _read(path: Path, what: str = "recipe") -> str:
    """A recipe file's text; at most one character past the limit is read, whatever the file is."""
    try:
        with path.open(encoding="utf-8") as handle:
            return handle.read(MAX_CHARS + 1)
    except FileNotFoundError:
        raise RecipeError(option(what), "an existing recipe file", str(path)) from None
    except (OSError, UnicodeDecodeError) as exc:
        raise RecipeError(option(what), "a readable UTF-8 YAML file", f"{path} ({exc})") from None


# ---------------------------------------------------------------- recipes by name

AUTO = "auto"  # reserved for a recipe chosen from the data (``--recipe auto``); never the name of a bundled recipe
_NAME = re.compile(r"[A-Za-z0-9_-]+")  # what a bundled recipe's name looks like: no folder, no suffix


@dataclass(frozen=True, slots=True)
class Bundled:
    """A recipe shipped with augcli (``configs/NAME.yaml``, installed as ``augcli.configs``), by name."""

    name: str

    @property
    def source(self) -> str:
        """How messages and the run record name it."""
        return f"<bundled recipe {self.name}>"

    def text(self) -> str:
        """The recipe's YAML, comments included."""
        return packaged_recipe(f"{self.name}.yaml")

    def purpose(self) -> str:
        """The recipe's one-line purpose: its first line, ``# NAME: purpose``."""
        first = self.text().partition("\n")[0].lstrip("# ").strip()
        return first.split(": ", 1)[1] if first.startswith(f"{self.name}: ") else first


@dataclass(frozen=True, slots=True)
class Auto:
    """``--recipe auto``: a recipe chosen from the input tree by ``augcli.suggest`` (resolved by the API, which
    knows the input; this module cannot read images)."""

    source = "<recipe auto: suggested from the input>"


def resolve(spec: str | Path, what: str = "recipe") -> Path | Bundled | Auto:
    """What a recipe option names: an existing file (it always wins), else a bundled recipe by its bare name.

    Raises:
        RecipeError: neither; for a bare name the message lists the bundled names with a did-you-mean.
    """
    path = Path(spec)
    kind = _kind(path)
    if kind == "file":
        return path
    text = str(spec)
    if text == AUTO:
        return Auto()
    names = bundled_names()
    if _NAME.fullmatch(text) and text in names:
        return Bundled(text)
    folder = " (a folder)" if kind == "folder" else ""
    if not _NAME.fullmatch(text):  # a path: light.yaml or configs/light.yaml, not where it was looked for
        hint = f"for the bundled recipe pass {option(what, path.stem)}" if path.stem in names else None
        raise RecipeError(option(what), "an existing recipe file", str(path) + folder, hint=hint)
    raise RecipeError(option(what), f"an existing recipe file or a bundled recipe name ({', '.join(names)})",
                      show(text) + folder, hint=did_you_mean(text, names))


def _kind(path: Path) -> str | None:
    """``file`` when ``path`` exists and is not a folder (a link to a file too), ``folder``, or None (also for
    names the system refuses: too long, a NUL byte)."""
    try:
        return None if not path.exists() else "folder" if path.is_dir() else "file"
    except (OSError, ValueError):
        return None


def bundled_names() -> list[str]:
    """The names of the recipes shipped with augcli, sorted."""
    return sorted(entry.name[: -len(".yaml")] for entry in _configs().iterdir() if entry.name.endswith(".yaml"))


def bundled(name: str) -> Bundled:
    """A bundled recipe by its name (``augcli recipes show NAME``).

    Raises:
        RecipeError: no bundled recipe has that name (with the names and a did-you-mean).
    """
    names = bundled_names()
    if name not in names:
        raise RecipeError("recipes show", f"a bundled recipe name ({', '.join(names)})", show(name),
                          hint=did_you_mean(name, names))
    return Bundled(name)


def _configs() -> Any:
    """The folder of bundled recipes: configs/ of the source checkout this package was imported from, else the
    installed ``augcli.configs`` (an editable install of another checkout would otherwise lend its own)."""
    root = Path(__file__).resolve().parent.parent
    if (root / "pyproject.toml").is_file() and (root / "configs" / DEFAULT_RECIPE).is_file():
        return root / "configs"
    return resources.files("augcli.configs")


def packaged_recipe(name: str) -> str:
    """Text of a recipe shipped in the wheel (``augcli.configs``), or in configs/ of a source checkout."""
    return str(_configs().joinpath(name).read_text(encoding="utf-8"))


def parse_recipe(text: str, source: str = "<recipe>", *, allow_custom: bool = True) -> Recipe:
    """Parse YAML text into a validated Recipe; errors name the file, line and step path.

    The text is untrusted: alias expansion, nesting, the number of steps and every number are
    bounded, and with ``allow_custom=False`` a ``custom`` step is refused before anything is imported.
    """
    data, lines = load_yaml(text, source)
    try:
        return replace(_build(data, source, _Context(allow_custom=allow_custom)), lines=lines, text=text)
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
                              hint=key_hint(key, TOP_KEYS))
    pipeline = data.get("pipeline", [] if "tta" in data else None)  # a test-time recipe needs no pipeline
    if pipeline is None:
        raise RecipeError("pipeline", "a list of steps", "nothing", hint="add 'pipeline:' with at least one step")
    steps = _steps(pipeline, "pipeline", ctx)
    classes = _classes(data.get("classes"), "classes", ctx)
    _one_mix("pipeline", steps)
    for label, rule in classes.items():
        _one_mix(f"classes.{label}.pipeline", steps + rule.extra, len(steps))
    return Recipe(
        seed=int(SEED.validate(data.get("seed", SEED.default), "seed")),  # integer kinds give ints
        copies=int(COPIES.validate(data.get("copies", COPIES.default), "copies")),
        output=_output(data.get("output"), "output"),
        balance=balance_section(data.get("balance")),
        pipeline=steps,
        classes=classes,
        tta=tta_section(data["tta"], "tta", lambda item, where: _step(item, where, ctx)) if "tta" in data else None,
        source=source,
    )


def _output(value: Any, where: str) -> OutputSpec:
    """Validate the ``output`` section."""
    return OutputSpec(**OUTPUT.validate(value, where))


def _one_mix(where: str, steps: tuple[Node, ...], offset: int = 0) -> None:
    """At most one multi-image step per pipeline: each gives the first image at least half of the result,
    so one keeps its class the soft label's largest (two could hand the lead to a partner's class)."""
    mixes = [i for i, node in enumerate(steps) if is_mix(node)]
    if len(mixes) > 1:
        second = steps[mixes[1]]
        assert isinstance(second, Step)
        raise RecipeError(f"{where}[{mixes[1] - offset}]", "at most one multi-image step per pipeline",
                          show(second.name), hint="keep one of mixup, sample_pairing, cutmix and mosaic")


def _classes(value: Any, where: str, ctx: _Context) -> dict[str, ClassRule]:
    """Validate per-class rules: ``{label: {exclude: [names], pipeline: [steps]}}``."""
    rules = {}
    for label, body in mapping(value, where).items():
        here = f"{where}.{label}"
        body = mapping(body, here)
        check_keys(body, ["exclude", "pipeline"], here)
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
                          show(name), hint=key_hint(name, [*REGISTRY, *GROUPS]))
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
    if spec.cls.planned:
        raise RecipeError(where, "a transform a recipe can ask for", show(name),
                          hint=f"'{name}' is recorded by augcli itself (see 'augcli transforms {name}')")
    if name == "custom" and not ctx.allow_custom:
        raise RecipeError(where, "a step that runs no code named by the recipe", show(name), hint=CUSTOM_HINT)
    here = f"{where}.{name}"
    body = mapping(body, here)
    p = P.validate(body.pop("p"), f"{here}.p") if "p" in body else P.default
    return Step(name, spec.build(body, here), p)


def _group(group: type[Group], body: Any, where: str, ctx: _Context) -> Group:
    """Validate ``sequence``, ``one_of`` or ``some_of`` (a list, or a mapping with ``of``) by its declaration."""
    listed = isinstance(body, list)
    body = mapping({"of": body} if listed else body, where)
    check_keys(body, ["of", *group.keywords], where)
    if "of" not in body:
        raise RecipeError(where, "'of: [steps]'", "no 'of'")
    children = _steps(body.pop("of"), where if listed else f"{where}.of", ctx)
    for i, child in enumerate(children):
        if is_mix(child):
            assert isinstance(child, Step)
            raise RecipeError(f"{where if listed else f'{where}.of'}[{i}]", "a single-image step inside a group",
                              show(child.name), hint=f"'{child.name}' mixes images: make it a step of the pipeline "
                              "itself (at most one per pipeline)")
    return group.build(children, body, where)


# ---------------------------------------------------------------- the balance section


def balance_section(value: Any, where: str = "balance") -> dict[str, Any]:
    """Validate a recipe's ``balance:`` section at load; class names in a target are checked against the data later.

    Its messages end in 'instead', as those of the balance options (``--target``, ``--method``) do.
    """
    section = mapping(value, where)
    check_keys(section, list(BALANCE.keys), where)
    try:
        return BALANCE.validate(section, where)
    except RecipeError as exc:  # a value's error: the keys were checked above
        raise RecipeError(exc.where, exc.expected, f"{exc.got} instead", hint=exc.hint) from None
