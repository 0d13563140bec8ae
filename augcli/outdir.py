"""The output folder's bookkeeping: the lock, what an earlier run left, and what may be removed.

A folder is augcli's when it holds a run record. Nothing in a folder without one is touched. In a
folder with one, only files the manifest records and whose bytes still match the recorded sha256 are
ever removed, and all are checked before the first is deleted.
"""

from __future__ import annotations

import os
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from augcli import manifest as M
from augcli.errors import InputError, RunError, option
from augcli.io import TMP_SUFFIX
from augcli.paths import inside, is_within, shown
from augcli.plan import Job, Task
from augcli.resume import Inputs, Listing, OldRows, Planned, Resume, file_sha256
from augcli.sections import Plan
from augcli.spool import Sorter

__all__ = ["Lock", "Resume", "check_folders", "file_sha256", "prepare", "same_job"]


def check_folders(in_root: Path, out_root: Path) -> None:
    """Refuse an output folder equal to, inside, or around the input folder."""
    if is_within(out_root, in_root):
        raise InputError(f"output folder {shown(out_root)} is inside the input folder {shown(in_root)}; "
                         "choose a folder outside it (the input tree is never written to)")
    if is_within(in_root, out_root):
        raise InputError(f"output folder {shown(out_root)} contains the input folder {shown(in_root)}; "
                         "choose a folder beside it instead")


class Lock:
    """An exclusive lock file in the output folder; a lock left by a dead process is taken over."""

    def __init__(self, out_root: Path) -> None:
        self.path = out_root / M.LOCK

    def __enter__(self) -> Lock:
        for _ in range(2):
            try:
                fd = os.open(self.path, os.O_CREAT | os.O_EXCL | os.O_WRONLY)
            except FileExistsError:
                if self.path.is_symlink() or not self.path.is_file():
                    raise RunError(f"{shown(self.path)} is not a lock file augcli made (a link, folder or "
                                   "device); remove it, then run again") from None
                if self._holder_alive():
                    raise RunError(f"another augcli run is writing to {self.path.parent} "
                                   f"(lock {self.path}); wait for it, or delete the lock if it is stale") from None
                self.path.unlink(missing_ok=True)
                continue
            os.write(fd, str(os.getpid()).encode())
            os.close(fd)
            return self
        raise RunError(f"cannot lock {self.path.parent}")

    def _holder_alive(self) -> bool:
        """True when the lock's pid is a running process other than this one."""
        try:
            if self.path.stat().st_size > 64:  # a pid is a few digits
                return False
            pid = int(self.path.read_text().strip() or 0)
            if pid == os.getpid() or pid <= 0:
                return False
            os.kill(pid, 0)
        except (ValueError, ProcessLookupError, FileNotFoundError):
            return False
        except PermissionError:
            return True
        return True

    def __exit__(self, *exc: object) -> None:
        self.path.unlink(missing_ok=True)


# Files of augcli's own that may sit in an output folder before its run record exists.
def _ours_before_record(name: str) -> bool:
    return name == M.LOCK or name.endswith(TMP_SUFFIX)


def prepare(out_root: Path, in_root: Path, tasks: Plan | Sequence[Task], record: M.RunRecord,
            overwrite: bool) -> Resume:
    """Check the output folder against the run record; keep what is still right, remove what is not.

    Streamed (:mod:`augcli.resume`): the earlier manifest and stamps are sorted on disk and joined with
    the plan folder by folder, so memory does not grow with the number of rows.
    """
    plan = tasks if isinstance(tasks, Plan) else Plan.of_tasks(tasks)
    old = M.read_record(out_root / M.RUN_RECORD)
    if old is None:
        foreign = sorted(p.name for p in out_root.iterdir() if not _ours_before_record(p.name))
        if foreign:
            raise InputError(f"output folder {shown(out_root)} is not empty and holds no augcli run "
                             f"(it has {shown(foreign[0])}{' and more' if len(foreign) > 1 else ''}); "
                             "choose a new or empty folder: augcli never writes over files it did not make")
        _remove_temporaries(out_root)
        return Resume.fresh(plan)
    rows = OldRows(out_root, plan)
    if old.identity() != record.identity():
        if not overwrite:
            rows.sorter.close()
            raise InputError(f"output folder {shown(out_root)} holds a run with a different "
                             f"{record.describe_change(old)}; "
                             f"resume needs the same recipe and options: pass {option('overwrite', True)} to "
                             "replace that run, or choose another folder")
        return _replace(out_root, plan, rows)
    _remove_temporaries(out_root)
    return _reconcile(out_root, in_root, plan, rows)


