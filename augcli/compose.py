"""Composition: steps and groups that sample decisions into a flat list of ops. No pixels here.

An op is ``{"name": "rotate", "params": {...}}``: the transform's registry name and the
complete arguments of its kernel. The list of ops is what the manifest records and what
``render`` applies.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Union

import numpy as np

from augcli import rng as R
from augcli.declare import Transform
from augcli.errors import RunError
from augcli.formats import MAX_SIDE
from augcli.params import Flag, Number, Range

Op = dict[str, Any]
Shape = tuple[int, ...]
Node = Union["Step", "Group"]

# Group keywords are declared like transform parameters, so their errors read the same.
GROUP_PARAMS = {
    "sequence": {"p": Number(1.0, bounds=(0, 1), doc="probability that the group runs")},
    "one_of": {
        "p": Number(1.0, bounds=(0, 1), doc="probability that the group runs"),
        "weights": None,  # checked against the number of children
    },
    "some_of": {
        "p": Number(1.0, bounds=(0, 1), doc="probability that the group runs"),
        "n": Range(1, 1, bounds=(0, 1000), integer=True, doc="how many children run (default: 1 to all)"),
        "random_order": Flag(False, doc="run the chosen children in random order"),
    },
}


def next_shape(name: str, transform: type[Transform], params: dict[str, Any], shape: Shape) -> Shape:
    """The image shape after applying one op."""
    matrix = transform.spec.matrix
    if matrix is not None:
        _, (w, h) = matrix(params, shape)
        return (h, w, *shape[2:])
    return transform.out_shape(params, shape)


def _checked(name: str, shape: Shape, before: Shape) -> Shape:
    """Refuse a step that would grow the image past MAX_SIDE per side (a chain of resizes or pads can)."""
    if max(shape[0], shape[1]) > MAX_SIDE:
        raise RunError(f"recipe step {name}: expected an image of at most {MAX_SIDE} pixels per side, got "
                       f"{shape[1]} x {shape[0]} from {before[1]} x {before[0]}; lower the step's size or factor")
    return shape


@dataclass(frozen=True)
class Step:
    """One transform with its probability."""

    name: str
    transform: Transform
    p: float = 1.0

    def sample(self, rng: np.random.Generator, shape: Shape, ops: list[Op]) -> Shape:
        """Toss the p coin, then draw the transform's params; append the op; return the new shape."""
        if not R.coin(rng, self.p):
            return shape
        params = self.transform.sample(rng, shape)
        ops.append({"name": self.name, "params": params})
        return _checked(self.name, next_shape(self.name, type(self.transform), params, shape), shape)

    def names(self) -> set[str]:
        """Transform names used below this node."""
        return {self.name}

    def without(self, excluded: frozenset[str]) -> Node | None:
        """This node with the excluded transforms removed (None when nothing is left)."""
        return None if self.name in excluded else self

    def to_data(self) -> dict[str, Any]:
        """Canonical, fully explicit form (for hashing and the run record)."""
        values = {k: list(v) if isinstance(v, tuple) else v for k, v in self.transform.values().items()}
        return {self.name: {**values, "p": self.p}}


@dataclass(frozen=True)
class Group:
    """``sequence``, ``one_of`` or ``some_of`` over child nodes."""

    kind: str
    children: tuple[Node, ...]
    p: float = 1.0
    weights: tuple[float, ...] | None = None
    n: tuple[int, int] = (1, 1)
    random_order: bool = False

    def sample(self, rng: np.random.Generator, shape: Shape, ops: list[Op]) -> Shape:
        """Toss the p coin, choose children as the kind says, and sample them in order."""
        if not self.children or not R.coin(rng, self.p):
            return shape
        for child in self._chosen(rng):
            shape = child.sample(rng, shape, ops)
        return shape

    def _chosen(self, rng: np.random.Generator) -> Sequence[Node]:
        """The children that run this time, in the order they run."""
        if self.kind == "sequence":
            return self.children
        if self.kind == "one_of":
            count = len(self.children)
            if count == 1:
                return self.children
            weights = np.asarray(self.weights or [1.0] * count, dtype=np.float64)
            return [self.children[int(rng.choice(count, p=weights / weights.sum()))]]
        count = min(R.integer(rng, self.n), len(self.children))
        picked = rng.choice(len(self.children), size=count, replace=False)
        order = picked if self.random_order else np.sort(picked)
        return [self.children[int(i)] for i in order]

    def names(self) -> set[str]:
        """Transform names used below this node."""
        return set().union(*(child.names() for child in self.children)) if self.children else set()

    def without(self, excluded: frozenset[str]) -> Node | None:
        """This group with excluded transforms removed; weights follow their children."""
        weights = self.weights or [1.0] * len(self.children)
        kept = [(c.without(excluded), w) for c, w in zip(self.children, weights, strict=True)]
        kept = [(c, w) for c, w in kept if c is not None]
        if not kept:
            return None
        children = tuple(c for c, _ in kept)
        weights = tuple(w for _, w in kept) if self.weights else None
        hi = min(self.n[1], len(children))
        n = (min(self.n[0], hi), hi)
        return Group(self.kind, children, self.p, weights, n, self.random_order)  # type: ignore[arg-type]

    def to_data(self) -> dict[str, Any]:
        """Canonical, fully explicit form (for hashing and the run record)."""
        body: dict[str, Any] = {"of": [child.to_data() for child in self.children], "p": self.p}
        if self.kind == "one_of" and self.weights:
            body["weights"] = list(self.weights)
        if self.kind == "some_of":
            body.update(n=list(self.n), random_order=self.random_order)
        return {self.kind: body}


def sample_pipeline(nodes: Sequence[Node], rng: np.random.Generator, shape: Shape) -> list[Op]:
    """Walk the pipeline in order and return the flat list of applied ops."""
    ops: list[Op] = []
    for node in nodes:
        shape = node.sample(rng, shape, ops)
    return ops
