"""Test-time augmentation sets: complete, named and grouped as documented, identical on every run, replayable."""

from __future__ import annotations

import re
from pathlib import Path

import cv2
import numpy as np
import pytest

from augcli import api
from augcli.errors import InputError, RecipeError
from augcli.io import read_image
from augcli.manifest import MANIFEST, read_rows
from augcli.recipe import parse_recipe
from tests.conftest import make_image, write_image

DEFAULT_NAMES = ["identity", "hflip", "crop_tl", "crop_tr", "crop_bl", "crop_br", "crop_c"]


def _files(root: Path) -> dict[str, bytes]:
    """Every file under root (the run record names the input folder, the same for both runs)."""
    return {str(p.relative_to(root)): p.read_bytes() for p in sorted(root.rglob("*")) if p.is_file()}


def test_default_set_is_complete_named_and_grouped(tmp_path: Path, make_tree) -> None:
    tree = make_tree({"cat": 2, "dog": 1})
    result = api.expand(tree, tmp_path / "out", tta=True, workers=1)
    rows = read_rows(tmp_path / "out" / MANIFEST)
    sources = ["cat/cat_000.png", "cat/cat_001.png", "dog/dog_000.png"]
    expected = []
    for rel in sources:
        stem = rel[:-4]
        expected.append((rel, "original", 0, 0, rel, rel))
        expected += [(f"{stem}__tta_{name}.png", "tta", i, 0, rel, rel) for i, name in enumerate(DEFAULT_NAMES, 1)]
    assert [(r.path, r.kind, r.copy, r.seed, r.sources, r.group) for r in rows] == expected
    assert (result.planned, result.made) == (24, 24)
    assert all((tmp_path / "out" / r.path).is_file() for r in rows)


def test_no_originals_writes_the_set_alone(tmp_path: Path, make_tree) -> None:
    api.expand(make_tree({"cat": 1}), tmp_path / "out", tta=True, originals=False, workers=1)
    rows = read_rows(tmp_path / "out" / MANIFEST)
    assert [r.path for r in rows] == [f"cat/cat_000__tta_{name}.png" for name in DEFAULT_NAMES]
    assert {r.group for r in rows} == {"cat/cat_000.png"}


def test_same_stem_sources_get_distinct_names(tmp_path: Path) -> None:
    write_image(tmp_path / "in" / "a" / "x.png", make_image())
    write_image(tmp_path / "in" / "a" / "x.jpg", make_image(seed=1))
    recipe = tmp_path / "r.yaml"
    recipe.write_text("output: {format: png}\npipeline: []\n")  # both sources' views would be x__tta_*.png
    api.expand(tmp_path / "in", tmp_path / "out", recipe=recipe, tta=True, originals=False, workers=1)
    paths = [r.path for r in read_rows(tmp_path / "out" / MANIFEST)]
    assert paths[:2] == ["a/x_jpg__tta_identity.png", "a/x_jpg__tta_hflip.png"]
    assert paths[7:9] == ["a/x_png__tta_identity.png", "a/x_png__tta_hflip.png"]
    assert len(set(paths)) == 14


def test_identical_bytes_on_every_run_and_with_any_workers(tmp_path: Path, make_tree) -> None:
    tree = make_tree({"cat": 3, "dog": 2}, ext=".jpg")
    api.expand(tree, tmp_path / "one", tta=True, workers=1)
    api.expand(tree, tmp_path / "two", tta=True, workers=2)
    again = api.expand(tree, tmp_path / "one", tta=True, workers=2)  # a rerun keeps everything
    assert (again.made, again.kept) == (0, 40)
    api.expand(tree, tmp_path / "three", tta=True, workers=1, overwrite=True)
    one, two, three = _files(tmp_path / "one"), _files(tmp_path / "two"), _files(tmp_path / "three")
    assert one == two == three
    assert len([p for p in one if "__tta_" in p]) == 35


