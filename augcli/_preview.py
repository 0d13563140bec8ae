"""Contact sheets: what a recipe makes from a few sample images, or a sweep of one transform.

A sheet has a header line, then one row per sample image: the original first, then its
variants. Variants use the seeds an ``expand`` run uses for copies 1..n, so the sheet shows
exactly what ``expand`` will write. Each cell is the image fitted into a square (letterboxed
on grey, alpha over a checkerboard) with a caption strip below it.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import cv2
import numpy as np

from augcli.chart import printable_ascii
from augcli.compose import Node, Op, Step, label_weights, sample_pipeline
from augcli.conventions import fixed_values
from augcli.dataset import Dataset, Source, scan
from augcli.declare import TransformSpec
from augcli.errors import InputError, Outcome, did_you_mean, option
from augcli.io import DEFAULT_MAX_PIXELS, ReadError, read_image, write_atomic
from augcli.ops._image import Image, to_dtype
from augcli.params import Range
from augcli.paths import check_not_input, shown
from augcli.recipe import Recipe
from augcli.registry import REGISTRY
from augcli.render import render
from augcli.rng import generator, sample_seed

FONT = cv2.FONT_HERSHEY_SIMPLEX
FONT_SCALE = 0.4
LINE = 13  # caption line height in pixels
GAP = 4  # space around and between cells
CAPTION = 2 * LINE + 4  # caption strip below each image: two lines
HEADER = 22  # header line at the top
SWEEP_ROWS = 4  # at most this many images in a sweep
_INK, _PAPER, _LETTERBOX, _CHECKER = (30, 30, 30), (236, 236, 236), (128, 128, 128), (200, 250)
_STATIC = frozenset({"width", "height", "tile", "fill"})  # recorded settings, rarely telling
_FACTORS = frozenset({"factor", "scale", "sx", "sy", "gamma"})  # multiplicative: no explicit sign


@dataclass(frozen=True, slots=True, kw_only=True)
class PreviewResult(Outcome):
    """A written contact sheet."""

    path: Path
    rows: int
    columns: int
    unreadable: tuple[tuple[str, str], ...] = ()  # (path, reason) of sample images passed over
    problems: tuple[tuple[str, str], ...] = ()  # (path, reason) the scan left out


@dataclass(frozen=True, slots=True)
class _Cell:
    """One image of the sheet and its caption lines."""

    image: Image
    caption: tuple[str, ...]


# ---------------------------------------------------------------- sample images


def _spread(count: int, k: int) -> list[int]:
    """``k`` evenly spaced indices into ``count`` items (k <= count)."""
    return [(2 * j + 1) * count // (2 * k) for j in range(k)]


def _candidates(data: Dataset, n: int) -> list[list[Source]]:
    """Per class (sorted), its share of ``n`` picks evenly spaced, then its other files as fallbacks."""
    groups = [files for files in data.by_label().values() if files]
    quota = [0] * len(groups)
    while sum(quota) < n and any(q < len(g) for q, g in zip(quota, groups, strict=True)):
        for i, files in enumerate(groups):
            if sum(quota) < n and quota[i] < len(files):
                quota[i] += 1
    order = []
    for files, k in zip(groups, quota, strict=True):
        picked = _spread(len(files), k) if k else []
        order.append([files[i] for i in picked] + [f for i, f in enumerate(files) if i not in picked])
    return order


def sample_images(data: Dataset, n: int, max_pixels: int | None = DEFAULT_MAX_PIXELS,
                  unreadable: list[tuple[str, str]] | None = None) -> list[tuple[Source, Image]]:
    """Up to ``n`` readable images, round-robin over classes; an unreadable file gives way to the next
    and, when ``unreadable`` is given, is added to it as (path, reason)."""
    queues: list[Iterator[Source]] = [iter(c) for c in _candidates(data, n)]
    chosen: list[tuple[Source, Image]] = []
    while queues and len(chosen) < n:
        for queue in list(queues):
            if len(chosen) >= n:
                break
            for source in queue:
                try:
                    chosen.append((source, read_image(data.root / source.rel, max_pixels=max_pixels)))
                    break
                except ReadError as exc:
                    if unreadable is not None:
                        unreadable.append((source.rel, str(exc)))
            else:
                queues.remove(queue)
    return chosen


# ---------------------------------------------------------------- captions


def _number(value: float, digits: int, signed: bool) -> str:
    """A short rendering of a sampled number: ``digits`` 2 keeps two decimals below 10, 1 is terser."""
    if isinstance(value, int):
        text = str(value)
    else:
        places = (1 if abs(value) < 10 else 0) if digits < 2 else (2 if abs(value) < 10 else 1)
        places = 2 if abs(value) < 1 else places
        text = f"{value:.{places}f}".rstrip("0").rstrip(".") if places else f"{value:.0f}"
        text = "0" if text in ("-0", "") else text
    return f"+{text}" if signed and value > 0 and text != "0" else text


def _telling(params: dict[str, Any]) -> tuple[str, float] | None:
    """The op's most telling number: the first sampled scalar that is not zero (else the first one)."""
    numbers = [(k, v) for k, v in params.items() if isinstance(v, int | float) and not isinstance(v, bool)
               and k not in _STATIC and not k.endswith("seed")]
    return next(((k, v) for k, v in numbers if v != 0), numbers[0] if numbers else None)


