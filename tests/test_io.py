"""Reading and writing images: kinds kept, EXIF orientation, corrupt files refused, atomic writes."""

from __future__ import annotations

import struct
from pathlib import Path

import cv2
import numpy as np
import pytest

from augcli.formats import jpeg_orientation
from augcli.io import ReadError, encode_image, read_image, write_atomic
from tests.conftest import KIND_IDS, KINDS, make_image, write_image


@pytest.mark.parametrize(("dtype", "channels"), KINDS, ids=KIND_IDS)
def test_png_round_trip_keeps_kind(tmp_path: Path, dtype: type, channels: int) -> None:
    image = make_image(dtype, channels)
    path = tmp_path / "ünïcode dir" / "a.png"
    write_atomic(path, encode_image(image, ".png"))
    back = read_image(path)
    assert back.dtype == image.dtype and back.shape == image.shape
    assert np.array_equal(back, image)


def _with_orientation(jpeg: bytes, orientation: int) -> bytes:
    """Insert an APP1 Exif segment with one orientation entry after SOI."""
    ifd = struct.pack(">H", 1) + struct.pack(">HHIHH", 0x0112, 3, 1, orientation, 0) + struct.pack(">I", 0)
    tiff = b"MM" + struct.pack(">HI", 42, 8) + ifd
    payload = b"Exif\x00\x00" + tiff
    return jpeg[:2] + b"\xff\xe1" + struct.pack(">H", len(payload) + 2) + payload + jpeg[2:]


@pytest.mark.parametrize(("orientation", "expected"), [
    (1, lambda a: a), (2, lambda a: a[:, ::-1]), (3, lambda a: a[::-1, ::-1]), (6, lambda a: np.rot90(a, 3)),
    (8, lambda a: np.rot90(a, 1)),
])
def test_exif_orientation_applied(tmp_path: Path, orientation: int, expected) -> None:
    base = np.zeros((16, 24, 3), np.uint8)
    base[:8, :8] = 255  # a white block in the top-left corner
    ok, buf = cv2.imencode(".jpg", base, [cv2.IMWRITE_JPEG_QUALITY, 100])
    data = _with_orientation(buf.tobytes(), orientation)
    assert jpeg_orientation(data) == orientation
    path = tmp_path / "o.jpg"
    path.write_bytes(data)
    got = read_image(path)
    plain = cv2.imdecode(np.frombuffer(buf, np.uint8), cv2.IMREAD_UNCHANGED)
    assert np.array_equal(got, np.ascontiguousarray(expected(plain)))


def test_truncated_jpeg_refused(tmp_path: Path) -> None:
    ok, buf = cv2.imencode(".jpg", make_image(np.uint8, 3, 64, 64))
    path = tmp_path / "cut.jpg"
    path.write_bytes(buf.tobytes()[: len(buf) // 2])
    with pytest.raises(ReadError, match="truncated or corrupt JPEG"):
        read_image(path)


def test_jpeg_output_flattens_alpha_onto_white_and_scales_16_bit() -> None:
    image = np.zeros((8, 8, 4), np.uint16)
    image[:, :, 3] = 0  # fully transparent
    decoded = cv2.imdecode(np.frombuffer(encode_image(image, ".jpg", 100), np.uint8), cv2.IMREAD_UNCHANGED)
    assert decoded.dtype == np.uint8 and decoded.shape == (8, 8, 3)
    assert decoded.min() >= 250


def test_write_atomic_leaves_no_temporary(tmp_path: Path) -> None:
    target = tmp_path / "x" / "y.bin"
    write_atomic(target, b"abc")
    assert target.read_bytes() == b"abc"
    assert sorted(p.name for p in target.parent.iterdir()) == ["y.bin"]


def test_grayscale_jpeg_reads_as_one_channel(tmp_path: Path) -> None:
    path = write_image(tmp_path / "g.jpg", make_image(np.uint8, 1))
    assert read_image(path).shape[2] == 1
