"""The output folder's bookkeeping: the lock, what an earlier run left, and what may be removed.

A folder is augcli's when it holds a run record. Nothing in a folder without one is touched. In a
folder with one, only files the manifest records and whose bytes still match the recorded sha256 are
ever removed, and all are checked before the first is deleted.
"""

from __future__ import annotations

import hashlib
import os
from collections.abc import Sequence
from dataclasses import dataclass, replace
from pathlib import Path

from augcli import manifest as M
from augcli.errors import InputError, RunError, option
from augcli.io import TMP_SUFFIX
from augcli.metadata import owned_metadata
from augcli.paths import inside, is_within, safe_rel, shown
from augcli.plan import Job, Task
from augcli.recipe import Auto


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


@dataclass(frozen=True)
class Resume:
    """What an earlier run in the output folder leaves for this one."""

    done: dict[str, M.Row]
    stamps: dict[str, M.Stamp]
    stale: int


def prepare(out_root: Path, in_root: Path, tasks: Sequence[Task], record: M.RunRecord,
            overwrite: bool) -> Resume:
    """Check the output folder against the run record; keep what is still right, remove what is not."""
    old = M.read_record(out_root / M.RUN_RECORD)
    if old is None:
        foreign = sorted(p.name for p in out_root.iterdir() if not _ours_before_record(p.name))
        if foreign:
            raise InputError(f"output folder {shown(out_root)} is not empty and holds no augcli run "
                             f"(it has {shown(foreign[0])}{' and more' if len(foreign) > 1 else ''}); "
                             "choose a new or empty folder: augcli never writes over files it did not make")
        remove_temporaries(out_root)
        return Resume({}, {}, 0)
    rows = _old_rows(out_root)
    if old.identity() != record.identity():
        if not overwrite:
            auto = (" (the recipe auto suggests changed with the input: 'augcli suggest' shows it)"
                    if record.recipe_source == old.recipe_source == Auto.source and record.recipe != old.recipe
                    else "")
            raise InputError(f"output folder {shown(out_root)} holds a run with a different "
                             f"{record.describe_change(old)}{auto}; "
                             f"resume needs the same recipe and options: pass {option('overwrite', True)} to "
                             "replace that run, or choose another folder")
        removable = _removable(out_root, rows)
        _refuse_strays(out_root, tasks, {row.path for row in rows})
        _unlink(owned_metadata(out_root, rows))  # first: it is proven only against the manifest removed below
        for target in removable:
            target.unlink()
        for name in (M.MANIFEST, M.SOURCES, M.ERRORS):
            (out_root / name).unlink(missing_ok=True)
        remove_temporaries(out_root)
        return Resume({}, {}, len(rows))
    metadata = owned_metadata(out_root, rows)  # rewritten after the run's final manifest
    remove_temporaries(out_root)
    resume = _reconcile(out_root, in_root, tasks, rows, M.read_stamps(out_root / M.SOURCES))
    _unlink(metadata)
    return resume


def _unlink(path: Path | None) -> None:
    """Remove a file augcli proved its own, if any."""
    if path is not None:
        path.unlink(missing_ok=True)


def _old_rows(out_root: Path) -> list[M.Row]:
    """Rows of the earlier manifest (a cut last line is dropped); every path proven inside the folder."""
    path = out_root / M.MANIFEST
    try:
        rows, _ = M.read_rows_tolerant(path)
    except (ValueError, UnicodeDecodeError, OSError) as exc:
        raise InputError(f"{shown(path)}: {exc}; this folder was not left by augcli as it is: "
                         "choose another output folder") from None
    seen: set[str] = set()
    for row in rows:
        if row.path in seen:
            raise InputError(f"{shown(path)}: output {shown(row.path)!r} is listed twice; augcli did not write "
                             "this manifest: choose another output folder")
        seen.add(row.path)
        if not safe_rel(row.path) or not all(safe_rel(s) for s in row.source_list()):
            raise InputError(f"{shown(path)}: row {shown(row.path)!r} names a path outside the folders; "
                             "augcli did not write this manifest: choose another output folder")
    return rows


