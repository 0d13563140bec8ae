"""Reading and writing images: bytes through numpy (non-ASCII paths work), atomic writes.

Rules:
- The content decides the format, never the file name: the first bytes are sniffed
  (:func:`sniff_format`). PNG, JPEG, BMP, TIFF and WebP are read; GIF, HEIC/HEIF, AVIF,
  SVG, ICO, JPEG 2000 and JPEG XL are refused with a reason naming the format, and so are
  text (an HTML error page saved as ``.jpg``) and anything unknown.
- The image size is read from the header (:func:`image_info`) before any pixel is decoded.
  An image above ``max_pixels`` (:data:`DEFAULT_MAX_PIXELS`, 100 megapixels, like Pillow's
  ``MAX_IMAGE_PIXELS``) is refused, so a 2 MB decompression bomb never becomes gigabytes of
  pixels; ``max_pixels=None`` lifts the limit (OpenCV still refuses images above 2**30 pixels
  unless ``OPENCV_IO_MAX_IMAGE_PIXELS`` is raised).
- Any failure while decoding one file (including ``cv2.error`` and ``MemoryError``) becomes a
  :class:`ReadError` with a reason; callers report the file and go on.
- Images are read unchanged in depth and channels, as (H, W, C) with C in {1, 3, 4}.
- JPEG EXIF orientation is applied on read, as image viewers show the picture.
- A truncated JPEG (no end marker after its last scan) is refused, not half-decoded.
- Writes go to a hidden temporary file in the target folder, then ``os.replace``:
  an interrupted run never leaves a truncated image.
"""

from __future__ import annotations

import os
import struct
from pathlib import Path, PurePosixPath

import cv2
import numpy as np

from augcli.errors import AugcliError
from augcli.formats import MAX_SIDE, SIZE_READERS, jpeg_complete, jpeg_frame, jpeg_orientation, sniff_format
from augcli.ops._image import Image, to_dtype

IMAGE_EXTENSIONS = (".jpg", ".jpeg", ".png", ".bmp", ".tif", ".tiff", ".webp")
TMP_SUFFIX = ".augcli-tmp"
DEFAULT_MAX_PIXELS = 100_000_000
"""Largest image (width x height) read by default: 100 megapixels, about 300 MB as 8-bit RGB."""
_EIGHT_BIT_ONLY = (".jpg", ".jpeg", ".webp", ".bmp")
_SUPPORTED = {"png": "PNG", "jpeg": "JPEG", "bmp": "BMP", "tiff": "TIFF", "webp": "WebP"}
_UNSUPPORTED = {"gif": "GIF", "heic": "HEIC", "heif": "HEIF", "avif": "AVIF", "svg": "SVG", "ico": "ICO",
                "jp2": "JPEG 2000", "jxl": "JPEG XL"}
_UNSUPPORTED_EXTENSIONS = {".gif": "gif", ".heic": "heic", ".heif": "heif", ".avif": "avif", ".svg": "svg",
                           ".svgz": "svg", ".ico": "ico", ".jp2": "jp2", ".j2k": "jp2", ".jpx": "jp2",
                           ".jxl": "jxl"}
_RENAME_EXTENSIONS = {".jfif": ".jpg", ".jpe": ".jpg", ".pjpeg": ".jpg", ".pjp": ".jpg", ".tif2": ".tif"}


class ReadError(AugcliError):
    """An input file is not a usable image; the message says why. Runs record it per file and go on;
    one that escapes (a single image read through the API) is a failed read, exit status 1."""


def is_image_name(name: str) -> bool:
    """True for a file name with a supported image extension, in any case."""
    return name.lower().endswith(IMAGE_EXTENSIONS)


def unsupported_reason(name: str) -> str | None:
    """Why a file name's extension names an image augcli does not read; None for other names."""
    ext = PurePosixPath(name).suffix.lower()
    if ext in _UNSUPPORTED_EXTENSIONS:
        return _unsupported_text(_UNSUPPORTED_EXTENSIONS[ext])
    if ext in _RENAME_EXTENSIONS:
        return f"the {ext} extension is not read: rename the file to {_RENAME_EXTENSIONS[ext]} if it is a JPEG"
    return None


def _unsupported_text(fmt: str) -> str:
    """The reason an unsupported image format is refused, with the way out."""
    return f"{_UNSUPPORTED[fmt]} images are not supported: convert them to PNG"


def read_image(path: str | Path, *, max_pixels: int | None = DEFAULT_MAX_PIXELS) -> Image:
    """Read an image as (H, W, C), uint8 or uint16, EXIF orientation applied for JPEG.

    Args:
        path: the image file; its content decides the format.
        max_pixels: refuse images whose header claims more pixels; None for no limit.

    Returns:
        The image, (H, W, C) with C in {1, 3, 4}.

    Raises:
        ReadError: the file cannot be read, is not a supported image, or is too large.
    """
    try:
        data = np.fromfile(path, dtype=np.uint8)
    except OSError as exc:
        raise ReadError(f"cannot read file ({exc.strerror or exc})") from None
    except Exception as exc:  # one bad file never stops a run
        raise ReadError(f"cannot read file ({type(exc).__name__}: {exc})") from None
    return decode_image(data, str(path), max_pixels=max_pixels)


