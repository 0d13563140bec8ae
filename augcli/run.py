"""Executing a plan: a process pool streams tasks; each worker reads, renders and writes.

The parent owns the output folder's bookkeeping: the lock, the run record, resume, the
manifest (appended as results arrive, rewritten in plan order at the end) and errors.csv.
"""

from __future__ import annotations

import ctypes
import hashlib
import multiprocessing
import os
import signal
import sys
import threading
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field, replace
from pathlib import Path, PurePosixPath
from typing import Any

import numpy as np

from augcli import manifest as M
from augcli.compose import Op
from augcli.errors import InputError, RunError
from augcli.io import DEFAULT_MAX_PIXELS, TMP_SUFFIX, ReadError, decode_image, encode_image, write_temp
from augcli.ops._image import Image
from augcli.paths import inside, is_within, safe_rel, shown
from augcli.plan import Job, Task, output_suffix
from augcli.recipe import Recipe
from augcli.render import render_sources
from augcli.rng import generator

Progress = Callable[[int, int], None]


@dataclass(frozen=True)
class Context:
    """What every worker needs, sent once per worker."""

    in_root: Path
    out_root: Path
    recipe: Recipe
    then_recipe: Recipe | None = None  # applied after a combining op (balance --then-recipe)
    max_pixels: int | None = DEFAULT_MAX_PIXELS  # images claiming more pixels are refused before decoding


@dataclass
class TaskResult:
    """What a worker sends back for one task: rows whose files wait under temporary names for the
    parent to record them and move them into place."""

    rows: list[M.Row] = field(default_factory=list)
    temps: list[str] = field(default_factory=list)  # temporary file of each row, beside its target
    stamps: list[M.Stamp] = field(default_factory=list)
    errors: list[tuple[str, str]] = field(default_factory=list)
    skipped: int = 0  # outputs not made because a source was unreadable


def encode(ctx: Context, image: Image, source_rel: str) -> bytes:
    """Encode a generated image as the recipe's output section says."""
    out = ctx.recipe.output
    return encode_image(image, output_suffix(source_rel, out.format), out.quality)


_CTX: Context | None = None


def _tune_malloc() -> None:
    """Keep glibc from returning image-sized buffers to the OS after every image.

    Each image allocates and frees a few 0.5-2 MB temporaries; by default glibc serves those
    with mmap/munmap, which costs page faults on every call. Raising the mmap and trim
    thresholds keeps them on the heap (measured +13-35 % on this workload). No-op off glibc.
    """
    try:
        libc = ctypes.CDLL("libc.so.6")
    except OSError:
        return
    m_trim_threshold, m_mmap_threshold = -1, -3
    libc.mallopt(m_mmap_threshold, 32 * 1024 * 1024)  # the largest value glibc accepts on 64-bit
    libc.mallopt(m_trim_threshold, 256 * 1024 * 1024)


def _init_worker(ctx: Context) -> None:
    """Pool initializer: tuned malloc and the shared context (the pool set up signals and OpenCV)."""
    _tune_malloc()
    global _CTX
    _CTX = ctx


def _read_source(in_root: Path, rel: str) -> tuple[bytes, M.Stamp]:
    """An input file's bytes and its stamp (size, mtime and sha256 of exactly these bytes)."""
    with open(in_root / rel, "rb") as handle:
        stat = os.fstat(handle.fileno())
        data = handle.read()
    return data, M.Stamp(rel, len(data), stat.st_mtime_ns, hashlib.sha256(data).hexdigest())


def _load(ctx: Context, task: Task, result: TaskResult) -> tuple[list[bytes], list[Image]]:
    """Read and decode the task's sources; failures become error rows naming the file."""
    raw, images = [], []
    for rel in task.sources:
        try:
            data, stamp = _read_source(ctx.in_root, rel)
            images.append(decode_image(np.frombuffer(data, dtype=np.uint8), rel, max_pixels=ctx.max_pixels))
        except ReadError as exc:
            result.errors.append((rel, str(exc)))
            continue
        except OSError as exc:
            result.errors.append((rel, f"cannot read file ({exc.strerror or exc})"))
            continue
        raw.append(data)
        result.stamps.append(stamp)
    return raw, images


def _make(ctx: Context, task: Task, job: Job, raw: list[bytes], images: list[Image]) -> tuple[bytes, list[Op]]:
    """One output's bytes and ops: the same path for every kind of job, as the job's data says."""
    if job.copies_bytes:
        return raw[0], []
    ops: list[Op] = [dict(op) for op in job.pre_ops]  # type: ignore[misc]
    recipe = {"main": ctx.recipe, "then": ctx.then_recipe}.get(job.recipe)
    if recipe is not None:
        ops += recipe.sample(generator(job.seed), images[0].shape, task.label)
    return encode(ctx, render_sources(images, ops), task.sources[0]), ops


