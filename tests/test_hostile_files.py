"""One bad file never stops a run: huge headers, bombs, wrong content, odd names, links, unreadable folders.

Every hostile file is made here, by hand, from a few bytes.
"""

from __future__ import annotations

import csv
import json
import os
import struct
import unicodedata
import zlib
from pathlib import Path
from typing import Any

import cv2
import numpy as np
import pytest

from augcli import api
from augcli import io as IO
from augcli.chart import draw_bars, printable_ascii
from augcli.dataset import EMPTY_CLASS, LOOSE, scan
from augcli.errors import InputError
from augcli.formats import sniff_format
from augcli.io import DEFAULT_MAX_PIXELS, ReadError, decode_image, image_info, read_image
from augcli.paths import shown as shown_path
from augcli.rng import plan_seed, sample_seed
from tests.conftest import make_image, write_image

GIF_REASON = "GIF images are not supported: convert them to PNG"


# ---------------------------------------------------------------- hostile bytes


def _chunk(tag: bytes, data: bytes) -> bytes:
    """One PNG chunk with its CRC."""
    return struct.pack(">I", len(data)) + tag + data + struct.pack(">I", zlib.crc32(tag + data))


def _png_claiming(width: int, height: int) -> bytes:
    """A PNG whose IHDR claims ``width`` x ``height`` (8-bit RGB), with a little IDAT and no more."""
    ihdr = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    return (b"\x89PNG\r\n\x1a\n" + _chunk(b"IHDR", ihdr) + _chunk(b"IDAT", zlib.compress(b"\x00" * 64))
            + _chunk(b"IEND", b""))


def _encoded(ext: str, image: np.ndarray | None = None, params: list[int] | None = None) -> bytes:
    """A small real image file's bytes."""
    ok, buf = cv2.imencode(ext, make_image(np.uint8, 3, 37, 53) if image is None else image, params or [])
    assert ok
    return buf.tobytes()


def _patched_png(width: int, height: int) -> bytes:
    """A real small PNG with only its IHDR size (and CRC) changed: a bomb as far as any header says."""
    data = bytearray(_encoded(".png"))
    data[16:24] = struct.pack(">II", width, height)
    data[29:33] = struct.pack(">I", zlib.crc32(bytes(data[12:29])))
    return bytes(data)


def _sof_offset(jpeg: bytes) -> int:
    """Offset of the first SOF0 marker, found by walking the segments."""
    pos = 2
    while jpeg[pos + 1] != 0xC0:
        pos += 2 + int.from_bytes(jpeg[pos + 2 : pos + 4], "big")
    return pos


def _jpeg_claiming(width: int, height: int) -> bytes:
    """A real small JPEG whose frame header (SOF0) was corrupted to ``width`` x ``height``."""
    data = bytearray(_encoded(".jpg"))
    pos = _sof_offset(bytes(data))
    data[pos + 5 : pos + 9] = struct.pack(">HH", height, width)
    return bytes(data)


def _tiff(order: bytes, kind: int, width: int = 5, height: int = 3) -> bytes:
    """An uncompressed 8-bit grey TIFF, either byte order, its size as SHORT (3) or LONG (4)."""
    e = "<" if order == b"II" else ">"
    pixels = bytes(range(width * height))
    tags = [(256, kind, width), (257, kind, height), (258, 3, 8), (259, 3, 1), (262, 3, 1), (273, 4, 8),
            (277, 3, 1), (278, kind, height), (279, 4, len(pixels))]
    ifd = struct.pack(e + "H", len(tags))
    for tag, k, value in tags:
        ifd += struct.pack(e + "HHI", tag, k, 1) + struct.pack(e + ("H" if k == 3 else "I"), value).ljust(4, b"\0")
    return order + struct.pack(e + "HI", 42, 8 + len(pixels)) + pixels + ifd + b"\0\0\0\0"


def _ftyp(major: bytes, *compatible: bytes) -> bytes:
    """The start of an ISO media file: its ftyp box."""
    body = major + b"\0\0\0\0" + b"".join(compatible)
    return struct.pack(">I", 8 + len(body)) + b"ftyp" + body + b"\0" * 32