def _signed(name: str, key: str) -> bool:
    """A number gets an explicit sign when its transform declares a range reaching below zero."""
    spec = REGISTRY.get(name)
    if spec is None or key in _FACTORS:
        return False
    return any(isinstance(p, Range) and p.lo < 0 for p in spec.params.values())


def short_op(op: Op, digits: int = 2, names: bool = True) -> str:
    """``rotate(+7.31)``: the op's name (shortened unless ``names``) and its most telling sampled number."""
    name = str(op["name"])
    shown = name if names else "_".join([*(w[:5] for w in name.split("_")[:-1]), name.split("_")[-1]])
    nested = (op.get("params") or {}).get("ops")
    if isinstance(nested, list):  # a policy: show the ops it chose
        return f"{shown}[{' '.join(short_op(o, digits, names) for o in nested)}]"
    pick = _telling(op.get("params") or {})
    if pick is None or digits == 0:
        return shown
    return f"{shown}({_number(pick[1], digits, _signed(name, pick[0]))})"


def _width(text: str) -> int:
    """Pixel width of caption text."""
    return int(cv2.getTextSize(text, FONT, FONT_SCALE, 1)[0][0])


def _clip(text: str, width: int) -> str:
    """Cut text with '..' until it fits ``width`` pixels."""
    if _width(text) <= width:
        return text
    while text and _width(text + "..") > width:
        text = text[:-1]
    return text + ".."


def _wrap(words: Sequence[str], width: int) -> list[str]:
    """Greedy word wrap by pixel width."""
    lines: list[str] = []
    for word in words:
        if lines and _width(f"{lines[-1]} {word}") <= width:
            lines[-1] = f"{lines[-1]} {word}"
        else:
            lines.append(word)
    return lines


def fit_caption(variants: Sequence[Sequence[str]], width: int) -> tuple[str, ...]:
    """The first rendering of a caption that fits: the two most precise on one line, then any on two.

    ``variants`` are the caption's words, from the most to the least precise; when none fits,
    the last one is clipped to two lines.
    """
    for max_lines, tried in ((1, variants[:2]), (2, variants)):
        for words in tried:
            lines = _wrap(words, width)
            if len(lines) <= max_lines and all(_width(line) <= width for line in lines):
                return tuple(lines)
    lines = _wrap(variants[-1], width)
    if len(lines) > 2:
        lines = [lines[0], " ".join(lines[1:]) + " "]
    return tuple(_clip(line, width) for line in lines[:2])


def _ops_caption(ops: Sequence[Op], width: int) -> tuple[str, ...]:
    """Caption of a variant: its ops in short form, shortened to fit."""
    if not ops:
        return ("(unchanged)",)
    forms = ((2, True), (1, True), (1, False), (0, False))
    return fit_caption([[short_op(op, d, names) for op in ops] for d, names in forms], width)


def _ascii(text: str) -> str:
    """Hershey fonts draw printable ASCII only; anything else becomes '?'."""
    return printable_ascii(text)


# ---------------------------------------------------------------- cells


def _cell(image: Image, caption: Sequence[str], cell: int) -> _Cell:
    """A cell: the image fitted for display, and its caption clipped to the cell width."""
    return _Cell(fit_image(image, cell), tuple(_clip(_ascii(line), cell - 2) for line in caption[:2]))


