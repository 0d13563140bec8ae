"""Blur transforms. Like every non-geometric transform, they leave alpha alone."""

from __future__ import annotations

from typing import Any

from augcli.declare import Transform, transform
from augcli.ops import blur as B
from augcli.params import Pair, Range, param

Shape = tuple[int, ...]


@transform("gaussian_blur", doc="Blur with a Gaussian kernel.")
class GaussianBlur(Transform):
    sigma: Pair = param(Range(0.5, 1.5, bounds=(0, 50), unit="px", doc="standard deviation of the kernel"))
    examples = [{}, {"sigma": 3}]

    @staticmethod
    def apply(image: Any, params: dict[str, Any]) -> Any:
        return B.gaussian_blur(image, params["sigma"])
