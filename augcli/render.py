"""Apply a list of ops to an image. Runs and replays both go through here.

Consecutive geometric ops are fused into one matrix and resampled once, by :func:`resample`,
which owns the exact fast paths (flips, quarter turns, whole-pixel crops and pads stay bit-exact)
and the interpolation rule. Geometric transforms declare only their matrix, so one recorded op
gives the same pixels alone and inside a fused run. The recorded ops stay one per step either way.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

import cv2
import numpy as np

from augcli.compose import Op
from augcli.declare import TransformSpec
from augcli.ops import geometric as G
from augcli.ops._image import Image
from augcli.params import WARP_KEYS
from augcli.registry import REGISTRY


def _spec(op: Op) -> TransformSpec:
    """The declaration of the transform that applies an op."""
    return REGISTRY[op["name"]]


def _settles_nothing(op: Op) -> bool:
    """True for a geometric op that brings no resampling settings: an exact one (a flip, a crop ...) or
    augcli's own ``decoded_at``; a fused run takes its settings from its first other op."""
    cls = _spec(op).cls
    return cls.exact or cls.planned


def _warp_settings(op: Op) -> tuple[Any, ...] | None:
    """(border, fill, interpolation) of a resampling op; None for exact ops."""
    if _settles_nothing(op):
        return None
    params = op["params"]
    return tuple(str(params.get(k)) for k in WARP_KEYS)


def geometric_runs(ops: Sequence[Op]) -> list[tuple[bool, list[Op]]]:
    """Split ops into runs: (True, fusable geometric ops sharing warp settings) or (False, [pixel op])."""
    runs: list[tuple[bool, list[Op]]] = []
    for op in ops:
        if not _spec(op).geometric:
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
        matrix_of = _spec(op).matrix
        assert matrix_of is not None  # geometric_runs put only geometric ops in a run
        step, size = matrix_of(op["params"], (size[1], size[0], *shape[2:]))
        matrix = step @ matrix
    return matrix, size


def decode_factor(ops: Sequence[Op], shape: tuple[int, ...]) -> int:
    """How small the source may be decoded for these ops: 8, 4 or 2 when they open with geometric steps
    that shrink it by at least that much along both axes (and do not pick pixels with ``nearest``), else 1.

    Decoded at 1/k, the image is recorded as a ``decoded_at`` op and fused into that same warp, which
    then shrinks by the rest: the result differs from a full decode only by the decoder's block averaging.
    """
    runs = geometric_runs(ops)
    if not runs or not runs[0][0]:
        return 1
    run = runs[0][1]
    settings: dict[str, Any] = next((op["params"] for op in run if not _settles_nothing(op)), {})
    if settings.get("interpolation") == "nearest":
        return 1
    matrix, _ = fused_matrix(run, shape)
    if matrix[2, 0] != 0 or matrix[2, 1] != 0:  # a perspective warp magnifies unevenly
        return 1
    grow = max(math.hypot(matrix[0, 0], matrix[1, 0]), math.hypot(matrix[0, 1], matrix[1, 1]))
    return next((k for k in (8, 4, 2) if grow * k <= 1 + 1e-9), 1)


