"""The custom step: a user's own function, named explicitly in the recipe.

``custom: {fn: "package.module:function", **params}`` calls ``function(image, rng, params)``.
Only the named module is imported, when the recipe is validated, so a wrong path fails before
any image is read. Keys other than ``fn`` (and the step's ``p``) are passed to the function.
Importing runs code, so ``load_recipe(..., allow_custom=False)`` (``--no-custom``) refuses the
step before this module's validation is reached.
"""

from __future__ import annotations

import copy
import importlib
from collections.abc import Callable, Mapping
from dataclasses import field
from typing import Any

import numpy as np

from augcli import rng as R
from augcli.declare import Params, Transform, transform
from augcli.errors import RecipeError, RunError, did_you_mean, show
from augcli.params import Number, Plain, Text, param

Shape = tuple[int, ...]

_PATH = "a function path 'package.module:function'"
_PLAIN = Plain()


def _split(path: str) -> tuple[str, str]:
    """``package.module:function`` -> (module, attribute path)."""
    module, _, attr = path.partition(":")
    return module.strip(), attr.strip()


def _resolve(path: str) -> Callable[..., Any]:
    """Import the module a function path names and return the function (errors say what is wrong)."""
    module_name, attr = _split(path)
    if not module_name or not attr:
        raise ValueError("no ':' between the module and the function" if ":" not in path
                         else "an empty module or function name")
    try:
        obj: Any = importlib.import_module(module_name)
    except ModuleNotFoundError as exc:
        if exc.name and (module_name == exc.name or module_name.startswith(exc.name + ".")):
            raise ValueError(f"module {exc.name!r} not found; is it installed or on PYTHONPATH?") from None
        raise ValueError(f"importing {module_name!r} failed: {exc}") from None
    except Exception as exc:  # the user's module failed while importing
        raise ValueError(f"importing {module_name!r} raised {type(exc).__name__}: {exc}") from None
    for part in attr.split("."):
        if not hasattr(obj, part):
            raise ValueError(f"module {module_name!r} has no attribute {attr!r}")
        obj = getattr(obj, part)
    if not callable(obj):
        raise ValueError(f"{attr!r} is not callable (an object of type {type(obj).__name__})")
    return obj  # type: ignore[no-any-return]


def _problem(path: str) -> str | None:
    """Why a function path cannot be used, or None."""
    try:
        _resolve(path)
    except ValueError as exc:
        return str(exc)
    return None


def _check_result(out: Any, image: Any, path: str) -> Any:
    """The function's result as an image of the input's kind, or a RunError naming the function."""
    def fail(got: str) -> RunError:
        return RunError(f"custom function {path} returned {got}; expected a {image.dtype} array of shape "
                        f"{image.shape[:2]} with {image.shape[2]} channel(s) (or (H, W) for one channel)")

    if not isinstance(out, np.ndarray):
        raise fail(f"a {type(out).__name__}")
    if out.dtype != image.dtype:
        raise fail(f"dtype {out.dtype}")
    if out.ndim == 2 and image.shape[2] == 1:
        out = out[:, :, None]
    if out.ndim != 3 or out.shape != image.shape:
        raise fail(f"shape {out.shape}")
    return np.ascontiguousarray(out)


@transform("custom", doc="Call your own function: fn(image, rng, params) -> image.",
           notes="fn names an importable module and a function in it ('package.module:function'): a module "
                 "on sys.path (installed, or on PYTHONPATH) so that worker processes can import it too. Only "
                 "that module is imported, when the recipe is loaded. Every other key of the step is passed "
                 "to the function in params (plain data, recorded in the manifest). image is (H, W, C) "
                 "uint8 or uint16 (a copy the function may change); rng is a numpy Generator rebuilt from a "
                 "recorded seed, the only randomness the function may use. The result must keep dtype, size "
                 "and channel count ((H, W) is accepted for one channel), else the run stops with an error "
                 "naming the function. Loading a recipe with a custom step imports and runs that module: "
                 "use --no-custom for recipes from others and in CI (see docs/trust.md).")
class Custom(Transform):
    fn: str = param(Text(None, check=_problem, what=_PATH, doc="the function to call, 'package.module:function'"))
    extra: dict[str, Any] = field(default_factory=dict, hash=False)  # the function's own parameters, plain data
    carries = {"fn": Text(None, what=_PATH, doc="the function called"),
               "seed": Number(0, bounds=(0, 2**63 - 1), integer=True, doc="seed of the function's generator"),
               "params": Plain(doc="the function's own parameters")}
    examples = [{"fn": "tests.custom_fn:add_offset"}, {"fn": "tests.custom_fn:add_offset", "amount": 80}]

    @staticmethod
    def extra_keys(values: Mapping[str, Any], extra: Mapping[str, Any], where: str) -> dict[str, Any]:
        """Every key but ``fn`` is the function's: a string name with plain data, kept as given."""
        if "fn" not in values:
            if extra:
                key = next(iter(extra))
                raise RecipeError(f"{where}.{key}", f"fn (the function's own parameters need fn: {_PATH})",
                                  show(key), hint=did_you_mean(str(key), ["fn"]))
            raise RecipeError(f"{where}.fn", _PATH, "nothing", hint="custom needs fn")
        for key in extra:
            if not isinstance(key, str):
                raise RecipeError(f"{where}.{key}", "a parameter name (a string)", show(key))
        return {key: _PLAIN.validate(value, f"{where}.{key}") for key, value in extra.items()}

    def values(self) -> dict[str, Any]:
        """The function path and its free-form parameters, as the recipe gives them."""
        return {"fn": self.fn, **self.extra}

    def sample(self, rng: Any, shape: Shape) -> Params:
        return {"fn": self.fn, "seed": R.noise_seed(rng), "params": copy.deepcopy(self.extra)}

    @staticmethod
    def apply(image: Any, params: Params) -> Any:
        path = params["fn"]
        try:
            fn = _resolve(path)
        except ValueError as exc:
            raise RunError(f"custom function {path}: {exc}") from None
        rng = np.random.default_rng(params["seed"])
        try:
            out = fn(image.copy(), rng, copy.deepcopy(params["params"]))
        except Exception as exc:
            raise RunError(f"custom function {path} raised {type(exc).__name__}: {exc}") from exc
        return _check_result(out, image, path)