def _replace(out_root: Path, plan: Plan, rows: OldRows) -> Resume:
    """``overwrite``: every recorded file still there is checked and unplanned files at planned paths are
    refused before anything is deleted; then the earlier run's files and bookkeeping go."""
    checks, strays, listing = Sorter(out_root), _Strays(), Listing(out_root)
    for folder, folder_rows in rows.by_folder():
        listing.clear()
        recorded = ((row.path, (ordinal, row)) for ordinal, row in folder_rows)
        for row_item, planned in _joined(recorded, _planned(plan, folder, out_root)):
            if row_item is not None:
                ordinal, row = row_item
                checks.add(ordinal, (row.path, row.sha256))
            elif planned is not None and listing.lexists(planned[0]):
                strays.add(planned[1], planned[0])
    removable = _removable(out_root, (value for _, value in checks.merged()))
    checks.close()
    strays.refuse(out_root)
    with removable:
        for _, target in removable.merged():
            Path(target).unlink()
    for name in (M.MANIFEST, M.SOURCES, M.ERRORS):
        (out_root / name).unlink(missing_ok=True)
    _remove_temporaries(out_root)
    return Resume.fresh(plan, stale=rows.count)


def _planned(plan: Plan, folder: str, spool: Path) -> Iterator[tuple[str, Planned]]:
    """A top folder's planned outputs sorted by path (on disk when there are many)."""
    with Sorter(spool) as order:
        for index, task, job, k, j in plan.jobs_in(folder):
            order.add(job.rel, (job.rel, index, task.jobs[0].rel, task.sources, task.label, job.kind, job.copy,
                                job.seed, job.pre_ops, k, j))
        yield from order.merged()


def _joined(rows: Iterator[tuple[str, Any]], planned: Iterator[tuple[str, Planned]]
            ) -> Iterator[tuple[Any | None, Planned | None]]:
    """Join two streams sorted by path: (row item, planned output) with None where one side has nothing."""
    row, plan = next(rows, None), next(planned, None)
    while row is not None or plan is not None:
        if plan is None or (row is not None and row[0] < plan[0]):
            yield row[1] if row is not None else None, None
            row = next(rows, None)
        elif row is None or plan[0] < row[0]:
            yield None, plan[1]
            plan = next(planned, None)
        else:
            yield row[1], plan[1]
            row, plan = next(rows, None), next(planned, None)


def same_job(row: M.Row, task: Task, job: Job) -> bool:
    """A recorded row is the planned job: same sources (partners a recipe's multi-image step drew come
    after them), class, kind, copy, seed and planned ops."""
    return _same(row, task.sources, task.label, job.kind, job.copy, job.seed, job.pre_ops)


def _same(row: M.Row, sources: Sequence[str], label: str, kind: str, copy: int, seed: int,
          pre_ops: Sequence[Any]) -> bool:
    recorded = row.source_list()
    if (row.label, row.kind, recorded[: len(sources)], row.copy, row.seed) != (
            label, kind, list(sources), copy, seed):
        return False
    return not pre_ops or row.op_list()[: len(pre_ops)] == list(pre_ops)