def _original(source: Source, image: Image, cell: int) -> _Cell:
    """The first cell of a row: the original, captioned with its class and file name."""
    return _cell(image, (source.label, source.rel.rsplit("/", 1)[-1]), cell)


class _Partners:
    """Partners of a previewed multi-image step: drawn from the scanned tree as a run draws them."""

    def __init__(self, data: Dataset, source: Source, image: Image, max_pixels: int | None) -> None:
        self.data, self.main, self.max_pixels = data, source, max_pixels
        self.label_of = {s.rel: s.label for s in data.sources}
        self.sources, self.images = [source.rel], [image]

    def candidates(self, same_class: bool) -> list[str]:
        return [s.rel for s in self.data.sources
                if s.rel != self.main.rel and (not same_class or s.label == self.main.label)]

    def label(self, rel: str) -> str:
        return self.label_of[rel]

    def shape(self, rel: str) -> tuple[int, ...]:
        return self.images[self.add(rel)].shape

    def add(self, rel: str) -> int:
        if rel not in self.sources:
            self.images.append(read_image(self.data.root / rel, max_pixels=self.max_pixels))
            self.sources.append(rel)
        return self.sources.index(rel)


def _mixed_cell(nodes: Sequence[Node], rng_seed: int, source: Source, image: Image, data: Dataset,
                max_pixels: int | None, cell: int, caption: Sequence[str] | None = None) -> _Cell:
    """One variant: ops drawn as a run draws them (partners from the tree), captioned with the ops
    (or ``caption``) and, for a mixed image, its label weights."""
    partners = _Partners(data, source, image, max_pixels)
    try:
        ops = sample_pipeline(nodes, generator(rng_seed), image.shape, partners)
    except ReadError as exc:
        return _cell(image, ("partner unreadable", str(exc)), cell)
    lines = list(caption) if caption is not None else list(_ops_caption(ops, cell - 2))
    weights = label_weights(source.label, ops)
    if weights != {source.label: 1.0}:
        lines = [lines[0], " ".join(f"{k} {v:.2f}" for k, v in sorted(weights.items(), key=lambda kv: -kv[1]))]
    shown = _cell(render(image, ops, partners.images), lines, cell)
    drawn = [partner for op in ops for partner in op["params"].get("partners", ())]
    return _Cell(_with_thumbnails(shown.image, [partners.images[p["source"]] for p in drawn]), shown.caption)


