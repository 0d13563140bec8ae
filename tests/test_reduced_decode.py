"""JPEGs that a recipe shrinks are decoded small (libjpeg's DCT scaling), recorded as a first
``decoded_at`` op: replay stays exact and the result stays close to a full decode."""

from __future__ import annotations

import csv
from pathlib import Path

import cv2
import numpy as np
import pytest

from augcli import api
from augcli.errors import RecipeError
from augcli.io import ReadError, decode_image, decode_reduced, jpeg_shape
from augcli.manifest import MANIFEST, read_rows
from augcli.recipe import parse_recipe
from augcli.render import decode_factor
from tests.conftest import make_op


def _photo(width: int, height: int, seed: int) -> np.ndarray:
    """A smooth photo-like image (gradients and blobs), so that JPEG and scaling behave as on photos."""
    rng = np.random.default_rng(seed)
    small = rng.integers(0, 256, (6, 8, 3), dtype=np.uint8)
    return cv2.resize(small, (width, height), interpolation=cv2.INTER_CUBIC)


def _jpeg(path: Path, image: np.ndarray, orientation: int | None = None) -> Path:
    ok, buffer = cv2.imencode(".jpg", image, [cv2.IMWRITE_JPEG_QUALITY, 92])
    data = buffer.tobytes()
    if orientation is not None:  # an APP1 Exif segment with one Orientation entry, after SOI
        tiff = b"MM\x00\x2a\x00\x00\x00\x08\x00\x01" + b"\x01\x12\x00\x03\x00\x00\x00\x01"
        tiff += orientation.to_bytes(2, "big") + b"\x00\x00" + b"\x00\x00\x00\x00"
        body = b"Exif\x00\x00" + tiff
        data = data[:2] + b"\xff\xe1" + (len(body) + 2).to_bytes(2, "big") + body + data[2:]
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(data)
    return path


@pytest.mark.parametrize(("ops", "factor"), [
    ([make_op("resize", width=80, height=60, border="reflect", fill=0, interpolation="area")], 4),
    ([make_op("hflip"), make_op("resize", width=200, height=150, border="reflect", fill=0, interpolation="area")], 2),
    ([make_op("resize", width=50, height=30, border="reflect", fill=0, interpolation="linear")], 8),
    ([make_op("resize", width=300, height=200, border="reflect", fill=0, interpolation="area")], 1),
    ([make_op("resize", width=80, height=60, border="reflect", fill=0, interpolation="nearest")], 1),
    ([make_op("brightness", delta=0.1), make_op("resize", width=80, height=60, border="reflect", fill=0,
                                                  interpolation="area")], 1),
    ([make_op("rotate", angle=30.0, border="reflect", fill=0, interpolation="area"),
      make_op("resize", width=80, height=60, border="reflect", fill=0, interpolation="area")], 4),
    ([make_op("rotate", angle=30.0, border="reflect", fill=0, interpolation="linear"),  # its own warp: no shrink
      make_op("resize", width=80, height=60, border="reflect", fill=0, interpolation="area")], 1),
])
def test_decode_factor_is_what_the_first_geometric_steps_shrink(ops: list, factor: int) -> None:
    """Factor k when the opening warp shrinks at least k times along both axes, not with nearest, not after a
    pixel step (worked out by hand for a 400 x 300 source)."""
    assert decode_factor(ops, (300, 400, 3)) == factor


def test_reduced_decode_sizes_and_orientation(tmp_path: Path) -> None:
    image = _photo(403, 301, 1)
    plain = _jpeg(tmp_path / "a.jpg", image).read_bytes()
    turned = _jpeg(tmp_path / "b.jpg", image, orientation=6).read_bytes()
    assert jpeg_shape(plain) == (301, 403, 3) and jpeg_shape(turned) == (403, 301, 3)
    assert [decode_reduced(plain, "a", k).shape for k in (2, 4, 8)] == [(151, 202, 3), (76, 101, 3), (38, 51, 3)]
    full, small = decode_image(turned, "b"), decode_reduced(turned, "b", 4)
    assert full.shape == (403, 301, 3) and small.shape == (101, 76, 3)  # turned the same way
    shrunk = cv2.resize(full, (76, 101), interpolation=cv2.INTER_AREA).astype(int)
    assert np.abs(shrunk - small.astype(int)).mean() < 3  # the same picture, not a mirrored one
    grey = cv2.imencode(".jpg", image[:, :, 0])[1].tobytes()
    assert jpeg_shape(grey) == (301, 403, 1) and decode_reduced(grey, "g", 2).shape == (151, 202, 1)
    png = cv2.imencode(".png", image)[1].tobytes()
    assert jpeg_shape(png) is None
    with pytest.raises(ReadError, match="cannot decode p at 1/2 of its size"):
        decode_reduced(png, "p", 2)


