"""The one place random generators are made, and the small helpers that draw from them.

A sample's generator is derived from (recipe seed, source path relative to the
input folder, copy index, tag) with numpy's SeedSequence, so every output is
independent of worker count, scheduling order and process.
"""

from __future__ import annotations

import hashlib
import unicodedata
from collections.abc import Iterable, Sequence

import numpy as np
import numpy.typing as npt

_SEED_BITS = 63  # fits int64, so pandas reads the manifest's seed column as integers


def _path_bytes(relpath: str) -> bytes:
    """The bytes a path's seed hashes: UTF-8 of its NFC form, or its original bytes when it is not text.

    A name that is not valid UTF-8 on disk reaches Python with lone surrogates (``surrogateescape``);
    it hashes the bytes it came from (as ``os.fsencode`` gives them), so it still has a stable seed.
    """
    try:
        return unicodedata.normalize("NFC", relpath).encode("utf-8")
    except UnicodeEncodeError:
        pass
    try:
        return relpath.encode("utf-8", "surrogateescape")
    except UnicodeEncodeError:  # a surrogate that no file name decodes to
        return relpath.encode("utf-8", "surrogatepass")


def _path_words(relpath: str) -> list[int]:
    """Turn a POSIX relative path into eight 32-bit words (sha256 of :func:`_path_bytes`)."""
    digest = hashlib.sha256(_path_bytes(relpath)).digest()
    return [int.from_bytes(digest[i : i + 4], "little") for i in range(0, 32, 4)]


def sample_seed(recipe_seed: int, relpath: str, copy: int, tag: int = 0) -> int:
    """Return the 63-bit seed of one output: same inputs, same seed, in any process."""
    entropy = [recipe_seed & 0xFFFFFFFF, recipe_seed >> 32 & 0xFFFFFFFF, *_path_words(relpath), copy, tag]
    state = np.random.SeedSequence(entropy).generate_state(1, dtype=np.uint64)[0]
    return int(state >> np.uint64(64 - _SEED_BITS))


def path_words(relpaths: Iterable[str]) -> npt.NDArray[np.uint32]:
    """The eight 32-bit words of every path (as :func:`sample_seed` hashes them), one row per path."""
    digests = b"".join(hashlib.sha256(_path_bytes(rel)).digest() for rel in relpaths)
    return np.frombuffer(digests, dtype="<u4").reshape(-1, 8).astype(np.uint32)


def sample_seeds(recipe_seed: int, words: npt.NDArray[np.uint32], copies: npt.ArrayLike,
                 tag: int = 0) -> npt.NDArray[np.int64]:
    """:func:`sample_seed` of many outputs at once: row i of ``words`` (from :func:`path_words`) with copy i.

    numpy's SeedSequence mixing and state generation redone on whole columns, so a plan of millions of
    outputs costs well under a microsecond a seed instead of tens; equal to :func:`sample_seed` bit for bit
    (tests/test_plan_stream.py compares them).
    """
    copies = np.asarray(copies, dtype=np.int64)
    if (len(copies) and (copies.min() < 0 or copies.max() > _MASK32)) or not 0 <= tag <= _MASK32:
        raise ValueError("copy and tag must fit 32 bits")
    n = len(words)
    columns = [np.full(n, recipe_seed & _MASK32, np.uint32), np.full(n, recipe_seed >> 32 & _MASK32, np.uint32),
               *(words[:, i] for i in range(8)), copies.astype(np.uint32), np.full(n, tag, np.uint32)]
    return (_seed_sequence_state(columns) >> np.uint64(64 - _SEED_BITS)).astype(np.int64)


# numpy.random.SeedSequence's constants (pool of 4 words, 32-bit hash mixing).
_MASK32 = 0xFFFFFFFF
_INIT_A, _MULT_A, _INIT_B, _MULT_B = 0x43B0D7E5, 0x931E8875, 0x8B51F9DD, 0x58F38DED
_MIX_L, _MIX_R = 0xCA01F9DD, 0x4973F715


