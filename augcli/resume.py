"""Resuming a run from what an earlier one left, in bounded memory: the earlier manifest and stamps are
streamed and sorted on disk (:mod:`augcli.spool`), never held as objects per row.

The decisions are those of the in-memory version (``outdir._reconcile`` before this module): a row is
kept when its path is planned, it names the planned job (:func:`augcli.outdir.same_job`) and its
sources are unchanged, and its file is there; a row that is not kept is stale; an unrecorded file at a
planned path is refused; every stale file is checked against its sha256 before the first is removed.

How it is found without a dictionary of the plan or of the rows:
- the old rows are read once and sorted by (top folder, path) on disk; duplicate paths are found on
  their hashes (8 bytes a row), confirmed by reading again only when two hashes meet;
- for each top folder (a class, in plan order), the planned outputs are sorted by path too and the two
  sorted streams are joined; what exists is read with one directory listing per folder
  (``os.scandir``), not a stat per output;
- the stamps of the earlier run (``augcli-sources.csv``) are sorted by path and walked along the
  scanned inputs in path order, so each input's state (unchanged, changed, touched with the same
  bytes) takes one byte.

Memory: a sorter's batch (a few tens of MB), a byte per input and per planned output, and the
listing of the folder being joined.
"""

from __future__ import annotations

import bisect
import hashlib
import heapq
import os
from array import array
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt

from augcli import direct as D
from augcli import manifest as M
from augcli.dataset import Names
from augcli.errors import InputError
from augcli.paths import safe_rel, shown
from augcli.sections import JobKey, Plan, job_key
from augcli.spool import Sorter

_NO_STAMP, _UNCHANGED, _CHANGED, _USED = 0, 1, 2, 4
ROWS_LIMIT = 16_384  # old rows held in memory before a sorted run goes to disk


@dataclass
class Resume:
    """What an earlier run in the output folder leaves for this one."""

    done: npt.NDArray[np.bool_]  # per plan index: its output is kept
    made: dict[str, tuple[tuple[int, str], ...]] = field(default_factory=dict)  # a partly done task (by its
    # first output): (copy, sha256) of its outputs kept
    kept: Sorter | None = None  # (plan index, manifest record) of the kept rows
    kept_count: int = 0
    stamps: Iterator[M.Stamp] = field(default_factory=lambda: iter(()))  # kept sources' stamps, by path
    stale: int = 0
    pending_tasks: int = 0
    labels: Counter[str] = field(default_factory=Counter)  # kept rows per class
    added: Counter[str] = field(default_factory=Counter)  # kept rows that are not originals, per class
    redrawn: int = 0  # kept rows whose first draw gave a copy

    @classmethod
    def fresh(cls, plan: Plan, stale: int = 0) -> Resume:
        return cls(done=np.zeros(plan.planned, dtype=bool), stale=stale, pending_tasks=plan.tasks_pending(None))

    def kept_rows(self) -> Iterator[M.Row]:
        """The kept rows in plan order (read once)."""
        if self.kept is not None:
            with self.kept:
                for _, values in self.kept.merged():
                    yield M.Row(*values)


# ---------------------------------------------------------------- the earlier manifest


