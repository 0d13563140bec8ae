"""Inspecting an input tree: per-class counts, formats, sizes, unreadable files, imbalance.

Every image is read with :func:`augcli.io.read_image` (the same check a run makes), on a
thread pool: OpenCV decoding releases the GIL, so threads use every core without pickling.
A bad file (corrupt, too large, wrong content, unreadable) is reported with its reason, and
what the scan left out (``Dataset.problems``) is reported too; neither stops the inspection.
Paths that are not valid UTF-8 are printed with ``\\xe9`` escapes in the text report.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path, PurePosixPath
from typing import Any

from augcli.dataset import Problem, scan
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
    paths = [data.root / s.rel for s in data.sources]
    with ThreadPoolExecutor(max_workers=max(1, workers)) as pool:
        probes = []
        for probe in pool.map(lambda path: _probe(path, max_pixels), paths):
            probes.append(probe)
            if progress:
                progress(1, len(paths))
    total = len(paths)
    grouped: dict[str, list[tuple[str, Probe]]] = {label: [] for label in data.classes}
    for source, probe in zip(data.sources, probes, strict=True):
        grouped[source.label].append((source.rel, probe))
    classes = tuple(_class_stats(label, items, total) for label, items in grouped.items())
    chart_path = None if chart is None else _write_chart(Path(chart), data.root, classes)
    return InspectResult(root=data.root, classes=classes, chart=chart_path, problems=data.problems)


def _write_chart(chart: Path, root: Path, classes: tuple[ClassStats, ...]) -> Path:
    """Draw the class counts; a path that cannot be written is an input error, not a traceback."""
    from augcli.chart import write_chart

    try:
        return write_chart(chart, [c.name for c in classes], {"images": [c.images for c in classes]},
                           title=f"Images per class in {root.name or root}")
    except OSError as exc:
        raise InputError(f"{option('chart', str(chart))}: expected a writable file, "
                         f"got {exc.strerror or exc}") from None


def _class_stats(label: str, items: list[tuple[str, Probe]], total: int) -> ClassStats:
    """Summarise one class's probes."""
    sizes = [p for _, p in items if not isinstance(p, str)]
    formats = Counter(PurePosixPath(rel).suffix.lstrip(".").lower() for rel, _ in items)
    return ClassStats(
        name=label, images=len(items), share=len(items) / total, formats=dict(sorted(formats.items())),
        width=(min(w for w, _ in sizes), max(w for w, _ in sizes)) if sizes else None,
        height=(min(h for _, h in sizes), max(h for _, h in sizes)) if sizes else None,
        unreadable=tuple((rel, p) for rel, p in items if isinstance(p, str)),
    )


def _span(bounds: tuple[int, int] | None) -> str:
    """``64`` or ``32-640``; ``-`` when nothing was readable."""
    if bounds is None:
        return "-"
    return str(bounds[0]) if bounds[0] == bounds[1] else f"{bounds[0]}-{bounds[1]}"
