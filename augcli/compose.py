"""Composition: steps and groups that sample decisions into a flat list of ops. No pixels here.

An op is ``{"name": "rotate", "params": {...}}``: the transform's registry name and the
complete arguments of its kernel. The list of ops is what the manifest records and what
``render`` applies.
"""

from __future__ import annotations

import functools
from collections import abc
from collections.abc import Mapping
from dataclasses import dataclass, replace
from typing import Any, ClassVar, Protocol, Union

import numpy as np
import numpy.typing as npt

from augcli import rng as R
from augcli.declare import Transform
from augcli.errors import RunError
from augcli.formats import MAX_SIDE
from augcli.params import Flag, P, Param
from augcli.recipe_kinds import Picks, Weights

Op = dict[str, Any]
Shape = tuple[int, ...]
Node = Union["Step", "Group"]

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
        if not R.coin(rng, self.p) or self.transform.partner_count():  # a mix step draws in sample_pipeline
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
    """Base of the groups: child nodes that run, with probability p, as the group chooses.

    Each group declares its keywords (besides ``of``, its children) in ``keywords``, in the same
    Param kinds as a transform's parameters, so their errors read the same and the reference is
    rendered from them. Its fields are the validated keyword values.
    """

    kind: ClassVar[str]  # the recipe keyword, e.g. one_of
    doc: ClassVar[str]
    keywords: ClassVar[Mapping[str, Param]] = {"p": P}

    children: tuple[Node, ...]
    p: float = 1.0

    @classmethod
    def build(cls, children: tuple[Node, ...], values: Mapping[str, Any], where: str) -> Group:
        """Validate the keywords given (unknown ones are refused by the caller) for these children.

        Defaults are validated too: one can depend on the children (some_of's n is 1 to all of them)
        and be refused (an empty some_of).
        """
        kinds = {name: kind.counted(len(children)) for name, kind in cls.keywords.items()}
        return cls(children, **{name: kind.validate(values.get(name, kind.default), f"{where}.{name}")
                                for name, kind in kinds.items()})

    def sample(self, rng: np.random.Generator, shape: Shape, ops: list[Op]) -> Shape:
        """Toss the p coin, choose children as the kind says, and sample them in order."""
        if not self.children or not R.coin(rng, self.p):
            return shape
        for child in self._chosen(rng):
            shape = child.sample(rng, shape, ops)
        return shape

    def _chosen(self, rng: np.random.Generator) -> abc.Sequence[Node]:
        """The children that run this time, in the order they run."""
        return self.children

    def names(self) -> set[str]:
        """Transform names used below this node."""
        return set().union(*(child.names() for child in self.children)) if self.children else set()

    def without(self, excluded: frozenset[str]) -> Node | None:
        """This group with excluded transforms removed (None when nothing is left)."""
        kept = [(i, node) for i, node in enumerate(child.without(excluded) for child in self.children)
                if node is not None]
        if not kept:
            return None
        return self._keeping(tuple(node for _, node in kept), [i for i, _ in kept])

    def _keeping(self, children: tuple[Node, ...], indices: list[int]) -> Group:
        """This group over some of its children (``indices`` says which were kept)."""
        return replace(self, children=children)

    def to_data(self) -> dict[str, Any]:
        """Canonical, fully explicit form (for hashing and the run record): ``of``, then each keyword set."""
        body: dict[str, Any] = {"of": [child.to_data() for child in self.children]}
        for name in self.keywords:
            value = getattr(self, name)
            if value is not None:
                body[name] = list(value) if isinstance(value, tuple) else value
        return {self.kind: body}


@dataclass(frozen=True)
class Sequence(Group):
    """``sequence``: every child, in order."""

    kind = "sequence"
    doc = "Run every step, in order."


@dataclass(frozen=True)
class OneOf(Group):
    """``one_of``: one child, drawn by weight."""

    kind = "one_of"
    doc = "Run one of the steps, drawn by weight."
    keywords: ClassVar[Mapping[str, Param]] = {"p": P, "weights": Weights(doc="relative chance of each step")}

    weights: tuple[float, ...] | None = None

    def _chosen(self, rng: np.random.Generator) -> abc.Sequence[Node]:
        count = len(self.children)
        if count == 1:
            return self.children
        return [self.children[pick(rng, self.weights or (1.0,) * count)]]

    def _keeping(self, children: tuple[Node, ...], indices: list[int]) -> Group:
        """Weights follow their children."""
        weights = tuple(self.weights[i] for i in indices) if self.weights else None
        return replace(self, children=children, weights=weights)


