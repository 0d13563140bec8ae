"""Multi-image steps (mixup, sample_pairing, cutmix, mosaic): kernels against numpy formulas, recorded
partners and soft labels, alpha, and runs that stay the same whatever the worker count."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path

import cv2
import numpy as np
import pytest

from augcli import api, ops
from augcli.compose import label_weights
from augcli.errors import RecipeError
from augcli.manifest import MANIFEST, read_rows
from augcli.recipe import parse_recipe
from tests.conftest import make_image, sample_op, with_partners


def _recipe(tmp_path: Path, body: str) -> Path:
    path = tmp_path / "r.yaml"
    path.write_text(f"seed: 3\ncopies: 3\npipeline:\n{body}", encoding="utf-8")
    return path


# ---------------------------------------------------------------- kernels against numpy


def test_blend_of_opaque_images_is_the_plain_formula() -> None:
    a, b = make_image(np.uint8, 3, seed=1), make_image(np.uint8, 3, seed=2)
    expected = np.clip(np.rint(a * np.float32(0.7) + b * np.float32(0.3)), 0, 255)
    got = ops.blend_pair(a, b, 0.3).astype(np.float64)
    assert np.abs(got - expected).max() <= 1  # float32 rounding of a + t (b - a) against the weighted sum


def test_hidden_pixels_of_a_transparent_partner_never_show() -> None:
    """A partner pixel with alpha 0 adds nothing: over an RGB image the first image shows through,
    and with alpha in the result the colour is that of the visible image."""
    a = np.full((4, 4, 3), 100, np.uint8)
    b = np.dstack([np.full((4, 4, 3), 255, np.uint8), np.zeros((4, 4, 1), np.uint8)])  # white, fully hidden
    assert np.array_equal(ops.blend_pair(a, b, 0.5), a)
    a4 = np.dstack([a, np.full((4, 4, 1), 255, np.uint8)])
    out = ops.blend_pair(a4, b, 0.5)
    assert np.array_equal(out[:, :, :3], a) and np.all(out[:, :, 3] == 128)  # alpha 255 and 0 blend to 127.5
    assert np.array_equal(ops.paste_box(a, b, (0, 0, 4, 4)), a)


def test_a_smote_blend_of_rgba_images_hides_what_alpha_hides() -> None:
    red = np.zeros((2, 2, 4), np.uint8)
    red[..., 2], red[..., 3] = 255, 255
    hidden_green = np.zeros((2, 2, 4), np.uint8)
    hidden_green[..., 1] = 255  # alpha 0: green must not show
    out = ops.blend_pair(red, hidden_green, 0.25)
    assert out[0, 0].tolist() == [0, 0, 255, 191]  # colour stays red, alpha 255 * 0.75


def test_paste_box_takes_exactly_the_box() -> None:
    a, b = make_image(np.uint16, 1, seed=3), make_image(np.uint16, 1, seed=4)
    out = ops.paste_box(a, b, (5, 2, 20, 9))
    expected = a.copy()
    expected[2:9, 5:20] = b[2:9, 5:20]
    assert np.array_equal(out, expected)


def test_mosaic_tiles_cover_their_regions() -> None:
    a = np.full((10, 20, 3), 10, np.uint8)
    parts = [np.full((5, 5, 3), 50 * (i + 1), np.uint8) for i in range(3)]
    regions = ops.mosaic_regions(20, 10, 14, 7)
    assert regions == [(0, 0, 14, 7), (14, 0, 20, 7), (0, 7, 14, 10), (14, 7, 20, 10)]
    out = ops.mosaic(a, parts, regions, [0, 1, 2, 3])
    for value, (x0, y0, x1, y1) in zip([10, 50, 100, 150], regions, strict=True):
        assert np.all(out[y0:y1, x0:x1] == value)


# ---------------------------------------------------------------- sampling: shares, partners, labels


@pytest.mark.parametrize("seed", range(8))
def test_mixup_weights_are_lambda_and_the_image_leads(seed: int) -> None:
    params = sample_op("mixup", {"alpha": 0.4, "partner": "any"}, seed=seed)["params"]
    assert 0.5 <= params["lam"] <= 1 and params["shares"] == [params["lam"], round(1 - params["lam"], 6)]
    image = make_image(np.uint8, 3)
    sources = with_partners(image)
    partner = sources[params["partners"][0]["source"]]
    out = ops.blend_pair(image, partner, 1 - params["lam"])
    from augcli.render import render
    assert np.array_equal(render(image, [{"name": "mixup", "params": params}], sources), out)


@pytest.mark.parametrize("seed", range(8))
def test_cutmix_weights_are_the_pasted_area(seed: int) -> None:
    shape = (37, 53, 3)
    params = sample_op("cutmix", {"alpha": 1.0}, shape=shape, seed=seed)["params"]
    x0, y0, x1, y1 = params["box"]
    assert 0 <= x0 <= x1 <= 53 and 0 <= y0 <= y1 <= 37
    pasted = (x1 - x0) * (y1 - y0) / (37 * 53)
    assert params["shares"][1] == pytest.approx(pasted, abs=1e-6) and params["shares"][0] >= 0.5
    assert sum(params["shares"]) == pytest.approx(1, abs=1e-6)


@pytest.mark.parametrize("grid", [[2, 2], [1, 2], [2, 1]])
@pytest.mark.parametrize("seed", range(6))
def test_mosaic_weights_are_the_region_areas_and_the_image_fills_half(grid: list[int], seed: int) -> None:
    params = sample_op("mosaic", {"grid": grid, "partner": "any"}, shape=(40, 60, 3), seed=seed)["params"]
    regions = ops.mosaic_regions(60, 40, *params["cut"])
    areas = [(x1 - x0) * (y1 - y0) / 2400 for x0, y0, x1, y1 in regions]
    assert params["shares"] == pytest.approx([areas[i] for i in params["order"]], abs=1e-6)
    assert params["shares"][0] >= 0.5 and sum(params["shares"]) == pytest.approx(1, abs=1e-6)
    assert len(params["partners"]) == grid[0] * grid[1] - 1


def test_label_weights_follow_the_shares() -> None:
    op = {"name": "mixup", "params": {"lam": 0.7, "shares": [0.7, 0.3],
                                      "partners": [{"source": 1, "label": "dog", "ops": []}]}}
    assert label_weights("cat", [op]) == {"cat": 0.7, "dog": 0.3}
    pairing = {"name": "sample_pairing", "params": {"shares": [1.0, 0.0],
                                                    "partners": [{"source": 1, "label": "dog", "ops": []}]}}
    assert label_weights("cat", [pairing]) == {"cat": 1.0}  # SamplePairing keeps the first image's label
    same = {"name": "cutmix", "params": {"box": [0, 0, 1, 1], "shares": [0.6, 0.4],
                                         "partners": [{"source": 1, "label": "cat", "ops": []}]}}
    assert label_weights("cat", [same]) == {"cat": 1.0}


# ---------------------------------------------------------------- recipes


@pytest.mark.parametrize(("body", "message"), [
    ("  - one_of: [hflip, mixup]\n", "pipeline[0].one_of[1]: expected a single-image step inside a group"),
    ("  - mixup\n  - cutmix\n", "pipeline[1]: expected at most one multi-image step per pipeline"),
    ("  - mosaic: {grid: [1, 1]}\n", "pipeline[0].mosaic.grid: expected a grid of at least two regions"),
    ("  - mixup: {partner: others}\n", "pipeline[0].mixup.partner: expected one of same_class, any"),
])
def test_bad_multi_image_steps_are_recipe_errors(body: str, message: str) -> None:
    with pytest.raises(RecipeError, match=message.replace("[", r"\[").replace("]", r"\]")):
        parse_recipe(f"pipeline:\n{body}", "r.yaml")


# ---------------------------------------------------------------- runs


@pytest.fixture
def tree(make_tree: Callable[..., Path]) -> Path:
    return make_tree({"cat": 4, "dog": 3, "owl": 1})


@pytest.mark.parametrize("step", ["mixup: {partner: any, alpha: 0.4}", "sample_pairing: {partner: any}",
                                  "cutmix: {partner: any}", "mosaic: {partner: any}",
                                  "mixup: {partner: same_class}"])
def test_runs_record_partners_and_soft_labels_and_replay(tmp_path: Path, tree: Path, step: str) -> None:
    recipe = _recipe(tmp_path, f"  - hflip: {{p: 0.5}}\n  - {step}\n")
    one = api.expand(tree, tmp_path / "one", recipe=recipe, workers=1)
    two = api.expand(tree, tmp_path / "two", recipe=recipe, workers=2)
    # owl, alone in its class, has no same-class partner: hflip is the only new image its 3 copies can be
    left_out = 2 if "same_class" in step else 0
    assert one.copies_left_out == two.copies_left_out == left_out
    assert one.made == two.made == 8 * 4 - left_out
    rows = read_rows(tmp_path / "one" / MANIFEST)
    assert (tmp_path / "one" / MANIFEST).read_bytes() == (tmp_path / "two" / MANIFEST).read_bytes()
    for row in rows:
        assert (tmp_path / "one" / row.path).read_bytes() == (tmp_path / "two" / row.path).read_bytes()
        weights = row.weights()
        assert sum(weights.values()) == pytest.approx(1, abs=1e-6)
        assert max(weights, key=lambda k: (weights[k], k == row.label)) == row.label  # its folder leads
        assert row.path.startswith(row.label + "/")
        mixes = [op for op in row.op_list() if "partners" in op["params"]]
        sources = row.source_list()
        for op in mixes:
            for partner in op["params"]["partners"]:
                assert partner["source"] < len(sources) and partner["label"] == sources[partner["source"]].split("/")[0]
                if "same_class" in step:
                    assert partner["label"] == row.label
        expected = {row.label: 1.0}
        for op in mixes:  # worked out from the recorded shares, not through augcli's own function
            shares = op["params"]["shares"]
            expected = {row.label: shares[0]}
            for share, partner in zip(shares[1:], op["params"]["partners"], strict=True):
                expected[partner["label"]] = round(expected.get(partner["label"], 0) + share, 6)
            expected = {k: v for k, v in expected.items() if v > 0}
        if expected == {row.label: 1.0}:
            assert row.label_weights == ""  # single-label rows (sample_pairing, same-class partners) stay empty
        else:
            assert json.loads(row.label_weights) == expected
    assert any(len(row.source_list()) > 1 for row in rows)
    replayed = api.replay(tmp_path / "one" / MANIFEST, tmp_path / "again", workers=1)
    assert (replayed.rebuilt, replayed.identical, replayed.mismatched) == (len(rows), len(rows), ())


def test_a_same_class_step_on_a_class_of_one_image_is_skipped(tmp_path: Path, tree: Path) -> None:
    recipe = _recipe(tmp_path, "  - rotate: {degrees: [-20, 20]}\n  - mixup: {partner: same_class}\n")
    result = api.expand(tree, tmp_path / "out", recipe=recipe, workers=1)
    owl = [row for row in read_rows(tmp_path / "out" / MANIFEST) if row.label == "owl" and row.kind == "augmented"]
    assert result.errors == ()
    assert len(owl) == 3 and all([op["name"] for op in row.op_list()] == ["rotate"] and
                                 row.source_list() == [row.sources] for row in owl)


def test_partners_get_the_steps_before_the_mix_unless_told_otherwise(tmp_path: Path, tree: Path) -> None:
    for pipeline, expect_ops in (("same", True), ("none", False)):
        recipe = _recipe(tmp_path, f"  - vflip\n  - mixup: {{partner: any, partner_pipeline: {pipeline}}}\n")
        out = tmp_path / pipeline
        api.expand(tree, out, recipe=recipe, workers=1)
        for row in read_rows(out / MANIFEST):
            for op in row.op_list():
                if op["name"] == "mixup":
                    vflip = [{"name": "vflip", "params": {}}]
                    assert op["params"]["partners"][0]["ops"] == (vflip if expect_ops else [])


def test_partners_of_other_kinds_are_reconciled(tmp_path: Path) -> None:
    root = tmp_path / "in"
    (root / "a").mkdir(parents=True)
    cv2.imwrite(str(root / "a" / "rgb.png"), make_image(np.uint8, 3, 30, 40, seed=1))
    cv2.imwrite(str(root / "a" / "grey16.png"), make_image(np.uint16, 1, 17, 11, seed=2)[:, :, 0])
    cv2.imwrite(str(root / "a" / "rgba.png"), make_image(np.uint8, 4, 25, 25, seed=3))
    recipe = _recipe(tmp_path, "  - mixup: {partner: same_class, alpha: 1}\n")
    result = api.expand(root, tmp_path / "out", recipe=recipe, workers=1)
    assert result.made == 12 and not result.errors
    for row in read_rows(tmp_path / "out" / MANIFEST):
        source = cv2.imread(str(root / row.sources.split(";")[0]), cv2.IMREAD_UNCHANGED)
        made = cv2.imread(str(tmp_path / "out" / row.path), cv2.IMREAD_UNCHANGED)
        assert made.shape == source.shape and made.dtype == source.dtype  # the first image's kind


def test_replay_refuses_a_partner_the_sources_do_not_list(cli, tmp_path: Path, tree: Path) -> None:
    recipe = _recipe(tmp_path, "  - mixup: {partner: any}\n")
    api.expand(tree, tmp_path / "out", recipe=recipe, workers=1)
    manifest = tmp_path / "out" / MANIFEST
    rows = manifest.read_text().splitlines(keepends=True)
    line = next(i for i, text in enumerate(rows) if '""source"":1' in text)
    rows[line] = rows[line].replace('""source"":1', '""source"":3', 1)
    manifest.write_text("".join(rows))
    result = cli("replay", "-q", manifest, tmp_path / "again")
    assert result.exit_code == 2, result.output
    assert f"{manifest}:{line + 1}: op 'mixup' names partner source 3, but the sources column lists 2" in result.stderr


def test_an_unreadable_partner_leaves_that_output_out_and_names_the_file(tmp_path: Path, tree: Path) -> None:
    (tree / "dog" / "broken.png").write_bytes(b"\x89PNG\r\n\x1a\n" + b"\0" * 40)
    recipe = _recipe(tmp_path, "  - mixup: {partner: same_class}\n")
    result = api.expand(tree, tmp_path / "out", recipe=recipe, workers=1)
    assert any(rel == "dog/broken.png" for rel, _ in result.errors)
    rows = read_rows(tmp_path / "out" / MANIFEST)
    assert all("dog/broken.png" not in row.sources for row in rows)
    assert result.made == len(rows) and result.made + result.skipped == result.planned
