"""Preview: contact-sheet layout, determinism, sample choice, expand parity, sweeps and refusals."""

from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np
import pytest

from augcli import api
from augcli import _preview as PV
from augcli.dataset import scan
from augcli.errors import RecipeError
from augcli.registry import REGISTRY

from .conftest import make_image, write_image

WARP = {"border": "reflect", "fill": 0, "interpolation": "linear"}

# The sheet layout, written out rather than read from augcli._preview: a 22 px header line, then
# per row the cell, a 30 px caption strip (two 13 px lines + 4 px) and a 4 px gap; 4 px margins
# and 4 px between cells. So a sheet is columns * cell + (columns + 1) * 4 wide and
# 22 + rows * (cell + 34) + 4 high.
HEADER, CAPTION, GAP = 22, 30, 4
GREY = 128  # letterbox colour around a fitted image


def _imread(path: Path) -> np.ndarray:
    """A PNG the test tree (or expand) wrote, decoded by OpenCV directly (not augcli.io)."""
    image = cv2.imread(str(path), cv2.IMREAD_UNCHANGED)
    assert image is not None and image.dtype == np.uint8 and image.shape[2] == 3
    return image


def _letterboxed(image: np.ndarray, width: int, height: int, cell: int) -> np.ndarray:
    """Oracle for a cell of an 8-bit BGR image: ``cv2.resize`` (bilinear: every use here enlarges) to
    the hand-computed ``width`` x ``height``, centred on a ``cell`` x ``cell`` grey square."""
    out = np.full((cell, cell, 3), GREY, np.uint8)
    top, left = (cell - height) // 2, (cell - width) // 2
    out[top : top + height, left : left + width] = cv2.resize(image, (width, height),
                                                              interpolation=cv2.INTER_LINEAR)
    return out


def _sheet(path: Path) -> np.ndarray:
    """The written sheet as decoded pixels."""
    image = cv2.imread(str(path), cv2.IMREAD_UNCHANGED)
    assert image is not None
    return image


def _cell_at(sheet: np.ndarray, row: int, column: int, cell: int) -> np.ndarray:
    """The image square of one cell, cut out of a sheet."""
    y = HEADER + row * (cell + CAPTION + GAP)
    x = GAP + column * (cell + GAP)
    return sheet[y : y + cell, x : x + cell]


def test_sheet_has_one_row_per_image_and_original_plus_variants_columns(tmp_path: Path, make_tree) -> None:
    tree = make_tree({"cat": 3, "dog": 2})
    result = api.preview(tree, tmp_path / "grid.png", images=3, variants=2, cell=48)
    assert (result.rows, result.columns) == (3, 3)
    sheet = _sheet(result.path)
    # 3 rows: 22 + 3 * (48 + 30 + 4) + 4 = 272 high; 3 columns: 3 * 48 + 4 * 4 = 160 wide
    assert sheet.shape == (272, 160, 3) and sheet.dtype == np.uint8


def test_same_seed_same_bytes_other_seed_other_bytes(tmp_path: Path, make_tree) -> None:
    tree = make_tree({"cat": 2, "dog": 2})
    a = api.preview(tree, tmp_path / "a.png", images=2, variants=3, seed=5, cell=48).path.read_bytes()
    b = api.preview(tree, tmp_path / "b.png", images=2, variants=3, seed=5, cell=48).path.read_bytes()
    c = api.preview(tree, tmp_path / "c.png", images=2, variants=3, seed=6, cell=48).path.read_bytes()
    assert a == b
    assert a != c


def test_samples_round_robin_over_classes_evenly_spaced_within(make_tree) -> None:
    data = scan(make_tree({"a": 5, "b": 1, "c": 3}))
    picked = [source.rel for source, _ in PV.sample_images(data, 5)]
    assert picked == ["a/a_001.png", "b/b_000.png", "c/c_000.png", "a/a_003.png", "c/c_002.png"]


def test_unreadable_sample_gives_way_to_the_next_file(make_tree) -> None:
    root = make_tree({"a": 4})
    (root / "a" / "a_001.png").write_bytes(b"not an image")
    picked = [source.rel for source, _ in PV.sample_images(scan(root), 2)]
    assert picked == ["a/a_003.png", "a/a_000.png"]  # a_001 and a_003 were the evenly spaced picks
    assert len(PV.sample_images(scan(root), 9)) == 3  # every readable file, no more


