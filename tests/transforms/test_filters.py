"""Behaviour of the filter transforms: recorded params and identities through render."""

from __future__ import annotations

import numpy as np
import pytest

from augcli.registry import REGISTRY
from tests.conftest import make_image, render_op, sample_params

NAMES = ["sharpen", "emboss", "edge_detect"]


def test_families() -> None:
    assert {REGISTRY[name].family for name in NAMES} == {"filters"}


@pytest.mark.parametrize("name", ["sharpen", "emboss", "edge_detect"])
def test_stronger_alpha_changes_more(name: str) -> None:
    image = make_image(np.uint8, 3)
    outs = [render_op(image, name, sample_params(name, {"alpha": a})) for a in (0.2, 0.9)]
    diffs = [np.abs(out.astype(float) - image).mean() for out in outs]
    assert 0 < diffs[0] < diffs[1]


def test_sharpen_raises_local_contrast() -> None:
    image = make_image(np.uint8, 1, 40, 40)
    out = render_op(image, "sharpen", {"alpha": 1.0, "lightness": 1.0})
    assert np.abs(np.diff(out[:, :, 0].astype(float), axis=1)).mean() > np.abs(
        np.diff(image[:, :, 0].astype(float), axis=1)).mean()
