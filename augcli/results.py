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