_CHECKED: set[Path] = set()  # output folders already proven to lie inside the output root


def _target(ctx: Context, rel: str) -> Path:
    """The output path of ``rel``, proven to stay inside the output folder (also through links)."""
    target = ctx.out_root / rel
    if target.parent not in _CHECKED:
        try:
            inside(ctx.out_root, rel)
        except ValueError as exc:
            raise RunError(f"refusing to write {target}: {exc}") from None
        _CHECKED.add(target.parent)
    return target


def run_task(task: Task, ctx: Context | None = None) -> TaskResult:
    """Read the task's sources once, then make each output and write it under a temporary name."""
    ctx = ctx or _CTX
    assert ctx is not None
    result = TaskResult()
    raw, images = _load(ctx, task, result)
    if result.errors:
        result.skipped = len(task.jobs)
        return result
    for job in task.jobs:
        data, ops = _make(ctx, task, job, raw, images)
        target = _target(ctx, job.rel)
        try:
            result.temps.append(str(write_temp(target, data)))
        except OSError as exc:
            raise RunError(f"cannot write {target}: {exc.strerror or exc}") from None
        result.rows.append(M.Row(job.rel, task.label, job.kind, ";".join(task.sources), job.copy, job.seed,
                                 M.ops_json(ops), hashlib.sha256(data).hexdigest()))
    return result


def _pool_init(init: Callable[..., None], *args: Any) -> None:
    """Every pool process: quiet on Ctrl-C (the parent stops the pool), default SIGTERM, one OpenCV thread."""
    import cv2

    signal.signal(signal.SIGINT, signal.SIG_IGN)
    signal.signal(signal.SIGTERM, signal.SIG_DFL)
    cv2.setNumThreads(1)
    init(*args)


def worker_pool(workers: int, initializer: Callable[..., None], initargs: tuple[Any, ...] = ()) -> Any:
    """A process pool: fork on Linux (fast start), spawn elsewhere; workers depend on no import order.

    The parent is kept free of OpenCV threads first, so forking it is safe.
    """
    import cv2

    cv2.setNumThreads(1)
    method = os.environ.get("AUGCLI_START_METHOD") or ("fork" if sys.platform.startswith("linux") else "spawn")
    return multiprocessing.get_context(method).Pool(workers, initializer=_pool_init,
                                                    initargs=(initializer, *initargs))


