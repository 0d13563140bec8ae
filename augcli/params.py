"""Parameter kinds: how a declared value is checked, normalised, described and defaulted.

The same kinds declare what a recipe may say (a transform's fields, a group's keywords, the
``balance:`` section) and what a recorded op carries (checked again when a manifest is replayed).
``param(kind)`` declares a transform field with its kind; the transform is a frozen dataclass, so a
built transform is a typed config whose attributes hold the normalised values.
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from augcli.errors import RecipeError, did_you_mean, show


def is_number(value: Any) -> bool:
    """True for int or float, but not bool, and not NaN, infinity or an int too large for a float."""
    if not isinstance(value, int | float) or isinstance(value, bool):
        return False
    try:
        return math.isfinite(value)
    except OverflowError:  # an int beyond about 1e308
        return False


def fmt(x: float) -> str:
    """Format a bound compactly (no trailing .0 for whole numbers)."""
    return str(int(x)) if float(x).is_integer() else str(x)


class Param:
    """Base class of a declared parameter: a default, a one-line doc, validation and description."""

    default: Any = None
    doc: str = ""

    def validate(self, value: Any, where: str) -> Any:  # pragma: no cover - abstract
        """Return the normalised value or raise RecipeError naming ``where``."""
        raise NotImplementedError

    def describe(self) -> str:  # pragma: no cover - abstract
        """Describe the accepted values in words."""
        raise NotImplementedError

    def default_text(self) -> str:
        """Render the default for docs."""
        return show(self.default)

    def counted(self, count: int) -> Param:
        """This kind for a group of ``count`` children; only kinds that depend on the count (weights, n) change."""
        return self


@dataclass(frozen=True)
class Number(Param):
    """A single number within bounds."""

    default: float
    bounds: tuple[float, float] = (-math.inf, math.inf)
    integer: bool = False
    unit: str = ""
    doc: str = ""

    def describe(self) -> str:
        kind = "integer" if self.integer else "number"
        return f"{kind} in {bounds_text(self.bounds)}" + (f" ({self.unit})" if self.unit else "")

    def validate(self, value: Any, where: str) -> float:
        if not is_number(value) or (self.integer and not float(value).is_integer()):
            raise RecipeError(where, self.describe(), show(value))
        lo, hi = self.bounds
        if not lo <= value <= hi:
            raise RecipeError(where, self.describe(), show(value))
        return int(value) if self.integer else float(value)


def bounds_text(bounds: tuple[float, float]) -> str:
    """Render bounds as ``[lo, hi]`` with open ends in words."""
    lo, hi = bounds
    if math.isinf(lo) and math.isinf(hi):
        return "any range"
    if math.isinf(hi):
        return f"[{fmt(lo)}, ∞)"
    if math.isinf(lo):
        return f"(-∞, {fmt(hi)}]"
    return f"[{fmt(lo)}, {fmt(hi)}]"


@dataclass(frozen=True)
class Range(Param):
    """A number (that exact value) or ``[lo, hi]`` (drawn uniformly), within bounds.

    With ``symmetric`` the number is a magnitude instead: x means [-x, x]
    (used by parameters named ``limit``).
    """

    lo: float
    hi: float
    bounds: tuple[float, float] = (-math.inf, math.inf)
    integer: bool = False
    unit: str = ""
    doc: str = ""
    symmetric: bool = False

    @property
    def default(self) -> tuple[float, float]:  # type: ignore[override]
        return (self.lo, self.hi)

    def default_text(self) -> str:
        if self.symmetric and self.lo == -self.hi:
            return fmt(self.hi)
        return fmt(self.lo) if self.lo == self.hi else f"[{fmt(self.lo)}, {fmt(self.hi)}]"

    def describe(self) -> str:
        kind = "integer" if self.integer else "number"
        first = f"{kind} x (meaning [-x, x])" if self.symmetric else kind
        return f"{first} or [lo, hi] in {bounds_text(self.bounds)}" + (f" ({self.unit})" if self.unit else "")

    def validate(self, value: Any, where: str) -> tuple[float, float]:
        if self.symmetric and is_number(value):
            value = [-abs(value), abs(value)]
        pair = [value, value] if is_number(value) else value
        ok = isinstance(pair, list | tuple) and len(pair) == 2 and all(is_number(v) for v in pair)
        if ok and self.integer:
            ok = all(float(v).is_integer() for v in pair)
        if not ok:
            raise RecipeError(where, self.describe(), show(value))
        lo, hi = (int(v) if self.integer else float(v) for v in pair)
        if lo > hi:
            raise RecipeError(where, self.describe(), f"{show(value)} (lo > hi)")
        if not (self.bounds[0] <= lo and hi <= self.bounds[1]):
            raise RecipeError(where, self.describe(), f"{show(value)} (outside {bounds_text(self.bounds)})")
        return (lo, hi)


@dataclass(frozen=True)
class Factor(Range):
    """A factor range as torchvision's ColorJitter takes it: b means [max(0, 1 - b), 1 + b], or ``[lo, hi]``."""

    def describe(self) -> str:
        return f"number b (meaning [max(0, 1 - b), 1 + b]) or [lo, hi] in {bounds_text(self.bounds)}"

    def default_text(self) -> str:
        return f"[{fmt(self.lo)}, {fmt(self.hi)}]"

    def validate(self, value: Any, where: str) -> tuple[float, float]:
        if is_number(value):
            if value < 0:
                raise RecipeError(where, self.describe(), f"{show(value)} (b < 0)")
            value = [max(0.0, 1.0 - value), 1.0 + value]
        return super().validate(value, where)


