"""Geometric transforms. Each declares a matrix, so ``render`` fuses consecutive ones into one warp."""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import numpy as np

from augcli import ops
from augcli import rng as R
from augcli.declare import WARP_OP, Params, Resampling, Transform, transform
from augcli.formats import MAX_SIDE
from augcli.ops.geometric import Matrix, Size
from augcli.params import INTERPOLATION, Choice, Flag, IntPair, Number, Numbers, Pair, Points, Range, param

Shape = tuple[int, ...]
Box = tuple[int, int, int, int]
SIZE = Number(1, bounds=(1, MAX_SIDE), integer=True, doc="pixels")
BOX = Numbers(None, length=4, bounds=(0, MAX_SIDE), integer=True, names="x0, y0, x1, y1", doc="box in pixels")
ANGLE = Number(0, bounds=(-360, 360), unit="deg", doc="rotation angle, counter-clockwise")
SHIFT = Number(0, bounds=(-1e6, 1e6), doc="shift, fraction of the side")
ZOOM = Number(1, bounds=(0.05, 20), doc="zoom factor")
SHEAR = Number(0, bounds=(-80, 80), unit="deg", doc="shear angle")


@dataclass(frozen=True)
class _Warp(Resampling):
    """A resampling geometric transform: it declares only its matrix; ``render`` resamples it, alone or fused."""


@transform("hflip", doc="Mirror the image left to right.")
class Hflip(Transform):
    exact = True
    deterministic = True
    examples = [{}]

    @staticmethod
    def matrix(params: Params, shape: Shape) -> tuple[Matrix, Size]:
        return ops.hflip_matrix(shape[1]), (shape[1], shape[0])


@transform("vflip", doc="Mirror the image top to bottom.")
class Vflip(Transform):
    exact = True
    deterministic = True
    examples = [{}]

    @staticmethod
    def matrix(params: Params, shape: Shape) -> tuple[Matrix, Size]:
        return ops.vflip_matrix(shape[0]), (shape[1], shape[0])


@transform("rot90", doc="Turn by a whole number of quarter turns, counter-clockwise.")
class Rot90(Transform):
    k: IntPair = param(Range(1, 3, bounds=(0, 3), integer=True, doc="quarter turns, drawn from [lo, hi]"))
    exact = True
    examples = [{}, {"k": 2}]

    @staticmethod
    def matrix(params: Params, shape: Shape) -> tuple[Matrix, Size]:
        return ops.rot90_matrix(params["k"], shape[1], shape[0])


@transform("rotate", doc="Rotate about the centre by an angle (counter-clockwise).")
class Rotate(_Warp):
    degrees: Pair = param(Range(-15, 15, bounds=(-360, 360), unit="deg", doc="angle range"))
    carries = {"angle": ANGLE, **WARP_OP}
    examples = [{}, {"degrees": [-45, 45], "border": "constant", "fill": 128}]

    def sample(self, rng: Any, shape: Shape) -> Params:
        return {"angle": R.uniform(rng, self.degrees), **self.warp_settings()}

    @staticmethod
    def matrix(params: Params, shape: Shape) -> tuple[Matrix, Size]:
        return ops.affine_matrix(shape[1], shape[0], angle=params["angle"]), (shape[1], shape[0])


@transform("translate", doc="Shift by fractions of the width and height.")
class Translate(_Warp):
    x: Pair = param(Range(-0.1, 0.1, bounds=(-1, 1), doc="horizontal shift, fraction of the width"))
    y: Pair = param(Range(-0.1, 0.1, bounds=(-1, 1), doc="vertical shift, fraction of the height"))
    carries = {"dx": SHIFT, "dy": SHIFT, **WARP_OP}
    examples = [{}, {"x": 0.25, "y": [-0.5, 0.5], "border": "wrap"}]

    def sample(self, rng: Any, shape: Shape) -> Params:
        dx, dy = R.uniform(rng, self.x), R.uniform(rng, self.y)
        return {"dx": dx, "dy": dy, **self.warp_settings()}

    @staticmethod
    def matrix(params: Params, shape: Shape) -> tuple[Matrix, Size]:
        m = ops.translation(params["dx"] * shape[1], params["dy"] * shape[0])
        return m, (shape[1], shape[0])


