"""SMOTE for image folders: features, an imbalanced-learn sampler that reports its pairs, a plan of blends.

Every synthetic feature row imbalanced-learn makes is ``x_a + step * (x_b - x_a)``. A subclass of the sampler
records (a, b, step) for each row through the private ``_generate_samples`` hook, and each row becomes a real
image: the ``smote_blend`` of images a and b with that step. imbalanced-learn is imported lazily.

Each class is over-sampled in its own ``fit_resample`` call (all classes in X, only that class in the
sampling strategy), so a small class gets its own k and its own seeded ``RandomState``.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt

from augcli._imblearn import Pair, oversample
from augcli.dataset import Dataset
from augcli.errors import InputError, RunError, did_you_mean, option
from augcli.features import Vector, input_vectors, save_features
from augcli.manifest import Row
from augcli.plan import Job, Namer, Task
from augcli.rng import plan_seed, sample_seed

VARIANTS = ("smote", "borderline", "borderline2", "svm", "kmeans", "adasyn")
SMOTE_NAME = "__smote"  # output names: cls/stem__smote001.ext
SMOTE_TAG = 0x534D4F54  # "SMOT": seeds of smote outputs differ from augmented copies of the same source
ADASYN_REFUSAL = (
    "ADASYN is not supported: imbalanced-learn's ADASYN builds its samples inside fit_resample "
    "without the hook augcli uses to learn which two images and which step made each row, so "
    f"its rows cannot be turned into images; use {option('smote', 'smote')} or borderline"
)

@dataclass(frozen=True, eq=False)
class SmotePlan:
    """What balance runs for SMOTE, what it makes by transforms instead, and what features.npz needs."""

    tasks: list[Task]
    fallback: dict[str, int]
    notes: tuple[str, ...]
    features: str  # "pixels", "hog", "color_hist" or the path of an embeddings file
    feature_size: int
    in_root: Path
    vectors: Mapping[str, Vector]  # input path -> feature vector (readable inputs only; a FeatureTable)
    synthetic: dict[str, Vector]  # output path -> feature vector of each synthetic row
    errors: tuple[tuple[str, str], ...] = ()  # inputs left out of the features: (path, reason)


def _check_variant(variant: str) -> str:
    """A supported variant name, or an InputError (ADASYN is refused with the reason)."""
    if variant == "adasyn":
        raise InputError(f"{option('smote', 'adasyn')}: {ADASYN_REFUSAL}")
    if variant not in VARIANTS:
        raise InputError(option("smote"), f"one of {', '.join(VARIANTS[:-1])}", repr(variant),
                         hint=did_you_mean(variant, VARIANTS))
    return variant


def _class_pairs(
    X: npt.NDArray[Any],
    y: npt.NDArray[Any],
    code: int,
    label: str,
    need: int,
    variant: str,
    k: int,
    recipe_seed: int,
    share: float,
) -> tuple[list[Pair], list[str]]:
    """The pairs of one class; a shortfall of the chosen variant is made up by plain SMOTE, with a note."""
    notes: list[str] = []
    try:
        pairs = oversample(
            X, y, code, need, variant, k, plan_seed(recipe_seed, "smote", variant, label), share
        )
    except (ValueError, RuntimeError) as exc:
        if isinstance(exc, RunError) or variant == "smote":
            raise
        pairs, reason = [], f"imbalanced-learn: {exc}"
    else:
        reason = "imbalanced-learn found too few samples it considers borderline"
    if len(pairs) > need:
        notes.append(
            f"class {label}: {variant} made {len(pairs)} rows for {need} asked; the first {need} are kept"
        )
        pairs = pairs[:need]
    if len(pairs) < need and variant != "smote":
        rest = oversample(
            X, y, code, need - len(pairs), "smote", k, plan_seed(recipe_seed, "smote", "rest", label)
        )
        notes.append(
            f"class {label}: {variant} made {len(pairs)} of {need} images ({reason}); "
            f"plain SMOTE made the other {len(rest)}"
        )
        pairs += rest
    return pairs, notes


Numbered = tuple[Pair, str, str, int]  # a pair, its two inputs (a, b) and its number among a's SMOTE images


def number_pairs(rels: Sequence[str], pairs: Sequence[Pair]) -> list[Numbered]:
    """Each pair with its inputs' paths and its copy number: 1, 2, ... per base image ``a``, in pair order."""
    copies: dict[str, int] = {}
    numbered = []
    for pair in pairs:
        a = rels[pair.a]
        copies[a] = copies.get(a, 0) + 1
        numbered.append((pair, a, rels[pair.b], copies[a]))
    return numbered


