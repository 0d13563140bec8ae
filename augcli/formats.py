"""What a file's bytes are, read from its first bytes alone: format, stored size, JPEG completeness and
EXIF orientation. Pure Python over bytes, no decoding; :mod:`augcli.io` builds on it.
"""

from __future__ import annotations

import codecs
import struct
from collections.abc import Callable

MAX_SIDE = 16384  # largest image side augcli reads or any step may produce, in pixels

_AVIF_BRANDS = (b"avif", b"avis")
_HEIC_BRANDS = (b"heic", b"heix", b"hevc", b"hevx", b"heim", b"heis", b"hevm", b"hevs", b"mif1", b"msf1")


def sniff_format(raw: bytes) -> str:
    """The format the first bytes announce: png, jpeg, bmp, tiff, webp (read); gif, heic, heif, avif,
    svg, ico, jp2, jxl (refused); html or text; unknown."""
    for magic, fmt in _MAGIC:
        if raw.startswith(magic):
            return fmt
    if raw[:4] == b"RIFF" and raw[8:12] == b"WEBP":
        return "webp"
    if raw[4:8] == b"ftyp":
        return _ftyp_format(raw)
    return _text_format(raw)


_MAGIC = (
    (b"\x89PNG\r\n\x1a\n", "png"), (b"\xff\xd8", "jpeg"), (b"BM", "bmp"),
    (b"II*\x00", "tiff"), (b"MM\x00*", "tiff"), (b"II+\x00", "tiff"), (b"MM\x00+", "tiff"),
    (b"GIF87a", "gif"), (b"GIF89a", "gif"), (b"\x00\x00\x01\x00", "ico"),
    (b"\x00\x00\x00\x0cjP  \r\n\x87\n", "jp2"), (b"\xff\x4f\xff\x51", "jp2"),
    (b"\x00\x00\x00\x0cJXL \r\n\x87\n", "jxl"), (b"\xff\x0a", "jxl"),
)


def _ftyp_format(raw: bytes) -> str:
    """AVIF, HEIC or HEIF from an ISO media ``ftyp`` box (major and compatible brands)."""
    size = int.from_bytes(raw[0:4], "big")
    brands = [raw[8:12]] + [raw[i : i + 4] for i in range(16, min(size, len(raw), 256), 4)]
    if any(b in _AVIF_BRANDS for b in brands):
        return "avif"
    if brands[0] in _HEIC_BRANDS[:8]:
        return "heic"
    return "heif" if any(b in _HEIC_BRANDS for b in brands) else "unknown"


def _text_format(raw: bytes) -> str:
    """svg, html or text for markup and text files; unknown otherwise."""
    head = raw[:1024]
    if b"\x00" in head:
        return "unknown"
    try:  # an incremental decoder accepts a character cut at the end of the head
        text = codecs.getincrementaldecoder("utf-8")().decode(head).lstrip("\ufeff \t\r\n")
    except UnicodeDecodeError:
        return "unknown"
    lower = text.lower()
    if "<svg" in lower:
        return "svg"
    if lower.startswith(("<!doctype html", "<html", "<head", "<body")):
        return "html"
    return "text" if text and all(c.isprintable() or c.isspace() for c in text) else "unknown"


Size = tuple[int, int] | None


def _png_size(raw: bytes) -> Size:
    """Width and height from the IHDR chunk, which must come first."""
    if raw[12:16] != b"IHDR":
        return None
    return struct.unpack(">II", raw[16:24])


_SOF = frozenset(range(0xC0, 0xD0)) - {0xC4, 0xC8, 0xCC}  # DHT, JPG and DAC share the range
_STANDALONE = frozenset({0x01, *range(0xD0, 0xD8)})  # TEM and RSTn carry no length


def _jpeg_size(raw: bytes) -> Size:
    """Width and height from the first frame header (SOFn), walking the segments after SOI."""
    frame = jpeg_frame(raw)
    return None if frame is None else (frame[1], frame[2])


def jpeg_frame(raw: bytes) -> tuple[int, int, int, int] | None:
    """``(precision, width, height, components)`` of the first JPEG frame header, or None."""
    pos = 2
    while pos + 4 <= len(raw):
        if raw[pos] != 0xFF:
            return None
        marker = raw[pos + 1]
        if marker == 0xFF:  # fill byte
            pos += 1
            continue
        if marker in _SOF:
            precision, height, width, components = struct.unpack(">BHHB", raw[pos + 4 : pos + 10])
            return precision, width, height, components
        if marker in (0xD9, 0xDA):  # end of image or scan before any frame header
            return None
        pos += 2 if marker in _STANDALONE else 2 + int.from_bytes(raw[pos + 2 : pos + 4], "big")
    return None


