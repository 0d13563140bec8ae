"""The plan of a large run, made class by class when it is read: it never exists as a whole list.

A :class:`Plan` is a sequence of :class:`Section` (one per class folder, in class order) and a short
``tail`` of tasks kept in memory (SMOTE blends, planned from features). Iterating it yields the same
tasks, in the same order and with the same names and seeds, as :func:`augcli.plan.plan_tasks` and
:func:`augcli.plan.plan_tta` give for the whole tree (``tests/test_plan_stream.py`` holds them equal).

What is global is found in a first light pass over the scan's packed names, keeping no object per file:
- **names.** Output names can only collide inside one folder, and only between names equal once
  case-folded, so classes are named in groups of equal case-folded label. A group whose originals and
  plain generated names (``stem__aug001.ext``) are all distinct once case-folded (checked on their
  hashes, 8 bytes a name, then on the names themselves when two hashes meet) gets those plain names,
  which is what :class:`augcli.plan.Namer` gives such a group; any other group is named by a Namer of
  its own, in memory (its files only).
- **counts** come from the scan; a balanced class's undersampled subset and spread of copies are
  redrawn from their seeds whenever the class is read.
- **seeds** are drawn for a window of sources at once (:func:`augcli.rng.sample_seeds`).

Each output has a plan index, its position in the plan: the final manifest is sorted on it.
"""

from __future__ import annotations

import heapq
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field, replace

import numpy as np
import numpy.typing as npt

from augcli.dataset import Dataset, Names
from augcli.plan import AUG_TAG, TTA_TAG, Job, Namer, Task
from augcli.rng import path_words, sample_seeds

WINDOW = 2048  # sources planned at once when a section is read
Indexed = tuple[tuple[int, ...], Task]  # a task and the plan index of each of its jobs


def split_name(rel: str) -> tuple[str, str, str]:
    """``(folder/, stem, suffix)`` of a POSIX path, as PurePosixPath's parent, stem and suffix."""
    slash = rel.rfind("/") + 1
    name = rel[slash:]
    dot = name.rfind(".")
    if 0 < dot < len(name) - 1:
        return rel[:slash], name[:dot], name[dot:]
    return rel[:slash], name, ""


def plain_name(rel: str, tag: str, word: str, fmt: str) -> str:
    """``cls/stem<tag><word>.ext``: the name :class:`Namer` gives a generated image when nothing collides."""
    head, stem, suffix = split_name(rel)
    return f"{head}{stem}{tag}{word}{suffix if fmt == 'same' else '.' + fmt}"


