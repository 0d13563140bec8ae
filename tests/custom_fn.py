"""User functions for the ``custom`` step's tests (importable as ``tests.custom_fn``)."""

from __future__ import annotations

from typing import Any

import numpy as np


def add_offset(image: np.ndarray, rng: np.random.Generator, params: dict[str, Any]) -> np.ndarray:
    """Add one rng-drawn offset in [-amount, amount] (0-255 units) to every value."""
    top = 65535 if image.dtype == np.uint16 else 255
    amount = int(params.get("amount", 40))
    offset = int(rng.integers(-amount, amount + 1)) * (top // 255)
    return np.clip(image.astype(np.int64) + offset, 0, top).astype(image.dtype)


def first_plane(image: np.ndarray, rng: np.random.Generator, params: dict[str, Any]) -> np.ndarray:
    """Return the first channel as an (H, W) array."""
    return image[:, :, 0].copy()


def to_float(image: np.ndarray, rng: np.random.Generator, params: dict[str, Any]) -> np.ndarray:
    """Return float32 values: the wrong dtype."""
    return image.astype(np.float32)


def drop_alpha(image: np.ndarray, rng: np.random.Generator, params: dict[str, Any]) -> np.ndarray:
    """Return the first three channels only."""
    return image[:, :, :3].copy()


def in_place(image: np.ndarray, rng: np.random.Generator, params: dict[str, Any]) -> np.ndarray:
    """Change the image it is given and return it."""
    image[:] = 0
    return image


def fails(image: np.ndarray, rng: np.random.Generator, params: dict[str, Any]) -> np.ndarray:
    """Raise an error."""
    raise ValueError("broken on purpose")


NOT_A_FUNCTION = 42
