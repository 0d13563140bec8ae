"""Executing a plan: a process pool streams tasks; each worker reads, renders and writes.

The parent owns the output folder's bookkeeping: the lock, the run record, resume, the
manifest (appended as results arrive, rewritten in plan order at the end) and errors.csv.
"""

from __future__ import annotations

import ctypes
import hashlib
import heapq
import json
import marshal
import os
import signal
import threading
from collections import Counter
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field, replace
from itertools import islice
from pathlib import Path, PurePosixPath

import numpy as np
import numpy.typing as npt

from augcli import direct as D
from augcli import manifest as M
from augcli import seal
from augcli.compose import Op, label_weights
from augcli.errors import RunError
from augcli.executors import active as active_executor
from augcli.io import (
    DEFAULT_MAX_PIXELS,
    ReadError,
    check_image,
    decode_image,
    decode_reduced,
    encode_image,
    jpeg_shape,
    write_temp,
)
from augcli.metadata import write_metadata
from augcli.ops._image import Image
from augcli.outdir import Lock, prepare, remove_temporaries
from augcli.paths import inside, shown
from augcli.plan import Job, Task, output_suffix
from augcli.pool import map_tasks
from augcli.recipe import Recipe
from augcli.render import decode_factor, render_kept, same_pixels
from augcli.resume import Resume
from augcli.rng import generator, redraw_seed
from augcli.sections import Indexed, Plan
from augcli.spool import Sorter

Progress = Callable[[int, int], None]


@dataclass(frozen=True)
class Context:
    """What every worker needs, sent once per worker."""

    in_root: Path
    out_root: Path
    recipe: Recipe
    then_recipe: Recipe | None = None  # applied after a combining op (balance --then-recipe)
    max_pixels: int | None = DEFAULT_MAX_PIXELS  # images claiming more pixels are refused before decoding
    catalog: tuple[tuple[str, str], ...] = ()  # every input (path, class): where multi-image steps draw partners
    reduced_decode: bool = True  # a lone JPEG the first steps shrink enough is decoded at 1/2, 1/4 or 1/8
    direct: D.Direct | None = None  # workers read inputs from and write outputs to the store (augcli.direct)


class _Unreadable(Exception):
    """A partner drawn by a multi-image step could not be read."""

    def __init__(self, rel: str, reason: str) -> None:
        super().__init__(rel, reason)
        self.rel, self.reason = rel, reason


class _Catalog:
    """Every input by class, built once per run in each worker (not per output)."""

    def __init__(self, catalog: tuple[tuple[str, str], ...]) -> None:
        self.source = catalog
        self.label_of = dict(catalog)
        self.everyone = [rel for rel, _ in catalog]
        self.by_label: dict[str, list[str]] = {}
        for rel, label in catalog:
            self.by_label.setdefault(label, []).append(rel)
        self.index = {rel: i for i, rel in enumerate(self.everyone)}
        self.index_in_class = {rel: i for rels in self.by_label.values() for i, rel in enumerate(rels)}


_CATALOG: _Catalog | None = None


def _catalog(ctx: Context) -> _Catalog:
    """The run's catalog, indexed once per process."""
    global _CATALOG
    if _CATALOG is None or _CATALOG.source is not ctx.catalog:
        _CATALOG = _Catalog(ctx.catalog)
    return _CATALOG


class _Without(Sequence[str]):
    """A list with one position left out, without copying it."""

    def __init__(self, items: list[str], gap: int | None) -> None:
        self.items, self.gap = items, gap

    def __len__(self) -> int:
        return len(self.items) - (self.gap is not None)

    def __getitem__(self, i: int) -> str:  # type: ignore[override]
        return self.items[i + 1 if self.gap is not None and i >= self.gap else i]