@dataclass(frozen=True, slots=True, kw_only=True)
class Section:
    """The outputs of one class folder: each kept source's original (or none), then its generated images.

    ``kept`` and ``copies`` are functions, so a balanced class's subset and spread are redrawn from
    their seeds when the section is read and are not held between reads.
    """

    label: str
    names: Names  # the class's sources, relative to its folder
    start: int  # plan index of the section's first output
    count: int  # outputs in the section
    original: bool
    kind: str  # "augmented" (copies sampled from the recipe) or "tta" (one job per variant)
    kept: Callable[[], npt.NDArray[np.int64] | None]  # indices into ``names`` (None: all)
    copies: Callable[[], npt.NDArray[np.int64]]  # generated images per kept source
    words: tuple[str, ...] = ()  # tta: the variant names
    recipe_seed: int = 0
    fmt: str = "same"
    naming: Callable[[], _Naming | None] = lambda: None  # the group's names (None: plain), found when first read

    @property
    def tag(self) -> str:
        return TTA_TAG if self.kind == "tta" else AUG_TAG

    def word(self, copy: int) -> str:
        return self.words[copy - 1] if self.kind == "tta" else f"{copy:03d}"

    def tasks(self, done: npt.NDArray[np.bool_] | None = None) -> Iterator[Indexed]:
        """The section's tasks in plan order, each with its jobs' plan indices; jobs marked in ``done``
        (a flag per plan index) are left out, and tasks left with no job."""
        for indices, task, _ in self.located(done):
            yield indices, task

    def located(self, done: npt.NDArray[np.bool_] | None = None,
                made: Mapping[str, tuple[tuple[int, str], ...]] | None = None,
                ) -> Iterator[tuple[tuple[int, ...], Task, int]]:
        """:meth:`tasks`, each also with its source's position in ``names``; a task with outputs done
        carries ``made[its first output's path]`` (see :meth:`Plan.indexed`)."""
        kept, copies = self.kept(), self.copies()
        total = len(self.names) if kept is None else len(kept)
        index = self.start
        for begin in range(0, total, WINDOW):
            end = min(begin + WINDOW, total)
            rels = self._rels(kept, begin, end)
            counts = copies[begin:end]
            seeds = self._seeds(rels, counts)
            for k, rel in enumerate(rels):
                where = begin + k if kept is None else int(kept[begin + k])
                jobs = self._jobs(rel, int(counts[k]), seeds)
                indices = range(index, index + len(jobs))
                index += len(jobs)
                if done is not None:
                    pairs = [(i, job) for i, job in zip(indices, jobs, strict=True) if not done[i]]
                    if len(pairs) == len(jobs):
                        yield tuple(indices), Task((rel,), self.label, tuple(jobs)), where
                    elif pairs:
                        task = Task((rel,), self.label, tuple(job for _, job in pairs),
                                    made=(made or {}).get(jobs[0].rel, ()))
                        yield tuple(i for i, _ in pairs), task, where
                elif jobs:
                    yield tuple(indices), Task((rel,), self.label, tuple(jobs)), where

    def _rels(self, kept: npt.NDArray[np.int64] | None, begin: int, end: int) -> list[str]:
        names = self.names.between(begin, end) if kept is None else [self.names[int(i)] for i in kept[begin:end]]
        return [f"{self.label}/{name}" for name in names]

    def _seeds(self, rels: list[str], counts: npt.NDArray[np.int64]) -> Iterator[int]:
        """The sample seeds of the window's generated images, in order (tta draws nothing: no seeds)."""
        if self.kind == "tta" or not counts.sum():
            return iter(())
        words = np.repeat(path_words(rels), counts, axis=0)
        numbers = np.concatenate([np.arange(1, n + 1) for n in counts.tolist()])
        return iter(sample_seeds(self.recipe_seed, words, numbers).tolist())

    def _jobs(self, rel: str, copies: int, seeds: Iterator[int]) -> list[Job]:
        naming, group = self.naming(), rel if self.kind == "tta" else ""
        jobs = []
        if self.original:
            jobs.append(Job(naming.original(rel) if naming else rel, "original", 0, 0, group=group))
        for copy in range(1, copies + 1):
            word = self.word(copy)
            name = naming.generated(rel, self.tag, word) if naming else plain_name(rel, self.tag, word, self.fmt)
            if self.kind == "tta":
                jobs.append(Job(name, "tta", copy, 0, recipe="tta", group=group))
            else:
                jobs.append(Job(name, "augmented", copy, next(seeds)))
        return jobs


@dataclass(eq=False)
class _Naming:
    """The names a group's own :class:`Namer` gave (only for a group where plain names collide)."""

    originals: dict[str, str] = field(default_factory=dict)
    made: dict[tuple[str, str, str], str] = field(default_factory=dict)

    def original(self, rel: str) -> str:
        return self.originals[rel]

    def generated(self, rel: str, tag: str, word: str) -> str:
        return self.made[(rel, tag, word)]


Wanted = tuple[str, str, str]  # (source, tag, word) of a generated image


@dataclass(frozen=True)
class Layout:
    """What one class makes: which sources it keeps (None: all) and how many images each generates.
    Both are functions, redrawn whenever the class is read."""

    kept: Callable[[], npt.NDArray[np.int64] | None]
    copies: Callable[[], npt.NDArray[np.int64]]

    @staticmethod
    def uniform(n: int, copies: int) -> Layout:
        """Every source kept, each with the same number of generated images."""
        return Layout(lambda: None, lambda: np.full(n, copies, dtype=np.int64))


