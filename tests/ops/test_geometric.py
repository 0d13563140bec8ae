"""Geometric kernels: whole-pixel permutations against numpy, and the helpers of the interpolation rule."""

from __future__ import annotations

import itertools

import cv2
import numpy as np
import pytest

from augcli.ops import geometric as G
from tests.conftest import KIND_IDS, KINDS, make_image

# The eight flips/quarter turns as numpy functions of an (H, W, C) array, with their 2x2 linear parts
# (x' = a x + b y, y' = c x + d y, before the shift that keeps the image in place).
DIHEDRAL = {
    "identity": (lambda a: a, [[1, 0], [0, 1]]),
    "hflip": (lambda a: a[:, ::-1], [[-1, 0], [0, 1]]),
    "vflip": (lambda a: a[::-1], [[1, 0], [0, -1]]),
    "rot180": (lambda a: a[::-1, ::-1], [[-1, 0], [0, -1]]),
    "rot90": (lambda a: np.rot90(a, 1), [[0, 1], [-1, 0]]),
    "rot270": (lambda a: np.rot90(a, 3), [[0, -1], [1, 0]]),
    "transpose": (lambda a: a.transpose(1, 0, 2), [[0, 1], [1, 0]]),
    "antitranspose": (lambda a: a[::-1, ::-1].transpose(1, 0, 2), [[0, -1], [-1, 0]]),
}


def _placed(linear: list[list[int]], w: int, h: int) -> tuple[np.ndarray, tuple[int, int]]:
    """The 3x3 matrix of a linear part, shifted so the w x h image lands on [0, W) x [0, H)."""
    a = np.array(linear, dtype=np.float64)
    corners = a @ np.array([[0, w - 1, 0, w - 1], [0, 0, h - 1, h - 1]])
    m = np.eye(3)
    m[:2, :2], m[:2, 2] = a, -corners.min(axis=1)
    size = (w, h) if linear[0][0] != 0 else (h, w)
    return m, size


@pytest.mark.parametrize("name", sorted(DIHEDRAL))
@pytest.mark.parametrize(("dtype", "channels"), KINDS, ids=KIND_IDS)
def test_permute_equals_numpy_for_every_flip_and_turn(name: str, dtype: type, channels: int) -> None:
    image = make_image(dtype, channels, 13, 22)
    fn, linear = DIHEDRAL[name]
    matrix, size = _placed(linear, 22, 13)
    assert G.is_exact(matrix)
    out = G.permute(image, matrix, size)
    assert np.array_equal(out, fn(image)) and out.flags["C_CONTIGUOUS"] and not np.shares_memory(out, image)


@pytest.mark.parametrize(("name", "box"), list(itertools.product(sorted(DIHEDRAL), [(2, 3, 15, 11), (0, 0, 22, 13)])))
def test_permute_of_a_crop_then_a_turn(name: str, box: tuple[int, int, int, int]) -> None:
    image = make_image(np.uint8, 3, 13, 22)
    fn, linear = DIHEDRAL[name]
    x0, y0, x1, y1 = box
    turn, size = _placed(linear, x1 - x0, y1 - y0)
    matrix = turn @ G.translation(-x0, -y0)
    assert np.array_equal(G.permute(image, matrix, size), fn(image[y0:y1, x0:x1]))


def test_permute_pads_with_the_border_outside_the_image() -> None:
    image = make_image(np.uint8, 1, 6, 8)
    out = G.permute(image, G.translation(2, -1), (11, 6), border="replicate")
    padded = np.pad(image, ((0, 1), (2, 1), (0, 0)), mode="edge")
    assert np.array_equal(out, padded[1:7, 0:11])


def test_is_exact_rejects_fractions_rotations_and_perspective() -> None:
    assert not G.is_exact(G.translation(0.5, 0))
    assert not G.is_exact(G.affine_matrix(10, 10, angle=10))
    assert not G.is_exact(np.array([[1.0, 0, 0], [0, 1, 0], [0.001, 0, 1]]))
    assert G.is_exact(G.affine_matrix(11, 11, angle=90))  # cos 90 is 6e-17: still whole pixels


