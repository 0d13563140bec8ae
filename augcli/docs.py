"""Transform reference rendered from the declarations: terminal text and docs/transforms.md."""

from __future__ import annotations

from collections import defaultdict

import augcli.transforms  # noqa: F401  (fills the registry)
from augcli.compose import GROUP_PARAMS
from augcli.errors import InputError
from augcli.spec import REGISTRY, P, TransformSpec, did_you_mean

FAMILY_ORDER = ("geometric", "color", "noise", "blur", "mask", "policy", "custom")


def _families() -> dict[str, list[TransformSpec]]:
    """Specs grouped by family, families in a fixed order, names sorted."""
    groups: dict[str, list[TransformSpec]] = defaultdict(list)
    for spec in sorted(REGISTRY.values(), key=lambda s: s.name):
        groups[spec.family].append(spec)
    order = [f for f in FAMILY_ORDER if f in groups] + sorted(f for f in groups if f not in FAMILY_ORDER)
    return {family: groups[family] for family in order}


def _spec_text(spec: TransformSpec) -> str:
    """One transform in full: doc, notes and a line per parameter."""
    lines = [f"{spec.name} ({spec.family}): {spec.doc}"]
    if spec.notes:
        lines.append(f"  note: {spec.notes}")
    params = {**spec.params, "p": P}
    width = max(len(n) for n in params)
    for pname, param in params.items():
        lines.append(f"  {pname:<{width}}  {param.describe()}; default {param.default_text()}")
        if param.doc:
            lines.append(f"  {'':<{width}}  {param.doc}")
    return "\n".join(lines) + "\n"


def transforms_text(name: str | None = None) -> str:
    """``augcli transforms [NAME]``: every transform with its parameters, or one."""
    if name is not None:
        spec = REGISTRY.get(name)
        if spec is None:
            hint = did_you_mean(name, list(REGISTRY))
            raise InputError(f"no transform named {name!r}" + (f"; {hint}" if hint else "")
                             + "; 'augcli transforms' lists them all")
        return _spec_text(spec)
    parts = []
    for family, specs in _families().items():
        parts.append(f"== {family} ==\n")
        parts.extend(_spec_text(spec) for spec in specs)
    groups = ", ".join(GROUP_PARAMS)
    parts.append(f"== composition ==\nGroups: {groups}; every step and group takes p (probability, default 1).\n")
    return "\n".join(parts)