class _Group:
    """One naming group: classes equal once case-folded, read window by window."""

    def __init__(self, members: list[str], names: Callable[[str], Names], layouts: dict[str, Layout],
                 original: bool, tag: str, words: tuple[str, ...]) -> None:
        self.members, self.names, self.layouts = members, names, layouts
        self.original, self.tag, self.words = original, tag, words

    def windows(self) -> Iterator[tuple[list[str], npt.NDArray[np.int64]]]:
        """(kept sources, generated images of each) of the group, a window at a time, in plan order."""
        for label in self.members:
            kept, copies = self.layouts[label].kept(), self.layouts[label].copies()
            names = self.names(label)
            total = len(names) if kept is None else len(kept)
            for begin in range(0, total, WINDOW):
                end = min(begin + WINDOW, total)
                chosen = names.between(begin, end) if kept is None else [names[int(i)] for i in kept[begin:end]]
                yield [f"{label}/{name}" for name in chosen], copies[begin:end]

    def wanted(self, rels: list[str], counts: npt.NDArray[np.int64]) -> list[Wanted]:
        word = (lambda c: self.words[c - 1]) if self.words else (lambda c: f"{c:03d}")
        return [(rel, self.tag, word(c)) for rel, n in zip(rels, counts.tolist(), strict=True)
                for c in range(1, n + 1)]


def name_group(group: _Group, fmt: str, extra: list[Wanted], avoid: list[str]) -> _Naming | None:
    """None when every name of the group is its plain one; else the names a Namer of the group gives
    (originals first, then ``extra`` (SMOTE's, stepping around ``avoid``), then the sections' own)."""
    if not _collides(group, fmt, extra, avoid):
        return None
    originals: list[str] = []
    generated: list[Wanted] = []
    for rels, counts in group.windows():
        originals += rels if group.original else []
        generated += group.wanted(rels, counts)
    namer, naming = Namer(fmt), _Naming()
    naming.originals = namer.originals(originals)
    for wanted, avoided in ((extra, avoid), (generated, [])):
        by_tag: dict[str, list[tuple[str, str]]] = {}
        for rel, tag, word in wanted:
            by_tag.setdefault(tag, []).append((rel, word))
        for tag, pairs in by_tag.items():  # one tag per list in every plan augcli makes
            for (rel, word), name in zip(pairs, namer.named(pairs, tag, avoided), strict=True):
                naming.made[(rel, tag, word)] = name
    return naming


def _collides(group: _Group, fmt: str, extra: list[Wanted], avoid: list[str]) -> bool:
    """True when two of the group's originals and plain generated names may be equal once case-folded
    (or an extra one equals a name to avoid): their hashes meet. Then plain names may not be what a
    Namer gives, and the group is named by one."""
    originals, generated = [], [_folded([plain_name(rel, tag, word, fmt) for rel, tag, word in extra])]
    for rels, counts in group.windows():
        if group.original:
            originals.append(_folded(rels))
        generated.append(_folded([plain_name(rel, tag, word, fmt) for rel, tag, word in group.wanted(rels, counts)]))
    made, kept = np.concatenate(generated), np.concatenate([np.zeros(0, np.int64), *originals])
    if len(np.unique(kept)) < len(kept) or len(np.unique(made)) < len(made):
        return True
    if np.intersect1d(kept, made).size:
        return True
    return bool(extra) and bool(np.intersect1d(_folded(avoid), generated[0]).size)


def _folded(names: list[str]) -> npt.NDArray[np.int64]:
    """Hashes of the case-folded names (Python's str hash: the same within this process, which is all a
    collision check needs; two equal hashes only send the group to an exact Namer)."""
    if not names:
        return np.zeros(0, np.int64)
    return np.fromiter(map(hash, "\0".join(names).casefold().split("\0")), dtype=np.int64, count=len(names))


