"""RandAugment and TrivialAugment Wide: nested ops, magnitudes as torchvision, exact replay."""

from __future__ import annotations

import json
import math
from pathlib import Path

import numpy as np
import pytest

from augcli import api
from augcli.errors import RecipeError
from augcli.manifest import MANIFEST, read_rows
from augcli.recipe import parse_recipe
from augcli.render import render
from augcli.rng import generator
from augcli.registry import REGISTRY
from augcli.transforms import policies as PO
from tests.conftest import make_image

SHAPE = (37, 53, 3)
# The registered op each policy operation is rendered by.
TARGETS = {"identity", "autocontrast", "equalize", "rotate", "solarize", "pil_color", "posterize", "contrast",
           "pil_brightness", "pil_sharpness", "shear", "translate"}


def _nested(name: str, values: dict, seed: int, shape: tuple[int, ...] = SHAPE) -> list[dict]:
    """The nested ops one sample of a policy draws."""
    return REGISTRY[name].build(values, name).sample(generator(seed), shape)["ops"]


def _op(name: str, m: int, space: PO.Space, sign: float = 1.0, shape: tuple[int, ...] = SHAPE) -> dict:
    """The op of one policy operation at bin m of 31."""
    warp = {"border": "constant", "fill": 128.0, "interpolation": "nearest"}
    return PO.policy_op(name, PO.Level(m, 30, sign), space, shape, warp)


def test_rand_augment_records_exactly_n_registered_ops() -> None:
    for seed in range(30):
        ops = _nested("rand_augment", {"n": 2}, seed)
        assert len(ops) == 2
        assert {op["name"] for op in ops} <= TARGETS
    assert [len(_nested("rand_augment", {"n": 5}, s)) for s in range(5)] == [5] * 5
    assert _nested("rand_augment", {"n": 0}, 1) == []


def test_rand_augment_draws_all_14_operations_with_both_signs() -> None:
    ops = [op for seed in range(200) for op in _nested("rand_augment", {"n": 2}, seed)]
    assert {op["name"] for op in ops} == TARGETS
    angles = {op["params"]["angle"] for op in ops if op["name"] == "rotate"}
    assert angles == {-9.0, 9.0}  # magnitude 9 of 31 bins: 30 deg * 9 / 30, signed


def test_trivial_augment_draws_one_op_at_varying_magnitudes() -> None:
    ops = [_nested("trivial_augment", {}, seed) for seed in range(300)]
    assert all(len(o) == 1 for o in ops)
    angles = {o[0]["params"]["angle"] for o in ops if o[0]["name"] == "rotate"}
    assert len(angles) > 5 and all(abs(a) <= 135 for a in angles)
    assert {o[0]["name"] for o in ops} == TARGETS


def test_magnitudes_follow_torchvision_rand_augment() -> None:
    w, h = SHAPE[1], SHAPE[0]
    assert _op("rotate", 30, PO.RAND)["params"]["angle"] == 30.0
    assert _op("rotate", 15, PO.RAND, -1.0)["params"]["angle"] == -15.0
    shear = _op("shear_x", 30, PO.RAND)["params"]["shear_x"]
    assert shear == pytest.approx(math.degrees(math.atan(0.3)), abs=1e-6)
    assert _op("shear_y", 30, PO.RAND)["params"]["shear_x"] == 0.0
    assert _op("translate_x", 30, PO.RAND)["params"]["dx"] == int(150 / 331 * w) / w
    assert _op("translate_y", 30, PO.RAND, -1.0)["params"]["dy"] == -int(150 / 331 * h) / h
    assert _op("brightness", 30, PO.RAND, -1.0)["params"]["factor"] == pytest.approx(0.1)
    assert _op("color", 9, PO.RAND)["params"]["factor"] == pytest.approx(1.27)
    assert [_op("posterize", m, PO.RAND)["params"]["bits"] for m in (0, 9, 30)] == [8, 7, 4]
    assert [_op("solarize", m, PO.RAND)["params"]["threshold"] for m in (0, 15, 30)] == [255.0, 127.5, 0.0]
    assert _op("equalize", 9, PO.RAND)["params"] == {"mode": "per_channel", "formula": "pil"}


def test_magnitudes_follow_torchvision_trivial_augment_wide() -> None:
    assert _op("rotate", 30, PO.WIDE)["params"]["angle"] == 135.0
    assert _op("translate_x", 30, PO.WIDE)["params"]["dx"] == 32 / SHAPE[1]  # 32 pixels, whatever the size
    assert _op("translate_x", 30, PO.WIDE, shape=(100, 200, 3))["params"]["dx"] == 32 / 200
    assert _op("posterize", 30, PO.WIDE)["params"]["bits"] == 2
    assert _op("sharpness", 30, PO.WIDE, -1.0)["params"]["factor"] == pytest.approx(0.01)


def test_magnitude_zero_is_the_identity_except_autocontrast_and_equalize() -> None:
    image = make_image(np.uint8, 3, *SHAPE[:2]) // 2 + 60  # below 255, so solarize at 255 changes nothing
    seen = set()
    for seed in range(60):
        for op in _nested("rand_augment", {"n": 3, "magnitude": 0}, seed):
            seen.add(op["name"])
            if op["name"] not in ("autocontrast", "equalize"):
                assert np.array_equal(render(image, [op]), image), op
    assert seen == TARGETS


