"""The Python API. The CLI is a thin layer over these functions; a training loop can call them too.

Every function takes keyword options and returns a frozen result. None of them prints or exits:
they raise :class:`augcli.errors.AugcliError` subclasses, return results, or call ``progress``.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Mapping
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import numpy as np

from augcli import __version__
from augcli import _balance as B
from augcli import manifest as M
from augcli import recipe as _recipe
from augcli import tta as _tta
from augcli._inspect import InspectResult, inspect_tree
from augcli._preview import PreviewResult, make_preview
from augcli._replay import ReplayResult, replay_manifest
from augcli.compose import Op
from augcli.conventions import fixed_values
from augcli.dataset import Dataset, scan
from augcli.direct import active as direct_side
from augcli.errors import InputError, RunError, Status, did_you_mean, option
from augcli.executors import check_local, with_executor
from augcli.features import FEATURES_FILE
from augcli.io import DEFAULT_MAX_PIXELS
from augcli.manifest import RunRecord
from augcli.metadata import METADATA
from augcli.ops._image import Image
from augcli.options import DEFAULT_MAX_OUTPUTS, check_options, check_total
from augcli.outdir import check_folders
from augcli.pool import default_workers
from augcli.recipe import Recipe
from augcli.render import render
from augcli.results import Augmented, BalanceResult, RunResult
from augcli.rng import generator
from augcli.run import Context, Progress, RunStats, left_out_as_copies, run_plan
from augcli.sections import Plan, plan_expand
from augcli.suggest import Suggestion, check_output
from augcli.suggest import suggest as _suggest
from augcli.suggest import write as write_suggestion

__all__ = ["Augmented", "BalanceResult", "InspectResult", "PreviewResult", "ReplayResult", "RunResult", "Status",
           "augment", "balance", "expand", "inspect", "load_recipe", "preview", "replay", "replay_ops"]

RecipeLike = Recipe | str | Path | None


def load_recipe(path: str | Path | None = None, *, allow_custom: bool = True) -> Recipe:
    """Load and validate a recipe; None gives the packaged default recipe.

    Args:
        path: a recipe file, or the name of a bundled recipe (``"light"``; an existing file of that name
            wins), or None for the packaged default.
        allow_custom: False refuses ``custom`` steps (they import and run the Python module a recipe
            names) before anything is imported: use it for recipes from others.

    Raises:
        RecipeError: naming the file, line and step path of the problem.
    """
    return _recipe.load_recipe(path, allow_custom=allow_custom)


def _as_recipe(recipe: RecipeLike, allow_custom: bool = True, what: str = "recipe", *,
               input: str | Path | None = None, workers: int = 1,
               max_pixels: int | None = DEFAULT_MAX_PIXELS) -> Recipe:
    """Accept a Recipe, a path, a bundled recipe's name, ``auto`` (with ``input``: the recipe
    ``augcli.suggest`` writes for that tree) or None (the default recipe)."""
    if isinstance(recipe, Recipe):
        if not allow_custom and _names_custom(recipe.to_data()):
            raise InputError(f"recipe {recipe.source} has a custom step, which runs Python code; "
                             f"refused because custom steps are not allowed ({option('allow_custom', False)})")
        return recipe
    if input is not None and (recipe is None or isinstance(_recipe.resolve(recipe, what), _recipe.Auto)):
        return suggested_recipe(input, workers=workers, max_pixels=max_pixels)
    return _recipe.load_recipe(recipe, allow_custom=allow_custom, what=what)


def suggested_recipe(input: str | Path, *, workers: int | None = None,
                     max_pixels: int | None = DEFAULT_MAX_PIXELS) -> Recipe:
    """``--recipe auto``: the recipe :func:`suggest` writes for ``input``, loaded (``text`` keeps its comments).

    The same tree gives the same recipe, so a rerun resumes; the run record keeps the recipe and its digest.
    """
    check_options(workers=workers, max_pixels=max_pixels)
    check_local("input", input)
    found = _suggest(input, workers=default_workers(workers), max_pixels=max_pixels)
    return _recipe.parse_recipe(found.text, source=_recipe.Auto.source)


def _names_custom(data: Any) -> bool:
    """True when canonical recipe data holds a ``custom`` step anywhere."""
    if isinstance(data, dict):
        return "custom" in data or any(_names_custom(v) for v in data.values())
    if isinstance(data, list):
        return any(_names_custom(v) for v in data)
    return False


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


# ---------------------------------------------------------------- the one run path of expand and balance


@dataclass(frozen=True, slots=True, kw_only=True)
class _Run:
    """A checked run: its input, output folder, recipe and seed, and how it executes."""

    data: Dataset
    output: Path
    recipe: Recipe
    seed: int
    workers: int
    overwrite: bool
    max_pixels: int | None
    strict: bool
    progress: Progress | None
    full_decode: bool = False


def _start(input: str | Path, output: str | Path, recipe: RecipeLike, *, seed: int | None, workers: int | None,
           overwrite: bool, max_pixels: int | None, strict: bool, allow_custom: bool,
           progress: Progress | None, full_decode: bool = False) -> _Run:
    """Load the recipe and scan the input; refuse overlapping folders and rules for unknown classes."""
    rec = _as_recipe(recipe, allow_custom, input=input, workers=default_workers(workers), max_pixels=max_pixels)
    data = scan(input)
    check_folders(data.root, Path(output))
    _check_class_names(data.classes)
    for label in rec.classes:
        if label not in data.classes:
            raise rec.error(f"classes.{label}", "a class folder of the input (" + ", ".join(data.classes) + ")",
                            repr(label), hint=did_you_mean(label, data.classes))
    return _Run(data=data, output=Path(output), recipe=rec, seed=rec.seed if seed is None else seed,
                workers=default_workers(workers), overwrite=overwrite, max_pixels=max_pixels, strict=strict,
                progress=progress, full_decode=full_decode)


# The files a run writes at the top of its output folder: no class folder may take one of their names.
TOP_FILES = (M.MANIFEST, M.ERRORS, M.RUN_RECORD, M.SOURCES, M.LOCK, METADATA, B.CHART, FEATURES_FILE)


def _check_class_names(classes: tuple[str, ...]) -> None:
    """Refuse a class whose folder would take the name of a file augcli writes (also when only the case differs)."""
    taken = {name.casefold() for name in TOP_FILES}
    for label in classes:
        if label.casefold() in taken:
            raise InputError(f"class folder {label!r} has the name of a file augcli writes at the top of the output "
                             "folder; rename the class folder")


def _execute(run: _Run, tasks: Plan, command: str, options: dict[str, Any],
             then: Recipe | None = None) -> RunStats:
    """Record the run (what decides its outputs) and carry out its tasks in the output folder."""
    ctx, record = _prepared(run, tasks, command, options, then)
    return run_plan(tasks, ctx, record=record, workers=run.workers, overwrite=run.overwrite,
                    errors=run.data.problems, progress=run.progress)


def _prepared(run: _Run, tasks: Plan, command: str, options: dict[str, Any],
              then: Recipe | None = None) -> tuple[Context, RunRecord]:
    """The workers' context and the run record (what decides the outputs)."""
    rec, data = run.recipe, run.data
    if run.full_decode:  # recorded only when set, so runs from before the option resume
        options = {**options, "full_decode": True}
    record = RunRecord(command=command, seed=run.seed, recipe=rec.to_data(), recipe_digest=rec.digest(),
                       max_pixels=run.max_pixels, options=options, input=str(data.root.resolve()),
                       planned=tasks.planned, augcli_version=__version__, recipe_source=rec.source)
    mixing = any(recipe is not None and recipe.mixes() for recipe in (rec, then))
    catalog = tuple((source.rel, source.label) for source in data.sources) if mixing else ()
    ctx = Context(in_root=data.root, out_root=run.output, recipe=rec, then_recipe=then, max_pixels=run.max_pixels,
                  catalog=catalog, reduced_decode=not run.full_decode, direct=direct_side())
    return ctx, record


