"""Convolution filters: sharpen, emboss and edges (imgaug's 3x3 kernels). They leave alpha alone."""

from __future__ import annotations

from typing import Any

from augcli import ops
from augcli.declare import Transform, transform
from augcli.params import Pair, Range, param

Shape = tuple[int, ...]


@transform("sharpen", doc="Sharpen with a 3x3 kernel blended with the identity (imgaug).")
class Sharpen(Transform):
    alpha: Pair = param(Range(0.2, 0.5, bounds=(0, 1), doc="blend: 0 keeps the image, 1 is fully sharpened"))
    lightness: Pair = param(Range(0.5, 1.0, bounds=(0, 10), doc="added to the centre weight 8: below 1 darkens"))
    examples = [{}, {"alpha": 1, "lightness": [0.8, 1.5]}]

    @staticmethod
    def apply(image: Any, params: dict[str, Any]) -> Any:
        return ops.sharpen(image, params["alpha"], params["lightness"])


@transform("emboss", doc="Emboss with a diagonal relief kernel blended with the identity.",
           notes="imgaug Emboss semantics.")
class Emboss(Transform):
    alpha: Pair = param(Range(0.2, 0.5, bounds=(0, 1), doc="blend: 0 keeps the image, 1 is fully embossed"))
    strength: Pair = param(Range(0.2, 0.7, bounds=(0, 10), doc="relief strength"))
    examples = [{}, {"alpha": 1, "strength": 1.5}]

    @staticmethod
    def apply(image: Any, params: dict[str, Any]) -> Any:
        return ops.emboss(image, params["alpha"], params["strength"])


@transform("edge_detect", doc="Blend the image with its Laplacian edges (imgaug EdgeDetect).",
           notes="Kernel (1 - alpha) * identity + alpha * 4-neighbour Laplacian; "
                 "negative responses clip to 0.")
class EdgeDetect(Transform):
    alpha: Pair = param(Range(0, 0.5, bounds=(0, 1), doc="blend: 0 keeps the image, 1 is edges only"))
    examples = [{}, {"alpha": 1}]

    @staticmethod
    def apply(image: Any, params: dict[str, Any]) -> Any:
        return ops.edge_detect(image, params["alpha"])
