"""Blends through smooth random masks, and superpixels."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from augcli import ops
from augcli import rng as R
from augcli.declare import Transform, transform
from augcli.ops.masks import CHILDREN
from augcli.params import SEED, Choice, Flag, IntPair, Nullable, Number, Pair, Plain, Range, param

Shape = tuple[int, ...]

_BLEND_NOTES = (
    "The copy is treated by child: invert; grayscale; blur (sigma 8 x strength px); brightness "
    "(+ or - 0.5 x strength of full scale); noise (Gaussian, std 64 x strength in 0-255 units). "
    "Strength does not affect invert and grayscale. Alpha is left alone."
)


CHILD = {"threshold": Nullable(Number(0.5, bounds=(0, 1)), doc="sigmoid middle, or null without sigmoid"),
         "child": Choice("invert", CHILDREN, doc="treatment"), "child_params": Plain(doc="treatment's arguments")}


@dataclass(frozen=True)
class _MaskBlend(Transform):
    """Blend the image with a treated copy of itself through a smooth random mask."""

    child: str = param(Choice("invert", CHILDREN, doc="treatment of the copy shown where the mask is high"))
    strength: Pair = param(Range(0.5, 1.0, bounds=(0, 1), doc="strength of the treatment (see notes)"))
    sigmoid: bool = param(Flag(True, doc="sharpen the mask with a sigmoid, towards two regions"))
    threshold: Pair = param(Range(0.3, 0.7, bounds=(0, 1), doc="mask value at the middle of the sigmoid"))

    def sample_child(self, rng: Any) -> dict[str, Any]:
        """Draw the treatment's arguments and the sigmoid threshold."""
        s = R.uniform(rng, self.strength)
        child_params: dict[str, Any] = {}
        if self.child == "blur":
            child_params = {"sigma": round(8.0 * s, 6)}
        elif self.child == "brightness":
            child_params = {"delta": round(0.5 * s * (1 if R.coin(rng, 0.5) else -1), 6)}
        elif self.child == "noise":
            child_params = {"std": round(64.0 * s, 6), "seed": R.noise_seed(rng)}
        threshold = R.uniform(rng, self.threshold) if self.sigmoid else None
        return {"threshold": threshold, "child": self.child, "child_params": child_params}


@transform("simplex_noise_alpha",
           doc="Blend with a treated copy of the image through a smooth multi-octave noise mask.",
           notes="The mask is value noise (random grids cubic-interpolated, octave k with cells size / 2^k "
                 "and weight 2^-k), close in look to imgaug's simplex noise. " + _BLEND_NOTES)
class SimplexNoiseAlpha(_MaskBlend):
    size: Pair = param(Range(32, 96, bounds=(2, 8192), unit="px", doc="cell size of the coarsest noise grid"))
    octaves: IntPair = param(Range(1, 3, bounds=(1, 6), integer=True, doc="number of noise layers, each twice finer"))
    carries = {"size": Number(32, bounds=(2, 8192), unit="px"), "octaves": Number(1, bounds=(1, 6), integer=True),
               "seed": SEED, **CHILD}
    examples = [{}, {"child": "blur", "size": 20, "octaves": 2, "sigmoid": False},
                {"child": "noise", "strength": 1}, {"child": "brightness", "threshold": 0.5}]

    def sample(self, rng: Any, shape: Shape) -> dict[str, Any]:
        size, octaves, seed = R.uniform(rng, self.size), R.integer(rng, self.octaves), R.noise_seed(rng)
        return {"size": size, "octaves": octaves, "seed": seed, **self.sample_child(rng)}

    @staticmethod
    def apply(image: Any, params: dict[str, Any]) -> Any:
        return ops.blend_value_noise(image, params["size"], params["octaves"], params["threshold"],
                                   params["seed"], params["child"], params["child_params"])


@transform("frequency_noise_alpha",
           doc="Blend with a treated copy of the image through a mask of noise with a power-law spectrum.",
           notes="Amplitudes go as frequency^exponent: strongly negative exponents give large blobs, "
                 "positive ones fine specks. The noise is made by FFT on a small grid, then cubic-upscaled. "
                 + _BLEND_NOTES)
class FrequencyNoiseAlpha(_MaskBlend):
    exponent: Pair = param(Range(-4, 4, bounds=(-10, 10), doc="power of frequency weighting the noise spectrum"))
    size: IntPair = param(Range(16, 48, bounds=(4, 1024), integer=True, doc="noise grid cells along the longer side"))
    carries = {"exponent": Number(0, bounds=(-10, 10)), "size": Number(16, bounds=(4, 1024), integer=True),
               "seed": SEED, **CHILD}
    examples = [{}, {"child": "grayscale", "exponent": -3, "size": 64, "sigmoid": False}]

    def sample(self, rng: Any, shape: Shape) -> dict[str, Any]:
        exponent, size, seed = R.uniform(rng, self.exponent), R.integer(rng, self.size), R.noise_seed(rng)
        return {"exponent": exponent, "size": size, "seed": seed, **self.sample_child(rng)}

    @staticmethod
    def apply(image: Any, params: dict[str, Any]) -> Any:
        return ops.blend_frequency_noise(image, params["exponent"], params["size"], params["threshold"],
                                       params["seed"], params["child"], params["child_params"])


@transform("superpixels", doc="Fill a random share of superpixels with their mean colour.",
           notes="SLIC-like k-means in (x, y, Lab) on a copy shrunk to about 48 pixels per segment; segments "
                 "are scaled back with nearest-neighbour interpolation, so their edges follow a coarse grid "
                 "on large images. The fill colours are the segments' means on that shrunk copy (close to, "
                 "not equal to, full-resolution means). Pixels outside the chosen segments, and alpha, are "
                 "left unchanged.")
class Superpixels(Transform):
    segments: IntPair = param(Range(50, 150, bounds=(1, 10000), integer=True, doc="about how many segments"))
    p_replace: Pair = param(Range(0.1, 0.3, bounds=(0, 1), doc="probability that a segment is filled with its mean"))
    carries = {"segments": Number(50, bounds=(1, 10000), integer=True), "p_replace": Number(0, bounds=(0, 1)),
               "seed": SEED}
    examples = [{}, {"segments": 20, "p_replace": 1}]

    def sample(self, rng: Any, shape: Shape) -> dict[str, Any]:
        return {"segments": R.integer(rng, self.segments), "p_replace": R.uniform(rng, self.p_replace),
                "seed": R.noise_seed(rng)}

    @staticmethod
    def apply(image: Any, params: dict[str, Any]) -> Any:
        return ops.replace_superpixels(image, params["segments"], params["p_replace"], params["seed"])
