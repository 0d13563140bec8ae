"""The pinned imbalanced-learn adapter: SMOTE samplers that report which two rows and which step made
each synthetic row, through the private ``_generate_samples`` hook (tested on its own in test_smote.py).

imbalanced-learn is imported lazily; keep its version within the range pyproject.toml pins.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
import numpy.typing as npt

from augcli.errors import RunError


@dataclass(frozen=True)
class Pair:
    """One synthetic row: dataset indices of its parents, the step, and its feature vector."""

    a: int
    b: int
    step: float
    vector: npt.NDArray[Any]
    variant: str


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
