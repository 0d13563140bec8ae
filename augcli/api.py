"""The Python API. The CLI is a thin layer over these functions; a training loop can call them too.

Every function takes keyword options and returns a frozen result. None of them prints or exits:
they raise :class:`augcli.errors.AugcliError` subclasses, return results, or call ``progress``.
"""

from __future__ import annotations

import os
from collections import Counter
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from augcli import __version__
from augcli import recipe as _recipe
from augcli.compose import Op
from augcli.conventions import fixed_values
from augcli.dataset import Dataset, scan
from augcli.errors import InputError, did_you_mean
from augcli.io import DEFAULT_MAX_PIXELS
from augcli.manifest import RunRecord
from augcli.ops._image import Image
from augcli.outdir import check_folders
from augcli.plan import SourcePlan, count_outputs, expand_items, plan_tasks
from augcli.recipe import Recipe
from augcli.render import render
from augcli.rng import generator
from augcli.run import Context, Progress, RunStats, run_plan

RecipeLike = Recipe | str | Path | None


@dataclass(frozen=True)
class Augmented:
    """One augmented image and the ops that made it."""

    image: Image
    ops: list[Op]


@dataclass(frozen=True)
class RunResult:
    """What a run made."""

    output: Path
    planned: int
    made: int
    kept: int
    skipped: int
    stale: int  # outputs of an earlier run removed because their source moved, changed or left the plan
    errors: tuple[tuple[str, str], ...]  # (input path, reason): unreadable images and files the scan left out
    before: Mapping[str, int]
    after: Mapping[str, int]
    fixed: tuple[str, ...] = field(default=(), kw_only=True)  # range parameters the recipe gives as one value

    @property
    def manifest(self) -> Path:
        """Path of the manifest."""
        return self.output / "manifest.csv"


DEFAULT_MAX_OUTPUTS = 1_000_000
MAX_COPIES = 100_000  # as a recipe's ``copies``
MAX_SEED = 2**63 - 1  # as a recipe's ``seed``
MAX_WORKERS = 256


def load_recipe(path: str | Path | None = None, *, allow_custom: bool = True) -> Recipe:
    """Load and validate a recipe; None gives the packaged default recipe.

    Args:
        path: a recipe file, or None for the packaged default.
        allow_custom: False refuses ``custom`` steps (they import and run the Python module a recipe
            names) before anything is imported: use it for recipes from others.

    Raises:
        RecipeError: naming the file, line and step path of the problem.
    """
    return _recipe.load_recipe(path, allow_custom=allow_custom)


def _as_recipe(recipe: RecipeLike, allow_custom: bool = True) -> Recipe:
    """Accept a Recipe, a path or None (the default recipe)."""
    if isinstance(recipe, Recipe):
        if not allow_custom and _names_custom(recipe.to_data()):
            raise InputError(f"recipe {recipe.source} has a custom step, which runs Python code; "
                             "refused because custom steps are not allowed (--no-custom)")
        return recipe
    return _recipe.load_recipe(recipe, allow_custom=allow_custom)


def _names_custom(data: Any) -> bool:
    """True when canonical recipe data holds a ``custom`` step anywhere."""
    if isinstance(data, dict):
        return "custom" in data or any(_names_custom(v) for v in data.values())
    if isinstance(data, list):
        return any(_names_custom(v) for v in data)
    return False


def _check_number(option: str, value: int | None, least: int, most: int, hint: str = "") -> None:
    """An option stays within the same bounds a recipe has, before anything is planned."""
    if value is not None and not least <= value <= most:
        raise InputError(f"{option}: expected an integer in [{least}, {most}], got {value}{hint}")


def _check_total(total: int, max_outputs: int | None, what: str) -> None:
    """A plan above ``max_outputs`` files needs the limit raised explicitly."""
    if max_outputs is not None and total > max_outputs:
        raise InputError(f"{what} would write {total:,} files, more than --max-outputs {max_outputs:,}; "
                         f"pass --max-outputs {total} if that is really meant")


def _as_image(image: Image, what: str) -> tuple[Image, bool]:
    """An (H, W, C) view of an (H, W) or (H, W, C) uint8/uint16 array, and whether it was (H, W)."""
    array = np.asarray(image)
    squeeze = array.ndim == 2
    if squeeze:
        array = array[:, :, np.newaxis]
    if array.ndim != 3 or array.shape[2] not in (1, 3, 4) or array.dtype not in (np.uint8, np.uint16):
        raise InputError(f"{what}: expected an (H, W[, C]) uint8 or uint16 image with C in 1, 3, 4; "
                         f"got {array.dtype} {array.shape}")
    return array, squeeze


