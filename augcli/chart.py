"""Bar charts of class counts, drawn with OpenCV (no plotting library needed).

One series gives plain bars (``augcli inspect --chart``); several give grouped bars per class
with a legend (``balance.png``: before and after). Bars carry their numbers when they fit.
OpenCV's Hershey fonts draw printable ASCII only, so every text goes through
:func:`printable_ascii` first (any other character, including the lone surrogates of a name
that is not UTF-8, is drawn as '?').
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path

import cv2
import numpy as np

from augcli.io import encode_image, write_atomic
from augcli.ops._image import Image

HEIGHT = 400
MIN_WIDTH = 480
MAX_PLOT_WIDTH = 1800  # bars get thinner, down to MIN_BAR, rather than the chart wider
MAX_BAR, MIN_BAR = 40, 2
LEFT, RIGHT, TOP, BOTTOM = 60, 20, 70, 40
COLORS = ((180, 119, 31), (14, 127, 255), (44, 160, 44), (40, 39, 214))  # BGR: blue, orange, green, red
FONT = cv2.FONT_HERSHEY_SIMPLEX
INK, GRID = (40, 40, 40), (220, 220, 220)


def printable_ascii(text: str) -> str:
    """``text`` with every character outside printable ASCII (space to '~') replaced by '?'."""
    return "".join(c if " " <= c <= "~" else "?" for c in text)


def bar_width(classes: int, series: int) -> int:
    """Pixel width of one bar: groups of ``series`` bars plus one bar of gap, fitted to the plot."""
    slots = max(classes, 1) * (series + 1)
    return int(min(MAX_BAR, max(MIN_BAR, MAX_PLOT_WIDTH // slots)))


def chart_size(classes: int, series: int) -> tuple[int, int]:
    """(width, height) of the chart for ``classes`` groups of ``series`` bars."""
    plot = max(classes, 1) * (series + 1) * bar_width(classes, series)
    return max(MIN_WIDTH, LEFT + plot + RIGHT), HEIGHT


def draw_bars(labels: Sequence[str], series: Mapping[str, Sequence[int]], title: str = "") -> Image:
    """Draw grouped bars: one group per label, one bar per series, numbers on top, legend top right."""
    k = len(series)
    width, height = chart_size(len(labels), k)
    canvas = np.full((height, width, 3), 255, np.uint8)
    bar = bar_width(len(labels), k)
    top_value = max([1, *(v for values in series.values() for v in values)])
    plot_h = height - TOP - BOTTOM
    _axes(canvas, top_value, plot_h)
    for s, values in enumerate(series.values()):
        color = COLORS[s % len(COLORS)]
        for i, value in enumerate(values):
            x0 = LEFT + bar // 2 + i * (k + 1) * bar + s * bar
            y0 = height - BOTTOM - round(value / top_value * plot_h)
            cv2.rectangle(canvas, (x0, y0), (x0 + bar - 1, height - BOTTOM), color, cv2.FILLED)
            _text(canvas, str(value), x0 + bar / 2, y0 - 4, 0.35, max_width=bar + bar // 2)
    for i, label in enumerate(labels):
        centre = LEFT + bar // 2 + i * (k + 1) * bar + k * bar / 2
        _text(canvas, label, centre, height - BOTTOM + 16, 0.4, max_width=(k + 1) * bar, shorten=True)
    _legend(canvas, list(series))
    if title:
        cv2.putText(canvas, printable_ascii(title), (LEFT, 24), FONT, 0.55, INK, 1, cv2.LINE_AA)
    return canvas


def _axes(canvas: Image, top_value: int, plot_h: int) -> None:
    """Baseline, left axis and a few labelled grid lines."""
    height, width = canvas.shape[:2]
    base = height - BOTTOM
    for step in range(5):
        value = round(top_value * step / 4)
        y = base - round(value / top_value * plot_h)
        cv2.line(canvas, (LEFT, y), (width - RIGHT, y), GRID, 1)
        size = cv2.getTextSize(str(value), FONT, 0.35, 1)[0]
        origin = (LEFT - 6 - size[0], y + size[1] // 2)
        cv2.putText(canvas, str(value), origin, FONT, 0.35, INK, 1, cv2.LINE_AA)
    cv2.line(canvas, (LEFT, base), (width - RIGHT, base), INK, 1)
    cv2.line(canvas, (LEFT, TOP), (LEFT, base), INK, 1)


def _text(canvas: Image, text: str, centre_x: float, baseline_y: int, scale: float, max_width: int,
          shorten: bool = False) -> None:
    """Centred text; too wide, it is shortened with '..' (labels) or left out (numbers)."""
    shown = printable_ascii(text)
    while cv2.getTextSize(shown, FONT, scale, 1)[0][0] > max_width:
        if not shorten or len(shown) <= 3:
            return
        shown = shown[:-3] + ".."
    size = cv2.getTextSize(shown, FONT, scale, 1)[0]
    cv2.putText(canvas, shown, (int(centre_x - size[0] / 2), baseline_y), FONT, scale, INK, 1, cv2.LINE_AA)


def _legend(canvas: Image, names: list[str]) -> None:
    """Colour swatches and series names at the top right (only for several series)."""
    if len(names) < 2:
        return
    x = canvas.shape[1] - RIGHT
    names = [printable_ascii(name) for name in names]
    for s in reversed(range(len(names))):
        size = cv2.getTextSize(names[s], FONT, 0.4, 1)[0]
        x -= size[0] + 22
        cv2.rectangle(canvas, (x, 30), (x + 12, 42), COLORS[s % len(COLORS)], cv2.FILLED)
        cv2.putText(canvas, names[s], (x + 16, 41), FONT, 0.4, INK, 1, cv2.LINE_AA)
        x -= 10


def write_chart(path: str | Path, labels: Sequence[str], series: Mapping[str, Sequence[int]],
                title: str = "") -> Path:
    """Draw the chart and write it as PNG (atomically); return the path."""
    path = Path(path)
    write_atomic(path, encode_image(draw_bars(labels, series, title), ".png"))
    return path
