"""Background replacement: the mask it finds on synthetic scenes, what it records, images folders, errors."""

from __future__ import annotations

import json
from pathlib import Path

import cv2
import numpy as np
import pytest

from augcli import api
from augcli.errors import RecipeError, RunError
from augcli.io import encode_image
from augcli.manifest import MANIFEST, read_rows
from augcli.recipe import parse_recipe
from augcli.registry import REGISTRY
from tests.conftest import full_scale, render_op, sample_params, write_image

BG = (180, 200, 220)  # the plain background (B, G, R), 0-255 units
OBJECT = (40, 90, 150)
NEW = [0, 255, 0]  # far from both


def scene(dtype: type = np.uint8, channels: int = 3, h: int = 144, w: int = 192, noise: int = 6, seed: int = 0,
          touch: bool = False) -> tuple[np.ndarray, np.ndarray]:
    """A plain background with noise below ``noise`` units, and an anti-aliased object; returns (image, object mask).

    The object is a disc and a polygon; with ``touch`` the polygon reaches the left edge. The
    object mask is where the drawing covers at least half a pixel.
    """
    coverage = np.zeros((h, w), np.uint8)
    cv2.circle(coverage, (w * 5 // 8, h // 2), h // 4, 255, -1, lineType=cv2.LINE_AA)
    x0 = 0 if touch else w // 8
    polygon = np.array([[x0, h // 4], [w // 2, h // 6], [w // 2, h * 5 // 6], [w // 6, h * 3 // 4]], np.int32)
    cv2.fillPoly(coverage, [polygon], 255, lineType=cv2.LINE_AA)
    share = coverage.astype(np.float64)[:, :, None] / 255
    picture = (1 - share) * np.array(BG) + share * np.array(OBJECT)
    rng = np.random.default_rng(seed)
    scale = full_scale(dtype) / 255
    values = picture * scale + rng.integers(-noise, noise + 1, size=picture.shape) * scale
    image = np.clip(np.rint(values), 0, full_scale(dtype)).astype(dtype)
    if channels == 1:
        image = np.rint(image.astype(np.float64) @ [0.114, 0.587, 0.299])[:, :, None].astype(dtype)
    elif channels == 4:
        alpha = np.tile(np.linspace(0, full_scale(dtype), w), (h, 1)).astype(dtype)
        image = np.dstack([image, alpha])
    return image, coverage >= 128


def iou(a: np.ndarray, b: np.ndarray) -> float:
    """Intersection over union of two boolean masks."""
    return float((a & b).sum() / (a | b).sum())


def replaced(image: np.ndarray, out: np.ndarray, colour: list[int]) -> np.ndarray:
    """Where an output changed a pixel; every changed pixel must show ``colour`` (a grey output: its luma)."""
    scale = full_scale(out.dtype) // 255
    changed = (out != image).any(axis=2)
    if out.shape[2] == 1:
        shown = out[:, :, 0] == round((0.114 * colour[0] + 0.587 * colour[1] + 0.299 * colour[2]) * scale)
    else:
        shown = (out[:, :, :3] == np.array(colour) * scale).all(axis=2)
    assert shown[changed].all()
    return changed


def check_kept(kept: np.ndarray, obj: np.ndarray) -> None:
    """The object is kept whole, and so is its anti-aliased rim at most: nothing further than 1 px from it."""
    near = cv2.dilate(obj.astype(np.uint8), np.ones((3, 3), np.uint8)).astype(bool)
    assert not (obj & ~kept).any()
    assert not (kept & ~near).any()


def test_family_and_registry_order() -> None:
    assert REGISTRY["background"].family == "background"
    families = list(dict.fromkeys(spec.family for spec in REGISTRY.values()))
    assert families.index("masks") + 1 == families.index("background") == families.index("mix") - 1


@pytest.mark.parametrize("dtype", [np.uint8, np.uint16])
@pytest.mark.parametrize("channels", [1, 3, 4])
def test_recovers_the_object_mask_on_a_plain_background(dtype: type, channels: int) -> None:
    image, obj = scene(dtype, channels)
    params = sample_params("background", {"color": NEW, "tolerance": 20}, image.shape)
    assert params == {"color": [0.0, 255.0, 0.0], "file": None, "box": None, "tolerance": 20.0, "method": "flood",
                      "feather": 0.0}
    out = render_op(image, "background", params)
    background = replaced(image, out, NEW)  # every changed pixel shows the new colour; the others are untouched
    assert iou(~background, obj) > 0.98
    check_kept(~background, obj)
    if channels == 4:
        assert np.array_equal(out[:, :, 3], image[:, :, 3])


def test_noise_within_the_tolerance_is_background_and_beyond_it_stops_the_fill() -> None:
    image, obj = scene(noise=8)
    out = render_op(image, "background", sample_params("background", {"color": NEW, "tolerance": 10}, image.shape))
    check_kept(~replaced(image, out, NEW), obj)
    tight = render_op(image, "background", sample_params("background", {"color": NEW, "tolerance": 4}, image.shape))
    assert replaced(image, tight, NEW).mean() < 0.05  # the fill stops at the noisy pixels around the border


def test_same_params_same_bytes_and_json_replay() -> None:
    image, _ = scene()
    params = sample_params("background", {}, image.shape, seed=5)
    assert params == sample_params("background", {}, image.shape, seed=5)
    again = json.loads(json.dumps(params))
    assert encode_image(render_op(image, "background", params), ".png") == \
        encode_image(render_op(image, "background", again), ".png")


def test_random_colours_vary_and_are_grey_on_grey_images() -> None:
    image, _ = scene()
    colours = {tuple(sample_params("background", {}, image.shape, seed)["color"]) for seed in range(6)}
    assert len(colours) == 6 and all(len(c) == 3 and all(isinstance(v, int) for v in c) for c in colours)
    grey, obj = scene(channels=1)
    for seed in range(4):
        params = sample_params("background", {"tolerance": 20}, grey.shape, seed)
        b, g, r = params["color"]
        assert b == g == r
        out = render_op(grey, "background", params)
        near = cv2.dilate(obj.astype(np.uint8), np.ones((3, 3), np.uint8)).astype(bool)
        assert (out[~near] == b).all() and np.array_equal(out[obj], grey[obj])


def test_feather_blends_only_near_the_edge() -> None:
    image, obj = scene()
    hard = render_op(image, "background", sample_params("background", {"color": NEW, "tolerance": 20}, image.shape))
    soft = render_op(image, "background", sample_params("background", {"color": NEW, "tolerance": 20,
                                                                        "feather": 2}, image.shape))
    inner = cv2.erode(obj.astype(np.uint8), np.ones((15, 15), np.uint8)).astype(bool)
    outer = ~cv2.dilate(obj.astype(np.uint8), np.ones((15, 15), np.uint8)).astype(bool)
    assert np.array_equal(soft[inner], image[inner]) and np.array_equal(soft[outer], hard[outer])
    assert not np.array_equal(soft, hard)


def test_an_object_touching_the_border_is_kept() -> None:
    image, obj = scene(touch=True)
    assert obj[:, 0].any()
    out = render_op(image, "background", sample_params("background", {"color": NEW, "tolerance": 20}, image.shape))
    check_kept(~replaced(image, out, NEW), obj)


def test_a_busy_background_is_left_mostly_alone() -> None:
    """Documented failure: on a textured background little lies within the tolerance, so little is replaced."""
    image, obj = scene()
    rng = np.random.default_rng(1)
    image[~obj] = rng.integers(0, 256, size=(int((~obj).sum()), 3), dtype=np.uint8)
    out = render_op(image, "background", sample_params("background", {"color": NEW, "tolerance": 20}, image.shape))
    assert replaced(image, out, NEW).mean() < 0.02
    assert np.array_equal(out[obj], image[obj])


@pytest.mark.parametrize("shape", [(1, 1, 3), (2, 3, 1), (3, 2, 4)])
def test_tiny_images_are_all_background(shape: tuple[int, int, int]) -> None:
    image = np.full(shape, 77, np.uint8)
    out = render_op(image, "background", sample_params("background", {"color": 200}, shape))
    colour = out[:, :, : min(shape[2], 3)]
    assert (colour == 200).all() and np.array_equal(out[:, :, 3:], image[:, :, 3:])


# ---------------------------------------------------------------- images folders


@pytest.fixture
def backgrounds(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> str:
    """A folder ``bgs/`` (relative to the current directory, tmp_path) of three backgrounds and a stray file."""
    monkeypatch.chdir(tmp_path)
    yy, xx = np.mgrid[0:100, 0:150]
    gradient = np.dstack([xx, yy, xx + yy]).astype(np.uint8)
    write_image(tmp_path / "bgs" / "a_gradient.png", gradient)
    write_image(tmp_path / "bgs" / "b_small.png", np.full((20, 30, 3), (5, 6, 7), np.uint8))
    write_image(tmp_path / "bgs" / "c_grey.png", np.full((90, 120, 1), 33, np.uint8))
    (tmp_path / "bgs" / "notes.txt").write_text("not an image")
    (tmp_path / "bgs" / ".hidden.png").write_bytes(b"")
    return "bgs/"


def test_images_draws_a_file_and_box_deterministically(backgrounds: str) -> None:
    image, _ = scene(h=48, w=64)
    drawn = [sample_params("background", {"images": backgrounds}, image.shape, seed) for seed in range(12)]
    assert drawn == [sample_params("background", {"images": backgrounds}, image.shape, seed) for seed in range(12)]
    assert {p["file"] for p in drawn} == {"bgs/a_gradient.png", "bgs/b_small.png", "bgs/c_grey.png"}
    for p in drawn:
        assert p["color"] is None
        x0, y0, x1, y1 = p["box"]
        if p["file"] == "bgs/b_small.png":  # smaller than the image: the largest box of its shape
            assert (x1 - x0, y1 - y0) == (27, 20)
        else:
            assert (x1 - x0, y1 - y0) == (64, 48) and x0 >= 0 and y0 >= 0 and x1 <= 150 and y1 <= 100


def test_images_shows_the_crop_where_the_background_was(backgrounds: str) -> None:
    image, obj = scene(h=48, w=64)
    gradient = cv2.imread("bgs/a_gradient.png")
    seen = set()
    for seed in range(12):
        params = sample_params("background", {"images": backgrounds, "tolerance": 20}, image.shape, seed)
        out = render_op(image, "background", params)
        x0, y0, x1, y1 = params["box"]
        expected = {"bgs/a_gradient.png": gradient[y0:y1, x0:x1], "bgs/b_small.png": np.full_like(image, (5, 6, 7)),
                    "bgs/c_grey.png": np.full_like(image, 33)}[params["file"]]
        changed = (out != image).any(axis=2)
        assert (out[changed] == expected[changed]).all()
        kept = changed | (image == expected).all(axis=2)
        check_kept(~kept, obj)
        seen.add(params["file"])
    assert len(seen) == 3


def test_a_missing_or_empty_folder_is_a_recipe_error_naming_the_step(tmp_path: Path,
                                                                    monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    with pytest.raises(RecipeError, match=r"r\.yaml:3: pipeline\[1\]\.background\.images: expected a folder of PNG, "
                                          r"JPEG, BMP, TIFF or WebP files, got 'nope/' \(not a folder: .*nope"):
        parse_recipe("pipeline:\n  - hflip\n  - background: {images: nope/}\n", "r.yaml")
    (tmp_path / "empty").mkdir()
    (tmp_path / "empty" / "readme.txt").write_text("x")
    with pytest.raises(RecipeError, match=r"pipeline\[0\]\.background\.images: .*got 'empty' \(it holds no PNG"):
        parse_recipe("pipeline:\n  - background: {images: empty}\n", "r.yaml")


def test_color_and_images_together_or_an_alpha_colour_are_refused(backgrounds: str) -> None:
    with pytest.raises(RecipeError, match=r"background\.color: expected a color or an images folder, not both"):
        REGISTRY["background"].build({"images": backgrounds, "color": 0}, "background")
    with pytest.raises(RecipeError, match=r"background\.color: .*\(alpha is kept as it is\)"):
        REGISTRY["background"].build({"color": [1, 2, 3, 4]}, "background")


def test_a_missing_or_broken_file_at_apply_time_is_a_run_error_naming_it(backgrounds: str) -> None:
    image, _ = scene(h=48, w=64)
    params = {"color": None, "file": "bgs/gone.png", "box": [0, 0, 64, 48], "tolerance": 20.0, "method": "flood",
              "feather": 0.0}
    with pytest.raises(RunError, match=r"background image bgs/gone\.png: no such file"):
        render_op(image, "background", params)
    Path("bgs/broken.png").write_text("<html>not found</html>")
    with pytest.raises(RunError, match=r"background image bgs/broken\.png: not a readable image"):
        render_op(image, "background", {**params, "file": "bgs/broken.png"})
    Path("only_broken").mkdir()
    Path("only_broken/x.jpg").write_text("<html>not found</html>")
    with pytest.raises(RunError, match=r"background image only_broken/x\.jpg: not a readable image"):
        sample_params("background", {"images": "only_broken"}, image.shape)  # sampling reads its header
    with pytest.raises(RunError, match=r"box \[0, 0, 64, 48\] does not fit its 30x20 pixels"):
        render_op(image, "background", {**params, "file": "bgs/b_small.png"})


def test_a_run_with_backgrounds_replays_byte_for_byte(backgrounds: str, make_tree, tmp_path: Path) -> None:
    tree = make_tree({"cat": 2, "dog": 1})
    recipe = tmp_path / "r.yaml"
    recipe.write_text("seed: 1\ncopies: 2\npipeline:\n  - background: {images: bgs/, tolerance: 40}\n")
    api.expand(tree, tmp_path / "out", recipe=recipe, workers=1)
    rows = [r for r in read_rows(tmp_path / "out" / MANIFEST) if r.kind != "original"]
    assert len(rows) == 6 and all(json.loads(r.ops)[0]["params"]["file"].startswith("bgs/") for r in rows)
    result = api.replay(tmp_path / "out" / MANIFEST, tmp_path / "re", workers=1)
    assert result.rebuilt == result.identical == 9 and not result.mismatched
    used = json.loads(rows[0].ops)[0]["params"]["file"]
    Path(used).unlink()  # a replay reads the recorded file again: without it, the outputs it made are not rebuilt
    result = api.replay(tmp_path / "out" / MANIFEST, tmp_path / "re2", workers=1)
    assert result.mismatched and all(f"background image {used}: no such file" in result.reasons[path]
                                     for path in result.mismatched)
