"""Inspecting an input tree: per-class counts, formats, sizes, unreadable files, imbalance.

Every image is read with :func:`augcli.io.read_image` (the same check a run makes), on a
thread pool: OpenCV decoding releases the GIL, so threads use every core without pickling. Classes
are read one after the other, a chunk of images at a time, and only each class's summary is kept, so
memory does not grow with the tree (the scan's packed names aside).
A bad file (corrupt, too large, wrong content, unreadable) is reported with its reason, and
what the scan left out (``Dataset.problems``) is reported too; neither stops the inspection.
Paths that are not valid UTF-8 are printed with ``\\xe9`` escapes in the text report.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path, PurePosixPath
from typing import Any

from augcli.dataset import Problem, Source, scan
from augcli.errors import InputError, Outcome, option
from augcli.io import DEFAULT_MAX_PIXELS, ReadError, read_image
from augcli.paths import check_not_input, shown


@dataclass(frozen=True, slots=True, kw_only=True)
class ClassStats:
    """What one class folder holds."""

    name: str
    images: int
    share: float  # of all images, 0..1
    formats: dict[str, int]  # file extension (lower case, no dot) -> count
    width: tuple[int, int] | None  # (smallest, largest) over readable images
    height: tuple[int, int] | None
    unreadable: tuple[tuple[str, str], ...]  # (path, reason)


@dataclass(frozen=True, slots=True, kw_only=True)
class InspectResult(Outcome):
    """The summary of an input tree."""

    root: Path
    classes: tuple[ClassStats, ...]
    chart: Path | None = None
    problems: tuple[Problem, ...] = ()  # (path, reason) the scan left out

    @property
    def images(self) -> int:
        """Image files in the tree."""
        return sum(c.images for c in self.classes)

    @property
    def imbalance_ratio(self) -> float:
        """Largest class count over smallest class count."""
        counts = [c.images for c in self.classes]
        return max(counts) / min(counts)

    def as_dict(self) -> dict[str, Any]:
        """Plain JSON data (``augcli inspect --json``)."""
        largest = max(self.classes, key=lambda c: c.images)
        smallest = min(self.classes, key=lambda c: c.images)
        return {
            "root": str(self.root),
            "images": self.images,
            "unreadable": sum(len(c.unreadable) for c in self.classes),
            "imbalance_ratio": round(self.imbalance_ratio, 4),
            "largest": largest.name,
            "smallest": smallest.name,
            "classes": [{
                "name": c.name, "images": c.images, "share": round(c.share, 4), "formats": c.formats,
                "width": list(c.width) if c.width else None, "height": list(c.height) if c.height else None,
                "unreadable": [{"path": p, "reason": r} for p, r in c.unreadable],
            } for c in self.classes],
            "problems": [{"path": p, "reason": r} for p, r in self.problems],
            "chart": str(self.chart) if self.chart else None,
        }

    def report(self) -> str:
        """The text report (``augcli inspect``): a table per class, the imbalance, unreadable files, problems."""
        rows = [(shown(c.name), str(c.images), f"{c.share:.1%}", ", ".join(f"{k} {n}" for k, n in c.formats.items()),
                 _span(c.width), _span(c.height), str(len(c.unreadable))) for c in self.classes]
        head = ("class", "images", "share", "formats", "width", "height", "unreadable")
        widths = [max(len(r[i]) for r in [head, *rows]) for i in range(len(head))]
        right = {1, 2, 6}
        lines = [f"{self.root}: {self.images} images in {len(self.classes)} classes"]
        for row in [head, *rows]:
            pairs = enumerate(zip(row, widths, strict=True))
            cells = [cell.rjust(w) if i in right else cell.ljust(w) for i, (cell, w) in pairs]
            lines.append("  " + "  ".join(cells).rstrip())
        data = self.as_dict()
        counts = {c.name: c.images for c in self.classes}
        largest, smallest = data["largest"], data["smallest"]
        lines.append(f"imbalance ratio: {self.imbalance_ratio:.2f} (largest {largest} {counts[largest]} / "
                     f"smallest {smallest} {counts[smallest]})")
        bad = [u for c in self.classes for u in c.unreadable]
        if bad:
            lines.append(f"{len(bad)} unreadable file(s):")
            lines.extend(f"  {path}: {reason}" for path, reason in bad)
        if self.problems:
            lines.append(f"{len(self.problems)} problem(s) found while scanning (left out):")
            lines.extend(f"  {path}: {reason}" for path, reason in self.problems)
        if self.chart:
            lines.append(f"Chart: {self.chart}")
        return "".join(shown(line) + "\n" for line in lines)  # reasons may name paths too


Probe = tuple[int, int] | str  # (width, height) or the reason it is unreadable


def _probe(path: Path, max_pixels: int | None) -> Probe:
    """Read one image fully; its size, or why it cannot be used."""
    try:
        image = read_image(path, max_pixels=max_pixels)
    except ReadError as exc:
        return str(exc)
    return int(image.shape[1]), int(image.shape[0])


def _check_chart(chart: Path, input_root: Path) -> None:
    """The chart is a new or replaceable .png file outside the input tree."""
    if chart.is_dir():
        raise InputError(f"{option('chart', str(chart))}: expected a file name ending in .png, got a folder")
    if chart.suffix.lower() != ".png":
        raise InputError(f"{option('chart', str(chart))}: expected a file name ending in .png, got "
                         f"{repr(chart.suffix) if chart.suffix else 'no extension'}")
    check_not_input(chart, input_root, "chart")


def inspect_tree(root: str | Path, *, workers: int = 1, chart: str | Path | None = None,
                 progress: Callable[[int, int], None] | None = None,
                 max_pixels: int | None = DEFAULT_MAX_PIXELS) -> InspectResult:
    """Scan and read every image of ``root``; draw the class counts to ``chart`` when given.

    Args:
        root: ImageFolder tree.
        workers: reading threads.
        chart: a .png path outside ``root`` for the bar chart of class counts.
        progress: called with (images just read, images in the tree).
        max_pixels: images above this many pixels are reported, not decoded; None for no limit.

    Returns:
        Per-class statistics, unreadable files, the scan's problems and the chart path.
    """
    data = scan(root)
    if chart is not None:
        _check_chart(Path(chart), data.root)
    total = len(data.sources)
    with ThreadPoolExecutor(max_workers=max(1, workers)) as pool:
        classes = tuple(_read_class(pool, data.root, label, data.sources.of(label), total, max_pixels, progress)
                        for label in data.classes)
    chart_path = None if chart is None else _write_chart(Path(chart), data.root, classes)
    return InspectResult(root=data.root, classes=classes, chart=chart_path, problems=data.problems)


_CHUNK = 512  # images read at once: what is in flight on the thread pool


def _read_class(pool: ThreadPoolExecutor, root: Path, label: str, sources: Sequence[Source], total: int,
                max_pixels: int | None, progress: Callable[[int, int], None] | None) -> ClassStats:
    """Read one class's images a chunk at a time and keep only its summary (sizes, formats, unreadable)."""
    tally = _Tally()
    for start in range(0, len(sources), _CHUNK):
        rels = [source.rel for source in sources[start:start + _CHUNK]]
        for rel, probe in zip(rels, pool.map(lambda rel: _probe(root / rel, max_pixels), rels), strict=True):
            tally.add(rel, probe)
            if progress:
                progress(1, total)
    return tally.stats(label, total)