def _bmp_size(raw: bytes) -> Size:
    """Width and height from the DIB header (OS/2 core headers use 16-bit fields)."""
    header = int.from_bytes(raw[14:18], "little")
    if header == 12:
        return struct.unpack("<HH", raw[18:22])
    if header not in (16, 40, 52, 56, 64, 108, 124):
        return None
    width, height = struct.unpack("<ii", raw[18:26])
    return width, abs(height)  # a negative height marks a top-down bitmap


def _tiff_size(raw: bytes) -> Size:
    """ImageWidth (256) and ImageLength (257) from the first IFD; classic TIFF or BigTIFF."""
    order = "<" if raw[:2] == b"II" else ">"
    big = struct.unpack(order + "H", raw[2:4])[0] == 43
    ifd = struct.unpack(order + ("Q" if big else "I"), raw[(8 if big else 4) : (16 if big else 8)])[0]
    count = struct.unpack(order + ("Q" if big else "H"), raw[ifd : ifd + (8 if big else 2)])[0]
    first, step = ifd + (8 if big else 2), (20 if big else 12)
    found: dict[int, int] = {}
    for k in range(min(count, 4096)):
        entry = first + k * step
        tag, kind = struct.unpack(order + "HH", raw[entry : entry + 4])
        if tag in (256, 257):
            found[tag] = _tiff_value(raw[entry + (12 if big else 8) :], kind, order)
    return (found[256], found[257]) if 256 in found and 257 in found else None


def _tiff_value(field: bytes, kind: int, order: str) -> int:
    """An inline SHORT (3), LONG (4) or LONG8 (16) value, left-justified in its field."""
    code = {3: "H", 4: "I", 16: "Q"}.get(kind)
    if code is None:
        raise ValueError(f"TIFF size field of type {kind}")
    return int(struct.unpack(order + code, field[: struct.calcsize(code)])[0])


def _webp_size(raw: bytes) -> Size:
    """Width and height from the first chunk: VP8 (lossy), VP8L (lossless) or VP8X (extended)."""
    chunk = raw[12:16]
    if chunk == b"VP8 " and raw[23:26] == b"\x9d\x01\x2a":
        width, height = struct.unpack("<HH", raw[26:30])
        return width & 0x3FFF, height & 0x3FFF
    if chunk == b"VP8L" and raw[20] == 0x2F:
        bits = int.from_bytes(raw[21:25], "little")
        return (bits & 0x3FFF) + 1, (bits >> 14 & 0x3FFF) + 1
    if chunk == b"VP8X":
        return int.from_bytes(raw[24:27], "little") + 1, int.from_bytes(raw[27:30], "little") + 1
    return None


SIZE_READERS: dict[str, Callable[[bytes], Size]] = {
    "png": _png_size, "jpeg": _jpeg_size, "bmp": _bmp_size, "tiff": _tiff_size, "webp": _webp_size,
}


def jpeg_complete(raw: bytes) -> bool:
    """A JPEG is complete when an end-of-image marker follows its last start-of-scan."""
    return raw[:2] == b"\xff\xd8" and raw.rfind(b"\xff\xd9") > raw.rfind(b"\xff\xda") > 0


def jpeg_orientation(raw: bytes) -> int:
    """The EXIF orientation tag (1-8) of JPEG bytes; 1 when absent or unreadable."""
    try:
        pos = 2
        while pos + 4 <= len(raw) and raw[pos] == 0xFF:
            marker = raw[pos + 1]
            if marker in (0xD9, 0xDA):
                return 1
            length = int.from_bytes(raw[pos + 2 : pos + 4], "big")
            if marker == 0xE1 and raw[pos + 4 : pos + 10] == b"Exif\x00\x00":
                return _tiff_orientation(raw[pos + 10 : pos + 2 + length])
            pos += 2 + length
    except (IndexError, ValueError):
        return 1
    return 1


def _tiff_orientation(tiff: bytes) -> int:
    """Find tag 0x0112 in the first IFD of an EXIF TIFF block."""
    order = {b"II": "little", b"MM": "big"}.get(tiff[:2])
    if order is None:
        return 1
    ifd = int.from_bytes(tiff[4:8], order)  # type: ignore[arg-type]
    count = int.from_bytes(tiff[ifd : ifd + 2], order)  # type: ignore[arg-type]
    for k in range(count):
        entry = ifd + 2 + 12 * k
        if int.from_bytes(tiff[entry : entry + 2], order) == 0x0112:  # type: ignore[arg-type]
            value = int.from_bytes(tiff[entry + 8 : entry + 10], order)  # type: ignore[arg-type]
            return value if 1 <= value <= 8 else 1
    return 1