def make_sections(labels: Sequence[str], names: Callable[[str], Names], layouts: dict[str, Layout], *,
                  original: bool, kind: str, recipe_seed: int, fmt: str, words: tuple[str, ...] = (),
                  extra: dict[str, list[Wanted]] | None = None,
                  avoid: Callable[[str], list[str]] | None = None
                  ) -> tuple[list[Section], dict[str, Callable[[], _Naming | None]]]:
    """The sections of these classes in order, named group by group (classes equal once case-folded).

    ``extra`` holds, per group key, generated names asked for after the originals and before the
    sections' own (balance's SMOTE images); they step around ``avoid(label)`` (the class's sources).
    Returns the sections and each group's naming (a function, run when the group is first read: so a
    run starts writing before every class is named), to name the extra ones.
    """
    extra = extra or {}
    tag = TTA_TAG if kind == "tta" else AUG_TAG
    groups: dict[str, list[str]] = {}
    for label in labels:
        groups.setdefault(group_key(label), []).append(label)
    namings: dict[str, Callable[[], _Naming | None]] = {}
    for key, members in groups.items():
        group = _Group(members, names, layouts, original, tag, words)
        namings[key] = _once(_namer(group, fmt, extra.get(key, []), avoid))
    sections, start = [], 0
    for label in labels:
        layout = layouts[label]
        kept, copies = layout.kept(), layout.copies()
        n = len(names(label)) if kept is None else len(kept)
        count = n * int(original) + int(copies[:n].sum())
        sections.append(Section(label=label, names=names(label), start=start, count=count, original=original,
                                kind=kind, kept=layout.kept, copies=layout.copies, words=words,
                                recipe_seed=recipe_seed, fmt=fmt, naming=namings[group_key(label)]))
        start += count
    return sections, namings


def _namer(group: _Group, fmt: str, extra: list[Wanted],
           avoid: Callable[[str], list[str]] | None) -> Callable[[], _Naming | None]:
    """The function that names a group (see :func:`name_group`)."""
    def name() -> _Naming | None:
        avoided = [rel for label in group.members for rel in avoid(label)] if avoid and extra else []
        return name_group(group, fmt, extra, avoided)

    return name


def _once(compute: Callable[[], _Naming | None]) -> Callable[[], _Naming | None]:
    """``compute``, run on the first call only."""
    found: list[_Naming | None] = []

    def value() -> _Naming | None:
        if not found:
            found.append(compute())
        return found[0]

    return value


def group_key(label: str) -> str:
    """Classes whose names are equal once case-folded are named together."""
    return label.casefold()


