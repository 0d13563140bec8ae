"""Multi-image transforms: SMOTE's blend (planned by ``augcli balance``) and the recipe steps that mix an
image with partners drawn from the input tree (mixup, SamplePairing, CutMix, mosaic).

A recipe's multi-image step declares how many partners it wants; ``compose`` draws them (from the
image's class, or from any class) and samples each partner's own ops, and the step's ``sample`` draws
the mixing parameters. The op records the partners (their index in the row's sources, their label and
ops) and ``shares``: the part of the result each image makes, which gives the manifest's label_weights.
The first image always makes at least half of the result, so its class leads the soft label and the
file stays in its class folder.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

from augcli import ops
from augcli import rng as R
from augcli.declare import Params, Transform, transform
from augcli.errors import RecipeError, show
from augcli.formats import MAX_SIDE
from augcli.ops._image import Image
from augcli.params import Choice, IntPair, ListOf, MayOmit, Number, Numbers, OpList, Param, Text, param

Shape = tuple[int, ...]


@transform(
    "smote_blend",
    doc="Blend two images as SMOTE blends their features: a + step * (b - a).",
    notes="Made by `augcli balance --method smote`; the partner is resized and converted to the first "
    "image's size, channels and depth. A negative step (SVM-SMOTE) extrapolates, with clipping.",
)
class SmoteBlend(Transform):
    carries = {
        "step": Number(0, bounds=(-1e6, 1e6), doc="how far from the first image towards the second (SMOTE's gap)"),
        "variant": Text(None, doc="the SMOTE variant that chose the pair"),
        "partner_class": MayOmit(Text(None, doc="the partner's class, when not the first image's (borderline-2)")),
    }
    inputs = 2
    planned = True
    deterministic = True
    examples = [{}]

    def sample(self, rng: Any, shape: Shape) -> Params:
        """Never drawn by a recipe: the step comes from imbalanced-learn in ``augcli.smote``."""
        return {}

    @staticmethod
    def combine(images: list[Image], params: Params) -> Image:
        """Blend the two source images with the recorded step."""
        return ops.blend_pair(images[0], images[1], float(params["step"]))

    @staticmethod
    def apply(image: Image, params: Params) -> Image:
        """With one image there is nothing to blend: a copy."""
        return image.copy()


# ---------------------------------------------------------------- recipe steps with partners


@dataclass(frozen=True)
class PartnerKind(Param):
    """A recorded partner: ``{source: index in the row's sources, label: its class, ops: its own ops}``."""

    default: None = None
    doc: str = ""

    def describe(self) -> str:
        return "{source: an index >= 1 into the sources, label: a class, ops: a list of ops}"

    def validate(self, value: Any, where: str) -> dict[str, Any]:
        ok = isinstance(value, dict) and set(value) == {"source", "label", "ops"}
        ok = ok and isinstance(value["source"], int) and not isinstance(value["source"], bool)
        ok = ok and 1 <= value["source"] <= 16 and isinstance(value["label"], str) and bool(value["label"])
        if not ok:
            raise RecipeError(where, self.describe(), show(value))
        OpList().validate(value["ops"], f"{where}.ops")
        return dict(value)


PARTNER = Choice("same_class", ("same_class", "any"),
                 doc="where partners come from: the image's class (labels kept) or any class (soft labels)")
PARTNER_PIPELINE = Choice("same", ("same", "none"),
                          doc="what partners go through first: the steps before this one (same), or nothing")
SHARES = ListOf(Number(0, bounds=(0, 1)), most=4, doc="the part of the result each image makes, first image first")
PARTNERS = ListOf(PartnerKind(), most=3, doc="the partners, in the order the sources column lists them")
MIX_NOTES = ("Partners are drawn with the image's own generator from the whole input tree (not the image "
             "itself when another is available), so results do not depend on --workers; with partner_pipeline "
             "same they first go through the recipe's steps before this one, sampled on their own. A partner "
             "of another size, depth or channel count is resized and converted to the image's; alpha is "
             "respected (hidden pixels never show). Only in a recipe's top-level pipeline. A same_class step "
             "on a class with one image is skipped for that class. ")


def _lam(rng: Any, alpha: float) -> float:
    """lambda ~ Beta(alpha, alpha), folded to [0.5, 1] so that the first image makes at least half."""
    lam = float(rng.beta(alpha, alpha))
    return round(max(lam, 1.0 - lam), 6)


@dataclass(frozen=True)
class _Mix(Transform):
    """A recipe step that mixes the image with partners drawn from the input tree."""

    partner: str = param(PARTNER)
    partner_pipeline: str = param(PARTNER_PIPELINE)
    partners = 1

    @staticmethod
    def apply(image: Image, params: Params) -> Image:
        """Without its partners (never in a run) an op leaves the image as it is."""
        return image.copy()


@transform("mixup", doc="Blend with a partner: lam * image + (1 - lam) * partner (Zhang et al. 2018).",
           notes="lam is drawn from Beta(alpha, alpha) and folded to [0.5, 1] (lam = max(lam, 1 - lam)), so "
                 "the image's class leads; label_weights are lam and 1 - lam. " + MIX_NOTES)
class MixUp(_Mix):
    alpha: float = param(Number(0.2, bounds=(0.01, 100), doc="Beta distribution parameter of lam"))
    carries = {"lam": Number(1, bounds=(0.5, 1), doc="the image's weight"), "shares": SHARES, "partners": PARTNERS}
    examples = [{}, {"alpha": 1.0, "partner": "any"}]

    def sample(self, rng: Any, shape: tuple[int, ...]) -> Params:
        lam = _lam(rng, self.alpha)
        return {"lam": lam, "shares": [lam, round(1.0 - lam, 6)]}

    @staticmethod
    def mix(image: Image, partners: list[Image], params: Params) -> Image:
        return ops.blend_pair(image, partners[0], 1.0 - float(params["lam"]))


@transform("sample_pairing", doc="Average with a partner; the label stays the image's (Inoue 2018).",
           notes="Pixel average of the image and its partner; label_weights give the first image's class "
                 "only, as SamplePairing defines. " + MIX_NOTES)
class SamplePairing(_Mix):
    carries = {"shares": SHARES, "partners": PARTNERS}
    deterministic = True
    examples = [{}, {"partner": "any", "partner_pipeline": "none"}]

    def sample(self, rng: Any, shape: tuple[int, ...]) -> Params:
        return {"shares": [1.0, 0.0]}

    @staticmethod
    def mix(image: Image, partners: list[Image], params: Params) -> Image:
        return ops.blend_pair(image, partners[0], 0.5)


@transform("cutmix", doc="Paste a box of the partner into the image (Yun et al. 2019).",
           notes="lam ~ Beta(alpha, alpha) folded to [0.5, 1]; the box has sides sqrt(1 - lam) times the "
                 "image's, a uniformly drawn centre, and is clipped to the image; label_weights are the "
                 "areas after clipping. " + MIX_NOTES)
class CutMix(_Mix):
    alpha: float = param(Number(1.0, bounds=(0.01, 100), doc="Beta distribution parameter of lam"))
    carries = {"box": Numbers(None, length=4, bounds=(0, MAX_SIDE), integer=True, names="x0, y0, x1, y1",
                              doc="the pasted box, end-exclusive"), "shares": SHARES, "partners": PARTNERS}
    examples = [{}, {"alpha": 0.5, "partner": "any"}]

    def sample(self, rng: Any, shape: tuple[int, ...]) -> Params:
        h, w = shape[0], shape[1]
        cut = math.sqrt(1.0 - _lam(rng, self.alpha))
        cw, ch = int(w * cut), int(h * cut)
        cx, cy = R.integer(rng, (0, w - 1)), R.integer(rng, (0, h - 1))
        x0, x1 = max(cx - cw // 2, 0), min(cx + cw // 2, w)
        y0, y1 = max(cy - ch // 2, 0), min(cy + ch // 2, h)
        pasted = round((x1 - x0) * (y1 - y0) / (w * h), 6)
        return {"box": [x0, y0, x1, y1], "shares": [round(1.0 - pasted, 6), pasted]}

    @staticmethod
    def mix(image: Image, partners: list[Image], params: Params) -> Image:
        x0, y0, x1, y1 = params["box"]
        return ops.paste_box(image, partners[0], (x0, y0, x1, y1))


@transform("mosaic", doc="Tile the image and its partners around a random centre (YOLOv4's mosaic).",
           notes="The image fills at least half of the result (its region is drawn first, in a random "
                 "corner); the partners fill the other regions in reading order. Each is scaled to cover its "
                 "region (aspect kept) and centre-cropped; the result has the image's size. grid is [rows, "
                 "cols], each 1 or 2. label_weights are the regions' areas. " + MIX_NOTES)
class Mosaic(_Mix):
    grid: IntPair = param(Numbers((2, 2), length=2, bounds=(1, 2), integer=True, names="rows, cols",
                                  doc="regions per column and per row"))
    carries = {"cut": Numbers(None, length=2, bounds=(0, MAX_SIDE), integer=True, names="x, y",
                              doc="where the regions meet"),
               "order": ListOf(Number(0, bounds=(0, 3), integer=True), most=4, doc="the region of each image"),
               "shares": SHARES, "partners": PARTNERS}
    examples = [{}, {"grid": [1, 2], "partner": "any"}]

    def partner_count(self) -> int:
        return self.grid[0] * self.grid[1] - 1

    def check(self) -> tuple[str, str, str, str] | None:
        """One region is the image alone: refuse a grid that tiles nothing."""
        if self.grid == (1, 1):
            return "a grid of at least two regions", "[1, 1]", "grid", "use [2, 2], [1, 2] or [2, 1]"
        return None

    def sample(self, rng: Any, shape: tuple[int, ...]) -> Params:
        h, w = shape[0], shape[1]
        rows, cols = self.grid
        u = R.uniform(rng, (0.55, 0.95)) if cols == 2 else 1.0
        v = R.uniform(rng, (max(0.5 / u, 0.55), 0.95)) if rows == 2 else 1.0
        if cols == 1 and rows == 2:
            v = R.uniform(rng, (0.5, 0.95))
        left, top = R.coin(rng, 0.5), R.coin(rng, 0.5)
        cut_x = w if cols == 1 else min(max(round(w * (u if left else 1 - u)), 1), w - 1)
        cut_y = h if rows == 1 else min(max(round(h * (v if top else 1 - v)), 1), h - 1)
        regions = ops.mosaic_regions(w, h, cut_x, cut_y)
        if (w < 2 and cols == 2) or (h < 2 and rows == 2):  # too small to split: the image alone
            regions = [(0, 0, w, h)]
        areas = [(x1 - x0) * (y1 - y0) for x0, y0, x1, y1 in regions]
        main = max(range(len(regions)), key=lambda i: (areas[i], -i))
        order = [main, *(i for i in range(len(regions)) if i != main)]
        shares = [round(areas[i] / (w * h), 6) for i in order]
        return {"cut": [cut_x, cut_y], "order": order, "shares": shares}

    @staticmethod
    def mix(image: Image, partners: list[Image], params: Params) -> Image:
        h, w = image.shape[:2]
        regions = ops.mosaic_regions(w, h, *params["cut"])
        if len(regions) < len(params["order"]):
            regions = [(0, 0, w, h)]
        order = params["order"]
        return ops.mosaic(image, partners[:len(order) - 1], regions, order)
