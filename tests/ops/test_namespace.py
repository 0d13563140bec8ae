"""The kernel layer's public face: ``augcli.ops`` re-exports every family's kernels, once each."""

from __future__ import annotations

import importlib
import inspect
import pkgutil
import subprocess
import sys

import augcli.ops as ops

FAMILIES = sorted(m.name for m in pkgutil.iter_modules(ops.__path__) if not m.name.startswith("_"))
# Matrix tests and splits that render uses to plan fused warps: public in ops.geometric, not kernels.
PLANNING = {"is_affine", "is_exact", "safe_border", "split_scale", "source_box", "whole_box_inside", "footprint"}


def _public_functions(module_name: str) -> set[str]:
    module = importlib.import_module(f"augcli.ops.{module_name}")
    return {name for name, obj in vars(module).items()
            if inspect.isfunction(obj) and obj.__module__ == module.__name__ and not name.startswith("_")}


def test_every_public_kernel_is_re_exported_from_its_family_module() -> None:
    expected = set().union(*(_public_functions(m) for m in FAMILIES)) - PLANNING
    assert set(ops.__all__) - {"from_float", "to_dtype", "to_float"} == expected
    for name in ops.__all__:
        assert callable(getattr(ops, name))


def test_no_two_family_modules_share_a_kernel_name() -> None:
    seen: dict[str, str] = {}
    for module in FAMILIES:
        for name in _public_functions(module):
            assert name not in seen, f"{name} is defined in ops.{seen[name]} and ops.{module}"
            seen[name] = module


def test_every_transform_family_has_a_kernel_module_of_the_same_name() -> None:
    from augcli.registry import FAMILIES as DECLARED

    declared = {m.__name__.rsplit(".", 1)[-1] for m in DECLARED}
    # policies draw nested ops and custom calls the user's function: neither has pixel work of its own.
    assert declared - {"policies", "custom"} == set(FAMILIES)


def test_importing_ops_imports_no_declarations_or_registry() -> None:
    code = ("import sys, augcli.ops; "
            "print(sorted(m for m in sys.modules if m.startswith('augcli') and not m.startswith('augcli.ops')))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip() == "['augcli']"