def _nonutf8_path(folder: Path, name: bytes, data: bytes) -> Path:
    """Write ``data`` under a file name that is not UTF-8; skip where the file system refuses such names."""
    folder.mkdir(parents=True, exist_ok=True)
    try:
        fd = os.open(os.fsencode(folder) + b"/" + name, os.O_CREAT | os.O_WRONLY | os.O_TRUNC, 0o644)
    except OSError:
        pytest.skip("this file system refuses names that are not UTF-8")
    with os.fdopen(fd, "wb") as handle:
        handle.write(data)
    return folder / os.fsdecode(name)


def _errors_csv(out: Path) -> dict[str, str]:
    """errors.csv as {path: reason}."""
    with open(out / "errors.csv", encoding="utf-8", errors="surrogateescape", newline="") as handle:
        return {row["path"]: row["reason"] for row in csv.DictReader(handle)}


# ---------------------------------------------------------------- huge headers and bombs


@pytest.mark.parametrize("max_pixels", [DEFAULT_MAX_PIXELS, None])
def test_huge_png_header_is_a_read_error(max_pixels: int | None) -> None:
    with pytest.raises(ReadError) as caught:
        decode_image(_png_claiming(60000, 60000), "huge.png", max_pixels=max_pixels)
    if max_pixels is not None:
        assert str(caught.value) == ("image is 60000x60000 (3600 megapixels), above the limit of 100 megapixels; "
                                     "raise it with --max-pixels if you trust this file")


@pytest.mark.parametrize("max_pixels", [DEFAULT_MAX_PIXELS, None])
def test_corrupted_jpeg_frame_size_is_a_read_error(max_pixels: int | None) -> None:
    data = _jpeg_claiming(65000, 65000)
    assert image_info(data) == ("jpeg", 65000, 65000)
    with pytest.raises(ReadError) as caught:
        decode_image(np.frombuffer(data, np.uint8), "sof.jpg", max_pixels=max_pixels)
    if max_pixels is not None:
        assert "65000x65000 (4225 megapixels), above the limit of 100 megapixels" in str(caught.value)


def test_any_decoder_exception_becomes_a_read_error(monkeypatch: pytest.MonkeyPatch) -> None:
    def explode(*_: Any) -> None:
        raise cv2.error("OpenCV(5.0.0) loadsave.cpp:79: error: (-215:Assertion failed) something")

    monkeypatch.setattr(IO.cv2, "imdecode", explode)
    with pytest.raises(ReadError, match=r"the decoder failed: .*something"):
        decode_image(_encoded(".png"), "x.png")


def test_bomb_is_refused_before_any_decoding(monkeypatch: pytest.MonkeyPatch) -> None:
    def never(*_: Any) -> None:
        raise AssertionError("decoded a bomb")

    monkeypatch.setattr(IO.cv2, "imdecode", never)
    with pytest.raises(ReadError, match=r"image is 30000x30000 \(900 megapixels\), above the limit of 100 "):
        decode_image(_patched_png(30000, 30000), "bomb.png")


def test_max_pixels_refuses_and_raising_it_lets_a_trusted_image_through(tmp_path: Path) -> None:
    path = tmp_path / "x.png"
    path.write_bytes(_encoded(".png"))  # 53 x 37 = 1961 pixels
    with pytest.raises(ReadError, match=r"image is 53x37 \(1961 pixels\), above the limit of 1000 pixels"):
        read_image(path, max_pixels=1000)
    assert read_image(path, max_pixels=1961).shape == (37, 53, 3)
    assert read_image(path, max_pixels=None).shape == (37, 53, 3)
    assert read_image(path).shape == (37, 53, 3)


# ---------------------------------------------------------------- header sniffing