def test_variants_are_what_expand_writes(tmp_path: Path, make_tree) -> None:
    """A cross-check of two commands (preview against expand); the cells are fitted by cv2 directly."""
    tree = make_tree({"cat": 1})
    api.expand(tree, tmp_path / "out", copies=2, workers=1, seed=9)
    sheet = _sheet(api.preview(tree, tmp_path / "g.png", images=1, variants=2, seed=9, cell=64).path)
    # every image is 32 wide x 24 high (the tree's size; the default recipe keeps it): into a 64 cell
    # it scales by min(64/32, 64/24) = 2 to 64 x 48, with (64 - 48) / 2 = 8 grey rows above and below
    original = _imread(tree / "cat/cat_000.png")
    assert np.array_equal(_cell_at(sheet, 0, 0, 64), _letterboxed(original, 64, 48, 64))
    for copy in (1, 2):
        made = _imread(tmp_path / "out" / f"cat/cat_000__aug00{copy}.png")
        assert made.shape == (24, 32, 3)
        assert np.array_equal(_cell_at(sheet, 0, copy, 64), _letterboxed(made, 64, 48, 64))


def test_rotate_sweep_goes_from_low_to_high_angle(tmp_path: Path, make_tree) -> None:
    tree = make_tree({"cat": 2, "dog": 3})
    assert PV.sweep_values(REGISTRY["rotate"], 3) == [{"degrees": -15}, {"degrees": 0}, {"degrees": 15}]
    result = api.preview(tree, tmp_path / "s.png", images=9, variants=3, cell=48, transform="rotate")
    assert (result.rows, result.columns) == (4, 4)  # 5 images, but a sweep shows at most 4 rows
    sheet = _sheet(result.path)
    assert sheet.shape[1] == 212  # 4 columns: 4 * 48 + 5 * 4
    image = _imread(tree / "cat/cat_000.png")
    height, width = image.shape[:2]  # 24 x 32: into a 48 cell it scales by 1.5 to 48 x 36
    for column, angle in ((1, -15.0), (2, 0.0), (3, 15.0)):
        # oracle: OpenCV's own counter-clockwise rotation about the centre of the pixel grid, with
        # the recorded warp settings (bilinear, border "reflect" = BORDER_REFLECT_101); 0 degrees is
        # the image unchanged
        matrix = cv2.getRotationMatrix2D(((width - 1) / 2, (height - 1) / 2), angle, 1.0)
        turned = image if angle == 0 else cv2.warpAffine(image, matrix, (width, height), flags=cv2.INTER_LINEAR,
                                                         borderMode=cv2.BORDER_REFLECT_101)
        assert np.array_equal(_cell_at(sheet, 0, column, 48), _letterboxed(turned, 48, 36, 48))
    assert not np.array_equal(_cell_at(sheet, 0, 1, 48), _cell_at(sheet, 0, 3, 48))


def test_transform_with_nothing_to_sweep_shows_off_and_on(tmp_path: Path, make_tree) -> None:
    tree = make_tree({"cat": 1})
    result = api.preview(tree, tmp_path / "s.png", images=1, variants=5, cell=40, transform="hflip")
    assert result.columns == 2
    sheet = _sheet(result.path)
    assert np.array_equal(_cell_at(sheet, 0, 1, 40), _cell_at(sheet, 0, 0, 40)[:, ::-1])


def _sweepable() -> list[str]:
    """Single-image transforms that build with default parameters (custom needs a function path)."""
    names = []
    for name, spec in sorted(REGISTRY.items()):
        try:
            spec.build({}, name)
        except RecipeError:
            continue
        if spec.cls.inputs == 1:
            names.append(name)
    return names


@pytest.mark.parametrize("name", _sweepable())
def test_every_transform_can_be_swept(tmp_path: Path, make_tree, name: str) -> None:
    tree = make_tree({"cat": 1})
    result = api.preview(tree, tmp_path / "s.png", images=1, variants=2, cell=32, transform=name)
    assert result.rows == 1 and result.columns >= 2


def test_unknown_transform_exits_2_with_did_you_mean(cli, make_tree, tmp_path: Path) -> None:
    tree = make_tree({"cat": 1})
    result = cli("preview", "--transform", "rotat", tree, tmp_path / "g.png")
    assert result.exit_code == 2
    assert "did you mean 'rotate'?" in result.stderr
    assert not (tmp_path / "g.png").exists()


def test_cli_writes_the_sheet_and_reports_its_size(cli, make_tree, tmp_path: Path) -> None:
    tree = make_tree({"cat": 2, "dog": 2})
    result = cli("preview", "--images", 3, "--variants", 2, "--cell", 40, tree, tmp_path / "g.png")
    assert result.exit_code == 0, result.output
    assert "(3 rows x 3 columns)" in result.stdout
    assert _sheet(tmp_path / "g.png").shape[:2] == (248, 136)  # 22 + 3 * (40 + 34) + 4; 3 * 40 + 4 * 4


@pytest.mark.parametrize("name, message", [("g.jpg", "ending in .png"),
                                           ("in/cat/g.png", "inside the input folder")])
