"""Shortcuts on the per-output path give exactly what they stand for (the oracle is the numpy call
each replaces): a change here would change outputs' bytes or drop a step that did something."""

from __future__ import annotations

import numpy as np
import pytest

from augcli.compose import pick
from augcli.render import same_pixels


@pytest.mark.parametrize("weights", [(1.0, 1.0), (1.0, 1.0, 1.0), (0.2, 0.5, 0.3), (1e-9, 1.0, 3.0),
                                     (0.0, 1.0, 0.0, 2.0), (5.0,) * 7, (0.1, 0.1, 0.1), (3.0, 1e-12)])
def test_pick_draws_what_choice_draws(weights: tuple[float, ...]) -> None:
    w = np.asarray(weights)
    for seed in range(1500):
        ours, theirs = np.random.default_rng(seed), np.random.default_rng(seed)
        assert pick(ours, weights) == int(theirs.choice(len(weights), p=w / w.sum())), seed
        assert ours.random() == theirs.random()  # the same state after


def _pairs() -> list[tuple[np.ndarray, np.ndarray]]:
    rng = np.random.default_rng(3)
    pairs = []
    for shape, dtype in [((37, 53, 3), np.uint8), ((37, 53, 1), np.uint8), ((20, 9, 4), np.uint8),
                         ((33, 17, 3), np.uint16), ((17, 16, 3), np.float32), ((9, 8, 5), np.uint8),
                         ((1, 1, 3), np.uint8)]:
        a = (rng.random(shape) * (255 if dtype != np.uint16 else 65535)).astype(dtype)
        pairs.append((a, a.copy()))
        for _ in range(12):  # one value changed anywhere, on the rows compared first or not
            b = a.copy()
            y, x, c = (int(rng.integers(0, n)) for n in shape)
            b[y, x, c] = b[y, x, c] + 1 if b[y, x, c] < 200 else b[y, x, c] - 1
            pairs.append((a, b))
        pairs.append((a[:, ::-1], a[:, ::-1].copy()))  # views OpenCV must copy
        pairs.append((a[::2], a[1::2][: len(a[::2])]))
    a = np.zeros((4, 4, 3), np.uint8)
    pairs += [(a, a[:3]), (a, a.astype(np.uint16)), (a, np.zeros((4, 4, 1), np.uint8)), (a, np.zeros((0, 4, 3), np.uint8))]
    return pairs


def test_same_pixels_says_what_array_equal_says() -> None:
    pairs = _pairs()
    answers = [same_pixels(a, b) for a, b in pairs]
    assert answers == [a.shape == b.shape and bool(np.array_equal(a, b)) for a, b in pairs]
    assert 10 < answers.count(True) < len(answers) - 50