@dataclass(frozen=True)
class SomeOf(Group):
    """``some_of``: n children drawn without replacement, in recipe order or shuffled."""

    kind = "some_of"
    doc = "Run n of the steps, drawn without replacement."
    keywords: ClassVar[Mapping[str, Param]] = {
        "p": P,
        "n": Picks(1, 1, bounds=(0, 1000), integer=True, doc="how many steps run"),
        "random_order": Flag(False, doc="run the chosen steps in random order, not in recipe order"),
    }

    n: tuple[int, int] = (1, 1)
    random_order: bool = False

    def _chosen(self, rng: np.random.Generator) -> abc.Sequence[Node]:
        count = min(R.integer(rng, self.n), len(self.children))
        picked = rng.choice(len(self.children), size=count, replace=False)
        order = picked if self.random_order else np.sort(picked)
        return [self.children[int(i)] for i in order]

    def _keeping(self, children: tuple[Node, ...], indices: list[int]) -> Group:
        """n shrinks to the children left."""
        hi = min(self.n[1], len(children))
        return replace(self, children=children, n=(min(self.n[0], hi), hi))


def pick(rng: np.random.Generator, weights: tuple[float, ...]) -> int:
    """``int(rng.choice(len(weights), p=weights / sum))``, the same draw and index, without ``choice``'s
    checks of ``p`` (a tenth of a millisecond an output): one ``random()`` against the same cumulative
    sums, searched the same way. Weights are checked when the recipe is read (tests/test_compose.py
    compares the two over thousands of seeds)."""
    cdf = _cumulative(weights)
    return int(cdf.searchsorted(rng.random(), side="right"))


@functools.lru_cache(maxsize=256)
def _cumulative(weights: tuple[float, ...]) -> npt.NDArray[np.float64]:
    array = np.asarray(weights, dtype=np.float64)
    cdf = (array / array.sum()).cumsum()
    cdf /= cdf[-1]
    cdf.flags.writeable = False
    return cdf


# The group keywords of a recipe, in the order errors list them.
GROUPS: dict[str, type[Group]] = {cls.kind: cls for cls in (Sequence, OneOf, SomeOf)}


class Partners(Protocol):
    """Where a multi-image step draws its partners from: the input tree, seen from one output."""

    def candidates(self, same_class: bool) -> abc.Sequence[str]:
        """Input paths a partner may be drawn from (the image itself left out when others exist)."""

    def label(self, rel: str) -> str:
        """The class of an input."""

    def shape(self, rel: str) -> Shape:
        """The (H, W, C) shape of an input, decoded."""

    def add(self, rel: str) -> int:
        """The input's index in the output's sources (added after the image's own when new)."""


def is_mix(node: Node) -> bool:
    """True for a step that mixes the image with partners (mixup, cutmix ...)."""
    return isinstance(node, Step) and node.transform.partner_count() > 0


def sample_pipeline(nodes: abc.Sequence[Node], rng: np.random.Generator, shape: Shape,
                    partners: Partners | None = None) -> list[Op]:
    """Walk the pipeline in order and return the flat list of applied ops.

    A multi-image step draws its partners from ``partners`` (without them, outside a run, it is skipped).
    """
    ops: list[Op] = []
    for i, node in enumerate(nodes):
        if is_mix(node):
            assert isinstance(node, Step)
            _sample_mix(node, nodes[:i], rng, shape, ops, partners)
        else:
            shape = node.sample(rng, shape, ops)
    return ops


def _sample_mix(step: Step, before: abc.Sequence[Node], rng: np.random.Generator, shape: Shape, ops: list[Op],
                partners: Partners | None) -> None:
    """Toss the step's coin, draw its partners and their own ops, then the mixing parameters."""
    if not R.coin(rng, step.p) or partners is None:
        return
    transform: Any = step.transform
    pool = partners.candidates(transform.partner == "same_class")
    if not pool:
        return  # a class with one image has no partner of its class: the step is skipped
    drawn = []
    for _ in range(transform.partner_count()):
        rel = pool[int(rng.integers(len(pool)))]
        seed = R.noise_seed(rng)
        own = [node for node in before if not is_mix(node)] if transform.partner_pipeline == "same" else []
        partner_ops = sample_pipeline(own, R.generator(seed), partners.shape(rel))
        drawn.append({"source": partners.add(rel), "label": partners.label(rel), "ops": partner_ops})
    ops.append({"name": step.name, "params": {**transform.sample(rng, shape), "partners": drawn}})


def label_weights(label: str, ops: abc.Sequence[Op]) -> dict[str, float]:
    """The soft label an output's ops give it: {class: weight}, from each mixing op's ``shares``.

    Without a mixing op (or one that keeps the label, as sample_pairing) it is ``{label: 1.0}``.
    """
    weights = {label: 1.0}
    for op in ops:
        params = op["params"]
        if "shares" not in params or "partners" not in params:
            continue
        shares = params["shares"]
        mixed = {name: weight * shares[0] for name, weight in weights.items()}
        for share, partner in zip(shares[1:], params["partners"], strict=False):
            mixed[partner["label"]] = mixed.get(partner["label"], 0.0) + share
        weights = {name: round(weight, 6) for name, weight in mixed.items() if weight > 0}
    return weights