def _seed_sequence_state(entropy: list[npt.NDArray[np.uint32]]) -> npt.NDArray[np.uint64]:
    """``SeedSequence(row).generate_state(1, np.uint64)[0]`` for every row of the entropy columns (4 or more)."""
    const = _INIT_A

    def hashmix(value: npt.NDArray[np.uint32]) -> npt.NDArray[np.uint32]:
        nonlocal const
        value = value ^ np.uint32(const)
        const = const * _MULT_A & _MASK32
        value = value * np.uint32(const)
        return value ^ (value >> np.uint32(16))

    def mix(x: npt.NDArray[np.uint32], y: npt.NDArray[np.uint32]) -> npt.NDArray[np.uint32]:
        result = x * np.uint32(_MIX_L) - y * np.uint32(_MIX_R)
        return result ^ (result >> np.uint32(16))

    pool = [hashmix(entropy[i]) for i in range(4)]
    for src in range(4):
        for dst in range(4):
            if src != dst:
                pool[dst] = mix(pool[dst], hashmix(pool[src]))
    for column in entropy[4:]:
        for dst in range(4):
            pool[dst] = mix(pool[dst], hashmix(column))
    const, out = _INIT_B, []
    for word in pool[:2]:
        value = word ^ np.uint32(const)
        const = const * _MULT_B & _MASK32
        value = value * np.uint32(const)
        out.append(value ^ (value >> np.uint32(16)))
    return out[0].astype(np.uint64) | (out[1].astype(np.uint64) << np.uint64(32))


def plan_seed(recipe_seed: int, *words: int | str) -> int:
    """Return a seed for a planning decision (partners, subsets), tagged by ``words``."""
    entropy = [recipe_seed & 0xFFFFFFFF, recipe_seed >> 32 & 0xFFFFFFFF]
    for word in words:
        entropy.extend(_path_words(word) if isinstance(word, str) else [int(word) & 0xFFFFFFFF])
    state = np.random.SeedSequence(entropy).generate_state(1, dtype=np.uint64)[0]
    return int(state >> np.uint64(64 - _SEED_BITS))


REDRAW_TAG = 0x52445257  # "RDRW": redraw seeds differ from every sample and plan seed of the same words


def redraw_seed(seed: int, attempt: int) -> int:
    """The seed of draw ``attempt`` of an output planned with ``seed``: draw 0 is ``seed`` itself.

    Draw k > 0 (an output whose earlier draws copied its source or another output) is
    ``SeedSequence([seed low 32 bits, seed high 32 bits, REDRAW_TAG, k])``, cut to 63 bits like every seed.
    """
    if attempt == 0:
        return seed
    entropy = [seed & 0xFFFFFFFF, seed >> 32 & 0xFFFFFFFF, REDRAW_TAG, attempt]
    state = np.random.SeedSequence(entropy).generate_state(1, dtype=np.uint64)[0]
    return int(state >> np.uint64(64 - _SEED_BITS))


def generator(seed: int) -> np.random.Generator:
    """Return the generator for a seed made by :func:`sample_seed` or :func:`plan_seed`."""
    return np.random.default_rng(seed)


def uniform(rng: np.random.Generator, bounds: Sequence[float], digits: int = 6) -> float:
    """Draw a float in ``[lo, hi]``; a degenerate range costs no draw and returns ``lo``."""
    lo, hi = bounds
    if lo == hi:
        return float(lo)
    return round(float(rng.uniform(lo, hi)), digits)


def integer(rng: np.random.Generator, bounds: Sequence[float]) -> int:
    """Draw an integer in ``[lo, hi]`` inclusive; a degenerate range costs no draw."""
    lo, hi = int(bounds[0]), int(bounds[1])
    if lo == hi:
        return lo
    return int(rng.integers(lo, hi + 1))


def coin(rng: np.random.Generator, p: float) -> bool:
    """Toss a coin that lands True with probability ``p``; p of 0 or 1 costs no draw."""
    if p >= 1.0:
        return True
    if p <= 0.0:
        return False
    return bool(rng.random() < p)


def noise_seed(rng: np.random.Generator) -> int:
    """Draw a seed for per-pixel randomness, recorded in params instead of the array."""
    return int(rng.integers(0, 2**_SEED_BITS))
