"""Declaring a transform: the base class, the ``@transform`` decorator and the roles a transform may play.

A transform is declared once, as a frozen dataclass whose fields are declared with
``param(kind)``: what a recipe may say. ``carries`` declares, in the same kinds, what each
recorded op holds: what ``apply`` or ``matrix`` reads, and what a replay checks. A built
transform is a frozen, typed config; it holds no random state.

Optional roles are named by a Protocol each and found once, when the class is declared:
``matrix`` (geometric: ``render`` fuses it with its neighbours), ``combine`` (several source
images, planned by balance), ``mix`` (a recipe step mixing the image with drawn partners),
``expand`` (the op holds nested ops, as the policies do), ``check`` (a rule across fields) and
``extra_keys`` (keys the declaration does not name, as ``custom`` takes).
The registry of declared transforms is ``augcli.registry``.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, ClassVar, Protocol, TypeVar

from augcli import rng as R
from augcli.errors import RecipeError, did_you_mean, show
from augcli.params import (
    BORDER,
    FILL,
    INTERPOLATION,
    WARP_KEYS,
    MayOmit,
    OpList,
    Param,
    Range,
    declared,
    op_kind,
    param,
)

if TYPE_CHECKING:
    import numpy as np
    from typing_extensions import dataclass_transform

    from augcli.ops._image import Image
    from augcli.ops.geometric import Matrix, Size
else:
    def dataclass_transform(**_: Any) -> Callable[[Any], Any]:
        """Tell type checkers that a decorator makes dataclasses (PEP 681); nothing at run time."""
        return lambda target: target

Shape = tuple[int, ...]
Params = dict[str, Any]  # an op's recorded parameters
Op = dict[str, Any]  # {"name": registry name, "params": Params}
T = TypeVar("T", bound="type[Transform]")


class MatrixRole(Protocol):
    """Geometric: the op is a matrix and an output size (``render`` resamples, alone or fused)."""

    def __call__(self, params: Params, shape: Shape) -> tuple[Matrix, Size]: ...


class CombineRole(Protocol):
    """Combining: one image from several source images (SMOTE and mixup blends)."""

    def __call__(self, images: list[Image], params: Params) -> Image: ...


class MixRole(Protocol):
    """Multi-image step of a recipe: mixes the image with its partners (each already rendered through
    its own recorded ops), as mixup, CutMix and mosaic do."""

    def __call__(self, image: Image, partners: list[Image], params: Params) -> Image: ...


class ExpandRole(Protocol):
    """Nested: the op holds ops that ``render`` applies in its place (the policies)."""

    def __call__(self, params: Params) -> Sequence[Op]: ...


class CheckRole(Protocol):
    """A rule across fields: None, or (expected, got) or (expected, got, parameter, hint)."""

    def __call__(self) -> tuple[str, ...] | None: ...


class ExtraKeysRole(Protocol):
    """Keys the declaration does not name: checked and returned as the transform's ``extra``."""

    def __call__(self, values: Mapping[str, Any], extra: Mapping[str, Any], where: str) -> dict[str, Any]: ...


@dataclass(frozen=True)
class Transform:
    """Base of every declared transform.

    Subclasses declare fields with ``param(kind)``, say what their ops carry in ``carries`` (derived
    from the fields when ``sample`` is not overridden), and implement ``apply`` (pixel ops) or a
    ``matrix`` static method (geometric ops that ``render`` fuses).
    """

    spec: ClassVar[TransformSpec]
    carries: ClassVar[Mapping[str, Param] | None] = None  # the op's parameters; None: one per field
    examples: ClassVar[list[dict[str, Any]]] = []
    deterministic: ClassVar[bool] = False  # with default parameters, nothing is drawn
    exact: ClassVar[bool] = False  # geometric op that is a pure index permutation or crop
    inputs: ClassVar[int] = 1  # > 1: combines several source images (made by balance, not usable in recipes)
    partners: ClassVar[int] = 0  # > 0: a recipe step that draws this many partner images (the mix role)
    planned: ClassVar[bool] = False  # recorded by augcli itself (balance, reduced decoding), never a recipe step

    def partner_count(self) -> int:
        """How many partner images a recipe step of this transform draws (0: a single-image step)."""
        return self.partners

    def values(self) -> dict[str, Any]:
        """Return the validated parameter values by name, in declaration order."""
        return {name: getattr(self, name) for name in self.spec.params}

    def settings(self, *names: str) -> dict[str, Any]:
        """Return static (not sampled) settings as plain JSON values, for the op's params."""
        out = {}
        for name in names:
            value = getattr(self, name)
            out[name] = list(value) if isinstance(value, tuple) else value
        return out

    def sample(self, rng: np.random.Generator, shape: Shape) -> Params:
        """Draw this step's parameters; the only place a transform uses randomness.

        The default draws every declared ``Range`` (uniformly, or as an integer) and passes every
        other parameter through, in declaration order, under the parameter's own name. A
        transform whose kernel wants other names or extra draws overrides it (and declares ``carries``).
        """
        out: Params = {}
        for name, kind in self.spec.params.items():
            value = getattr(self, name)
            if isinstance(kind, Range):
                out[name] = R.integer(rng, value) if kind.integer else R.uniform(rng, value)
            else:
                out[name] = list(value) if isinstance(value, tuple) else value
        return out

    @staticmethod
    def apply(image: Image, params: Params) -> Image:  # pragma: no cover - abstract
        """Apply recorded parameters to an image; pure and deterministic."""
        raise NotImplementedError

    @staticmethod
    def out_shape(params: Params, shape: Shape) -> Shape:
        """Return the image shape after this op (pixel ops keep it)."""
        return shape


