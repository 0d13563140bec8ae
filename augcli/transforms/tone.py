"""Tone and colour-table transforms, and the PIL-style operations of the policies. They leave alpha alone."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from augcli import ops
from augcli import rng as R
from augcli.conventions import fraction_trap
from augcli.declare import Transform, transform
from augcli.ops.tone import JITTER_ORDER
from augcli.params import Choice, Factor, IntPair, ListOf, MayOmit, Number, Pair, Range, param

Shape = tuple[int, ...]
CHANNEL = Number(0, bounds=(0, 2), integer=True, doc="colour channel index (B=0, G=1, R=2)")

_SIXTEEN_BIT = "On 16-bit images values in 0-255 units are scaled by 257."


def _colour_count(shape: Shape) -> int:
    """Colour channels of an image shape (alpha excluded): 1 or 3."""
    return 1 if len(shape) < 3 or shape[2] == 1 else 3


@transform("gamma", doc="Gamma curve: normalised values are raised to a power.",
           notes="Below 1 brightens, above 1 darkens; applied through a lookup table.")
class Gamma(Transform):
    gamma: Pair = param(Range(0.8, 1.25, bounds=(0.1, 10), doc="exponent (1 leaves the image unchanged)"))
    examples = [{}, {"gamma": 2.2}]

    @staticmethod
    def apply(image: Any, params: dict[str, Any]) -> Any:
        return ops.adjust_gamma(image, params["gamma"])


@transform("rgb_shift", doc="Add a separate random offset to each of red, green and blue.",
           notes="A single-channel image gets the mean of the three offsets. " + _SIXTEEN_BIT)
class RgbShift(Transform):
    red: Pair = param(Range(-20, 20, bounds=(-255, 255), doc="red offset in 0-255 units"))
    green: Pair = param(Range(-20, 20, bounds=(-255, 255), doc="green offset in 0-255 units"))
    blue: Pair = param(Range(-20, 20, bounds=(-255, 255), doc="blue offset in 0-255 units"))
    examples = [{}, {"red": [0, 60], "green": 0, "blue": -30}]

    @staticmethod
    def apply(image: Any, params: dict[str, Any]) -> Any:
        return ops.shift_rgb(image, params["red"], params["green"], params["blue"])


@transform("color_jitter",
           doc="Brightness, contrast, saturation, hue and sharpness, applied in a random order.",
           notes="Numbers mean what torchvision's ColorJitter means: brightness, contrast, saturation "
                 "(and sharpness, PIL ImageEnhance, an addition) b draws a factor from "
                 "[max(0, 1 - b), 1 + b], [lo, hi] draws from that range, and a factor of 1 leaves the "
                 "property unchanged; hue h draws a rotation from [-h, h] turns (0.5 is half the colour "
                 "circle), 0 leaves it. Saturation and hue are skipped on single-channel images.")
class ColorJitter(Transform):
    brightness: Pair = param(Factor(0.8, 1.2, bounds=(0, 10), doc="brightness factor (0 is black)"))
    contrast: Pair = param(Factor(0.8, 1.2, bounds=(0, 10), doc="contrast factor about the mean brightness (0: flat)"))
    saturation: Pair = param(Factor(0.8, 1.2, bounds=(0, 10), doc="saturation factor (0 is grey)"))
    hue: Pair = param(Range(0, 0, bounds=(-0.5, 0.5), symmetric=True, doc="hue rotation in turns of the colour circle"))
    sharpness: Pair = param(Factor(0.8, 1.2, bounds=(0, 10), doc="sharpness factor (0 is smoothed, above 1 sharpened)"))
    carries = {"order": ListOf(Choice("brightness", JITTER_ORDER), most=len(JITTER_ORDER),
                               doc="the order the adjustments run in"),
               **{k: Number(1, bounds=(0, 11), doc=f"{k} factor") for k in ("brightness", "contrast", "saturation",
                                                                         "sharpness")},
               "hue": MayOmit(Number(0, bounds=(-0.5, 0.5), doc="hue rotation in turns"))}
    examples = [{}, {"brightness": [0.5, 1.5], "contrast": 0, "saturation": [0, 2], "hue": 0.1,
                     "sharpness": [1, 3]}]

    def sample(self, rng: Any, shape: Shape) -> dict[str, Any]:
        order = [JITTER_ORDER[int(i)] for i in rng.permutation(len(JITTER_ORDER))]
        return {
            "order": order,
            "brightness": R.uniform(rng, self.brightness),
            "contrast": R.uniform(rng, self.contrast),
            "saturation": R.uniform(rng, self.saturation),
            "sharpness": R.uniform(rng, self.sharpness),
            "hue": R.uniform(rng, self.hue),
        }

    @staticmethod
    def apply(image: Any, params: dict[str, Any]) -> Any:
        return ops.jitter_color(image, params["order"], params["brightness"], params["contrast"],
                              params["saturation"], params["sharpness"], params.get("hue", 0.0))


@transform("invert", doc="Invert colour channels: x becomes full scale minus x.",
           notes="With p_channel below 1 each colour channel is inverted on its own coin toss; "
                 "the inverted channel indices (B=0, G=1, R=2) are recorded.")
class Invert(Transform):
    p_channel: float = param(Number(1.0, bounds=(0, 1), doc="probability that each colour channel is inverted"))
    deterministic = True
    carries = {"channels": ListOf(CHANNEL, most=3, doc="the colour channels inverted")}
    examples = [{}, {"p_channel": 0.5}]

    def sample(self, rng: Any, shape: Shape) -> dict[str, Any]:
        channels = [c for c in range(_colour_count(shape)) if R.coin(rng, self.p_channel)]
        return {"channels": channels}

    @staticmethod
    def apply(image: Any, params: dict[str, Any]) -> Any:
        return ops.invert(image, params["channels"])


@transform("solarize", doc="Invert the values at or above a threshold.",
           notes="The threshold is inclusive, as in PIL and torchvision. " + _SIXTEEN_BIT)
class Solarize(Transform):
    threshold: Pair = param(Range(128, 128, bounds=(0, 255), doc="threshold in 0-255 units"))
    deterministic = True
    examples = [{}, {"threshold": [64, 192]}]

    def check(self) -> tuple[str, str, str, str] | None:
        """A threshold strictly between 0 and 1 is albumentations' 0-1 style: refuse it, with the 0-255 value."""
        return fraction_trap(self.threshold, "threshold", "a threshold in 0-255 units (0, or 1 and above)",
                             any_end=True)

    @staticmethod
    def apply(image: Any, params: dict[str, Any]) -> Any:
        return ops.solarize(image, params["threshold"])


