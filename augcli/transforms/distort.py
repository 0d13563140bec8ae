"""Non-linear geometric transforms (displacement fields). They break the fused-warp chain."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from augcli import ops
from augcli import rng as R
from augcli.declare import WARP_OP, Resampling, transform
from augcli.params import SEED, WARP_KEYS, IntPair, ListOf, Number, Numbers, Pair, Range, param

Shape = tuple[int, ...]

@dataclass(frozen=True)
class _Field(Resampling):
    """A resampling transform without a matrix: ``render`` applies it on its own, alpha included."""

    def check(self) -> tuple[str, str, str, str] | None:
        """OpenCV's remap has no area filter: refuse it rather than resample bilinearly in silence."""
        if self.interpolation == "area":
            return ("nearest, linear, cubic or lanczos (a displacement field cannot be area-resampled)",
                    "'area'", "interpolation", "use linear")
        return None


@transform("elastic", doc="Elastic deformation by a smooth random displacement field.",
           notes="Simard et al. (2003): uniform noise smoothed by a Gaussian of sigma pixels (made on a "
                 "coarse grid and upscaled, for speed). Unlike albumentations, alpha is the largest "
                 "displacement in pixels (the field is normalised): Simard's alpha a with sigma s is about "
                 "alpha = a / (2 s). Keep alpha under about sigma to avoid folds.")
class Elastic(_Field):
    alpha: Pair = param(Range(6, 12, bounds=(0, 1000), unit="px", doc="largest displacement"))
    sigma: Pair = param(Range(8, 12, bounds=(1, 500), unit="px", doc="smoothness of the field (Gaussian std)"))
    carries = {"alpha": Number(6, bounds=(0, 1000), unit="px", doc="largest displacement"),
               "sigma": Number(8, bounds=(1, 500), unit="px", doc="smoothness of the field"), "seed": SEED, **WARP_OP}
    examples = [{}, {"alpha": 20, "sigma": [4, 6], "border": "constant", "fill": 255,
                     "interpolation": "nearest"}]

    def sample(self, rng: Any, shape: Shape) -> dict[str, Any]:
        return {"alpha": R.uniform(rng, self.alpha), "sigma": R.uniform(rng, self.sigma),
                "seed": R.noise_seed(rng), **self.warp_settings()}

    @staticmethod
    def apply(image: Any, params: dict[str, Any]) -> Any:
        return ops.elastic(image, params["alpha"], params["sigma"], params["seed"],
                         **{k: params[k] for k in WARP_KEYS})


@transform("piecewise_affine",
           doc="Move a regular grid of control points at random and warp affinely between them.",
           notes="Control points include the corners and edges, so the border setting fills what moves in. "
                 "Each grid cell is split into two triangles along its main diagonal.")
class PiecewiseAffine(_Field):
    grid: IntPair = param(Range(4, 4, bounds=(2, 16), integer=True, doc="control points per side (grid x grid)"))
    scale: Pair = param(Range(0.01, 0.03, bounds=(0, 0.5), doc="std of the moves, fraction of width and height"))
    carries = {"offsets": ListOf(ListOf(Numbers(None, length=2), most=16), most=16,
                                 doc="moves of the grid points, fraction of width and height"), **WARP_OP}
    examples = [{}, {"grid": [3, 6], "scale": 0.05, "border": "constant", "fill": [0, 0, 255]}]

    def sample(self, rng: Any, shape: Shape) -> dict[str, Any]:
        n = R.integer(rng, self.grid)
        std = R.uniform(rng, self.scale)
        moves = rng.normal(0.0, std, size=(n, n, 2)) if std > 0 else [[[0.0, 0.0]] * n] * n
        offsets = [[[round(float(v), 5) for v in point] for point in row] for row in moves]
        return {"offsets": offsets, **self.warp_settings()}

    @staticmethod
    def apply(image: Any, params: dict[str, Any]) -> Any:
        return ops.piecewise_affine(image, params["offsets"], **{k: params[k] for k in WARP_KEYS})
