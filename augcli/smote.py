"""SMOTE for image folders: features, an imbalanced-learn sampler that reports its pairs, a plan of blends.

Every synthetic feature row imbalanced-learn makes is ``x_a + step * (x_b - x_a)``. A subclass of the sampler
records (a, b, step) for each row through the private ``_generate_samples`` hook, and each row becomes a real
image: the ``smote_blend`` of images a and b with that step. imbalanced-learn is imported lazily.

Each class is over-sampled in its own ``fit_resample`` call (all classes in X, only that class in the
sampling strategy), so a small class gets its own k and its own seeded ``RandomState``.
"""

from __future__ import annotations

import io
import os
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path, PurePosixPath
from typing import Any

import cv2
import numpy as np
import numpy.typing as npt

from augcli.dataset import Dataset
from augcli.errors import InputError, RunError
from augcli.io import ReadError, flatten_alpha, read_image, write_atomic
from augcli.manifest import Row
from augcli.ops._image import Image
from augcli.plan import Job, Task, output_suffix, unique_name
from augcli.pool import map_tasks
from augcli.rng import plan_seed, sample_seed
from augcli.spec import did_you_mean

FEATURES = ("pixels", "hog", "color_hist")
VARIANTS = ("smote", "borderline", "borderline2", "svm", "kmeans", "adasyn")
SMOTE_TAG = 0x534D4F54  # "SMOT": seeds of smote outputs differ from augmented copies of the same source
FEATURES_FILE = "features.npz"
_POOL_MIN = 64  # fewer images than this are read in this process
ADASYN_REFUSAL = (
    "ADASYN is not supported: imbalanced-learn's ADASYN builds its samples inside fit_resample "
    "without the hook augcli uses to learn which two images and which step made each row, so "
    "its rows cannot be turned into images; use --smote smote or borderline"
)

Vector = npt.NDArray[np.float32]


@dataclass(frozen=True)
class Pair:
    """One synthetic row: dataset indices of its parents, the step, and its feature vector."""

    a: int
    b: int
    step: float
    vector: npt.NDArray[Any]
    variant: str


@dataclass(frozen=True, eq=False)
class SmotePlan:
    """What balance runs for SMOTE, what it makes by transforms instead, and what features.npz needs."""

    tasks: list[Task]
    fallback: dict[str, int]
    notes: tuple[str, ...]
    features: str  # "pixels", "hog", "color_hist" or the path of an embeddings file
    feature_size: int
    in_root: Path
    vectors: dict[str, Vector]  # input path -> feature vector (readable inputs only)
    synthetic: dict[str, Vector]  # output path -> feature vector of each synthetic row
    errors: tuple[tuple[str, str], ...] = ()  # inputs left out of the features: (path, reason)


# ---------------------------------------------------------------- features


