"""Behaviour of the mask blends and superpixels declarations."""

from __future__ import annotations

import numpy as np
import pytest

from augcli.render import render
from tests.conftest import make_image, sample_ops

BLENDS = ["simplex_noise_alpha", "frequency_noise_alpha"]


@pytest.mark.parametrize("name", BLENDS)
def test_blend_records_child_and_its_arguments(name: str) -> None:
    params = sample_ops(name, {"child": "blur", "strength": 0.5}, (37, 53, 3))[0]["params"]
    assert params["child"] == "blur" and params["child_params"] == {"sigma": 4.0}
    params = sample_ops(name, {"child": "noise", "strength": 1, "sigmoid": False}, (37, 53, 3))[0]["params"]
    assert params["child_params"]["std"] == 64.0 and isinstance(params["child_params"]["seed"], int)
    assert params["threshold"] is None
    params = sample_ops(name, {"child": "brightness", "strength": 0.4, "threshold": 0.6}, (37, 53, 3))[0]["params"]
    assert abs(params["child_params"]["delta"]) == 0.2 and params["threshold"] == 0.6


@pytest.mark.parametrize("name", BLENDS)
def test_invert_blend_stays_between_image_and_inverse(name: str) -> None:
    image = make_image(np.uint8, 4, 60, 80)
    out = render(image, sample_ops(name, {"sigmoid": False}, image.shape)).astype(int)
    colour, inverse = image[:, :, :3].astype(int), 255 - image[:, :, :3].astype(int)
    assert np.all(out[:, :, :3] >= np.minimum(colour, inverse) - 1)
    assert np.all(out[:, :, :3] <= np.maximum(colour, inverse) + 1)
    assert np.array_equal(out[:, :, 3], image[:, :, 3])
    sharp = render(image, sample_ops(name, {"threshold": 0.5}, image.shape)).astype(int)[:, :, :3]

    def extremes(out: np.ndarray) -> float:
        """Share of pixels showing (almost) only the image or only its inverse."""
        near = np.minimum(np.abs(out - colour).max(axis=2), np.abs(out - inverse).max(axis=2))
        return float((near <= 8).mean())

    assert extremes(sharp) > extremes(out[:, :, :3]) + 0.1  # the sigmoid pushes towards two regions


def test_frequency_blend_exponent_changes_the_pattern() -> None:
    image = np.full((64, 96, 1), 100, np.uint8)

    def roughness(exponent: float) -> float:
        values = {"exponent": exponent, "size": 48, "sigmoid": False}
        ops = sample_ops("frequency_noise_alpha", values, image.shape, 1)
        out = render(image, ops).astype(float)[:, :, 0]
        return float(np.abs(np.diff(out, axis=1)).mean())

    assert roughness(-4) < roughness(4)


def test_superpixels_p_replace_zero_keeps_image() -> None:
    image = make_image(np.uint16, 3, 50, 70)
    assert np.array_equal(render(image, sample_ops("superpixels", {"p_replace": 0}, image.shape)), image)


def test_superpixels_p_replace_one_leaves_about_segments_colours() -> None:
    image = make_image(np.uint8, 3, 90, 120, seed=4)
    ops = sample_ops("superpixels", {"segments": 40, "p_replace": 1}, image.shape)
    out = render(image, ops)
    assert ops[0]["params"]["segments"] == 40
    assert len(np.unique(out.reshape(-1, 3), axis=0)) <= 48
    assert len(np.unique(image.reshape(-1, 3), axis=0)) > 1000