@transform("scale", doc="Zoom in or out about the centre, keeping the image size.")
class Scale(_Warp):
    factor: Pair = param(Range(0.9, 1.1, bounds=(0.05, 20), doc="zoom factor (> 1 enlarges)"))
    y_factor: Pair = param(Range(0.9, 1.1, bounds=(0.05, 20), doc="vertical zoom when per_axis is true"))
    per_axis: bool = param(Flag(False, doc="draw the vertical factor separately, from y_factor"))
    carries = {"sx": ZOOM, "sy": ZOOM, **WARP_OP}
    examples = [{}, {"factor": [0.5, 1.5], "per_axis": True, "border": "constant"}]

    def sample(self, rng: Any, shape: Shape) -> Params:
        sx = R.uniform(rng, self.factor)
        sy = R.uniform(rng, self.y_factor) if self.per_axis else sx
        return {"sx": sx, "sy": sy, **self.warp_settings()}

    @staticmethod
    def matrix(params: Params, shape: Shape) -> tuple[Matrix, Size]:
        m = ops.affine_matrix(shape[1], shape[0], scale=(params["sx"], params["sy"]))
        return m, (shape[1], shape[0])


@transform("shear", doc="Shear along x and y by angles in degrees.",
           notes="Same sign as albumentations' and torchvision's shear: a positive x angle moves the rows "
                 "below the centre to the left.")
class Shear(_Warp):
    x: Pair = param(Range(-10, 10, bounds=(-80, 80), unit="deg", doc="horizontal shear angle"))
    y: Pair = param(Range(0, 0, bounds=(-80, 80), unit="deg", doc="vertical shear angle"))
    carries = {"shear_x": SHEAR, "shear_y": SHEAR, **WARP_OP}
    examples = [{}, {"x": [-20, 20], "y": [-20, 20]}]

    def sample(self, rng: Any, shape: Shape) -> Params:
        sx, sy = R.uniform(rng, self.x), R.uniform(rng, self.y)
        return {"shear_x": sx, "shear_y": sy, **self.warp_settings()}

    @staticmethod
    def matrix(params: Params, shape: Shape) -> tuple[Matrix, Size]:
        m = ops.affine_matrix(shape[1], shape[0], shear=(params["shear_x"], params["shear_y"]))
        return m, (shape[1], shape[0])


@transform("affine", doc="Rotate, zoom, shift and shear in one step, about the centre.",
           notes="Applied as albumentations' Affine: scale, then rotate, then shear (same sign), then shift.")
class Affine(_Warp):
    degrees: Pair = param(Range(-15, 15, bounds=(-360, 360), unit="deg", doc="rotation angle"))
    scale: Pair = param(Range(0.9, 1.1, bounds=(0.05, 20), doc="zoom factor, same on both axes"))
    translate: Pair = param(Range(-0.05, 0.05, bounds=(-1, 1),
                                  doc="shift, fraction of width and height (drawn per axis)"))
    shear: Pair = param(Range(0, 0, bounds=(-80, 80), unit="deg", doc="shear angle (drawn per axis)"))
    carries = {"angle": ANGLE, "scale": ZOOM, "dx": SHIFT, "dy": SHIFT, "shear_x": SHEAR, "shear_y": SHEAR,
               **WARP_OP}
    examples = [{}, {"degrees": [-30, 30], "scale": [0.7, 1.3], "translate": [-0.2, 0.2], "shear": [-10, 10]}]

    def sample(self, rng: Any, shape: Shape) -> Params:
        return {
            "angle": R.uniform(rng, self.degrees),
            "scale": R.uniform(rng, self.scale),
            "dx": R.uniform(rng, self.translate),
            "dy": R.uniform(rng, self.translate),
            "shear_x": R.uniform(rng, self.shear),
            "shear_y": R.uniform(rng, self.shear),
            **self.warp_settings(),
        }

    @staticmethod
    def matrix(params: Params, shape: Shape) -> tuple[Matrix, Size]:
        m = ops.affine_matrix(
            shape[1], shape[0], angle=params["angle"], scale=(params["scale"], params["scale"]),
            translate=(params["dx"], params["dy"]), shear=(params["shear_x"], params["shear_y"]),
        )
        return m, (shape[1], shape[0])


