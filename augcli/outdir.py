"""The output folder's bookkeeping: the lock, what an earlier run left, and what may be removed.

A folder is augcli's when it holds a run record. Nothing in a folder without one is touched. In a
folder with one, only files the manifest records and whose bytes still match the recorded sha256 are
ever removed, and all are checked before the first is deleted.
"""

from __future__ import annotations

import os
from collections.abc import Iterator, Sequence
from pathlib import Path

import numpy as np

from augcli import manifest as M
from augcli.errors import InputError, RunError, option
from augcli.io import TMP_SUFFIX
from augcli.metadata import owned_metadata
from augcli.paths import inside, is_within, shown
from augcli.plan import Job, Task
from augcli.recipe import Auto
from augcli.resume import Inputs, Listing, OldRows, Resume, file_sha256
from augcli.sections import JobKey, Plan
from augcli.spool import Sorter

__all__ = ["Lock", "Resume", "check_folders", "file_sha256", "prepare", "remove_temporaries", "same_job"]


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
        remove_temporaries(out_root)
        return Resume.fresh(plan)
    rows = OldRows(out_root, plan)
    if old.identity() != record.identity():
        if not overwrite:
            rows.sorter.close()
            auto = (" (the recipe auto suggests changed with the input: 'augcli suggest' shows it)"
                    if record.recipe_source == old.recipe_source == Auto.source and record.recipe != old.recipe
                    else "")
            raise InputError(f"output folder {shown(out_root)} holds a run with a different "
                             f"{record.describe_change(old)}{auto}; "
                             f"resume needs the same recipe and options: pass {option('overwrite', True)} to "
                             "replace that run, or choose another folder")
        return _replace(out_root, plan, rows)
    metadata = owned_metadata(out_root, M.stream_rows(out_root / M.MANIFEST))  # rewritten after the final manifest
    remove_temporaries(out_root)
    resume = _reconcile(out_root, in_root, plan, rows)
    _unlink(metadata)
    return resume


def _unlink(path: Path | None) -> None:
    """Remove a file augcli proved its own, if any."""
    if path is not None:
        path.unlink(missing_ok=True)


def _replace(out_root: Path, plan: Plan, rows: OldRows) -> Resume:
    """``overwrite``: every recorded file still there is checked and unrecorded files at planned paths are
    refused before anything is deleted; then the earlier run's files and bookkeeping go."""
    checks, listing, maybe = Sorter(out_root), Listing(out_root), _Unrecorded()
    for folder, folder_rows in rows.by_folder():
        listing.clear()
        for row_items, planned in _grouped(folder_rows, plan.jobs_in(folder)):
            for ordinal, row in row_items:
                checks.add(ordinal, (row.path, row.sha256))
            if (planned is not None and planned[2].rel not in {row.path for _, row in row_items}
                    and listing.lexists(planned[2].rel)):
                maybe.add(planned[0], planned[2].rel)
    removable = _removable(out_root, (value for _, value in checks.merged()), maybe)
    checks.close()
    with removable:
        # first: metadata.csv is proven only against the manifest removed below
        _unlink(owned_metadata(out_root, M.stream_rows(out_root / M.MANIFEST)))
        for _, target in removable.merged():
            Path(target).unlink()
    for name in (M.MANIFEST, M.SOURCES, M.ERRORS):
        (out_root / name).unlink(missing_ok=True)
    remove_temporaries(out_root)
    return Resume.fresh(plan, stale=rows.count)


Located = tuple[int, Task, Job, int, int]  # plan index, task, job, where the source is (see Plan.jobs_in)


def _grouped(rows: Iterator[tuple[JobKey, int, M.Row]], planned: Iterator[tuple[JobKey, Located]]
             ) -> Iterator[tuple[list[tuple[int, M.Row]], Located | None]]:
    """Join two streams in key order: for each key, the rows claiming it (ordinal, row) and its planned
    output (None when it plans none)."""
    row, plan = next(rows, None), next(planned, None)
    while row is not None or plan is not None:
        if row is None:
            assert plan is not None
            key = plan[0]
        else:
            key = plan[0] if plan is not None and plan[0] <= row[0] else row[0]
        items = []
        while row is not None and row[0] == key:
            items.append((row[1], row[2]))
            row = next(rows, None)
        if plan is not None and plan[0] == key:
            yield items, plan[1]
            plan = next(planned, None)
        else:
            yield items, None


