"""Test-time augmentation sets: fixed, enumerated views of every input, named and grouped by source.

A variant is a fixed list of ops: an optional crop of a corner or the centre (a fraction of each
side, resized back to the input size, so its box depends on the image's shape) followed by recipe
steps that draw nothing (ranges given as one value, ``p`` 1). Its ops are made in the worker from
the decoded image's shape with a generator that refuses every draw, so a set is the same on every
run, and the manifest's ops column rebuilds each view byte for byte (``augcli replay``).
"""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any, NoReturn, cast

import numpy as np

from augcli.compose import Node, Op, Shape, Step, sample_pipeline
from augcli.errors import InputError, RecipeError, RunError, option, show
from augcli.params import Choice, Number, Param
from augcli.recipe_kinds import Section, check_keys, mapping
from augcli.registry import REGISTRY

CORNERS = ("tl", "tr", "bl", "br", "c")  # torchvision's FiveCrop order: the four corners, then the centre
MAX_VARIANTS = 100
NAME = re.compile(r"[a-z0-9][a-z0-9_]{0,39}")
NAME_TEXT = "a name of at most 40 lowercase letters, digits and _"
SIZE = Number(0.875, bounds=(0.05, 1), doc="side of the crop as a fraction of the image's side")
CROP = Section({"corner": Choice("c", CORNERS, doc="tl, tr, bl, br (corners) or c (centre)"), "size": SIZE})
FIVE_CROP = Section({"size": SIZE})
ANGLE = Number(0, bounds=(-360, 360), unit="deg", doc="rotation angle")
KEYWORDS = ("five_crop", "angles")  # variant shorthands besides transform names
FIXED = "a fixed step (every range as one value, p 1, no drawn noise)"

BuildStep = Callable[[Any, str], Node]  # validates one recipe step (the recipe's own step reader)


class _Drew(RunError):
    """A variant's step tried to draw a random value."""


class _NoDraws:
    """Stands in for a generator: a variant draws nothing, so any use of it is an error."""

    def __getattr__(self, name: str) -> NoReturn:
        raise _Drew(f"a test-time variant drew a random value ({name})")


_NO_DRAWS = cast(np.random.Generator, _NoDraws())


