"""Noise and occlusion transforms."""

from __future__ import annotations

from typing import Any

from augcli import rng as R
from augcli.ops import noise as N
from augcli.spec import Flag, Range, Transform, transform

Shape = tuple[int, ...]


@transform("gaussian_noise", family="noise", doc="Add zero-mean Gaussian noise.",
           notes="Noise values are normal quantiles at 256 levels (tails cut at 2.66 sigma); alpha is left alone.")
class GaussianNoise(Transform):
    std = Range(3, 12, bounds=(0, 255), doc="standard deviation in 0-255 units")
    per_channel = Flag(True, doc="independent noise per channel (false: the same for all)")
    examples = [{}, {"std": 20, "per_channel": False}]

    def sample(self, rng: Any, shape: Shape) -> dict[str, Any]:
        return {"std": R.uniform(rng, self.std), "per_channel": self.per_channel, "seed": R.noise_seed(rng)}

    @staticmethod
    def apply(image: Any, params: dict[str, Any]) -> Any:
        return N.add_gaussian_noise(image, params["std"], params["seed"], params["per_channel"])
