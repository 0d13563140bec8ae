"""Param kinds of a recipe's own keywords, and sections with declared keys.

The groups' ``weights`` and ``n`` depend on how many children the group has (:meth:`Param.counted`
binds it); the balance target is ``max``, a count, a ratio or ``{class: N}``; a section (``output``,
``balance``) is a mapping whose keys are declared, each with its kind. Messages read like every
other recipe error: ``where: expected ..., got ...[; did you mean ...]``.
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from augcli.errors import RecipeError, did_you_mean, show
from augcli.params import Param, Range, fmt, is_number

MAX_TARGET = 1_000_000  # images per class a balance target may name (a run is also limited by --max-outputs)
TARGET_EXPECTED = "max, a whole number of images N >= 1, or a ratio in (0, 1] of the largest class"


@dataclass(frozen=True)
class Picks(Range):
    """How many of a group's children run: a count or ``[lo, hi]``, at most the number of children.

    Declared unbound; :meth:`counted` binds the number of children, which is also the top of the default.
    """

    count: int | None = None

    def default_text(self) -> str:
        return f"[{fmt(self.lo)}, all]" if self.count is None else super().default_text()

    def counted(self, count: int) -> Picks:
        return dataclasses.replace(self, hi=count, count=count)

    def validate(self, value: Any, where: str) -> tuple[float, float]:
        pair = super().validate(value, where)
        if self.count is not None and pair[1] > self.count:
            raise RecipeError(where, f"at most {self.count} (the number of steps in 'of')", show(value))
        return pair


@dataclass(frozen=True)
class Weights(Param):
    """Relative chances of a group's children: one non-negative number each, not all 0, with a finite sum.

    null (the default) means equal chances. Declared unbound; :meth:`counted` binds the number of children.
    """

    default: None = None
    count: int | None = None
    doc: str = ""

    def describe(self) -> str:
        return ("" if self.count is None else f"{self.count} ") + "non-negative numbers, not all 0 (one per step)"

    def default_text(self) -> str:
        return "equal"

    def counted(self, count: int) -> Weights:
        return dataclasses.replace(self, count=count)

    def validate(self, value: Any, where: str) -> tuple[float, ...] | None:
        if value is None:
            return None
        count = len(value) if self.count is None and isinstance(value, list) else self.count
        ok = isinstance(value, list) and len(value) == count and all(is_number(v) and v >= 0 for v in value)
        weights = tuple(float(v) for v in value) if ok else ()
        total = sum(weights)
        if not ok or not 0 < total < math.inf:
            hint = None
            if isinstance(value, list) and len(value) == count and not (ok and total == 0):
                hint = "weights are finite numbers (not .inf or .nan) with a finite sum"
            raise RecipeError(where, self.describe(), show(value), hint=hint)
        return weights


@dataclass(frozen=True)
class Target(Param):
    """A balance target: ``max``, a count N in [1, MAX_TARGET], a ratio in (0, 1], or ``{class: N}``.

    The value is returned as written: the class names are checked against the data, and the target
    read by :func:`read_target`, when the classes are known.
    """

    default: None = None
    doc: str = ""

    def describe(self) -> str:
        return TARGET_EXPECTED + ", or {class: N}"

    def default_text(self) -> str:
        return "max"

    def validate(self, value: Any, where: str) -> Any:
        if not isinstance(value, Mapping):
            try:
                read_target(value)
            except ValueError:
                raise RecipeError(where, self.describe(), show(value)) from None
            return value
        for label, n in value.items():
            if isinstance(n, bool) or not isinstance(n, int) or not 1 <= n <= MAX_TARGET:
                raise RecipeError(f"{where}.{label}", f"a whole number of images N >= 1 and at most {MAX_TARGET}",
                                  show(n))
        return value


def read_target(value: Any) -> str | int | float:
    """``max``, a count N in [1, MAX_TARGET] or a ratio in (0, 1], from text or a number.

    Raises:
        ValueError: with args (what was expected, the value as read).
    """
    if isinstance(value, str):
        text = value.strip().lower()
        if text == "max":
            return "max"
        value = _number_text(text, value)
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise ValueError(TARGET_EXPECTED, show(value))
    if isinstance(value, int):
        if not 1 <= value <= MAX_TARGET:
            raise ValueError(f"a number of images N >= 1 and at most {MAX_TARGET} (or max, or a ratio in (0, 1])",
                             show(value))
        return value
    if not 0.0 < value <= 1.0:
        raise ValueError("a ratio in (0, 1] of the largest class (or max, or a whole number N >= 1)", show(value))
    return float(value)


def _number_text(text: str, value: str) -> int | float:
    """An int or float written as text."""
    try:
        return int(text)
    except ValueError:
        try:
            return float(text)
        except ValueError:
            raise ValueError(TARGET_EXPECTED, show(value)) from None


@dataclass(frozen=True)
class Section(Param):
    """A mapping whose keys are declared, each with its kind; nothing (null) is an empty one."""

    keys: Mapping[str, Param]
    default: None = None
    doc: str = ""

    def describe(self) -> str:
        return "a mapping with keys " + ", ".join(self.keys)

    def validate(self, value: Any, where: str) -> dict[str, Any]:
        """The keys given (defaults are not filled in), each checked in declaration order."""
        section = mapping(value, where)
        check_keys(section, list(self.keys), where)
        checked = {name: kind.validate(section[name], f"{where}.{name}")
                   for name, kind in self.keys.items() if name in section}
        return {name: checked[name] for name in section}


def mapping(value: Any, where: str) -> dict[Any, Any]:
    """A mapping, or an empty one for nothing."""
    if value is None:
        return {}
    if not isinstance(value, Mapping):
        raise RecipeError(where, "a mapping", show(value))
    return dict(value)


def check_keys(value: Mapping[Any, Any], known: Sequence[str], where: str) -> None:
    """Refuse unknown keys, with a did-you-mean."""
    for key in value:
        if key not in known:
            raise RecipeError(f"{where}.{key}", "one of " + ", ".join(known), show(key), hint=key_hint(key, known))


def key_hint(key: Any, known: Sequence[str]) -> str | None:
    """Did-you-mean for a misspelt key; YAML 1.1 turns bare on/off/yes/no keys into booleans."""
    if isinstance(key, bool):
        return "YAML reads a bare on/off/yes/no/true/false as a boolean: quote the key"
    return did_you_mean(str(key), known)
