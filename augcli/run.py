"""Executing a plan: a process pool streams tasks; each worker reads, renders and writes.

The parent owns the output folder's bookkeeping: the lock, the run record, resume, the
manifest (appended as results arrive, rewritten in plan order at the end) and errors.csv.
"""

from __future__ import annotations

import ctypes
import multiprocessing
import os
import sys
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

import numpy as np

from augcli import manifest as M
from augcli.errors import InputError, RunError
from augcli.io import TMP_SUFFIX, ReadError, decode_image, encode_image, write_atomic
from augcli.ops._image import Image
from augcli.plan import Job, Task, output_suffix
from augcli.recipe import Recipe
from augcli.render import render
from augcli.rng import generator

Progress = Callable[[int, int], None]


@dataclass(frozen=True)
class Context:
    """What every worker needs, sent once per worker."""

    in_root: Path
    out_root: Path
    recipe: Recipe
    then_recipe: Recipe | None = None  # applied after a combining op (balance --then-recipe)


@dataclass
class TaskResult:
    """What a worker sends back for one task."""

    rows: list[M.Row] = field(default_factory=list)
    errors: list[tuple[str, str]] = field(default_factory=list)
    skipped: int = 0  # outputs not made because a source was unreadable


Maker = Callable[[Context, Task, Job, list[Image], list[bytes]], tuple[bytes, list[dict[str, Any]]]]
MAKERS: dict[str, Maker] = {}


def maker(kind: str) -> Callable[[Maker], Maker]:
    """Register how outputs of one kind are made."""

    def register(fn: Maker) -> Maker:
        MAKERS[kind] = fn
        return fn

    return register


@maker("original")
def _make_original(ctx: Context, task: Task, job: Job, images: list[Image], raw: list[bytes]) -> tuple[
        bytes, list[dict[str, Any]]]:
    """An original is copied byte for byte."""
    return raw[0], []


@maker("augmented")
def _make_augmented(ctx: Context, task: Task, job: Job, images: list[Image], raw: list[bytes]) -> tuple[
        bytes, list[dict[str, Any]]]:
    """Sample the recipe with the job's seed, render, encode."""
    ops = ctx.recipe.sample(generator(job.seed), images[0].shape, task.label)
    image = render(images[0], ops)
    return encode(ctx, image, task.sources[0]), ops


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
    """Pool initializer: one OpenCV thread per worker, tuned malloc, and the shared context."""
    import cv2

    cv2.setNumThreads(1)
    _tune_malloc()
    global _CTX
    _CTX = ctx


def run_task(task: Task, ctx: Context | None = None) -> TaskResult:
    """Read the task's sources once, then make and write each of its outputs."""
    ctx = ctx or _CTX
    assert ctx is not None
    result = TaskResult()
    raw, images = [], []
    for rel in task.sources:
        try:
            data = np.fromfile(ctx.in_root / rel, dtype=np.uint8)
            images.append(decode_image(data, rel))
            raw.append(data.tobytes())
        except (ReadError, OSError) as exc:
            reason = str(exc) if isinstance(exc, ReadError) else f"cannot read file ({exc})"
            result.errors.append((rel, reason))
    if result.errors:
        result.skipped = len(task.jobs)
        return result
    for job in task.jobs:
        data, ops = MAKERS[job.kind](ctx, task, job, images, raw)
        target = ctx.out_root / job.rel
        try:
            write_atomic(target, data)
        except OSError as exc:
            raise RunError(f"cannot write {target}: {exc.strerror or exc}") from None
        result.rows.append(M.Row(job.rel, task.label, job.kind, ";".join(task.sources), job.copy, job.seed,
                                 M.ops_json(ops)))
    return result


def worker_pool(workers: int, initializer: Callable[..., None], initargs: tuple[Any, ...] = ()) -> Any:
    """A process pool: fork on Linux (fast start, workers inherit registered makers), spawn elsewhere.

    The parent is kept free of OpenCV threads first, so forking it is safe.
    """
    import cv2

    cv2.setNumThreads(1)
    method = "fork" if sys.platform.startswith("linux") else "spawn"
    return multiprocessing.get_context(method).Pool(workers, initializer=initializer, initargs=initargs)


def map_tasks(fn: Callable[..., Any], tasks: Sequence[Any], init: Callable[[Any], None], shared: Any,
              workers: int) -> Iterator[Any]:
    """Call ``fn(task)`` on ``workers`` processes set up by ``init(shared)`` (in this process for 1),
    yielding results as they finish; in-process calls get ``fn(task, shared)``."""
    if workers <= 1 or len(tasks) <= 1:
        init(shared)
        yield from (fn(task, shared) for task in tasks)
        return
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
    errors: tuple[tuple[str, str], ...]
    rows: tuple[M.Row, ...]