@dataclass(frozen=True)
class Choice(Param):
    """One of a fixed set of strings."""

    default: str
    options: tuple[str, ...] = ()
    doc: str = ""

    def describe(self) -> str:
        return "one of " + ", ".join(self.options)

    def validate(self, value: Any, where: str) -> str:
        if value not in self.options:
            hint = did_you_mean(value, self.options) if isinstance(value, str) else None
            raise RecipeError(where, self.describe(), show(value), hint=hint)
        return str(value)


@dataclass(frozen=True)
class Flag(Param):
    """true or false."""

    default: bool
    doc: str = ""

    def describe(self) -> str:
        return "true or false"

    def default_text(self) -> str:
        return "true" if self.default else "false"

    def validate(self, value: Any, where: str) -> bool:
        if not isinstance(value, bool):
            raise RecipeError(where, self.describe(), show(value))
        return value


@dataclass(frozen=True)
class Fill(Param):
    """A fill colour in 0-255 units: one number for every channel, or one per channel (B, G, R[, A])."""

    default: float | str | tuple[float, ...] = 0
    allow_random: bool = False
    doc: str = "fill value in 0-255 units (scaled for 16-bit images)"

    def describe(self) -> str:
        text = "number or [b, g, r] / [b, g, r, a] in [0, 255]"
        return text + (", or 'random'" if self.allow_random else "")

    def validate(self, value: Any, where: str) -> float | str | tuple[float, ...]:
        if self.allow_random and value == "random":
            return "random"
        items = [value] if is_number(value) else value
        ok = isinstance(items, list | tuple) and len(items) in ((1,) if is_number(value) else (3, 4))
        if not ok or not all(is_number(v) and 0 <= v <= 255 for v in items):
            raise RecipeError(where, self.describe(), show(value))
        return float(value) if is_number(value) else tuple(float(v) for v in items)


@dataclass(frozen=True)
class Numbers(Param):
    """A fixed-length list of numbers within bounds (a box, a size)."""

    default: tuple[float, ...] | None
    length: int = 2
    bounds: tuple[float, float] = (-math.inf, math.inf)
    integer: bool = False
    names: str = ""
    doc: str = ""

    def describe(self) -> str:
        kind = "integers" if self.integer else "numbers"
        names = f"[{self.names}]" if self.names else f"a list of {self.length}"
        return f"{names} ({kind} in {bounds_text(self.bounds)})"

    def validate(self, value: Any, where: str) -> tuple[float, ...] | None:
        if value is None and self.default is None:
            return None
        ok = isinstance(value, list | tuple) and len(value) == self.length
        ok = ok and all(is_number(v) and self.bounds[0] <= v <= self.bounds[1] for v in value)
        if ok and self.integer:
            ok = all(float(v).is_integer() for v in value)
        if not ok:
            raise RecipeError(where, self.describe(), show(value))
        return tuple(int(v) if self.integer else float(v) for v in value)


@dataclass(frozen=True)
class Text(Param):
    """A free string, optionally checked by a predicate (used for ``custom`` function paths)."""

    default: str | None = None
    check: Callable[[str], str | None] | None = None
    what: str = "string"
    doc: str = ""

    def describe(self) -> str:
        return self.what

    def validate(self, value: Any, where: str) -> str:
        if not isinstance(value, str) or not value:
            raise RecipeError(where, self.describe(), show(value))
        problem = self.check(value) if self.check else None
        if problem:
            raise RecipeError(where, self.describe(), f"{show(value)} ({problem})")
        return value


@dataclass(frozen=True)
class Points(Param):
    """A fixed number of ``[x, y]`` points (finite numbers, any sign): corners an op moves."""

    default: None = None
    length: int = 4
    doc: str = ""

    def describe(self) -> str:
        return f"a list of {self.length} [x, y] points"

    def validate(self, value: Any, where: str) -> list[list[float]]:
        ok = isinstance(value, list | tuple) and len(value) == self.length
        ok = ok and all(isinstance(p, list | tuple) and len(p) == 2 and all(is_number(v) for v in p) for p in value)
        if not ok:
            raise RecipeError(where, self.describe(), show(value))
        return [[float(x), float(y)] for x, y in value]