def augment(image: Image, recipe: RecipeLike = None, *, seed: int = 0, label: str | None = None) -> Augmented:
    """Apply a recipe to one image with a seed; the same seed gives the same image and ops.

    Args:
        image: (H, W) or (H, W, C) uint8/uint16 array, C in 1, 3, 4 (BGR order, as OpenCV).
        recipe: a Recipe, a recipe path, or None for the default recipe.
        seed: any non-negative integer.
        label: class name, for per-class rules in the recipe.

    Returns:
        The augmented image (same dtype and channel count) and the ops applied.
    """
    rec = _as_recipe(recipe)
    array, squeeze = _as_image(image, "augment")
    ops = rec.sample(generator(seed), array.shape, label)
    out = render(array, ops)
    return Augmented(out[:, :, 0] if squeeze else out, ops)


def replay_ops(image: Image, ops: list[Op]) -> Image:
    """Apply recorded ops (from a manifest row) to an image: no recipe, no randomness.

    Takes the same (H, W) or (H, W, C) arrays as :func:`augment` and returns the same layout.
    """
    array, squeeze = _as_image(image, "replay_ops")
    out = render(array, ops)
    return out[:, :, 0] if squeeze else out


def _workers(workers: int | None) -> int:
    """Default worker count: the cores this process may use."""
    if workers is None:
        try:
            return len(os.sched_getaffinity(0))
        except AttributeError:  # pragma: no cover - not Linux
            return os.cpu_count() or 1
    _check_number("--workers", workers, 1, MAX_WORKERS)
    return workers


def _check_class_rules(rec: Recipe, data: Dataset) -> None:
    """Per-class rules must name classes that exist in the input."""
    for label in rec.classes:
        if label not in data.classes:
            raise rec.error(f"classes.{label}", "a class folder of the input (" + ", ".join(data.classes) + ")",
                            repr(label), hint=did_you_mean(label, data.classes))


def _run(data: Dataset, output: Path, rec: Recipe, items: list[SourcePlan], seed: int, record: dict[str, Any],
         workers: int | None, overwrite: bool, progress: Progress | None, max_pixels: int | None) -> RunResult:
    """Plan, run and summarise."""
    check_folders(data.root, output)
    tasks = plan_tasks(items, seed, rec.output.format)
    ctx = Context(in_root=data.root, out_root=output, recipe=rec, max_pixels=max_pixels)
    stats: RunStats = run_plan(tasks, ctx, record=_record(record, data, rec, seed, tasks, max_pixels),
                               workers=_workers(workers), overwrite=overwrite, errors=data.problems,
                               progress=progress)
    before = Counter(s.label for s in data.sources)
    after = Counter(row.label for row in stats.rows)
    return RunResult(output, stats.planned, stats.made, stats.kept, stats.skipped, stats.stale, stats.errors,
                     {c: before[c] for c in data.classes}, {c: after[c] for c in data.classes},
                     fixed=tuple(fixed_values(rec)))


def _record(record: dict[str, Any], data: Dataset, rec: Recipe, seed: int, tasks: list[Any],
            max_pixels: int | None) -> RunRecord:
    """The run record: what decides the outputs, plus the version and input folder."""
    options = dict(record)
    return RunRecord(command=options.pop("command"), seed=seed, recipe=rec.to_data(), recipe_digest=rec.digest(),
                     max_pixels=max_pixels, options=options, input=str(data.root.resolve()),
                     planned=count_outputs(tasks), augcli_version=__version__)


def expand(
    input: str | Path,
    output: str | Path,
    *,
    recipe: RecipeLike = None,
    copies: int | None = None,
    seed: int | None = None,
    workers: int | None = None,
    originals: bool = True,
    overwrite: bool = False,
    max_pixels: int | None = DEFAULT_MAX_PIXELS,
    max_outputs: int | None = DEFAULT_MAX_OUTPUTS,
    allow_custom: bool = True,
    progress: Progress | None = None,
) -> RunResult:
    """Write ``copies`` augmented images per input image, plus the originals, and a manifest.

    Args:
        input: ImageFolder tree (one sub-folder per class).
        output: folder to write; an earlier run of the same plan there is resumed.
        recipe: Recipe, recipe path, or None for the default recipe.
        copies: augmented images per input (default: the recipe's ``copies``).
        seed: overrides the recipe's seed.
        workers: processes (default: the available cores).
        originals: copy the input images beside the augmented ones.
        overwrite: replace an earlier run with other settings in ``output`` (only files it recorded and
            that are unchanged are removed; a folder holding no augcli run is always refused).
        max_pixels: refuse input images whose header claims more pixels (None: no limit).
        max_outputs: refuse a plan writing more files than this (None: no limit).
        allow_custom: False refuses recipes with ``custom`` steps (they run Python code).
        progress: called with (outputs just finished, outputs planned).

    Returns:
        Counts of what was planned, made, kept from an earlier run, skipped, and stale outputs removed.
    """
    _check_options(copies=copies, seed=seed, workers=workers, max_pixels=max_pixels, max_outputs=max_outputs)
    rec = _as_recipe(recipe, allow_custom)
    data = scan(input)
    _check_class_rules(rec, data)
    n = rec.copies if copies is None else copies
    _check_total(len(data.sources) * (n + int(originals)), max_outputs, f"expand with {n} copies")
    run_seed = rec.seed if seed is None else seed
    record = {"command": "expand", "copies": n, "originals": originals}
    return _run(data, Path(output), rec, expand_items(data.sources, n, originals), run_seed, record,
                workers, overwrite, progress, max_pixels)