def same_job(row: M.Row, task: Task, job: Job) -> bool:
    """A recorded row is the planned job: same sources (partners a recipe's multi-image step drew come
    after them), class, kind, copy, seed and planned ops."""
    recorded = row.source_list()
    if (row.label, row.kind, recorded[: len(task.sources)], row.copy, row.seed) != (
            task.label, job.kind, list(task.sources), job.copy, job.seed):
        return False
    return not job.pre_ops or row.op_list()[: len(job.pre_ops)] == list(job.pre_ops)


def _reconcile(out_root: Path, in_root: Path, plan: Plan, rows: OldRows) -> Resume:
    """Keep rows that match the plan and unchanged sources; remove outputs that no longer belong.

    An output whose source moved to another class, changed its bytes or left the input is removed
    (only if its bytes are still those recorded); the plan then makes what is missing.
    """
    inputs = Inputs(in_root, plan, out_root / M.SOURCES, out_root)
    resume = Resume(done=np.zeros(plan.planned, dtype=bool), kept=Sorter(out_root))
    stale, listing, maybe = Sorter(out_root), Listing(out_root), _Unrecorded()
    for folder, folder_rows in rows.by_folder():
        listing.clear()
        book = _TaskBook(resume)
        for row_items, planned in _grouped(folder_rows, plan.jobs_in(folder)):
            match = None
            for ordinal, row in row_items:
                if match is None and planned is not None and row.path == planned[2].rel:
                    match = (ordinal, row)
                else:
                    stale.add(ordinal, (row.path, row.sha256))
            if planned is None:
                continue
            index, task, job, _, _ = planned
            state = _judge(match, planned, inputs, listing)
            if state == "kept":
                assert match is not None
                _keep(resume, inputs, match[1], planned)
                book.add(task, job, match[1].sha256)
                continue
            book.add(task, job, None)
            if state == "stale":
                assert match is not None
                stale.add(match[0], (match[1].path, match[1].sha256))  # recorded: not a stray
            elif listing.lexists(job.rel):
                maybe.add(index, job.rel)
        book.close()
    inputs_kept = inputs.kept()
    removable = _removable(out_root, (value for _, value in stale.merged()), maybe)
    stale.close()
    with removable:
        for _, target in removable.merged():
            Path(target).unlink()
            resume.stale += 1
    resume.stamps = inputs_kept
    return resume


def _judge(match: tuple[int, M.Row] | None, planned: Located, inputs: Inputs, listing: Listing) -> str:
    """What becomes of a planned output and the row that records its path, if any: "kept" (the row names
    the planned job, its sources are unchanged and its file is there), "stale" (the row is not the planned
    job, or a source changed) or "missing" (no row, or its file is gone: the output is made again)."""
    if match is None:
        return "missing"
    row = match[1]
    _, task, job, k, j = planned
    if not (same_job(row, task, job) and _unchanged(inputs, row, k, j)):
        return "stale"
    return "kept" if listing.is_file(row.path) else "missing"


def _keep(resume: Resume, inputs: Inputs, row: M.Row, planned: Located) -> None:
    """Record a kept row: done, in the manifest to write, counted, its sources' stamps kept."""
    index, _, _, k, j = planned
    assert resume.kept is not None
    resume.done[index] = True
    resume.kept.add(index, M.astuple_row(row))
    resume.kept_count += 1
    resume.labels[row.label] += 1
    resume.added[row.label] += int(row.kind != "original")
    resume.redrawn += int(row.redraw > 0)
    sources = row.source_list()
    inputs.use(sources[0], k, j)
    for rel in sources[1:]:
        inputs.use(rel)


