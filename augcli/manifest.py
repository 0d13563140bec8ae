"""The manifest (one CSV row per output file), the error list, and the run record used to resume."""

from __future__ import annotations

import csv
import io
import json
import os
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field, fields
from pathlib import Path
from stat import S_ISREG
from typing import Any

from augcli.io import temp_path, write_atomic

MANIFEST = "manifest.csv"
ERRORS = "errors.csv"
RUN_RECORD = "augcli-run.json"
LOCK = "augcli.lock"


@dataclass(frozen=True)
class Row:
    """How one output file was made."""

    path: str  # relative to the output folder, POSIX
    label: str
    kind: str  # original | augmented | smote | tta
    sources: str  # input paths relative to the input folder, ';'-separated
    copy: int
    seed: int
    ops: str  # JSON list of {"name", "params"} as applied
    sha256: str = ""  # of the output file's bytes: proves a file is the one augcli wrote
    label_weights: str = ""  # JSON {class: weight} summing to 1 for a soft-label image (mixup ...); else empty
    group: str = ""  # the source a test-time-augmentation variant belongs to (average predictions per group)
    redraw: int = 0  # 0: the planned draw; k: draws 0..k-1 copied a source or another output, and the ops were
    # drawn with rng.redraw_seed(seed, k) (the ops column alone replays it)

    def weights(self) -> dict[str, float]:
        """The soft label as {class: weight}; a single-label row is {label: 1.0}."""
        return json.loads(self.label_weights) if self.label_weights else {self.label: 1.0}

    def op_list(self) -> list[dict[str, Any]]:
        """The ops column parsed back from JSON."""
        return json.loads(self.ops) if self.ops else []

    def source_list(self) -> list[str]:
        """The sources column split into paths."""
        return self.sources.split(";") if self.sources else []


COLUMNS = [f.name for f in fields(Row)]
# Headers of manifests written by earlier versions (before sha256; before label_weights and group; before
# redraw): still read.
LEGACY_HEADERS = (COLUMNS[:7], COLUMNS[:8], COLUMNS[:10])
# Names that are not valid UTF-8 reach Python as lone surrogates; they are written back as their
# original bytes, so a manifest names every file exactly as the file system does.
ENCODING = {"encoding": "utf-8", "errors": "surrogateescape"}


def ops_json(ops: Sequence[dict[str, Any]]) -> str:
    """Compact JSON for the ops column."""
    return json.dumps(list(ops), separators=(",", ":"), ensure_ascii=False)


def rows_csv(rows: Iterable[Row]) -> str:
    """The manifest text for rows, header first."""
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow(COLUMNS)
    for row in rows:
        writer.writerow(astuple_row(row))
    return buffer.getvalue()


def astuple_row(row: Row) -> list[Any]:
    """A row's values in column order."""
    return [getattr(row, name) for name in COLUMNS]


def read_rows(path: Path) -> list[Row]:
    """Read a manifest; a missing file reads as no rows. Malformed rows raise ValueError."""
    rows, bad = read_rows_tolerant(path)
    if bad:
        raise ValueError(f"{path}:{bad[0]}: not a manifest row (columns {', '.join(COLUMNS)})")
    return rows


def read_rows_tolerant(path: Path) -> tuple[list[Row], list[int]]:
    """Read a manifest, keeping the rows that parse and returning the line numbers of those that do not.

    A run killed while appending can leave an empty file or a cut last line: those are not rows.
    A file whose header is not a manifest's raises ValueError.
    """
    bad: list[int] = []
    rows = list(stream_rows(path, bad))
    return rows, bad


def stream_rows(path: Path, bad: list[int] | None = None) -> Iterator[Row]:
    """The rows of a manifest one at a time, as :func:`read_rows_tolerant` reads them (the line numbers of
    rows that do not parse go to ``bad``), so that a manifest of millions of rows is never held whole."""
    if not path.exists() or path.stat().st_size == 0:
        return
    with open(path, newline="", **ENCODING) as handle:  # type: ignore[call-overload]
        reader = csv.reader(handle)
        header = next(_records(reader, path), None)
        if header != COLUMNS and header not in LEGACY_HEADERS:
            raise ValueError(f"{path} is not an augcli manifest (columns {header})")
        for record in _records(reader, path):
            row = _parse_row(record, len(header))
            if row is None or not row.path:
                if bad is not None:
                    bad.append(reader.line_num)
            else:
                yield row


def _records(reader: Any, path: Path) -> Iterator[list[str]]:
    """CSV records; a field past the csv module's size limit is a ValueError naming the file and line."""
    try:
        yield from reader
    except csv.Error as exc:
        raise ValueError(f"{path}:{reader.line_num}: {exc}") from None