@pytest.mark.parametrize(("ext", "params", "channels", "fmt"), [
    (".png", [], 3, "png"), (".png", [], 4, "png"), (".jpg", [], 3, "jpeg"), (".jpg", [], 1, "jpeg"),
    (".bmp", [], 3, "bmp"), (".bmp", [], 4, "bmp"), (".tif", [], 3, "tiff"),
    (".webp", [cv2.IMWRITE_WEBP_QUALITY, 80], 3, "webp"),  # VP8
    (".webp", [cv2.IMWRITE_WEBP_QUALITY, 101], 3, "webp"),  # VP8L
    (".webp", [cv2.IMWRITE_WEBP_QUALITY, 80], 4, "webp"),  # VP8X
])
def test_image_info_reads_the_size_from_the_header(ext: str, params: list[int], channels: int, fmt: str) -> None:
    data = _encoded(ext, make_image(np.uint8, channels, 37, 53), params)
    assert image_info(data) == (fmt, 53, 37)
    assert image_info(np.frombuffer(data, np.uint8)) == (fmt, 53, 37)


@pytest.mark.parametrize("order", [b"II", b"MM"])
@pytest.mark.parametrize("kind", [3, 4])
def test_tiff_sizes_in_both_byte_orders_short_or_long(order: bytes, kind: int) -> None:
    data = _tiff(order, kind)
    assert image_info(data) == ("tiff", 5, 3)
    assert decode_image(data, "t.tif")[:, :, 0].tolist() == [list(range(5)), list(range(5, 10)), list(range(10, 15))]


def test_bmp_top_down_and_jpeg_fill_bytes() -> None:
    bmp = bytearray(_encoded(".bmp"))
    bmp[22:26] = struct.pack("<i", -37)  # a top-down bitmap stores a negative height
    assert image_info(bytes(bmp)) == ("bmp", 53, 37)
    jpeg = _encoded(".jpg")
    padded = jpeg[:2] + b"\xff\xff" + jpeg[2:]  # fill bytes before a marker are allowed
    assert image_info(padded) == ("jpeg", 53, 37)


def test_png_named_jpg_decodes(tmp_path: Path) -> None:
    image = make_image(np.uint8, 4, 20, 30)
    path = tmp_path / "really_a.jpg"
    path.write_bytes(_encoded(".png", image))
    assert np.array_equal(read_image(path), image)


def test_jpeg_named_png_gets_its_orientation_applied() -> None:
    base = np.zeros((16, 24, 3), np.uint8)
    base[:8, :8] = 255
    jpeg = _encoded(".jpg", base, [cv2.IMWRITE_JPEG_QUALITY, 100])
    ifd = struct.pack(">H", 1) + struct.pack(">HHIHH", 0x0112, 3, 1, 6, 0) + struct.pack(">I", 0)
    payload = b"Exif\x00\x00" + b"MM" + struct.pack(">HI", 42, 8) + ifd
    turned = jpeg[:2] + b"\xff\xe1" + struct.pack(">H", len(payload) + 2) + payload + jpeg[2:]
    assert decode_image(turned, "named.png").shape == (24, 16, 3)


@pytest.mark.parametrize(("content", "reason"), [
    (b"GIF89a" + b"\x01\x00\x01\x00" + b"\x00" * 20, GIF_REASON),
    (b"GIF87a" + b"\x01\x00\x01\x00" + b"\x00" * 20, GIF_REASON),
    (_ftyp(b"heic", b"mif1", b"heic"), "HEIC images are not supported: convert them to PNG"),
    (_ftyp(b"mif1", b"mif1", b"avif"), "AVIF images are not supported: convert them to PNG"),
    (b'<?xml version="1.0"?>\n<svg xmlns="http://www.w3.org/2000/svg"/>', "SVG images are not supported"),
    (b"<!DOCTYPE html><html><body>404 Not Found</body></html>", "not a readable image: the file is an HTML page"),
    (b"just some notes\n", "not a readable image: the file holds text"),
    (bytes(range(256)) * 4, "not a readable image: its content is not PNG, JPEG, BMP, TIFF or WebP"),
    (b"", "empty file"),
    (b"not an image at all", "not a readable image"),
], ids=["gif89a", "gif87a", "heic", "avif", "svg", "html", "text", "binary", "empty", "short-text"])
def test_unsupported_content_is_refused_with_its_reason(tmp_path: Path, content: bytes, reason: str) -> None:
    path = tmp_path / "x.png"
    path.write_bytes(content)
    with pytest.raises(ReadError, match=reason):
        read_image(path)


