#!/usr/bin/env python
"""Build a deterministic ImageFolder tree of realistic JPEG photos for benchmarks.

The pixels come from the two colour photos shipped inside scikit-learn
(``sklearn/datasets/images/china.jpg`` and ``flower.jpg``, 427x640, CC BY 2.0,
see benchmarks/README.md for attribution).  Every output image is a random crop,
rescale, optional horizontal flip, mild colour shift and faint sensor-like noise
of one of them, driven by ``numpy.random.default_rng(seed)``.

Usage::

    python benchmarks/make_tree.py OUT [--scale 1] [--seed 1234]

For a given seed and scale the tree is byte-identical (same numpy/OpenCV build):
images are encoded with ``cv2.imencode`` and written as raw bytes.  A stamp file
``OUT/.bench_tree.json`` records the parameters; a second call with the same
parameters does nothing.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import shutil
import sys
from dataclasses import dataclass
from pathlib import Path
from statistics import NormalDist

import cv2
import numpy as np

GENERATOR = "augcli-bench-tree/1"
STAMP_NAME = ".bench_tree.json"
CLASS_COUNTS: tuple[int, ...] = (400, 200, 100, 50, 20)
CLASS_NAMES: tuple[str, ...] = ("class_0", "class_1", "class_2", "class_3", "class_4")
JPEG_QUALITY = 90
LANDSCAPE_W = 500
LANDSCAPE_H_RANGE = (333, 375)  # inclusive
PORTRAIT_WH = (375, 500)
PORTRAIT_FRACTION = 0.2
SOURCE_NAMES = ("china.jpg", "flower.jpg")


@dataclass(frozen=True)
class ImageSpec:
    """Random parameters for one generated image."""

    source: int
    width: int
    height: int
    crop_x: int
    crop_y: int
    crop_w: int
    crop_h: int
    flip: bool
    gains: tuple[float, float, float]
    offset: float
    noise_sigma: float


def class_counts(scale: float) -> dict[str, int]:
    """Return the number of images per class for a given scale."""
    return {name: max(1, round(n * scale)) for name, n in zip(CLASS_NAMES, CLASS_COUNTS)}


def load_sources() -> list[np.ndarray]:
    """Decode the scikit-learn sample photos (BGR, 427x640) with OpenCV."""
    import sklearn.datasets

    img_dir = Path(sklearn.datasets.__file__).parent / "images"
    images = []
    for name in SOURCE_NAMES:
        data = np.fromfile(img_dir / name, dtype=np.uint8)
        img = cv2.imdecode(data, cv2.IMREAD_COLOR)
        if img is None:
            raise RuntimeError(f"cannot decode {img_dir / name}")
        images.append(img)
    return images


def draw_spec(rng: np.random.Generator, src_shape: tuple[int, int]) -> ImageSpec:
    """Draw the random parameters of one image (fixed draw order = determinism)."""
    src_h, src_w = src_shape
    source = int(rng.integers(len(SOURCE_NAMES)))
    if rng.random() < PORTRAIT_FRACTION:
        width, height = PORTRAIT_WH
    else:
        width = LANDSCAPE_W
        height = int(rng.integers(LANDSCAPE_H_RANGE[0], LANDSCAPE_H_RANGE[1] + 1))
    aspect = width / height
    max_w = min(float(src_w), src_h * aspect)
    crop_w = max(16, round(max_w * rng.uniform(0.45, 1.0)))
    crop_h = min(src_h, max(16, round(crop_w / aspect)))
    crop_x = int(rng.integers(0, src_w - crop_w + 1))
    crop_y = int(rng.integers(0, src_h - crop_h + 1))
    flip = bool(rng.random() < 0.5)
    gains = tuple(float(g) for g in rng.uniform(0.9, 1.1, size=3))
    offset = float(rng.uniform(-12.0, 12.0))
    noise_sigma = float(rng.uniform(0.0, 2.0))
    return ImageSpec(source, width, height, crop_x, crop_y, crop_w, crop_h, flip,
                     gains, offset, noise_sigma)  # type: ignore[arg-type]


def colour_lut(gains: tuple[float, float, float], offset: float) -> np.ndarray:
    """Build a 256x1x3 uint8 lookup table applying per-channel gain and a common offset."""
    ramp = np.arange(256, dtype=np.float64)
    lut = np.stack([np.clip(np.rint(ramp * g + offset), 0, 255) for g in gains], axis=-1)
    return lut.astype(np.uint8).reshape(256, 1, 3)


def noise_lut(sigma: float) -> np.ndarray:
    """Map a uniform byte to integer Gaussian noise of std ``sigma`` (quantile table, cheap)."""
    dist = NormalDist(0.0, max(sigma, 1e-6))
    return np.array([round(dist.inv_cdf((k + 0.5) / 256)) for k in range(256)], dtype=np.int16)


def render(spec: ImageSpec, sources: list[np.ndarray], rng: np.random.Generator) -> np.ndarray:
    """Render one BGR uint8 image from its spec."""
    src = sources[spec.source]
    crop = src[spec.crop_y:spec.crop_y + spec.crop_h, spec.crop_x:spec.crop_x + spec.crop_w]
    interp = cv2.INTER_AREA if spec.crop_w > spec.width else cv2.INTER_LINEAR
    img = cv2.resize(crop, (spec.width, spec.height), interpolation=interp)
    if spec.flip:
        img = cv2.flip(img, 1)
    img = cv2.LUT(img, colour_lut(spec.gains, spec.offset))
    raw = np.frombuffer(rng.bytes(img.size), dtype=np.uint8).reshape(img.shape)
    lut = noise_lut(spec.noise_sigma)
    pos = cv2.LUT(raw, np.maximum(lut, 0).astype(np.uint8))
    neg = cv2.LUT(raw, np.maximum(-lut, 0).astype(np.uint8))
    return cv2.subtract(cv2.add(img, pos), neg)  # saturating uint8 arithmetic


def encode_jpeg(img: np.ndarray, quality: int) -> bytes:
    """Encode an image as JPEG bytes with OpenCV."""
    ok, buf = cv2.imencode(".jpg", img, [cv2.IMWRITE_JPEG_QUALITY, quality])
    if not ok:
        raise RuntimeError("cv2.imencode failed")
    return buf.tobytes()


def expected_params(scale: float, seed: int) -> dict[str, object]:
    """Return the parameters that identify a tree (what the stamp must match)."""
    return {
        "generator": GENERATOR,
        "seed": seed,
        "scale": scale,
        "quality": JPEG_QUALITY,
        "classes": class_counts(scale),
    }


def read_stamp(out: Path) -> dict[str, object] | None:
    """Read the stamp file of a tree, or None if absent/unreadable."""
    try:
        return json.loads((out / STAMP_NAME).read_text())
    except (OSError, ValueError):
        return None


def tree_matches(out: Path, params: dict[str, object]) -> bool:
    """True if OUT holds a complete tree built with exactly these parameters."""
    stamp = read_stamp(out)
    if stamp is None or any(stamp.get(k) != v for k, v in params.items()):
        return False
    counts: dict[str, int] = params["classes"]  # type: ignore[assignment]
    return all(len(list((out / name).glob("*.jpg"))) == n for name, n in counts.items())


def tree_digest(out: Path) -> str:
    """SHA-256 over the relative paths and bytes of every JPEG in the tree."""
    h = hashlib.sha256()
    for path in sorted(out.glob("*/*.jpg")):
        h.update(path.relative_to(out).as_posix().encode() + b"\0")
        h.update(path.read_bytes())
    return h.hexdigest()


def prepare_out(out: Path) -> None:
    """Make OUT ready for (re)building; refuse to clobber a directory we did not make."""
    if out.exists() and any(out.iterdir()):
        if read_stamp(out) is None:
            raise SystemExit(f"{out} exists, is not empty and has no {STAMP_NAME}; refusing to touch it")
        (out / STAMP_NAME).unlink()
        for name in CLASS_NAMES:
            shutil.rmtree(out / name, ignore_errors=True)
    out.mkdir(parents=True, exist_ok=True)


def write_images(out: Path, scale: float, seed: int) -> tuple[int, int]:
    """Generate and write all images; return (file count, total bytes)."""
    threads = cv2.getNumThreads()
    cv2.setNumThreads(1)
    try:
        return _write_all(out, scale, seed)
    finally:
        cv2.setNumThreads(threads)


def _write_all(out: Path, scale: float, seed: int) -> tuple[int, int]:
    """Single-threaded body of write_images."""
    sources = load_sources()
    rng = np.random.default_rng(seed)
    n_files = n_bytes = 0
    for name, count in class_counts(scale).items():
        (out / name).mkdir(parents=True, exist_ok=True)
        for i in range(count):
            spec = draw_spec(rng, sources[0].shape[:2])
            data = encode_jpeg(render(spec, sources, rng), JPEG_QUALITY)
            (out / name / f"{name}_{i:05d}.jpg").write_bytes(data)
            n_files += 1
            n_bytes += len(data)
    return n_files, n_bytes


def build_tree(out: Path | str, scale: float = 1.0, seed: int = 1234, quiet: bool = False) -> Path:
    """Build the tree at OUT unless a matching one is already there; return OUT."""
    out = Path(out)
    params = expected_params(scale, seed)
    if tree_matches(out, params):
        if not quiet:
            print(f"make_tree: {out} already holds a matching tree (seed={seed}, scale={scale}); skipping")
        return out
    prepare_out(out)
    n_files, n_bytes = write_images(out, scale, seed)
    stamp = dict(params, files=n_files, bytes=n_bytes, sha256=tree_digest(out),
                 cv2=cv2.__version__, numpy=np.__version__)
    tmp = out / (STAMP_NAME + ".tmp")
    tmp.write_text(json.dumps(stamp, indent=2) + "\n")
    tmp.replace(out / STAMP_NAME)
    if not quiet:
        print(f"make_tree: wrote {n_files} JPEGs ({n_bytes / 1e6:.1f} MB) to {out}; "
              f"sha256 {stamp['sha256'][:16]}")
    return out


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    """Parse command-line arguments."""
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("out", type=Path, help="output directory (ImageFolder root)")
    p.add_argument("--scale", type=float, default=1.0, help="multiply class sizes 400/200/100/50/20")
    p.add_argument("--seed", type=int, default=1234, help="numpy default_rng seed")
    p.add_argument("--verify", action="store_true",
                   help="recompute the tree digest and compare it with the stamp")
    return p.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    """Command-line entry point."""
    args = parse_args(argv)
    if args.scale <= 0:
        raise SystemExit("--scale must be > 0")
    build_tree(args.out, args.scale, args.seed)
    if args.verify:
        stamp = read_stamp(args.out) or {}
        digest = tree_digest(args.out)
        ok = digest == stamp.get("sha256")
        print(f"make_tree: verify {'OK' if ok else 'MISMATCH'} ({digest[:16]})")
        return 0 if ok else 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