def _dry_run(run: _Run, tasks: Plan, command: str, options: dict[str, Any],
             then: Recipe | None = None) -> dict[str, Any]:
    """The fields of a run result for a dry run: what the plan would make, and the estimate; nothing is written."""
    from augcli._dry_run import estimate

    ctx, record = _prepared(run, tasks, command, options, then)
    est = estimate(list(tasks), ctx, record, run.workers, run.data.classes)  # a dry run holds its plan
    stats = RunStats(tasks.planned, 0, 0, 0, 0, tuple(sorted(run.data.problems)))
    after = {c: est.originals[c] + est.generated[c] for c in run.data.classes}
    return {**_counts(replace(run, strict=False), stats), "after": after, "estimate": est}


def _counts(run: _Run, stats: RunStats) -> dict[str, Any]:
    """The fields every run result has; failed when ``strict`` and inputs were unreadable or left out."""
    after = Counter(stats.labels)
    failed = run.strict and bool(stats.errors)
    return {"output": run.output, "planned": stats.planned, "made": stats.made, "kept": stats.kept,
            "skipped": stats.skipped, "stale": stats.stale, "errors": stats.errors,
            "after": {c: after[c] for c in run.data.classes}, "fixed": tuple(fixed_values(run.recipe)),
            "redrawn": stats.redrawn, "copies_left_out": left_out_as_copies(stats.errors),
            "status": Status.FAILED if failed else Status.OK,
            "failure": RunError(f"input problems and {option('strict', True)} given") if failed else None}