def test_gif_named_jpg_says_so() -> None:
    with pytest.raises(ReadError, match=r"convert them to PNG \(the file is named \.jpg but holds GIF data\)"):
        decode_image(b"GIF89a" + b"\x00" * 20, "cat/x.jpg")
    assert sniff_format(b"\xff\xd8garbage") == "jpeg"  # a JPEG start with no frame: a corrupt JPEG, not unknown


def test_truncated_headers_are_read_errors() -> None:
    for data in (_encoded(".png")[:20], _encoded(".bmp")[:16], _tiff(b"II", 3)[:30], _encoded(".webp")[:18]):
        with pytest.raises(ReadError, match="truncated or corrupt"):
            image_info(data)


# ---------------------------------------------------------------- runs go on


def test_expand_reports_hostile_files_and_writes_the_rest(cli: Any, make_tree: Any, tmp_path: Path) -> None:
    tree = make_tree({"cat": 2, "dog": 1})
    (tree / "cat" / "huge.png").write_bytes(_png_claiming(60000, 60000))
    (tree / "cat" / "sof.jpg").write_bytes(_jpeg_claiming(65000, 65000))
    (tree / "dog" / "gif.png").write_bytes(b"GIF89a" + b"\x00" * 20)
    out = tmp_path / "out"
    result = cli("expand", "-q", "--copies", 1, "--workers", 1, tree, out)
    assert result.exit_code == 0, result.output
    errors = _errors_csv(out)
    assert "60000x60000" in errors["cat/huge.png"] and "--max-pixels" in errors["cat/huge.png"]
    assert "65000x65000" in errors["cat/sof.jpg"]
    assert GIF_REASON in errors["dog/gif.png"]
    for rel in ("cat/cat_000__aug001.png", "cat/cat_001__aug001.png", "dog/dog_000__aug001.png"):
        assert (out / rel).is_file()


def test_all_gif_tree_says_gif_is_not_supported(cli: Any, tmp_path: Path) -> None:
    for rel in ("cat/a.gif", "dog/b.GIF"):
        (tmp_path / "in" / rel).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / "in" / rel).write_bytes(b"GIF89a" + b"\x00" * 20)
    with pytest.raises(InputError, match=r"got 2 file.*GIF images are not supported: convert them to PNG"):
        scan(tmp_path / "in")
    result = cli("expand", tmp_path / "in", tmp_path / "out")
    assert result.exit_code == 2
    assert "GIF" in result.stderr and "convert them to PNG" in result.stderr


# ---------------------------------------------------------------- nothing dropped silently


@pytest.fixture
def untidy(make_tree: Any) -> Path:
    """cat: 2 images, a HEIC, a GIF and notes; a loose image in the root; an empty class; hidden files."""
    root = make_tree({"cat": 2})
    write_image(root / "loose.jpg", make_image())
    (root / "cat" / "phone.HEIC").write_bytes(_ftyp(b"heic"))
    (root / "cat" / "anim.gif").write_bytes(b"GIF89a")
    (root / "cat" / "notes.txt").write_text("ignored quietly")
    (root / "cat" / ".DS_Store").write_bytes(b"ignored quietly")
    (root / "empty" / "deeper").mkdir(parents=True)
    (root / "readme.md").write_text("ignored quietly")
    return root


def test_scan_reports_what_it_leaves_out(untidy: Path) -> None:
    data = scan(untidy)
    assert data.classes == ("cat",)
    assert [s.rel for s in data.sources] == ["cat/cat_000.png", "cat/cat_001.png"]
    assert data.problems == (
        ("cat/anim.gif", GIF_REASON),
        ("cat/phone.HEIC", "HEIC images are not supported: convert them to PNG"),
        ("empty", EMPTY_CLASS),
        ("loose.jpg", LOOSE),
    )