def decode_image(data: bytes | np.ndarray, name: str, *, max_pixels: int | None = DEFAULT_MAX_PIXELS) -> Image:
    """Decode image bytes; the content decides the format, ``name`` is used only in messages.

    Args:
        data: the file's bytes (``bytes`` or a uint8 array).
        name: the file name or path, for messages.
        max_pixels: refuse images whose header claims more pixels; None for no limit.

    Returns:
        The image, (H, W, C) with C in {1, 3, 4}, EXIF orientation applied for JPEG.

    Raises:
        ReadError: the bytes are not a supported, complete image within ``max_pixels``.
    """
    raw = _as_bytes(data)
    fmt = check_image(raw, name, max_pixels)
    image = _decode(raw)
    if fmt == "jpeg":
        image = apply_orientation(image, jpeg_orientation(raw))
    return np.ascontiguousarray(image)


REDUCED_FACTORS = (8, 4, 2)  # libjpeg's DCT scaling: decode at 1/8, 1/4 or 1/2 of the size
_REDUCED_FLAGS = {(2, 3): cv2.IMREAD_REDUCED_COLOR_2, (4, 3): cv2.IMREAD_REDUCED_COLOR_4,
                  (8, 3): cv2.IMREAD_REDUCED_COLOR_8, (2, 1): cv2.IMREAD_REDUCED_GRAYSCALE_2,
                  (4, 1): cv2.IMREAD_REDUCED_GRAYSCALE_4, (8, 1): cv2.IMREAD_REDUCED_GRAYSCALE_8}


def jpeg_shape(data: bytes | np.ndarray) -> tuple[int, int, int] | None:
    """The (H, W, C) shape a full decode gives, from the header, for an 8-bit grey or colour JPEG (the
    ones that can be decoded at reduced size), EXIF turn included; None for anything else."""
    raw = _as_bytes(data)
    if sniff_format(raw) != "jpeg":
        return None
    try:
        frame = jpeg_frame(raw)
    except (IndexError, ValueError, struct.error):
        return None
    if frame is None or frame[0] != 8 or frame[3] not in (1, 3) or min(frame[1], frame[2]) < 1:
        return None
    _, width, height, channels = frame
    if jpeg_orientation(raw) in (5, 6, 7, 8):
        width, height = height, width
    return height, width, channels


def decode_reduced(data: bytes | np.ndarray, name: str, factor: int, *,
                   max_pixels: int | None = DEFAULT_MAX_PIXELS) -> Image:
    """Decode an 8-bit grey or colour JPEG at 1/``factor`` of its size (libjpeg's DCT scaling: each
    pixel stands for a factor x factor block), EXIF orientation applied. Checks as :func:`decode_image`.

    Raises:
        ReadError: the bytes are not such a JPEG, or not a complete one within ``max_pixels``.
    """
    raw = _as_bytes(data)
    shape = jpeg_shape(raw)
    if shape is None or factor not in REDUCED_FACTORS:
        raise ReadError(f"cannot decode {name} at 1/{factor} of its size (an 8-bit grey or colour JPEG can be)")
    if not jpeg_complete(raw):
        raise ReadError("truncated or corrupt JPEG (no end marker after the image data)")
    check_pixels(shape[1], shape[0], max_pixels)
    flags = _REDUCED_FLAGS[(factor, shape[2])] | cv2.IMREAD_IGNORE_ORIENTATION
    try:
        image = cv2.imdecode(np.frombuffer(raw, np.uint8), flags)
    except Exception as exc:  # cv2.error, or anything else the codec raises
        raise ReadError(_decoder_reason(exc)) from None
    if image is None or image.size == 0:
        raise ReadError("not a readable image (corrupt, or a format OpenCV cannot decode)")
    if image.ndim == 2:
        image = image[:, :, np.newaxis]
    return np.ascontiguousarray(apply_orientation(image, jpeg_orientation(raw)))


def check_image(data: bytes | np.ndarray, name: str, max_pixels: int | None = DEFAULT_MAX_PIXELS) -> str:
    """Refuse, from the bytes alone, what :func:`decode_image` refuses before decoding; return the format."""
    raw = _as_bytes(data)
    if not raw:
        raise ReadError("empty file")
    fmt = sniff_format(raw)
    if fmt == "jpeg" and not jpeg_complete(raw):
        raise ReadError("truncated or corrupt JPEG (no end marker after the image data)")
    try:
        _, width, height = image_info(raw)
    except ReadError as exc:
        raise ReadError(f"{exc}{_named_note(name, fmt)}") from None
    check_pixels(width, height, max_pixels)
    return fmt


def _as_bytes(data: bytes | np.ndarray) -> bytes:
    """The bytes of a file read as a uint8 array, or the bytes themselves."""
    return data.tobytes() if isinstance(data, np.ndarray) else bytes(data)