def blend_tasks(numbered: Sequence[Numbered], out_names: Sequence[str],
                recipe_seed: int) -> tuple[list[Task], dict[str, Vector]]:
    """One job per pair (named ``out_names``, e.g. ``cls/stem__smote001.ext``), in tasks grouped by (a, b)."""
    grouped: dict[tuple[str, str], list[Job]] = {}
    synthetic: dict[str, Vector] = {}
    for (pair, a, b, copy), name in zip(numbered, out_names, strict=True):
        blend: dict[str, Any] = {"step": pair.step, "variant": pair.variant}
        if _label(b) != _label(a):
            blend["partner_class"] = _label(b)  # borderline-2: the neighbour is of another class
        job = Job(name, "smote", copy, sample_seed(recipe_seed, a, copy, SMOTE_TAG),
                  pre_ops=({"name": "smote_blend", "params": blend},), recipe="then")
        grouped.setdefault((a, b), []).append(job)
        synthetic[name] = np.asarray(pair.vector, dtype=np.float32)
    tasks = [Task((a, b), _label(a), tuple(jobs)) for (a, b), jobs in grouped.items()]
    return tasks, synthetic


def _label(rel: str) -> str:
    """An input's class: the first folder of its path."""
    return rel.split("/", 1)[0]


@dataclass(frozen=True, eq=False)
class SmotePairs:
    """SMOTE's plan before its images are named: the pairs, and what features.npz needs."""

    numbered: list[Numbered]
    fallback: dict[str, int]
    notes: tuple[str, ...]
    features: str
    feature_size: int
    in_root: Path
    vectors: Mapping[str, Vector]
    errors: tuple[tuple[str, str], ...]

    def wanted(self) -> list[tuple[str, int]]:
        """(base image, copy) of every SMOTE image, in order: what names are asked for."""
        return [(a, copy) for _, a, _, copy in self.numbered]

    def named(self, out_names: Sequence[str], recipe_seed: int) -> SmotePlan:
        """The plan, once each SMOTE image has its name."""
        tasks, synthetic = blend_tasks(self.numbered, out_names, recipe_seed)
        return SmotePlan(tasks=tasks, fallback=self.fallback, notes=self.notes, features=self.features,
                         feature_size=self.feature_size, in_root=self.in_root, vectors=self.vectors,
                         synthetic=synthetic, errors=self.errors)


def plan_smote(
    data: Dataset,
    needs: dict[str, int],
    *,
    recipe_seed: int,
    fmt: str,
    features: str | Path = "pixels",
    variant: str = "smote",
    k_neighbors: int = 5,
    feature_size: int = 32,
    workers: int | None = None,
    names: Namer | None = None,
) -> SmotePlan:
    """Plan ``needs[label]`` SMOTE images per class, each a blend of two inputs of that class.

    Args:
        data: the scanned input tree.
        needs: images to make per class (classes absent or at 0 get none).
        recipe_seed: the run's seed; the plan depends on nothing else (not on worker count).
        fmt: the recipe's output format ("same" keeps each source's extension).
        features: pixels, hog, color_hist, or an embeddings .npz (``paths`` relative to the input and
            ``features``).
        variant: smote, borderline (borderline-1), borderline2, svm or kmeans; adasyn is refused.
        k_neighbors: neighbours per sample; a class with fewer than k + 1 images uses k = size - 1.
        feature_size: side of the square ``pixels`` features are resized to.
        workers: processes for feature extraction (default: the available cores).
        names: the run's Namer, when other outputs are named too (balance names originals first).

    Returns:
        Tasks of kind "smote", classes to balance by transforms instead (one image), and notes for the user.
    """
    pairs = smote_pairs(data, needs, recipe_seed=recipe_seed, features=features, variant=variant,
                        k_neighbors=k_neighbors, feature_size=feature_size, workers=workers)
    names = names or Namer(fmt)
    out_names = names.generated(pairs.wanted(), SMOTE_NAME, avoid=[s.rel for s in data.sources])
    return pairs.named(out_names, recipe_seed)