@transform("posterize", doc="Keep only the most significant bits of each value.",
           notes="bits is counted on the 8-bit scale: a 16-bit image keeps its top `bits` bits, "
                 "so it also ends up with 2**bits levels over the full range.")
class Posterize(Transform):
    bits: IntPair = param(Range(4, 8, bounds=(1, 8), integer=True, doc="bits kept (8 leaves an 8-bit image unchanged)"))
    examples = [{}, {"bits": 2}]

    @staticmethod
    def apply(image: Any, params: dict[str, Any]) -> Any:
        return ops.posterize(image, params["bits"])


@transform("equalize", doc="Histogram equalisation, on the luma or on each channel.",
           notes="luma equalises Y of YCrCb and keeps the chroma; a single-channel image is equalised "
                 "directly. formula opencv is cv2.equalizeHist (albumentations' mode 'cv'); pil is "
                 "PIL's ImageOps.equalize, which torchvision and albumentations' mode 'pil' use. "
                 "16-bit images use a 65536-bin histogram.")
class Equalize(Transform):
    mode: str = param(Choice("luma", ("luma", "per_channel"),
                             doc="equalise the luma only, or every channel on its own"))
    formula: str = param(Choice("opencv", ("opencv", "pil"), doc="lookup-table formula: OpenCV's or PIL's"))
    deterministic = True
    examples = [{}, {"mode": "per_channel"}, {"mode": "per_channel", "formula": "pil"}]

    @staticmethod
    def apply(image: Any, params: dict[str, Any]) -> Any:
        return ops.equalize(image, params["mode"], params.get("formula", "opencv"))


