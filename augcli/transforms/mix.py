"""Combining transforms: ops that make one image from two sources (made by ``augcli balance``)."""

from __future__ import annotations

from typing import Any

from augcli import ops
from augcli.declare import Params, Transform, transform
from augcli.ops._image import Image
from augcli.params import MayOmit, Number, Text

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
