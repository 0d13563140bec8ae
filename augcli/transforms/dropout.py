"""Occlusion and compression transforms. They leave alpha alone."""

from __future__ import annotations

import math
from typing import Any

from augcli import ops
from augcli import rng as R
from augcli.declare import Transform, transform
from augcli.formats import MAX_SIDE
from augcli.params import SEED, Fill, Flag, IntPair, ListOf, Nullable, Number, Numbers, Pair, Range, param

Shape = tuple[int, ...]

BOX = Numbers(None, length=4, bounds=(0, MAX_SIDE), integer=True, names="x0, y0, x1, y1")
CHANNEL = Number(0, bounds=(0, 3), integer=True, doc="channel index")
_HOLE_FILL = "value or colour in 0-255 units, or 'random' for uniform noise in each hole"
HOLE_FILL = {"fill": Fill(0, allow_random=True, doc=_HOLE_FILL), "seed": Nullable(SEED, doc="seed of 'random'")}
_ERASE_ATTEMPTS = 10  # as torchvision's RandomErasing


def _colour_count(shape: Shape) -> int:
    """Number of colour channels (alpha excluded) of an image shape."""
    return 1 if shape[2] == 1 else 3


def _fill_settings(transform: Transform, rng: Any) -> dict[str, Any]:
    """The recorded fill, plus a noise seed when it is 'random' (None otherwise)."""
    fill = transform.settings("fill")["fill"]
    return {"fill": fill, "seed": R.noise_seed(rng) if fill == "random" else None}


@transform("coarse_dropout", doc="Cut rectangular holes at random places.",
           notes="Hole height and width are drawn separately from size. Boxes are recorded as "
                 "[x0, y0, x1, y1], end-exclusive. With per_channel a hole drops "
                 "one random colour channel (coloured holes); alpha is left alone.")
class CoarseDropout(Transform):
    count: IntPair = param(Range(1, 8, bounds=(0, 1000), integer=True, doc="number of holes"))
    size: Pair = param(Range(0.05, 0.2, bounds=(0, 1),
                             doc="hole height and width, each a fraction of the shorter side"))
    fill: float | str | tuple[float, ...] = param(Fill(0, allow_random=True, doc=_HOLE_FILL))
    per_channel: bool = param(Flag(False, doc="each hole drops one random colour channel instead of all of them"))
    carries = {"boxes": ListOf(BOX, most=1000, doc="holes [x0, y0, x1, y1], end-exclusive"),
               "channels": Nullable(ListOf(CHANNEL, most=1000), doc="the channel each hole drops"),
               **HOLE_FILL}
    examples = [{}, {"count": [2, 4], "size": [0.1, 0.3], "fill": "random"},
                {"per_channel": True, "fill": [255, 0, 128]}]

    def sample(self, rng: Any, shape: Shape) -> dict[str, Any]:
        height, width = shape[0], shape[1]
        short = min(height, width)
        boxes = []
        for _ in range(R.integer(rng, self.count)):
            h = min(height, round(R.uniform(rng, self.size) * short))
            w = min(width, round(R.uniform(rng, self.size) * short))
            y0, x0 = R.integer(rng, (0, height - h)), R.integer(rng, (0, width - w))
            boxes.append([x0, y0, x0 + w, y0 + h])
        channels = None
        if self.per_channel:
            channels = [R.integer(rng, (0, _colour_count(shape) - 1)) for _ in boxes]
        return {"boxes": boxes, "channels": channels, **_fill_settings(self, rng)}

    @staticmethod
    def apply(image: Any, params: dict[str, Any]) -> Any:
        return ops.coarse_dropout(image, params["boxes"], params["fill"], params["channels"], params["seed"])


@transform("random_erasing", doc="Erase one random rectangle (Zhong et al. 2017).",
           notes="As torchvision's RandomErasing: up to 10 tries to fit a box of the drawn area and "
                 "aspect ratio (height / width, drawn log-uniformly); if none fits, box is null and "
                 "the image is unchanged. Alpha is left alone.")
class RandomErasing(Transform):
    area: Pair = param(Range(0.02, 0.33, bounds=(0, 1), doc="erased area, fraction of the image"))
    ratio: Pair = param(Range(0.3, 3.3, bounds=(0.01, 100), doc="aspect ratio height / width, drawn log-uniformly"))
    fill: float | str | tuple[float, ...] = param(Fill("random", allow_random=True, doc=_HOLE_FILL))
    carries = {"box": Nullable(BOX, doc="the erased box, or null when none fitted"),
               **HOLE_FILL}
    examples = [{}, {"area": [0.1, 0.2], "ratio": 1, "fill": 128}]

    def sample(self, rng: Any, shape: Shape) -> dict[str, Any]:
        return {"box": self._box(rng, shape[0], shape[1]), **_fill_settings(self, rng)}

    def _box(self, rng: Any, height: int, width: int) -> list[int] | None:
        """Draw a box [x0, y0, x1, y1] that fits inside the image, or None after 10 misses."""
        log_ratio = (math.log(self.ratio[0]), math.log(self.ratio[1]))
        for _ in range(_ERASE_ATTEMPTS):
            area = height * width * R.uniform(rng, self.area)
            aspect = math.exp(R.uniform(rng, log_ratio))
            h, w = round(math.sqrt(area * aspect)), round(math.sqrt(area / aspect))
            if 0 < h < height and 0 < w < width:
                y0, x0 = R.integer(rng, (0, height - h)), R.integer(rng, (0, width - w))
                return [x0, y0, x0 + w, y0 + h]
        return None

    @staticmethod
    def apply(image: Any, params: dict[str, Any]) -> Any:
        box = params["box"]
        return ops.coarse_dropout(image, [box] if box else [], params["fill"], None, params["seed"])


@transform("jpeg_compression", doc="Compress to JPEG and decode again.",
           notes="OpenCV's encoder with 4:2:0 chroma subsampling. JPEG is 8-bit here: a 16-bit image is "
                 "reduced to 8 bits, compressed and scaled back, so it also loses its low byte. "
                 "Alpha is kept as it is.")
class JpegCompression(Transform):
    quality: IntPair = param(Range(50, 95, bounds=(1, 100), integer=True, doc="JPEG quality (100 is best)"))
    examples = [{}, {"quality": 10}]

    @staticmethod
    def apply(image: Any, params: dict[str, Any]) -> Any:
        return ops.compress_jpeg(image, params["quality"])