class _Partners:
    """The input tree as one output's multi-image step sees it: candidates, labels, decoded partners.

    ``images`` are the output's decoded sources; the first (the image itself, never a partner) may be
    set after sampling, when its decoded size is chosen.
    """

    def __init__(self, ctx: Context, task: Task, images: list[Image], result: TaskResult) -> None:
        self.ctx, self.result = ctx, result
        self.sources = list(task.sources)
        self.images = list(images)
        self.catalog = _catalog(ctx)
        self.main = task.sources[0]

    def candidates(self, same_class: bool) -> Sequence[str]:
        """The inputs (of the image's class) other than the image itself, in catalog order."""
        if not same_class:
            return _Without(self.catalog.everyone, self.catalog.index.get(self.main))
        pool = self.catalog.by_label.get(self.catalog.label_of.get(self.main, ""), [])
        return _Without(pool, self.catalog.index_in_class.get(self.main))

    def label(self, rel: str) -> str:
        return self.catalog.label_of[rel]

    def shape(self, rel: str) -> tuple[int, ...]:
        return self.images[self.add(rel)].shape

    def add(self, rel: str) -> int:
        """The partner's index in the sources, read and decoded (once) when new."""
        if rel in self.sources:
            return self.sources.index(rel)
        try:
            data, stamp = _read_source(self.ctx.in_root, rel, self.ctx.direct)
            image = decode_image(np.frombuffer(data, dtype=np.uint8), rel, max_pixels=self.ctx.max_pixels)
        except ReadError as exc:
            raise _Unreadable(rel, str(exc)) from None
        except OSError as exc:
            raise _Unreadable(rel, f"cannot read file ({exc.strerror or exc})") from None
        self.images.append(image)
        self.sources.append(rel)
        self.result.stamps.append(stamp)
        return len(self.sources) - 1


@dataclass
class TaskResult:
    """What a worker sends back for one task: rows whose files wait under temporary names for the
    parent to record them and move them into place."""

    rows: list[M.Row] = field(default_factory=list)
    temps: list[str] = field(default_factory=list)  # temporary file of each row, beside its target
    sizes: list[int] = field(default_factory=list)  # direct mode: each row's object size (no temporary)
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
    _CHECKED.clear()  # a dask worker lives on between runs: its folders are proven again for each
    global _CTX
    _CTX = ctx


def _read_source(in_root: Path, rel: str, direct: D.Direct | None = None) -> tuple[bytes, M.Stamp]:
    """An input file's bytes and its stamp (size, mtime and sha256 of exactly these bytes); in direct mode
    from the store, the mtime set by the parent (its placeholder's)."""
    if direct is not None:
        data = D.read(direct, rel)
        return data, M.Stamp(rel, len(data), 0, hashlib.sha256(data).hexdigest())
    with open(in_root / rel, "rb") as handle:
        stat = os.fstat(handle.fileno())
        data = handle.read()
    return data, M.Stamp(rel, len(data), stat.st_mtime_ns, hashlib.sha256(data).hexdigest())


class _Source:
    """One source of a task: its bytes, and its pixels decoded once per size asked for.

    A single-source task's 8-bit JPEG is decoded only when an output needs it, at full size or, when
    the output's first geometric steps shrink it enough, at 1/2, 1/4 or 1/8 (``render.decode_factor``);
    its shape comes from the header. Any other source is decoded at once.
    """

    def __init__(self, rel: str, data: bytes, max_pixels: int | None, lazy: bool) -> None:
        self.rel, self.data, self.max_pixels = rel, data, max_pixels
        self.header = jpeg_shape(data) if lazy else None
        self._images: dict[int, Image] = {}
        if self.header is not None:
            check_image(data, rel, max_pixels)  # what decode_image refuses before decoding, refused now
        else:
            self._images[1] = decode_image(np.frombuffer(data, dtype=np.uint8), rel, max_pixels=max_pixels)

    @property
    def shape(self) -> tuple[int, ...]:
        """The full decode's (H, W, C)."""
        return self.header if self.header is not None else self._images[1].shape

    def at(self, factor: int = 1) -> Image:
        """The pixels decoded at 1/``factor`` of the size (raises ReadError when they cannot be)."""
        if factor not in self._images:
            if factor == 1:
                image = decode_image(np.frombuffer(self.data, dtype=np.uint8), self.rel, max_pixels=self.max_pixels)
                if image.shape != self.shape:
                    raise ReadError(f"decodes to {image.shape[1]}x{image.shape[0]}, not the header's "
                                    f"{self.shape[1]}x{self.shape[0]}")
            else:
                image = decode_reduced(self.data, self.rel, factor, max_pixels=self.max_pixels)
            self._images[factor] = image
        return self._images[factor]


