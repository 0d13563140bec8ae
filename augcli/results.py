"""What the API's commands return: frozen results that carry a status (``Outcome``) and what the CLI prints.

The result types of inspect, preview and replay live with their commands (``_inspect``, ``_preview``,
``_replay``); ``augcli.api`` re-exports them all.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

from augcli.compose import Op
from augcli.errors import Outcome, Spelling, keyword, spell
from augcli.manifest import MANIFEST
from augcli.ops._image import Image


@dataclass(frozen=True)
class Augmented:
    """One augmented image and the ops that made it."""

    image: Image
    ops: list[Op]


@dataclass(frozen=True, kw_only=True)
class Estimate:
    """What a dry run found, writing nothing: per class the originals a run would copy and the images it would
    make; the disk space and time it would take, and how each was estimated; what it would do with the output
    folder (``folder``: options marked, see :func:`augcli.errors.spell`)."""

    originals: Mapping[str, int]
    generated: Mapping[str, int]
    original_bytes: int  # exact: the originals' file sizes
    generated_bytes: int
    bytes_how: str
    seconds: float | None  # None when no sampled output could be made
    seconds_how: str
    folder: str

    def report(self, spelling: Spelling = keyword) -> str:
        """The plan per class, then disk space, time and the output folder, as the CLI prints them."""
        width = max([len("total"), *(len(label) for label in self.originals)])
        lines = ["Dry run: nothing was written.",
                 f"  {'class':<{width}}  {'originals':>9}  {'generated':>9}  {'total':>9}"]
        rows = [*((c, n, self.generated[c]) for c, n in self.originals.items()),
                ("total", sum(self.originals.values()), sum(self.generated.values()))]
        lines += [f"  {c:<{width}}  {n:>9}  {g:>9}  {n + g:>9}" for c, n, g in rows]
        total = self.original_bytes + self.generated_bytes
        lines.append(f"Disk: about {size_text(total)} ({self.bytes_how})")
        took = "unknown" if self.seconds is None else f"about {time_text(self.seconds)}"
        lines.append(f"Time: {took} ({self.seconds_how})")
        lines.append(f"Output folder: {spell(self.folder, spelling)}")
        return "\n".join(lines)


def size_text(n: float) -> str:
    """A byte count in decimal units, to two or three significant digits."""
    for unit in ("bytes", "kB", "MB", "GB"):
        if n < 1000 or unit == "GB":
            return f"{n:.0f} {unit}" if unit == "bytes" else f"{n:.3g} {unit}"
        n /= 1000
    raise AssertionError  # the loop always returns


def time_text(seconds: float) -> str:
    """A duration to a sensible precision: seconds, minutes or hours."""
    if seconds < 90:
        return f"{max(seconds, 1):.0f} s"
    return f"{seconds / 60:.0f} min" if seconds < 5400 else f"{seconds / 3600:.1f} h"


@dataclass(frozen=True)
class RunResult(Outcome):
    """What a run made; FAILED (with ``strict``) when inputs were unreadable or left out."""

    output: Path
    planned: int
    made: int
    kept: int
    skipped: int
    stale: int  # outputs of an earlier run removed because their source moved, changed or left the plan
    errors: tuple[tuple[str, str], ...]  # (input path, reason): unreadable images and files the scan left out
    before: Mapping[str, int]
    after: Mapping[str, int]
    fixed: tuple[str, ...] = field(default=(), kw_only=True)  # range parameters the recipe gives as one value
    redrawn: int = field(default=0, kw_only=True)  # outputs in the manifest whose first draw gave a copy
    copies_left_out: int = field(default=0, kw_only=True)  # outputs left out: every draw gave a copy (errors.csv)
    estimate: Estimate | None = field(default=None, kw_only=True)  # a dry run's findings (nothing was made)
    cluster_workers: int = field(default=0, kw_only=True)  # dask workers that ran tasks (0: the local pool)

    @property
    def manifest(self) -> Path:
        """Path of the manifest."""
        return self.output / MANIFEST


@dataclass(frozen=True)
class BalanceResult(RunResult):
    """What a balance run made, per class: the targets, images added and originals left out."""

    target: Mapping[str, int]
    added: Mapping[str, int]
    removed: Mapping[str, int]
    chart: Path
    marked_notes: tuple[str, ...] = ()  # what the plan changed or noticed; options marked (errors.option)

    @property
    def notes(self) -> tuple[str, ...]:
        """The notes, options named by keyword (``target=1.0``)."""
        return self.spelled_notes()

    def spelled_notes(self, spelling: Spelling = keyword) -> tuple[str, ...]:
        """The notes with their options spelled by ``spelling`` (the CLI passes its flags)."""
        return tuple(spell(note, spelling) for note in self.marked_notes)

    def table(self) -> str:
        """The per-class table: class, before, after, added, removed."""
        width = max([len("class"), *(len(label) for label in self.before)])
        lines = [f"  {'class':<{width}}  {'before':>7}  {'after':>7}  {'added':>7}  {'removed':>7}"]
        for label, n in self.before.items():
            lines.append(f"  {label:<{width}}  {n:>7}  {self.after.get(label, 0):>7}  "
                         f"{self.added.get(label, 0):>7}  {self.removed.get(label, 0):>7}")
        return "\n".join(lines)