@transform("perspective", doc="Random four-point perspective warp; corners move inwards or out.")
class Perspective(_Warp):
    distortion: Pair = param(Range(0.05, 0.1, bounds=(0, 0.5),
                                   doc="corner displacement, fraction of width and height"))
    carries = {"corners": Points(length=4, doc="where the corners move, in pixels"), **WARP_OP}
    examples = [{}, {"distortion": [0.1, 0.3], "border": "constant"}]

    def sample(self, rng: Any, shape: Shape) -> Params:
        h, w = shape[0], shape[1]
        d = R.uniform(rng, self.distortion)
        moves = rng.uniform(-d, d, size=(4, 2)) * np.array([w, h])
        corners = np.array([[0, 0], [w - 1, 0], [w - 1, h - 1], [0, h - 1]], dtype=np.float64) + moves
        return {"corners": [[round(float(x), 3), round(float(y), 3)] for x, y in corners], **self.warp_settings()}

    @staticmethod
    def matrix(params: Params, shape: Shape) -> tuple[Matrix, Size]:
        h, w = shape[0], shape[1]
        src = [[0, 0], [w - 1, 0], [w - 1, h - 1], [0, h - 1]]
        return ops.perspective_matrix(src, params["corners"]), (w, h)


@transform("resize", doc="Resize to a fixed size, or scale both sides by one factor.",
           notes="Alone or fused with crops and flips this is cv2.resize of the cropped box with the "
                 "interpolation asked for (area included). Fused with a rotation or shear, a shrinking "
                 "area resize is warped to a size that needs no shrinking, then area-resized.")
class Resize(_Warp):
    width: int = param(Number(0, bounds=(0, MAX_SIDE), integer=True,
                              doc="output width in pixels (0: from height, keeping aspect)"))
    height: int = param(Number(0, bounds=(0, MAX_SIDE), integer=True,
                               doc="output height in pixels (0: from width, keeping aspect)"))
    factor: Pair = param(Range(1, 1, bounds=(0.01, 20), doc="scale factor, used when width and height are both 0"))
    interpolation: str = param(Choice("area", INTERPOLATION.options,
                                      doc="resampling filter (area: best for shrinking)"))
    carries = {"width": SIZE, "height": SIZE, **WARP_OP}
    deterministic = True
    examples = [{"width": 64, "height": 48}, {"factor": 0.5}, {"width": 40}]

    def sample(self, rng: Any, shape: Shape) -> Params:
        h, w = shape[0], shape[1]
        width, height = self.width, self.height
        if width == 0 and height == 0:
            f = R.uniform(rng, self.factor)
            width, height = round(w * f), round(h * f)
        elif width == 0:
            width = round(w * height / h)
        elif height == 0:
            height = round(h * width / w)
        return {"width": max(1, width), "height": max(1, height), **self.warp_settings()}

    @staticmethod
    def matrix(params: Params, shape: Shape) -> tuple[Matrix, Size]:
        size = (params["width"], params["height"])
        return ops.box_matrix((0, 0, shape[1], shape[0]), size), size


@dataclass(frozen=True)
class _Crop(Transform):
    """A crop to a whole-pixel box: exact (``render`` slices it, alone or fused)."""

    exact = True
    carries = {"box": BOX}

    @staticmethod
    def matrix(params: Params, shape: Shape) -> tuple[Matrix, Size]:
        x0, y0, x1, y1 = params["box"]
        return ops.translation(-x0, -y0), (x1 - x0, y1 - y0)