def resample(image: Image, matrix: G.Matrix, size: G.Size, *, interpolation: str = "linear",
             border: str = "reflect", fill: Any = 0) -> Image:
    """Resample through a (fused) matrix: the one interpolation rule of augcli.

    - Whole-pixel matrices (flips, quarter turns, crops, whole-pixel shifts and pads) are done by
      slicing, ``cv2.flip`` and ``cv2.transpose``: bit-exact, whatever the interpolation.
    - A scale-and-shift whose source box has whole-pixel edges inside the image (a resize, or a crop
      and a resize, in either case perhaps flipped or turned) is ``cv2.resize`` of the crop with the
      interpolation asked for, ``area`` included.
    - Any other matrix is one ``warpAffine``/``warpPerspective``. OpenCV has no area filter for warps,
      so a shrinking warp with ``area`` is a warp to a size that needs no shrinking, then an area
      resize; where the warp does not shrink, ``area`` resamples bilinearly.

    The result is always a new C-contiguous array.
    """
    if G.is_exact(matrix):
        return G.permute(image, matrix, size, border=border, fill=fill)
    split = G.split_scale(matrix, size)
    if split is not None:
        scale, mid_size, exact = split
        box = G.whole_box_inside(G.source_box(scale, mid_size), image.shape)
        if box is not None:
            mid = G.resize(G.crop(image, box), mid_size, interpolation)
            return G.permute(mid, exact, size)
    if interpolation == "area":
        fx, fy = G.footprint(matrix, size)
        mid_size = (max(size[0], math.ceil(size[0] * fx - 1e-6)), max(size[1], math.ceil(size[1] * fy - 1e-6)))
        if mid_size != tuple(size):
            inner = np.linalg.inv(G.box_matrix((0, 0, *mid_size), size)) @ matrix
            mid = G.warp(image, inner, mid_size, interpolation="linear", border=border, fill=fill)
            return G.resize(mid, size, "area")
    return G.warp(image, matrix, size, interpolation=interpolation, border=border, fill=fill)


def _render_geometric(image: Image, ops: list[Op]) -> Image:
    """Apply one fusable run through its fused matrix, with the first resampling op's settings."""
    matrix, size = fused_matrix(ops, image.shape)
    settings: dict[str, Any] = next((op["params"] for op in ops if not _settles_nothing(op)), {})
    defaults = {"border": "reflect", "fill": 0, "interpolation": "linear"}
    return resample(image, matrix, size, **{k: settings.get(k, defaults[k]) for k in WARP_KEYS})


Run = tuple[bool, list[Op]]  # (geometric, ops), as geometric_runs gives them
Seen = list[tuple[bool, list[Op], bool]]  # each run as rendered: (geometric, ops as recorded, changed nothing)


def render(image: Image, ops: Sequence[Op], sources: Sequence[Image] = ()) -> Image:
    """Apply ops in order and return a new image; ``image`` is never modified.

    ``sources`` are the output's source images, for a mixing op's partners (each rendered through its
    own recorded ops first).
    """
    return _render(image, ops, sources, None)


def _render(image: Image, ops: Sequence[Op], sources: Sequence[Image], seen: Seen | None) -> Image:
    """:func:`render`; with ``seen``, each run is appended to it with whether it changed no pixel."""
    out = image
    for geometric, run in geometric_runs(ops):
        before = out
        if geometric:
            out = _render_geometric(out, run)
        else:
            out, op = _render_pixels(out, run[0], sources, seen is not None)
            run = [op]
        if seen is not None:
            seen.append((geometric, run, same_pixels(before, out)))
    return out if out is not image else image.copy()


def same_pixels(a: Image, b: Image) -> bool:
    """True when two images have the same shape and pixels. Every 16th row is compared first, so two
    images that differ (the usual case) cost about 1/16 of a full comparison; 8- and 16-bit images of up
    to 4 channels are compared by OpenCV (largest absolute difference 0), without numpy's temporaries."""
    if a is b:
        return True
    if a.shape != b.shape:
        return False
    if a.dtype == b.dtype and a.dtype in (np.uint8, np.uint16) and a.ndim == 3 and a.shape[2] <= 4 and a.size:
        return bool(cv2.norm(a[::16], b[::16], cv2.NORM_INF) == 0 and cv2.norm(a, b, cv2.NORM_INF) == 0)
    return bool(np.array_equal(a[::16], b[::16]) and np.array_equal(a, b))


