"""Image features for SMOTE and features.npz: pixels, HOG, colour histograms, or a user's embeddings.

Read in a process pool when there are many images. Below ``smote`` (the planner), which imports it;
nothing here knows about plans.
"""

from __future__ import annotations

import os
import tempfile
from collections.abc import Iterator, Mapping, Sequence
from itertools import islice
from pathlib import Path

import cv2
import numpy as np
import numpy.typing as npt

from augcli.errors import InputError, did_you_mean, option
from augcli.io import ReadError, flatten_alpha, read_image, temp_path
from augcli.manifest import Row
from augcli.ops._image import Image, to_dtype
from augcli.pool import default_workers, map_tasks

FEATURES = ("pixels", "hog", "color_hist")
FEATURES_FILE = "features.npz"
_POOL_MIN = 64  # fewer images than this are read in this process

Vector = npt.NDArray[np.float32]


def _bgr8(image: Image) -> Image:
    """Any supported image as 3-channel 8-bit BGR: alpha flattened on white, 16-bit scaled, grey repeated."""
    if image.shape[2] == 4:
        image = flatten_alpha(image)
    if image.dtype == np.uint16:
        image = to_dtype(image, np.uint8)
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


class FeatureTable(Mapping[str, Vector]):
    """Feature vectors by input path, rows of one float32 array: memory-mapped on an anonymous temporary
    file when it is large (``MEMORY_LIMIT``), so SMOTE over a large tree keeps its features on disk."""

    def __init__(self, matrix: npt.NDArray[np.float32], rows: dict[str, int]) -> None:
        self.matrix, self.rows = matrix, rows  # rows: path -> row of the matrix (readable inputs only)

    def __getitem__(self, rel: str) -> Vector:
        return self.matrix[self.rows[rel]]

    def __iter__(self) -> Iterator[str]:
        return iter(self.rows)

    def __len__(self) -> int:
        return len(self.rows)

    @property
    def width(self) -> int:
        return int(self.matrix.shape[1]) if self.matrix.ndim == 2 else 0


MEMORY_LIMIT = 64 * 2**20  # bytes of features held in memory; a larger table is memory-mapped


def new_matrix(rows: int, width: int) -> npt.NDArray[np.float32]:
    """A float32 (rows, width) array: in memory, or memory-mapped on an anonymous file when large."""
    if rows * width * 4 <= MEMORY_LIMIT:
        return np.zeros((rows, width), dtype=np.float32)
    handle = tempfile.TemporaryFile()  # noqa: SIM115 - the map keeps the file open; it has no name
    handle.truncate(rows * width * 4)
    return np.memmap(handle, dtype=np.float32, mode="r+", shape=(rows, width))


def extract_features(
    root: Path, rels: Sequence[str], kind: str, size: int = 32, workers: int | None = None
) -> tuple[FeatureTable, list[tuple[str, str]]]:
    """Features of many files (a process pool when there are many), written into a table as they come;
    unreadable ones come back as errors."""
    jobs = ((root, rel, kind, size) for rel in rels)
    workers = default_workers(workers)
    where = {rel: i for i, rel in enumerate(rels)}
    matrix: npt.NDArray[np.float32] | None = None
    found: set[str] = set()
    errors = []
    for rel, vec, why in map_tasks(_features_of, jobs, _no_setup, None, workers if len(rels) >= _POOL_MIN else 1,
                                   len(rels)):
        if vec is None:
            errors.append((rel, why))
            continue
        if matrix is None:
            matrix = new_matrix(len(rels), len(vec))
        matrix[where[rel]] = vec
        found.add(rel)
    table = FeatureTable(matrix if matrix is not None else np.zeros((0, 0), np.float32),
                         {rel: i for i, rel in enumerate(rels) if rel in found})
    return table, sorted(errors)


