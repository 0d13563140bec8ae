"""The Python API. The CLI is a thin layer over these functions; a training loop can call them too.

Every function takes keyword options and returns a frozen result. None of them prints or exits:
they raise :class:`augcli.errors.AugcliError` subclasses, return results, or call ``progress``.
"""

from __future__ import annotations

import os
from collections import Counter
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from augcli import __version__
from augcli import recipe as _recipe
from augcli.compose import Op
from augcli.dataset import Dataset, scan
from augcli.errors import InputError
from augcli.ops._image import Image
from augcli.plan import SourcePlan, count_outputs, expand_items, plan_tasks
from augcli.recipe import Recipe
from augcli.render import render
from augcli.rng import generator
from augcli.run import Context, Progress, RunStats, check_folders, run_plan
from augcli.spec import did_you_mean

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
    errors: tuple[tuple[str, str], ...]
    before: Mapping[str, int]
    after: Mapping[str, int]

    @property
    def manifest(self) -> Path:
        """Path of the manifest."""
        return self.output / "manifest.csv"


def load_recipe(path: str | Path | None = None) -> Recipe:
    """Load and validate a recipe; None gives the packaged default recipe.

    Raises:
        RecipeError: naming the file, line and step path of the problem.
    """
    return _recipe.load_recipe(path)


def _as_recipe(recipe: RecipeLike) -> Recipe:
    """Accept a Recipe, a path or None (the default recipe)."""
    return recipe if isinstance(recipe, Recipe) else _recipe.load_recipe(recipe)


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
    array = np.asarray(image)
    squeeze = array.ndim == 2
    if squeeze:
        array = array[:, :, np.newaxis]
    if array.ndim != 3 or array.shape[2] not in (1, 3, 4) or array.dtype not in (np.uint8, np.uint16):
        raise InputError(f"augment: expected an (H, W[, C]) uint8 or uint16 image with C in 1, 3, 4; "
                         f"got {array.dtype} {array.shape}")
    ops = rec.sample(generator(seed), array.shape, label)
    out = render(array, ops)
    return Augmented(out[:, :, 0] if squeeze else out, ops)


def replay_ops(image: Image, ops: list[Op]) -> Image:
    """Apply recorded ops (from a manifest row) to an image: no recipe, no randomness."""
    return render(image, ops)


def _workers(workers: int | None) -> int:
    """Default worker count: the cores this process may use."""
    if workers is None:
        try:
            return len(os.sched_getaffinity(0))
        except AttributeError:  # pragma: no cover - not Linux
            return os.cpu_count() or 1
    if workers < 1:
        raise InputError(f"--workers: expected 1 or more, got {workers}")
    return workers


def _check_class_rules(rec: Recipe, data: Dataset) -> None:
    """Per-class rules must name classes that exist in the input."""
    for label in rec.classes:
        if label not in data.classes:
            raise rec.error(f"classes.{label}", "a class folder of the input (" + ", ".join(data.classes) + ")",
                            repr(label), hint=did_you_mean(label, data.classes))


