"""Reading and writing images: bytes through numpy (non-ASCII paths work), atomic writes.

Rules:
- Images are read unchanged in depth and channels, as (H, W, C) with C in {1, 3, 4}.
- JPEG EXIF orientation is applied on read, as image viewers show the picture.
- A truncated JPEG (no end marker after its last scan) is refused, not half-decoded.
- Writes go to a hidden temporary file in the target folder, then ``os.replace``:
  an interrupted run never leaves a truncated image.
"""

from __future__ import annotations

import os
from pathlib import Path

import cv2
import numpy as np

from augcli.ops._image import Image

IMAGE_EXTENSIONS = (".jpg", ".jpeg", ".png", ".bmp", ".tif", ".tiff", ".webp")
TMP_SUFFIX = ".augcli-tmp"
_EIGHT_BIT_ONLY = (".jpg", ".jpeg", ".webp", ".bmp")


class ReadError(Exception):
    """An input file is not a usable image; the message says why."""


def is_image_name(name: str) -> bool:
    """True for a file name with a supported image extension, in any case."""
    return name.lower().endswith(IMAGE_EXTENSIONS)


def read_image(path: str | Path) -> Image:
    """Read an image as (H, W, C), uint8 or uint16, EXIF orientation applied for JPEG."""
    try:
        data = np.fromfile(path, dtype=np.uint8)
    except OSError as exc:
        raise ReadError(f"cannot read file ({exc.strerror or exc})") from None
    return decode_image(data, str(path))


def decode_image(data: np.ndarray, name: str) -> Image:
    """Decode image bytes; ``name`` decides the JPEG checks."""
    if data.size == 0:
        raise ReadError("empty file")
    is_jpeg = name.lower().endswith((".jpg", ".jpeg"))
    raw = data.tobytes() if is_jpeg else b""
    if is_jpeg and not _jpeg_complete(raw):
        raise ReadError("truncated or corrupt JPEG (no end marker after the image data)")
    image = cv2.imdecode(data, cv2.IMREAD_UNCHANGED)
    if image is None or image.size == 0:
        raise ReadError("not a readable image (corrupt, or a format OpenCV cannot decode)")
    if image.dtype not in (np.uint8, np.uint16):
        raise ReadError(f"unsupported pixel type {image.dtype}; augcli handles 8- and 16-bit images")
    if image.ndim == 2:
        image = image[:, :, np.newaxis]
    if image.shape[2] not in (1, 3, 4):
        raise ReadError(f"unsupported channel count {image.shape[2]}; augcli handles 1, 3 or 4 channels")
    if is_jpeg:
        image = apply_orientation(image, jpeg_orientation(raw))
    return np.ascontiguousarray(image)


def _jpeg_complete(raw: bytes) -> bool:
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


def apply_orientation(image: Image, orientation: int) -> Image:
    """Turn and mirror an image as its EXIF orientation says."""
    if orientation == 2:
        return image[:, ::-1]
    if orientation == 3:
        return image[::-1, ::-1]
    if orientation == 4:
        return image[::-1]
    if orientation == 5:
        return image.transpose(1, 0, 2)
    if orientation == 6:
        return np.rot90(image, 3)
    if orientation == 7:
        return np.rot90(image.transpose(1, 0, 2), 2)
    if orientation == 8:
        return np.rot90(image, 1)
    return image


def flatten_alpha(image: Image, background: int = 255) -> Image:
    """Composite a BGRA image over a flat background (white by default) and drop alpha."""
    top = 65535 if image.dtype == np.uint16 else 255
    alpha = image[:, :, 3:4].astype(np.float32) / top
    colour = image[:, :, :3].astype(np.float32)
    out = colour * alpha + (background / 255.0 * top) * (1.0 - alpha)
    return np.clip(np.rint(out), 0, top).astype(image.dtype)


def encode_image(image: Image, ext: str, quality: int = 95) -> bytes:
    """Encode for a file extension. JPEG gets alpha flattened onto white; 8-bit formats get 16-bit
    values scaled to 8 bits (value / 257, rounded)."""
    ext = ext.lower()
    if ext in (".jpg", ".jpeg") and image.shape[2] == 4:
        image = flatten_alpha(image)
    if ext in _EIGHT_BIT_ONLY and image.dtype == np.uint16:
        image = ((image.astype(np.uint32) + 128) // 257).astype(np.uint8)
    params: list[int] = []
    if ext in (".jpg", ".jpeg"):
        params = [cv2.IMWRITE_JPEG_QUALITY, int(quality)]
    elif ext == ".webp":
        params = [cv2.IMWRITE_WEBP_QUALITY, int(quality)]
    view = image[:, :, 0] if image.shape[2] == 1 else image
    ok, buffer = cv2.imencode(ext, view, params)
    if not ok:  # pragma: no cover - OpenCV refuses only for unsupported layouts
        raise OSError(f"OpenCV could not encode a {image.dtype} image with {image.shape[2]} channels as {ext}")
    return buffer.tobytes()


def write_atomic(path: Path, data: bytes) -> None:
    """Write bytes to ``path`` through a temporary file in the same folder and a rename."""
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.{os.getpid()}{TMP_SUFFIX}")
    try:
        with open(tmp, "wb") as handle:
            handle.write(data)
        os.replace(tmp, path)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