def _check_options(*, copies: int | None = None, seed: int | None = None, workers: int | None = None,
                   max_pixels: int | None = None, max_outputs: int | None = None,
                   k_neighbors: int | None = None) -> None:
    """Every numeric option within its documented bounds, before the input is read."""
    _check_number("--copies", copies, 0, MAX_COPIES)
    _check_number("--seed", seed, 0, MAX_SEED)
    _check_number("--workers", workers, 1, MAX_WORKERS)
    _check_number("--max-pixels", max_pixels, 1, 2**40)
    _check_number("--max-outputs", max_outputs, 1, 2**40)
    _check_number("--k-neighbors", k_neighbors, 1, 1000)


@dataclass(frozen=True)
class BalanceResult(RunResult):
    """What a balance run made, per class: the targets, images added and originals left out."""

    target: Mapping[str, int]
    added: Mapping[str, int]
    removed: Mapping[str, int]
    chart: Path
    notes: tuple[str, ...] = ()


def balance(
    input: str | Path,
    output: str | Path,
    *,
    recipe: RecipeLike = None,
    target: str | int | float | None = None,
    method: str | None = None,
    undersample: bool = False,
    seed: int | None = None,
    workers: int | None = None,
    features: str | Path | None = None,
    smote: str | None = None,
    k_neighbors: int | None = None,
    then_recipe: RecipeLike = None,
    overwrite: bool = False,
    max_pixels: int | None = DEFAULT_MAX_PIXELS,
    max_outputs: int | None = DEFAULT_MAX_OUTPUTS,
    allow_custom: bool = True,
    progress: Progress | None = None,
) -> BalanceResult:
    """Write the balanced dataset: the originals kept plus synthetic images, with a manifest and balance.png.

    Args:
        input: ImageFolder tree (one sub-folder per class).
        output: folder to write; an earlier run of the same plan there is resumed.
        recipe: Recipe, recipe path, or None for the default recipe (its ``balance:`` section gives defaults).
        target: "max" (every class reaches the largest), an integer N, or a ratio in (0, 1] of the
            largest class (``int(n_max * ratio)``, as imbalanced-learn); default: the recipe's, else max.
        method: "transforms" (recipe-augmented copies, spread evenly over a class's sources) or "smote".
        undersample: cut classes above the target to a seeded random subset of their originals.
        seed: overrides the recipe's seed.
        workers: processes (default: the available cores).
        features, smote, k_neighbors, then_recipe: SMOTE options (``method="smote"`` only): the feature
            space (pixels, hog, color_hist or an embeddings .npz), the variant, the neighbours, and a
            recipe applied after each blend.
        overwrite: replace an earlier run with other settings in ``output`` (as :func:`expand`).
        max_pixels, max_outputs, allow_custom: as :func:`expand`.
        progress: called with (outputs just finished, outputs planned).

    Returns:
        Counts before and after, images added and originals removed per class, and the chart path.
    """
    from augcli import _balance as B

    _check_options(seed=seed, workers=workers, max_pixels=max_pixels, max_outputs=max_outputs,
                   k_neighbors=k_neighbors)
    rec = _as_recipe(recipe, allow_custom)
    data = scan(input)
    check_folders(data.root, Path(output))
    _check_class_rules(rec, data)
    opts = B.settings(rec, data.classes, target=target, method=method, undersample=undersample)
    smote_given = {"--features": features, "--smote": smote, "--k-neighbors": k_neighbors,
                   "--then-recipe": then_recipe}
    given = [name for name, value in smote_given.items() if value is not None]
    if opts.method != "smote" and given:
        raise InputError(f"{', '.join(given)}: expected --method smote for SMOTE options, "
                         f"got --method {opts.method} instead; add --method smote or leave them out")
    smote_opts = B.SmoteOptions(features=str(features or "pixels"), variant=smote or "smote",
                                k_neighbors=5 if k_neighbors is None else k_neighbors)
    then = _as_recipe(then_recipe, allow_custom) if then_recipe is not None else None
    run_seed = rec.seed if seed is None else seed
    targets = B.resolve(Counter(s.label for s in data.sources), opts)
    _check_total(sum(targets.total.values()), max_outputs, f"balance to {opts.target}")
    plan = B.plan_balance(data, targets, seed=run_seed, fmt=rec.output.format, method=opts.method,
                          smote=smote_opts, workers=_workers(workers))
    record = {"command": "balance", "target": opts.target, "per_class": dict(opts.per_class),
              "targets": targets.total, "method": opts.method, "undersample": opts.undersample,
              "smote": {**smote_opts.record(), "then_recipe": then.to_data() if then else None}
              if opts.method == "smote" else None}
    return _balance_run(data, Path(output), rec, then, plan, run_seed, record, workers, overwrite, progress,
                        max_pixels)


