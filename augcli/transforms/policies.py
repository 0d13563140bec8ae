"""Policies built from other transforms: RandAugment and TrivialAugment Wide.

A policy samples a list of nested ops, in the same ``{"name", "params"}`` form as recipe ops,
and ``render`` applies them in its place (the ``expand`` role). The manifest records the nested ops, so a
replay needs neither the policy nor its random draws. The PIL-style operations they draw that
recipes have no other name for (``pil_*``, ``autocontrast``) are tone transforms (``tone.py``);
``identity`` is declared here.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

from augcli import rng as R
from augcli.declare import Transform, transform
from augcli.params import INTERPOLATION, Choice, Fill, IntPair, Number, OpList, Range, param

Shape = tuple[int, ...]
Op = dict[str, Any]

# The 14 operations of RandAugment (Cubuk et al. 2020) in torchvision's order of listing.
OPS = ("identity", "autocontrast", "equalize", "rotate", "solarize", "color", "posterize", "contrast",
       "brightness", "sharpness", "shear_x", "shear_y", "translate_x", "translate_y")
_FIXED = frozenset({"identity", "autocontrast", "equalize"})  # no magnitude
_UNSIGNED = frozenset({"solarize", "posterize"})  # magnitude without a random sign
# Enhancers: factor 1 + magnitude. contrast keeps torchvision's semantics (scale about the mean luma).
_ENHANCERS = {"color": "pil_color", "contrast": "contrast", "brightness": "pil_brightness",
              "sharpness": "pil_sharpness"}

_POLICY_NOTES = (
    "Geometric ops use border constant with `fill` (default 128, mid-grey as in timm; torchvision fills 0) "
    "and shear and rotate about the image centre (torchvision shears about the top-left corner). "
    "Equalize is per channel with PIL's ImageOps.equalize formula, and brightness, color and sharpness "
    "follow PIL ImageEnhance, as in torchvision. "
    "The applied operations are recorded as nested ops, so a replay does not draw again."
)


@dataclass(frozen=True)
class Space:
    """Strength of each operation at the top magnitude bin (torchvision's ``_augmentation_space``)."""

    rotate: float  # degrees
    shear: float  # tangent of the shear angle
    enhance: float  # factor offset of color, contrast, brightness and sharpness
    posterize: int  # bits removed
    translate: float  # fraction of the side when ``relative``, else pixels
    relative: bool


RAND = Space(rotate=30.0, shear=0.3, enhance=0.9, posterize=4, translate=150.0 / 331.0, relative=True)
WIDE = Space(rotate=135.0, shear=0.99, enhance=0.99, posterize=6, translate=32.0, relative=False)


@dataclass(frozen=True)
class Level:
    """A drawn magnitude bin ``m`` of ``top + 1`` bins, with its sign."""

    m: int
    top: int
    sign: float

    def of(self, strength: float) -> float:
        """The strength at this bin, signed, on a linear scale from 0 at bin 0."""
        return self.sign * strength * self.m / self.top


def _tidy(x: float) -> float:
    """Round to 6 digits and turn -0.0 into 0.0."""
    return round(x, 6) + 0.0


def _rotate(level: Level, space: Space, shape: Shape, warp: dict[str, Any]) -> Op:
    """Rotate by up to ``space.rotate`` degrees."""
    return {"name": "rotate", "params": {"angle": _tidy(level.of(space.rotate)), **warp}}


def _shear(axis: str) -> Callable[[Level, Space, Shape, dict[str, Any]], Op]:
    """Shear along ``axis`` by ``atan(magnitude)``, as torchvision."""

    def build(level: Level, space: Space, shape: Shape, warp: dict[str, Any]) -> Op:
        angle = _tidy(math.degrees(math.atan(level.of(space.shear))))
        sx, sy = (angle, 0.0) if axis == "x" else (0.0, angle)
        return {"name": "shear", "params": {"shear_x": sx, "shear_y": sy, **warp}}

    return build


def _translate(axis: str) -> Callable[[Level, Space, Shape, dict[str, Any]], Op]:
    """Shift along ``axis`` by whole pixels (truncated, as torchvision), recorded as fractions of the side."""

    def build(level: Level, space: Space, shape: Shape, warp: dict[str, Any]) -> Op:
        side = shape[1] if axis == "x" else shape[0]
        pixels = int(level.of(space.translate * (side if space.relative else 1.0)))
        d = pixels / side + 0.0
        dx, dy = (d, 0.0) if axis == "x" else (0.0, d)
        return {"name": "translate", "params": {"dx": dx, "dy": dy, **warp}}

    return build


def _enhance(name: str) -> Callable[[Level, Space, Shape, dict[str, Any]], Op]:
    """A PIL-style enhancer with factor ``1 + magnitude``."""

    def build(level: Level, space: Space, shape: Shape, warp: dict[str, Any]) -> Op:
        return {"name": _ENHANCERS[name], "params": {"factor": _tidy(1.0 + level.of(space.enhance))}}

    return build


def _solarize(level: Level, space: Space, shape: Shape, warp: dict[str, Any]) -> Op:
    """Solarize with a threshold from 255 (bin 0) down to 0 (top bin)."""
    return {"name": "solarize", "params": {"threshold": _tidy(255.0 - level.of(255.0))}}


def _posterize(level: Level, space: Space, shape: Shape, warp: dict[str, Any]) -> Op:
    """Keep 8 bits at bin 0, down to ``8 - space.posterize`` at the top (rounding half to even, as torch)."""
    return {"name": "posterize", "params": {"bits": 8 - round(level.m / (level.top / space.posterize))}}


def _fixed(name: str, params: dict[str, Any]) -> Callable[[Level, Space, Shape, dict[str, Any]], Op]:
    """An operation without a magnitude."""
    return lambda level, space, shape, warp: {"name": name, "params": dict(params)}


_BUILDERS: dict[str, Callable[[Level, Space, Shape, dict[str, Any]], Op]] = {
    "identity": _fixed("identity", {}),
    "autocontrast": _fixed("autocontrast", {}),
    "equalize": _fixed("equalize", {"mode": "per_channel", "formula": "pil"}),
    "rotate": _rotate,
    "solarize": _solarize,
    "posterize": _posterize,
    **{name: _enhance(name) for name in _ENHANCERS},
    "shear_x": _shear("x"),
    "shear_y": _shear("y"),
    "translate_x": _translate("x"),
    "translate_y": _translate("y"),
}


def policy_op(name: str, level: Level, space: Space, shape: Shape, warp: dict[str, Any]) -> Op:
    """The registered op that performs one policy operation at a magnitude level."""
    settings = {k: list(v) if isinstance(v, list) else v for k, v in warp.items()}  # no shared lists
    return _BUILDERS[name](level, space, shape, settings)


def _draw_op(rng: Any, magnitude: Callable[[], int], top: int, space: Space, shape: Shape,
             warp: dict[str, Any]) -> Op:
    """Draw an operation uniformly, then its magnitude bin and sign where it has them."""
    name = OPS[int(rng.integers(len(OPS)))]
    if name in _FIXED:
        return policy_op(name, Level(0, top, 1.0), space, shape, warp)
    m = magnitude()
    sign = 1.0 if name in _UNSIGNED or R.coin(rng, 0.5) else -1.0
    return policy_op(name, Level(m, top, sign), space, shape, warp)


@dataclass(frozen=True)
class _Policy(Transform):
    """A policy: draws nested ops, which ``render`` applies in its place."""

    num_bins: int = param(Number(31, bounds=(2, 31), integer=True, doc="magnitude bins (torchvision: 31)"))
    fill: float | tuple[float, ...] = param(Fill(128, doc="fill of the geometric ops' empty corners, 0-255 units "
                                                         "(torchvision: 0)"))
    interpolation: str = param(Choice("nearest", INTERPOLATION.options, doc="resampling filter of the geometric ops"))
    carries = {"ops": OpList(doc="the operations drawn, each a recorded op")}

    def warp_settings(self) -> dict[str, Any]:
        """Border, fill and interpolation recorded with every nested geometric op."""
        return {"border": "constant", **self.settings("fill", "interpolation")}

    @staticmethod
    def expand(params: dict[str, Any]) -> Sequence[Op]:
        """The nested ops that stand for this one."""
        return params["ops"]  # type: ignore[no-any-return]


@transform("rand_augment",
           doc="RandAugment (Cubuk et al. 2020): n operations from 14, each at one magnitude.",
           notes="Operations are drawn uniformly with replacement from identity, autocontrast, equalize, "
                 "rotate, solarize, color, posterize, contrast, brightness, sharpness, shear_x, shear_y, "
                 "translate_x and translate_y. Magnitude m of num_bins maps linearly to torchvision's "
                 "strengths (rotate 30 deg, shear 0.3, translate 0.45 of the side, enhancers 1 +- 0.9, "
                 "posterize down to 4 bits, solarize threshold 255 down to 0); signed ops get a random sign. "
                 "A [lo, hi] magnitude is drawn per operation. " + _POLICY_NOTES)
class RandAugment(_Policy):
    n: IntPair = param(Range(2, 2, bounds=(0, 14), integer=True, doc="operations applied per image"))
    magnitude: IntPair = param(Range(9, 9, bounds=(0, 30), integer=True,
                                             doc="magnitude bin, 0 to num_bins - 1"))
    examples = [{}, {"n": [1, 3], "magnitude": [0, 30], "fill": [0, 0, 0]}, {"num_bins": 11, "magnitude": 10}]

    def check(self) -> tuple[str, str] | None:
        """The magnitude must be one of the bins."""
        if self.magnitude[1] > self.num_bins - 1:
            return f"magnitude at most num_bins - 1 ({self.num_bins - 1})", str(self.magnitude[1])
        return None

    def sample(self, rng: Any, shape: Shape) -> dict[str, Any]:
        warp, top = self.warp_settings(), self.num_bins - 1
        count = R.integer(rng, self.n)
        draw = lambda: R.integer(rng, self.magnitude)  # noqa: E731
        return {"ops": [_draw_op(rng, draw, top, RAND, shape, warp) for _ in range(count)]}


@transform("trivial_augment",
           doc="TrivialAugment Wide (Müller & Hutter 2021): one operation at a random magnitude.",
           notes="The operation is drawn uniformly from rand_augment's 14 and its magnitude bin uniformly "
                 "from num_bins, with torchvision's wide strengths (rotate 135 deg, shear 0.99, translate "
                 "32 px, enhancers 1 +- 0.99, posterize down to 2 bits, solarize threshold 255 down to 0). "
                 + _POLICY_NOTES)
class TrivialAugment(_Policy):
    examples = [{}, {"num_bins": 5, "fill": 0, "interpolation": "linear"}]

    def sample(self, rng: Any, shape: Shape) -> dict[str, Any]:
        top = self.num_bins - 1
        op = _draw_op(rng, lambda: int(rng.integers(self.num_bins)), top, WIDE, shape, self.warp_settings())
        return {"ops": [op]}


# ---------------------------------------------------------------- the policies' do-nothing operation


@transform("identity", doc="Leave the image unchanged.",
           notes="The identity operation of the policies; also a do-nothing branch for one_of.")
class Identity(Transform):
    deterministic = True
    examples = [{}]

    @staticmethod
    def apply(image: Any, params: dict[str, Any]) -> Any:
        return image.copy()