def map_tasks(fn: Callable[..., Any], tasks: Sequence[Any], init: Callable[[Any], None], shared: Any,
              workers: int) -> Iterator[Any]:
    """Call ``fn(task)`` on ``workers`` processes set up by ``init(shared)``, yielding results as they
    finish. With one worker the calls are ``fn(task, shared)`` in this process, which is left as it was
    (no signal, thread or malloc settings change)."""
    if workers <= 1 or len(tasks) <= 1:
        yield from (fn(task, shared) for task in tasks)
        return
    workers = min(workers, len(tasks))  # a process per task at most
    chunk = max(1, min(16, len(tasks) // (workers * 8)))
    with worker_pool(workers, init, (shared,)) as pool:
        yield from pool.imap_unordered(fn, tasks, chunksize=chunk)


def execute(tasks: Sequence[Task], ctx: Context, workers: int) -> Iterator[TaskResult]:
    """Run a plan's tasks, yielding results as they finish."""
    return map_tasks(run_task, tasks, _init_worker, ctx, workers)


# ---------------------------------------------------------------- the output folder


@dataclass(frozen=True)
class RunStats:
    """Counts of one run."""

    planned: int
    made: int
    kept: int
    skipped: int
    stale: int  # outputs of an earlier run removed: their source moved, changed or left the plan
    errors: tuple[tuple[str, str], ...]
    rows: tuple[M.Row, ...]


def check_folders(in_root: Path, out_root: Path) -> None:
    """Refuse an output folder equal to, inside, or around the input folder."""
    if is_within(out_root, in_root):
        raise InputError(f"output folder {shown(out_root)} is inside the input folder {shown(in_root)}; "
                         "choose a folder outside it (the input tree is never written to)")
    if is_within(in_root, out_root):
        raise InputError(f"output folder {shown(out_root)} contains the input folder {shown(in_root)}; "
                         "choose a folder beside it instead")


class _Lock:
    """An exclusive lock file in the output folder; a lock left by a dead process is taken over."""

    def __init__(self, out_root: Path) -> None:
        self.path = out_root / M.LOCK

    def __enter__(self) -> _Lock:
        for _ in range(2):
            try:
                fd = os.open(self.path, os.O_CREAT | os.O_EXCL | os.O_WRONLY)
            except FileExistsError:
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


class Interrupted(RunError):
    """Ctrl-C or SIGTERM stopped a run; what was recorded stays and a rerun resumes."""

    def __init__(self, done: int, planned: int, signal_name: str) -> None:
        super().__init__(f"{signal_name}: stopped after {done} of {planned} outputs; "
                         "run the same command again to resume")
        self.exit_code = 130 if signal_name == "interrupted" else 143


class _Terminated(BaseException):
    """Raised in the parent by SIGTERM, so a terminated run stops like an interrupted one."""


def _on_term(signum: int, frame: object) -> None:
    raise _Terminated


# Files of augcli's own that may sit in an output folder before its run record exists.
def _ours_before_record(name: str) -> bool:
    return name == M.LOCK or name.endswith(TMP_SUFFIX)


@dataclass(frozen=True)
class _Resume:
    """What an earlier run in the output folder leaves for this one."""

    done: dict[str, M.Row]
    stamps: dict[str, M.Stamp]
    stale: int


def _prepare(out_root: Path, in_root: Path, tasks: Sequence[Task], record: dict[str, Any],
             overwrite: bool) -> _Resume:
    """Check the output folder against the run record; keep what is still right, remove what is not."""
    old = M.read_record(out_root / M.RUN_RECORD)
    if old is None:
        foreign = sorted(p.name for p in out_root.iterdir() if not _ours_before_record(p.name))
        if foreign:
            raise InputError(f"output folder {shown(out_root)} is not empty and holds no augcli run "
                             f"(it has {shown(foreign[0])}{' and more' if len(foreign) > 1 else ''}); "
                             "choose a new or empty folder: augcli never writes over files it did not make")
        _remove_temporaries(out_root)
        return _Resume({}, {}, 0)
    rows = _old_rows(out_root)
    if _identity(old) != _identity(record):
        if not overwrite:
            changed = sorted({_WORDS.get(k, k) for k in _identity(record)
                             if _identity(old).get(k) != _identity(record).get(k)})
            raise InputError(f"output folder {shown(out_root)} holds a run with a different {', '.join(changed)}; "
                             "resume needs the same recipe and options: pass --overwrite to replace that run, "
                             "or choose another folder")
        for target in _removable(out_root, rows):
            target.unlink()
        for name in (M.MANIFEST, M.SOURCES, M.ERRORS):
            (out_root / name).unlink(missing_ok=True)
        _remove_temporaries(out_root)
        return _Resume({}, {}, len(rows))
    _remove_temporaries(out_root)
    return _reconcile(out_root, in_root, tasks, rows, M.read_stamps(out_root / M.SOURCES))


_WORDS = {"recipe_digest": "recipe", "recipe": "recipe"}


def _old_rows(out_root: Path) -> list[M.Row]:
    """Rows of the earlier manifest (a cut last line is dropped); every path proven inside the folder."""
    path = out_root / M.MANIFEST
    try:
        rows, _ = M.read_rows_tolerant(path)
    except (ValueError, UnicodeDecodeError, OSError) as exc:
        raise InputError(f"{shown(path)}: {exc}; this folder was not left by augcli as it is: "
                         "choose another output folder") from None
    for row in rows:
        if not safe_rel(row.path) or not all(safe_rel(s) for s in row.source_list()):
            raise InputError(f"{shown(path)}: row {shown(row.path)!r} names a path outside the folders; "
                             "augcli did not write this manifest: choose another output folder")
    return rows


def _identity(record: dict[str, Any]) -> dict[str, Any]:
    """The parts of a run record that decide how outputs are made (not the version, the input
    folder's place or the plan's size: a changed input tree is reconciled file by file)."""
    return {k: v for k, v in record.items() if k not in ("augcli_version", "input", "planned")}


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
        self.in_root, self.stamps, self.known = in_root, stamps, {}  # type: dict[str, bool]

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
    """A recorded row is the planned job: same sources, class, kind, copy, seed and planned ops."""
    if (row.label, row.kind, row.sources, row.copy, row.seed) != (
            task.label, job.kind, ";".join(task.sources), job.copy, job.seed):
        return False
    return not job.pre_ops or row.op_list()[: len(job.pre_ops)] == list(job.pre_ops)


def _reconcile(out_root: Path, in_root: Path, tasks: Sequence[Task], rows: list[M.Row],
               stamps: dict[str, M.Stamp]) -> _Resume:
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
    recorded = {row.path for row in stale}
    strays = [rel for rel in planned if rel not in done and rel not in recorded and (out_root / rel).exists()]
    if strays:
        raise InputError(f"output folder {shown(out_root)} holds {shown(strays[0])}"
                         f"{f' and {len(strays) - 1} more files' if len(strays) > 1 else ''} that this run "
                         "would write, but no augcli manifest records them; nothing was deleted: move them "
                         "away, then run again")
    removable = _removable(out_root, stale)
    for target in removable:
        target.unlink()
    removed = len(removable)
    kept_sources = {s for row in done.values() for s in row.source_list()}
    return _Resume(done, {rel: st for rel, st in sources.stamps.items() if rel in kept_sources}, removed)


def _remove_temporaries(out_root: Path) -> None:
    """Delete temporary files left by an interrupted run (hidden names ending in augcli's suffix)."""
    for folder, _, files in os.walk(out_root):
        for name in files:
            if name.startswith(".") and name.endswith(TMP_SUFFIX):
                Path(folder, name).unlink(missing_ok=True)


def run_plan(
    tasks: Sequence[Task],
    ctx: Context,
    *,
    record: dict[str, Any],
    workers: int,
    overwrite: bool = False,
    errors: Sequence[tuple[str, str]] = (),
    progress: Progress | None = None,
) -> RunStats:
    """Carry out a plan in ``ctx.out_root``, resuming an interrupted run of the same plan.

    Order of writes, so that a kill at any moment leaves a folder the next run resumes:
    the run record (atomically) before anything else; the manifest with the rows kept (atomically);
    then for each finished output its row appended and flushed *before* its file is moved into place,
    so every output file on disk is listed; last, the manifest in plan order (atomically).
    """
    out_root = ctx.out_root
    try:
        out_root.mkdir(parents=True, exist_ok=True)
        with _Lock(out_root), _signals():
            return _run_locked(tasks, ctx, record, workers, overwrite, list(errors), progress)
    except OSError as exc:
        where = shown(Path(exc.filename)) if exc.filename else shown(out_root)
        raise RunError(f"cannot write {where}: {exc.strerror or exc}; check the output folder "
                       "(permissions, free space) and run again to resume") from None


def _run_locked(tasks: Sequence[Task], ctx: Context, record: dict[str, Any], workers: int, overwrite: bool,
                errors: list[tuple[str, str]], progress: Progress | None) -> RunStats:
    out_root = ctx.out_root
    state = _prepare(out_root, ctx.in_root, tasks, record, overwrite)
    M.write_record(out_root / M.RUN_RECORD, record)
    M.write_rows(out_root / M.MANIFEST, state.done.values())
    M.write_stamps(out_root / M.SOURCES, state.stamps.values())
    todo = [t for t in (_pending(task, state.done) for task in tasks) if t.jobs]
    planned = sum(len(t.jobs) for t in tasks)
    kept = planned - sum(len(t.jobs) for t in todo)
    if progress:
        progress(kept, planned)
    made = skipped = 0
    rows, stamps = dict(state.done), dict(state.stamps)
    manifest, sources = M.Appender(out_root / M.MANIFEST), M.Appender(out_root / M.SOURCES)
    results = execute(todo, ctx, workers)
    try:
        for result in results:
            _commit(result, manifest, sources)
            rows.update((row.path, row) for row in result.rows)
            stamps.update((st.path, st) for st in result.stamps)
            errors.extend(result.errors)
            made += len(result.rows)
            skipped += result.skipped
            if progress:
                progress(len(result.rows) + result.skipped, planned)
    except (KeyboardInterrupt, _Terminated) as exc:
        name = "interrupted" if isinstance(exc, KeyboardInterrupt) else "terminated"
        raise Interrupted(kept + made, planned, name) from None
    finally:
        results.close()  # stops the pool's workers now, not at garbage collection
        manifest.close()
        sources.close()
    ordered = [rows[job.rel] for task in tasks for job in task.jobs if job.rel in rows]
    M.write_rows(out_root / M.MANIFEST, ordered)
    M.write_stamps(out_root / M.SOURCES, stamps.values())
    M.write_errors(out_root / M.ERRORS, errors)
    return RunStats(planned, made, kept, skipped, state.stale, tuple(sorted(errors)), tuple(ordered))


def _commit(result: TaskResult, manifest: M.Appender, sources: M.Appender) -> None:
    """Record a task's outputs, then move its files into place: a file on disk is always listed."""
    sources.write(st.record() for st in result.stamps)
    manifest.write(M.astuple_row(row) for row in result.rows)
    for row, tmp in zip(result.rows, result.temps, strict=True):
        os.replace(tmp, Path(tmp).with_name(PurePosixPath(row.path).name))


@contextmanager
def _signals() -> Iterator[None]:
    """SIGTERM stops a run in the parent like Ctrl-C (main thread only; others keep the default)."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    previous = signal.signal(signal.SIGTERM, _on_term)
    try:
        yield
    finally:
        signal.signal(signal.SIGTERM, previous)


def _pending(task: Task, done: dict[str, M.Row]) -> Task:
    """The task with already-made outputs removed."""
    jobs = tuple(job for job in task.jobs if job.rel not in done)
    return task if len(jobs) == len(task.jobs) else replace(task, jobs=jobs)