def _load(ctx: Context, task: Task, result: TaskResult) -> tuple[list[bytes], list[_Source]]:
    """Read the task's sources (decoding all but a lone JPEG); failures become error rows naming the file."""
    raw, sources = [], []
    lazy = len(task.sources) == 1 and ctx.reduced_decode
    for rel in task.sources:
        try:
            data, stamp = _read_source(ctx.in_root, rel, ctx.direct)
            sources.append(_Source(rel, data, ctx.max_pixels, lazy))
        except ReadError as exc:
            result.errors.append((rel, str(exc)))
            continue
        except OSError as exc:
            result.errors.append((rel, f"cannot read file ({exc.strerror or exc})"))
            continue
        raw.append(data)
        result.stamps.append(stamp)
    return raw, sources


MAX_DRAWS = 8  # draws of one output before it is left out as a copy (draw k uses rng.redraw_seed(seed, k))
NO_NEW_IMAGE = "no new image for"  # how an errors.csv reason for an output left out as a copy begins


@dataclass(frozen=True)
class _Made:
    """One output: its bytes and their sha256, the ops recorded, its sources, and the draw that made it."""

    data: bytes
    sha256: str
    ops: list[Op]
    sources: list[str]
    redraw: int = 0


def _make(ctx: Context, task: Task, job: Job, raw: list[bytes], sources: list[_Source], result: TaskResult,
          taken: Sequence[str]) -> _Made:
    """One output, the same path for every kind of job, as the job's data says.

    A generated image (not an original or a test-time variant) whose pixels equal one of its sources', or
    whose bytes equal those of another output of the task (``taken``), is drawn again with the next seed
    of its own sequence (``rng.redraw_seed``), up to MAX_DRAWS draws (one when nothing is drawn); then
    it is left out (``_NoNewImage``). A draw whose ops repeat an earlier draw's is not rendered again.
    """
    if job.copies_bytes:
        return _Made(raw[0], hashlib.sha256(raw[0]).hexdigest(), [], list(task.sources))
    recipe = {"main": ctx.recipe, "then": ctx.then_recipe}.get(job.recipe)
    checked = job.recipe != "tta"  # a test-time set is fixed by design: its identity view is wanted
    draws = MAX_DRAWS if checked and recipe is not None else 1
    tried: list[list[Op]] = []
    for draw in range(draws):
        drawn, partners = _draw(ctx, task, job, recipe, sources, result, redraw_seed(job.seed, draw))
        if drawn in tried:  # the same pixels as a draw already refused
            continue
        tried.append(drawn)
        image, ops = render_kept(partners.images, drawn)
        if checked and _copies_a_source(image, sources, partners.images):
            continue
        data = encode(ctx, image, task.sources[0])
        digest = hashlib.sha256(data).hexdigest()
        if not (checked and digest in taken):
            return _Made(data, digest, ops, partners.sources, draw)
    raise _NoNewImage(_no_new_image(job, draws))


def _draw(ctx: Context, task: Task, job: Job, recipe: Recipe | None, sources: list[_Source], result: TaskResult,
          seed: int) -> tuple[list[Op], _Partners]:
    """One draw of an output: its ops, and its sources decoded (the image itself as small as the ops allow).

    A multi-image step in the recipe adds its partners to the sources (read, decoded and stamped here).
    A lone JPEG that the ops shrink enough is decoded small, recorded as a first ``decoded_at`` op.
    """
    ops: list[Op] = [dict(op) for op in job.pre_ops]  # type: ignore[misc]
    shape = sources[0].shape
    # the image itself is decoded once its size is known; other sources (a SMOTE partner) may be drawn
    partners = _Partners(ctx, task, [np.empty(0, np.uint8), *(source.at() for source in sources[1:])], result)
    if recipe is not None:
        ops += recipe.sample(generator(seed), shape, task.label, partners)
    elif job.recipe == "tta":  # variant ``copy`` of the run's test-time set: nothing is drawn
        assert ctx.recipe.tta is not None
        ops += ctx.recipe.tta[job.copy - 1].ops(shape)
    factor = decode_factor(ops, shape) if sources[0].header is not None and len(sources) == 1 else 1
    if factor > 1:
        ops.insert(0, {"name": "decoded_at", "params": {"factor": factor, "width": shape[1], "height": shape[0]}})
    partners.images[0] = sources[0].at(factor)
    return ops, partners


