"""The registry: every declared transform by name, collected from the family modules listed here.

This is the one place that imports the transform families. A module declares transforms with
``@transform``; adding a family means adding its module to ``FAMILIES``. Nothing is registered
as a side effect of an import.
"""

from __future__ import annotations

from types import ModuleType

from augcli.declare import Transform, TransformSpec
from augcli.transforms import (
    background,
    blur,
    color,
    custom,
    distort,
    dropout,
    filters,
    geometric,
    masks,
    mix,
    noise,
    policies,
    tone,
)

# Family modules, in the order the reference lists them.
FAMILIES: tuple[ModuleType, ...] = (geometric, distort, color, tone, noise, blur, filters, dropout, masks,
                                    background, mix, policies, custom)


def collect(families: tuple[ModuleType, ...]) -> dict[str, TransformSpec]:
    """Every transform declared in the family modules, by name (a name declared twice is a bug)."""
    out: dict[str, TransformSpec] = {}
    for module in families:
        for obj in vars(module).values():
            declared = isinstance(obj, type) and issubclass(obj, Transform) and "spec" in vars(obj)
            if declared and obj.__module__ == module.__name__:
                name = obj.spec.name
                if name in out:
                    raise ValueError(f"transform {name!r} is declared twice")
                out[name] = obj.spec
    return out


REGISTRY: dict[str, TransformSpec] = collect(FAMILIES)
