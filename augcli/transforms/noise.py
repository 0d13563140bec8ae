"""Noise transforms: Gaussian and salt-and-pepper noise. They leave alpha alone."""

from __future__ import annotations

from typing import Any

from augcli import ops
from augcli import rng as R
from augcli.conventions import fraction_trap
from augcli.declare import Transform, transform
from augcli.params import SEED, Flag, Number, Pair, Range, param

Shape = tuple[int, ...]


@transform("gaussian_noise", doc="Add zero-mean Gaussian noise.",
           notes="Noise values are normal quantiles at 256 levels (tails cut at 2.886 sigma, standard "
                 "deviation 0.3% under std); alpha is left alone. std is in 0-255 units, where "
                 "albumentations' GaussNoise std_range is a fraction of full scale: its 0.2 is 51 here, "
                 "so a std below 1 is refused.")
class GaussianNoise(Transform):
    std: Pair = param(Range(3, 12, bounds=(0, 255), doc="standard deviation in 0-255 units"))
    per_channel: bool = param(Flag(True, doc="independent noise per channel (false: the same for all)"))
    carries = {"std": Number(3, bounds=(0, 255), doc="standard deviation in 0-255 units"),
               "per_channel": Flag(True, doc="independent noise per channel"), "seed": SEED}
    examples = [{}, {"std": 20, "per_channel": False}]

    def check(self) -> tuple[str, str, str, str] | None:
        """A std whose largest value is between 0 and 1 is in another library's 0-1 units: refuse it."""
        return fraction_trap(self.std, "std", "a standard deviation in 0-255 units (0, or 1 and above)")

    def sample(self, rng: Any, shape: Shape) -> dict[str, Any]:
        return {"std": R.uniform(rng, self.std), "per_channel": self.per_channel, "seed": R.noise_seed(rng)}

    @staticmethod
    def apply(image: Any, params: dict[str, Any]) -> Any:
        return ops.add_gaussian_noise(image, params["std"], params["seed"], params["per_channel"])


@transform("salt_pepper", doc="Set random pixels to black (pepper) or full scale (salt).",
           notes="A corrupted pixel changes in all colour channels together; alpha is left alone.")
class SaltPepper(Transform):
    amount: Pair = param(Range(0.01, 0.05, bounds=(0, 1), doc="fraction of pixels corrupted"))
    salt_ratio: Pair = param(Range(0.5, 0.5, bounds=(0, 1), doc="share of salt (full scale) among corrupted pixels"))
    carries = {"amount": Number(0, bounds=(0, 1), doc="fraction of pixels corrupted"),
               "salt_ratio": Number(0.5, bounds=(0, 1), doc="share of salt"), "seed": SEED}
    examples = [{}, {"amount": 0.2, "salt_ratio": [0.2, 0.8]}]

    def sample(self, rng: Any, shape: Shape) -> dict[str, Any]:
        return {
            "amount": R.uniform(rng, self.amount),
            "salt_ratio": R.uniform(rng, self.salt_ratio),
            "seed": R.noise_seed(rng),
        }

    @staticmethod
    def apply(image: Any, params: dict[str, Any]) -> Any:
        return ops.add_salt_pepper(image, params["amount"], params["salt_ratio"], params["seed"])