class Plan:
    """A run's outputs: sections read class by class, then a tail of tasks held in memory.

    Iterating gives tasks in plan order; :meth:`indexed` gives each with its jobs' plan indices.
    A plain list of tasks is a plan too (:meth:`of_tasks`).
    """

    def __init__(self, sections: Sequence[Section] = (), tail: Sequence[Task] = ()) -> None:
        self.sections = list(sections)
        self.tail = list(tail)
        self.tail_start = sum(section.count for section in self.sections)
        self.planned = self.tail_start + sum(len(task.jobs) for task in self.tail)

    @classmethod
    def of_tasks(cls, tasks: Sequence[Task]) -> Plan:
        """A plan of tasks already made (small plans, tests)."""
        return cls((), tasks)

    def __iter__(self) -> Iterator[Task]:
        return (task for _, task in self.indexed())

    def __len__(self) -> int:
        """The number of outputs planned."""
        return self.planned

    def indexed(self, done: npt.NDArray[np.bool_] | None = None,
                made: Mapping[str, tuple[tuple[int, str], ...]] | None = None) -> Iterator[Indexed]:
        """Every task with the plan index of each job, in plan order; jobs flagged in ``done`` left out.

        A task with outputs done carries ``made[first output's path]``: (copy, sha256) of those outputs.
        """
        made = made or {}
        for section in self.sections:
            if done is not None and done[section.start:section.start + section.count].all():
                continue  # nothing to make here: the section is not even read
            for indices, task, _ in section.located(done, made):
                yield indices, task
        index = self.tail_start
        for task in self.tail:
            numbers = range(index, index + len(task.jobs))
            index += len(task.jobs)
            keep = [(i, job) for i, job in zip(numbers, task.jobs, strict=True) if done is None or not done[i]]
            if len(keep) == len(task.jobs):
                yield tuple(numbers), task
            elif keep:
                yield tuple(i for i, _ in keep), replace(task, jobs=tuple(job for _, job in keep),
                                                         made=made.get(task.jobs[0].rel, ()))

    def folders(self) -> list[str]:
        """The first path component of every output (a class folder), in plan order, each once."""
        seen = dict.fromkeys(section.label for section in self.sections)
        seen.update(dict.fromkeys(_top(job.rel) for task in self.tail for job in task.jobs))
        return list(seen)

    def jobs_in(self, folder: str) -> Iterator[tuple[JobKey, tuple[int, Task, Job, int, int]]]:
        """Every planned output below one top folder, sorted by :func:`job_key` (a task's outputs are
        adjacent): its plan index, task and job, and where its source is (section number and position
        in its names; -1, -1 for the tail's)."""
        def sections() -> Iterator[tuple[JobKey, tuple[int, Task, Job, int, int]]]:
            for k, section in enumerate(self.sections):
                if section.label == folder:
                    for indices, task, where in section.located():
                        for index, job in zip(indices, task.jobs, strict=True):
                            yield job_key(task.sources[0], job.kind, job.copy), (index, task, job, k, where)

        tail, index = [], self.tail_start
        for task in self.tail:
            for job in task.jobs:
                if _top(job.rel) == folder:
                    tail.append((job_key(task.sources[0], job.kind, job.copy), (index, task, job, -1, -1)))
                index += 1
        tail.sort(key=lambda item: item[0])
        return heapq.merge(sections(), tail, key=lambda item: item[0])

    def tasks_pending(self, done: npt.NDArray[np.bool_] | None) -> int:
        """How many tasks still have an output to make."""
        if done is None:
            return sum(_task_count(s) for s in self.sections) + len(self.tail)
        return sum(1 for _ in self.indexed(done))


JobKey = tuple[str, int, int]
_KIND_ORDER = {"original": 0, "augmented": 1, "tta": 1, "smote": 2}


def job_key(source: str, kind: str, copy: int) -> JobKey:
    """The order the resume join reads outputs in: by source, then kind (original, generated, SMOTE),
    then copy, so that the outputs of one task are adjacent; a manifest row gets the key of the output
    it claims to be (its first source, kind and copy)."""
    return source, _KIND_ORDER.get(kind, 3), copy


def _task_count(section: Section) -> int:
    """Tasks of a section: its kept sources that have at least one output."""
    kept, copies = section.kept(), section.copies()
    n = len(section.names) if kept is None else len(kept)
    return n if section.original else int(np.count_nonzero(copies[:n]))


def _top(rel: str) -> str:
    return rel.split("/", 1)[0]


def plan_expand(data: Dataset, copies: int, originals: bool, recipe_seed: int, fmt: str,
                variants: tuple[str, ...] = ()) -> Plan:
    """``expand``'s plan: every source's original (unless left out), then ``copies`` augmented images, or
    one image per test-time variant when ``variants`` are named (as plan_tasks / plan_tta)."""
    n = len(variants) if variants else copies
    layouts = {label: Layout.uniform(len(data.sources.names(label)), n) for label in data.classes}
    sections, _ = make_sections(data.classes, data.sources.names, layouts, original=originals,
                                kind="tta" if variants else "augmented", recipe_seed=recipe_seed, fmt=fmt,
                                words=variants)
    return Plan(sections)