@with_executor
def expand(
    input: str | Path,
    output: str | Path,
    *,
    recipe: RecipeLike = None,
    copies: int | None = None,
    tta: bool | None = None,
    seed: int | None = None,
    workers: int | None = None,
    originals: bool = True,
    overwrite: bool = False,
    max_pixels: int | None = DEFAULT_MAX_PIXELS,
    max_outputs: int | None = DEFAULT_MAX_OUTPUTS,
    allow_custom: bool = True,
    strict: bool = False,
    full_decode: bool = False,
    dry_run: bool = False,
    progress: Progress | None = None,
    executor: str = "local",
    scheduler: str | None = None,
) -> RunResult:
    """Write ``copies`` augmented images per input image, plus the originals, and a manifest.

    Args:
        input: ImageFolder tree (one sub-folder per class).
        output: folder to write; an earlier run of the same plan there is resumed.
        recipe: Recipe, recipe path, bundled recipe name, or "auto" or None: the recipe suggested from the input
            (:func:`suggested_recipe`; "default" is the packaged default).
        copies: augmented images per input (default: the recipe's ``copies``).
        tta: write a fixed test-time-augmentation set per input instead of random copies (the recipe's
            ``tta:`` set, else the built-in one); None: when the recipe has a ``tta:`` section.
        seed: overrides the recipe's seed.
        workers: processes (default: the available cores).
        originals: copy the input images beside the augmented ones.
        overwrite: replace an earlier run with other settings in ``output`` (only files it recorded and
            that are unchanged are removed; a folder holding no augcli run is always refused).
        max_pixels: refuse input images whose header claims more pixels (None: no limit).
        max_outputs: refuse a plan writing more files than this (None: no limit).
        allow_custom: False refuses recipes with ``custom`` steps (they run Python code).
        strict: the result's status is FAILED when an input was unreadable or left out.
        full_decode: always decode JPEGs at full size (by default one that the first geometric steps
            shrink by 2, 4 or 8 is decoded that much smaller, recorded as a ``decoded_at`` op).
        dry_run: write nothing (not even ``output``); the result's ``estimate`` says what a run would make per
            class, the disk space and time it would take, and what it would do with ``output``.
        progress: called with (outputs just finished, outputs planned).
        executor: "local" (a process pool of ``workers``) or "dask" (``docs/distributed.md``); not part of
            the run's identity: a run resumes on either.
        scheduler: the address of a running Dask scheduler (dask only; default: a LocalCluster of
            ``workers`` processes on this machine, shut down after the run).

    Returns:
        Counts of what was planned, made, kept from an earlier run, skipped, and stale outputs removed
        (a dry run makes nothing: ``after`` is what a run would leave, ``estimate`` the rest).
    """
    check_options(copies=copies, seed=seed, workers=workers, max_pixels=max_pixels, max_outputs=max_outputs)
    run = _start(input, output, recipe, seed=seed, workers=workers, overwrite=overwrite, max_pixels=max_pixels,
                 strict=strict, allow_custom=allow_custom, progress=progress, full_decode=full_decode)
    variants = _tta.resolve(run.recipe.tta, tta, copies)
    n = len(variants) if variants else run.recipe.copies if copies is None else copies
    check_total(len(run.data.sources) * (n + int(originals)), max_outputs,
                f"expand with {n} {'test-time variants' if variants else 'copies'}")
    options: dict[str, Any] = {"copies": 0 if variants else n, "originals": originals}
    if variants:  # fixed views grouped by source, made by the worker from each image's shape
        run = replace(run, recipe=replace(run.recipe, tta=variants))
        options["tta"] = [v.to_data() for v in variants]
    tasks = plan_expand(run.data, n, originals, run.seed, run.recipe.output.format,
                        tuple(v.name for v in variants) if variants else ())
    if dry_run:
        return RunResult(**_dry_run(run, tasks, "expand", options), before=run.data.counts())
    stats = _execute(run, tasks, "expand", options)
    return RunResult(**_counts(run, stats), before=run.data.counts())