def _reconcile(out_root: Path, in_root: Path, plan: Plan, rows: OldRows) -> Resume:
    """Keep rows that match the plan and unchanged sources; remove outputs that no longer belong.

    An output whose source moved to another class, changed its bytes or left the input is removed
    (only if its bytes are still those recorded); the plan then makes what is missing.
    """
    inputs = Inputs(in_root, plan, out_root / M.SOURCES, out_root)
    resume = Resume(done=np.zeros(plan.planned, dtype=bool), kept=Sorter(out_root))
    stale, strays, listing = Sorter(out_root), _Strays(), Listing(out_root)
    assert resume.kept is not None
    for folder, folder_rows in rows.by_folder():
        listing.clear()
        pending: set[str] = set()  # tasks (by their first output) with an output still to make
        for row_item, planned in _joined(((row.path, (o, row)) for o, row in folder_rows),
                                         _planned(plan, folder, out_root)):
            recorded = False  # a kept row whose file is there, or a stale row
            if row_item is not None:
                ordinal, row = row_item
                keep = planned is not None and _same(row, *planned[3:9]) and _unchanged(inputs, row, planned)
                if keep and planned is not None and listing.is_file(row.path):
                    resume.done[planned[1]] = True
                    resume.kept.add(planned[1], M.astuple_row(row))
                    resume.kept_count += 1
                    resume.labels[row.label] += 1
                    resume.added[row.label] += int(row.kind != "original")
                    _use(inputs, row, planned)
                    continue
                if not keep:
                    stale.add(ordinal, (row.path, row.sha256))
                    recorded = True
            if planned is not None:
                pending.add(planned[2])
                if not recorded and listing.lexists(planned[0]):
                    strays.add(planned[1], planned[0])
        resume.pending_tasks += len(pending)
    strays.refuse(out_root)
    removable = _removable(out_root, (value for _, value in stale.merged()))
    stale.close()
    with removable:
        for _, target in removable.merged():
            Path(target).unlink()
            resume.stale += 1
    resume.stamps = inputs.kept()
    return resume


def _unchanged(inputs: Inputs, row: M.Row, planned: Planned) -> bool:
    """Every source of a row matching its planned job is unchanged (the first is the planned one's)."""
    sources = row.source_list()
    return inputs.unchanged(sources[0], planned[9], planned[10]) and all(
        inputs.unchanged(rel) for rel in sources[1:])


def _use(inputs: Inputs, row: M.Row, planned: Planned) -> None:
    sources = row.source_list()
    inputs.use(sources[0], planned[9], planned[10])
    for rel in sources[1:]:
        inputs.use(rel)


class _Strays:
    """Files at planned paths that no manifest row records: the first in plan order, and how many."""

    def __init__(self) -> None:
        self.first: tuple[int, str] | None = None
        self.count = 0

    def add(self, index: int, rel: str) -> None:
        self.count += 1
        if self.first is None or index < self.first[0]:
            self.first = (index, rel)

    def refuse(self, out_root: Path) -> None:
        """Refuse when any: a file this run would write sits where no manifest row records it."""
        if self.first is not None:
            more = f" and {self.count - 1} more files" if self.count > 1 else ""
            raise InputError(f"output folder {shown(out_root)} holds {shown(self.first[1])}{more} that this run "
                             "would write, but no augcli manifest records them; nothing was deleted: move them "
                             "away, then run again")


def _removable(out_root: Path, rows: Iterator[tuple[str, str]]) -> Sorter:
    """The files of earlier outputs about to be removed (path, sha256 in manifest order), each proven to
    hold the bytes the manifest records; one that does not stops the run before anything is deleted."""
    found = Sorter(out_root)
    try:
        for path, sha256 in rows:
            try:
                target = inside(out_root, path)
            except ValueError as exc:
                raise InputError(f"{shown(out_root / M.MANIFEST)}: {exc}; choose another output folder") from None
            if not target.is_file():
                continue
            if not sha256 or file_sha256(target) != sha256:
                why = ("was changed after augcli wrote it" if sha256
                       else "has no checksum (written by an older augcli)")
                raise InputError(f"{shown(target)} {why}, and this run would replace or remove it; nothing was "
                                 "deleted: move it out of the output folder (or choose another folder), then "
                                 "run again")
            found.add(found.added, str(target))
    except BaseException:
        found.close()
        raise
    return found


def _remove_temporaries(out_root: Path) -> None:
    """Delete temporary files left by an interrupted run (hidden names ending in augcli's suffix)."""
    for folder, _, files in os.walk(out_root):
        for name in files:
            if name.startswith(".") and name.endswith(TMP_SUFFIX):
                Path(folder, name).unlink(missing_ok=True)
