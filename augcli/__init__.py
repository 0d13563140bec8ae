"""augcli: grow and balance image-classification datasets offline, from a YAML recipe.

Public API (loaded lazily, so ``import augcli`` pulls in neither OpenCV nor numpy)::

    import augcli
    recipe = augcli.load_recipe("configs/default.yaml")
    result = augcli.augment(image, recipe, seed=7)   # result.image, result.ops
    augcli.expand("in", "out", recipe=recipe, copies=4)
"""

from __future__ import annotations

from typing import Any

__version__ = "0.1.0"

_API = ("load_recipe", "augment", "replay_ops", "expand", "balance", "preview", "replay", "inspect", "Augmented",
        "RunResult", "BalanceResult", "InspectResult", "PreviewResult", "ReplayResult", "Status")
__all__ = ["__version__", *_API]


def __getattr__(name: str) -> Any:
    """Load API names on first use (PEP 562)."""
    if name in _API:
        from augcli import api

        return getattr(api, name)
    raise AttributeError(f"module 'augcli' has no attribute {name!r}")


def __dir__() -> list[str]:
    """List the public names."""
    return sorted(__all__)
