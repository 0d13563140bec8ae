"""The declaration layer: a transform declared once gives a typed frozen config, its op's declared
parameters, its roles and its registry entry."""

from __future__ import annotations

import dataclasses
import types

import pytest

from augcli.declare import Transform, transform
from augcli.errors import RecipeError
from augcli.params import Number, P, Range, param
from augcli.registry import REGISTRY, collect


def test_a_built_transform_is_a_frozen_config_of_normalised_values() -> None:
    built = REGISTRY["rotate"].build({"degrees": 30, "fill": [1, 2, 3]}, "pipeline[0].rotate")
    assert (built.degrees, built.fill, built.border) == ((30.0, 30.0), (1.0, 2.0, 3.0), "reflect")
    with pytest.raises(dataclasses.FrozenInstanceError):
        built.degrees = (0.0, 0.0)  # type: ignore[misc]
    assert built == REGISTRY["rotate"].build({"degrees": [30, 30], "fill": [1, 2, 3]}, "x")


def test_op_parameters_default_to_one_drawn_number_per_range_field() -> None:
    carries = REGISTRY["gaussian_blur"].carries
    assert list(carries) == ["sigma"]
    assert carries["sigma"] == Number(0.5, bounds=(0, 50), unit="px", doc="standard deviation of the kernel")


def test_recipe_and_op_parameters_are_declared_separately() -> None:
    spec = REGISTRY["rotate"]
    assert list(spec.params) == ["degrees", "border", "fill", "interpolation"]
    assert list(spec.carries) == ["angle", "border", "fill", "interpolation"]


def test_roles_are_found_once_from_the_declaration() -> None:
    assert REGISTRY["rotate"].geometric and REGISTRY["rotate"].combine is None
    assert not REGISTRY["elastic"].geometric  # a displacement field, not a matrix
    assert REGISTRY["smote_blend"].combine is not None
    assert REGISTRY["trivial_augment"].expand is not None and not REGISTRY["trivial_augment"].geometric
    assert REGISTRY["custom"].extra_keys is not None
    assert sum(spec.extra_keys is not None for spec in REGISTRY.values()) == 1


def test_the_family_is_the_declaring_module() -> None:
    assert {spec.name: spec.family for spec in REGISTRY.values()}["hflip"] == "geometric"
    assert all(spec.cls.__module__ == f"augcli.transforms.{spec.family}" for spec in REGISTRY.values())


def test_a_declaration_may_not_take_p() -> None:
    with pytest.raises(TypeError, match="transform 'has_p' declares 'p': p belongs to the step"):
        @transform("has_p", doc="never registered")
        class HasP(Transform):
            p: float = param(P)


def test_a_name_declared_twice_in_the_families_is_refused() -> None:
    first, second = types.ModuleType("first"), types.ModuleType("second")
    for module in (first, second):
        @transform("twin", doc="declared twice")
        class Twin(Transform):
            size: tuple[float, float] = param(Range(1, 2, doc="a range"))

        Twin.__module__ = module.__name__
        module.Twin = Twin  # type: ignore[attr-defined]
    assert list(collect((first,))) == ["twin"]
    with pytest.raises(ValueError, match="transform 'twin' is declared twice"):
        collect((first, second))


def test_unknown_recipe_key_names_the_declared_ones() -> None:
    with pytest.raises(RecipeError, match=r"^r\.degree: expected a parameter of 'rotate' \(degrees, border, fill, "
                                          r"interpolation\), got 'degree'; did you mean 'degrees'\?$"):
        REGISTRY["rotate"].build({"degree": 3}, "r")