def _copies_a_source(image: Image, sources: list[_Source], images: list[Image]) -> bool:
    """True when an output's pixels equal one of its sources': the image itself (decoded at full size),
    a SMOTE partner or a mixing step's partners (as decoded)."""
    if image.shape == sources[0].shape and same_pixels(image, sources[0].at()):
        return True
    return any(same_pixels(image, other) for other in images[1:])


class _NoNewImage(Exception):
    """Every draw of an output gave a copy of a source or of another output: it is left out."""


def _no_new_image(job: Job, draws: int) -> str:
    """The errors.csv reason of an output left out because every draw gave a copy."""
    how = (f"each of {draws} draws of the recipe gave" if draws > 1
           else "its planned ops give, and no recipe follows them to draw again,")
    return (f"{NO_NEW_IMAGE} {shown(job.rel)}: {how} a copy of its source or of another output of it, so it was "
            "left out; the recipe cannot make another new image of it (as hsv alone on a grey image, or fixed "
            "steps for several copies): add a step that can, or ask for fewer copies")


def left_out_as_copies(errors: Sequence[tuple[str, str]]) -> int:
    """How many outputs a run's errors say were left out because every draw gave a copy."""
    return sum(reason.startswith(NO_NEW_IMAGE) for _, reason in errors)


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
    raw, loaded = _load(ctx, task, result)
    if result.errors:
        result.skipped = len(task.jobs)
        return result
    made_before = list(task.made)  # (copy, sha256) of the task's outputs: a job differs from lower copies'
    for job in task.jobs:
        try:
            made = _make(ctx, task, job, raw, loaded, result,
                         [digest for copy, digest in made_before if copy < job.copy])
        except _Unreadable as exc:  # a partner that cannot be read: this output is left out, as for a source
            result.errors.append((exc.rel, exc.reason))
            result.skipped += 1
            continue
        except _NoNewImage as exc:  # listed in errors.csv, counted apart in the run's summary
            result.errors.append((task.sources[0], str(exc)))
            result.skipped += 1
            continue
        except ReadError as exc:  # a lone JPEG decoded late: the task is left out whole, as if read at once
            return _unread(task, result, str(exc), ctx.direct)
        made_before.append((job.copy, made.sha256))
        if ctx.direct is not None:  # one whole-object PUT; the parent makes the placeholder
            D.write(ctx.direct, job.rel, made.data)
            result.sizes.append(len(made.data))
        else:
            target = _target(ctx, job.rel)
            try:
                result.temps.append(str(write_temp(target, made.data)))
            except OSError as exc:
                raise RunError(f"cannot write {target}: {exc.strerror or exc}") from None
        weights = label_weights(task.label, made.ops)
        soft = "" if weights == {task.label: 1.0} else json.dumps(weights, separators=(",", ":"), ensure_ascii=False)
        result.rows.append(M.Row(job.rel, task.label, job.kind, ";".join(made.sources), job.copy, job.seed,
                                 M.ops_json(made.ops), made.sha256, label_weights=soft, group=job.group,
                                 redraw=made.redraw))
    return result


def render_task(task: Task, ctx: Context) -> list[bytes]:
    """The bytes of a task's outputs, made as a worker makes them but written nowhere (a dry run times this);
    outputs whose sources cannot be read are left out."""
    result = TaskResult()
    raw, loaded = _load(ctx, task, result)
    made_before, made = list(task.made), []
    for job in task.jobs if not result.errors else ():
        try:
            output = _make(ctx, task, job, raw, loaded, result,
                           [digest for copy, digest in made_before if copy < job.copy])
        except (_Unreadable, _NoNewImage, ReadError):
            continue
        made_before.append((job.copy, output.sha256))
        made.append(output.data)
    return made


