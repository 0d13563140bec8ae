"""No wasted outputs: ops that changed nothing are not recorded, and a generated image that copies its source
or another output of it is drawn again (rng.redraw_seed), or left out when no draw makes a new image.

Oracles: decoded files compared with numpy; which draw an output must use, worked out from the recipe's
first random draw with numpy's own generators on the documented seed derivation.
"""

from __future__ import annotations

import hashlib
import shutil
from collections.abc import Callable
from pathlib import Path

import cv2
import numpy as np
import pytest

from augcli import api
from augcli.errors import InputError
from augcli.manifest import MANIFEST, read_rows
from augcli.registry import REGISTRY
from augcli.render import render, render_kept, render_sources, same_pixels
from augcli.rng import redraw_seed
from tests.conftest import make_image, make_op, sample_ops, write_image

HSV_OR_NOTHING = "seed: 5\ncopies: 3\npipeline:\n  - hsv: {hue: [60, 90], saturation: 0, value: 0, p: 0.5}\n"
TWO_FLIPS = "seed: 2\ncopies: 3\npipeline:\n  - one_of: [hflip, vflip]\n"


def _seed_of(seed: int, draw: int) -> int:
    """The documented derivation of draw ``draw``'s seed, written out with numpy alone."""
    if draw == 0:
        return seed
    words = [seed & 0xFFFFFFFF, seed >> 32 & 0xFFFFFFFF, 0x52445257, draw]
    return int(np.random.SeedSequence(words).generate_state(1, dtype=np.uint64)[0] >> np.uint64(1))


def _pixels(path: Path) -> np.ndarray:
    """A PNG's pixels as OpenCV reads them (not through augcli)."""
    return cv2.imread(str(path), cv2.IMREAD_UNCHANGED)


def _digest(root: Path) -> dict[str, str]:
    return {p.relative_to(root).as_posix(): hashlib.sha256(p.read_bytes()).hexdigest()
            for p in sorted(root.rglob("*")) if p.is_file()}