@dataclass(frozen=True)
class Resampling(Transform):
    """Base of transforms that resample pixels: they carry border, fill and interpolation."""

    border: str = param(BORDER)
    fill: float | str | tuple[float, ...] = param(FILL)
    interpolation: str = param(INTERPOLATION)

    def warp_settings(self) -> Params:
        """The static resampling settings, recorded with every sampled op."""
        return self.settings(*WARP_KEYS)


WARP_OP: dict[str, Param] = {"border": BORDER, "fill": FILL, "interpolation": INTERPOLATION}


@dataclass(frozen=True)
class TransformSpec:
    """Everything known about one declared transform."""

    name: str
    family: str
    doc: str
    cls: type[Transform]
    params: Mapping[str, Param] = field(default_factory=dict)  # what a recipe may say
    carries: Mapping[str, Param] = field(default_factory=dict)  # what an op holds
    notes: str = ""
    matrix: MatrixRole | None = None
    combine: CombineRole | None = None
    mix: MixRole | None = None
    expand: ExpandRole | None = None
    extra_keys: ExtraKeysRole | None = None

    @property
    def geometric(self) -> bool:
        """True when ``render`` can fuse the op into a warp."""
        return self.matrix is not None

    def build(self, values: Mapping[str, Any] | None, where: str) -> Transform:
        """Validate user values (unknown keys are errors) and return a frozen transform."""
        values = {} if values is None else values
        if not isinstance(values, Mapping):
            raise RecipeError(where, f"a mapping of parameters for '{self.name}'", show(values))
        unknown = {key: value for key, value in values.items() if key not in self.params}
        extra: dict[str, Any] | None = None
        if self.extra_keys is not None:
            extra = self.extra_keys(values, unknown, where)
        elif unknown:
            key = next(iter(unknown))
            known = ", ".join(self.params) or "none"
            raise RecipeError(f"{where}.{key}", f"a parameter of '{self.name}' ({known})", show(key),
                              hint=did_you_mean(key, list(self.params)))
        normalised = {name: kind.validate(values[name], f"{where}.{name}") if name in values else kind.default
                      for name, kind in self.params.items()}
        built = self.cls(**normalised) if extra is None else self.cls(**normalised, extra=extra)  # type: ignore[call-arg]
        check: CheckRole | None = getattr(built, "check", None)
        problem = check() if check is not None else None
        if problem:
            param_name, hint = (problem[2], problem[3]) if len(problem) > 2 else (None, None)
            raise RecipeError(f"{where}.{param_name}" if param_name else where, problem[0], problem[1], hint=hint)
        return built

    def check_op(self, params: Any, where: str) -> list[Op]:
        """Check a recorded op's parameters against ``carries``; return its nested ops (to check in turn)."""
        if not isinstance(params, Mapping):
            raise RecipeError(where, f"a mapping of op parameters for '{self.name}'", show(params))
        expected, got = set(self.carries), set(params)
        optional = {name for name, kind in self.carries.items() if isinstance(kind, MayOmit)}
        if not expected - optional <= got <= expected:
            missing, unknown = sorted(expected - optional - got), sorted(map(str, got - expected))
            raise RecipeError(where, f"parameters {', '.join(self.carries) or 'none'}",
                              f"{', '.join(sorted(map(str, got))) or 'none'} (missing: {', '.join(missing) or '-'}; "
                              f"unknown: {', '.join(unknown) or '-'})")
        nested: list[Op] = []
        for name, kind in self.carries.items():
            if name not in params:
                continue
            value = kind.validate(params[name], f"{where}.{name}")
            if isinstance(kind, OpList):
                nested.extend(value)
        return nested


def _fields_in_order(cls: type) -> dict[str, Param]:
    """Declared fields, own first, then each base's (a subclass's field overrides its base's)."""
    kinds = {f.name: declared(f) for f in dataclasses.fields(cls)}
    out: dict[str, Param] = {}
    for klass in cls.__mro__:
        for name in vars(klass).get("__annotations__", {}):
            kind = kinds.get(name)
            if kind is not None and not name.startswith("_"):
                out.setdefault(name, kind)
    return out


@dataclass_transform(frozen_default=True)
def transform(name: str, *, doc: str, notes: str = "") -> Callable[[T], T]:
    """Class decorator: make a frozen dataclass of the declaration and attach its spec.

    The family is the declaring module's name (``augcli.transforms.<family>``). The class is not
    registered here: ``augcli.registry`` lists the family modules and collects their declarations.
    """

    def declare(cls: T) -> T:
        dataclass(frozen=True)(cls)  # in place: the same class, now a frozen dataclass
        params = _fields_in_order(cls)
        if "p" in params:
            raise TypeError(f"transform {name!r} declares 'p': p belongs to the step, not the transform")
        carries = cls.carries if cls.carries is not None else {k: op_kind(v) for k, v in params.items()}
        roles = {role: getattr(cls, role, None) for role in ("matrix", "combine", "mix", "expand", "extra_keys")}
        cls.spec = TransformSpec(name=name, family=cls.__module__.rsplit(".", 1)[-1], doc=doc, cls=cls,
                                 params=params, carries=dict(carries), notes=notes, **roles)
        return cls

    return declare