@dataclass(frozen=True)
class Variant:
    """One view of every input: an optional crop (corner, fraction of each side), then fixed steps."""

    name: str
    steps: tuple[Node, ...] = ()
    crop: tuple[str, float] | None = None

    def ops(self, shape: Shape) -> list[Op]:
        """The ops of this view for an image of ``shape``; nothing is drawn."""
        return sample_pipeline(self._crop_steps(shape) + self.steps, _NO_DRAWS, shape)

    def _crop_steps(self, shape: Shape) -> tuple[Node, ...]:
        """``crop`` of the box, then ``resize`` (linear) back to the image's size."""
        if self.crop is None:
            return ()
        corner, size = self.crop
        h, w = shape[0], shape[1]
        cw, ch = max(1, int(w * size + 0.5)), max(1, int(h * size + 0.5))  # half up
        x0 = {"tl": 0, "bl": 0, "tr": w - cw, "br": w - cw}.get(corner, (w - cw) // 2)
        y0 = {"tl": 0, "tr": 0, "bl": h - ch, "br": h - ch}.get(corner, (h - ch) // 2)
        crop = REGISTRY["crop"].build({"box": [x0, y0, x0 + cw, y0 + ch]}, f"tta.{self.name}")
        resize = REGISTRY["resize"].build({"width": w, "height": h, "interpolation": "linear"}, f"tta.{self.name}")
        return Step("crop", crop), Step("resize", resize)

    def to_data(self) -> dict[str, Any]:
        """Canonical form, for the run record (a changed set is refused on resume)."""
        return {"name": self.name, "crop": list(self.crop) if self.crop else None,
                "steps": [node.to_data() for node in self.steps]}


def five_crop(size: float) -> list[Variant]:
    """The four corners and the centre, each ``size`` of each side, named crop_tl ... crop_c."""
    return [Variant(f"crop_{corner}", crop=(corner, size)) for corner in CORNERS]


def _angle_name(angle: float) -> str:
    """``rotate_10``, ``rotate_m10``, ``rotate_2p5``."""
    text = f"{abs(angle):g}".replace(".", "p")
    return f"rotate_{'m' if angle < 0 else ''}{text}"


def _fixed(name: str) -> Variant:
    """A variant of one registered transform with its default parameters (identity, hflip)."""
    return Variant(name, (Step(name, REGISTRY[name].build({}, "tta")),))


DEFAULT: tuple[Variant, ...] = (_fixed("identity"), _fixed("hflip"), *five_crop(float(SIZE.default)))


# ---------------------------------------------------------------- the recipe's ``tta:`` section


@dataclass(frozen=True)
class Variants(Param):
    """The ``variants`` list: transform names or steps, ``five_crop``, ``angles``, or ``{name, crop, steps}``.

    Declared unbound; :meth:`reading` binds the recipe's step reader (steps are validated as in
    ``pipeline``, then refused unless they draw nothing).
    """

    default: None = None
    build_step: BuildStep | None = None
    doc: str = ""

    def describe(self) -> str:
        return (f"a list of 1 to {MAX_VARIANTS} variants: a step (hflip, {{rot90: {{k: 1}}}}), "
                "five_crop, {angles: [...]} or {name, crop, steps}")

    def default_text(self) -> str:
        return "identity, hflip, five_crop"

    def reading(self, build_step: BuildStep) -> Variants:
        return Variants(build_step=build_step, doc=self.doc)

    def validate(self, value: Any, where: str) -> tuple[Variant, ...]:
        if not isinstance(value, list) or not 1 <= len(value) <= MAX_VARIANTS:
            raise RecipeError(where, self.describe(), show(value))
        out: list[Variant] = []
        for i, item in enumerate(value):
            here = f"{where}[{i}]"
            for variant in self._item(item, here):
                if variant.name in {v.name for v in out}:
                    raise RecipeError(here, "a variant name not used before (" + ", ".join(v.name for v in out)
                                      + ")", repr(variant.name),
                                      hint="name it: {name: my_name, steps: [...]}")
                out.append(variant)
        if len(out) > MAX_VARIANTS:
            raise RecipeError(where, f"at most {MAX_VARIANTS} variants", f"{len(out)}")
        return tuple(out)

    def _item(self, item: Any, where: str) -> list[Variant]:
        """One list item: it may stand for several variants (five_crop, angles)."""
        key, body = (item, None) if isinstance(item, str) else (None, None)
        if isinstance(item, dict) and len(item) == 1 and next(iter(item)) not in ("name", "steps", "crop"):
            key, body = next(iter(item.items()))
        if key == "five_crop":
            return five_crop(float(FIVE_CROP.validate(body, f"{where}.five_crop").get("size", SIZE.default)))
        if key == "angles":
            if not isinstance(body, list) or not body:
                raise RecipeError(f"{where}.angles", "a list of angles in [-360, 360] (deg)", show(body))
            angles = [ANGLE.validate(a, f"{where}.angles[{j}]") for j, a in enumerate(body)]
            return [Variant(_angle_name(a), self._steps([{"rotate": {"degrees": a}}], f"{where}.angles"))
                    for a in angles]
        if key is not None:
            return [Variant(str(key), self._steps([item], where, one=True))]
        if not isinstance(item, dict):
            raise RecipeError(where, "a step, five_crop, angles or {name, crop, steps}", show(item))
        return [self._named(item, where)]

    def _named(self, item: dict[Any, Any], where: str) -> Variant:
        """``{name: x, crop: {corner, size}, steps: [...]}``: a name and a crop or steps (or both)."""
        check_keys(item, ["name", "crop", "steps"], where)
        if "name" not in item or not ("crop" in item or "steps" in item):
            raise RecipeError(where, "a mapping with a name and crop or steps", show(sorted(map(str, item))))
        crop = None
        if "crop" in item:
            box = CROP.validate(item["crop"], f"{where}.crop")
            crop = (str(box.get("corner", "c")), float(box.get("size", SIZE.default)))
        steps = item.get("steps") or []
        if not isinstance(steps, list):
            raise RecipeError(f"{where}.steps", "a list of steps", show(steps))
        name = item["name"]
        if not isinstance(name, str) or not NAME.fullmatch(name):
            raise RecipeError(f"{where}.name", NAME_TEXT, show(name))
        return Variant(name, self._steps(steps, f"{where}.steps"), crop)

    def _steps(self, steps: Sequence[Any], where: str, one: bool = False) -> tuple[Node, ...]:
        """Steps read as the recipe reads them (``where[j]``, or ``where`` itself for ``one``), none drawing."""
        assert self.build_step is not None
        nodes = []
        for j, item in enumerate(steps):
            here = where if one else f"{where}[{j}]"
            node = self.build_step(item, here)
            try:
                node.sample(_NO_DRAWS, (64, 64, 3), [])
            except _Drew:
                raise RecipeError(here, FIXED, f"a step that draws random values ({show(item)})",
                                  hint="give every range as one value ([x, x]) and leave p at 1") from None
            nodes.append(node)
        return tuple(nodes)


TTA = Section({"variants": Variants(doc="the views written for every input, in this order")})


def tta_section(value: Any, where: str, build_step: BuildStep) -> tuple[Variant, ...]:
    """Validate a recipe's ``tta:`` section into its variants (``variants`` is required)."""
    section = mapping(value, where)
    if "variants" not in section:
        check_keys(section, list(TTA.keys), where)
        raise RecipeError(where, "a mapping with 'variants: [...]'", show(value),
                          hint="for the built-in set: tta: {variants: [identity, hflip, five_crop]}")
    kind = Section({"variants": Variants().reading(build_step)})
    return cast(tuple[Variant, ...], kind.validate(section, where)["variants"])


# ---------------------------------------------------------------- which set a run writes


def resolve(recipe_set: tuple[Variant, ...] | None, tta: bool | None, copies: int | None) -> tuple[Variant, ...] | None:
    """The set an expand run writes, or None for random copies.

    ``tta=None`` writes the recipe's set when it has a ``tta:`` section; True writes it or the
    built-in :data:`DEFAULT`; False never. Random copies are refused beside a set.
    """
    if tta is False or (tta is None and recipe_set is None):
        return None
    if copies:
        raise InputError(f"{option('copies', copies)}: expected no random copies beside a test-time set "
                         f"(its views are fixed), got {copies} instead; for random copies, run expand with "
                         f"{option('tta', False)} into another folder")
    return recipe_set or DEFAULT