def _balance_run(data: Dataset, output: Path, rec: Recipe, then: Recipe | None, plan: Any, seed: int,
                 record: dict[str, Any], workers: int | None, overwrite: bool,
                 progress: Progress | None, max_pixels: int | None) -> BalanceResult:
    """Run a balance plan, then write features.npz (SMOTE) and balance.png."""
    from augcli._balance import CHART
    from augcli.chart import write_chart

    ctx = Context(in_root=data.root, out_root=output, recipe=rec, then_recipe=then, max_pixels=max_pixels)
    stats = run_plan(plan.tasks, ctx, record=_record(record, data, rec, seed, plan.tasks, max_pixels),
                     workers=_workers(workers), overwrite=overwrite, errors=data.problems, progress=progress)
    if plan.smote is not None:
        from augcli.smote import write_features

        write_features(output, plan.smote, stats.rows)
    before = {c: plan.targets.before[c] for c in data.classes}
    after = Counter(row.label for row in stats.rows)
    added = Counter(row.label for row in stats.rows if row.kind != "original")
    chart = write_chart(output / CHART, list(data.classes),
                        {"before": list(before.values()), "after": [after[c] for c in data.classes]},
                        title="Images per class, before and after balancing")
    return BalanceResult(output, stats.planned, stats.made, stats.kept, stats.skipped, stats.stale,
                         stats.errors, before,
                         {c: after[c] for c in data.classes}, dict(plan.targets.total),
                         {c: added[c] for c in data.classes},
                         {c: plan.targets.remove.get(c, 0) for c in data.classes}, chart, plan.notes,
                         fixed=tuple(fixed_values(rec)))


def inspect(
    input: str | Path,
    *,
    workers: int | None = None,
    chart: str | Path | None = None,
    max_pixels: int | None = DEFAULT_MAX_PIXELS,
    progress: Progress | None = None,
) -> Any:
    """Read every image of an input tree and summarise it per class (count, share, formats, sizes, errors).

    Args:
        input: ImageFolder tree (one sub-folder per class).
        workers: threads reading images (default: the available cores).
        chart: write the class counts as a PNG bar chart here.
        progress: called with (images just read, images in the tree).

    Returns:
        An ``InspectResult`` (``as_dict()`` is the ``--json`` form; ``imbalance_ratio`` largest / smallest).
    """
    from augcli._inspect import inspect_tree

    _check_options(workers=workers, max_pixels=max_pixels)
    return inspect_tree(input, workers=_workers(workers), chart=chart, progress=progress, max_pixels=max_pixels)


def preview(
    input: str | Path,
    output: str | Path,
    *,
    recipe: RecipeLike = None,
    images: int = 8,
    variants: int = 6,
    seed: int | None = None,
    cell: int = 160,
    transform: str | None = None,
    allow_custom: bool = True,
    max_pixels: int | None = DEFAULT_MAX_PIXELS,
) -> Any:
    """Draw a PNG contact sheet of a recipe's variants (or a sweep of one transform) for a look before a run.

    Returns:
        A ``PreviewResult`` (path and grid size).
    """
    from augcli._preview import make_preview

    _check_options(seed=seed, max_pixels=max_pixels)
    for option, value, least, most in (("--images", images, 1, 64), ("--variants", variants, 1, 32),
                                       ("--cell", cell, 32, 1024)):
        _check_number(option, value, least, most)
    return make_preview(input, output, recipe=_as_recipe(recipe, allow_custom), images=images, variants=variants,
                        seed=seed, cell=cell, transform=transform, max_pixels=max_pixels)


def replay(
    manifest: str | Path,
    output: str | Path,
    *,
    input: str | Path | None = None,
    quality: int | None = None,
    workers: int | None = None,
    progress: Progress | None = None,
) -> Any:
    """Rebuild every output of a manifest from its sources and recorded ops alone, and compare bytes.

    Without a run record beside the manifest, ``input`` is needed and ``quality`` (default 95) is the
    JPEG/WebP quality the run used.

    Returns:
        A ``ReplayResult`` (rebuilt, identical, mismatched paths).
    """
    from augcli._replay import replay_manifest

    _check_number("--quality", quality, 1, 100)
    return replay_manifest(manifest, output, input=input, quality=quality, workers=_workers(workers),
                           progress=progress)
