"""Planning: which outputs to make, from which sources, with which seeds and names.

Deterministic, in the parent process only. The plan is a list of independent tasks; an
executor (``run.py``) carries them out in any order on any number of workers.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import PurePosixPath
from typing import Any

from augcli.dataset import Source
from augcli.rng import sample_seed

AUG_TAG = "__aug"


@dataclass(frozen=True)
class Job:
    """One output file."""

    rel: str  # output path relative to the output folder
    kind: str  # original | augmented | smote | mixup
    copy: int  # 0 for originals; 1.. for generated images of a source
    seed: int  # 0 for originals
    pre_ops: tuple[dict[str, Any], ...] = ()  # planned ops applied to the sources first (a SMOTE blend)
    recipe: str = "main"  # the recipe sampled after pre_ops with ``seed``: "main", "then" or "none"

    @property
    def copies_bytes(self) -> bool:
        """Originals are copied byte for byte, never decoded and encoded again."""
        return self.kind == "original"


@dataclass(frozen=True)
class Task:
    """The outputs made from one source (plus partners): the source is decoded once for all."""

    sources: tuple[str, ...]
    label: str
    jobs: tuple[Job, ...]


@dataclass(frozen=True)
class SourcePlan:
    """What to make from one source: keep its original or not, and how many augmented copies."""

    source: Source
    original: bool
    copies: int


def output_suffix(source_rel: str, fmt: str) -> str:
    """The file extension of a generated image: the source's, or the recipe's format."""
    return PurePosixPath(source_rel).suffix if fmt == "same" else f".{fmt}"


def _aug_name(source_rel: str, copy: int, fmt: str, with_ext: bool) -> str:
    """``cls/sub/stem__aug003.ext`` (``stem_png__aug003.ext`` when the plain name collides)."""
    path = PurePosixPath(source_rel)
    stem = f"{path.stem}_{path.suffix.lstrip('.').lower()}" if with_ext else path.stem
    return str(path.with_name(f"{stem}{AUG_TAG}{copy:03d}{output_suffix(source_rel, fmt)}"))


def plan_tasks(items: Sequence[SourcePlan], recipe_seed: int, fmt: str) -> list[Task]:
    """Turn per-source decisions into tasks with stable, collision-free output names.

    Originals keep their relative path. A generated name that would collide (ignoring case,
    for case-insensitive file systems) with any other output gets the source extension in
    its stem, and a counter if even that collides.
    """
    names = _original_names(items)
    taken = {name.casefold() for name in names.values()}
    plain: dict[str, int] = {}
    for item in items:
        for copy in range(1, item.copies + 1):
            key = _aug_name(item.source.rel, copy, fmt, False).casefold()
            plain[key] = plain.get(key, 0) + 1
    tasks = []
    for item in items:
        jobs = [Job(names[item.source.rel], "original", 0, 0)] if item.original else []
        for copy in range(1, item.copies + 1):
            name = _aug_name(item.source.rel, copy, fmt, False)
            if plain[name.casefold()] > 1 or name.casefold() in taken:
                name = unique_name(_aug_name(item.source.rel, copy, fmt, True), taken)
            taken.add(name.casefold())
            jobs.append(Job(name, "augmented", copy, sample_seed(recipe_seed, item.source.rel, copy)))
        if jobs:
            tasks.append(Task((item.source.rel,), item.source.label, tuple(jobs)))
    return tasks


def _original_names(items: Sequence[SourcePlan]) -> dict[str, str]:
    """Originals keep their relative path, except one that differs from an earlier original only in
    case (``A.png`` after ``a.png``): on a case-insensitive file system the copies would be one file,
    so the later one gets a ``-2`` counter."""
    every = {item.source.rel.casefold() for item in items if item.original}
    names: dict[str, str] = {}
    assigned: set[str] = set()
    for item in items:
        if not item.original:
            continue
        rel = item.source.rel
        name = rel if rel.casefold() not in assigned else unique_name(rel, assigned | every)
        names[rel] = name
        assigned.add(name.casefold())
    return names


def unique_name(name: str, taken: set[str]) -> str:
    """Add ``-2``, ``-3`` … before the extension until the name is free."""
    if name.casefold() not in taken:
        return name
    path = PurePosixPath(name)
    n = 2
    while (candidate := str(path.with_name(f"{path.stem}-{n}{path.suffix}"))).casefold() in taken:
        n += 1
    return candidate


def expand_items(sources: Iterable[Source], copies: int, originals: bool) -> list[SourcePlan]:
    """Every source: its original (unless left out) and ``copies`` augmented images."""
    return [SourcePlan(source, originals, copies) for source in sources]


def count_outputs(tasks: Iterable[Task]) -> int:
    """Number of output files in a plan."""
    return sum(len(task.jobs) for task in tasks)
