"""``--dry-run``: the plan of a run, the disk space and time it would take, and what it would do with its
output folder, with nothing written (not even the output folder).

- Disk: originals are copied byte for byte, so their share is their files' sizes. Each generated image is
  counted at its first source's file size times one ratio: the bytes of a few sampled outputs, made as a run
  makes them, over their sources' sizes (a recipe that changes the format or the size shows in it).
- Time: the same sampled outputs are made in this process and timed (reading, decoding, rendering and
  encoding; nothing is written); the time per output is scaled to the plan's generated images and divided
  among the workers. Copying originals is not counted.
"""

from __future__ import annotations

import os
import time
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import replace
from pathlib import Path

from augcli import manifest as M
from augcli.errors import option
from augcli.paths import shown
from augcli.plan import Task
from augcli.results import Estimate, size_text
from augcli.run import Context, render_task

SAMPLE_OUTPUTS = 8  # generated outputs made and timed; whole tasks, so a source is decoded once as in a run


def estimate(tasks: Sequence[Task], ctx: Context, record: M.RunRecord, workers: int,
             classes: Sequence[str]) -> Estimate:
    """What a run of ``tasks`` would write and take; reads inputs, writes nothing."""
    originals = {label: 0 for label in classes}
    generated = dict(originals)
    sizes = _Sizes(ctx.in_root)
    original_bytes = source_bytes = 0
    for task in tasks:
        for job in task.jobs:
            if job.copies_bytes:
                originals[task.label] += 1
                original_bytes += sizes[task.sources[0]]
            else:
                generated[task.label] += 1
                source_bytes += sizes[task.sources[0]]
    made, seconds, sampled_sources = _sample(tasks, ctx, workers, sizes)
    ratio = sum(map(len, made)) / sampled_sources if sampled_sources else 1.0
    outputs = sum(generated.values())
    per_output = seconds / len(made) if made else None
    busy = min(workers, sum(1 for task in tasks if any(not job.copies_bytes for job in task.jobs))) or 1
    return Estimate(
        originals=originals, generated=generated, original_bytes=original_bytes,
        generated_bytes=round(source_bytes * ratio),
        bytes_how=_bytes_how(original_bytes, source_bytes, ratio, len(made)),
        seconds=None if per_output is None else per_output * outputs / busy,
        seconds_how=_seconds_how(outputs, made, seconds, busy),
        folder=folder_state(ctx.out_root, record, {job.rel for task in tasks for job in task.jobs}))


class _Sizes(dict[str, int]):
    """Input file sizes by relative path, looked up once (0 for a file that cannot be read)."""

    def __init__(self, root: Path) -> None:
        super().__init__()
        self.root = root

    def __missing__(self, rel: str) -> int:
        try:
            size = os.stat(self.root / rel).st_size
        except OSError:
            size = 0
        self[rel] = size
        return size


def _sample(tasks: Sequence[Task], ctx: Context, workers: int,
            sizes: Mapping[str, int]) -> tuple[list[bytes], float, int]:
    """Make about SAMPLE_OUTPUTS generated outputs of tasks spread over the plan; their bytes, the seconds
    taken and their sources' total size."""
    candidates = [replace(task, jobs=tuple(job for job in task.jobs if not job.copies_bytes)) for task in tasks]
    candidates = [task for task in candidates if task.jobs]
    stride = max(1, len(candidates) // SAMPLE_OUTPUTS)
    chosen, planned = [], 0
    for task in candidates[::stride]:
        if planned >= SAMPLE_OUTPUTS:
            break
        chosen.append(task)
        planned += len(task.jobs)
    made: list[bytes] = []
    source_bytes, seconds = 0, 0.0
    with _one_opencv_thread(workers > 1):  # as in a worker process
        for task in chosen:
            began = time.perf_counter()
            outputs = render_task(task, ctx)
            seconds += time.perf_counter() - began
            made += outputs
            source_bytes += sizes[task.sources[0]] * len(outputs)
    return made, seconds, source_bytes


@contextmanager
def _one_opencv_thread(active: bool) -> Iterator[None]:
    """OpenCV limited to one thread while timing, as in a worker of a multi-process run."""
    if not active:
        yield
        return
    import cv2

    before = cv2.getNumThreads()
    cv2.setNumThreads(1)
    try:
        yield
    finally:
        cv2.setNumThreads(before)


def _bytes_how(original_bytes: int, source_bytes: int, ratio: float, sampled: int) -> str:
    """How the disk estimate was made, in a few words."""
    originals = f"originals {size_text(original_bytes)}, their files' sizes"
    if not source_bytes:
        return originals
    how = (f"each its source's size x {ratio:.2f}, the ratio of {sampled} outputs made as a sample" if sampled
           else "each counted at its source's size")
    return f"{originals}; generated images {size_text(source_bytes * ratio)}, {how}"


def _seconds_how(outputs: int, made: list[bytes], seconds: float, workers: int) -> str:
    """How the time estimate was made."""
    if not outputs:
        return "nothing to generate; originals are only copied"
    if not made:
        return "none of the sampled inputs could be made into an output"
    return (f"{outputs} images to generate; {len(made)} made here as a sample in {seconds:.2f} s, "
            f"{1000 * seconds / len(made):.1f} ms each, shared by {workers} worker{'s' * (workers > 1)}; "
            "copying originals not counted")


def folder_state(out: Path, record: M.RunRecord, planned: set[str]) -> str:
    """What a run would do with the output folder, read without changing it (options marked)."""
    where = shown(out)
    try:
        if not out.exists():
            return f"{where} does not exist: a run creates it"
        if not out.is_dir():
            return f"{where} is not a folder: a run cannot use it"
        old = M.read_record(out / M.RUN_RECORD)
        if old is None:
            empty = not any(p.name != M.LOCK for p in out.iterdir())
            return f"{where} is empty" if empty else (f"{where} holds files but no augcli run: a run is refused "
                                                      "(augcli never writes over files it did not make)")
        if old.identity() != record.identity():
            return (f"{where} holds a run with a different {record.describe_change(old)}: a run is refused "
                    f"unless {option('overwrite', True)} is given (it removes only the files that run recorded)")
        rows, _ = M.read_rows_tolerant(out / M.MANIFEST)
    except (OSError, ValueError, UnicodeDecodeError) as exc:
        return f"{where} cannot be read as an output folder ({exc})"
    done = sum(1 for row in rows if row.path in planned)
    return (f"{where} holds an earlier run of this plan: a run keeps the {done} outputs it lists (when their "
            f"sources are unchanged) and makes the other {len(planned) - done}")