def test_replay_rebuilds_every_variant_byte_for_byte(tmp_path: Path, make_tree, cli) -> None:
    recipe = tmp_path / "r.yaml"
    recipe.write_text("output: {format: jpg, quality: 90}\n"
                      "tta:\n  variants: [identity, vflip, {rot90: {k: 3}}, five_crop, {angles: [-7.5, 10]}]\n")
    api.expand(make_tree({"cat": 2, "dog": 1}), tmp_path / "out", recipe=recipe, workers=2)
    replay = api.replay(tmp_path / "out" / MANIFEST, tmp_path / "re", workers=2)
    assert (replay.rebuilt, replay.identical, replay.mismatched) == (33, 33, ())
    result = cli("replay", "-q", tmp_path / "out" / MANIFEST, tmp_path / "re2")
    assert result.exit_code == 0 and "33 of 33 outputs rebuilt byte for byte" in result.stdout


def _box(corner: str, w: int, h: int, size: float) -> tuple[int, int, int, int]:
    """The documented box: sides rounded half up; the centre starts at floor((W - w) / 2)."""
    cw, ch = int(np.floor(w * size + 0.5)), int(np.floor(h * size + 0.5))
    x0 = {"tl": 0, "bl": 0, "tr": w - cw, "br": w - cw, "c": (w - cw) // 2}[corner]
    y0 = {"tl": 0, "tr": 0, "bl": h - ch, "br": h - ch, "c": (h - ch) // 2}[corner]
    return x0, y0, x0 + cw, y0 + ch


@pytest.mark.parametrize(("dtype", "channels"), [(np.uint8, 3), (np.uint16, 1), (np.uint8, 4)],
                         ids=["u8x3", "u16x1", "u8x4"])
def test_each_variant_equals_an_independent_oracle(tmp_path: Path, dtype, channels: int) -> None:
    source = make_image(dtype, channels, height=37, width=53)
    write_image(tmp_path / "in" / "a" / "s.png", source)
    recipe = tmp_path / "r.yaml"
    recipe.write_text("tta:\n  variants: [identity, hflip, vflip, {rot90: {k: 1}}, {five_crop: {size: 0.6}},\n"
                      "             {name: flip_tl, crop: {corner: tl, size: 0.5}, steps: [hflip]}]\n")
    api.expand(tmp_path / "in", tmp_path / "out", recipe=recipe, originals=False, workers=1)
    src = read_image(tmp_path / "in" / "a" / "s.png")
    assert np.array_equal(src, source if source.ndim == 3 else source[:, :, None])
    h, w = src.shape[:2]

    def crop(corner: str, size: float) -> np.ndarray:
        x0, y0, x1, y1 = _box(corner, w, h, size)
        out = cv2.resize(src[y0:y1, x0:x1], (w, h), interpolation=cv2.INTER_LINEAR)
        return out.reshape(h, w, -1)

    expected = {"identity": src, "hflip": np.fliplr(src), "vflip": np.flipud(src), "rot90": np.rot90(src, 1),
                **{f"crop_{c}": crop(c, 0.6) for c in ("tl", "tr", "bl", "br", "c")},
                "flip_tl": np.fliplr(crop("tl", 0.5))}
    rows = read_rows(tmp_path / "out" / MANIFEST)
    assert [r.path for r in rows] == [f"a/s__tta_{name}.png" for name in expected]
    for name, want in expected.items():
        got = read_image(tmp_path / "out" / "a" / f"s__tta_{name}.png")
        assert got.dtype == want.dtype and np.array_equal(got, want), name


def test_recipe_section_turns_the_set_on_and_tta_false_turns_it_off(tmp_path: Path, make_tree) -> None:
    tree = make_tree({"cat": 1})
    recipe = tmp_path / "r.yaml"
    recipe.write_text("copies: 2\npipeline: [rotate]\ntta:\n  variants: [hflip, {angles: [-10, 2.5, 0]}]\n")
    api.expand(tree, tmp_path / "tta", recipe=recipe, originals=False, workers=1)
    assert [r.path for r in read_rows(tmp_path / "tta" / MANIFEST)] == [
        "cat/cat_000__tta_hflip.png", "cat/cat_000__tta_rotate_m10.png", "cat/cat_000__tta_rotate_2p5.png",
        "cat/cat_000__tta_rotate_0.png"]
    rotate = read_rows(tmp_path / "tta" / MANIFEST)[1].op_list()
    assert rotate == [{"name": "rotate", "params": {"angle": -10.0, "border": "reflect", "fill": 0,
                                                    "interpolation": "linear"}}]
    api.expand(tree, tmp_path / "plain", recipe=recipe, tta=False, originals=False, workers=1)
    rows = read_rows(tmp_path / "plain" / MANIFEST)
    assert [(r.path, r.kind, r.group) for r in rows] == [
        ("cat/cat_000__aug001.png", "augmented", ""), ("cat/cat_000__aug002.png", "augmented", "")]


def test_tta_with_copies_is_refused_and_copies_0_allowed(tmp_path: Path, make_tree, cli) -> None:
    tree = make_tree({"cat": 1})
    with pytest.raises(InputError, match=r"^copies=3: expected no random copies beside a test-time set"):
        api.expand(tree, tmp_path / "out", tta=True, copies=3, workers=1)
    result = cli("expand", "--recipe", "default", "--tta", "--copies", 3, tree, tmp_path / "out")
    assert result.exit_code == 2
    assert result.stderr == ("Error: --copies 3: expected no random copies beside a test-time set (its views "
                             "are fixed), got 3 instead; for random copies, run expand with --no-tta into "
                             "another folder\n")
    assert not (tmp_path / "out").exists()
    result = cli("expand", "-q", "--tta", "--copies", 0, "--no-originals", tree, tmp_path / "out")
    assert result.exit_code == 0
    assert len(read_rows(tmp_path / "out" / MANIFEST)) == 7


def test_resume_refuses_a_changed_set(tmp_path: Path, make_tree, cli) -> None:
    tree = make_tree({"cat": 1})
    recipe = tmp_path / "r.yaml"
    recipe.write_text("tta: {variants: [identity, hflip]}\n")
    api.expand(tree, tmp_path / "out", recipe=recipe, workers=1)
    recipe.write_text("tta: {variants: [identity, vflip]}\n")
    result = cli("expand", "-q", "--recipe", recipe, tree, tmp_path / "out")
    assert result.exit_code == 2
    assert "holds a run with a different tta; resume needs the same recipe and options" in result.stderr
    result = cli("expand", "-q", "--no-tta", "--recipe", recipe, tree, tmp_path / "out")
    assert result.exit_code == 2 and "holds a run with a different copies;" in result.stderr
    result = cli("expand", "-q", "--overwrite", "--recipe", recipe, tree, tmp_path / "out")
    assert result.exit_code == 0
    assert [r.path for r in read_rows(tmp_path / "out" / MANIFEST)] == [
        "cat/cat_000.png", "cat/cat_000__tta_identity.png", "cat/cat_000__tta_vflip.png"]
    assert not (tmp_path / "out" / "cat" / "cat_000__tta_hflip.png").exists()


@pytest.mark.parametrize(("text", "message"), [
    ("tta:\n  variants:\n    - rotate: {degrees: [-10, 10]}\n",
     "r.yaml:3: tta.variants[0]: expected a fixed step (every range as one value, p 1, no drawn noise), got a "
     "step that draws random values ({'rotate': {'degrees': [-10, 10]}}); give every range as one value ([x, x]) "
     "and leave p at 1"),
    ("tta:\n  variants:\n    - hflip\n    - name: x\n      steps:\n        - vflip: {p: 0.5}\n",
     "r.yaml:6: tta.variants[1].steps[0]: expected a fixed step"),
    ("tta:\n  variants: [hflip, identity, hflip]\n",
     "r.yaml:2: tta.variants[2]: expected a variant name not used before (hflip, identity), got 'hflip'; "
     "name it: {name: my_name, steps: [...]}"),
    ("tta:\n  variant: [hflip]\n", "r.yaml:2: tta.variant: expected one of variants, got 'variant'; "
                                  "did you mean 'variants'?"),
    ("tta:\n  variants:\n    - five_crop: {size: 1.5}\n",
     "r.yaml:3: tta.variants[0].five_crop.size: expected number in [0.05, 1], got 1.5"),
    ("tta:\n  variants:\n    - {name: Big, steps: [hflip]}\n",
     "r.yaml:3: tta.variants[0].name: expected a name of at most 40 lowercase letters, digits and _, got 'Big'"),
    ("tta:\n  variants: []\n", "r.yaml:2: tta.variants: expected a list of 1 to 100 variants"),
    ("tta: {}\n", "r.yaml:1: tta: expected a mapping with 'variants: [...]', got {}"),
    ("tta:\n  variants: [hflp]\n", "r.yaml:2: tta.variants[0]: expected a transform name"),
    ("tta:\n  variants:\n    - angles: [5, 400]\n",
     "r.yaml:3: tta.variants[0].angles[1]: expected number in [-360, 360] (deg), got 400"),
    ("tta:\n  variants:\n    - {name: c, crop: {corner: middle}}\n",
     "r.yaml:3: tta.variants[0].crop.corner: expected one of tl, tr, bl, br, c, got 'middle'"),
])
def test_bad_section_is_refused_at_load_with_file_and_line(tmp_path: Path, make_tree, cli, text: str,
                                                           message: str) -> None:
    with pytest.raises(RecipeError) as info:
        parse_recipe(text, source="r.yaml")
    assert str(info.value).startswith(message)
    recipe = tmp_path / "r.yaml"
    recipe.write_text(text)
    result = cli("expand", "--tta", "--recipe", recipe, make_tree({"a": 1}), tmp_path / "out")
    assert result.exit_code == 2
    assert re.search(r"Error: \S*r\.yaml:\d+: tta", result.stderr)
    assert not (tmp_path / "out").exists()


def test_a_test_time_recipe_needs_no_pipeline_and_its_canonical_form_is_unchanged() -> None:
    with_set = parse_recipe("pipeline: [hflip]\ntta: {variants: [hflip]}\n")
    assert with_set.to_data() == parse_recipe("pipeline: [hflip]\n").to_data()
    assert parse_recipe("tta: {variants: [hflip]}\n").pipeline == ()


def _readme_example() -> str:
    """The README's Python block that averages predictions per source."""
    text = (Path(__file__).resolve().parent.parent / "README.md").read_text(encoding="utf-8")
    blocks = re.findall(r"```python\n(.*?)```", text, flags=re.S)
    return next(block for block in blocks if "groupby" in block and "tta_out" in block)


def test_readme_example_averages_the_views_of_each_source(tmp_path: Path, make_tree, monkeypatch) -> None:
    pytest.importorskip("pandas")
    api.expand(make_tree({"cat": 2, "dog": 1}), tmp_path / "tta_out", tta=True, workers=1)
    monkeypatch.chdir(tmp_path)
    seen: list[float] = []

    def model(image: np.ndarray) -> np.ndarray:
        """A stand-in model: two 'probabilities' from the mean brightness."""
        p = float(image.mean()) / 255
        seen.append(p)
        return np.array([p, 1 - p])

    namespace: dict = {"model": model}
    # the README's own stand-in model (a line of its own, so the block runs as written) gives way to this one
    block = "".join(line for line in _readme_example().splitlines(keepends=True) if not line.startswith("model = "))
    exec(block, namespace)
    rows = [r for r in read_rows(tmp_path / "tta_out" / MANIFEST) if r.kind == "tta"]
    assert len(seen) == len(rows) == 21
    for source in ("cat/cat_000.png", "cat/cat_001.png", "dog/dog_000.png"):
        views = [cv2.imread(str(tmp_path / "tta_out" / r.path)).mean() / 255 for r in rows if r.group == source]
        assert len(views) == 7
        assert namespace["mean"].loc[source, 0] == pytest.approx(np.mean(views))
        assert namespace["predicted"][source] == (0 if np.mean(views) > 0.5 else 1)
