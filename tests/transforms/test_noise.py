"""Behaviour of the noise transforms: what they sample, record and do through render."""

from __future__ import annotations

import numpy as np
import pytest

from augcli.errors import RecipeError
from augcli.registry import REGISTRY
from tests.conftest import render_op, sample_params


def test_families() -> None:
    assert {REGISTRY[name].family for name in ("gaussian_noise", "salt_pepper")} == {"noise"}


def test_salt_pepper_records_amount_ratio_and_seed() -> None:
    params = sample_params("salt_pepper", {"amount": [0.1, 0.2], "salt_ratio": 1})
    assert set(params) == {"amount", "salt_ratio", "seed"}
    assert 0.1 <= params["amount"] <= 0.2 and params["salt_ratio"] == 1.0
    image = np.full((40, 40, 3), 50, np.uint8)
    out = render_op(image, "salt_pepper", params)
    assert set(np.unique(out).tolist()) == {50, 255}
    assert abs((out[:, :, 0] == 255).mean() - params["amount"]) < 0.05


@pytest.mark.parametrize("values", [{"amount": 1.5}, {"salt_ratio": -0.1}])
def test_salt_pepper_bad_values_raise(values: dict) -> None:
    with pytest.raises(RecipeError):
        REGISTRY["salt_pepper"].build(values, "salt_pepper")
