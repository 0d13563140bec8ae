"""Background replacement for objects photographed on a plain background (product shots, scans, lab images).

The mask is computed by ``apply`` from the image and the recorded ``tolerance``, ``method`` and
``feather``, so a replay rebuilds it exactly. What is drawn is recorded: the colour, or the
background file and the box cut out of it. A relative ``images`` folder resolves against the
current directory, as the CLI's other paths do; the recorded ``file`` is that folder joined with
the file name, so a replay from another directory cannot find it (and says so).
"""

from __future__ import annotations

import os
import posixpath
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from augcli import ops
from augcli import rng as R
from augcli.declare import Transform, transform
from augcli.errors import RecipeError, RunError, show
from augcli.formats import MAX_SIDE, jpeg_orientation
from augcli.io import DEFAULT_MAX_PIXELS, ReadError, check_pixels, image_info, is_image_name, read_image
from augcli.ops.background import METHODS
from augcli.params import Choice, Fill, Nullable, Number, Numbers, Pair, Range, Text, param

Shape = tuple[int, ...]

_FORMATS = "PNG, JPEG, BMP, TIFF or WebP"


@dataclass(frozen=True)
class Colour(Fill):
    """A fill without alpha: a grey value or [b, g, r] in 0-255 units (or 'random')."""

    def describe(self) -> str:
        return "number or [b, g, r] in [0, 255]" + (", or 'random'" if self.allow_random else "")

    def validate(self, value: Any, where: str) -> float | str | tuple[float, ...]:
        if isinstance(value, list | tuple) and len(value) == 4:
            raise RecipeError(where, self.describe(), f"{show(value)} (alpha is kept as it is)")
        return super().validate(value, where)

BOX = Numbers(None, length=4, bounds=(0, MAX_SIDE), integer=True, names="x0, y0, x1, y1")


def image_names(folder: str) -> list[str]:
    """The image files directly in ``folder`` (by extension; hidden files skipped), sorted by name."""
    with os.scandir(folder) as entries:
        names = [e.name for e in entries if not e.name.startswith(".") and is_image_name(e.name) and e.is_file()]
    return sorted(names)


def _folder_problem(folder: str) -> str | None:
    """Why ``folder`` cannot serve as a backgrounds folder, or None."""
    if not os.path.isdir(folder):
        return f"not a folder: {Path(folder).absolute()}"
    try:
        names = image_names(folder)
    except OSError as exc:
        return f"cannot list it: {exc.strerror or exc}"
    return None if names else f"it holds no {_FORMATS} file"


def _file_bytes(path: str) -> bytes:
    """A background file's bytes; a failure is a RunError naming it."""
    try:
        with open(path, "rb") as handle:
            return handle.read()
    except OSError as exc:
        raise RunError(f"background image {path}: cannot read file ({exc.strerror or exc})") from None


def background_size(path: str) -> tuple[int, int]:
    """(width, height) of a background as :func:`read_image` gives it (EXIF turns included), from its header."""
    raw = _file_bytes(path)
    try:
        fmt, width, height = image_info(raw)
        check_pixels(width, height, DEFAULT_MAX_PIXELS)
    except ReadError as exc:
        raise RunError(f"background image {path}: {exc}") from None
    turned = fmt == "jpeg" and jpeg_orientation(raw) >= 5
    return (height, width) if turned else (width, height)


def read_background(path: str) -> Any:
    """Read a background through :func:`augcli.io.read_image` (default pixel limit); failures name the file."""
    if not os.path.isfile(path):
        raise RunError(f"background image {path}: no such file (relative paths resolve against the current "
                       f"directory, {Path.cwd()})")
    try:
        return read_image(path, max_pixels=DEFAULT_MAX_PIXELS)
    except ReadError as exc:
        raise RunError(f"background image {path}: {exc}") from None


def draw_box(rng: Any, background: tuple[int, int], size: tuple[int, int]) -> list[int]:
    """A random box [x0, y0, x1, y1] of the image's size in a background, shrunk to fit (same aspect) if needed."""
    (bw, bh), (w, h) = background, size
    s = min(1.0, bw / w, bh / h)
    cw, ch = max(1, min(bw, round(w * s))), max(1, min(bh, round(h * s)))
    x0, y0 = R.integer(rng, (0, bw - cw)), R.integer(rng, (0, bh - ch))
    return [x0, y0, x0 + cw, y0 + ch]


def draw_file(rng: Any, folder: str) -> str:
    """A file drawn from the folder's sorted listing, as the folder is given joined with the name."""
    try:
        names = image_names(folder)
    except OSError as exc:
        raise RunError(f"background folder {folder}: cannot list it ({exc.strerror or exc})") from None
    if not names:
        raise RunError(f"background folder {folder}: it holds no {_FORMATS} file")
    return posixpath.join(folder, names[R.integer(rng, (0, len(names) - 1))])