def _render_pixels(image: Image, op: Op, sources: Sequence[Image], track: bool = False) -> tuple[Image, Op]:
    """Apply one pixel op, render the nested ops an op stands for (a policy's), or mix in partners.

    Returns the op as it is recorded: with ``track``, a policy keeps only its nested ops that changed
    the image (see :func:`render_kept`).
    """
    spec = _spec(op)
    if spec.expand is not None:
        nested = spec.expand(op["params"])
        if not track or nested is not op["params"].get("ops"):  # a policy holding its ops elsewhere: as a whole
            return render(image, nested), op
        out, kept = _render_kept(image, nested, ())
        return out, {"name": op["name"], "params": {**op["params"], "ops": kept}}
    if spec.mix is not None:
        partners = op["params"]["partners"]
        if any(not 0 < partner["source"] < len(sources) for partner in partners):
            raise ValueError(f"op {op['name']!r} names a partner source the output does not list")
        return spec.mix(image, [render(sources[p["source"]], p["ops"]) for p in partners], op["params"]), op
    return spec.cls.apply(image, op["params"]), op


def _always_kept(op: Op) -> bool:
    """Ops recorded even when they changed nothing: augcli's own (``decoded_at``, a SMOTE blend) and mixing
    ops, whose partners the row's sources column lists."""
    spec = _spec(op)
    return spec.cls.planned or spec.mix is not None


def _runs_ops(runs: Sequence[Run]) -> list[Op]:
    """The flat op list of runs."""
    return [op for _, ops in runs for op in ops]


def _leave_out(seen: Seen) -> list[Op]:
    """The ops of the runs that changed the image, plus those whose leaving out would regroup the others
    (two warps on either side of an unchanged step would fuse into one warp: other pixels), so that the
    shorter list renders exactly the same pixels."""
    kept: list[Run] = [(geometric, ops) for geometric, ops, _ in seen]
    i = 0
    for _, ops, unchanged in seen:
        if unchanged and not any(map(_always_kept, ops)):
            trial = kept[:i] + kept[i + 1:]
            if geometric_runs(_runs_ops(trial)) == trial:
                kept = trial
                continue
        i += 1
    return _runs_ops(kept)


def _render_kept(image: Image, ops: Sequence[Op], sources: Sequence[Image]) -> tuple[Image, list[Op]]:
    """:func:`render`, and the ops that changed the image."""
    seen: Seen = []
    out = _render(image, ops, sources, seen)
    return out, _leave_out(seen)


def render_sources(images: Sequence[Image], ops: Sequence[Op]) -> Image:
    """Render an output from its source images (the first is the image itself).

    When the first op combines images (its transform declares ``inputs`` > 1 and the ``combine``
    role: SMOTE's blend), the remaining ops apply to its result; a mixing op later in the list
    (mixup, cutmix ...) takes its partners from ``images`` by the index each partner records.
    """
    combine = _spec(ops[0]).combine if ops else None
    if combine is None:
        return render(images[0], ops, images)
    return render(combine(list(images), ops[0]["params"]), ops[1:], images)


def render_kept(images: Sequence[Image], ops: Sequence[Op]) -> tuple[Image, list[Op]]:
    """:func:`render_sources`, and the ops to record: those that changed the image.

    Each fused geometric run and each pixel op is compared with its input (one ``np.array_equal``);
    a run that changed no pixel is left out, unless leaving it out would regroup the warps around it.
    A policy keeps only its nested ops that changed the image. augcli's own ops (``decoded_at``, a
    SMOTE blend) and mixing ops are always kept. ``render_sources(images, kept)`` gives the same pixels.
    """
    combine = _spec(ops[0]).combine if ops else None
    if combine is None:
        return _render_kept(images[0], ops, images)
    out, kept = _render_kept(combine(list(images), ops[0]["params"]), ops[1:], images)
    return out, [ops[0], *kept]


def render_stepwise(image: Image, ops: Sequence[Op]) -> Image:
    """Apply every op on its own, without fusion (a reference for tests and benchmarks)."""
    out = image
    for op in ops:
        out = render(out, [op])
    return out if out is not image else image.copy()