@transform("crop", doc="Cut out a fixed box, or a centred box of a given size.",
           notes="A box or size larger than the image is clipped to the image. A centred box starts at "
                 "floor((W - width) / 2), as albumentations' CenterCrop; torchvision's CenterCrop rounds, "
                 "so the two differ by one pixel when W - width is odd.")
class Crop(_Crop):
    box: Box | None = param(Numbers(None, length=4, bounds=(0, MAX_SIDE), integer=True, names="x0, y0, x1, y1",
                                    doc="box in pixels; null: centred box of width x height"))
    width: int = param(Number(0, bounds=(0, MAX_SIDE), integer=True, doc="centred box width (0: whole width)"))
    height: int = param(Number(0, bounds=(0, MAX_SIDE), integer=True, doc="centred box height (0: whole height)"))
    deterministic = True
    examples = [{"box": [2, 3, 30, 20]}, {"width": 24, "height": 16}]

    def check(self) -> tuple[str, str] | None:
        """A box must have x0 < x1 and y0 < y1."""
        box = self.box
        if box is not None and (box[0] >= box[2] or box[1] >= box[3]):
            return "box with x0 < x1 and y0 < y1", str(list(box))
        return None

    def sample(self, rng: Any, shape: Shape) -> Params:
        h, w = shape[0], shape[1]
        if self.box is not None:
            x0, y0, x1, y1 = self.box
            x0, y0 = min(x0, w - 1), min(y0, h - 1)
            return {"box": [x0, y0, max(x0 + 1, min(x1, w)), max(y0 + 1, min(y1, h))]}
        cw = min(self.width or w, w)
        ch = min(self.height or h, h)
        x0, y0 = (w - cw) // 2, (h - ch) // 2
        return {"box": [x0, y0, x0 + cw, y0 + ch]}


@transform("random_crop", doc="Cut out a box of a given size at a random place.",
           notes="A size larger than the image is clipped to the image.")
class RandomCrop(_Crop):
    width: int = param(Number(224, bounds=(1, MAX_SIDE), integer=True, doc="box width in pixels"))
    height: int = param(Number(224, bounds=(1, MAX_SIDE), integer=True, doc="box height in pixels"))
    examples = [{"width": 20, "height": 16}]

    def sample(self, rng: Any, shape: Shape) -> Params:
        h, w = shape[0], shape[1]
        cw, ch = min(self.width, w), min(self.height, h)
        x0, y0 = R.integer(rng, (0, w - cw)), R.integer(rng, (0, h - ch))
        return {"box": [x0, y0, x0 + cw, y0 + ch]}


@transform("random_resized_crop",
           doc="Crop a random area and aspect ratio, then resize (torchvision's RandomResizedCrop).")
class RandomResizedCrop(_Warp):
    area: Pair = param(Range(0.08, 1.0, bounds=(0.0001, 1), doc="fraction of the image area to keep"))
    ratio: Pair = param(Range(0.75, 4 / 3, bounds=(0.01, 100),
                              doc="aspect ratio (width / height) of the box, drawn log-uniformly"))
    width: int = param(Number(0, bounds=(0, MAX_SIDE), integer=True, doc="output width (0: the input's width)"))
    height: int = param(Number(0, bounds=(0, MAX_SIDE), integer=True, doc="output height (0: the input's height)"))
    carries = {"box": BOX, "width": SIZE, "height": SIZE, **WARP_OP}
    examples = [{}, {"area": [0.5, 1], "width": 32, "height": 32}]

    def sample(self, rng: Any, shape: Shape) -> Params:
        h, w = shape[0], shape[1]
        box = _resized_crop_box(rng, w, h, self.area, self.ratio)
        out_w, out_h = self.width or w, self.height or h
        return {"box": box, "width": out_w, "height": out_h, **self.warp_settings()}

    @staticmethod
    def matrix(params: Params, shape: Shape) -> tuple[Matrix, Size]:
        size = (params["width"], params["height"])
        x0, y0, x1, y1 = params["box"]
        return ops.box_matrix((x0, y0, x1, y1), size), size