def test_inspect_shows_the_problems(cli: Any, untidy: Path) -> None:
    text = cli("inspect", untidy)
    assert text.exit_code == 0, text.output
    assert "4 problem(s) found while scanning (left out):" in text.stdout
    assert f"  cat/anim.gif: {GIF_REASON}" in text.stdout
    assert f"  loose.jpg: {LOOSE}" in text.stdout
    assert f"  empty: {EMPTY_CLASS}" in text.stdout
    data = json.loads(cli("inspect", "--json", untidy).stdout)
    heic = "HEIC images are not supported: convert them to PNG"
    assert {"path": "cat/phone.HEIC", "reason": heic} in data["problems"]
    assert len(data["problems"]) == 4


def test_unreadable_folder_is_reported(monkeypatch: pytest.MonkeyPatch, make_tree: Any) -> None:
    root = make_tree({"cat": 1, "dog": 1})
    (root / "cat" / "locked").mkdir()
    real = os.scandir

    def scandir(path: Any) -> Any:
        if Path(path).name == "locked":
            raise PermissionError(13, "Permission denied")
        return real(path)

    monkeypatch.setattr(os, "scandir", scandir)
    data = scan(root)
    assert data.classes == ("cat", "dog")
    assert data.problems == (("cat/locked", "cannot read folder (Permission denied); its images are left out"),)


def _symlink(target: Path, link: Path) -> None:
    """Make a folder link, or skip where links cannot be made."""
    try:
        link.symlink_to(target, target_is_directory=True)
    except (OSError, NotImplementedError):
        pytest.skip("symbolic links are not available here")


def test_class_link_to_the_root_is_not_a_class(make_tree: Any, tmp_path: Path) -> None:
    root = make_tree({"cat": 2, "dog": 1})
    _symlink(root, root / "everything")
    _symlink(root / "cat", root / "kitty")
    _symlink(root.parent, root / "up")
    outside = make_tree({"bird": 1}, name="elsewhere") / "bird"
    _symlink(outside, root / "bird")
    _symlink(root, root / "cat" / "loop")
    data = scan(root)
    assert data.classes == ("bird", "cat", "dog")
    assert [s.rel for s in data.sources] == ["bird/bird_000.png", "cat/cat_000.png", "cat/cat_001.png",
                                             "dog/dog_000.png"]
    reasons = dict(data.problems)
    assert set(reasons) == {"everything", "kitty", "up", "cat/loop"}
    assert "skipped, so no image is counted twice" in reasons["everything"]
    assert "not followed" in reasons["cat/loop"]


def test_file_links_to_images_are_read_and_broken_ones_reported(make_tree: Any) -> None:
    root = make_tree({"cat": 1})
    try:
        (root / "cat" / "alias.png").symlink_to("cat_000.png")
        (root / "cat" / "gone.png").symlink_to("missing.png")
    except (OSError, NotImplementedError):
        pytest.skip("symbolic links are not available here")
    data = scan(root)
    assert [s.rel for s in data.sources] == ["cat/alias.png", "cat/cat_000.png"]
    assert [p for p, _ in data.problems] == ["cat/gone.png"]


# ---------------------------------------------------------------- names that are not UTF-8


def test_existing_seeds_do_not_change() -> None:
    assert sample_seed(0, "cat/a.jpg", 1) == 58739967281648118
    assert sample_seed(7, "Ünïcode/é.png", 3) == 8460727160864151664
    assert sample_seed(7, unicodedata.normalize("NFD", "Ünïcode/é.png"), 3) == 8460727160864151664


def test_non_utf8_names_hash_their_bytes() -> None:
    name = os.fsdecode(b"cat/caf\xe9.jpg")
    assert name == "cat/caf\udce9.jpg"
    assert sample_seed(0, name, 1) == 8299969669088645199
    assert sample_seed(0, name, 1) != sample_seed(0, "cat/café.jpg", 1)
    assert isinstance(plan_seed(0, name), int)
    assert isinstance(sample_seed(0, "odd\ud800", 1), int)  # a surrogate no file name decodes to