def _unread(task: Task, result: TaskResult, reason: str, direct: D.Direct | None = None) -> TaskResult:
    """A task whose source failed to decode after some outputs were made: drop them (their temporary files
    were written by this task alone, and nothing has recorded them yet), as if it had failed when read."""
    for temp in result.temps:
        Path(temp).unlink(missing_ok=True)
    if direct is not None:
        D.remove(direct, [row.path for row in result.rows])
    rel = task.sources[0]
    return TaskResult(errors=[(rel, reason)], skipped=len(task.jobs),
                      stamps=[stamp for stamp in result.stamps if stamp.path != rel])


def _run_indexed(item: Indexed, ctx: Context | None = None) -> tuple[list[int], TaskResult]:
    """:func:`run_task` on a task sent with its jobs' plan indices; the result comes back with the plan
    index of each of its rows (the final manifest is sorted on them)."""
    indices, task = item
    result = run_task(task, ctx)
    index_of = {job.rel: index for job, index in zip(task.jobs, indices, strict=True)}
    return [index_of[row.path] for row in result.rows], result


# ---------------------------------------------------------------- the output folder


@dataclass(frozen=True)
class RunStats:
    """Counts of one run; its rows are read back from the manifest when asked for."""

    planned: int
    made: int
    kept: int
    skipped: int
    stale: int  # outputs of an earlier run removed: their source moved, changed or left the plan
    errors: tuple[tuple[str, str], ...]
    labels: dict[str, int] = field(default_factory=dict)  # rows per class
    added: dict[str, int] = field(default_factory=dict)  # rows that are not originals, per class
    manifest: Path | None = None
    redrawn: int = 0  # rows whose first draw gave a copy (their redraw column is above 0)

    @property
    def rows(self) -> Iterator[M.Row]:
        """The manifest's rows, in plan order, read from the file (a run may have millions)."""
        return M.stream_rows(self.manifest) if self.manifest is not None else iter(())


class Interrupted(RunError):
    """Ctrl-C or SIGTERM stopped a run; what was recorded stays and a rerun resumes."""

    def __init__(self, done: int, planned: int, signal_name: str) -> None:
        super().__init__(f"{signal_name}: stopped after {done} of {planned} outputs; "
                         "run the same command again to resume")
        self.signal_name = signal_name  # "interrupted" (Ctrl-C) or "terminated" (SIGTERM)


class _Terminated(BaseException):
    """Raised in the parent by SIGTERM, so a terminated run stops like an interrupted one."""


def _on_term(signum: int, frame: object) -> None:
    raise _Terminated


def run_plan(
    tasks: Plan | Sequence[Task],
    ctx: Context,
    *,
    record: M.RunRecord,
    workers: int,
    overwrite: bool = False,
    errors: Sequence[tuple[str, str]] = (),
    progress: Progress | None = None,
) -> RunStats:
    """Carry out a plan in ``ctx.out_root``, resuming an interrupted run of the same plan.

    Order of writes, so that a kill at any moment leaves a folder the next run resumes:
    the run record (atomically) before anything else; the manifest with the rows kept (atomically);
    then for each finished output its row appended and flushed *before* its file is moved into place,
    so every output file on disk is listed; last, the manifest in plan order (atomically), merged from
    sorted runs on disk (:mod:`augcli.spool`), never held in memory.
    """
    plan = tasks if isinstance(tasks, Plan) else Plan.of_tasks(tasks)
    out_root = ctx.out_root
    try:
        out_root.mkdir(parents=True, exist_ok=True)
        with Lock(out_root), _signals():
            return _run_locked(plan, ctx, record, workers, overwrite, list(errors), progress)
    except _Terminated:  # while the folder was being checked, before any output
        raise Interrupted(0, plan.planned, "terminated") from None
    except OSError as exc:
        where = shown(Path(exc.filename)) if exc.filename else shown(out_root)
        raise RunError(f"cannot write {where}: {exc.strerror or exc}; check the output folder "
                       "(permissions, free space) and run again to resume") from None


