"""Apply a list of ops to an image. Runs and replays both go through here.

Consecutive geometric ops are fused into one matrix and resampled once. A run made only of
exact ops (flips, quarter turns, whole-pixel crops) is done with array views instead, so it
stays bit-exact. The recorded ops stay one per step either way.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

import augcli.transforms  # noqa: F401  (fills the registry)
from augcli.compose import Op
from augcli.ops import geometric as G
from augcli.ops._image import Image
from augcli.spec import REGISTRY, WARP_KEYS, Transform


def _cls(op: Op) -> type[Transform]:
    """The transform class that applies an op."""
    return REGISTRY[op["name"]].cls


def _warp_settings(op: Op) -> tuple[Any, ...] | None:
    """(border, fill, interpolation) of a resampling op; None for exact ops."""
    if _cls(op).exact:
        return None
    params = op["params"]
    return tuple(str(params.get(k)) for k in WARP_KEYS)


def geometric_runs(ops: Sequence[Op]) -> list[tuple[bool, list[Op]]]:
    """Split ops into runs: (True, fusable geometric ops sharing warp settings) or (False, [pixel op])."""
    runs: list[tuple[bool, list[Op]]] = []
    for op in ops:
        if not _cls(op).is_geometric():
            runs.append((False, [op]))
            continue
        if runs and runs[-1][0]:
            settings = _warp_settings(op)
            in_run = {s for s in map(_warp_settings, runs[-1][1]) if s is not None}
            if settings is None or not in_run or settings in in_run:
                runs[-1][1].append(op)
                continue
        runs.append((True, [op]))
    return runs


def fused_matrix(ops: Sequence[Op], shape: tuple[int, ...]) -> tuple[G.Matrix, G.Size]:
    """Compose the matrices of geometric ops, tracking the size through the chain."""
    matrix = np.eye(3)
    size = (shape[1], shape[0])
    for op in ops:
        step, size = _cls(op).matrix(op["params"], (size[1], size[0], *shape[2:]))  # type: ignore[attr-defined]
        matrix = step @ matrix
    return matrix, size


def _render_geometric(image: Image, ops: list[Op]) -> Image:
    """Apply one fusable run: views for exact runs, the op's own kernel alone, else one warp."""
    classes = [_cls(op) for op in ops]
    if all(cls.exact for cls in classes) or len(ops) == 1:
        for cls, op in zip(classes, ops, strict=True):
            image = cls.apply(image, op["params"])
        return np.ascontiguousarray(image)
    matrix, size = fused_matrix(ops, image.shape)
    settings = next(op["params"] for op in ops if not _cls(op).exact)
    return G.warp(image, matrix, size, **{k: settings[k] for k in WARP_KEYS})


def render(image: Image, ops: Sequence[Op]) -> Image:
    """Apply ops in order and return a new image; ``image`` is never modified."""
    out = image
    for geometric, run in geometric_runs(ops):
        if geometric:
            out = _render_geometric(out, run)
        else:
            out = _cls(run[0]).apply(out, run[0]["params"])
    return out if out is not image else image.copy()


def render_sources(images: Sequence[Image], ops: Sequence[Op]) -> Image:
    """Render from one or more source images: with several, the first op combines them.

    A combining op's transform declares ``inputs`` > 1 and ``combine(images, params)``
    (SMOTE and mixup blends); the remaining ops then apply to its result.
    """
    if len(images) == 1:
        return render(images[0], ops)
    first = _cls(ops[0])
    combined = first.combine(list(images), ops[0]["params"])  # type: ignore[attr-defined]
    return render(combined, ops[1:])


def render_stepwise(image: Image, ops: Sequence[Op]) -> Image:
    """Apply every op on its own, without fusion (a reference for tests and benchmarks)."""
    out = image
    for op in ops:
        out = np.ascontiguousarray(_cls(op).apply(out, op["params"]))
    return out if out is not image else image.copy()
