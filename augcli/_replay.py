"""Replay: rebuild every output of a manifest from its sources and recorded ops alone, and compare bytes.

No recipe and no random generator is involved: originals are copied, everything else is
``render_sources(sources, ops)`` encoded with the run's recorded output settings. A byte
match for every row proves the manifest says completely how each file was made.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path, PurePosixPath
from typing import Any

import numpy as np

from augcli import manifest as M
from augcli.errors import InputError, Outcome, RecipeError, RunError, Status, did_you_mean, option
from augcli.io import ReadError, decode_image, decode_reduced, encode_image, write_atomic
from augcli.paths import inside, is_within, safe_rel
from augcli.pool import map_tasks
from augcli.recipe import FORMATS
from augcli.registry import REGISTRY
from augcli.render import render_sources

Progress = Callable[[int, int], None]
DIFFERS = "its bytes differ from the rebuilt file"


@dataclass(frozen=True, slots=True, kw_only=True)
class ReplayResult(Outcome):
    """What a replay rebuilt and how it compares with the manifest's files (FAILED when any differs)."""

    output: Path
    rebuilt: int
    identical: int
    mismatched: tuple[str, ...]  # output paths (relative, as in the manifest), in manifest order
    reasons: Mapping[str, str]  # why each mismatched path differs


@dataclass(frozen=True, slots=True)
class _Setup:
    """What every worker needs: the three folders and the run's encoder quality."""

    in_root: Path
    run_root: Path  # the manifest's folder, holding the files to compare with
    out_root: Path
    quality: int


@dataclass(frozen=True, slots=True)
class _Task:
    """Manifest rows that share their sources, so the sources are read once."""

    sources: tuple[str, ...]
    rows: tuple[M.Row, ...]


_SETUP: _Setup | None = None


def _init_worker(setup: _Setup) -> None:
    """Pool initializer: the shared setup."""
    global _SETUP
    _SETUP = setup


def _read_sources(setup: _Setup, sources: Sequence[str]) -> tuple[list[bytes], list[Any], str | None]:
    """Raw bytes and decoded images of the sources, or the reason one cannot be read."""
    raw, images = [], []
    for rel in sources:
        try:
            data = np.fromfile(setup.in_root / rel, dtype=np.uint8)
            images.append(decode_image(data, rel))
            raw.append(data.tobytes())
        except (ReadError, OSError) as exc:
            return [], [], f"source {rel} unreadable ({exc})"
    return raw, images, None


def _rebuild(setup: _Setup, row: M.Row, raw: list[bytes], images: list[Any]) -> bytes:
    """The bytes of one output, made again from its sources and ops.

    Generated images are encoded as ``run.encode`` does: for the file's extension (the run
    named it with ``plan.output_suffix`` of the recorded format) at the recorded quality.
    """
    if row.kind == "original":
        return raw[0]
    ops = row.op_list()
    if ops and ops[0]["name"] == "decoded_at":  # the run decoded the source small: so does the replay
        images = [decode_reduced(raw[0], row.source_list()[0], ops[0]["params"]["factor"]), *images[1:]]
    image = render_sources(images, ops)
    return encode_image(image, PurePosixPath(row.path).suffix, setup.quality)


def _rebuild_or_why(setup: _Setup, row: M.Row, raw: list[bytes], images: list[Any]) -> tuple[bytes | None, str]:
    """The rebuilt bytes, or None and why the recorded ops could not be applied."""
    try:
        return _rebuild(setup, row, raw, images), ""
    except Exception as exc:  # recorded values the transform cannot use (a hand-edited manifest)
        return None, f"cannot apply the recorded ops ({type(exc).__name__}: {exc})"


def _compare(setup: _Setup, rel: str, data: bytes) -> str | None:
    """None when the manifest's file has exactly these bytes, else why not."""
    try:
        old = (setup.run_root / rel).read_bytes()
    except FileNotFoundError:
        return f"missing from {setup.run_root} (nothing to compare with)"
    except OSError as exc:
        return f"cannot read {setup.run_root / rel} ({exc.strerror or exc})"
    return None if old == data else DIFFERS


RowOutcome = tuple[str, bool, str | None]  # output path, rebuilt, None or why it differs