@transform("clahe", doc="Contrast-limited adaptive histogram equalisation (OpenCV CLAHE).",
           notes="Colour 8-bit images are equalised on L of Lab, colour 16-bit ones on Y of YCrCb, "
                 "single-channel images directly. 16-bit planes use the mapping of their 8-bit quantisation "
                 "plus the sub-8-bit residual, so clip_limit means the same at both depths (OpenCV's own "
                 "16-bit CLAHE clamps the per-bin limit to 1 on all but very large tiles). OpenCV rounds the "
                 "per-bin limit down, so on small images low clip limits all act alike.")
class Clahe(Transform):
    clip_limit: Pair = param(Range(1, 4, bounds=(1, 40), doc="contrast limit (higher equalises more strongly)"))
    tile: int = param(Number(8, bounds=(1, 64), integer=True, doc="tiles per side of the grid"))
    # First example uses 4 tiles: on the common tests' small image, 8 tiles leave every clip limit alike.
    examples = [{"tile": 4}, {}, {"clip_limit": 2, "tile": 2}]

    @staticmethod
    def apply(image: Any, params: dict[str, Any]) -> Any:
        return ops.clahe(image, params["clip_limit"], params["tile"])


@transform("channel_shuffle", doc="Put the colour channels in a random order.",
           notes="The order is recorded (output channel i is input channel order[i]); "
                 "a single-channel image is left as it is.")
class ChannelShuffle(Transform):
    carries = {"order": ListOf(CHANNEL, most=3, doc="output channel i is input channel order[i]")}
    examples = [{}]

    def sample(self, rng: Any, shape: Shape) -> dict[str, Any]:
        count = _colour_count(shape)
        order = [int(i) for i in rng.permutation(count)] if count > 1 else [0]
        return {"order": order}

    @staticmethod
    def apply(image: Any, params: dict[str, Any]) -> Any:
        return ops.shuffle_channels(image, params["order"])


# ------------------------------------------- PIL-style operations of rand_augment and trivial_augment


@dataclass(frozen=True)
class _Enhancer(Transform):
    """A PIL ImageEnhance-style blend with a degenerate image by a factor."""

    factor: Pair = param(Range(0.1, 1.9, bounds=(0, 10), doc="blend factor (1 leaves the image unchanged)"))
    examples = [{}, {"factor": 0.5}]


@transform("pil_brightness",
           doc="Multiply values by a factor (PIL ImageEnhance.Brightness).",
           notes="The brightness step of rand_augment and trivial_augment; `brightness` adds an offset.")
class PilBrightness(_Enhancer):
    @staticmethod
    def apply(image: Any, params: dict[str, Any]) -> Any:
        return ops.scale_brightness(image, params["factor"])


@transform("pil_color",
           doc="Blend with the grey image by a factor (PIL ImageEnhance.Color).",
           notes="The color step of rand_augment and trivial_augment; a single-channel image is kept.")
class PilColor(_Enhancer):
    @staticmethod
    def apply(image: Any, params: dict[str, Any]) -> Any:
        return ops.adjust_saturation(image, params["factor"])


@transform("pil_sharpness",
           doc="Blend with a 3x3 smoothed image by a factor (PIL ImageEnhance.Sharpness).",
           notes="The sharpness step of rand_augment and trivial_augment; border pixels are kept, as in PIL.")
class PilSharpness(_Enhancer):
    @staticmethod
    def apply(image: Any, params: dict[str, Any]) -> Any:
        return ops.adjust_sharpness(image, params["factor"])


@transform("autocontrast", doc="Stretch each channel's min..max to the full range.",
           notes="PIL ImageOps.autocontrast without cutoff; a flat channel is left as it is.")
class Autocontrast(Transform):
    deterministic = True
    examples = [{}]

    @staticmethod
    def apply(image: Any, params: dict[str, Any]) -> Any:
        return ops.autocontrast(image)