class OldRows:
    """The earlier manifest's rows sorted on disk by top folder, then by the output each claims to be
    (:func:`augcli.sections.job_key`), checked as a whole first."""

    def __init__(self, out_root: Path, plan: Plan) -> None:
        self.path = out_root / M.MANIFEST
        self.ranks = {folder: i for i, folder in enumerate(plan.folders())}
        self.sorter = Sorter(out_root, ROWS_LIMIT)
        self.count = 0
        self._read()

    def _rank(self, folder: str) -> int:
        if folder not in self.ranks:
            self.ranks[folder] = len(self.ranks)
        return self.ranks[folder]

    def _read(self) -> None:
        hashes = array("q")
        unsafe: tuple[int, str] | None = None
        try:
            for ordinal, row in enumerate(M.stream_rows(self.path)):
                hashes.append(hash(row.path))
                if unsafe is None and (not safe_rel(row.path) or not all(safe_rel(s) for s in row.source_list())):
                    unsafe = (ordinal, row.path)
                key = job_key(row.sources.split(";", 1)[0], row.kind, row.copy)
                self.sorter.add((self._rank(_top(row.path)), key, row.path), (ordinal, M.astuple_row(row)))
                self.count += 1
        except (ValueError, UnicodeDecodeError, OSError) as exc:
            raise InputError(f"{shown(self.path)}: {exc}; this folder was not left by augcli as it is: "
                             "choose another output folder") from None
        twice = self._first_repeat(hashes)
        if twice is not None and (unsafe is None or twice[0] <= unsafe[0]):
            raise InputError(f"{shown(self.path)}: output {shown(twice[1])!r} is listed twice; augcli did not "
                             "write this manifest: choose another output folder")
        if unsafe is not None:
            raise InputError(f"{shown(self.path)}: row {shown(unsafe[1])!r} names a path outside the folders; "
                             "augcli did not write this manifest: choose another output folder")

    def _first_repeat(self, hashes: array[int]) -> tuple[int, str] | None:
        """The first row (in file order) whose path an earlier row has: found on the paths' hashes, then
        confirmed on the paths themselves, reading the file again only when two hashes meet."""
        values = np.sort(np.frombuffer(hashes, dtype=np.int64))
        if not np.any(values[1:] == values[:-1]):
            return None
        suspects = set(values[1:][values[1:] == values[:-1]].tolist())
        seen: set[str] = set()
        for ordinal, row in enumerate(M.stream_rows(self.path)):
            if hash(row.path) in suspects:
                if row.path in seen:
                    return ordinal, row.path
                seen.add(row.path)
        return None

    def by_folder(self) -> Iterator[tuple[str, Iterator[tuple[JobKey, int, M.Row]]]]:
        """Each top folder with its rows (key, ordinal, row) in key order: planned folders first, in plan
        order. Each folder's rows must be read before the next folder is asked for."""
        names = {rank: folder for folder, rank in self.ranks.items()}
        merged = self.sorter.merged()
        head = next(merged, None)
        for rank in range(len(names)):
            def rows(rank: int = rank) -> Iterator[tuple[JobKey, int, M.Row]]:
                nonlocal head
                while head is not None and head[0][0] == rank:
                    key, (ordinal, values) = head[0][1], head[1]
                    head = next(merged, None)
                    yield key, ordinal, M.Row(*values)
            yield names[rank], rows()
        self.sorter.close()


def _top(rel: str) -> str:
    return rel.split("/", 1)[0]


# ---------------------------------------------------------------- what exists in the output folder


class Listing:
    """What the output folder holds, read with one ``os.scandir`` per folder (a stat only for links)."""

    def __init__(self, root: Path) -> None:
        self.root = root
        self._dirs: dict[str, tuple[frozenset[str], frozenset[str]] | None] = {}

    def clear(self) -> None:
        self._dirs.clear()

    def _folder(self, parent: str) -> tuple[frozenset[str], frozenset[str]] | None:
        """(regular files or links to them, every other name) of a folder; None when it cannot be listed."""
        if parent not in self._dirs:
            files: set[str] = set()
            others: set[str] = set()
            try:
                with os.scandir(self.root / parent) as listing:
                    for entry in listing:
                        try:
                            (files if entry.is_file() else others).add(entry.name)
                        except OSError:
                            others.add(entry.name)
                self._dirs[parent] = frozenset(files), frozenset(others)
            except (FileNotFoundError, NotADirectoryError):
                self._dirs[parent] = frozenset(), frozenset()
            except OSError:
                self._dirs[parent] = None  # e.g. a folder that may be entered but not listed: stat each path
        return self._dirs[parent]

    def is_file(self, rel: str) -> bool:
        """``(root / rel).is_file()``."""
        parent, _, name = rel.rpartition("/")
        folder = self._folder(parent)
        return (self.root / rel).is_file() if folder is None else name in folder[0]

    def lexists(self, rel: str) -> bool:
        """``os.path.lexists(root / rel)``."""
        parent, _, name = rel.rpartition("/")
        folder = self._folder(parent)
        if folder is None:
            return os.path.lexists(self.root / rel)
        return name in folder[0] or name in folder[1]


# ---------------------------------------------------------------- the inputs an earlier run read


