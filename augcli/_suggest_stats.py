"""What ``augcli suggest`` measures: a few numbers per image, on small fixed-size copies.

Each image is decoded once (an 8-bit JPEG at 1/2, 1/4 or 1/8 of its size when it stays at least
:data:`DECODE_SIDE` pixels on its shorter side, so a 12-megapixel photo costs little) and reduced to:
its original size, depth and channels; how colourful it is; whether its outermost ring of pixels is
one plain colour (and which); a :data:`LAYOUT_SIDE`-pixel grey copy (class mean images are averaged
from these); and the row profile of its vertical strokes (text lines). Nothing here decides a
recipe: the rules in :mod:`augcli.suggest` read these measures.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import cv2
import numpy as np
import numpy.typing as npt

from augcli.io import REDUCED_FACTORS, ReadError, decode_image, decode_reduced, jpeg_shape
from augcli.ops._image import Image, to_dtype

LAYOUT_SIDE = 32  # side of the grey copy averaged into a class's mean image: enough for a silhouette
COLOUR_SIDE = 64  # side of the colour copy the border ring and the chroma are measured on
TEXT_WIDTH = 256  # the grey copy whose row profile shows text lines is this wide ...
TEXT_ROWS = (256, 1024)  # ... and as tall as the image, within these bounds: a line gap stays a few rows tall
DECODE_SIDE = 256  # a JPEG is decoded small (a 12-megapixel one at 1/8), but to at least this many px
RING = 2  # px of the COLOUR_SIDE copy that make the border ring (about 3% of each side)
RING_TOLERANCE = 12  # 0-255 units per channel: a ring pixel this close to the ring's median is "plain"
OPAQUE = 250  # alpha (0-255 units) at or above which a pixel counts as opaque
CLEAR = 8  # alpha at or below which a pixel counts as transparent

Grey = npt.NDArray[np.float32]


@dataclass(frozen=True, slots=True, kw_only=True)
class Measure:
    """One image, reduced to what the rules read."""

    label: str
    height: int  # original size, before any reduced decode
    width: int
    depth: int  # 8 or 16 bits
    channels: int  # 1, 3 or 4
    translucent: bool  # it has an alpha channel with a pixel below OPAQUE
    chroma: float  # mean over pixels of max - min over B, G, R, in 0-255 units (0 for one channel)
    ring_plain: float  # share of border-ring pixels within RING_TOLERANCE of the ring's median colour
    ring_colour: tuple[float, float, float]  # that median, B, G, R in 0-255 units
    ring_clear: float  # share of border-ring pixels that are transparent (0 without alpha)
    layout: Grey  # LAYOUT_SIDE x LAYOUT_SIDE grey in [0, 1], alpha composited on black
    text_lines: int  # bands of vertical strokes separated by empty rows (see text_profile)
    text_contrast: float  # stroke density inside those bands over the density between them


@dataclass(frozen=True, slots=True)
class Job:
    """One image to read: the input folder, its relative path and class, and the pixel limit."""

    root: Path
    rel: str
    label: str
    max_pixels: int | None


def measure_file(job: Job, _shared: object = None) -> tuple[str, Measure | str]:
    """Read and measure one file: (rel, its Measure, or the reason it cannot be read)."""
    try:
        image, (height, width) = _decode_small(job.root / job.rel, job.max_pixels)
    except ReadError as exc:
        return job.rel, str(exc)
    return job.rel, measure(image, job.label, height, width)


def no_setup(_shared: object) -> None:
    """Measuring workers need nothing beyond what every pool process gets."""


def _decode_small(path: Path, max_pixels: int | None) -> tuple[Image, tuple[int, int]]:
    """The decoded image, as small as a JPEG allows while keeping DECODE_SIDE px, and its full (H, W)."""
    try:
        data = np.fromfile(path, dtype=np.uint8)
    except OSError as exc:
        raise ReadError(f"cannot read file ({exc.strerror or exc})") from None
    except Exception as exc:  # one bad file never stops the analysis
        raise ReadError(f"cannot read file ({type(exc).__name__}: {exc})") from None
    shape = jpeg_shape(data)
    if shape is not None:
        factor = next((f for f in REDUCED_FACTORS if min(shape[:2]) // f >= DECODE_SIDE), 1)
        if factor > 1:
            return decode_reduced(data, str(path), factor, max_pixels=max_pixels), (shape[0], shape[1])
    image = decode_image(data, str(path), max_pixels=max_pixels)
    return image, (int(image.shape[0]), int(image.shape[1]))


def measure(image: Image, label: str, height: int, width: int) -> Measure:
    """The measures of one decoded (H, W, C) image whose original size was ``height`` x ``width``."""
    eight = to_dtype(image, np.uint8)
    alpha = eight[:, :, 3] if eight.shape[2] == 4 else None
    colour = eight[:, :, :3] if eight.shape[2] >= 3 else np.repeat(eight, 3, axis=2)
    small = cv2.resize(colour, (COLOUR_SIDE, COLOUR_SIDE), interpolation=cv2.INTER_AREA)
    spread = small.max(axis=2).astype(np.float32) - small.min(axis=2)
    plain, ring_colour, clear = _ring(small, alpha)
    grey = cv2.cvtColor(_on_black(colour, alpha), cv2.COLOR_BGR2GRAY).astype(np.float32) / np.float32(255)
    rows = min(max(grey.shape[0], TEXT_ROWS[0]), TEXT_ROWS[1])
    lines, contrast = text_profile(cv2.resize(grey, (TEXT_WIDTH, rows), interpolation=cv2.INTER_AREA))
    return Measure(
        label=label, height=height, width=width, depth=16 if image.dtype == np.uint16 else 8,
        channels=int(image.shape[2]), translucent=bool(alpha is not None and alpha.min() < OPAQUE),
        chroma=float(spread.mean()), ring_plain=plain, ring_colour=ring_colour, ring_clear=clear,
        layout=cv2.resize(grey, (LAYOUT_SIDE, LAYOUT_SIDE), interpolation=cv2.INTER_AREA),
        text_lines=lines, text_contrast=contrast,
    )


def _on_black(colour: Image, alpha: Image | None) -> Image:
    """The colour channels composited on black (a cut-out's transparent surround reads as black)."""
    if alpha is None:
        return colour
    weight = alpha.astype(np.float32)[:, :, None] / np.float32(255)
    return np.rint(colour.astype(np.float32) * weight).astype(np.uint8)


def _ring(small: Image, alpha: Image | None) -> tuple[float, tuple[float, float, float], float]:
    """Share of the border ring near its median colour, that colour, and the share that is transparent."""
    mask = np.ones(small.shape[:2], dtype=bool)
    mask[RING:-RING, RING:-RING] = False
    pixels = small[mask].astype(np.float32)  # (n, 3)
    median = np.median(pixels, axis=0)
    plain = float((np.abs(pixels - median).max(axis=1) <= RING_TOLERANCE).mean())
    clear = 0.0
    if alpha is not None:
        ring_alpha = cv2.resize(alpha, (COLOUR_SIDE, COLOUR_SIDE), interpolation=cv2.INTER_AREA)[mask]
        clear = float((ring_alpha <= CLEAR).mean())
    return plain, (float(median[0]), float(median[1]), float(median[2])), clear


def text_profile(grey: Grey) -> tuple[int, float]:
    """Text lines in a grey [0, 1] image: (bands, contrast).

    The row profile is the mean horizontal gradient of each row (vertical strokes: the letters of a
    line), with no smoothing across rows (a dense page's gaps are two or three rows). Rows above the
    profile's mean form bands; bands of at least two rows are counted. The contrast is the mean profile
    inside the bands over the mean of the quieter rows between the first band and the last (margins and
    a sky do not count): printed lines are separated by nearly empty rows, the rows of a photo's
    textures differ little.
    """
    gx = np.abs(cv2.Sobel(grey, cv2.CV_32F, 1, 0, ksize=1))  # [-1, 0, 1] along x only: rows are not mixed
    rows = gx.mean(axis=1)
    level = float(rows.mean())
    if level <= 1e-4:  # a flat image: no strokes at all
        return 0, 0.0
    busy = rows > level
    edges = np.flatnonzero(np.diff(np.concatenate([[0], busy.astype(np.int8), [0]])))
    starts, ends = edges[0::2], edges[1::2]
    bands = int(np.count_nonzero(ends - starts >= 2))
    quiet = rows[starts[0]:ends[-1]][~busy[starts[0]:ends[-1]]]
    contrast = float(rows[busy].mean() / max(float(quiet.mean()) if quiet.size else 0.0, 1e-4))
    return bands, contrast


def mean_image(measures: list[Measure]) -> Grey:
    """The class's mean LAYOUT_SIDE image (summed in file order, so any worker count gives the same bits)."""
    return np.asarray(np.mean(np.stack([m.layout for m in measures]), axis=0, dtype=np.float64), dtype=np.float32)


def correlation(a: npt.NDArray[np.floating[Any]], b: npt.NDArray[np.floating[Any]]) -> float:
    """Pearson correlation of two images' pixels; 0 when either is flat."""
    x = a.astype(np.float64).ravel() - float(a.mean())
    y = b.astype(np.float64).ravel() - float(b.mean())
    norm = float(np.sqrt((x * x).sum() * (y * y).sum()))
    return float((x * y).sum() / norm) if norm > 1e-12 else 0.0


def turned_correlation(mean: Grey, turned: Grey, axes: str) -> float:
    """The best correlation of an image with its flipped or turned copy moved by up to 1 px along ``axes``
    ("x" or "xy"): the axis of symmetry need not be the exact centre (an even-sized image's centre lies
    between pixels, and an object drawn at a whole pixel sits half a pixel off it)."""
    moves = [(0, dx) for dx in (-1, 0, 1)] if axes == "x" else [(dy, dx) for dy in (-1, 0, 1) for dx in (-1, 0, 1)]
    return max(correlation(_crop(mean, dy, dx), _crop(turned, -dy, -dx)) for dy, dx in moves)


def _crop(image: Grey, dy: int, dx: int) -> Grey:
    """The part of an image left when it is moved by (dy, dx) and cut to the overlap."""
    h, w = image.shape
    return image[max(dy, 0):h + min(dy, 0), max(dx, 0):w + min(dx, 0)]


def facing_share(measures: list[Measure]) -> float:
    """Share of images more correlated with the mean of the others than with that mean's mirror: how many
    face the way the class does (leave-one-out, so an image does not vote for itself)."""
    stack = np.stack([m.layout for m in measures]).astype(np.float64)
    total, count = stack.sum(axis=0), len(stack)
    wins = 0
    for image in stack:
        others = (total - image) / (count - 1)
        wins += correlation(image, others) > correlation(image, others[:, ::-1])
    return wins / count


def split_half(measures: list[Measure]) -> float:
    """Correlation of the mean images of the even- and odd-numbered images: how stable the mean is."""
    return correlation(mean_image(measures[0::2]), mean_image(measures[1::2]))


def evenly_spaced(count: int, cap: int) -> list[int]:
    """At most ``cap`` indices of ``range(count)``, evenly spaced and deterministic (all when count <= cap)."""
    if count <= cap:
        return list(range(count))
    return [i * count // cap for i in range(cap)]