def smote_pairs(data: Dataset, needs: dict[str, int], *, recipe_seed: int, features: str | Path = "pixels",
                variant: str = "smote", k_neighbors: int = 5, feature_size: int = 32,
                workers: int | None = None) -> SmotePairs:
    """:func:`plan_smote` up to naming its images (balance names them with the rest of the run)."""
    _check_variant(variant)
    if k_neighbors < 1:
        raise InputError(f"{option('k_neighbors')}: expected 1 or more, got {k_neighbors}")
    vectors, errors, name = input_vectors(data.root, [s.rel for s in data.sources], features, feature_size, workers)
    notes = (
        [
            f"{len(errors)} unreadable images left out of the features (listed in errors.csv): "
            + ", ".join(rel for rel, _ in errors[:5])
            + (" ..." if len(errors) > 5 else "")
        ]
        if errors
        else []
    )
    rels = [s.rel for s in data.sources if s.rel in vectors]
    pairs, fallback, class_notes = plan_pairs(_Rows(vectors, rels), [_label(rel) for rel in rels],
                                              data.classes, needs, variant=variant, k_neighbors=k_neighbors,
                                              recipe_seed=recipe_seed)
    return SmotePairs(numbered=number_pairs(rels, pairs), fallback=fallback, notes=tuple(notes + class_notes),
                      features=name, feature_size=feature_size, in_root=data.root, vectors=vectors,
                      errors=tuple(errors))


class _Rows(Sequence[Vector]):
    """The feature vectors of ``rels`` in order, read from their table when asked (a table may be on disk)."""

    def __init__(self, table: Mapping[str, Vector], rels: Sequence[str]) -> None:
        self.table, self.rels = table, rels

    def __len__(self) -> int:
        return len(self.rels)

    def __getitem__(self, i: int) -> Vector:  # type: ignore[override]
        return self.table[self.rels[i]]


def plan_pairs(vectors: Sequence[Vector], labels: Sequence[str], classes: Sequence[str], needs: dict[str, int], *,
               variant: str, k_neighbors: int, recipe_seed: int) -> tuple[list[Pair], dict[str, int], list[str]]:
    """The parent pairs and steps of the SMOTE images of each class, from one feature vector per input.

    Returns the pairs (indices into ``vectors``), the images per class left to transforms (a class
    with fewer than two readable images), and notes for the user.

    Plain SMOTE looks at one class only (its neighbours, its draws): imbalanced-learn is given that
    class's rows and one row of another class (it refuses a single class), which makes the same pairs as
    the whole matrix (tests/test_smote.py holds them equal), so only one class's vectors are ever in
    memory in float64. The other variants look across classes and get every row.
    """
    codes = {label: i for i, label in enumerate(classes)}
    y = np.array([codes[label] for label in labels], dtype=np.int64)
    X = _matrix(vectors, range(len(vectors))) if variant != "smote" else None
    fallback: dict[str, int] = {}
    pairs: list[Pair] = []
    notes: list[str] = []
    for label in sorted(needs):
        need, size = needs[label], int(np.count_nonzero(y == codes.get(label, -1)))
        if need <= 0:
            continue
        if size < 2:
            fallback[label] = need
            notes.append(f"class {label}: {size} readable image(s), SMOTE needs two; its {need} images are "
                         "made by the recipe's transforms instead")
            continue
        k = min(k_neighbors, size - 1)
        if k < k_neighbors:
            notes.append(f"class {label}: only {size} images, so k_neighbors is {k} for it (asked {k_neighbors})")
        share = need / sum(max(n, 0) for n in needs.values())
        if X is None:  # plain SMOTE: the class and one other row
            rows = np.flatnonzero(y == codes[label])
            rows = np.concatenate([rows, np.flatnonzero(y != codes[label])[:1]])
            made, class_notes = _class_pairs(_matrix(vectors, rows), y[rows], codes[label], label, need, variant, k,
                                             recipe_seed, share)
            made = [replace(pair, a=int(rows[pair.a]), b=int(rows[pair.b])) for pair in made]
        else:
            made, class_notes = _class_pairs(X, y, codes[label], label, need, variant, k, recipe_seed, share)
        pairs += made
        notes += class_notes
    return pairs, fallback, notes


def _matrix(vectors: Sequence[Vector], rows: Sequence[int] | npt.NDArray[np.intp]) -> npt.NDArray[np.float64]:
    """The float64 matrix of some rows (what imbalanced-learn works on)."""
    if not len(rows):
        return np.zeros((0, 1))
    return np.stack([np.asarray(vectors[int(i)], dtype=np.float64) for i in rows])


# ---------------------------------------------------------------- making and saving


def write_features(out_root: Path, plan: SmotePlan, rows: Sequence[Row]) -> Path:
    """Write ``features.npz`` for a finished SMOTE balance run (see :func:`augcli.features.save_features`)."""
    return save_features(out_root, rows, features=plan.features, feature_size=plan.feature_size,
                         vectors=plan.vectors, synthetic=plan.synthetic)
