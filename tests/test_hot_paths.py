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


def _old_near_int(values: np.ndarray, tol: float = 1e-6) -> bool:
    a = np.asarray(values, dtype=np.float64)
    with np.errstate(invalid="ignore"):
        return bool(np.all(np.abs(a - np.rint(a)) <= tol))


def _old_is_exact(matrix: np.ndarray) -> bool:
    affine = abs(matrix[2, 0]) <= 1e-12 and abs(matrix[2, 1]) <= 1e-12 and abs(matrix[2, 2] - 1.0) <= 1e-12
    if not affine or not _old_near_int(matrix[:2]):
        return False
    a = np.abs(np.rint(matrix[:2, :2]))
    return bool(np.all(a.sum(axis=0) == 1) and np.all(a.sum(axis=1) == 1))


def _old_permute_box(matrix: np.ndarray, size: tuple[int, int]) -> tuple[int, int, int, int]:
    w, h = size
    corners = np.rint(np.linalg.inv(np.rint(matrix)) @ np.array([[0, w - 1, 0, w - 1], [0, 0, h - 1, h - 1],
                                                                 [1, 1, 1, 1]]))
    return int(corners[0].min()), int(corners[1].min()), int(corners[0].max()) + 1, int(corners[1].max()) + 1


def _matrices() -> list[np.ndarray]:
    rng = np.random.default_rng(11)
    found = []
    for a, b, c, d in [(1, 0, 0, 1), (-1, 0, 0, 1), (1, 0, 0, -1), (-1, 0, 0, -1), (0, 1, 1, 0), (0, -1, 1, 0),
                       (0, 1, -1, 0), (0, -1, -1, 0), (1, 1, 0, 1), (2, 0, 0, 1), (0, 0, 1, 1)]:
        for shift in [(0, 0), (3, -2), (-7, 11), (0.5, 0), (1e-7, -1e-7), (2e-6, 0)]:
            m = np.array([[a, b, shift[0]], [c, d, shift[1]], [0, 0, 1]], dtype=np.float64)
            found.append(m)
            found.append(m + rng.normal(0, 1e-8, (3, 3)) * np.array([[1, 1, 1], [1, 1, 1], [0, 0, 0]]))
    found += [np.array([[1, 0, 0], [0, 1, 0], [1e-13, 0, 1]]), np.array([[1, 0, 0], [0, 1, 0], [1e-3, 0, 1]]),
              np.array([[np.nan, 0, 0], [0, 1, 0], [0, 0, 1]]), np.array([[1, 0, np.inf], [0, 1, 0], [0, 0, 1]]),
              np.array([[1e300, 0, 0], [0, 1, 0], [0, 0, 1]])]
    return found


def test_whole_pixel_tests_decide_as_the_numpy_ones_did() -> None:
    from augcli.ops import geometric as G

    matrices = _matrices()
    answers = [G.is_exact(m) for m in matrices]
    assert answers == [_old_is_exact(m) for m in matrices]
    assert [G._near_int(m) for m in matrices] == [_old_near_int(m) for m in matrices]
    assert 40 < answers.count(True) < len(answers) - 40


def test_a_whole_pixel_matrix_cuts_the_box_the_inverse_gave() -> None:
    from augcli.ops import geometric as G

    image = np.arange(7 * 5 * 3, dtype=np.uint8).reshape(7, 5, 3)
    for m in (m for m in _matrices() if _old_is_exact(m)):
        size = (5, 7) if abs(round(m[0, 0])) == 1 else (7, 5)
        x0, y0, x1, y1 = _old_permute_box(m, size)
        out = G.permute(image, m, size, border="constant", fill=0)
        # the oracle: every output pixel is the source pixel the exact inverse sends it to, or fill
        inv = np.rint(np.linalg.inv(np.rint(m)))
        expected = np.zeros((size[1], size[0], 3), np.uint8)
        for y in range(size[1]):
            for x in range(size[0]):
                sx, sy, _ = (inv @ [x, y, 1]).astype(int)
                if 0 <= sx < 5 and 0 <= sy < 7:
                    expected[y, x] = image[sy, sx]
        assert np.array_equal(out, expected), (m, (x0, y0, x1, y1))