@dataclass(frozen=True)
class Plain(Param):
    """Plain data as JSON holds it (numbers, strings, true/false, null, lists, string-keyed mappings)."""

    default: Any = None
    doc: str = ""

    def describe(self) -> str:
        return "plain data (numbers, strings, true/false, null, lists, mappings)"

    def validate(self, value: Any, where: str) -> Any:
        if value is None or isinstance(value, bool | int | str):
            return value
        if isinstance(value, float):
            if not math.isfinite(value):
                raise RecipeError(where, "a finite number", show(value))
            return value
        if isinstance(value, list | tuple):
            return [self.validate(v, f"{where}[{i}]") for i, v in enumerate(value)]
        if isinstance(value, Mapping):
            for key in value:
                if not isinstance(key, str):
                    raise RecipeError(f"{where}.{key}", "a string key", show(key))
            return {k: self.validate(v, f"{where}.{k}") for k, v in value.items()}
        raise RecipeError(where, self.describe(), f"{show(value)} ({type(value).__name__})")


@dataclass(frozen=True)
class OpList(Param):
    """A list of recorded ops ``{name, params}`` (a policy's nested ops; each is checked by its own declaration)."""

    default: None = None
    doc: str = ""

    def describe(self) -> str:
        return "a list of ops, each {name: a transform name, params: a mapping}"

    def validate(self, value: Any, where: str) -> list[dict[str, Any]]:
        ok = isinstance(value, list) and all(
            isinstance(op, Mapping) and set(op) == {"name", "params"} and isinstance(op["name"], str)
            and isinstance(op["params"], Mapping) for op in value)
        if not ok:
            raise RecipeError(where, self.describe(), show(value))
        return list(value)


@dataclass(frozen=True)
class MayOmit(Param):
    """A key an op may leave out (written only by some versions or some cases); when present, checked by ``kind``."""

    kind: Param
    default: None = None
    doc: str = ""

    def describe(self) -> str:
        return self.kind.describe() + " (may be left out)"

    def validate(self, value: Any, where: str) -> Any:
        return self.kind.validate(value, where)


@dataclass(frozen=True)
class Nullable(Param):
    """null, or a value checked by ``kind``."""

    kind: Param
    default: None = None
    doc: str = ""

    def describe(self) -> str:
        return self.kind.describe() + ", or null"

    def validate(self, value: Any, where: str) -> Any:
        return None if value is None else self.kind.validate(value, where)


@dataclass(frozen=True)
class ListOf(Param):
    """A list of up to ``most`` values, each checked by ``kind``."""

    kind: Param
    most: int = 100_000
    default: None = None
    doc: str = ""

    def describe(self) -> str:
        return f"a list of up to {self.most} items, each {self.kind.describe()}"

    def validate(self, value: Any, where: str) -> list[Any]:
        if not isinstance(value, list | tuple) or len(value) > self.most:
            raise RecipeError(where, self.describe(), show(value))
        return [self.kind.validate(item, f"{where}[{i}]") for i, item in enumerate(value)]


def param(kind: Param) -> Any:
    """Declare a transform field checked and described by ``kind``; its default is the kind's default."""
    return dataclasses.field(default=kind.default, metadata={"param": kind})


def declared(field: dataclasses.Field[Any]) -> Param | None:
    """The kind a dataclass field was declared with by :func:`param`, or None for a plain field."""
    kind = field.metadata.get("param")
    return kind if isinstance(kind, Param) else None


def op_kind(kind: Param) -> Param:
    """The kind of the value an op records for a recipe parameter: a drawn number for a range, else the same."""
    if isinstance(kind, Range):
        return Number(kind.lo, bounds=kind.bounds, integer=kind.integer, unit=kind.unit, doc=kind.doc)
    return kind


# Shared parameters, declared once and reused by every transform that takes them.
SEED = Number(0, bounds=(0, 2**63 - 1), integer=True, doc="seed of the op's own generator (noise, fields)")
WARP_KEYS = ("border", "fill", "interpolation")
P = Number(1.0, bounds=(0, 1), doc="probability that the step runs")  # every step and group takes it
BORDER = Choice("reflect", ("constant", "reflect", "replicate", "wrap"), doc="how pixels outside the image are filled")
FILL = Fill(0)
INTERPOLATION = Choice("linear", ("nearest", "linear", "cubic", "area", "lanczos"), doc="resampling filter")

# Types of declared fields, for the typed configs.
Pair = tuple[float, float]  # a Range or Factor
IntPair = tuple[int, int]  # an integer Range