def test_split_scale_finds_the_source_box_of_a_crop_and_resize() -> None:
    matrix = G.box_matrix((10, 20, 60, 45), (25, 5))
    scale, mid, exact = G.split_scale(matrix, (25, 5))  # type: ignore[misc]
    assert mid == (25, 5) and np.allclose(exact, np.eye(3))
    assert np.allclose(G.source_box(scale, mid), (10, 20, 60, 45))
    assert G.whole_box_inside(G.source_box(scale, mid), (45, 60, 3)) == (10, 20, 60, 45)
    assert G.whole_box_inside(G.source_box(scale, mid), (44, 60, 3)) is None
    assert G.split_scale(G.affine_matrix(10, 10, angle=5), (10, 10)) is None


def test_footprint_counts_source_pixels_per_output_pixel() -> None:
    assert np.allclose(G.footprint(G.box_matrix((0, 0, 100, 60), (20, 30)), (20, 30)), (5.0, 2.0))
    fx, fy = G.footprint(G.affine_matrix(50, 50, angle=30, scale=(0.25, 0.25)), (50, 50))
    assert fx == pytest.approx(4.0) and fy == pytest.approx(4.0)


_CV_BORDERS = {"constant": 0, "replicate": 1, "wrap": 3, "reflect": 4}


def _random_warp_case(rng: np.random.Generator, dtype: type) -> tuple[np.ndarray, np.ndarray, tuple[int, int]]:
    """A random 3-channel image (noise or smooth), a random affine or perspective matrix and an output size."""
    h, w = (int(v) for v in rng.integers(2, 70, 2))
    top = np.iinfo(dtype).max
    image = rng.integers(0, top + 1, (h, w, 3)).astype(dtype)
    if rng.random() < 0.5:
        image = np.ascontiguousarray(image[::-1])  # any content; smooth or not does not matter to the check
    m = np.eye(3)
    m[:2, :2] = rng.uniform(-2.0, 2.0, (2, 2))
    m[:2, 2] = rng.uniform(-30.0, 30.0, 2)
    if rng.random() < 0.4:
        m[2, :2] = rng.uniform(-2e-3, 2e-3, 2)
    size = (int(rng.integers(1, 80)), int(rng.integers(1, 80)))
    return image, m, size


@pytest.mark.parametrize("widen_max", [None, 0])
@pytest.mark.parametrize("dtype", [np.uint8, np.uint16])
@pytest.mark.parametrize("border", sorted(_CV_BORDERS))
def test_bilinear_warp_of_three_channels_equals_a_plain_opencv_warp(
    dtype: type, border: str, widen_max: int | None, monkeypatch: pytest.MonkeyPatch
) -> None:
    """warp resamples BGR through BGRA for speed: the bytes must be those of one OpenCV call on BGR.

    ``widen_max`` 0: every image counts as large and is warped without the fourth channel.
    """
    if widen_max is not None:
        monkeypatch.setattr(G, "WIDEN_MAX_PIXELS", widen_max)
    rng = np.random.default_rng(7)
    for _ in range(60):
        image, m, size = _random_warp_case(rng, dtype)
        fill = [int(v) for v in rng.integers(0, 256, 3)]
        value = tuple(v * np.iinfo(dtype).max / 255.0 for v in fill)
        mode = _CV_BORDERS[border]
        if np.any(m[2, :2]):
            expected = cv2.warpPerspective(image, m, size, flags=cv2.INTER_LINEAR, borderMode=mode, borderValue=value)
        else:
            expected = cv2.warpAffine(image, m[:2], size, flags=cv2.INTER_LINEAR, borderMode=mode, borderValue=value)
        out = G.warp(image, m, size, interpolation="linear", border=border, fill=fill)
        assert out.shape == (size[1], size[0], 3) and out.dtype == dtype
        assert np.array_equal(out, expected)


@pytest.mark.parametrize("dtype", [np.uint8, np.uint16])
def test_bilinear_remap_of_three_channels_equals_a_plain_opencv_remap(dtype: type) -> None:
    rng = np.random.default_rng(8)
    for _ in range(40):
        image, _, size = _random_warp_case(rng, dtype)
        map_x = rng.uniform(-5.0, image.shape[1] + 5.0, (size[1], size[0])).astype(np.float32)
        map_y = rng.uniform(-5.0, image.shape[0] + 5.0, (size[1], size[0])).astype(np.float32)
        for border, mode in _CV_BORDERS.items():
            expected = cv2.remap(image, map_x, map_y, cv2.INTER_LINEAR, borderMode=mode, borderValue=(0, 0, 0))
            assert np.array_equal(G.remap(image, map_x, map_y, border=border), expected)