def test_non_utf8_names_scan_inspect_chart_and_preview(cli: Any, tmp_path: Path) -> None:
    from augcli import api

    root = tmp_path / "in"
    _nonutf8_path(root / "cat", b"caf\xe9.png", _encoded(".png"))
    _nonutf8_path(root / os.fsdecode(b"d\xf6g"), b"\xff.png", _encoded(".png"))
    data = scan(root)
    assert [s.rel for s in data.sources] == ["cat/caf\udce9.png", "d\udcf6g/\udcff.png"]
    chart = tmp_path / "chart.png"
    result = cli("inspect", root, "--chart", chart)
    assert result.exit_code == 0, result.output
    assert "d\\xf6g" in result.stdout
    drawn = cv2.imread(str(chart))
    assert drawn is not None and (drawn != 255).any()
    as_json = cli("inspect", "--json", root)
    assert [c["name"] for c in json.loads(as_json.stdout)["classes"]] == ["cat", "d\udcf6g"]
    sheet = api.preview(root, tmp_path / "sheet.png", images=2, variants=1, cell=32)
    assert sheet.rows == 2 and sheet.path.is_file()


def test_text_drawing_takes_any_label() -> None:
    assert printable_ascii("café\udce9\n~ok") == "caf???~ok"
    image = draw_bars(["caf\udce9", "日本", "a\tb"], {"images": [1, 2, 3]}, title="in \udcff")
    assert image.shape[2] == 3
    assert shown_path("caf\udce9/x") == "caf\\xe9/x"


# ---------------------------------------------------------------- inspect and preview never die on a file


def test_inspect_and_preview_report_bad_files(cli: Any, make_tree: Any, tmp_path: Path) -> None:
    from augcli import api

    root = make_tree({"cat": 2})
    (root / "cat" / "huge.png").write_bytes(_png_claiming(60000, 60000))
    (root / "cat" / "bomb.png").write_bytes(_patched_png(30000, 30000))
    (root / "cat" / "sof.jpg").write_bytes(_jpeg_claiming(65000, 65000))
    (root / "cat" / "gif.jpg").write_bytes(b"GIF89a" + b"\x00" * 20)
    (root / "cat" / "folder.png").mkdir()
    result = api.inspect(root, workers=1)
    unreadable = dict(result.classes[0].unreadable)
    assert sorted(unreadable) == ["cat/bomb.png", "cat/gif.jpg", "cat/huge.png", "cat/sof.jpg"]
    assert "900 megapixels" in unreadable["cat/bomb.png"]
    assert result.problems == ()  # a folder named like an image is just a folder
    assert "cat/huge.png: image is 60000x60000" in result.report()
    assert cli("inspect", root).exit_code == 0
    sheet = api.preview(root, tmp_path / "sheet.png", images=8, variants=1, cell=32)
    assert sheet.rows == 2
    assert [p for p, _ in sheet.unreadable] == ["cat/bomb.png", "cat/gif.jpg", "cat/huge.png", "cat/sof.jpg"]


def test_inspect_chart_into_the_input_tree_is_refused(cli: Any, make_tree: Any, tmp_path: Path) -> None:
    root = make_tree({"cat": 2})
    target = root / "cat" / "cat_000.png"
    before = target.read_bytes()
    result = cli("inspect", root, "--chart", target)
    assert result.exit_code == 2
    assert "is inside the input folder" in result.stderr
    assert target.read_bytes() == before
    refused = cli("inspect", root, "--chart", tmp_path / "chart.jpg")
    assert refused.exit_code == 2
    assert f"--chart {tmp_path / 'chart.jpg'}: expected a file name ending in .png, got '.jpg'" in refused.stderr
    with pytest.raises(InputError, match=r"^chart='.*chart\.jpg': expected a file name ending in \.png, got '\.jpg'$"):
        api.inspect(root, chart=tmp_path / "chart.jpg")
    with pytest.raises(InputError, match=r"expected a file name ending in \.png, got a folder"):
        api.inspect(root, chart=tmp_path)
    assert not (tmp_path / "chart.jpg").exists()