class _Tally:
    """A class's summary as its images are read."""

    def __init__(self) -> None:
        self.images = 0
        self.formats: Counter[str] = Counter()
        self.widths: list[int] = []  # smallest, largest so far
        self.heights: list[int] = []
        self.unreadable: list[tuple[str, str]] = []

    def add(self, rel: str, probe: Probe) -> None:
        self.images += 1
        self.formats[PurePosixPath(rel).suffix.lstrip(".").lower()] += 1
        if isinstance(probe, str):
            self.unreadable.append((rel, probe))
            return
        for bounds, value in ((self.widths, probe[0]), (self.heights, probe[1])):
            bounds[:] = [min(bounds[0], value), max(bounds[1], value)] if bounds else [value, value]

    def stats(self, label: str, total: int) -> ClassStats:
        return ClassStats(name=label, images=self.images, share=self.images / total,
                          formats=dict(sorted(self.formats.items())),
                          width=(self.widths[0], self.widths[1]) if self.widths else None,
                          height=(self.heights[0], self.heights[1]) if self.heights else None,
                          unreadable=tuple(self.unreadable))


def _write_chart(chart: Path, root: Path, classes: tuple[ClassStats, ...]) -> Path:
    """Draw the class counts; a path that cannot be written is an input error, not a traceback."""
    from augcli.chart import write_chart

    try:
        return write_chart(chart, [c.name for c in classes], {"images": [c.images for c in classes]},
                           title=f"Images per class in {root.name or root}")
    except OSError as exc:
        raise InputError(f"{option('chart', str(chart))}: expected a writable file, "
                         f"got {exc.strerror or exc}") from None


def _span(bounds: tuple[int, int] | None) -> str:
    """``64`` or ``32-640``; ``-`` when nothing was readable."""
    if bounds is None:
        return "-"
    return str(bounds[0]) if bounds[0] == bounds[1] else f"{bounds[0]}-{bounds[1]}"