def check_folders(in_root: Path, out_root: Path) -> None:
    """Refuse an output folder equal to, inside, or around the input folder."""
    src, dst = in_root.resolve(), out_root.resolve()
    if src == dst or src in dst.parents:
        raise InputError(f"output folder {out_root} is inside the input folder {in_root}; "
                         "choose a folder outside it (the input tree is never written to)")
    if dst in src.parents:
        raise InputError(f"output folder {out_root} contains the input folder {in_root}; "
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


def _prepare(out_root: Path, record: dict[str, Any], overwrite: bool) -> dict[str, M.Row]:
    """Check the output folder against the run record; return rows already done (for resume)."""
    old = M.read_record(out_root / M.RUN_RECORD)
    manifest = out_root / M.MANIFEST
    if old is None and out_root.exists() and any(p.name != M.LOCK for p in out_root.iterdir()) and not overwrite:
        raise InputError(f"output folder {out_root} is not empty and holds no augcli run; "
                         "choose a new or empty folder, or pass --overwrite to write into it")
    old_rows = _read_manifest(manifest) if old is not None else []
    if old is not None and _identity(old) != _identity(record):
        if not overwrite:
            changed = sorted({_WORDS.get(k, k) for k in _identity(record)
                             if _identity(old).get(k) != _identity(record).get(k)})
            raise InputError(f"output folder {out_root} holds a run with a different {', '.join(changed)}; "
                             "resume needs the same recipe and options: pass --overwrite to replace that run, "
                             "or choose another folder")
        for row in old_rows:
            (out_root / row.path).unlink(missing_ok=True)
        manifest.unlink(missing_ok=True)
        old_rows = []
    _remove_temporaries(out_root)
    return {row.path: row for row in old_rows if (out_root / row.path).is_file()}


_WORDS = {"planned": "input (number of planned outputs)", "recipe_digest": "recipe", "recipe": "recipe"}


def _read_manifest(path: Path) -> list[M.Row]:
    """Rows of an earlier manifest, or a clear error when it is not one."""
    try:
        return M.read_rows(path)
    except (ValueError, TypeError) as exc:
        raise InputError(f"{path}: {exc}; move it away or pass --overwrite") from None


def _identity(record: dict[str, Any]) -> dict[str, Any]:
    """The parts of a run record that decide the outputs (not the augcli version)."""
    return {k: v for k, v in record.items() if k not in ("augcli_version", "input")}


def _remove_temporaries(out_root: Path) -> None:
    """Delete temporary files left by an interrupted run."""
    if not out_root.exists():
        return
    for folder, _, files in os.walk(out_root):
        for name in files:
            if name.endswith(TMP_SUFFIX):
                Path(folder, name).unlink(missing_ok=True)


def run_plan(
    tasks: Sequence[Task],
    ctx: Context,
    *,
    record: dict[str, Any],
    workers: int,
    overwrite: bool = False,
    progress: Progress | None = None,
) -> RunStats:
    """Carry out a plan in ``ctx.out_root``, resuming an interrupted run of the same plan."""
    out_root = ctx.out_root
    out_root.mkdir(parents=True, exist_ok=True)
    with _Lock(out_root):
        done = _prepare(out_root, record, overwrite)
        M.write_record(out_root / M.RUN_RECORD, record)
        todo = [t for t in (_pending(task, done) for task in tasks) if t.jobs]
        planned = sum(len(t.jobs) for t in tasks)
        kept = planned - sum(len(t.jobs) for t in todo)
        if progress:
            progress(kept, planned)
        errors: list[tuple[str, str]] = []
        made = skipped = 0
        rows = dict(done)
        writer = M.ManifestWriter(out_root / M.MANIFEST)
        try:
            for result in execute(todo, ctx, workers):
                writer.write(result.rows)
                rows.update((row.path, row) for row in result.rows)
                errors.extend(result.errors)
                made += len(result.rows)
                skipped += result.skipped
                if progress:
                    progress(len(result.rows) + result.skipped, planned)
        finally:
            writer.close()
        ordered = [rows[job.rel] for task in tasks for job in task.jobs if job.rel in rows]
        M.write_rows(out_root / M.MANIFEST, ordered)
        M.write_errors(out_root / M.ERRORS, errors)
    return RunStats(planned, made, kept, skipped, tuple(sorted(errors)), tuple(ordered))


def _pending(task: Task, done: dict[str, M.Row]) -> Task:
    """The task with already-made outputs removed."""
    jobs = tuple(job for job in task.jobs if job.rel not in done)
    return task if len(jobs) == len(task.jobs) else replace(task, jobs=jobs)