def _with_thumbnails(tile: Image, partners: Sequence[Image]) -> Image:
    """The cell with each partner as a framed thumbnail (a quarter of the cell) along its bottom edge."""
    side = max(8, tile.shape[0] // 4)
    out = tile.copy()
    for i, partner in enumerate(partners[: tile.shape[1] // side]):
        thumb = fit_image(partner, side - 2)
        x0, y0 = tile.shape[1] - (i + 1) * side, tile.shape[0] - side
        out[y0:y0 + side, x0:x0 + side] = 255  # a white frame sets it apart from the result
        out[y0 + 1:y0 + side - 1, x0 + 1:x0 + side - 1] = thumb
    return out


def _variant_cells(recipe: Recipe, seed: int, source: Source, image: Image, variants: int,
                   cell: int, data: Dataset, max_pixels: int | None) -> list[_Cell]:
    """The original and the variants an expand run makes for copies 1..variants."""
    cells = [_original(source, image, cell)]
    nodes = recipe.pipeline_for(source.label)
    for copy in range(1, variants + 1):
        cells.append(_mixed_cell(nodes, sample_seed(seed, source.rel, copy), source, image, data, max_pixels, cell))
    return cells


def sweep_values(spec: TransformSpec, variants: int) -> list[dict[str, float]]:
    """Values of every non-degenerate Range parameter, from its declared lo to its hi, per column."""
    ranges = {k: p for k, p in spec.params.items() if isinstance(p, Range) and p.lo != p.hi}
    steps = [0.5] if variants == 1 else [j / (variants - 1) for j in range(variants)]
    columns = []
    for t in steps:
        values = {k: p.lo + t * (p.hi - p.lo) for k, p in ranges.items()}
        columns.append({k: round(v) if ranges[k].integer else round(v, 6) for k, v in values.items()})
    return columns if ranges else []


def _sweep_words(values: dict[str, float]) -> list[list[str]]:
    """Caption forms of one sweep column, from ``degrees=-7.5`` to bare values."""
    forms = [[f"{k}={_number(v, d, False)}" for k, v in values.items()] for d in (2, 1)]
    forms.append([f"{k[:5]}={_number(v, 1, False)}" for k, v in values.items()])
    return [*forms, [_number(v, 1, False) for v in values.values()]]


def _sweep_cells(spec: TransformSpec, seed: int, source: Source, image: Image, variants: int,
                 cell: int, data: Dataset, max_pixels: int | None) -> list[_Cell]:
    """The original, then the transform with its ranges swept from low to high (or off/on)."""
    cells = [_original(source, image, cell)]
    where = option("transform", spec.name)
    columns = sweep_values(spec, variants)
    for values in columns:
        step = Step(spec.name, spec.build({k: [v, v] for k, v in values.items()}, where))
        caption = fit_caption(_sweep_words(values), cell - 2)
        cells.append(_mixed_cell([step], sample_seed(seed, source.rel, 1), source, image, data, max_pixels, cell,
                                 caption))
    if not columns:
        step = Step(spec.name, spec.build({}, where))
        fixed = spec.cls.deterministic and spec.mix is None  # nothing drawn: one "on" cell
        for copy in range(1, (1 if fixed else variants) + 1):
            cells.append(_mixed_cell([step], sample_seed(seed, source.rel, copy), source, image, data, max_pixels,
                                     cell, ("on",) if fixed else None))
    return cells


def _sweep_header(spec: TransformSpec, seed: int) -> str:
    """What a sweep shows: the swept ranges, off / on, or random draws."""
    ranges = [f"{k} {_number(p.lo, 2, False)}..{_number(p.hi, 2, False)}" for k, p in spec.params.items()
              if isinstance(p, Range) and p.lo != p.hi]
    if ranges:
        return f"sweep: {spec.name}, low to high: {', '.join(ranges)}   seed: {seed}"
    shown = "off / on" if spec.cls.deterministic else "off, then draws with its default parameters"
    return f"sweep: {spec.name} (nothing to sweep): {shown}   seed: {seed}"


def _to_bgr8(image: Image) -> tuple[Image, Image | None]:
    """8-bit BGR colour and, for BGRA, alpha as float in [0, 1]."""
    if image.dtype == np.uint16:
        image = to_dtype(image, np.uint8)
    alpha = image[:, :, 3:4].astype(np.float32) / 255.0 if image.shape[2] == 4 else None
    colour = cv2.cvtColor(image, cv2.COLOR_GRAY2BGR) if image.shape[2] == 1 else image[:, :, :3]
    return np.ascontiguousarray(colour), alpha


def fit_image(image: Image, cell: int) -> Image:
    """The image scaled into ``cell`` x ``cell`` keeping its aspect, on grey, as 8-bit BGR."""
    colour, alpha = _to_bgr8(image)
    h, w = colour.shape[:2]
    factor = min(cell / w, cell / h)
    size = (max(1, round(w * factor)), max(1, round(h * factor)))
    mode = cv2.INTER_AREA if factor < 1 else cv2.INTER_LINEAR
    colour = cv2.resize(colour, size, interpolation=mode)
    if alpha is not None:
        alpha = cv2.resize(alpha, size, interpolation=mode).reshape(size[1], size[0], 1)
        yy, xx = np.mgrid[0 : size[1], 0 : size[0]]
        checker = np.where(((yy // 8 + xx // 8) % 2)[:, :, None] == 0, *_CHECKER).astype(np.float32)
        colour = np.rint(colour * alpha + checker * (1.0 - alpha)).astype(np.uint8)
    out = np.full((cell, cell, 3), _LETTERBOX, dtype=np.uint8)
    top, left = (cell - size[1]) // 2, (cell - size[0]) // 2
    out[top : top + size[1], left : left + size[0]] = colour
    return out


# ---------------------------------------------------------------- the sheet


def sheet_size(rows: int, columns: int, cell: int) -> tuple[int, int]:
    """(width, height) in pixels of a sheet with this many rows and columns."""
    return columns * cell + (columns + 1) * GAP, HEADER + rows * (cell + CAPTION + GAP) + GAP


def _text(canvas: Image, text: str, x: int, y: int) -> None:
    """Draw one anti-aliased line with its baseline at ``y``."""
    cv2.putText(canvas, text, (x, y), FONT, FONT_SCALE, _INK, 1, cv2.LINE_AA)


def draw_sheet(header: str, rows: Sequence[Sequence[_Cell]], cell: int) -> Image:
    """Lay the cells out row by row under a header line."""
    columns = max(len(r) for r in rows)
    width, height = sheet_size(len(rows), columns, cell)
    canvas = np.full((height, width, 3), _PAPER, dtype=np.uint8)
    _text(canvas, _clip(_ascii(header), width - 2 * GAP), GAP, HEADER - 7)
    for i, row in enumerate(rows):
        y = HEADER + i * (cell + CAPTION + GAP)
        for j, item in enumerate(row):
            x = GAP + j * (cell + GAP)
            canvas[y : y + cell, x : x + cell] = item.image
            for k, line in enumerate(item.caption):
                _text(canvas, line, x + 1, y + cell + (k + 1) * LINE - 1)
    return canvas


def _check_output(data: Dataset, output: Path) -> None:
    """The sheet is a .png file outside the input folder."""
    if output.suffix.lower() != ".png":
        raise InputError(f"preview output {output}: expected a file name ending in .png")
    if output.is_dir():
        raise InputError(f"preview output {output} is a folder; give a file name ending in .png")
    check_not_input(output, data.root, "preview output")


def _sweep_spec(name: str) -> TransformSpec:
    """The registry entry of a transform to sweep; unknown names get a did-you-mean."""
    spec = REGISTRY.get(name)
    if spec is None:
        raise InputError(option("transform"), "a transform name (see 'augcli transforms')", repr(name),
                         hint=did_you_mean(name, sorted(REGISTRY)))
    if spec.cls.inputs > 1:
        raise InputError(f"{option('transform')}: '{name}' combines {spec.cls.inputs} images (made by "
                         "'augcli balance') and cannot be previewed on one image")
    return spec


def make_preview(
    input: str | Path,
    output: str | Path,
    *,
    recipe: Recipe,
    images: int = 8,
    variants: int = 6,
    seed: int | None = None,
    cell: int = 160,
    transform: str | None = None,
    max_pixels: int | None = DEFAULT_MAX_PIXELS,
) -> PreviewResult:
    """Draw and write a PNG contact sheet of ``recipe`` (or a sweep of ``transform``) on ``input``.

    Unreadable sample images (corrupt, above ``max_pixels``, wrong content) give way to the next.
    """
    for name, value, least in (("images", images, 1), ("variants", variants, 1), ("cell", cell, 32)):
        if value < least:
            raise InputError(f"{option(name)}: expected {least} or more, got {value}")
    data, output = scan(input), Path(output)
    _check_output(data, output)
    run_seed = recipe.seed if seed is None else seed
    spec = _sweep_spec(transform) if transform is not None else None
    unreadable: list[tuple[str, str]] = []
    samples = sample_images(data, min(images, SWEEP_ROWS) if spec else images, max_pixels, unreadable)
    if not samples:
        first = f", first {shown(unreadable[0][0])}: {unreadable[0][1]}" if unreadable else ""
        raise InputError(f"no readable images in {data.root}: expected one or more, "
                         f"got {len(unreadable)} unreadable file(s){first}")
    if spec is None:
        rows = [_variant_cells(recipe, run_seed, s, img, variants, cell, data, max_pixels) for s, img in samples]
        header = f"recipe: {recipe.source}   seed: {run_seed}   variants = expand copies 1-{variants}"
        fixed = fixed_values(recipe)  # single numbers on range parameters: exact here, +-x elsewhere
        if fixed:
            header += "   fixed values: " + ", ".join(text.split(" (")[0] for text in fixed)
    else:
        rows = [_sweep_cells(spec, run_seed, s, img, variants, cell, data, max_pixels) for s, img in samples]
        header = _sweep_header(spec, run_seed)
    sheet = draw_sheet(header, rows, cell)
    ok, buffer = cv2.imencode(".png", sheet, [cv2.IMWRITE_PNG_COMPRESSION, 3])
    if not ok:  # pragma: no cover - OpenCV always encodes 8-bit BGR as PNG
        raise OSError("OpenCV could not encode the preview")
    write_atomic(output, buffer.tobytes())
    return PreviewResult(path=output, rows=len(rows), columns=max(len(r) for r in rows),
                         unreadable=tuple(sorted(unreadable)), problems=data.problems)