@dataclass
class _Tally:
    """What the parent keeps of the results: counts, and the new rows and stamps sorted on disk."""

    rows: Sorter
    stamps: Sorter
    labels: Counter[str]
    added: Counter[str]
    errors: list[tuple[str, str]]
    made: int = 0
    skipped: int = 0
    redrawn: int = 0

    def take(self, keys: list[int], result: TaskResult) -> None:
        for key, row in zip(keys, result.rows, strict=True):
            self.rows.add(key, marshal.dumps(tuple(M.astuple_row(row))))  # one bytes object: a third of a list
            self.labels[row.label] += 1
            self.added[row.label] += int(row.kind != "original")
            self.redrawn += int(row.redraw > 0)
        for stamp in result.stamps:
            self.stamps.add(stamp.path, marshal.dumps(tuple(stamp.record())))
        self.errors.extend(result.errors)
        self.made += len(result.rows)
        self.skipped += result.skipped


def _run_locked(plan: Plan, ctx: Context, record: M.RunRecord, workers: int, overwrite: bool,
                errors: list[tuple[str, str]], progress: Progress | None) -> RunStats:
    out_root = ctx.out_root
    sealed = _sealed(plan, ctx, record, errors)
    if sealed is not None:
        if progress:
            progress(plan.planned, plan.planned)
        return sealed
    state = prepare(out_root, ctx.in_root, plan, record, overwrite)
    M.write_record(out_root / M.RUN_RECORD, record)
    M.write_rows(out_root / M.MANIFEST, state.kept_rows())
    kept_stamps = _Counted(state.stamps)
    M.write_sorted_stamps(out_root / M.SOURCES, kept_stamps)
    planned, kept = plan.planned, state.kept_count
    if progress:
        progress(kept, planned)
    problems = list(errors)  # the scan's: all errors.csv lists when every input could be read
    tally = _Tally(Sorter(out_root), Sorter(out_root), state.labels, state.added, errors, redrawn=state.redrawn)
    with tally.rows, tally.stamps:
        _work(plan, ctx, workers, state, tally, progress)
        if active_executor() is not None:  # a dask worker lost mid-batch left temporaries; its batch ran again
            remove_temporaries(out_root)
        if tally.made:  # else the manifest written first is already the kept rows in plan order
            M.write_rows(out_root / M.MANIFEST, _final_rows(out_root, state.done, kept, tally.rows))
        if tally.stamps.added:
            M.write_sorted_stamps(out_root / M.SOURCES, _final_stamps(out_root, kept_stamps.count, tally.stamps))
    M.write_errors(out_root / M.ERRORS, errors)
    write_metadata(out_root, M.stream_rows(out_root / M.MANIFEST))  # for Hugging Face datasets' imagefolder
    stats = RunStats(planned, tally.made, kept, tally.skipped, state.stale, tuple(sorted(errors)),
                     dict(tally.labels), dict(tally.added), out_root / M.MANIFEST, tally.redrawn)
    if seal.sealable(plan) and tally.made + kept == planned and errors == problems:
        seal.write(out_root, ctx.in_root, plan, errors, stats.redrawn)
    return stats


def _work(plan: Plan, ctx: Context, workers: int, state: Resume, tally: _Tally, progress: Progress | None) -> None:
    """Make what is still to make: each result recorded (rows and stamps appended, then its files moved
    into place) and tallied (new rows and stamps sorted on disk)."""
    out_root = ctx.out_root
    manifest, sources = M.Appender(out_root / M.MANIFEST), M.Appender(out_root / M.SOURCES)
    if ctx.direct is not None:  # the store's records name this run before any worker writes there
        D.before_work(ctx.direct)
    results = map_tasks(_run_indexed, plan.indexed(state.done, state.made), _init_worker, ctx, workers,
                        state.pending_tasks)
    _CHECKED.clear()  # folders are proven again for every run: a link may have appeared since the last one
    try:
        for keys, result in results:
            if ctx.direct is not None:
                _commit_direct(result, manifest, sources, ctx)
            else:
                _commit(result, manifest, sources)
            tally.take(keys, result)
            if progress:
                progress(len(result.rows) + result.skipped, plan.planned)
    except (KeyboardInterrupt, _Terminated) as exc:
        name = "interrupted" if isinstance(exc, KeyboardInterrupt) else "terminated"
        raise Interrupted(state.kept_count + tally.made, plan.planned, name) from None
    finally:
        results.close()  # stops the pool's workers now, not at garbage collection
        manifest.close()
        sources.close()