def _run(data: Dataset, output: Path, rec: Recipe, items: list[SourcePlan], seed: int, record: dict[str, Any],
         workers: int | None, overwrite: bool, progress: Progress | None) -> RunResult:
    """Plan, run and summarise."""
    check_folders(data.root, output)
    tasks = plan_tasks(items, seed, rec.output.format)
    ctx = Context(in_root=data.root, out_root=output, recipe=rec)
    record = {**record, "augcli_version": __version__, "input": str(data.root.resolve()), "seed": seed,
              "recipe": rec.to_data(),
              "recipe_digest": rec.digest(), "planned": count_outputs(tasks)}
    stats: RunStats = run_plan(tasks, ctx, record=record, workers=_workers(workers), overwrite=overwrite,
                               progress=progress)
    before = Counter(s.label for s in data.sources)
    after = Counter(row.label for row in stats.rows)
    return RunResult(output, stats.planned, stats.made, stats.kept, stats.skipped, stats.errors,
                     {c: before[c] for c in data.classes}, {c: after[c] for c in data.classes})


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
        overwrite: replace an earlier run with other settings in ``output``.
        progress: called with (outputs just finished, outputs planned).

    Returns:
        Counts of what was planned, made, kept from an earlier run and skipped.
    """
    rec = _as_recipe(recipe)
    data = scan(input)
    _check_class_rules(rec, data)
    n = rec.copies if copies is None else copies
    if n < 0:
        raise InputError(f"--copies: expected 0 or more, got {n}")
    run_seed = rec.seed if seed is None else seed
    record = {"command": "expand", "copies": n, "originals": originals}
    return _run(data, Path(output), rec, expand_items(data.sources, n, originals), run_seed, record,
                workers, overwrite, progress)


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
        overwrite: replace an earlier run with other settings in ``output``.
        progress: called with (outputs just finished, outputs planned).

    Returns:
        Counts before and after, images added and originals removed per class, and the chart path.
    """
    from augcli import balancing as B

    rec = _as_recipe(recipe)
    data = scan(input)
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
    then = _as_recipe(then_recipe) if then_recipe is not None else None
    run_seed = rec.seed if seed is None else seed
    targets = B.resolve(Counter(s.label for s in data.sources), opts)
    plan = B.plan_balance(data, targets, seed=run_seed, fmt=rec.output.format, method=opts.method,
                          smote=smote_opts, workers=_workers(workers))
    record = {"command": "balance", "target": opts.target, "per_class": dict(opts.per_class),
              "targets": targets.total, "method": opts.method, "undersample": opts.undersample,
              "smote": {**smote_opts.record(), "then_recipe": then.to_data() if then else None}
              if opts.method == "smote" else None}
    return _balance_run(data, Path(output), rec, then, plan, run_seed, record, workers, overwrite, progress)


def _balance_run(data: Dataset, output: Path, rec: Recipe, then: Recipe | None, plan: Any, seed: int,
                 record: dict[str, Any], workers: int | None, overwrite: bool,
                 progress: Progress | None) -> BalanceResult:
    """Run a balance plan, then write features.npz (SMOTE) and balance.png."""
    from augcli.balancing import CHART
    from augcli.chart import write_chart

    check_folders(data.root, output)
    ctx = Context(in_root=data.root, out_root=output, recipe=rec, then_recipe=then)
    record = {**record, "augcli_version": __version__, "input": str(data.root.resolve()), "seed": seed,
              "recipe": rec.to_data(), "recipe_digest": rec.digest(), "planned": count_outputs(plan.tasks)}
    stats = run_plan(plan.tasks, ctx, record=record, workers=_workers(workers), overwrite=overwrite,
                     progress=progress)
    if plan.smote is not None:
        from augcli.smote import write_features

        write_features(output, plan.smote, stats.rows)
    before = {c: plan.targets.before[c] for c in data.classes}
    after = Counter(row.label for row in stats.rows)
    added = Counter(row.label for row in stats.rows if row.kind != "original")
    chart = write_chart(output / CHART, list(data.classes),
                        {"before": list(before.values()), "after": [after[c] for c in data.classes]},
                        title="Images per class, before and after balancing")
    return BalanceResult(output, stats.planned, stats.made, stats.kept, stats.skipped, stats.errors, before,
                         {c: after[c] for c in data.classes}, dict(plan.targets.total),
                         {c: added[c] for c in data.classes},
                         {c: plan.targets.remove.get(c, 0) for c in data.classes}, chart, plan.notes)


def inspect(
    input: str | Path,
    *,
    workers: int | None = None,
    chart: str | Path | None = None,
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
    from augcli.inspecting import inspect_tree

    return inspect_tree(input, workers=_workers(workers), chart=chart, progress=progress)


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
) -> Any:
    """Draw a PNG contact sheet of a recipe's variants (or a sweep of one transform) for a look before a run.

    Returns:
        A ``PreviewResult`` (path and grid size).
    """
    from augcli.previewing import make_preview

    return make_preview(input, output, recipe=_as_recipe(recipe), images=images, variants=variants, seed=seed,
                        cell=cell, transform=transform)


def replay(
    manifest: str | Path,
    output: str | Path,
    *,
    input: str | Path | None = None,
    workers: int | None = None,
    progress: Progress | None = None,
) -> Any:
    """Rebuild every output of a manifest from its sources and recorded ops alone, and compare bytes.

    Returns:
        A ``ReplayResult`` (rebuilt, identical, mismatched paths).
    """
    from augcli.replaying import replay_manifest

    return replay_manifest(manifest, output, input=input, workers=_workers(workers), progress=progress)
