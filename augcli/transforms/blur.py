"""Blur transforms: Gaussian, median and motion blur. Like every non-geometric transform, they leave alpha alone."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from augcli import ops
from augcli import rng as R
from augcli.declare import Transform, transform
from augcli.params import IntPair, Number, Pair, Range, param

Shape = tuple[int, ...]


@transform("gaussian_blur", doc="Blur with a Gaussian kernel.")
class GaussianBlur(Transform):
    sigma: Pair = param(Range(0.5, 1.5, bounds=(0, 50), unit="px", doc="standard deviation of the kernel"))
    examples = [{}, {"sigma": 3}]

    @staticmethod
    def apply(image: Any, params: dict[str, Any]) -> Any:
        return ops.gaussian_blur(image, params["sigma"])


@dataclass(frozen=True)
class _OddKernel(Transform):
    """A filter whose ``ksize`` range holds odd kernel sizes; an odd size is drawn from it."""

    # Each subclass declares its own range; this one only gives the field its type.
    ksize: IntPair = param(Range(3, 3, bounds=(1, 99), integer=True, unit="px", doc="kernel size, odd"))

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
        return ops.median_blur(image, params["ksize"])


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
        return ops.motion_blur(image, params["ksize"], params["angle"])