def _recipe(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "r.yaml"
    path.write_text(text, encoding="utf-8")
    return path


@pytest.fixture
def grey_and_colour(tmp_path: Path) -> Path:
    """Two colour images, a grey one stored in 3 channels (B = G = R) and a single-channel grey one."""
    root = tmp_path / "in"
    for i in range(2):
        write_image(root / "colour" / f"c{i}.png", make_image(np.uint8, 3, 20, 28, seed=i))
    grey = make_image(np.uint8, 1, 20, 28, seed=7)
    write_image(root / "grey" / "g3.png", np.repeat(grey, 3, axis=2))
    write_image(root / "grey" / "g1.png", grey)
    return root


def _no_copies(tree: Path, out: Path) -> dict[str, list[np.ndarray]]:
    """Assert that no generated file equals its source or another generated file of it; return them by source."""
    made: dict[str, list[np.ndarray]] = {}
    for row in read_rows(out / MANIFEST):
        if row.kind == "original":
            continue
        pixels = _pixels(out / row.path)
        source = _pixels(tree / row.sources)
        assert not (pixels.shape == source.shape and np.array_equal(pixels, source)), row.path
        assert not any(np.array_equal(pixels, other) for other in made.get(row.sources, [])), row.path
        made.setdefault(row.sources, []).append(pixels)
    return made


def test_hsv_on_grey_images_never_writes_a_copy_and_the_counts_are_right(tmp_path: Path, grey_and_colour: Path) -> None:
    out = tmp_path / "out"
    result = api.expand(grey_and_colour, out, recipe=_recipe(tmp_path, HSV_OR_NOTHING), workers=1)
    made = _no_copies(grey_and_colour, out)
    assert "grey/g1.png" not in made and "grey/g3.png" not in made
    # the oracle: a colour copy needs the first draw whose p coin lands (the recipe's first draw); grey never
    expected: dict[str, int | None] = {}
    rows = {row.path: row for row in read_rows(out / MANIFEST)}
    for source in ("colour/c0.png", "colour/c1.png"):
        for copy in (1, 2, 3):
            rel = source.replace(".png", f"__aug{copy:03d}.png")
            seed = rows[rel].seed if rel in rows else None
            assert seed is not None, f"{rel}: a colour copy has a coin that lands within 8 draws here"
            draws = [np.random.default_rng(_seed_of(seed, k)).random() < 0.5 for k in range(8)]
            expected[rel] = draws.index(True) if True in draws else None
    assert {rel: rows[rel].redraw for rel in expected} == expected
    assert sum(k > 0 for k in expected.values() if k is not None) >= 1  # the case is exercised
    assert result.redrawn == sum(row.redraw > 0 for row in rows.values()) == sum(
        k is not None and k > 0 for k in expected.values())
    for rel in expected:
        assert [op["name"] for op in rows[rel].op_list()] == ["hsv"]
    # grey: 3 copies each, left out and listed with the reason, counted apart
    assert result.copies_left_out == 6 and result.skipped == 6 and result.made == 4 + 6
    assert sorted(path for path, _ in result.errors) == ["grey/g1.png"] * 3 + ["grey/g3.png"] * 3
    assert all(reason.startswith("no new image for grey/g") and "each of 8 draws" in reason
               for _, reason in result.errors)
    assert (out / "errors.csv").read_text(encoding="utf-8").count("no new image for") == 6


def test_a_rerun_keeps_everything_and_says_the_same(tmp_path: Path, grey_and_colour: Path) -> None:
    recipe = _recipe(tmp_path, HSV_OR_NOTHING)
    first = api.expand(grey_and_colour, tmp_path / "out", recipe=recipe, workers=1)
    before = _digest(tmp_path / "out")
    again = api.expand(grey_and_colour, tmp_path / "out", recipe=recipe, workers=1)
    assert again.made == 0 and again.kept == first.made
    assert (again.redrawn, again.copies_left_out, again.errors) == (first.redrawn, first.copies_left_out, first.errors)
    assert _digest(tmp_path / "out") == before


def test_copies_of_other_outputs_are_redrawn_the_same_with_any_workers_and_replay(
        tmp_path: Path, make_tree: Callable[..., Path]) -> None:
    tree = make_tree({"a": 4, "b": 2})
    recipe = _recipe(tmp_path, TWO_FLIPS)
    one = api.expand(tree, tmp_path / "one", recipe=recipe, workers=1)
    two = api.expand(tree, tmp_path / "two", recipe=recipe, workers=2)
    assert _digest(tmp_path / "one") == _digest(tmp_path / "two")
    # oracle: one_of draws its branch first; copy 2 takes the first draw unlike copy 1; copy 3 finds none
    rows = {row.path: row for row in read_rows(tmp_path / "one" / MANIFEST)}
    flips = {}
    for row in rows.values():
        if row.kind == "augmented":
            branch = [int(np.random.default_rng(_seed_of(row.seed, k)).choice(2, p=[0.5, 0.5])) for k in range(8)]
            flips[row.path] = branch[row.redraw]
            if row.copy == 2:
                first = flips[row.path.replace("__aug002", "__aug001")]
                assert row.redraw == branch.index(1 - first)
    assert one.copies_left_out == two.copies_left_out == 6 and one.made == 6 + 12
    assert not any(row.copy == 3 for row in rows.values())
    assert one.redrawn == sum(row.redraw > 0 for row in rows.values()) >= 1
    _no_copies(tree, tmp_path / "one")
    replayed = api.replay(tmp_path / "one" / MANIFEST, tmp_path / "again", workers=2)
    assert (replayed.identical, replayed.mismatched) == (len(rows), ())


def test_resume_redraws_as_a_fresh_run_would(tmp_path: Path, make_tree: Callable[..., Path]) -> None:
    """Outputs remade beside kept ones (a kill between a row and its file, a file deleted) compare with the
    kept outputs' recorded checksums, so they are redrawn exactly as in the uninterrupted run."""
    tree = make_tree({"a": 4, "b": 2})
    recipe = _recipe(tmp_path, TWO_FLIPS)
    api.expand(tree, tmp_path / "fresh", recipe=recipe, workers=1)
    shutil.copytree(tmp_path / "fresh", tmp_path / "cut")
    rows = read_rows(tmp_path / "cut" / MANIFEST)
    redrawn = [row.path for row in rows if row.copy == 2 and row.redraw > 0]
    assert redrawn  # copy 1 is kept, copy 2 is remade: it must avoid copy 1 again
    first_copies = [row.path for row in rows if row.copy == 1 and row.sources not in
                    {r.sources for r in rows if r.path in redrawn}]
    for rel in [*redrawn, first_copies[0]]:
        (tmp_path / "cut" / rel).unlink()
    result = api.expand(tree, tmp_path / "cut", recipe=recipe, workers=2)
    assert result.made == len(redrawn) + 1
    assert _digest(tmp_path / "cut") == _digest(tmp_path / "fresh")


# ---------------------------------------------------------------- ops that changed nothing


def _ops(*pairs: tuple[str, dict]) -> list[dict]:
    return [make_op(name, **params) for name, params in pairs]


WARP = {"border": "reflect", "fill": 0, "interpolation": "linear"}


@pytest.mark.parametrize(("ops", "recorded"), [
    (_ops(("translate", {"dx": 0.0, "dy": 0.0, **WARP}), ("rotate", {"angle": 0.0, **WARP}),
          ("hsv", {"hue": 0.0, "saturation": 0.0, "value": 0.0}), ("invert", {"channels": [0, 1, 2]})), ["invert"]),
    (_ops(("hflip", {}), ("hflip", {}), ("invert", {"channels": [1]})), ["invert"]),  # one run, the identity
    (_ops(("brightness", {"delta": 0.0}),), []),
    # leaving hsv out would fuse the two turns into one warp (other pixels): it stays
    (_ops(("rotate", {"angle": 10.0, **WARP}), ("hsv", {"hue": 0.0, "saturation": 0.0, "value": 0.0}),
          ("rotate", {"angle": -5.0, **WARP})), ["rotate", "hsv", "rotate"]),
    (_ops(("rotate", {"angle": 10.0, **WARP}), ("brightness", {"delta": 0.0}), ("invert", {"channels": [2]}),
          ("rotate", {"angle": -5.0, **WARP})), ["rotate", "invert", "rotate"]),
])
def test_ops_that_change_nothing_are_not_recorded_and_the_rest_renders_the_same(ops: list[dict],
                                                                                recorded: list[str]) -> None:
    image = make_image(np.uint8, 3, 21, 30, seed=3)
    out, kept = render_kept([image], ops)
    assert [op["name"] for op in kept] == recorded
    assert np.array_equal(out, render(image, ops))
    assert np.array_equal(render(image, kept), out)


def test_a_policy_keeps_only_its_nested_ops_that_changed_the_image() -> None:
    image = make_image(np.uint8, 3, 21, 30, seed=4)
    nested = _ops(("identity", {}), ("pil_brightness", {"factor": 1.0}), ("pil_brightness", {"factor": 1.4}))
    out, kept = render_kept([image], [make_op("rand_augment", ops=nested)])
    assert kept == [make_op("rand_augment", ops=nested[2:])]
    assert np.array_equal(render(image, kept), out) and np.array_equal(out, render(image, [nested[2]]))
    assert render_kept([image], [make_op("rand_augment", ops=nested[:2])])[1] == []


def test_one_pixel_off_the_sampling_grid_is_a_change() -> None:
    image = make_image(np.uint8, 3, 40, 40, seed=1)
    other = image.copy()
    assert same_pixels(image, other) and same_pixels(image, image)
    other[17, 33, 2] ^= 1
    assert not same_pixels(image, other) and not same_pixels(image, image[:, :39])
    assert not same_pixels(image, np.repeat(image[:, :, :1], 3, axis=2))


def test_hsv_on_grey_is_not_recorded_but_value_is() -> None:
    grey = np.repeat(make_image(np.uint8, 1, 16, 16, seed=2), 3, axis=2)
    hue = make_op("hsv", hue=40.0, saturation=0.3, value=0.0)
    assert render_kept([grey], [hue])[1] == []
    value = make_op("hsv", hue=40.0, saturation=0.3, value=0.1)
    assert render_kept([grey], [value])[1] == [value]


@pytest.mark.parametrize("name", sorted(REGISTRY))
def test_every_transform_replays_the_same_pixels_from_the_ops_kept(name: str) -> None:
    """The shorter list is exact: for every transform's examples, on colour and grey images."""
    spec = REGISTRY[name]
    if spec.cls.planned:
        return
    colour = make_image(np.uint8, 3, 19, 27, seed=5)
    for image in (colour, np.repeat(colour[:, :, :1], 3, axis=2), colour[:, :, :1].copy()):
        for i, values in enumerate(spec.cls.examples):
            ops = sample_ops(name, values, image.shape, seed=i)
            sources = [image, *(make_image(np.uint8, image.shape[2], *image.shape[:2], seed=20 + k) for k in range(3))]
            full = render_sources(sources, ops)
            out, kept = render_kept(sources, ops)
            assert np.array_equal(out, full)
            assert np.array_equal(render_sources(sources, kept), full)
            if np.array_equal(full, image):  # nothing changed: only ops recorded whatever they do remain
                assert all(REGISTRY[op["name"]].mix is not None for op in kept)


def test_redraw_seeds_follow_the_documented_derivation() -> None:
    assert redraw_seed(12345, 0) == 12345
    for seed in (0, 1, 2**62 + 7, 2**63 - 1):
        assert [redraw_seed(seed, k) for k in range(1, 4)] == [_seed_of(seed, k) for k in range(1, 4)]
    assert len({redraw_seed(99, k) for k in range(8)}) == 8


# ---------------------------------------------------------------- what is outside the rule, and the surfaces


def test_test_time_sets_keep_their_identity_view(tmp_path: Path, grey_and_colour: Path) -> None:
    out = tmp_path / "out"
    result = api.expand(grey_and_colour, out, tta=True, originals=False, workers=1)
    identity = [row for row in read_rows(out / MANIFEST) if row.path.endswith("__tta_identity.png")]
    assert len(identity) == 4 and result.errors == () and result.redrawn == 0
    for row in identity:
        assert np.array_equal(_pixels(out / row.path), _pixels(grey_and_colour / row.sources))


def test_smote_blends_that_copy_a_source_are_redrawn_through_the_then_recipe(
        tmp_path: Path, make_tree: Callable[..., Path]) -> None:
    tree = make_tree({"big": 10, "small": 4})
    then = _recipe(tmp_path, "pipeline:\n  - hflip: {p: 0.5}\n")
    result = api.balance(tree, tmp_path / "out", method="smote", then_recipe=then, seed=1, workers=1)
    rows = [row for row in read_rows(tmp_path / "out" / MANIFEST) if row.kind == "smote"]
    assert len(rows) == 6 and result.copies_left_out == 0 and result.redrawn == sum(row.redraw > 0 for row in rows)
    redrawn = 0
    for row in rows:
        pixels = _pixels(tmp_path / "out" / row.path)
        a, b = (_pixels(tree / rel).astype(np.float32) for rel in row.source_list())
        assert not any(np.array_equal(pixels, image) for image in (a, b)), row.path
        # oracle: a blend that rounds back to its first image needs a draw whose hflip coin lands
        blend = np.clip(np.rint(a + np.float32(row.op_list()[0]["params"]["step"]) * (b - a)), 0, 255)
        coins = [np.random.default_rng(_seed_of(row.seed, k)).random() < 0.5 for k in range(8)]
        assert row.redraw == (coins.index(True) if np.array_equal(blend, a) else 0), row.path
        redrawn += row.redraw > 0
    assert redrawn == result.redrawn == 1
    replayed = api.replay(tmp_path / "out" / MANIFEST, tmp_path / "again", workers=1)
    assert replayed.mismatched == ()


def test_cli_summary_says_what_was_redrawn_and_left_out(tmp_path: Path, grey_and_colour: Path, cli) -> None:
    recipe = _recipe(tmp_path, HSV_OR_NOTHING)
    result = cli("expand", "-r", recipe, grey_and_colour, tmp_path / "out", "-w", 1)
    assert result.exit_code == 0
    redrawn = api.expand(grey_and_colour, tmp_path / "out", recipe=recipe, workers=1).redrawn
    assert (f"{redrawn} drawn again (a first draw copied its source or another output; the manifest's redraw "
            "column), 6 left out (every draw gave a copy)") in result.stdout
    assert "no new image for grey/g1__aug001.png" in result.stderr
    errors = tmp_path / "out" / "errors.csv"
    assert f"6 output(s) left out as copies (6 outputs not made); see {errors}\n" in result.stderr
    assert "input problem" not in result.stderr  # no input was unreadable
    assert cli("expand", "-r", recipe, grey_and_colour, tmp_path / "out", "-w", 1, "--strict").exit_code == 1


def test_manifests_without_the_redraw_column_resume_and_bad_values_are_refused(
        tmp_path: Path, grey_and_colour: Path) -> None:
    recipe = _recipe(tmp_path, HSV_OR_NOTHING)
    out = tmp_path / "out"
    api.expand(grey_and_colour, out, recipe=recipe, workers=1)
    text = (out / MANIFEST).read_text(encoding="utf-8")
    old = "".join(line.rsplit(",", 1)[0] + "\n" for line in text.splitlines())  # the 10 columns of before
    assert old.splitlines()[0].endswith(",label_weights,group")
    (out / MANIFEST).write_text(old, encoding="utf-8")
    again = api.expand(grey_and_colour, out, recipe=recipe, workers=1)
    assert again.made == 0  # an older manifest's rows were first draws: they read as redraw 0
    assert (out / MANIFEST).read_text(encoding="utf-8") == "".join(
        line + (",redraw\n" if i == 0 else ",0\n") for i, line in enumerate(old.splitlines()))
    lines = text.splitlines()
    lines[5] = lines[5].rsplit(",", 1)[0] + ",-1"
    (out / MANIFEST).write_text("\n".join(lines) + "\n", encoding="utf-8")
    with pytest.raises(ValueError, match="not a manifest row"):
        read_rows(out / MANIFEST)
    with pytest.raises(InputError, match="cannot be read as an augcli manifest"):
        api.replay(out / MANIFEST, tmp_path / "again", workers=1)
