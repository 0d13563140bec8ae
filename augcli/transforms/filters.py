"""Convolution filters: sharpen, emboss, edges, median and motion blur. They leave alpha alone."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from augcli import rng as R
from augcli.declare import Transform, transform
from augcli.ops import filters as F
from augcli.params import IntPair, Number, Pair, Range, param

Shape = tuple[int, ...]


@dataclass(frozen=True)
class _OddKernel(Transform):
    """A filter whose ``ksize`` range holds odd kernel sizes; an odd size is drawn from it."""

    def check(self) -> tuple[str, str] | None:
        """Both ends of ``ksize`` must be odd."""
        lo, hi = self.ksize
        if lo % 2 == 0 or hi % 2 == 0:
            return "odd kernel sizes for ksize", f"[{lo}, {hi}]"
        return None

    def odd_size(self, rng: Any) -> int:
        """Draw an odd kernel size uniformly among the odd values of ``ksize``."""
        lo, hi = self.ksize
        return 2 * R.integer(rng, (lo // 2, hi // 2)) + 1


@transform("median_blur", doc="Replace each value by the median of its square window.",
           notes="16-bit images use at most a 5x5 window (a larger ksize is clamped to 5 when applied): "
                 "OpenCV has no larger 16-bit median.")
class MedianBlur(_OddKernel):
    ksize: IntPair = param(Range(3, 5, bounds=(1, 99), integer=True, unit="px", doc="window size, odd"))
    carries = {"ksize": Number(3, bounds=(1, 99), integer=True, unit="px", doc="window size, odd")}
    examples = [{}, {"ksize": 7}]

    def sample(self, rng: Any, shape: Shape) -> dict[str, Any]:
        return {"ksize": self.odd_size(rng)}

    @staticmethod
    def apply(image: Any, params: dict[str, Any]) -> Any:
        return F.median_blur(image, params["ksize"])


@transform("motion_blur", doc="Average along a straight line, like a moving camera.")
class MotionBlur(_OddKernel):
    ksize: IntPair = param(Range(3, 9, bounds=(1, 99), integer=True, unit="px", doc="length of the line kernel, odd"))
    angle: Pair = param(Range(0, 180, bounds=(-360, 360), unit="deg",
                              doc="direction, counter-clockwise from horizontal"))
    carries = {"ksize": Number(3, bounds=(1, 99), integer=True, unit="px", doc="kernel length, odd"),
               "angle": Number(0, bounds=(-360, 360), unit="deg", doc="direction")}
    examples = [{}, {"ksize": 15, "angle": 45}]

    def sample(self, rng: Any, shape: Shape) -> dict[str, Any]:
        return {"ksize": self.odd_size(rng), "angle": R.uniform(rng, self.angle)}

    @staticmethod
    def apply(image: Any, params: dict[str, Any]) -> Any:
        return F.motion_blur(image, params["ksize"], params["angle"])


@transform("sharpen", doc="Sharpen with a 3x3 kernel blended with the identity (imgaug).")
class Sharpen(Transform):
    alpha: Pair = param(Range(0.2, 0.5, bounds=(0, 1), doc="blend: 0 keeps the image, 1 is fully sharpened"))
    lightness: Pair = param(Range(0.5, 1.0, bounds=(0, 10), doc="added to the centre weight 8: below 1 darkens"))
    examples = [{}, {"alpha": 1, "lightness": [0.8, 1.5]}]

    @staticmethod
    def apply(image: Any, params: dict[str, Any]) -> Any:
        return F.sharpen(image, params["alpha"], params["lightness"])


@transform("emboss", doc="Emboss with a diagonal relief kernel blended with the identity.",
           notes="imgaug Emboss semantics.")
class Emboss(Transform):
    alpha: Pair = param(Range(0.2, 0.5, bounds=(0, 1), doc="blend: 0 keeps the image, 1 is fully embossed"))
    strength: Pair = param(Range(0.2, 0.7, bounds=(0, 10), doc="relief strength"))
    examples = [{}, {"alpha": 1, "strength": 1.5}]

    @staticmethod
    def apply(image: Any, params: dict[str, Any]) -> Any:
        return F.emboss(image, params["alpha"], params["strength"])


@transform("edge_detect", doc="Blend the image with its Laplacian edges (imgaug EdgeDetect).",
           notes="Kernel (1 - alpha) * identity + alpha * 4-neighbour Laplacian; "
                 "negative responses clip to 0.")
class EdgeDetect(Transform):
    alpha: Pair = param(Range(0, 0.5, bounds=(0, 1), doc="blend: 0 keeps the image, 1 is edges only"))
    examples = [{}, {"alpha": 1}]

    @staticmethod
    def apply(image: Any, params: dict[str, Any]) -> Any:
        return F.edge_detect(image, params["alpha"])