def load_embeddings(path: Path, rels: Sequence[str]) -> FeatureTable:
    """A user's own features: an npz with ``paths`` (relative to the input folder) and ``features``."""
    try:
        with np.load(path, allow_pickle=False) as data:
            paths, features = [str(p) for p in data["paths"]], np.asarray(data["features"], dtype=np.float32)
    except (OSError, ValueError, KeyError) as exc:
        raise InputError(
            f"{option('features', path)}: expected an .npz file with arrays 'paths' and 'features', "
            f"got an unreadable file ({exc})"
        ) from None
    if features.ndim != 2 or features.shape[0] != len(paths) or features.shape[1] == 0:
        raise InputError(
            f"{option('features', path)}: expected 'features' of shape (len(paths), n) with n >= 1, "
            f"got {features.shape} for {len(paths)} paths"
        )
    if not np.isfinite(features).all():
        raise InputError(f"{option('features', path)}: expected finite numbers in 'features', got NaN or infinity")
    if len(set(paths)) != len(paths):
        raise InputError(f"{option('features', path)}: expected each path once in 'paths', got duplicates")
    table = {path: i for i, path in enumerate(paths)}
    missing = [rel for rel in rels if rel not in table]
    if missing:
        shown = ", ".join(missing[:5]) + (f" and {len(missing) - 5} more" if len(missing) > 5 else "")
        raise InputError(
            f"{option('features', path)}: no embedding for {len(missing)} input images ({shown}); "
            "'paths' must hold every image's path relative to the input folder"
        )
    return FeatureTable(features, {rel: table[rel] for rel in rels})


def input_vectors(
    root: Path, rels: Sequence[str], features: str | Path, size: int, workers: int | None
) -> tuple[FeatureTable, list[tuple[str, str]], str]:
    """Feature vectors of every input, unreadable inputs, and the features' name."""
    if str(features) in FEATURES:
        vectors, errors = extract_features(root, rels, str(features), size, workers)
        return vectors, errors, str(features)
    path = Path(features)
    if not path.is_file():
        raise InputError(option("features"), f"{', '.join(FEATURES)} or an embeddings .npz file", repr(features),
                         hint=did_you_mean(features, FEATURES))
    return load_embeddings(path, rels), [], str(path)


def save_features(out_root: Path, rows: Sequence[Row], *, features: str, feature_size: int,
                  vectors: Mapping[str, Vector], synthetic: Mapping[str, Vector]) -> Path:
    """Write ``features.npz``: paths (relative to the output), labels, kinds and features of every row.

    Originals reuse their input's vector, synthetic rows the vector imbalanced-learn made, and images
    made by transforms are read back from the output folder (left out with embeddings, which augcli
    cannot compute). The features are gathered in a table (memory-mapped when large) and written to a
    temporary file beside the target, then moved into place.
    """
    missing = [row.path for row in rows if not _known(row, vectors, synthetic)]
    extra = extract_features(out_root, missing, features, feature_size)[0] if missing and features in FEATURES \
        else FeatureTable(np.zeros((0, 0), np.float32), {})
    kept = [row for row in rows if _known(row, vectors, synthetic) or row.path in extra]
    width = next((len(vector) for table in (vectors, synthetic, extra) for vector in _first(table)), 0)
    matrix = new_matrix(len(kept), width)
    for i, row in enumerate(kept):
        if row.kind == "smote" and row.path in synthetic:
            matrix[i] = synthetic[row.path]
        elif row.kind == "original" and row.sources in vectors:
            matrix[i] = vectors[row.sources]
        else:
            matrix[i] = extra[row.path]
    target = out_root / FEATURES_FILE
    tmp = temp_path(target)
    try:
        with open(tmp, "wb") as handle:
            np.savez(handle, paths=np.array([row.path for row in kept], dtype=str),
                     labels=np.array([row.label for row in kept], dtype=str),
                     kinds=np.array([row.kind for row in kept], dtype=str), features=matrix,
                     feature=np.array(features))
        os.replace(tmp, target)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
    return target


def _known(row: Row, vectors: Mapping[str, Vector], synthetic: Mapping[str, Vector]) -> bool:
    """A row whose vector the plan already has (an original's input, a SMOTE row's own)."""
    return (row.kind == "smote" and row.path in synthetic) or (row.kind == "original" and row.sources in vectors)


def _first(table: Mapping[str, Vector]) -> list[Vector]:
    """The first vector of a table, if any (its width is every vector's)."""
    return [table[key] for key in islice(table, 1)]
