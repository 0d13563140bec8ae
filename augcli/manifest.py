"""The manifest (one CSV row per output file), the error list, and the run record used to resume."""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, fields
from pathlib import Path
from typing import Any

from augcli.io import write_atomic

MANIFEST = "manifest.csv"
ERRORS = "errors.csv"
RUN_RECORD = "augcli-run.json"
LOCK = "augcli.lock"


@dataclass(frozen=True)
class Row:
    """How one output file was made."""

    path: str  # relative to the output folder, POSIX
    label: str
    kind: str  # original | augmented | smote | mixup
    sources: str  # input paths relative to the input folder, ';'-separated
    copy: int
    seed: int
    ops: str  # JSON list of {"name", "params"} as applied

    def op_list(self) -> list[dict[str, Any]]:
        """The ops column parsed back from JSON."""
        return json.loads(self.ops) if self.ops else []

    def source_list(self) -> list[str]:
        """The sources column split into paths."""
        return self.sources.split(";") if self.sources else []


COLUMNS = [f.name for f in fields(Row)]


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
    """Read a manifest; a missing file reads as no rows."""
    if not path.exists():
        return []
    with open(path, newline="", encoding="utf-8") as handle:
        reader = csv.DictReader(handle)
        if reader.fieldnames is None or list(reader.fieldnames) != COLUMNS:
            raise ValueError(f"{path} is not an augcli manifest (columns {reader.fieldnames})")
        return [Row(**{**rec, "copy": int(rec["copy"]), "seed": int(rec["seed"])}) for rec in reader
                if rec.get("path")]


class ManifestWriter:
    """Appends rows as outputs are finished, so an interrupted run keeps what it made."""

    def __init__(self, path: Path) -> None:
        self.path = path
        new = not path.exists() or path.stat().st_size == 0
        self._handle = open(path, "a", newline="", encoding="utf-8")  # noqa: SIM115
        self._writer = csv.writer(self._handle, lineterminator="\n")
        if new:
            self._writer.writerow(COLUMNS)

    def write(self, rows: Iterable[Row]) -> None:
        """Append rows and flush them to the file."""
        for row in rows:
            self._writer.writerow(astuple_row(row))
        self._handle.flush()

    def close(self) -> None:
        """Close the file."""
        self._handle.close()


def write_rows(path: Path, rows: Iterable[Row]) -> None:
    """Replace the manifest atomically with ``rows`` in the order given."""
    write_atomic(path, rows_csv(rows).encode("utf-8"))


def write_errors(path: Path, errors: Sequence[tuple[str, str]]) -> None:
    """Write ``errors.csv`` (path, reason), or remove a stale one when there are none."""
    if not errors:
        path.unlink(missing_ok=True)
        return
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow(["path", "reason"])
    writer.writerows(sorted(errors))
    write_atomic(path, buffer.getvalue().encode("utf-8"))


def read_record(path: Path) -> dict[str, Any] | None:
    """The run record of an earlier run, or None."""
    if not path.exists():
        return None
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None


def write_record(path: Path, record: dict[str, Any]) -> None:
    """Write the run record (what decides the outputs), pretty-printed."""
    write_atomic(path, (json.dumps(record, indent=2, sort_keys=True, ensure_ascii=False) + "\n").encode("utf-8"))
