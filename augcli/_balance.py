"""Class balancing: imblearn-style target resolution and the balance plan.

Targets are resolved once into sorted dicts, as imbalanced-learn's ``check_sampling_strategy``
does (``{label: n_new}``), plus the originals cut by ``--undersample``:

- ``max`` (default): every class reaches the largest class.
- an integer N >= 1: every class reaches N.
- a ratio in (0, 1]: every class reaches ``int(n_max * ratio)``, imblearn's float rounding
  (``int`` truncates, so 0.29 x 100 gives 28 because 0.29 * 100 is 28.999…).
- the recipe's ``balance: {target: {cat: 500}}`` sets totals per class. Named classes use their
  number; the classes not named follow ``--target`` when it is given (on the command line or as
  the recipe's scalar ``target``), and otherwise keep their count (imblearn's dict semantics).

A class above its target is kept whole, or with ``undersample`` cut to a seeded random subset of
its originals (as ``RandomUnderSampler``), so the result is exactly the target.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import numpy.typing as npt

from augcli.compose import Step
from augcli.dataset import Dataset, Source
from augcli.errors import InputError, RecipeError, did_you_mean, option, show
from augcli.recipe import BALANCE_METHODS, Recipe, balance_section, read_target
from augcli.registry import REGISTRY
from augcli.rng import generator, plan_seed
from augcli.sections import Layout, Plan, Wanted, group_key, make_sections, plain_name

SMOTE_NAME = "__smote"  # as augcli.smote.SMOTE_NAME (smote is imported only for SMOTE runs)

Target = str | int | float  # "max", a count N, or a ratio of the largest class
METHODS = BALANCE_METHODS  # the recipe's balance: section is validated at load, by augcli.recipe
MIXING = ("mixup", "cutmix")  # methods that end the recipe with a same-class multi-image step


def with_mixing(rec: Recipe, method: str) -> Recipe:
    """The recipe with a same-class ``mixup`` or ``cutmix`` step (p = 1) after its pipeline.

    A class with a single image has no partner: its top-ups are the recipe's transforms alone.
    """
    if rec.mixes():
        raise InputError(f"{option('method', method)}: expected a recipe without a multi-image step (the method "
                         "adds one), got one in the recipe; use method transforms, or remove the recipe's step")
    step = Step(method, REGISTRY[method].build({"partner": "same_class"}, f"{option('method', method)}"))
    return dataclasses.replace(rec, pipeline=(*rec.pipeline, step))
CHART = "balance.png"  # before/after bars, written into the output folder


@dataclass(frozen=True, slots=True, kw_only=True)
class Settings:
    """The balance options after merging the recipe's ``balance:`` section and the caller's."""

    target: Target | None  # None: not given (named classes only, others keep their count)
    per_class: Mapping[str, int]
    method: str
    undersample: bool


@dataclass(frozen=True, slots=True, kw_only=True)
class Targets:
    """Resolved targets, every dict sorted by class label."""

    before: dict[str, int]
    total: dict[str, int]  # wanted count per class
    add: dict[str, int]  # images to make, imblearn's sampling_strategy_ ({label: n_new}, n_new > 0)
    remove: dict[str, int]  # originals left out (undersample), n > 0


@dataclass(frozen=True, slots=True, kw_only=True)
class SmoteOptions:
    """Options passed through to ``augcli.smote.plan_smote``."""

    features: str = "pixels"
    variant: str = "smote"
    k_neighbors: int = 5

    def record(self) -> dict[str, Any]:
        """The run-record form."""
        return {"features": self.features, "variant": self.variant, "k_neighbors": self.k_neighbors}


@dataclass(frozen=True, slots=True, kw_only=True)
class BalancePlan:
    """What a balance run makes."""

    tasks: Plan  # made class by class when read
    targets: Targets
    notes: tuple[str, ...] = ()
    smote: Any = None  # the SmotePlan, for features.npz after the run


# ---------------------------------------------------------------- options


def parse_target(value: Any, where: str = option("target")) -> Target:
    """Read ``max``, an integer N >= 1 or a ratio in (0, 1] from text or a number."""
    try:
        return read_target(value)
    except ValueError as exc:
        expected, got = exc.args
        raise InputError(f"{where}: expected {expected}; got {got} instead") from None


def settings(rec: Recipe, classes: Sequence[str], *, target: Any = None, method: str | None = None,
             undersample: bool | None = None) -> Settings:
    """Merge the recipe's ``balance:`` section with the caller's options (the caller wins).

    The section is validated when the recipe loads (:func:`augcli.recipe.balance_section`); it is
    checked again here for a Recipe built in code, and its class names against ``classes``.
    """
    try:
        section = balance_section(rec.balance)
    except RecipeError as exc:
        raise rec.error(exc.where, exc.expected, exc.got, exc.hint) from None
    raw = section.get("target")
    per_class = _per_class(rec, raw, classes) if isinstance(raw, Mapping) else {}
    recipe_target = None if raw is None or isinstance(raw, Mapping) else read_target(raw)
    chosen = parse_target(target) if target is not None else recipe_target
    if chosen is None and not per_class:
        chosen = "max"
    if method is not None and method not in METHODS:
        raise InputError(f"{option('method')}: expected one of {', '.join(METHODS)}; got {method!r} instead")
    return Settings(target=chosen, per_class=per_class, method=method or str(section.get("method", "transforms")),
                    undersample=bool(undersample) or bool(section.get("undersample", False)))


def _per_class(rec: Recipe, raw: Mapping[Any, Any], classes: Sequence[str]) -> dict[str, int]:
    """``{class: N}`` with known classes (the counts were checked at load)."""
    out = {}
    for label, n in raw.items():
        if str(label) not in classes:
            raise rec.error(f"balance.target.{label}", "a class folder of the input (" + ", ".join(classes) + ")",
                            f"{show(label)} instead", hint=did_you_mean(str(label), classes))
        out[str(label)] = int(n)
    return dict(sorted(out.items()))


# ---------------------------------------------------------------- targets


def resolve(counts: Mapping[str, int], opts: Settings) -> Targets:
    """Resolve the settings against class counts into sorted ``total``, ``add`` and ``remove`` dicts."""
    before = dict(sorted(counts.items()))
    n_max = max(before.values())
    total = {}
    for label, n in before.items():
        if label in opts.per_class:
            want = opts.per_class[label]
        elif opts.target is None:
            want = n
        else:
            want = _TARGET_KIND[_kind(opts.target)](opts.target, n_max)
        total[label] = want if opts.undersample else max(want, n)
    add = {label: total[label] - n for label, n in before.items() if total[label] > n}
    remove = {label: n - total[label] for label, n in before.items() if total[label] < n}
    return Targets(before=before, total=total, add=add, remove=remove)


def idle_note(targets: Targets, opts: Settings) -> str | None:
    """What was probably meant when the targets add and remove nothing (``--target 1`` is one image per
    class, not the ratio 1.0); None when they change something. Options are marked (errors.option)."""
    if targets.add or targets.remove:
        return None
    n_max, n_min = max(targets.before.values()), min(targets.before.values())
    idle = "every class already has at least that many, so nothing is added or removed"
    ratio = f"{option('target', 1.0)} (a ratio: every class up to the largest, {n_max})"
    if opts.per_class or opts.target is None:
        return "every class's balance target is at or below its count, so nothing is added or removed"
    if isinstance(opts.target, int):
        means = f"{option('target', opts.target)} asks for {opts.target} image{'s' * (opts.target > 1)} per class"
        if n_min == n_max:
            return f"{means}: {idle} (the classes are balanced already, {n_max} each)"
        if opts.target == 1:
            return f"{means}: {idle}; did you mean {ratio}?"
        return (f"{means}: {idle}; to grow the smaller classes write a larger number (up to {n_max}, the largest) "
                f"or a ratio such as {ratio}; {option('undersample', True)} cuts larger classes down to "
                f"{opts.target}")
    if n_min == n_max:
        return f"every class already has {n_max} images: the classes are balanced, nothing is added"
    wanted = _TARGET_KIND[_kind(opts.target)](opts.target, n_max)
    return (f"{option('target', opts.target)} is {wanted} images ({opts.target} of the largest class, {n_max}): "
            f"{idle}; a larger ratio grows the classes below it, up to {ratio}")


def _kind(target: Target) -> str:
    """Which dispatch entry resolves a target."""
    return "max" if isinstance(target, str) else "count" if isinstance(target, int) else "ratio"


_TARGET_KIND = {
    "max": lambda target, n_max: n_max,
    "count": lambda target, n_max: int(target),
    "ratio": lambda target, n_max: int(n_max * target),  # imblearn: int(n_sample_majority * ratio - n)
}


def undersample(sources: Sequence[Source], keep: int, seed: int) -> list[Source]:
    """A seeded random subset of ``keep`` sources, in sorted order (as RandomUnderSampler)."""
    if keep >= len(sources):
        return list(sources)
    chosen = generator(seed).choice(len(sources), size=keep, replace=False)
    return [sources[int(i)] for i in sorted(chosen)]


def spread(extra: int, n: int, seed: int) -> list[int]:
    """Split ``extra`` over ``n`` sources: each gets floor or ceil of extra / n; a seeded subset gets ceil."""
    base, remainder = divmod(max(extra, 0), n)
    counts = [base] * n
    for i in generator(seed).permutation(n)[:remainder]:
        counts[int(i)] += 1
    return counts


# ---------------------------------------------------------------- plans


def plan_balance(data: Dataset, targets: Targets, *, seed: int, fmt: str, method: str = "transforms",
                 smote: SmoteOptions | None = None, workers: int | None = None) -> BalancePlan:
    """Plan a balance run: kept originals, transform top-ups, and SMOTE images when asked.

    The plan is made class by class when it is read (:class:`augcli.sections.Plan`): a class's kept
    subset (``undersample``) and its spread of copies are redrawn from their seeds each time.
    """
    by_transforms = dict(targets.add)
    pairs = None
    notes: tuple[str, ...] = ()
    if method == "smote" and targets.add:
        from augcli.smote import smote_pairs

        opts = smote or SmoteOptions()
        pairs = smote_pairs(data, dict(targets.add), recipe_seed=seed, features=opts.features, variant=opts.variant,
                            k_neighbors=opts.k_neighbors, workers=workers)
        by_transforms = {label: n for label, n in sorted(pairs.fallback.items()) if n > 0}
        notes = pairs.notes
    layouts = {label: _layout(len(data.sources.names(label)), targets.total[label] if label in targets.remove
                              else None, by_transforms.get(label, 0), seed, label) for label in data.classes}
    extra: dict[str, list[Wanted]] = {}
    for a, copy in pairs.wanted() if pairs else []:
        extra.setdefault(group_key(a.split("/", 1)[0]), []).append((a, SMOTE_NAME, f"{copy:03d}"))
    sections, namings = make_sections(
        data.classes, data.sources.names, layouts, original=True, kind="augmented", recipe_seed=seed, fmt=fmt,
        extra=extra, avoid=lambda label: [source.rel for source in data.sources.of(label)])
    smote_plan = None
    if pairs is not None:
        out_names = [_smote_name(namings[group_key(a.split("/", 1)[0])](), a, copy, fmt)
                     for a, copy in pairs.wanted()]
        smote_plan = pairs.named(out_names, seed)
    return BalancePlan(tasks=Plan(sections, smote_plan.tasks if smote_plan else ()), targets=targets, notes=notes,
                       smote=smote_plan)


def _layout(n: int, keep: int | None, extra: int, seed: int, label: str) -> Layout:
    """A class's kept sources (a seeded subset when it is cut to ``keep``) and the copies each makes."""
    subset = keep is not None and keep < n

    def kept() -> npt.NDArray[np.int64] | None:
        if not subset:
            return None
        chosen = generator(plan_seed(seed, "undersample", label)).choice(n, size=keep, replace=False)
        return np.sort(np.asarray(chosen, dtype=np.int64))  # as undersample(): in sorted order

    size = keep if subset and keep is not None else n
    return Layout(kept, lambda: np.asarray(spread(extra, size, plan_seed(seed, "balance", label)), dtype=np.int64))


def _smote_name(naming: Any, a: str, copy: int, fmt: str) -> str:
    """A SMOTE image's name: plain, or the one its group's own Namer gave."""
    word = f"{copy:03d}"
    return naming.generated(a, SMOTE_NAME, word) if naming else plain_name(a, SMOTE_NAME, word, fmt)