def test_bad_output_exits_2(cli, make_tree, tmp_path: Path, name: str, message: str) -> None:
    tree = make_tree({"cat": 1})
    result = cli("preview", tree, tmp_path / name)
    assert result.exit_code == 2
    assert message in result.stderr


def test_short_op_shows_the_telling_number() -> None:
    assert PV.short_op({"name": "hflip", "params": {}}) == "hflip"
    assert PV.short_op({"name": "brightness", "params": {"delta": 0.1234}}) == "brightness(+0.12)"
    assert PV.short_op({"name": "contrast", "params": {"factor": 1.0512}}) == "contrast(1.05)"
    rotate = {"name": "rotate", "params": {"angle": 7.31, **WARP}}
    assert PV.short_op(rotate) == "rotate(+7.31)"
    assert PV.short_op(rotate, digits=1) == "rotate(+7.3)"
    noise = {"name": "gaussian_noise", "params": {"std": 5.57, "per_channel": True, "seed": 123}}
    assert PV.short_op(noise) == "gaussian_noise(5.57)"
    assert PV.short_op(noise, digits=1, names=False) == "gauss_noise(5.6)"


def test_captions_fit_the_cell_in_at_most_two_lines() -> None:
    words = ["hflip(+1.23)", "affine(+11.5)", "brightness(+0.12)", "gaussian_noise(5.57)", "contrast(0.9)"]
    lines = PV.fit_caption([words], 100)
    assert len(lines) == 2
    # measured by OpenCV directly, in the caption font (Hershey simplex, scale 0.4, thickness 1)
    assert all(cv2.getTextSize(line, cv2.FONT_HERSHEY_SIMPLEX, 0.4, 1)[0][0] <= 100 for line in lines)
    assert PV.fit_caption([["short", "one"]], 100) == ("short one",)
    assert PV.fit_caption([["too", "long", "to", "fit"], ["tiny"]], 30) == ("tiny",)


@pytest.mark.parametrize("dtype, channels", [(np.uint16, 1), (np.uint8, 4), (np.uint16, 3)])
def test_cells_are_8bit_bgr_letterboxed_on_grey(dtype, channels) -> None:
    image = make_image(dtype, channels, height=20, width=40)
    cell = PV.fit_image(image, 40)
    assert cell.shape == (40, 40, 3) and cell.dtype == np.uint8
    assert (cell[:10] == 128).all() and (cell[-10:] == 128).all()  # 40x20 fits as 40x20, centred


def test_transparent_pixels_show_a_checkerboard() -> None:
    clear = np.zeros((32, 32, 4), np.uint8)
    cell = PV.fit_image(clear, 32)
    assert set(np.unique(cell)) == {200, 250}  # fully transparent: only the two checkerboard greys
    white16 = np.full((8, 8, 1), 65535, np.uint16)
    assert (PV.fit_image(white16, 8) == 255).all()


def test_non_ascii_names_are_drawn(tmp_path: Path) -> None:
    write_image(tmp_path / "in" / "café" / "ü.png", make_image(np.uint8, 3, 16, 16))
    result = api.preview(tmp_path / "in", tmp_path / "g.png", images=1, variants=1, cell=32)
    assert result.rows == 1 and result.path.is_file()


def test_no_readable_image_exits_2(cli, tmp_path: Path) -> None:
    (tmp_path / "in" / "cat").mkdir(parents=True)
    (tmp_path / "in" / "cat" / "a.png").write_bytes(b"broken")
    result = cli("preview", tmp_path / "in", tmp_path / "g.png")
    assert result.exit_code == 2
    assert "no readable images" in result.stderr


def test_policy_caption_names_the_chosen_ops() -> None:
    op = {"name": "rand_augment", "params": {"ops": [{"name": "rotate", "params": {"angle": 7.5}},
                                                     {"name": "equalize", "params": {"mode": "per_channel"}}]}}
    assert PV.short_op(op, digits=1) == "rand_augment[rotate(+7.5) equalize]"


def test_header_lists_range_parameters_given_as_one_number(tmp_path: Path, make_tree, monkeypatch) -> None:
    """rotate: {degrees: 30} always turns by 30 here (albumentations reads 30 as [-30, 30]): the sheet says so."""
    from augcli.recipe import parse_recipe

    headers: list[str] = []
    draw = PV.draw_sheet
    monkeypatch.setattr(PV, "draw_sheet", lambda header, rows, cell: headers.append(header) or draw(header, rows, cell))
    recipe = parse_recipe("pipeline: [{rotate: {degrees: 30}}, {hflip: {}}]")
    PV.make_preview(make_tree({"cat": 2}), tmp_path / "s.png", recipe=recipe, images=1, variants=1, cell=48)
    assert headers[0].endswith("fixed values: rotate.degrees = 30")
