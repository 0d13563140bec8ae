"""Declaration primitives: parameter kinds, the ``@transform`` decorator and the registry.

A transform is declared once, as a small class whose attributes are ``Param``s.
That declaration drives the registry, recipe validation, ``augcli transforms``,
the generated docs and the common tests.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any, ClassVar

from augcli.errors import RecipeError, did_you_mean, show
from augcli.formats import MAX_SIDE  # noqa: F401  (re-exported: declarations and recipes bound sizes by it)

REGISTRY: dict[str, TransformSpec] = {}
# MAX_SIDE: the largest image side in pixels a step may produce (declared sizes, and checked when sampling).


def _is_number(value: Any) -> bool:
    """True for int or float, but not bool, and not NaN, infinity or an int too large for a float."""
    if not isinstance(value, int | float) or isinstance(value, bool):
        return False
    try:
        return math.isfinite(value)
    except OverflowError:  # an int beyond about 1e308
        return False


def _fmt(x: float) -> str:
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
        return f"{kind} in {_bounds_text(self.bounds)}" + (f" ({self.unit})" if self.unit else "")

    def validate(self, value: Any, where: str) -> float:
        if not _is_number(value) or (self.integer and not float(value).is_integer()):
            raise RecipeError(where, self.describe(), show(value))
        lo, hi = self.bounds
        if not lo <= value <= hi:
            raise RecipeError(where, self.describe(), show(value))
        return int(value) if self.integer else float(value)


def _bounds_text(bounds: tuple[float, float]) -> str:
    """Render bounds as ``[lo, hi]`` with open ends in words."""
    lo, hi = bounds
    if math.isinf(lo) and math.isinf(hi):
        return "any range"
    if math.isinf(hi):
        return f"[{_fmt(lo)}, ∞)"
    if math.isinf(lo):
        return f"(-∞, {_fmt(hi)}]"
    return f"[{_fmt(lo)}, {_fmt(hi)}]"


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
            return _fmt(self.hi)
        return _fmt(self.lo) if self.lo == self.hi else f"[{_fmt(self.lo)}, {_fmt(self.hi)}]"

    def describe(self) -> str:
        kind = "integer" if self.integer else "number"
        first = f"{kind} x (meaning [-x, x])" if self.symmetric else kind
        return f"{first} or [lo, hi] in {_bounds_text(self.bounds)}" + (f" ({self.unit})" if self.unit else "")

    def validate(self, value: Any, where: str) -> tuple[float, float]:
        if self.symmetric and _is_number(value):
            value = [-abs(value), abs(value)]
        pair = [value, value] if _is_number(value) else value
        ok = isinstance(pair, list | tuple) and len(pair) == 2 and all(_is_number(v) for v in pair)
        if ok and self.integer:
            ok = all(float(v).is_integer() for v in pair)
        if not ok:
            raise RecipeError(where, self.describe(), show(value))
        lo, hi = (int(v) if self.integer else float(v) for v in pair)
        if lo > hi:
            raise RecipeError(where, self.describe(), f"{show(value)} (lo > hi)")
        if not (self.bounds[0] <= lo and hi <= self.bounds[1]):
            raise RecipeError(where, self.describe(), f"{show(value)} (outside {_bounds_text(self.bounds)})")
        return (lo, hi)


@dataclass(frozen=True)
class Factor(Range):
    """A factor range as torchvision's ColorJitter takes it: b means [max(0, 1 - b), 1 + b], or ``[lo, hi]``."""

    def describe(self) -> str:
        return f"number b (meaning [max(0, 1 - b), 1 + b]) or [lo, hi] in {_bounds_text(self.bounds)}"

    def default_text(self) -> str:
        return f"[{_fmt(self.lo)}, {_fmt(self.hi)}]"

    def validate(self, value: Any, where: str) -> tuple[float, float]:
        if _is_number(value):
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

    default: float | tuple[float, ...] = 0
    allow_random: bool = False
    doc: str = "fill value in 0-255 units (scaled for 16-bit images)"

    def describe(self) -> str:
        text = "number or [b, g, r] / [b, g, r, a] in [0, 255]"
        return text + (", or 'random'" if self.allow_random else "")

    def validate(self, value: Any, where: str) -> float | str | tuple[float, ...]:
        if self.allow_random and value == "random":
            return "random"
        items = [value] if _is_number(value) else value
        ok = isinstance(items, list | tuple) and len(items) in ((1,) if _is_number(value) else (3, 4))
        if not ok or not all(_is_number(v) and 0 <= v <= 255 for v in items):
            raise RecipeError(where, self.describe(), show(value))
        return float(value) if _is_number(value) else tuple(float(v) for v in items)


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
        return f"{names} ({kind} in {_bounds_text(self.bounds)})"

    def validate(self, value: Any, where: str) -> tuple[float, ...] | None:
        if value is None and self.default is None:
            return None
        ok = isinstance(value, list | tuple) and len(value) == self.length
        ok = ok and all(_is_number(v) and self.bounds[0] <= v <= self.bounds[1] for v in value)
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


# Shared parameters, declared once and reused by every transform that takes them.
WARP_KEYS = ("border", "fill", "interpolation")
P = Number(1.0, bounds=(0, 1), doc="probability that the step runs")
BORDER = Choice("reflect", ("constant", "reflect", "replicate", "wrap"), doc="how pixels outside the image are filled")
FILL = Fill(0)
INTERPOLATION = Choice("linear", ("nearest", "linear", "cubic", "area", "lanczos"), doc="resampling filter")