def replay_task(task: _Task, setup: _Setup | None = None) -> list[RowOutcome]:
    """Rebuild, write and compare the rows of one task."""
    setup = setup or _SETUP
    assert setup is not None
    raw, images, problem = _read_sources(setup, task.sources)
    if problem is not None:
        return [(row.path, False, problem) for row in task.rows]
    results: list[RowOutcome] = []
    for row in task.rows:
        data, why = _rebuild_or_why(setup, row, raw, images)
        if data is None:
            results.append((row.path, False, why))
            continue
        target = inside(setup.out_root, row.path)
        try:
            write_atomic(target, data)
        except OSError as exc:
            raise RunError(f"cannot write {target}: {exc.strerror or exc}") from None
        results.append((row.path, True, _compare(setup, row.path, data)))
    return results


def _execute(tasks: Sequence[_Task], setup: _Setup, workers: int) -> Iterator[list[RowOutcome]]:
    """Replay tasks on ``workers`` processes, yielding results as they finish."""
    return map_tasks(replay_task, tasks, _init_worker, setup, workers)


# ---------------------------------------------------------------- reading the run


def _check_op(where: str, op: dict[str, Any], *, inside: bool = False) -> None:
    """An op names a known transform and carries what its declaration says an op carries (nested ops too)."""
    name = op.get("name")
    if name not in REGISTRY:
        raise InputError(f"{where}: unknown transform {name!r} in the ops column",
                         hint=did_you_mean(name, list(REGISTRY)) or "was it made by a newer augcli?")
    try:
        nested = REGISTRY[name].check_op(op["params"], f"op {name!r}")
    except RecipeError as exc:
        raise InputError(f"{where}: {exc.message()}",
                         hint="was the manifest edited, or made by another augcli version?") from None
    if nested and inside:
        raise InputError(f"{where}: op {name!r} inside another op holds ops of its own; augcli nests ops one "
                         "level deep (a policy's), so the manifest was edited")
    for inner in nested:
        _check_op(where, inner, inside=True)


def _check_row(manifest: Path, line: int, row: M.Row) -> None:
    """Refuse a row that could not have been written by a run, before anything is written."""
    where = f"{manifest}:{line}"
    if not safe_rel(row.path) or not row.sources or not all(safe_rel(s) for s in row.source_list()):
        raise InputError(f"{where}: expected relative paths inside the folders, got path {row.path!r} "
                         f"and sources {row.sources!r}")
    try:
        ops = row.op_list()
    except ValueError as exc:
        raise InputError(f"{where}: the ops column is not JSON ({exc})") from None
    except RecursionError:
        raise InputError(f"{where}: the ops column is nested too deeply to be ops written by augcli") from None
    ok = isinstance(ops, list)
    ok = ok and all(isinstance(op, dict) and isinstance(op.get("params"), dict) for op in ops)
    if not ok:
        raise InputError(f"{where}: expected ops as a list of {{\"name\", \"params\"}}, got {row.ops[:60]!r}")
    for op in ops:
        _check_op(where, op)
        for partner in op["params"].get("partners", []) if REGISTRY[op["name"]].mix is not None else []:
            if partner["source"] >= len(row.source_list()):
                raise InputError(f"{where}: op {op['name']!r} names partner source {partner['source']}, but the "
                                 f"sources column lists {len(row.source_list())}; was the manifest edited?")


def _read_manifest(manifest: Path) -> list[M.Row]:
    """The manifest's rows, checked; a missing or malformed manifest is an InputError."""
    if not manifest.is_file():
        raise InputError(f"manifest {manifest} does not exist or is not a file")
    try:
        rows = M.read_rows(manifest)
    except (ValueError, TypeError, KeyError, UnicodeDecodeError, OSError) as exc:
        raise InputError(f"manifest {manifest} cannot be read as an augcli manifest: {exc}") from None
    seen: set[str] = set()
    for line, row in enumerate(rows, start=2):
        _check_row(manifest, line, row)
        if row.path in seen:
            raise InputError(f"{manifest}:{line}: output path {row.path!r} appears twice")
        seen.add(row.path)
    folders = {str(parent) for path in seen for parent in PurePosixPath(path).parents}
    for line, row in enumerate(rows, start=2):
        if row.path in folders:
            raise InputError(f"{manifest}:{line}: output path {row.path!r} is also a folder of other outputs")
    return rows


