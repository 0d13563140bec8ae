"""Colour and tone transforms. They leave alpha alone."""

from __future__ import annotations

from typing import Any

from augcli import ops
from augcli import rng as R
from augcli.declare import Transform, transform
from augcli.params import Number, Pair, Range, param

Shape = tuple[int, ...]


@transform("brightness", doc="Add a random offset to every colour value.")
class Brightness(Transform):
    limit: Pair = param(Range(-0.2, 0.2, bounds=(-1, 1), symmetric=True, doc="offset, fraction of full scale"))
    carries = {"delta": Number(0, bounds=(-1, 1), doc="offset, fraction of full scale")}
    examples = [{}, {"limit": [0.1, 0.4]}]

    def sample(self, rng: Any, shape: Shape) -> dict[str, Any]:
        return {"delta": R.uniform(rng, self.limit)}

    @staticmethod
    def apply(image: Any, params: dict[str, Any]) -> Any:
        return ops.adjust_brightness(image, params["delta"])


@transform("contrast", doc="Stretch or squeeze values about the mean brightness.")
class Contrast(Transform):
    limit: Pair = param(Range(-0.2, 0.2, bounds=(-1, 10), symmetric=True, doc="change of contrast: factor is 1 + x"))
    carries = {"factor": Number(1, bounds=(0, 11), doc="contrast factor")}
    examples = [{}, {"limit": [-0.5, 0.5]}]

    def sample(self, rng: Any, shape: Shape) -> dict[str, Any]:
        return {"factor": round(1.0 + R.uniform(rng, self.limit), 6)}

    @staticmethod
    def apply(image: Any, params: dict[str, Any]) -> Any:
        return ops.adjust_contrast(image, params["factor"])


@transform("hsv", doc="Shift hue and value, scale saturation.",
           notes="Computed on float HSV with hue in whole degrees (no 2-degree steps as in OpenCV's "
                 "8-bit HSV, where albumentations' uint8 hue_shift_limit counts 2-degree units: its 20 "
                 "is hue 40 here) and rounded once; with all three at 0 the image is unchanged. "
                 "Saturation is scaled by 1 + x rather than shifted (albumentations adds sat_shift), so "
                 "grey and white pixels (S = 0, hue undefined) stay neutral instead of turning red. "
                 "On a single-channel image only the value shift applies.")
class Hsv(Transform):
    hue: Pair = param(Range(-10, 10, bounds=(-180, 180), unit="deg", doc="hue shift"))
    saturation: Pair = param(Range(-0.15, 0.15, bounds=(-1, 1), doc="saturation change: S is multiplied by 1 + x"))
    value: Pair = param(Range(-0.1, 0.1, bounds=(-1, 1), doc="value shift, fraction of full scale"))
    examples = [{}, {"hue": [-90, 90], "saturation": [-0.5, 0.5], "value": 0.1}]

    @staticmethod
    def apply(image: Any, params: dict[str, Any]) -> Any:
        return ops.shift_hsv(image, params["hue"], params["saturation"], params["value"])


@transform("grayscale", doc="Turn towards grey; the channel count is kept.",
           notes="A single-channel image is left as it is.")
class Grayscale(Transform):
    alpha: Pair = param(Range(1, 1, bounds=(0, 1), doc="blend: 0 keeps the colour, 1 is fully grey"))
    deterministic = True
    examples = [{}, {"alpha": [0.3, 0.8]}]

    @staticmethod
    def apply(image: Any, params: dict[str, Any]) -> Any:
        return ops.to_grayscale(image, params["alpha"])
