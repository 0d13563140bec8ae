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
TTA_TAG = "__tta_"  # a test-time variant: cls/stem__tta_<variant>.ext


@dataclass(frozen=True)
class Job:
    """One output file."""

    rel: str  # output path relative to the output folder
    kind: str  # original | augmented | smote | tta
    copy: int  # 0 for originals; 1.. for generated images of a source (tta: the variant's number)
    seed: int  # 0 for originals
    pre_ops: tuple[dict[str, Any], ...] = ()  # planned ops applied to the sources first (a SMOTE blend)
    recipe: str = "main"  # what follows pre_ops: "main" or "then" (sampled with ``seed``), "tta" (variant ``copy``
    # of the recipe's test-time set, which draws nothing) or "none"
    group: str = ""  # the manifest's group column: the source of a test-time-augmentation set

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
    made: tuple[tuple[int, str], ...] = ()  # (copy, sha256) of its outputs an earlier run made (resume): a job
    # must differ from the outputs of lower copy numbers, made now or then (run.run_task)


@dataclass(frozen=True)
class SourcePlan:
    """What to make from one source: keep its original or not, and how many augmented copies."""

    source: Source
    original: bool
    copies: int


def output_suffix(source_rel: str, fmt: str) -> str:
    """The file extension of a generated image: the source's, or the recipe's format."""
    return PurePosixPath(source_rel).suffix if fmt == "same" else f".{fmt}"


def plan_tasks(items: Sequence[SourcePlan], recipe_seed: int, fmt: str, names: Namer | None = None) -> list[Task]:
    """Turn per-source decisions into tasks with stable output names, unique by construction.

    ``names`` is the run's :class:`Namer` when other outputs (SMOTE images) are named too.
    """
    names = names or Namer(fmt)
    originals = names.originals([item.source.rel for item in items if item.original])
    wanted = [(item.source.rel, copy) for item in items for copy in range(1, item.copies + 1)]
    generated = iter(names.generated(wanted, AUG_TAG))
    tasks = []
    for item in items:
        jobs = [Job(originals[item.source.rel], "original", 0, 0)] if item.original else []
        for copy in range(1, item.copies + 1):
            jobs.append(Job(next(generated), "augmented", copy, sample_seed(recipe_seed, item.source.rel, copy)))
        if jobs:
            tasks.append(Task((item.source.rel,), item.source.label, tuple(jobs)))
    return tasks


def plan_tta(sources: Sequence[Source], variants: Sequence[str], originals: bool, fmt: str) -> list[Task]:
    """Every source: its original (unless left out) and one job per named variant, all grouped by the source."""
    names = Namer(fmt)
    kept = names.originals([s.rel for s in sources] if originals else [])
    named = iter(names.named([(s.rel, variant) for s in sources for variant in variants], TTA_TAG))
    tasks = []
    for source in sources:
        jobs = [Job(kept[source.rel], "original", 0, 0, group=source.rel)] if originals else []
        jobs += [Job(next(named), "tta", i, 0, recipe="tta", group=source.rel) for i in range(1, len(variants) + 1)]
        tasks.append(Task((source.rel,), source.label, tuple(jobs)))
    return tasks


class Namer:
    """The names of one run's outputs: every name is new, also ignoring case (case-insensitive file systems).

    Originals keep their relative path; one that differs from an earlier original only in case
    (``A.png`` after ``a.png``) gets a ``-2`` counter. A generated image of a source is
    ``cls/stem<tag>NNN.ext`` (``__aug003``, ``__smote001``); when that name is wanted twice or is
    already taken, the source extension goes into the stem (``stem_png__aug003.ext``), then a counter.
    Name the originals first, then each kind of generated image, through the same Namer.
    """

    def __init__(self, fmt: str) -> None:
        self.fmt = fmt  # the recipe's output format ("same" keeps each source's extension)
        self.taken: set[str] = set()  # every name given so far, case-folded
        self._originals: dict[str, str] = {}

    def originals(self, rels: Sequence[str]) -> dict[str, str]:
        """The output name of each original (names given earlier are kept)."""
        every = {rel.casefold() for rel in rels}
        for rel in rels:
            if rel not in self._originals:
                name = rel if rel.casefold() not in self.taken else unique_name(rel, self.taken | every)
                self._originals[rel] = name
                self.taken.add(name.casefold())
        return {rel: self._originals[rel] for rel in rels}

    def generated(self, wanted: Sequence[tuple[str, int]], tag: str, avoid: Iterable[str] = ()) -> list[str]:
        """Names for generated images, one per (source, copy) in order, none equal to ``avoid``'s."""
        return self.named([(rel, f"{copy:03d}") for rel, copy in wanted], tag, avoid)

    def named(self, wanted: Sequence[tuple[str, str]], tag: str, avoid: Iterable[str] = ()) -> list[str]:
        """Names ``cls/stem<tag><word>.ext``, one per (source, word) in order (a copy number, a variant name)."""
        taken = self.taken | {name.casefold() for name in avoid}
        plain: dict[str, int] = {}
        for rel, word in wanted:
            key = self._generated(rel, word, tag, False).casefold()
            plain[key] = plain.get(key, 0) + 1
        out = []
        for rel, word in wanted:
            name = self._generated(rel, word, tag, False)
            if plain[name.casefold()] > 1 or name.casefold() in taken:
                name = unique_name(self._generated(rel, word, tag, True), taken)
            taken.add(name.casefold())
            self.taken.add(name.casefold())
            out.append(name)
        return out

    def _generated(self, source_rel: str, word: str, tag: str, with_ext: bool) -> str:
        """``cls/sub/stem<tag>003.ext`` (``stem_png<tag>003.ext`` with ``with_ext``)."""
        path = PurePosixPath(source_rel)
        stem = f"{path.stem}_{path.suffix.lstrip('.').lower()}" if with_ext else path.stem
        return str(path.with_name(f"{stem}{tag}{word}{output_suffix(source_rel, self.fmt)}"))


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