def _removable(out_root: Path, rows: Sequence[M.Row]) -> list[Path]:
    """The files of earlier outputs about to be removed, each proven to hold the bytes the manifest
    records; one that does not stops the run before anything is deleted."""
    found = []
    for row in rows:
        try:
            target = inside(out_root, row.path)
        except ValueError as exc:
            raise InputError(f"{shown(out_root / M.MANIFEST)}: {exc}; choose another output folder") from None
        if not target.is_file():
            continue
        if not row.sha256 or file_sha256(target) != row.sha256:
            why = ("was changed after augcli wrote it" if row.sha256
                   else "has no checksum (written by an older augcli)")
            raise InputError(f"{shown(target)} {why}, and this run would replace or remove it; nothing was "
                             "deleted: move it out of the output folder (or choose another folder), then run again")
        found.append(target)
    return found


def file_sha256(path: Path) -> str:
    """The sha256 of a file's bytes, read in blocks."""
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


class _Sources:
    """Which inputs are unchanged since their stamps: size and mtime first, the content hash if those moved."""

    def __init__(self, in_root: Path, stamps: dict[str, M.Stamp]) -> None:
        self.in_root, self.stamps = in_root, stamps
        self.known: dict[str, bool] = {}

    def unchanged(self, rel: str) -> bool:
        if rel not in self.known:
            self.known[rel] = self._check(rel)
        return self.known[rel]

    def _check(self, rel: str) -> bool:
        stamp = self.stamps.get(rel)
        try:
            stat = os.stat(self.in_root / rel)
        except OSError:
            return False
        if stamp is None or stat.st_size != stamp.size:
            return False
        if stat.st_mtime_ns == stamp.mtime_ns:
            return True
        if file_sha256(self.in_root / rel) != stamp.sha256:
            return False
        self.stamps[rel] = replace(stamp, mtime_ns=stat.st_mtime_ns)  # touched, same bytes
        return True


def _same_job(row: M.Row, task: Task, job: Job) -> bool:
    """A recorded row is the planned job: same sources (partners a recipe's multi-image step drew come
    after them), class, kind, copy, seed and planned ops."""
    sources = row.source_list()
    if (row.label, row.kind, sources[: len(task.sources)], row.copy, row.seed) != (
            task.label, job.kind, list(task.sources), job.copy, job.seed):
        return False
    return not job.pre_ops or row.op_list()[: len(job.pre_ops)] == list(job.pre_ops)


def _reconcile(out_root: Path, in_root: Path, tasks: Sequence[Task], rows: list[M.Row],
               stamps: dict[str, M.Stamp]) -> Resume:
    """Keep rows that match the plan and unchanged sources; remove outputs that no longer belong.

    An output whose source moved to another class, changed its bytes or left the input is removed
    (only if its bytes are still those recorded); the plan then makes what is missing.
    """
    planned = {job.rel: (task, job) for task in tasks for job in task.jobs}
    sources = _Sources(in_root, stamps)
    done: dict[str, M.Row] = {}
    stale: list[M.Row] = []
    for row in rows:
        hit = planned.get(row.path)
        keep = hit is not None and _same_job(row, *hit) and all(sources.unchanged(s) for s in row.source_list())
        if keep and (out_root / row.path).is_file():
            done[row.path] = row
        elif not keep:
            stale.append(row)
    _refuse_strays(out_root, tasks, set(done) | {row.path for row in stale})
    removable = _removable(out_root, stale)
    for target in removable:
        target.unlink()
    removed = len(removable)
    kept_sources = {s for row in done.values() for s in row.source_list()}
    return Resume(done, {rel: st for rel, st in sources.stamps.items() if rel in kept_sources}, removed)


def _refuse_strays(out_root: Path, tasks: Sequence[Task], recorded: set[str]) -> None:
    """Refuse when a file this run would write sits at a path no manifest row records: it is not augcli's."""
    strays = [job.rel for task in tasks for job in task.jobs
              if job.rel not in recorded and os.path.lexists(out_root / job.rel)]
    if strays:
        raise InputError(f"output folder {shown(out_root)} holds {shown(strays[0])}"
                         f"{f' and {len(strays) - 1} more files' if len(strays) > 1 else ''} that this run "
                         "would write, but no augcli manifest records them; nothing was deleted: move them "
                         "away, then run again")


def remove_temporaries(out_root: Path) -> None:
    """Delete temporary files left by an interrupted run (hidden names ending in augcli's suffix)."""
    for folder, _, files in os.walk(out_root):
        for name in files:
            if name.startswith(".") and name.endswith(TMP_SUFFIX):
                Path(folder, name).unlink(missing_ok=True)