def _resized_crop_box(rng: Any, w: int, h: int, area: Pair,
                      ratio: Pair) -> list[int]:
    """Draw a box as torchvision does: 10 tries at (area, log-ratio), then a centred fallback."""
    log_ratio = (math.log(ratio[0]), math.log(ratio[1]))
    for _ in range(10):
        target = w * h * float(rng.uniform(area[0], area[1]))
        aspect = math.exp(float(rng.uniform(*log_ratio)))
        cw, ch = round(math.sqrt(target * aspect)), round(math.sqrt(target / aspect))
        if 0 < cw <= w and 0 < ch <= h:
            x0, y0 = int(rng.integers(0, w - cw + 1)), int(rng.integers(0, h - ch + 1))
            return [x0, y0, x0 + cw, y0 + ch]
    in_ratio = w / h
    if in_ratio < ratio[0]:  # (torchvision's fallback; a side never rounds to 0 px on a narrow image)
        cw, ch = w, min(h, max(1, round(w / ratio[0])))
    elif in_ratio > ratio[1]:
        ch, cw = h, min(w, max(1, round(h * ratio[1])))
    else:
        cw, ch = w, h
    x0, y0 = (w - cw) // 2, (h - ch) // 2
    return [x0, y0, x0 + cw, y0 + ch]


@transform("pad", doc="Add a border of random width on each side.")
class Pad(_Warp):
    left: IntPair = param(Range(0, 0, bounds=(0, 4096), integer=True, doc="pixels added on the left"))
    top: IntPair = param(Range(0, 0, bounds=(0, 4096), integer=True, doc="pixels added on the top"))
    right: IntPair = param(Range(0, 0, bounds=(0, 4096), integer=True, doc="pixels added on the right"))
    bottom: IntPair = param(Range(0, 0, bounds=(0, 4096), integer=True, doc="pixels added on the bottom"))
    carries = {"sides": Numbers(None, length=4, bounds=(0, 4096), integer=True, names="left, top, right, bottom",
                                doc="pixels added on each side"), **WARP_OP}
    examples = [{"left": 4, "top": [0, 8], "right": 2, "bottom": [1, 3], "border": "constant", "fill": [255, 0, 0]}]

    def sample(self, rng: Any, shape: Shape) -> Params:
        sides = [R.integer(rng, side) for side in (self.left, self.top, self.right, self.bottom)]
        return {"sides": sides, **self.warp_settings()}

    @staticmethod
    def matrix(params: Params, shape: Shape) -> tuple[Matrix, Size]:
        left, top, right, bottom = params["sides"]
        return ops.translation(left, top), (shape[1] + left + right, shape[0] + top + bottom)


@transform("decoded_at", doc="The source was decoded at 1/factor of its size (recorded by augcli, not a recipe step).",
           notes="When a run's first geometric steps shrink a JPEG by at least 2, 4 or 8 on both axes, augcli "
                 "decodes it at that fraction (libjpeg's DCT scaling) and records this op first: its matrix "
                 "maps the small image's pixel centres onto the full image's, so the steps that follow are "
                 "resampled once from the small image. Replay decodes the same way, byte for byte.")
class DecodedAt(Transform):
    planned = True  # brings no resampling settings: the step it is fused with does
    deterministic = True
    carries = {"factor": Number(2, bounds=(2, 8), integer=True, doc="the fraction decoded: 1/2, 1/4 or 1/8"),
               "width": SIZE, "height": SIZE}
    examples = [{}]

    def sample(self, rng: Any, shape: Shape) -> Params:
        """Never drawn: the worker decides it from the ops that follow (a neutral op here)."""
        return {"factor": 2, "width": shape[1] * 2, "height": shape[0] * 2}

    @staticmethod
    def matrix(params: Params, shape: Shape) -> tuple[Matrix, Size]:
        k = params["factor"]
        m = np.array([[k, 0.0, (k - 1) / 2], [0.0, k, (k - 1) / 2], [0.0, 0.0, 1.0]])
        return m, (params["width"], params["height"])