def _parse_row(record: list[str], width: int) -> Row | None:
    """A Row from CSV fields, or None when the fields are not a whole row."""
    if len(record) != width:
        return None
    values = dict(zip(COLUMNS[:width], record, strict=True))
    try:
        copy, seed, redraw = int(values["copy"]), int(values["seed"]), int(values.get("redraw", "0"))
    except ValueError:
        return None
    if redraw < 0:
        return None
    digest = values.get("sha256", "")
    if digest and (len(digest) != 64 or digest.strip("0123456789abcdef")):
        return None
    return Row(path=values["path"], label=values["label"], kind=values["kind"], sources=values["sources"],
               copy=copy, seed=seed, ops=values["ops"], sha256=digest,
               label_weights=values.get("label_weights", ""), group=values.get("group", ""), redraw=redraw)


class Appender:
    """Appends CSV records to a file that already holds its header, flushed per batch, so an
    interrupted run keeps what it made (a cut last line is dropped by the tolerant readers)."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self._handle = open(path, "a", newline="", **ENCODING)  # type: ignore[call-overload]  # noqa: SIM115
        self._writer = csv.writer(self._handle, lineterminator="\n")

    def write(self, records: Iterable[Sequence[Any]]) -> None:
        """Append records and flush them to the file."""
        self._writer.writerows(records)
        self._handle.flush()

    def close(self) -> None:
        """Close the file."""
        self._handle.close()


def write_rows(path: Path, rows: Iterable[Row]) -> None:
    """Replace the manifest atomically with ``rows`` in the order given (streamed: any number of rows)."""
    write_records(path, COLUMNS, (astuple_row(row) for row in rows))


def write_records(path: Path, header: Sequence[str], records: Iterable[Sequence[Any]]) -> None:
    """Replace a CSV file atomically: a temporary file beside it, written as records come, then a rename."""
    tmp = temp_path(path)
    try:
        with open(tmp, "w", newline="", **ENCODING) as handle:  # type: ignore[call-overload]
            writer = csv.writer(handle, lineterminator="\n")
            writer.writerow(header)
            batch: list[Sequence[Any]] = []
            for record in records:
                batch.append(record)
                if len(batch) == 4096:
                    writer.writerows(batch)
                    batch = []
            writer.writerows(batch)
        os.replace(tmp, path)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise


def write_errors(path: Path, errors: Sequence[tuple[str, str]]) -> None:
    """Write ``errors.csv`` (path, reason), or remove a stale one when there are none."""
    if not errors:
        path.unlink(missing_ok=True)
        return
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow(["path", "reason"])
    # A carriage return is not quoted by the csv module (only the line terminator is): keep it visible.
    writer.writerows((path.replace("\r", "\\r"), reason) for path, reason in sorted(errors))
    write_atomic(path, buffer.getvalue().encode(**ENCODING))


RECORD_LIMIT = 16 * 1024 * 1024  # a run record is a few KiB; anything larger is not one
CONTEXT = ("augcli_version", "input", "planned", "recipe_source")  # recorded, but not what decides the outputs
_WORDS = {"recipe_digest": "recipe"}  # how a refusal names a changed part of the identity


@dataclass(frozen=True, slots=True, kw_only=True)
class RunRecord:
    """What decides a run's outputs (its identity: resume needs it unchanged), and where and by which
    version the run was made. Written beside the manifest as ``augcli-run.json``.

    ``options`` are the command's own (expand: copies, originals; balance: target, per_class,
    targets, method, undersample, smote); a record read from a file keeps every key it does not
    know there, so it still takes part in the comparison.
    """

    command: str | None
    seed: int | None
    recipe: Mapping[str, Any]  # canonical recipe data; its ``output`` section says how files were encoded
    recipe_digest: str | None
    max_pixels: int | None
    options: Mapping[str, Any] = field(default_factory=dict)
    input: str | None = None  # the input folder, resolved
    planned: int | None = None  # outputs in the plan
    augcli_version: str | None = None
    recipe_source: str | None = None  # the file or bundled recipe named (its content is ``recipe``)

    def identity(self) -> dict[str, Any]:
        """What must match for a run to resume this one (not the version, the input folder's place or
        the plan's size: a changed input tree is reconciled file by file)."""
        return {"command": self.command, "seed": self.seed, "recipe": self.recipe,
                "recipe_digest": self.recipe_digest, "max_pixels": self.max_pixels, **self.options}

    def describe_change(self, old: RunRecord) -> str:
        """The parts of this identity that differ from ``old``'s, in user terms ("seed", "recipe"), sorted;
        when only ``old`` has more, those."""
        mine, theirs = self.identity(), old.identity()
        keys = [k for k in mine if mine[k] != theirs.get(k)] or [k for k in theirs if k not in mine]
        return ", ".join(sorted({_WORDS.get(k, k) for k in keys}))

    def to_json(self) -> dict[str, Any]:
        """The plain JSON form (the file's keys: the identity's, then version, input and plan size)."""
        return {**self.identity(), "augcli_version": self.augcli_version, "input": self.input,
                "planned": self.planned, "recipe_source": self.recipe_source}

    @classmethod
    def from_json(cls, data: Any) -> RunRecord | None:
        """The record a file holds, or None when it is not a JSON object.

        Read leniently, so that any record an augcli wrote resumes and replays: a key an older
        version did not write reads as None; a key of the wrong type (a hand edit) keeps its raw
        value in ``options`` when it is part of the identity (so it still counts as a change), and
        reads as None when it is only context.
        """
        if not isinstance(data, dict):
            return None
        typed = {k: v for k, v in data.items() if k in _TYPES and _is(v, _TYPES[k])}
        options = {k: v for k, v in data.items()
                   if k not in _TYPES or (k not in typed and k not in CONTEXT and v is not None)}
        recipe = typed.pop("recipe", {})
        return cls(recipe=recipe, options=options, **{k: typed.get(k) for k in _TYPES if k != "recipe"})

    @property
    def output(self) -> Mapping[str, Any] | None:
        """The recipe's output section (format, quality: how files were encoded), or None without one."""
        section = self.recipe.get("output")
        return section if isinstance(section, dict) else None


_TYPES: dict[str, type] = {
    "command": str, "seed": int, "recipe": dict, "recipe_digest": str, "max_pixels": int,
    "augcli_version": str, "input": str, "planned": int, "recipe_source": str,
}


def _is(value: Any, kind: type) -> bool:
    """A JSON value of this Python type (JSON true and false are not integers here)."""
    return isinstance(value, kind) and not (kind is int and isinstance(value, bool))


def read_record(path: Path) -> RunRecord | None:
    """The run record of an earlier run, or None (also for a FIFO, a device or an oversized file: never
    one augcli wrote, and reading it could block or fill memory)."""
    try:
        stat = path.stat()
        if not S_ISREG(stat.st_mode) or stat.st_size > RECORD_LIMIT:
            return None
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError, RecursionError):
        return None
    return RunRecord.from_json(data)


