"""augcli suggest: each rule fires on a tree built to trigger it and stays silent on one built not to; the text
is deterministic, loads as a recipe and carries the evidence; the CLI's exit statuses and messages."""

from __future__ import annotations

import json
import os
import shutil
from pathlib import Path
from typing import Any

import cv2
import numpy as np
import pytest
import yaml

from augcli import api
from augcli.errors import InputError
from augcli.recipe import parse_recipe
from augcli.suggest import Suggestion, suggest
from tests.conftest import write_image

# ---------------------------------------------------------------- synthetic trees

BOOT = [(0.2, 0.15), (0.42, 0.15), (0.42, 0.6), (0.85, 0.62), (0.85, 0.82), (0.2, 0.82)]  # faces right
SHIRT = [(0.3, 0.2), (0.7, 0.2), (0.9, 0.35), (0.8, 0.45), (0.7, 0.4), (0.7, 0.9), (0.3, 0.9), (0.3, 0.4),
         (0.2, 0.45), (0.1, 0.35)]  # mirror-symmetric about the vertical axis


def picture(shape: str, rng: np.random.Generator, side: int = 32, background: str = "black",
            colour: bool = False) -> np.ndarray:
    """One (side, side, C) uint8 image: a boot, a shirt or a disc on a black, white or textured background."""
    if background == "texture":
        noise = rng.uniform(0, 255, (side, side, 3 if colour else 1)).astype(np.float32)
        image = np.clip(cv2.GaussianBlur(noise, (0, 0), 1.0) * 1.6 - 76, 0, 255).astype(np.uint8)
        image = image.reshape(side, side, -1)
    else:
        image = np.full((side, side, 3 if colour else 1), 0 if background == "black" else 255, np.uint8)
    ink = [int(rng.integers(40, 200)), 60, 220] if colour else [int(rng.integers(150, 230))]
    if background == "white":
        ink = [v // 3 for v in ink]
    shift = rng.integers(-1, 2, 2)
    canvas = np.ascontiguousarray(image)
    if shape == "disc":
        cv2.circle(canvas, (side // 2, side // 2), int(side * 0.3), ink, -1)
    else:
        points = np.array(BOOT if shape == "boot" else SHIRT) * side + shift
        cv2.fillPoly(canvas, [np.rint(points).astype(np.int32)], ink)
    return canvas.reshape(side, side, -1)


def tree(root: Path, classes: dict[str, tuple[str, int]], seed: int = 0, **style: Any) -> Path:
    """Write {class: (shape, count)} as PNGs under root; returns root."""
    rng = np.random.default_rng(seed)
    for label, (shape, count) in classes.items():
        for i in range(count):
            write_image(root / label / f"{i:03d}.png", picture(shape, rng, **style))
    return root


def run(root: Path, **kwargs: Any) -> Suggestion:
    return suggest(root, workers=1, **kwargs)


def finding(result: Suggestion, rule: str, label: str | None = None) -> Any:
    [found] = [f for f in result.findings if f.rule == rule and f.label == label]
    return found


def step(result: Suggestion, name: str) -> dict[str, Any] | None:
    """The params of the first pipeline step called ``name`` (a one_of group's children included)."""
    for item in result.data["pipeline"]:
        if name in item:
            return item[name]
        for child in item.get("one_of", {}).get("of", []):
            if name in child:
                return child[name]
    return None


def mirror_oracle(images: list[np.ndarray]) -> float:
    """The best Pearson correlation of the class's mean image (32x32 grey, 0-1) with its mirror moved by -1, 0
    or 1 px (both cut to their overlap), by numpy alone."""
    mean = np.mean(np.stack([im[:, :, 0].astype(np.float64) / 255 for im in images]), axis=0)
    mirror, w = mean[:, ::-1], mean.shape[1]
    pairs = [(mean[:, 1:], mirror[:, :-1]), (mean, mirror), (mean[:, :-1], mirror[:, 1:])]
    assert all(a.shape == (32, w - 1) for a, _ in (pairs[0], pairs[2]))
    return max(float(np.corrcoef(a.ravel(), b.ravel())[0, 1]) for a, b in pairs)


# ---------------------------------------------------------------- orientation


def test_a_class_facing_one_way_loses_hflip_and_a_symmetric_class_keeps_it(tmp_path: Path) -> None:
    root = tree(tmp_path / "in", {"boot": ("boot", 8), "shirt": ("shirt", 8)})
    result = run(root)
    assert result.data["pipeline"][0] == {"hflip": {"p": 0.5}}
    assert result.data["classes"] == {"boot": {"exclude": ["hflip"]}}
    boots = [cv2.imread(str(p), cv2.IMREAD_UNCHANGED)[:, :, None] for p in sorted((root / "boot").iterdir())]
    shirts = [cv2.imread(str(p), cv2.IMREAD_UNCHANGED)[:, :, None] for p in sorted((root / "shirt").iterdir())]
    boot, shirt = finding(result, "orientation", "boot"), finding(result, "orientation", "shirt")
    assert boot.value == pytest.approx(mirror_oracle(boots), abs=0.005) and boot.value < 0.85
    assert shirt.value == pytest.approx(mirror_oracle(shirts), abs=0.005) and shirt.value >= 0.85
    assert (boot.statistic, boot.threshold, boot.decision) == (
        "mirror correlation of the mean image", 0.85, "faces one way (1 of images face the class's way): hflip excluded")
    assert shirt.decision == "mirror-symmetric: hflip kept"
    line = next(x for x in result.text.splitlines() if x.startswith('  "boot"'))
    assert line.split("#")[0].rstrip() == '  "boot": {exclude: [hflip]}'
    assert line.endswith(f"# boot: mirror correlation of the mean image {boot.value:g} (threshold 0.85): "
                         "faces one way (1 of images face the class's way): hflip excluded")
    assert f"  # shirt: mirror correlation of the mean image {shirt.value:g} (threshold 0.85): " in result.text


def test_symmetric_objects_whose_mean_leans_one_way_keep_hflip(tmp_path: Path) -> None:
    """Discs placed so the class's mean image is lopsided, but each disc is its own mirror: the images do not
    face one way (no more than half sit on the mean's side), so hflip stays (sample_data's circles)."""
    for i, x in enumerate([6, 7, 8, 9, 10, 11, 23, 26]):
        image = np.zeros((32, 32), np.uint8)
        cv2.circle(image, (x, 16), 5, 255, -1)
        write_image(tmp_path / "in" / "disc" / f"{i}.png", image)
    result = run(tmp_path / "in")
    disc = finding(result, "orientation", "disc")
    mean = np.mean([cv2.imread(str(p), 0).astype(np.float64) for p in (tmp_path / "in" / "disc").iterdir()], axis=0)
    assert mirror_oracle([mean[:, :, None]]) < 0.85
    assert (disc.statistic, disc.threshold) == ("share of images facing the class's way", 0.8) and disc.value < 0.8
    assert disc.decision.endswith("but its images do not face one way: hflip kept")
    assert "classes" not in result.data


SOLE = [(0.08, 0.55), (0.92, 0.55), (0.92, 0.75), (0.08, 0.75)]
HEEL = [(0.75, 0.4), (0.9, 0.4), (0.9, 0.55), (0.75, 0.55)]  # a small tab at one end of a long flat sole


def sandals(root: Path, facing_right: int) -> list[np.ndarray]:
    """8 sandal-like images, the first ``facing_right`` with the tab on the right, the others mirrored."""
    rng, images = np.random.default_rng(0), []
    for i in range(8):
        image = np.zeros((32, 32), np.uint8)
        shift = rng.integers(-1, 2, 2)
        for poly in (SOLE, HEEL):
            cv2.fillPoly(image, [np.rint(np.array(poly) * 32 + shift).astype(np.int32)], int(rng.integers(150, 230)))
        images.append((image if i < facing_right else image[:, ::-1].copy())[:, :, None])
        write_image(root / "sandal" / f"{i}.png", images[-1])
    return images


def facing_oracle(images: list[np.ndarray]) -> float:
    """Share of images whose correlation with the mean of the others beats that with its mirror (numpy)."""
    stack = np.stack([im[:, :, 0].astype(np.float64) / 255 for im in images])
    wins = 0
    for i, image in enumerate(stack):
        others = np.delete(stack, i, axis=0).mean(axis=0)
        near = np.corrcoef(image.ravel(), others.ravel())[0, 1]
        wins += near > np.corrcoef(image.ravel(), others[:, ::-1].ravel())[0, 1]
    return wins / len(stack)


def test_a_class_mostly_facing_one_way_loses_hflip_though_its_mean_is_nearly_symmetric(tmp_path: Path) -> None:
    images = sandals(tmp_path / "in", facing_right=7)
    tree(tmp_path / "in", {"shirt": ("shirt", 8)})
    result = run(tmp_path / "in")
    assert 0.85 <= mirror_oracle(images) < 0.95 and facing_oracle(images) == 7 / 8
    found = finding(result, "orientation", "sandal")
    assert (found.statistic, found.value, found.threshold) == ("share of images facing the class's way", 0.88, 0.8)
    assert found.decision == f"faces one way (mirror correlation {round(mirror_oracle(images), 2):g}): hflip excluded"
    assert result.data["classes"] == {"sandal": {"exclude": ["hflip"]}}
    sandals(tmp_path / "even", facing_right=4)  # half each way: the mean is symmetric, hflip stays
    even = run(tree(tmp_path / "even", {"shirt": ("shirt", 8)}))
    assert "classes" not in even.data and finding(even, "orientation", "sandal").value >= 0.95


def test_symmetric_classes_get_no_class_rules(tmp_path: Path) -> None:
    result = run(tree(tmp_path / "in", {"a": ("shirt", 8), "b": ("shirt", 7)}, seed=3))
    assert "classes" not in result.data and result.classes == {}
    assert result.data["pipeline"][0] == {"hflip": {"p": 0.5}}
    assert "# classes: no class needs a rule of its own" in result.text


def test_too_few_images_keep_hflip_and_say_so(tmp_path: Path) -> None:
    result = run(tree(tmp_path / "in", {"boot": ("boot", 5), "shirt": ("shirt", 8)}))
    found = finding(result, "orientation", "boot")
    assert (found.statistic, found.value, found.threshold) == ("images read", 5, 6)
    assert found.decision == "too few to judge: hflip kept" and "classes" not in result.data


def test_classes_unchanged_by_flips_and_turns_get_vflip_and_rot90(tmp_path: Path) -> None:
    turning = run(tree(tmp_path / "discs", {"cell": ("disc", 8), "spore": ("disc", 8), "boot": ("boot", 8)}))
    names = [next(iter(s)) for s in turning.data["pipeline"]]
    assert names[:3] == ["hflip", "vflip", "rot90"] and turning.data["pipeline"][2] == {"rot90": {"k": [0, 3]}}
    assert turning.data["classes"] == {"boot": {"exclude": ["hflip", "rot90", "vflip"]}}
    assert finding(turning, "orientation").value == pytest.approx(2 / 3, abs=0.005)
    upright = run(tree(tmp_path / "shirts", {"a": ("shirt", 8), "b": ("boot", 8), "c": ("disc", 8)}))
    assert step(upright, "vflip") is None and step(upright, "rot90") is None
    assert finding(upright, "orientation").decision == "no vertical flips or quarter turns"


# ---------------------------------------------------------------- background


def test_black_background_gets_constant_borders_and_tone_changes_that_keep_black(tmp_path: Path) -> None:
    result = run(tree(tmp_path / "in", {"a": ("shirt", 6), "b": ("boot", 6)}))
    affine = step(result, "affine")
    assert affine is not None and (affine["border"], affine["fill"]) == ("constant", 0)
    assert [next(iter(c)) for c in result.data["pipeline"][2]["one_of"]["of"]] == ["pil_brightness", "gamma"]
    assert step(result, "brightness") is None and step(result, "contrast") is None
    found = finding(result, "background")
    assert (found.value, found.threshold) == (1.0, 0.9) and found.decision.startswith("plain background 0: ")


def test_textured_background_keeps_reflect_and_additive_tone(tmp_path: Path) -> None:
    result = run(tree(tmp_path / "in", {"a": ("shirt", 6), "b": ("boot", 6)}, background="texture"))
    affine = step(result, "affine")
    assert affine is not None and affine["border"] == "reflect" and "fill" not in affine
    assert step(result, "brightness") == {"limit": 0.15} and step(result, "contrast") == {"limit": 0.15}
    found = finding(result, "background")
    assert found.value < 0.9 and found.decision.startswith("no plain background")


def test_white_background_gets_fill_255_and_gamma_only(tmp_path: Path) -> None:
    result = run(tree(tmp_path / "in", {"a": ("shirt", 6), "b": ("boot", 6)}, background="white"))
    assert step(result, "affine")["fill"] == 255  # type: ignore[index]
    assert {"gamma": {"gamma": [0.8, 1.25], "p": 0.8}} in result.data["pipeline"]
    assert step(result, "pil_brightness") is None and step(result, "brightness") is None


def test_transparent_surround_gets_fill_0_and_is_noted(tmp_path: Path) -> None:
    rng = np.random.default_rng(1)
    for label in ("a", "b"):
        for i in range(6):
            colour = picture("shirt", rng, colour=True, background="texture")
            alpha = np.zeros((32, 32, 1), np.uint8)
            alpha[6:26, 6:26] = 255
            write_image(tmp_path / "in" / label / f"{i}.png", np.dstack([colour, alpha]))
    result = run(tmp_path / "in")
    assert finding(result, "background").statistic == "share of images with a transparent border"
    assert step(result, "affine")["fill"] == 0  # type: ignore[index]
    noted = [f for f in result.findings if f.statistic == "images with transparency"]
    assert [f.value for f in noted] == [12]


# ---------------------------------------------------------------- colour


def test_grey_data_drops_hsv_and_colour_data_keeps_it(tmp_path: Path) -> None:
    grey = run(tree(tmp_path / "grey", {"a": ("shirt", 6), "b": ("boot", 6)}, background="texture"))
    assert step(grey, "hsv") is None
    assert finding(grey, "colour").value == 1.0 and finding(grey, "colour").decision.startswith("grey data")
    colour = run(tree(tmp_path / "colour", {"a": ("shirt", 6), "b": ("boot", 6)}, background="texture",
                      colour=True))
    assert step(colour, "hsv") == {"hue": [-8, 8], "saturation": [-0.12, 0.12], "value": 0}
    assert finding(colour, "colour").value < 0.99


def test_grey_saved_as_three_equal_channels_counts_as_grey(tmp_path: Path) -> None:
    rng = np.random.default_rng(2)
    for i in range(6):
        write_image(tmp_path / "in" / "a" / f"{i}.png", np.repeat(picture("shirt", rng, background="texture"), 3, 2))
    assert step(run(tmp_path / "in"), "hsv") is None


def test_16_bit_images_are_noted(tmp_path: Path) -> None:
    rng = np.random.default_rng(3)
    for i in range(4):
        write_image(tmp_path / "in" / "a" / f"{i}.png", picture("shirt", rng).astype(np.uint16) * 257)
    write_image(tmp_path / "in" / "a" / "eight.png", picture("shirt", rng))
    found = [f for f in run(tmp_path / "in").findings if f.statistic == "16-bit images"]
    assert [f.value for f in found] == [4]
    assert not [f for f in run(tree(tmp_path / "b", {"a": ("shirt", 3)})).findings if f.statistic == "16-bit images"]


# ---------------------------------------------------------------- size


def test_tiny_images_get_no_blur_and_large_ones_a_blur_scaled_to_their_side(tmp_path: Path) -> None:
    tiny = run(tree(tmp_path / "tiny", {"a": ("shirt", 6), "b": ("boot", 6)}, side=28))
    assert step(tiny, "gaussian_blur") is None and step(tiny, "coarse_dropout") is None
    assert step(tiny, "gaussian_noise") == {"std": [1, 3], "p": 0.25}
    assert step(tiny, "affine")["degrees"] == [-10, 10]  # type: ignore[index]
    assert finding(tiny, "size").value == 28
    large = run(tree(tmp_path / "large", {"a": ("shirt", 3), "b": ("boot", 3)}, side=500))
    assert step(large, "gaussian_blur") == {"sigma": [0.8, 2.0]}  # side / 250 and 0.4 of it
    assert step(large, "gaussian_noise") == {"std": [2, 6]}
    assert step(large, "affine")["degrees"] == [-12, 12]  # type: ignore[index]
    assert step(large, "coarse_dropout") == {"count": [1, 3], "size": [0.05, 0.15], "fill": 0, "p": 0.2}
    assert finding(large, "size").value == 500


# ---------------------------------------------------------------- text


def page(rng: np.random.Generator, height: int = 260, width: int = 200) -> np.ndarray:
    """A white page of printed lines."""
    image = np.full((height, width), 255, np.uint8)
    for y in range(20, height - 10, 16):
        words = " ".join("".join(chr(int(c)) for c in rng.integers(97, 123, int(rng.integers(2, 8))))
                         for _ in range(8))
        cv2.putText(image, words, (8, y), cv2.FONT_HERSHEY_SIMPLEX, 0.4, 0, 1, cv2.LINE_AA)
    return image[:, :, None]


def test_text_classes_get_no_flips_and_a_small_rotation_of_their_own(tmp_path: Path) -> None:
    rng = np.random.default_rng(4)
    for i in range(6):
        write_image(tmp_path / "in" / "letters" / f"{i}.png", page(rng))
    tree(tmp_path / "in", {"shirts": ("shirt", 6)}, side=200, background="white")
    result = run(tmp_path / "in")
    rule = result.data["classes"]["letters"]
    assert rule["exclude"] == ["affine", "hflip"]
    assert rule["pipeline"] == [{"affine": {"degrees": [-3, 3], "scale": [0.95, 1.05], "translate": [-0.02, 0.02],
                                            "border": "constant", "fill": 255, "p": 0.6}}]
    found = finding(result, "text", "letters")
    assert (found.value, found.threshold) == (1.0, 0.5)
    assert "shirts" not in result.data["classes"]
    assert [f.label for f in result.findings if f.rule == "text"] == ["letters"]


def test_all_text_data_gets_no_flip_and_a_small_rotation_everywhere(tmp_path: Path) -> None:
    rng = np.random.default_rng(5)
    for label in ("invoice", "letter"):
        for i in range(3):
            write_image(tmp_path / "in" / label / f"{i}.png", page(rng))
    result = run(tmp_path / "in")
    assert step(result, "hflip") is None and step(result, "affine")["degrees"] == [-3, 3]  # type: ignore[index]
    assert "classes" not in result.data


def test_objects_are_not_text(tmp_path: Path) -> None:
    result = run(tree(tmp_path / "in", {"a": ("shirt", 6), "b": ("boot", 6)}, side=200, background="texture"))
    found = finding(result, "text")
    assert found.decision == "no text-like class" and found.value < 0.5


# ---------------------------------------------------------------- determinism, reading, the recipe


def test_same_tree_same_text_whatever_the_workers_and_the_folder(tmp_path: Path) -> None:
    root = tree(tmp_path / "in", {"boot": ("boot", 20), "shirt": ("shirt", 20)}, background="texture")
    one = suggest(root, workers=1)
    assert suggest(root, workers=2).text == one.text  # 40 images: read on two processes
    copy = shutil.copytree(root, tmp_path / "elsewhere" / "copy")
    assert suggest(copy, workers=2).text == one.text
    assert one.findings == suggest(root, workers=2).findings


def test_at_most_200_images_per_class_evenly_spaced(tmp_path: Path) -> None:
    rng = np.random.default_rng(6)
    for i in range(205):
        write_image(tmp_path / "in" / "many" / f"{i:03d}.png", picture("shirt", rng, side=8))
    read = {i * 205 // 200 for i in range(200)}  # floor(i * n / cap): every index but one in 41
    skipped = sorted(set(range(205)) - read)
    assert len(skipped) == 5
    (tmp_path / "in" / "many" / f"{skipped[0]:03d}.png").write_bytes(b"not an image, and never read")
    (tmp_path / "in" / "many" / "000.png").write_bytes(b"not an image either, and read")
    result = run(tmp_path / "in")
    assert (result.images, result.read) == (205, 199)
    assert [path for path, _ in result.unreadable] == ["many/000.png"]
    assert result.text.startswith("# Recipe suggested by 'augcli suggest' from 205 images: 199 read (at most 200 per "
                                  "class, evenly spaced in file-name order); 1 unreadable, skipped.\n")


def test_no_readable_image_is_an_input_error(tmp_path: Path) -> None:
    (tmp_path / "in" / "a").mkdir(parents=True)
    (tmp_path / "in" / "a" / "x.png").write_bytes(b"\x89PNG\r\n\x1a\n broken")
    with pytest.raises(InputError, match=r"^no readable images in .*in: 1 unreadable; first: a/x.png: "):
        run(tmp_path / "in")
    (tmp_path / "empty" / "a").mkdir(parents=True)
    with pytest.raises(InputError, match="no images found"):
        run(tmp_path / "empty")


def test_images_above_max_pixels_are_skipped(tmp_path: Path) -> None:
    root = tree(tmp_path / "in", {"a": ("shirt", 3)}, side=32)
    tree(root, {"b": ("shirt", 3)}, side=8)
    result = run(root, max_pixels=100)
    assert result.read == 3 and len(result.unreadable) == 3
    assert all("more than" in reason or "pixels" in reason for _, reason in result.unreadable)


def test_the_text_loads_as_the_recipe_data_and_balance_follows_the_class_rules(tmp_path: Path) -> None:
    root = tree(tmp_path / "in", {"boot": ("boot", 8), "shirt": ("shirt", 14)})
    result = api.suggest(root, output=tmp_path / "r.yaml", workers=1)
    assert yaml.safe_load(result.text) == result.data
    recipe = parse_recipe(result.text)
    assert recipe.classes["boot"].exclude == frozenset({"hflip"})
    assert (tmp_path / "r.yaml").read_text(encoding="utf-8") == result.text and result.path == tmp_path / "r.yaml"
    api.balance(root, tmp_path / "out", recipe=tmp_path / "r.yaml", workers=1, seed=1)
    rows = (tmp_path / "out" / "manifest.csv").read_text().splitlines()[1:]
    boots = [row for row in rows if row.startswith("boot/") and "__aug" in row.split(",")[0]]
    assert len(boots) == 6 and not any("hflip" in row for row in boots)


def test_class_names_that_need_quoting_or_are_not_utf8(tmp_path: Path) -> None:
    latin1 = os.fsdecode(b"caf\xe9")
    names = {"no": "boot", "a: #b": "shirt", latin1: "boot", "x\u2028y": "shirt"}
    rng = np.random.default_rng(7)
    for label, shape in names.items():
        for i in range(6):
            folder = os.path.join(os.fsencode(tmp_path / "in"), os.fsencode(label))
            os.makedirs(folder, exist_ok=True)
            ok, buffer = cv2.imencode(".png", picture(shape, rng))
            assert ok
            Path(os.fsdecode(os.path.join(folder, f"{i}.png".encode()))).write_bytes(buffer.tobytes())
    result = run(tmp_path / "in")
    assert set(result.data["classes"]) == {"no"}  # a recipe is UTF-8 text: it cannot name caf\xe9
    assert yaml.safe_load(result.text) == result.data
    assert set(parse_recipe(result.text).classes) == {"no"}
    assert "  # caf\\udce9: mirror correlation of the mean image " in result.text
    assert "(no rule written: a recipe cannot name a class whose folder name is not UTF-8)\n" in result.text
    assert "  # x\\u2028y: mirror correlation" in result.text and "\u2028" not in result.text
    assert '  # "a: #b"' not in result.text and "  # a: #b: mirror correlation" in result.text
    api.balance(tmp_path / "in", tmp_path / "out", recipe=parse_recipe(result.text), workers=1)


# ---------------------------------------------------------------- the command line


def test_cli_prints_the_recipe_or_writes_it_and_refuses_to_overwrite(cli: Any, tmp_path: Path) -> None:
    root = tree(tmp_path / "in", {"boot": ("boot", 8), "shirt": ("shirt", 8)})
    shown = cli("suggest", "-q", root)
    assert shown.exit_code == 0 and shown.stdout == run(root).text and shown.stderr == ""
    target = tmp_path / "r.yaml"
    wrote = cli("suggest", "-o", target, "-w", 2, root)
    assert wrote.exit_code == 0 and wrote.stdout == f"Wrote {target} (16 images read, 1 class rule(s))\n"
    assert target.read_text(encoding="utf-8") == shown.stdout
    target.write_text("mine")
    again = cli("suggest", "-q", "-o", target, root)
    assert again.exit_code == 2
    assert again.stderr == f"Error: --output {target}: the file exists; pass --force to replace it\n"
    assert target.read_text() == "mine"
    forced = cli("suggest", "-q", "--force", "-o", target, root)
    assert forced.exit_code == 0 and target.read_text(encoding="utf-8") == shown.stdout
    assert not [p for p in tmp_path.iterdir() if p.name.endswith(".augcli-tmp")]


def test_cli_never_writes_into_the_input_tree(cli: Any, tmp_path: Path) -> None:
    root = tree(tmp_path / "in", {"a": ("shirt", 3)})
    inside = cli("suggest", "-q", "-o", root / "a" / "r.yaml", root)
    assert inside.exit_code == 2 and "is inside the input folder" in inside.stderr
    link = tmp_path / "link.yaml"
    link.symlink_to(root / "r.yaml")
    through = cli("suggest", "-q", "--force", "-o", link, root)
    assert through.exit_code == 2 and "is inside the input folder" in through.stderr
    assert sorted(p.name for p in root.rglob("*")) == ["000.png", "001.png", "002.png", "a"]
    folder = cli("suggest", "-q", "-o", tmp_path, root)
    assert folder.exit_code == 2 and "is a directory" in folder.stderr


def test_cli_statuses_for_bad_input_and_options(cli: Any, tmp_path: Path) -> None:
    (tmp_path / "empty" / "a").mkdir(parents=True)
    empty = cli("suggest", tmp_path / "empty")
    assert empty.exit_code == 2 and empty.stderr.startswith("Error: no images found in ")
    missing = cli("suggest", tmp_path / "nowhere")
    assert missing.exit_code == 2 and "does not exist" in missing.stderr
    assert cli("suggest", "-w", 0, tmp_path / "empty").exit_code == 2
    with pytest.raises(InputError, match=r"^workers: expected an integer in \[1, 256\], got 0$"):
        api.suggest(tmp_path / "empty", workers=0)


def test_cli_lists_unreadable_files_on_stderr(cli: Any, tmp_path: Path) -> None:
    root = tree(tmp_path / "in", {"a": ("shirt", 3)})
    (root / "a" / "zz.png").write_bytes(b"garbage")
    result = cli("suggest", "-q", root)
    assert result.exit_code == 0 and "; 1 unreadable, skipped." in result.stdout
    assert result.stderr.startswith("  skipped a/zz.png: ")
    assert json.dumps(run(root).data) == json.dumps(yaml.safe_load(result.stdout))  # types too: 10, not 10.0


def test_a_class_with_no_readable_image_gets_no_rule_and_says_so(tmp_path: Path) -> None:
    root = tree(tmp_path / "in", {"a": ("boot", 6), "c": ("shirt", 6)})
    (root / "b").mkdir()
    (root / "b" / "x.png").write_bytes(b"\x89PNG\r\n\x1a\n cut short")
    result = run(root)
    assert "# b: no readable image, no rule for this class\n" in result.text
    assert set(result.data["classes"]) == {"a"} and result.unreadable[0][0] == "b/x.png"
    assert not [f for f in result.findings if f.label == "b"]


def test_recipe_auto_is_printed_recorded_deterministic_and_replayable(cli: Any, tmp_path: Path) -> None:
    """balance with no --recipe (auto): the suggested recipe on stderr before the run, in the run record, the same
    outputs with 1 and 2 workers, and a replay from the manifest alone gives the same bytes."""
    root = tree(tmp_path / "in", {"boot": ("boot", 8), "shirt": ("shirt", 3)})
    expected = suggest(root).text
    first = cli("balance", root, tmp_path / "o1", "-w", "1")
    assert first.exit_code == 0, first.output
    assert f"--recipe auto: the recipe suggested for {root} " in first.stderr
    assert expected in first.stderr and "exclude: [hflip]" in expected
    assert "suggested for" not in cli("balance", root, tmp_path / "o2", "--recipe", "auto", "-w", "2", "-q").stderr
    record = json.loads((tmp_path / "o1" / "augcli-run.json").read_text())
    assert record["recipe"] == parse_recipe(expected).to_data()
    manifests = [(tmp_path / o / "manifest.csv").read_bytes() for o in ("o1", "o2")]
    assert manifests[0] == manifests[1]
    made = sorted(p.relative_to(tmp_path / "o1") for p in (tmp_path / "o1").glob("*/*.png"))
    assert len(made) == 16 and made == sorted(p.relative_to(tmp_path / "o2") for p in (tmp_path / "o2").glob("*/*.png"))
    assert all((tmp_path / "o1" / p).read_bytes() == (tmp_path / "o2" / p).read_bytes() for p in made)
    again = cli("replay", tmp_path / "o1" / "manifest.csv", tmp_path / "re", "-w", "1")
    assert again.exit_code == 0, again.output
    assert all((tmp_path / "re" / p).read_bytes() == (tmp_path / "o1" / p).read_bytes() for p in made)


def test_recipe_auto_on_a_changed_input_is_refused_with_the_reason(cli: Any, tmp_path: Path) -> None:
    """The same tree resumes; a tree whose images now call for another recipe is refused (exit 2), saying so."""
    root = tree(tmp_path / "in", {"boot": ("boot", 8), "shirt": ("shirt", 8)})
    assert cli("expand", "-q", "-n", 1, root, tmp_path / "o").exit_code == 0
    assert cli("expand", "-q", "-n", 1, root, tmp_path / "o").exit_code == 0
    shutil.rmtree(root / "boot")
    tree(root, {"boot": ("shirt", 8)}, seed=1)  # boots that are now symmetric: hflip is no longer excluded
    again = cli("expand", "-q", "-n", 1, root, tmp_path / "o")
    assert again.exit_code == 2
    assert again.stderr == (f"Error: output folder {tmp_path / 'o'} holds a run with a different recipe (the recipe "
                            "auto suggests changed with the input: 'augcli suggest' shows it); resume needs the same "
                            "recipe and options: pass --overwrite to replace that run, or choose another folder\n")