def _named_note(name: str, fmt: str) -> str:
    """`` (named .jpg)`` when an unsupported content hides behind a supported image extension."""
    ext = PurePosixPath(name).suffix.lower()
    if fmt in _UNSUPPORTED and is_image_name(name):
        return f" (the file is named {ext} but holds {_UNSUPPORTED[fmt]} data)"
    return ""


def check_pixels(width: int, height: int, max_pixels: int | None) -> None:
    """Refuse an image above ``max_pixels`` (None: no limit) before it is decoded."""
    if max_pixels is not None and width * height > max_pixels:
        raise ReadError(f"image is {width}x{height} ({_amount(width * height)}), above the limit of "
                        f"{_amount(max_pixels)}; raise it with --max-pixels if you trust this file")
    if max(width, height) > MAX_SIDE:
        raise ReadError(f"image is {width}x{height}, a side above {MAX_SIDE} pixels, the largest augcli "
                        "transforms; resize or split it first")


def _amount(pixels: int) -> str:
    """``900 megapixels``, ``0.25 megapixels``, or ``600 pixels`` for tiny limits."""
    if pixels < 10_000:
        return f"{pixels} pixels"
    return f"{pixels / 1e6:.2f}".rstrip("0").rstrip(".") + " megapixels"


def _decode(raw: bytes) -> Image:
    """OpenCV decode as (H, W, C) uint8/uint16; any failure becomes a ReadError."""
    try:
        image = cv2.imdecode(np.frombuffer(raw, np.uint8), cv2.IMREAD_UNCHANGED)
    except MemoryError:
        raise ReadError("not enough memory to decode it") from None
    except Exception as exc:  # cv2.error, or anything else a codec raises
        raise ReadError(_decoder_reason(exc)) from None
    if image is None or image.size == 0:
        raise ReadError("not a readable image (corrupt, or a format OpenCV cannot decode)")
    if image.dtype not in (np.uint8, np.uint16):
        raise ReadError(f"unsupported pixel type {image.dtype}; augcli handles 8- and 16-bit images")
    if image.ndim == 2:
        image = image[:, :, np.newaxis]
    if image.shape[2] not in (1, 3, 4):
        raise ReadError(f"unsupported channel count {image.shape[2]}; augcli handles 1, 3 or 4 channels")
    return image


def _decoder_reason(exc: Exception) -> str:
    """A one-line reason from a decoder exception."""
    text = str(exc).strip()
    if "CV_IO_MAX_IMAGE_PIXELS" in text:
        return ("image is larger than OpenCV decodes (2**30 pixels by default); "
                "raise OPENCV_IO_MAX_IMAGE_PIXELS if you trust this file")
    lines = [line.strip() for line in text.splitlines() if line.strip()]
    return f"not a readable image (the decoder failed: {lines[-1] if lines else type(exc).__name__})"


def image_info(data: bytes | np.ndarray) -> tuple[str, int, int]:
    """``(format, width, height)`` read from the header alone, without decoding.

    ``format`` is one of png, jpeg, bmp, tiff, webp. The size is the stored one (before any EXIF
    turn). Reads PNG IHDR, the JPEG frame header (SOF0-SOF15), BMP's DIB header, the first TIFF IFD
    (either byte order, SHORT or LONG, and BigTIFF) and WebP VP8, VP8L and VP8X chunks.

    Raises:
        ReadError: the content is not a supported image, or its header holds no valid size.
    """
    raw = _as_bytes(data)
    fmt = sniff_format(raw)
    reader = SIZE_READERS.get(fmt)
    if reader is None:
        raise ReadError(_content_reason(fmt))
    try:
        size = reader(raw)
    except (IndexError, ValueError, struct.error):
        size = None
    if size is None or size[0] <= 0 or size[1] <= 0:
        raise ReadError(f"truncated or corrupt {_SUPPORTED[fmt]} (no valid image size in its header)")
    return fmt, int(size[0]), int(size[1])


def _content_reason(fmt: str) -> str:
    """Why content of an unreadable format is refused."""
    if fmt in _UNSUPPORTED:
        return _unsupported_text(fmt)
    if fmt == "html":
        return "not a readable image: the file is an HTML page (a failed download?)"
    if fmt == "text":
        return "not a readable image: the file holds text"
    return "not a readable image: its content is not PNG, JPEG, BMP, TIFF or WebP"


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
        image = to_dtype(image, np.uint8)
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


def temp_path(path: Path) -> Path:
    """The hidden temporary name a file is written under before it is moved to ``path``."""
    return path.with_name(f".{path.name}.{os.getpid()}{TMP_SUFFIX}")


def write_temp(path: Path, data: bytes) -> Path:
    """Write bytes under ``path``'s temporary name (folders made as needed) and return that name."""
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = temp_path(path)
    try:
        with open(tmp, "wb") as handle:
            handle.write(data)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
    return tmp


def write_atomic(path: Path, data: bytes) -> None:
    """Write bytes to ``path`` through a temporary file in the same folder and a rename."""
    tmp = write_temp(path, data)
    try:
        os.replace(tmp, path)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