@with_executor
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
    strict: bool = False,
    full_decode: bool = False,
    dry_run: bool = False,
    progress: Progress | None = None,
    executor: str = "local",
    scheduler: str | None = None,
) -> BalanceResult:
    """Write the balanced dataset: the originals kept plus synthetic images, with a manifest and balance.png.

    Args:
        input: ImageFolder tree (one sub-folder per class).
        output: folder to write; an earlier run of the same plan there is resumed.
        recipe: Recipe, recipe path, bundled recipe name, or "auto" or None: the recipe suggested from the
            input (its ``balance:`` section gives defaults).
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
        max_pixels, max_outputs, allow_custom, strict, full_decode, dry_run: as :func:`expand`.
        progress: called with (outputs just finished, outputs planned).
        executor, scheduler: as :func:`expand`.

    Returns:
        Counts before and after, images added and originals removed per class, and the chart path.
    """
    check_options(seed=seed, workers=workers, max_pixels=max_pixels, max_outputs=max_outputs,
                   k_neighbors=k_neighbors)
    run = _start(input, output, recipe, seed=seed, workers=workers, overwrite=overwrite, max_pixels=max_pixels,
                 strict=strict, allow_custom=allow_custom, progress=progress, full_decode=full_decode)
    opts = B.settings(run.recipe, run.data.classes, target=target, method=method, undersample=undersample)
    given = [name for name, value in (("features", features), ("smote", smote), ("k_neighbors", k_neighbors),
                                      ("then_recipe", then_recipe)) if value is not None]
    if opts.method != "smote" and given:
        raise InputError(f"{', '.join(option(name) for name in given)}: expected {option('method', 'smote')} for "
                         f"SMOTE options, got {option('method', opts.method)} instead; add "
                         f"{option('method', 'smote')} or leave them out")
    smote_opts = B.SmoteOptions(features=str(features or "pixels"), variant=smote or "smote",
                                k_neighbors=5 if k_neighbors is None else k_neighbors)
    then = (_as_recipe(then_recipe, allow_custom, "then_recipe", input=input, workers=run.workers,
                       max_pixels=max_pixels) if then_recipe is not None else None)
    if opts.method in B.MIXING:
        run = replace(run, recipe=B.with_mixing(run.recipe, opts.method))
    targets = B.resolve(run.data.counts(), opts)
    check_total(sum(targets.total.values()), max_outputs, f"balance to {opts.target}")
    plan = B.plan_balance(run.data, targets, seed=run.seed, fmt=run.recipe.output.format, method=opts.method,
                          smote=smote_opts, workers=run.workers)
    idle = B.idle_note(targets, opts)
    plan = replace(plan, notes=(idle, *plan.notes)) if idle else plan
    options = {"target": opts.target, "per_class": dict(opts.per_class), "targets": targets.total,
               "method": opts.method, "undersample": opts.undersample,
               "smote": {**smote_opts.record(), "then_recipe": then.to_data() if then else None}
               if opts.method == "smote" else None}
    if dry_run:
        counts = _dry_run(run, plan.tasks, "balance", options, then)
        return _balance_result(run, plan, counts, run.output / B.CHART, counts["estimate"].generated)
    return _balanced(run, plan, _execute(run, plan.tasks, "balance", options, then))


def _balanced(run: _Run, plan: B.BalancePlan, stats: RunStats) -> BalanceResult:
    """Write features.npz (SMOTE) and balance.png after a balance run, and say what it made."""
    from augcli.chart import write_chart

    if plan.smote is not None:
        from augcli.smote import write_features

        write_features(run.output, plan.smote, list(stats.rows))
    classes = run.data.classes
    counts = _counts(run, stats)
    chart = write_chart(run.output / B.CHART, list(classes),
                        {"before": [plan.targets.before[c] for c in classes],
                         "after": [counts["after"][c] for c in classes]},
                        title="Images per class, before and after balancing")
    return _balance_result(run, plan, counts, chart, Counter(stats.added))