class Inputs:
    """Which inputs are unchanged since their stamps: size and mtime first, the content hash if those
    moved (then the stamp takes the new mtime). One byte of state per scanned input."""

    def __init__(self, in_root: Path, plan: Plan, stamps_path: Path, spool: Path) -> None:
        self.in_root = in_root
        self.labels = [section.label for section in plan.sections]
        self.names = [section.names for section in plan.sections]
        self.index = {label: k for k, label in enumerate(self.labels)}
        self.state = [np.zeros(len(names), dtype=np.uint8) for names in self.names]
        self.mtimes: dict[int, npt.NDArray[np.int64]] = {}  # per class: the new mtime of touched inputs
        self.others: dict[str, M.Stamp] = {}  # stamps of inputs outside the scanned classes
        self.others_state: dict[str, int] = {}
        self._sorted = Sorter(spool)
        self._walk(stamps_path, spool)

    def _walk(self, stamps_path: Path, spool: Path) -> None:
        """Sort the stamps by path and walk them along the scanned inputs (also in path order)."""
        loading = Sorter(spool)
        try:
            loading.extend((stamp.path, stamp.record()) for stamp in M.stream_stamps(stamps_path))
        except ValueError:  # not a stamps file augcli wrote: no stamp at all, every source is remade
            loading.close()
            return
        inputs = heapq.merge(*(_paths(label, k, names)
                               for k, (label, names) in enumerate(zip(self.labels, self.names, strict=True))))
        current = next(inputs, None)
        for path, record in _last_of_each(loading.merged()):
            while current is not None and current[0] < path:
                current = next(inputs, None)
            stamp = M.Stamp(*record)
            if current is not None and current[0] == path:
                k, j = current[1], current[2]
                self.state[k][j] = self._check(stamp, k, j)
                self._sorted.add(path, (record, k, j))
            else:
                self.others[path] = stamp
                self._sorted.add(path, (record, -1, -1))
        loading.close()

    def _check(self, stamp: M.Stamp, k: int, j: int) -> int:
        try:
            stat = os.stat(self.in_root / stamp.path)
        except OSError:
            return _CHANGED
        if stat.st_size != stamp.size:
            return _CHANGED
        if stat.st_mtime_ns == stamp.mtime_ns:
            return _UNCHANGED
        if file_sha256(self.in_root / stamp.path) != stamp.sha256:
            return _CHANGED
        if k not in self.mtimes:
            self.mtimes[k] = np.zeros(len(self.names[k]), dtype=np.int64)
        self.mtimes[k][j] = stat.st_mtime_ns  # touched, same bytes: the stamp takes the new mtime
        return _UNCHANGED

    def find(self, rel: str) -> tuple[int, int]:
        """(class, position) of a scanned input, or (-1, -1)."""
        label, _, name = rel.partition("/")
        k = self.index.get(label, -1)
        if k < 0:
            return -1, -1
        names = self.names[k]
        j = bisect.bisect_left(names, name)
        return (k, j) if j < len(names) and names[j] == name else (-1, -1)

    def unchanged(self, rel: str, k: int = -1, j: int = -1) -> bool:
        """True when the input is as its stamp says (``k``, ``j``: its place in the scan, when known)."""
        if k < 0:
            k, j = self.find(rel)
        if k >= 0:
            return bool(self.state[k][j] & _UNCHANGED)
        if rel not in self.others_state:
            self.others_state[rel] = self._check_other(rel)
        return bool(self.others_state[rel] & _UNCHANGED)

    def _check_other(self, rel: str) -> int:
        """An input the scan did not list (a partner from elsewhere): checked against its stamp when asked."""
        stamp = self.others.get(rel)
        if stamp is None:
            return _NO_STAMP
        try:
            stat = os.stat(self.in_root / rel)
        except OSError:
            return _CHANGED
        if stat.st_size != stamp.size:
            return _CHANGED
        if stat.st_mtime_ns != stamp.mtime_ns:
            if file_sha256(self.in_root / rel) != stamp.sha256:
                return _CHANGED
            self.others[rel] = replace(stamp, mtime_ns=stat.st_mtime_ns)
        return _UNCHANGED

    def use(self, rel: str, k: int = -1, j: int = -1) -> None:
        """Mark an input as read by a kept row: its stamp is kept."""
        if k < 0:
            k, j = self.find(rel)
        if k >= 0:
            self.state[k][j] |= _USED
        else:
            self.others_state[rel] = self.others_state.get(rel, 0) | _USED

    def kept(self) -> Iterator[M.Stamp]:
        """The stamps of inputs read by kept rows, by path (read once)."""
        for path, (record, k, j) in self._sorted.merged():
            if k >= 0:
                if self.state[k][j] & _USED:
                    mtime = int(self.mtimes[k][j]) if k in self.mtimes and self.mtimes[k][j] else record[2]
                    yield M.Stamp(path, record[1], mtime, record[3])
            elif self.others_state.get(path, 0) & _USED:
                yield self.others[path]
        self._sorted.close()


def _paths(label: str, k: int, names: Names) -> Iterator[tuple[str, int, int]]:
    """A class's inputs as (path, section, position), in path order."""
    for j, name in enumerate(names):
        yield f"{label}/{name}", k, j


def file_sha256(path: Path) -> str:
    """The sha256 of a file's bytes, read in blocks."""
    if D.MOUNTS:  # a placeholder of a direct store run: the object's bytes (augcli.direct)
        remote = D.remote_sha256(path)
        if remote is not None:
            return remote
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def _last_of_each(items: Iterator[tuple[str, Any]]) -> Iterator[tuple[str, Any]]:
    """Of items sorted by key (ties in insertion order), the last of each key."""
    previous: tuple[str, Any] | None = None
    for item in items:
        if previous is not None and previous[0] != item[0]:
            yield previous
        previous = item
    if previous is not None:
        yield previous
