"""Oracles for the noise kernels: salt and pepper."""

from __future__ import annotations

import numpy as np
import pytest

from augcli import ops
from tests.conftest import KIND_IDS, KINDS, full_scale, make_image


@pytest.mark.parametrize(("dtype", "channels"), KINDS, ids=KIND_IDS)
def test_salt_pepper_amount_zero_is_identity(dtype: type, channels: int) -> None:
    image = make_image(dtype, channels)
    out = ops.add_salt_pepper(image, 0.0, 0.5, seed=1)
    assert np.array_equal(out, image)
    assert out is not image


@pytest.mark.parametrize(("dtype", "channels"), KINDS, ids=KIND_IDS)
def test_salt_pepper_amount_one_is_only_extremes(dtype: type, channels: int) -> None:
    image = make_image(dtype, channels, 64, 64)
    top = full_scale(dtype)
    out = ops.add_salt_pepper(image, 1.0, 0.3, seed=2)
    colour = out[:, :, : min(channels, 3)]
    assert set(np.unique(colour).tolist()) <= {0, top}
    assert (colour == colour[:, :, :1]).all()  # one decision per pixel, all colour channels together
    assert abs((colour[:, :, 0] == top).mean() - 0.3) < 0.05
    if channels == 4:
        assert np.array_equal(out[:, :, 3], image[:, :, 3])


@pytest.mark.parametrize(("ratio", "expected"), [(0.0, 0), (1.0, 255)])
def test_salt_pepper_ratio_extremes(ratio: float, expected: int) -> None:
    image = np.full((20, 20, 3), 100, np.uint8)
    out = ops.add_salt_pepper(image, 1.0, ratio, seed=3)
    assert (out == expected).all()


def test_salt_pepper_corrupts_about_amount_and_leaves_the_rest() -> None:
    image = np.full((80, 80, 3), 100, np.uint8)
    out = ops.add_salt_pepper(image, 0.3, 0.5, seed=4)
    changed = (out != 100).any(axis=2)
    assert abs(changed.mean() - 0.3) < 0.04
    assert np.array_equal(out, ops.add_salt_pepper(image, 0.3, 0.5, seed=4))
    assert not np.array_equal(out, ops.add_salt_pepper(image, 0.3, 0.5, seed=5))


@pytest.mark.parametrize("seed", [0, 1, 123456789, 2**63 - 1])
def test_noise_bytes_are_those_of_generator_bytes(seed: int) -> None:
    """The noise kernels read the bit stream directly: the same bytes as ``default_rng(seed).bytes``."""
    from augcli.ops.noise import _uniform_bytes

    for shape in [(1, 1, 1), (1, 3, 1), (5, 1, 1), (7, 9, 3), (13, 17, 4), (353, 500, 3), (2, 2, 2)]:
        expected = np.frombuffer(np.random.default_rng(seed).bytes(int(np.prod(shape))), np.uint8).reshape(shape)
        assert np.array_equal(_uniform_bytes(seed, shape), expected)


@pytest.mark.parametrize("band_pixels", [None, 7])
def test_gaussian_noise_equals_the_quantile_formula(band_pixels: int | None, monkeypatch: pytest.MonkeyPatch) -> None:
    """uint8 out = saturate(rint(x + q[u] * std)): u the seed's bytes, q normal quantiles at (i + 0.5) / 256.

    Also in bands of one or a few rows (``band_pixels`` 7), where the byte stream is cut mid-word.
    """
    from statistics import NormalDist

    if band_pixels is not None:
        monkeypatch.setattr("augcli.ops._image.BAND_PIXELS", band_pixels)
    q = np.array([NormalDist().inv_cdf((i + 0.5) / 256) for i in range(256)], dtype=np.float32)
    rng = np.random.default_rng(3)
    for seed in range(6):
        image = rng.integers(0, 256, (int(rng.integers(1, 30)), int(rng.integers(1, 30)), 3)).astype(np.uint8)
        std = float(rng.uniform(1, 40))
        u = np.frombuffer(np.random.default_rng(seed).bytes(image.size), np.uint8).reshape(image.shape)
        noisy = image.astype(np.float32) + q[u] * np.float32(std)
        expected = np.clip(np.rint(noisy), 0, 255).astype(np.uint8)
        assert np.array_equal(ops.add_gaussian_noise(image, std, seed), expected)


@pytest.mark.parametrize("band_pixels", [None, 5])
def test_gaussian_noise_shared_by_channels_is_one_plane_of_the_formula(
    band_pixels: int | None, monkeypatch: pytest.MonkeyPatch
) -> None:
    """per_channel=False: one byte per pixel, the same quantile added to every colour channel."""
    from statistics import NormalDist

    if band_pixels is not None:
        monkeypatch.setattr("augcli.ops._image.BAND_PIXELS", band_pixels)
    q = np.array([NormalDist().inv_cdf((i + 0.5) / 256) for i in range(256)], dtype=np.float32)
    rng = np.random.default_rng(4)
    for seed in range(4):
        image = rng.integers(0, 256, (int(rng.integers(1, 25)), int(rng.integers(1, 25)), 3)).astype(np.uint8)
        u = np.frombuffer(np.random.default_rng(seed).bytes(image.shape[0] * image.shape[1]), np.uint8)
        noise = q[u.reshape(image.shape[:2])][:, :, None] * np.float32(9.5)
        expected = np.clip(np.rint(image.astype(np.float32) + noise), 0, 255).astype(np.uint8)
        assert np.array_equal(ops.add_gaussian_noise(image, 9.5, seed, per_channel=False), expected)