def fitted_background(file: str, box: list[int], image: Any) -> Any:
    """The recorded box of a background file, fitted to the image's size, depth and colour channels."""
    source = read_background(file)
    x0, y0, x1, y1 = box
    if x1 > source.shape[1] or y1 > source.shape[0] or x0 >= x1 or y0 >= y1:
        raise RunError(f"background image {file}: box {box} does not fit its "
                       f"{source.shape[1]}x{source.shape[0]} pixels (has the file changed?)")
    return ops.fit_background(source, box, (image.shape[1], image.shape[0]), min(image.shape[2], 3), image.dtype)


_NOTES = (
    "The background colour is the median of the image's outermost ring of pixels. With method flood, a pixel "
    "is background when every colour channel is within tolerance of that colour and it connects to the "
    "border through such pixels (4-connectivity); threshold takes every such pixel, holes inside the object too. "
    "feather blurs the mask edge (Gaussian sigma in px; 0 keeps a hard edge, and object pixels exactly as "
    "they were); anti-aliased edge pixels beyond the tolerance stay, a rim of about 1 px that keeps a trace "
    "of the old background. color random draws [b, g, r] (grey on grey images); images draws a file from the "
    "folder's sorted listing (relative paths resolve against the current directory; read with the default "
    "100-megapixel limit) and a box of the image's size in it (the largest box of the same shape, resized, "
    "when the background is smaller); ops record the file and box, so a replay reads that file again (files "
    "added to the folder change the draws of later runs). Alpha is left alone. It fails on busy or textured "
    "backgrounds (little or nothing is within the tolerance, so little is replaced), on objects of the "
    "background's colour (they are replaced too, where they touch the border or with threshold), on shadows "
    "and gradients (kept as object), and when the object covers most of the border (the estimate is the "
    "object's colour). An object touching the border is kept when its colour differs. Check it with augcli "
    "preview on a few images before a run."
)


@transform("background", doc="Replace a plain background, found from the image border, by a colour or an image.",
           notes=_NOTES)
class Background(Transform):
    color: float | str | tuple[float, ...] = param(Colour("random", allow_random=True, doc=(
        "new background: grey value or [b, g, r] in 0-255 units, or 'random'")))
    images: str | None = param(Nullable(Text(check=_folder_problem, what=f"a folder of {_FORMATS} files"),
                                        doc="folder of background images (instead of color)"))
    tolerance: Pair = param(Range(10, 30, bounds=(0, 255), doc=(
        "largest difference from the background colour, per channel, in 0-255 units")))
    method: str = param(Choice("flood", METHODS, doc="flood: from the border only; threshold: everywhere"))
    feather: Pair = param(Range(0, 0, bounds=(0, 20), unit="px", doc="blur of the mask edge (Gaussian sigma)"))
    carries = {"color": Nullable(Colour(0), doc="the new colour, or null with images"),
               "file": Nullable(Text(what="a file path"), doc="the background file, or null with color"),
               "box": Nullable(BOX, doc="box cut out of the background file [x0, y0, x1, y1], end-exclusive"),
               "tolerance": Number(20, bounds=(0, 255)), "method": Choice("flood", METHODS),
               "feather": Number(0, bounds=(0, 20), unit="px")}
    examples = [{}, {"color": [255, 255, 255], "tolerance": 40, "method": "threshold", "feather": 1.5},
                {"color": 128, "tolerance": 0}]

    def check(self) -> tuple[str, str, str, str] | None:
        """A colour or an images folder, not both."""
        if self.images is not None and self.color != "random":
            return ("a color or an images folder, not both", f"color {show(self.settings('color')['color'])} "
                    f"and images {show(self.images)}", "color", "")
        return None

    def sample(self, rng: Any, shape: Shape) -> dict[str, Any]:
        out = {"tolerance": R.uniform(rng, self.tolerance), "method": self.method,
               "feather": R.uniform(rng, self.feather)}
        if self.images is None:
            return {"color": self._colour(rng, shape), "file": None, "box": None, **out}
        file = draw_file(rng, self.images)
        box = draw_box(rng, background_size(file), (shape[1], shape[0]))
        return {"color": None, "file": file, "box": box, **out}

    def _colour(self, rng: Any, shape: Shape) -> float | list[float] | list[int]:
        """The recorded colour: the fixed one, or a drawn [b, g, r] (grey for a grey image)."""
        if self.color != "random":
            return self.settings("color")["color"]
        if shape[2] == 1:
            return [R.integer(rng, (0, 255))] * 3
        return [R.integer(rng, (0, 255)) for _ in range(3)]

    @staticmethod
    def apply(image: Any, params: dict[str, Any]) -> Any:
        colour = ops.estimate_background(image)
        mask = ops.background_mask(image, colour, params["tolerance"], params["method"])
        weights = ops.feather_mask(mask, params["feather"])
        if params["file"] is None:
            return ops.replace_background(image, weights, params["color"])
        return ops.replace_background(image, weights, fitted_background(params["file"], params["box"], image))