def write_record(path: Path, record: RunRecord) -> None:
    """Write the run record, pretty-printed with sorted keys."""
    write_atomic(path, (json.dumps(record.to_json(), indent=2, sort_keys=True) + "\n").encode("utf-8"))


# ---------------------------------------------------------------- source stamps (what each output was made from)

SOURCES = "augcli-sources.csv"
STAMP_COLUMNS = ["path", "size", "mtime_ns", "sha256"]


@dataclass(frozen=True)
class Stamp:
    """An input file as a run read it: size and modification time (the quick check) and content hash."""

    path: str
    size: int
    mtime_ns: int
    sha256: str

    def record(self) -> list[Any]:
        """The stamp's values in column order."""
        return [self.path, self.size, self.mtime_ns, self.sha256]


def write_stamps(path: Path, stamps: Iterable[Stamp]) -> None:
    """Replace the stamps file atomically, sorted by path."""
    write_sorted_stamps(path, sorted(stamps, key=lambda s: s.path))


def write_sorted_stamps(path: Path, stamps: Iterable[Stamp]) -> None:
    """Replace the stamps file atomically with stamps already sorted by path (streamed)."""
    write_records(path, STAMP_COLUMNS, (stamp.record() for stamp in stamps))


def read_stamps(path: Path) -> dict[str, Stamp]:
    """The stamps of an earlier run; missing, foreign or cut lines read as no stamp (the source is remade)."""
    try:
        return {stamp.path: stamp for stamp in stream_stamps(path)}
    except ValueError:  # an oversized field: not a file augcli wrote; sources are remade
        return {}


def stream_stamps(path: Path) -> Iterator[Stamp]:
    """The stamps of a file one at a time (a later one for the same path wins, as in :func:`read_stamps`).

    Raises ValueError for a file augcli did not write that way (an oversized field, bytes that are not
    text): the caller then drops every stamp it has read from it.
    """
    if not path.is_file():
        return
    try:
        with open(path, newline="", **ENCODING) as handle:  # type: ignore[call-overload]
            records = csv.reader(handle)
            if next(records, None) != STAMP_COLUMNS:
                return
            for record in records:
                if len(record) == 4 and len(record[3]) == 64 and record[1].isdigit() and record[2].isdigit():
                    yield Stamp(record[0], int(record[1]), int(record[2]), record[3])
    except (csv.Error, UnicodeDecodeError) as exc:
        raise ValueError(f"{path}: {exc}") from None