def _balance_result(run: _Run, plan: B.BalancePlan, counts: dict[str, Any], chart: Path,
                    added: Mapping[str, int]) -> BalanceResult:
    """A balance result from a run's counts (or a dry run's), with the images added per class."""
    classes = run.data.classes
    return BalanceResult(**counts, before={c: plan.targets.before[c] for c in classes},
                         target=dict(plan.targets.total), added={c: added.get(c, 0) for c in classes},
                         removed={c: plan.targets.remove.get(c, 0) for c in classes}, chart=chart,
                         marked_notes=plan.notes)


# ---------------------------------------------------------------- inspect, preview, replay


def inspect(
    input: str | Path,
    *,
    workers: int | None = None,
    chart: str | Path | None = None,
    max_pixels: int | None = DEFAULT_MAX_PIXELS,
    progress: Progress | None = None,
) -> InspectResult:
    """Read every image of an input tree and summarise it per class (count, share, formats, sizes, errors).

    Args:
        input: ImageFolder tree (one sub-folder per class).
        workers: threads reading images (default: the available cores).
        chart: write the class counts as a PNG bar chart here.
        max_pixels: images whose header claims more pixels are reported unreadable (None: no limit).
        progress: called with (images just read, images in the tree).

    Returns:
        The per-class summary (``as_dict()`` is the ``--json`` form, ``report()`` the text one;
        ``imbalance_ratio`` is largest / smallest).
    """
    check_options(workers=workers, max_pixels=max_pixels)
    return inspect_tree(input, workers=default_workers(workers), chart=chart, progress=progress, max_pixels=max_pixels)


def suggest(
    input: str | Path,
    *,
    output: str | Path | None = None,
    force: bool = False,
    workers: int | None = None,
    max_pixels: int | None = DEFAULT_MAX_PIXELS,
    progress: Progress | None = None,
) -> Suggestion:
    """Write a recipe for an input tree from what its images show, each choice commented with its evidence.

    Args:
        input: ImageFolder tree (one sub-folder per class).
        output: write the recipe text here (atomically; never inside ``input``); None: only return it.
        force: replace an existing ``output`` file.
        workers: processes reading images (default: the available cores); the text does not depend on it.
        max_pixels: images whose header claims more pixels are skipped as unreadable (None: no limit).
        progress: called with (images just read, images to read).

    Returns:
        The recipe (``text``: commented YAML; ``data``: the same recipe as a mapping), the ``findings``
        behind it, and what was read, skipped or left out.
    """
    check_options(workers=workers, max_pixels=max_pixels)
    target = Path(output) if output is not None else None
    if target is not None:
        check_output(target, Path(input), force)
    result = _suggest(input, workers=default_workers(workers), max_pixels=max_pixels, progress=progress)
    return write_suggestion(result, target) if target is not None else result


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
) -> PreviewResult:
    """Draw a PNG contact sheet of a recipe's variants (or a sweep of one transform) for a look before a run.

    Args:
        input: ImageFolder tree (one sub-folder per class).
        output: the sheet, a .png file outside ``input``.
        recipe: Recipe, recipe path, bundled recipe name, or "auto" or None: the recipe suggested from the input.
        images, variants, cell: sample images (rows), variants per image, and cell size in pixels.
        seed: overrides the recipe's seed (variants use the seeds ``expand`` uses for copies 1..n).
        transform: sweep this transform across its parameter ranges instead of running the recipe.
        allow_custom, max_pixels: as :func:`expand`.

    Returns:
        The sheet's path and grid size, and the sample images passed over.
    """
    check_options(seed=seed, max_pixels=max_pixels, images=images, variants=variants, cell=cell)
    rec = _as_recipe(recipe, allow_custom, input=input, max_pixels=max_pixels)
    return make_preview(input, output, recipe=rec, images=images, variants=variants,
                        seed=seed, cell=cell, transform=transform, max_pixels=max_pixels)


@with_executor
def replay(
    manifest: str | Path,
    output: str | Path,
    *,
    input: str | Path | None = None,
    quality: int | None = None,
    workers: int | None = None,
    progress: Progress | None = None,
    executor: str = "local",
    scheduler: str | None = None,
) -> ReplayResult:
    """Rebuild every output of a manifest from its sources and recorded ops alone, and compare bytes.

    Without a run record beside the manifest, ``input`` is needed and ``quality`` (default 95) is the
    JPEG/WebP quality the run used. ``executor`` and ``scheduler`` are as :func:`expand`'s.

    Returns:
        The rebuilt, identical and mismatched outputs; its status is FAILED when any output differs.
    """
    check_options(quality=quality, workers=workers)
    return replay_manifest(manifest, output, input=input, quality=quality, workers=default_workers(workers),
                           progress=progress)