class Transform:
    """Base of every declared transform: holds validated, normalised parameter values.

    Subclasses declare ``Param`` attributes and implement ``sample`` plus either
    ``apply`` (pixel ops) or ``matrix`` (geometric ops that ``render`` fuses).
    Instances are frozen and picklable, and hold no random state.
    """

    spec: ClassVar[TransformSpec]
    examples: ClassVar[list[dict[str, Any]]] = []
    deterministic: ClassVar[bool] = False  # with default parameters, nothing is drawn
    exact: ClassVar[bool] = False  # geometric op that is a pure index permutation or crop
    inputs: ClassVar[int] = 1  # > 1: combines several source images (made by balance, not usable in recipes)

    def __init__(self, **values: Any) -> None:
        for name, value in values.items():
            object.__setattr__(self, name, value)

    def __setattr__(self, name: str, value: Any) -> None:
        raise AttributeError(f"{type(self).__name__} is frozen")

    def __eq__(self, other: object) -> bool:
        return type(self) is type(other) and self.values() == other.values()  # type: ignore[attr-defined]

    def __hash__(self) -> int:
        return hash((type(self).__name__, repr(sorted(self.values().items()))))

    def __repr__(self) -> str:
        args = ", ".join(f"{k}={v!r}" for k, v in self.values().items())
        return f"{type(self).__name__}({args})"

    def values(self) -> dict[str, Any]:
        """Return the validated parameter values by name."""
        return {name: getattr(self, name) for name in self.spec.params}

    def settings(self, *names: str) -> dict[str, Any]:
        """Return static (not sampled) settings as plain JSON values, for the op's params."""
        out = {}
        for name in names:
            value = getattr(self, name)
            out[name] = list(value) if isinstance(value, tuple) else value
        return out

    def sample(self, rng: Any, shape: tuple[int, ...]) -> dict[str, Any]:
        """Draw this step's parameters; the only place a transform uses randomness.

        The default draws every declared ``Range`` (uniformly, or as an integer) and passes every
        other parameter through, in declaration order, under the parameter's own name. A
        transform whose kernel wants other names or extra draws overrides it.
        """
        from augcli import rng as R

        out: dict[str, Any] = {}
        for name, param in self.spec.params.items():
            value = getattr(self, name)
            if isinstance(param, Range):
                out[name] = R.integer(rng, value) if param.integer else R.uniform(rng, value)
            else:
                out[name] = list(value) if isinstance(value, tuple) else value
        return out

    @staticmethod
    def apply(image: Any, params: dict[str, Any]) -> Any:  # pragma: no cover - abstract
        """Apply recorded parameters to an image; pure and deterministic."""
        raise NotImplementedError

    @classmethod
    def is_geometric(cls) -> bool:
        """True when the transform declares a matrix that ``render`` can fuse."""
        return hasattr(cls, "matrix")

    @staticmethod
    def out_shape(params: dict[str, Any], shape: tuple[int, ...]) -> tuple[int, ...]:
        """Return the image shape after this op (pixel ops keep it)."""
        return shape


@dataclass(frozen=True)
class TransformSpec:
    """Everything known about one declared transform."""

    name: str
    family: str
    doc: str
    cls: type[Transform]
    params: Mapping[str, Param] = field(default_factory=dict)
    notes: str = ""

    def build(self, values: Mapping[str, Any] | None, where: str) -> Transform:
        """Validate user values (unknown keys are errors) and return a frozen transform."""
        values = {} if values is None else values
        if not isinstance(values, Mapping):
            raise RecipeError(where, f"a mapping of parameters for '{self.name}'", show(values))
        for key in values:
            if key not in self.params:
                known = ", ".join(self.params) or "none"
                raise RecipeError(
                    f"{where}.{key}", f"a parameter of '{self.name}' ({known})", show(key),
                    hint=did_you_mean(key, list(self.params)),
                )
        normalised = {}
        for name, param in self.params.items():
            if name in values:
                normalised[name] = param.validate(values[name], f"{where}.{name}")
            else:
                normalised[name] = param.default
        transform = self.cls(**normalised)
        check = getattr(transform, "check", None)
        if check is not None:
            problem = check()
            if problem:  # (expected, got) or (expected, got, parameter name, hint)
                param, hint = (problem[2], problem[3]) if len(problem) > 2 else (None, None)
                raise RecipeError(f"{where}.{param}" if param else where, problem[0], problem[1], hint=hint)
        return transform


def transform(name: str, *, family: str, doc: str, notes: str = "") -> Callable[[type[Transform]], type[Transform]]:
    """Class decorator: register a transform declared by its ``Param`` attributes."""

    def register(cls: type[Transform]) -> type[Transform]:
        if name in REGISTRY:
            raise ValueError(f"transform {name!r} is declared twice")
        params: dict[str, Param] = {}
        for klass in cls.__mro__:  # own parameters first; a subclass overrides its bases
            for attr, value in vars(klass).items():
                if isinstance(value, Param) and not attr.startswith("_"):
                    params.setdefault(attr, value)
        params.pop("p", None)  # p belongs to the step, not the transform
        spec = TransformSpec(name=name, family=family, doc=doc, cls=cls, params=params, notes=notes)
        cls.spec = spec
        REGISTRY[name] = spec
        return cls

    return register


class Resampling(Transform):
    """Base of transforms that resample pixels: they carry border, fill and interpolation."""

    border = BORDER
    fill = FILL
    interpolation = INTERPOLATION

    def warp_settings(self) -> dict[str, Any]:
        """The static resampling settings, recorded with every sampled op."""
        return self.settings(*WARP_KEYS)