def _read_record(manifest: Path, quality: int | None) -> tuple[str | None, int]:
    """The input folder the run record beside the manifest names, and the run's encoder quality; without
    a record, the manifest alone with ``input`` and ``quality`` (default 95)."""
    path = manifest.parent / M.RUN_RECORD
    if not path.is_file():
        return None, 95 if quality is None else quality
    record = M.read_record(path)
    output = record.output if record is not None else None
    if record is None or output is None:
        raise InputError(f"run record {path} is not valid: expected JSON with recipe.output "
                         "{format, quality}")
    fmt, quality = output.get("format"), output.get("quality") if quality is None else quality
    if fmt not in FORMATS or not isinstance(quality, int) or not 1 <= quality <= 100:
        raise InputError(f"run record {path}: expected recipe.output format in {', '.join(FORMATS)} and "
                         f"quality in [1, 100], got {fmt!r} and {quality!r}")
    return record.input, quality


def _input_root(recorded: str | None, given: str | Path | None, manifest: Path) -> Path:
    """The input folder: ``input`` when given, else the one recorded by the run."""
    if given is None and recorded is None:
        raise InputError(f"no run record beside {manifest} names the input folder; pass {option('input')}")
    root = Path(given if given is not None else recorded)  # type: ignore[arg-type]
    if not root.is_dir():
        how = "" if given is not None else f" (recorded by the run; pass {option('input')} if it moved)"
        raise InputError(f"input folder {root} does not exist or is not a folder{how}")
    return root


REPLAY_MARK = ".augcli-replay"


def _check_output(output: Path, run_root: Path, in_root: Path) -> None:
    """Replay writes beside the run, never over it, into the input folder, or over files it did not make."""
    if is_within(output, run_root) or is_within(run_root, output):
        raise InputError(f"output folder {output} overlaps the manifest's folder {run_root}; replay must write "
                         "elsewhere, so that it can compare with the files there")
    if is_within(output, in_root) or is_within(in_root, output):
        raise InputError(f"output folder {output} overlaps the input folder {in_root}; choose another folder")
    if output.is_dir() and not (output / REPLAY_MARK).is_file() and any(output.iterdir()):
        raise InputError(f"output folder {output} is not empty and holds no earlier replay; choose a new or "
                         "empty folder: replay never writes over files it did not make")


def _tasks(rows: Sequence[M.Row]) -> list[_Task]:
    """Group rows by their sources, first appearance first."""
    groups: dict[tuple[str, ...], list[M.Row]] = {}
    for row in rows:
        groups.setdefault(tuple(row.source_list()), []).append(row)
    return [_Task(sources, tuple(group)) for sources, group in groups.items()]


def replay_manifest(
    manifest: str | Path,
    output: str | Path,
    *,
    input: str | Path | None = None,
    quality: int | None = None,
    workers: int = 1,
    progress: Progress | None = None,
) -> ReplayResult:
    """Rebuild every output of ``manifest`` into ``output`` and compare it with the manifest's files."""
    manifest, output = Path(manifest), Path(output)
    rows = _read_manifest(manifest)
    recorded_input, quality = _read_record(manifest, quality)
    in_root = _input_root(recorded_input, input, manifest)
    _check_output(output, manifest.parent, in_root)
    setup = _Setup(in_root, manifest.parent, output, quality)
    output.mkdir(parents=True, exist_ok=True)
    (output / REPLAY_MARK).write_text("written by augcli replay\n", encoding="utf-8")
    reasons: dict[str, str] = {}
    rebuilt = 0
    if progress:
        progress(0, len(rows))
    for results in _execute(_tasks(rows), setup, workers):
        reasons.update((path, why) for path, _, why in results if why is not None)
        rebuilt += sum(made for _, made, _ in results)
        if progress:
            progress(len(results), len(rows))
    mismatched = tuple(row.path for row in rows if row.path in reasons)
    return ReplayResult(output=output, rebuilt=rebuilt, identical=len(rows) - len(mismatched),
                        mismatched=mismatched, reasons={path: reasons[path] for path in mismatched},
                        status=Status.FAILED if mismatched else Status.OK,
                        failure=RunError(f"{len(mismatched)} output(s) differ from the manifest's files")
                        if mismatched else None)