def _unchanged(inputs: Inputs, row: M.Row, k: int, j: int) -> bool:
    """Every source of a row matching its planned job is unchanged (the first is the planned one's)."""
    sources = row.source_list()
    return inputs.unchanged(sources[0], k, j) and all(inputs.unchanged(rel) for rel in sources[1:])


class _TaskBook:
    """The tasks of one source while the join reads them: which still have outputs to make (counted), and
    for a task partly done, (copy, sha256) of its kept outputs (the worker's redraws avoid them)."""

    def __init__(self, resume: Resume) -> None:
        self.resume = resume
        self.source: str | None = None
        self.tasks: dict[str, tuple[list[tuple[int, str]], list[bool]]] = {}

    def add(self, task: Task, job: Job, kept_sha256: str | None) -> None:
        if task.sources[0] != self.source:
            self.close()
            self.source = task.sources[0]
        made, pending = self.tasks.setdefault(task.jobs[0].rel, ([], [False]))
        if kept_sha256 is None:
            pending[0] = True
        else:
            made.append((job.copy, kept_sha256))

    def close(self) -> None:
        for first, (made, pending) in self.tasks.items():
            if pending[0]:
                self.resume.pending_tasks += 1
                if made:
                    self.resume.made[first] = tuple(sorted(made))
        self.tasks.clear()


class _Unrecorded:
    """Planned paths with something on disk that the row claiming their output did not record: strays,
    unless another row (recorded under another claim) names that path."""

    def __init__(self) -> None:
        self.paths: dict[str, int] = {}  # path -> plan index

    def add(self, index: int, rel: str) -> None:
        self.paths[rel] = index

    def recorded(self, rel: str) -> None:
        self.paths.pop(rel, None)

    def refuse(self, out_root: Path) -> None:
        """Refuse when any is left: a file this run would write sits where no manifest row records it."""
        if self.paths:
            first = min(self.paths, key=self.paths.__getitem__)
            more = f" and {len(self.paths) - 1} more files" if len(self.paths) > 1 else ""
            raise InputError(f"output folder {shown(out_root)} holds {shown(first)}{more} that this run "
                             "would write, but no augcli manifest records them; nothing was deleted: move them "
                             "away, then run again")


def _removable(out_root: Path, rows: Iterator[tuple[str, str]], unrecorded: _Unrecorded) -> Sorter:
    """The files of earlier outputs about to be removed (path, sha256 in manifest order), each proven to
    hold the bytes the manifest records. Raised before anything is deleted: an unrecorded file at a
    planned path (``unrecorded``, once every row's path is known), else the first row (in manifest
    order) that leads outside the folder or whose file changed."""
    found, problem = Sorter(out_root), None
    try:
        for path, sha256 in rows:
            unrecorded.recorded(path)
            if problem is None:
                problem = _check_removable(out_root, path, sha256, found)
        unrecorded.refuse(out_root)
        if problem is not None:
            raise problem
    except BaseException:
        found.close()
        raise
    return found


def _check_removable(out_root: Path, path: str, sha256: str, found: Sorter) -> InputError | None:
    """Queue one earlier output's file for removal, or say why it may not be removed."""
    try:
        target = inside(out_root, path)
    except ValueError as exc:
        return InputError(f"{shown(out_root / M.MANIFEST)}: {exc}; choose another output folder")
    if not target.is_file():
        return None
    if not sha256 or file_sha256(target) != sha256:
        why = "was changed after augcli wrote it" if sha256 else "has no checksum (written by an older augcli)"
        return InputError(f"{shown(target)} {why}, and this run would replace or remove it; nothing was "
                          "deleted: move it out of the output folder (or choose another folder), then run again")
    found.add(found.added, str(target))
    return None


def remove_temporaries(out_root: Path) -> None:
    """Delete temporary files left by an interrupted run (hidden names ending in augcli's suffix)."""
    for folder, _, files in os.walk(out_root):
        for name in files:
            if name.startswith(".") and name.endswith(TMP_SUFFIX):
                Path(folder, name).unlink(missing_ok=True)