@pytest.fixture
def photos(tmp_path: Path) -> Path:
    root = tmp_path / "in"
    for i in range(3):
        _jpeg(root / "a" / f"p{i}.jpg", _photo(960, 720, i))
    _jpeg(root / "b" / "turned.jpg", _photo(960, 720, 7), orientation=8)
    cv2.imwrite(str(root / "b" / "flat.png"), _photo(960, 720, 8))
    return root


def test_a_shrinking_recipe_decodes_small_replays_exactly_and_stays_close(tmp_path: Path, photos: Path) -> None:
    recipe = tmp_path / "r.yaml"
    recipe.write_text("seed: 4\ncopies: 2\noutput: {format: png}\npipeline:\n  - hflip: {p: 0.5}\n"
                      "  - resize: {width: 160}\n  - brightness: {limit: 0.1, p: 0.5}\n", encoding="utf-8")
    fast = api.expand(photos, tmp_path / "fast", recipe=recipe, originals=False, workers=2)
    full = api.expand(photos, tmp_path / "full", recipe=recipe, originals=False, workers=1, full_decode=True)
    assert fast.made == full.made == 10
    for row in read_rows(tmp_path / "fast" / MANIFEST):
        ops = row.op_list()
        expected = 4 if row.sources.endswith(".jpg") else None  # 960 -> 160 px: 6x smaller, so 1/4
        assert (ops[0]["params"]["factor"] if ops[0]["name"] == "decoded_at" else None) == expected
        small = cv2.imread(str(tmp_path / "fast" / row.path)).astype(int)
        large = cv2.imread(str(tmp_path / "full" / row.path)).astype(int)
        assert small.shape == large.shape
        assert np.abs(small - large).mean() < 1.5  # the documented tolerance: about 1 level of 255 on average
    assert all(row.op_list()[0]["name"] != "decoded_at" for row in read_rows(tmp_path / "full" / MANIFEST))
    again = api.replay(tmp_path / "fast" / MANIFEST, tmp_path / "again", workers=1)
    assert (again.rebuilt, again.identical, again.mismatched) == (10, 10, ())
    with open(tmp_path / "full" / "augcli-run.json", encoding="utf-8") as handle:
        assert '"full_decode": true' in handle.read()


def test_decoded_at_is_not_a_recipe_step() -> None:
    with pytest.raises(RecipeError, match=r"pipeline\[0\]: expected a transform a recipe can ask for, got "
                                          r"'decoded_at'; 'decoded_at' is recorded by augcli itself"):
        parse_recipe("pipeline:\n  - decoded_at\n", "r.yaml")


def test_a_jpeg_that_fails_to_decode_late_leaves_its_task_out_whole(tmp_path: Path, photos: Path) -> None:
    """A lone JPEG is decoded only when an output needs it: when that fails, the outputs its task already
    made (its original) are dropped, as when a source fails as it is read."""
    bad = photos / "a" / "p0.jpg"
    data = bytearray(bad.read_bytes())
    sof = data.index(b"\xff\xc0")
    data[sof + 11] = 0x00  # the first component's sampling factors: 0 is bogus, so libjpeg stops
    bad.write_bytes(bytes(data))
    assert jpeg_shape(bytes(data)) == (720, 960, 3)  # the header still reads
    with pytest.raises(ReadError):
        decode_image(bytes(data), "p0.jpg")
    result = api.expand(photos, tmp_path / "out", copies=1, workers=1)
    assert [rel for rel, _ in result.errors] == ["a/p0.jpg"]
    with open(tmp_path / "out" / MANIFEST, newline="") as handle:
        assert all("a/p0" not in row["path"] for row in csv.DictReader(handle))
    assert not list((tmp_path / "out" / "a").glob("p0*"))