def test_higher_magnitude_changes_more() -> None:
    image = make_image(np.uint8, 3, *SHAPE[:2])

    def change(magnitude: int) -> float:
        diffs = []
        for seed in range(40):
            ops = _nested("rand_augment", {"n": 1, "magnitude": magnitude}, seed)
            op = {"name": "rand_augment", "params": {"ops": ops}}
            diffs.append(np.abs(render(image, [op]).astype(int) - image).mean())
        return float(np.mean(diffs))

    assert change(3) < change(15) < change(30)


@pytest.mark.parametrize("name", ["rand_augment", "trivial_augment"])
def test_nested_ops_replay_exactly(name: str) -> None:
    image = make_image(np.uint16, 4, *SHAPE[:2])
    for seed in range(12):
        step = REGISTRY[name].build({}, name)
        op = {"name": name, "params": step.sample(generator(seed), image.shape)}
        replayed = json.loads(json.dumps(op))
        out = render(image, [op])
        assert np.array_equal(out, render(image, [replayed]))
        assert np.array_equal(out, render(image, op["params"]["ops"]))  # the nested ops alone


def test_geometric_ops_use_the_policy_fill_and_interpolation() -> None:
    values = {"fill": [10, 20, 30], "interpolation": "linear"}
    ops = [op for s in range(80) for op in _nested("rand_augment", values, s)
           if op["name"] in ("rotate", "shear", "translate")]
    assert ops
    for op in ops:
        assert {k: op["params"][k] for k in ("border", "fill", "interpolation")} == {
            "border": "constant", "fill": [10.0, 20.0, 30.0], "interpolation": "linear"}
    default = next(op for s in range(80) for op in _nested("trivial_augment", {}, s)
                   if op["name"] == "rotate")
    assert (default["params"]["fill"], default["params"]["interpolation"]) == (128.0, "nearest")


def test_rotated_corners_take_the_fill() -> None:
    image = make_image(np.uint8, 3, 40, 40)
    op = _op("rotate", 30, PO.RAND)
    out = render(image, [op])
    assert out[0, 0].tolist() == [128, 128, 128]


def test_magnitude_must_be_one_of_the_bins() -> None:
    message = r"rand_augment: expected magnitude at most num_bins - 1 \(10\), got 12"
    with pytest.raises(RecipeError, match=message):
        REGISTRY["rand_augment"].build({"num_bins": 11, "magnitude": 12}, "rand_augment")
    with pytest.raises(RecipeError, match=r"rand_augment\.magnitude: expected"):
        REGISTRY["rand_augment"].build({"magnitude": 31}, "rand_augment")


def test_pil_enhancers_follow_pil_semantics() -> None:
    image = make_image(np.uint8, 3)
    dark = render(image, [{"name": "pil_brightness", "params": {"factor": 0.5}}])
    assert np.abs(dark.astype(int) - image.astype(int) * 0.5).max() <= 1  # blend with black
    grey = render(image, [{"name": "pil_color", "params": {"factor": 0.0}}])
    assert (grey[:, :, 0] == grey[:, :, 1]).all() and (grey[:, :, 1] == grey[:, :, 2]).all()
    flat = np.full((8, 8, 3), 90, np.uint8)
    assert np.array_equal(render(flat, [{"name": "pil_sharpness", "params": {"factor": 1.8}}]), flat)


def test_autocontrast_stretches_to_the_full_range() -> None:
    image = make_image(np.uint8, 1) // 2 + 40
    out = render(image, [{"name": "autocontrast", "params": {}}])
    assert (int(out.min()), int(out.max())) == (0, 255)


def test_expand_with_rand_augment_replays_byte_for_byte(tmp_path: Path, make_tree) -> None:
    tree = make_tree({"cat": 2})
    recipe = tmp_path / "r.yaml"
    recipe.write_text("pipeline:\n  - rand_augment: {n: 3, magnitude: 12}\n  - trivial_augment: {p: 0.5}\n")
    api.expand(tree, tmp_path / "out", recipe=recipe, copies=3, workers=1)
    rows = [row for row in read_rows(tmp_path / "out" / MANIFEST) if row.kind == "augmented"]
    assert len(rows) == 6 and all(row.op_list()[0]["name"] == "rand_augment" for row in rows)
    result = api.replay(tmp_path / "out" / MANIFEST, tmp_path / "re", workers=1)
    assert result.rebuilt == result.identical and not result.mismatched


def test_recipe_with_policies_validates() -> None:
    text = "pipeline:\n  - rand_augment: {n: [1, 2], magnitude: [5, 15]}\n  - trivial_augment\n"
    recipe = parse_recipe(text)
    ops = recipe.sample(generator(0), SHAPE)
    assert [op["name"] for op in ops] == ["rand_augment", "trivial_augment"]
    with pytest.raises(RecipeError, match=r"pipeline\[0\]\.rand_augment\.n: expected"):
        parse_recipe("pipeline:\n  - rand_augment: {n: 15}\n")