def _bgr8(image: Image) -> Image:
    """Any supported image as 3-channel 8-bit BGR: alpha flattened on white, 16-bit scaled, grey repeated."""
    if image.shape[2] == 4:
        image = flatten_alpha(image)
    if image.dtype == np.uint16:
        image = ((image.astype(np.uint32) + 128) // 257).astype(np.uint8)
    return np.repeat(image, 3, axis=2) if image.shape[2] == 1 else image


def _hog(grey: Image) -> Vector:
    """HOG of a 64x64 grey image (8x8 cells, 2x2-cell blocks, 9 unsigned bins, L2-Hys), as Dalal-Triggs."""
    gx = cv2.Sobel(grey, cv2.CV_32F, 1, 0, ksize=1)
    gy = cv2.Sobel(grey, cv2.CV_32F, 0, 1, ksize=1)
    magnitude, angle = cv2.cartToPolar(gx, gy, angleInDegrees=True)
    bins = (np.mod(angle, 180.0) // 20.0).astype(np.intp).clip(0, 8)
    cell = np.arange(64) // 8
    index = (cell[:, None] * 8 + cell[None, :]) * 9 + bins
    hist = np.bincount(index.ravel(), weights=magnitude.ravel(), minlength=8 * 8 * 9).reshape(8, 8, 9)
    blocks = np.concatenate([hist[:-1, :-1], hist[1:, :-1], hist[:-1, 1:], hist[1:, 1:]], axis=2).reshape(
        49, 36
    )
    blocks = blocks / np.sqrt((blocks**2).sum(axis=1, keepdims=True) + 1e-6)
    blocks = np.minimum(blocks, 0.2)
    blocks = blocks / np.sqrt((blocks**2).sum(axis=1, keepdims=True) + 1e-6)
    return blocks.ravel().astype(np.float32)


def image_features(image: Image, kind: str, size: int = 32) -> Vector:
    """One image's feature vector: ``pixels`` (size x size BGR in [0, 1]), ``hog`` or ``color_hist``."""
    bgr = _bgr8(image)
    if kind == "pixels":
        small = cv2.resize(bgr, (size, size), interpolation=cv2.INTER_AREA)
        return (small.astype(np.float32) / np.float32(255.0)).ravel()
    if kind == "hog":
        grey = cv2.cvtColor(cv2.resize(bgr, (64, 64), interpolation=cv2.INTER_AREA), cv2.COLOR_BGR2GRAY)
        return _hog(grey)
    hist = cv2.calcHist([np.ascontiguousarray(bgr)], [0, 1, 2], None, [8, 8, 8], [0, 256, 0, 256, 0, 256])
    return (hist.ravel() / max(float(hist.sum()), 1.0)).astype(np.float32)


def _features_of(job: tuple[Path, str, str, int], _shared: object = None) -> tuple[str, Vector | None, str]:
    """Read one file and compute its features; (rel, vector or None, reason)."""
    root, rel, kind, size = job
    try:
        return rel, image_features(read_image(root / rel), kind, size), ""
    except ReadError as exc:
        return rel, None, str(exc)


def _no_setup(_shared: object) -> None:
    """Feature workers need nothing beyond what every pool process gets."""


def extract_features(
    root: Path, rels: Sequence[str], kind: str, size: int = 32, workers: int | None = None
) -> tuple[dict[str, Vector], list[tuple[str, str]]]:
    """Features of many files (a process pool when there are many); unreadable ones come back as errors."""
    jobs = [(root, rel, kind, size) for rel in rels]
    workers = workers or (
        len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count() or 1
    )
    results = list(map_tasks(_features_of, jobs, _no_setup, None, workers if len(jobs) >= _POOL_MIN else 1))
    vectors = {rel: vec for rel, vec, _ in results if vec is not None}
    return vectors, sorted((rel, why) for rel, vec, why in results if vec is None)


def load_embeddings(path: Path, rels: Sequence[str]) -> dict[str, Vector]:
    """A user's own features: an npz with ``paths`` (relative to the input folder) and ``features``."""
    try:
        with np.load(path, allow_pickle=False) as data:
            paths, features = [str(p) for p in data["paths"]], np.asarray(data["features"], dtype=np.float32)
    except (OSError, ValueError, KeyError) as exc:
        raise InputError(
            f"--features {path}: expected an .npz file with arrays 'paths' and 'features', "
            f"got an unreadable file ({exc})"
        ) from None
    if features.ndim != 2 or features.shape[0] != len(paths):
        raise InputError(
            f"--features {path}: expected 'features' of shape (len(paths), n), got {features.shape} "
            f"for {len(paths)} paths"
        )
    table = dict(zip(paths, features, strict=True))
    missing = [rel for rel in rels if rel not in table]
    if missing:
        shown = ", ".join(missing[:5]) + (f" and {len(missing) - 5} more" if len(missing) > 5 else "")
        raise InputError(
            f"--features {path}: no embedding for {len(missing)} input images ({shown}); "
            "'paths' must hold every image's path relative to the input folder"
        )
    return {rel: table[rel] for rel in rels}


def _vectors(
    data: Dataset, features: str | Path, size: int, workers: int | None
) -> tuple[dict[str, Vector], list[tuple[str, str]], str]:
    """Feature vectors of every input, unreadable inputs, and the features' name."""
    rels = [s.rel for s in data.sources]
    if str(features) in FEATURES:
        vectors, errors = extract_features(data.root, rels, str(features), size, workers)
        return vectors, errors, str(features)
    path = Path(features)
    if not path.is_file():
        raise InputError(
            f"--features: expected {', '.join(FEATURES)} or an embeddings .npz file, got {features!r}"
            + (f"; {hint}" if (hint := did_you_mean(str(features), FEATURES)) else "")
        )
    return load_embeddings(path, rels), [], str(path)


# ---------------------------------------------------------------- imbalanced-learn with provenance


class _Capture:
    """Mixin over an imbalanced-learn SMOTE sampler: records (base, neighbour, step, output) of every row."""

    def _fit_resample(self, X: Any, y: Any) -> Any:
        """Reset the record and remember y, then resample as usual."""
        self.pairs_: list[tuple[Any, ...]] = []
        self.y_all_ = y
        self.X_all_ = X
        return super()._fit_resample(X, y)  # type: ignore[misc]

    def _generate_samples(
        self,
        X: Any,
        nn_data: Any,
        nn_num: Any,
        rows: Any,
        cols: Any,
        steps: Any,
        y_type: Any = None,
        y: Any = None,
    ) -> Any:
        """The hook: every synthetic row passes through here (pinned by tests)."""
        out = super()._generate_samples(X, nn_data, nn_num, rows, cols, steps, y_type, y)  # type: ignore[misc]
        base = _locate(self, X, y_type, "rows")[rows]
        partner = _locate(self, nn_data, y_type, "neighbours")[nn_num[rows, cols]]
        self.pairs_.append((base, partner, np.asarray(steps, dtype=np.float64).ravel(), np.asarray(out)))
        return out


def _locate(sampler: Any, sub: Any, y_type: Any, role: str) -> npt.NDArray[np.intp]:
    """Dataset indices of the rows of ``sub``, an array imbalanced-learn built from the full X."""
    y, X = sampler.y_all_, sampler.X_all_
    in_class = np.flatnonzero(y == y_type)
    if sub is X:
        return np.arange(len(y))
    danger = getattr(sampler, "in_danger_indices", {}).get(y_type)
    if role == "rows" and danger is not None and len(danger) == len(sub):
        return np.asarray(danger)
    if len(sub) == len(in_class) and np.array_equal(sub, X[in_class]):
        return in_class
    lookup: dict[bytes, int] = {}
    for i in [*in_class, *range(len(y))]:
        lookup.setdefault(X[i].tobytes(), int(i))
    try:
        return np.array([lookup[row.tobytes()] for row in sub], dtype=np.intp)
    except KeyError:
        raise RunError(
            "imbalanced-learn passed rows augcli cannot trace back to an image; "
            "this imbalanced-learn version is not supported (pin imbalanced-learn<0.15)"
        ) from None


def _sampler(variant: str, k: int, n_rows: int, target: dict[int, int], seed: int, share: float) -> Any:
    """An imbalanced-learn sampler for one class, with the capture hook and a seeded RandomState."""
    from imblearn.over_sampling import SMOTE, SVMSMOTE, BorderlineSMOTE, KMeansSMOTE

    state = np.random.RandomState(np.random.MT19937(seed))
    m = max(1, min(10, n_rows - 1))
    common: dict[str, Any] = {"sampling_strategy": target, "random_state": state, "k_neighbors": k}
    if variant == "smote":
        return type("CapturedSMOTE", (_Capture, SMOTE), {})(**common)
    if variant in ("borderline", "borderline2"):
        kind = "borderline-2" if variant == "borderline2" else "borderline-1"
        return type("CapturedBorderlineSMOTE", (_Capture, BorderlineSMOTE), {})(
            **common, m_neighbors=m, kind=kind
        )
    if variant == "svm":
        return type("CapturedSVMSMOTE", (_Capture, SVMSMOTE), {})(**common, m_neighbors=m)
    # imbalanced-learn's "auto" threshold for this class as if every class were resampled in one call
    return type("CapturedKMeansSMOTE", (_Capture, KMeansSMOTE), {})(
        **common, cluster_balance_threshold=share / 2
    )


def oversample(
    X: npt.NDArray[Any],
    y: npt.NDArray[Any],
    code: int,
    need: int,
    variant: str,
    k: int,
    seed: int,
    share: float = 1.0,
) -> list[Pair]:
    """Run one sampler for one class; return all its rows as pairs (KMeans-SMOTE may make more than ``need``).

    ``share`` is this class's part of all the images to make (KMeans-SMOTE's cluster threshold).
    """
    total = int(np.count_nonzero(y == code)) + need
    sampler = _sampler(variant, k, len(y), {code: total}, seed, share)
    X_res, _ = sampler.fit_resample(X, y)
    made = len(X_res) - len(X)
    rows = sum(len(p[0]) for p in sampler.pairs_)
    if rows != made:
        raise RunError(
            f"imbalanced-learn made {made} rows but reported {rows} through the hook augcli relies on; "
            "this imbalanced-learn version is not supported (pin imbalanced-learn<0.15)"
        )
    pairs = []
    for base, partner, steps, out in sampler.pairs_:
        for a, b, step, vec in zip(base, partner, steps, out, strict=True):
            if variant == "borderline2":
                step = _projected_step(X[a], X[b], vec)
            pairs.append(Pair(int(a), int(b), float(step), vec, variant))
    return pairs


def _projected_step(a: npt.NDArray[Any], b: npt.NDArray[Any], new: npt.NDArray[Any]) -> float:
    """The step t with new = a + t (b - a): borderline-2 scales some differences by an unreported factor."""
    diff = b - a
    norm = float(diff @ diff)
    return float((new - a) @ diff / norm) if norm > 0 else 0.0


# ---------------------------------------------------------------- planning


def _check_variant(variant: str) -> str:
    """A supported variant name, or an InputError (ADASYN is refused with the reason)."""
    if variant == "adasyn":
        raise InputError(f"--smote adasyn: {ADASYN_REFUSAL}")
    if variant not in VARIANTS:
        hint = did_you_mean(variant, VARIANTS)
        raise InputError(
            f"--smote: expected one of {', '.join(VARIANTS[:-1])}, got {variant!r}"
            + (f"; {hint}" if hint else "")
        )
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


def _name(source_rel: str, copy: int, fmt: str, with_ext: bool) -> str:
    """``cls/stem__smote001.ext`` (``stem_png__smote001.ext`` when the plain name collides)."""
    path = PurePosixPath(source_rel)
    stem = f"{path.stem}_{path.suffix.lstrip('.').lower()}" if with_ext else path.stem
    return str(path.with_name(f"{stem}__smote{copy:03d}{output_suffix(source_rel, fmt)}"))


def _tasks(
    data: Dataset, rels: list[str], pairs: list[Pair], recipe_seed: int, fmt: str
) -> tuple[list[Task], dict[str, Vector]]:
    """One job per pair, in tasks grouped by (a, b); names stable and collision-free (as plan.plan_tasks)."""
    label_of = {s.rel: s.label for s in data.sources}
    copies: dict[str, int] = {}
    numbered = []
    for pair in pairs:
        a = rels[pair.a]
        copies[a] = copies.get(a, 0) + 1
        numbered.append((pair, a, rels[pair.b], copies[a]))
    plain: dict[str, int] = {}
    for _, a, _, copy in numbered:
        key = _name(a, copy, fmt, False).casefold()
        plain[key] = plain.get(key, 0) + 1
    taken = {s.rel.casefold() for s in data.sources}
    grouped: dict[tuple[str, str], list[Job]] = {}
    synthetic: dict[str, Vector] = {}
    for pair, a, b, copy in numbered:
        name = _name(a, copy, fmt, False)
        if plain[name.casefold()] > 1 or name.casefold() in taken:
            name = unique_name(_name(a, copy, fmt, True), taken)
        taken.add(name.casefold())
        blend: dict[str, Any] = {"step": pair.step, "variant": pair.variant}
        if label_of[b] != label_of[a]:
            blend["partner_class"] = label_of[b]  # borderline-2: the neighbour is of another class
        job = Job(name, "smote", copy, sample_seed(recipe_seed, a, copy, SMOTE_TAG),
                  pre_ops=({"name": "smote_blend", "params": blend},), recipe="then")
        grouped.setdefault((a, b), []).append(job)
        synthetic[name] = np.asarray(pair.vector, dtype=np.float32)
    tasks = [Task((a, b), label_of[a], tuple(jobs)) for (a, b), jobs in grouped.items()]
    return tasks, synthetic


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

    Returns:
        Tasks of kind "smote", classes to balance by transforms instead (one image), and notes for the user.
    """
    _check_variant(variant)
    if k_neighbors < 1:
        raise InputError(f"--k-neighbors: expected 1 or more, got {k_neighbors}")
    vectors, errors, name = _vectors(data, features, feature_size, workers)
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
    codes = {label: i for i, label in enumerate(data.classes)}
    label_of = {s.rel: s.label for s in data.sources}
    y = np.array([codes[label_of[rel]] for rel in rels], dtype=np.int64)
    X = np.stack([vectors[rel] for rel in rels]).astype(np.float64) if rels else np.zeros((0, 1))
    fallback: dict[str, int] = {}
    pairs: list[Pair] = []
    for label in sorted(needs):
        need, size = needs[label], int(np.count_nonzero(y == codes.get(label, -1)))
        if need <= 0:
            continue
        if size < 2:
            fallback[label] = need
            notes.append(
                f"class {label}: {size} readable image(s), SMOTE needs two; its {need} images are "
                "made by the recipe's transforms instead"
            )
            continue
        k = min(k_neighbors, size - 1)
        if k < k_neighbors:
            notes.append(
                f"class {label}: only {size} images, so k_neighbors is {k} for it (asked {k_neighbors})"
            )
        share = need / sum(max(n, 0) for n in needs.values())
        made, class_notes = _class_pairs(X, y, codes[label], label, need, variant, k, recipe_seed, share)
        pairs += made
        notes += class_notes
    tasks, synthetic = _tasks(data, rels, pairs, recipe_seed, fmt)
    return SmotePlan(
        tasks=tasks,
        fallback=fallback,
        notes=tuple(notes),
        features=name,
        feature_size=feature_size,
        in_root=data.root,
        vectors=vectors,
        synthetic=synthetic,
        errors=tuple(errors),
    )


# ---------------------------------------------------------------- making and saving


def write_features(out_root: Path, plan: SmotePlan, rows: Sequence[Row]) -> Path:
    """Write ``features.npz``: paths (relative to the output), labels, kinds and features of every row.

    Originals reuse their input's vector, synthetic rows the vector imbalanced-learn made, and images
    made by transforms are read back from the output folder (left out with embeddings, which augcli
    cannot compute).
    """
    found: dict[str, Vector] = {}
    for row in rows:
        if row.kind == "smote" and row.path in plan.synthetic:
            found[row.path] = plan.synthetic[row.path]
        elif row.kind == "original" and row.sources in plan.vectors:
            found[row.path] = plan.vectors[row.sources]
    missing = [row.path for row in rows if row.path not in found]
    if missing and plan.features in FEATURES:
        extra, _ = extract_features(out_root, missing, plan.features, plan.feature_size)
        found.update(extra)
    kept = [row for row in rows if row.path in found]
    width = len(next(iter(plan.vectors.values()))) if plan.vectors else 0
    matrix = np.stack([found[row.path] for row in kept]) if kept else np.zeros((0, width), dtype=np.float32)
    buffer = io.BytesIO()
    np.savez(
        buffer,
        paths=np.array([row.path for row in kept], dtype=str),
        labels=np.array([row.label for row in kept], dtype=str),
        kinds=np.array([row.kind for row in kept], dtype=str),
        features=matrix.astype(np.float32),
        feature=np.array(plan.features),
    )
    target = out_root / FEATURES_FILE
    write_atomic(target, buffer.getvalue())
    return target