def _sealed(plan: Plan, ctx: Context, record: M.RunRecord, problems: list[tuple[str, str]]) -> RunStats | None:
    """The result of a rerun with nothing to do, when the seal of the earlier run holds (augcli.seal)."""
    old = M.read_record(ctx.out_root / M.RUN_RECORD)
    redrawn = seal.check(ctx.out_root, ctx.in_root, plan, problems, old, record) if old is not None else None
    if redrawn is None:
        return None
    labels, added = seal.counts(plan)
    return RunStats(plan.planned, 0, plan.planned, 0, 0, tuple(sorted(problems)), labels, added,
                    ctx.out_root / M.MANIFEST, redrawn)


class _Counted(Iterator[M.Stamp]):
    """An iterator that counts what it gave."""

    def __init__(self, items: Iterator[M.Stamp]) -> None:
        self.items, self.count = items, 0

    def __next__(self) -> M.Stamp:
        item = next(self.items)
        self.count += 1
        return item


def _final_rows(out_root: Path, done: npt.NDArray[np.bool_], kept: int, new: Sorter) -> Iterator[M.Row]:
    """Every row in plan order: the kept ones (the first ``kept`` rows of the manifest, written in plan
    order at the start; their plan indices are the flags set in ``done``) merged with the new ones."""
    indices = (int(i) for i in np.flatnonzero(done))
    first = ((index, row) for index, row in zip(indices, islice(M.stream_rows(out_root / M.MANIFEST), kept),
                                                                   strict=True))
    fresh = ((key, M.Row(*marshal.loads(values))) for key, values in new.merged())
    for _, row in heapq.merge(first, fresh, key=lambda item: item[0]):
        yield row


def _final_stamps(out_root: Path, kept: int, new: Sorter) -> Iterator[M.Stamp]:
    """Every stamp by path: the kept ones (the first ``kept`` of the file) and the new ones; for a path
    read again, its last new stamp (as the run's dictionary of stamps used to keep)."""
    old = ((stamp.path, stamp.record()) for stamp in islice(M.stream_stamps(out_root / M.SOURCES), kept))
    previous: tuple[str, list[object]] | None = None
    fresh = ((path, list(marshal.loads(record))) for path, record in new.merged())
    for path, record in heapq.merge(old, fresh, key=lambda item: item[0]):
        if previous is not None and previous[0] != path:
            yield M.Stamp(*previous[1])  # type: ignore[arg-type]
        previous = (path, record)
    if previous is not None:
        yield M.Stamp(*previous[1])  # type: ignore[arg-type]


def _commit(result: TaskResult, manifest: M.Appender, sources: M.Appender) -> None:
    """Record a task's outputs, then move its files into place: a file on disk is always listed."""
    sources.write(st.record() for st in result.stamps)
    manifest.write(M.astuple_row(row) for row in result.rows)
    for row, tmp in zip(result.rows, result.temps, strict=True):
        os.replace(tmp, Path(tmp).with_name(PurePosixPath(row.path).name))


def _commit_direct(result: TaskResult, manifest: M.Appender, sources: M.Appender, ctx: Context) -> None:
    """Direct mode: stamps take their input placeholder's mtime (the listing's); rows are recorded, then
    each output (already on the store) gets its placeholder."""
    stamps = [replace(st, mtime_ns=D.stamp_mtime(ctx.in_root, st.path) or 0) for st in result.stamps]
    result.stamps[:] = stamps
    sources.write(st.record() for st in stamps)
    manifest.write(M.astuple_row(row) for row in result.rows)
    for row, size in zip(result.rows, result.sizes, strict=True):
        D.placeholder(ctx.out_root / row.path, size)


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


