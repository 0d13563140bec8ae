"""Oracles for the displacement-field kernels (elastic, piecewise affine)."""

from __future__ import annotations

import numpy as np
import pytest

from augcli import ops
from tests.conftest import make_image


def _triangle_reference(height: int, width: int, offsets: np.ndarray) -> list[np.ndarray]:
    """Piecewise-affine displacements computed triangle by triangle, straight from the definition."""
    d = offsets * np.array([width, height])
    rows, cols = d.shape[:2]
    u = np.arange(width) * (cols - 1) / (width - 1)
    v = np.arange(height) * (rows - 1) / (height - 1)
    j, i = np.minimum(u.astype(int), cols - 2), np.minimum(v.astype(int), rows - 2)
    tx, ty = (u - j)[None, :], (v - i)[:, None]
    out = []
    for k in range(2):
        c = d[:, :, k]
        d00, d01, d10, d11 = c[i][:, j], c[i][:, j + 1], c[i + 1][:, j], c[i + 1][:, j + 1]
        upper = d00 + tx * (d01 - d00) + ty * (d11 - d01)  # triangle (00, 01, 11)
        lower = d00 + ty * (d10 - d00) + tx * (d11 - d10)  # triangle (00, 10, 11)
        out.append(np.where(tx >= ty, upper, lower))
    return out


def test_elastic_field_is_reproducible_and_seed_dependent() -> None:
    a = ops.elastic_field(40, 60, 5.0, seed=1)
    b = ops.elastic_field(40, 60, 5.0, seed=1)
    c = ops.elastic_field(40, 60, 5.0, seed=2)
    assert all(np.array_equal(x, y) for x, y in zip(a, b, strict=True))
    assert not np.array_equal(a[0], c[0])


@pytest.mark.parametrize("sigma", [1.0, 4.0, 12.0])
def test_elastic_field_largest_displacement_is_about_one(sigma: float) -> None:
    dx, dy = ops.elastic_field(50, 70, sigma, seed=3)
    assert dx.shape == dy.shape == (50, 70) and dx.dtype == np.float32
    assert np.sqrt(dx * dx + dy * dy).max() == pytest.approx(1.0, abs=0.05)


def test_elastic_field_is_smooth_and_smoother_with_larger_sigma() -> None:
    def roughness(sigma: float) -> float:
        dx, _ = ops.elastic_field(120, 160, sigma, seed=4)
        return float(np.abs(np.diff(dx, axis=1)).mean())

    white = np.random.default_rng(0).uniform(-1, 1, (120, 160))
    assert roughness(3.0) < 0.1 * float(np.abs(np.diff(white, axis=1)).mean())
    assert roughness(12.0) < roughness(3.0)


def test_zero_displacement_is_identity() -> None:
    image = make_image(np.uint16, 4)
    zero = np.zeros(image.shape[:2], np.float32)
    assert np.array_equal(ops.displace(image, zero, zero, interpolation="cubic"), image)


def test_elastic_alpha_zero_is_identity_and_small_alpha_near_identity() -> None:
    image = make_image(np.uint8, 3)
    assert np.array_equal(ops.elastic(image, 0.0, 6.0, seed=5), image)
    near = ops.elastic(image, 0.5, 6.0, seed=5).astype(int)
    far = ops.elastic(image, 8.0, 6.0, seed=5).astype(int)
    assert np.abs(near - image).mean() < np.abs(far - image).mean()
    assert np.abs(near - image).max() <= 40


def test_elastic_moves_every_channel_alike() -> None:
    image = make_image(np.uint8, 4)
    out = ops.elastic(image, 6.0, 5.0, seed=6, interpolation="nearest")
    dx, dy = ops.elastic_field(image.shape[0], image.shape[1], 5.0, seed=6)
    xs = np.arange(image.shape[1], dtype=np.float32)[None, :] + dx * np.float32(6.0)
    ys = np.arange(image.shape[0], dtype=np.float32)[:, None] + dy * np.float32(6.0)
    alpha = ops.remap(np.ascontiguousarray(image[:, :, 3:]), xs, ys, interpolation="nearest")
    assert np.array_equal(out[:, :, 3:], alpha)
    assert not np.array_equal(out[:, :, 3], image[:, :, 3])


def test_piecewise_affine_field_matches_the_triangle_definition() -> None:
    offsets = np.random.default_rng(7).normal(0, 0.03, (5, 4, 2))
    dx, dy = ops.piecewise_affine_field(37, 53, offsets)
    rx, ry = _triangle_reference(37, 53, offsets)
    assert np.abs(dx - rx).max() < 1e-4 and np.abs(dy - ry).max() < 1e-4


def test_piecewise_affine_field_hits_control_points() -> None:
    offsets = np.random.default_rng(8).normal(0, 0.05, (3, 3, 2))
    dx, dy = ops.piecewise_affine_field(41, 61, offsets)  # control points at x 0, 30, 60 and y 0, 20, 40
    for r, y in enumerate((0, 20, 40)):
        for c, x in enumerate((0, 30, 60)):
            assert dx[y, x] == pytest.approx(offsets[r, c, 0] * 61, abs=1e-4)
            assert dy[y, x] == pytest.approx(offsets[r, c, 1] * 41, abs=1e-4)


def test_piecewise_affine_equal_moves_are_a_shift() -> None:
    image = make_image(np.uint8, 3, 30, 40)
    offsets = np.tile(np.array([2 / 40, -1 / 30]), (4, 4, 1))
    out = ops.piecewise_affine(image, offsets, border="constant")
    assert np.array_equal(out[1:, :-2], image[:-1, 2:])
    assert np.array_equal(ops.piecewise_affine(image, np.zeros((4, 4, 2))), image)
