"""Deterministic benchmark trees for compare.py, all cut from the photos scikit-learn ships.

* ``photos``: make_tree.py's tree, JPEG q90 photos of about 500x375 in 5 skewed classes
  (770 at scale 1);
* ``tiny``: 32x32 PNG crops, thousands of them, in the same 5 skewed classes;
* ``big``: a handful of 12-megapixel (4000x3000) JPEGs, q90, with faint sensor-like noise so they
  do not compress like a blurred upscale.

Every image is a random crop of ``china.jpg`` or ``flower.jpg`` (CC BY 2.0, see README.md), then
resized, sometimes flipped, colour-shifted and given faint noise, all drawn from
``numpy.random.default_rng(seed)`` in a fixed order (make_tree.render does the pixels). A stamp
file records the parameters; a tree whose stamp matches is reused.

    python benchmarks/trees.py ROOT [--photos-scale 1] [--tiny 2000] [--big 6]
"""

from __future__ import annotations

import argparse
import json
import shutil
import sys
from pathlib import Path

import cv2
import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
import make_tree

STAMP = ".bench_tree.json"
BIG_SIZE = (4000, 3000)  # width, height: 12 megapixels
TINY_SIZE = 32


def _matches(out: Path, params: dict[str, object]) -> bool:
    """True when OUT holds a complete tree stamped with these parameters."""
    try:
        stamp = json.loads((out / STAMP).read_text())
    except (OSError, ValueError):
        return False
    return all(stamp.get(k) == v for k, v in params.items())


def _prepare(out: Path) -> None:
    """Empty a tree we built before (refuse a foreign non-empty directory)."""
    if out.exists() and any(out.iterdir()):
        if not (out / STAMP).exists():
            raise SystemExit(f"{out} exists, is not empty and has no {STAMP}; refusing to touch it")
        shutil.rmtree(out)
    out.mkdir(parents=True, exist_ok=True)


def _spec(rng: np.random.Generator, src_shape: tuple[int, int], width: int, height: int,
          noise: tuple[float, float]) -> make_tree.ImageSpec:
    """Draw one image's crop and colour parameters for an output of width x height."""
    src_h, src_w = src_shape
    source = int(rng.integers(len(make_tree.SOURCE_NAMES)))
    aspect = width / height
    max_w = min(float(src_w), src_h * aspect)
    crop_w = max(8, round(max_w * rng.uniform(0.3 if width < 100 else 0.6, 1.0)))
    crop_h = min(src_h, max(8, round(crop_w / aspect)))
    crop_x = int(rng.integers(0, src_w - crop_w + 1))
    crop_y = int(rng.integers(0, src_h - crop_h + 1))
    flip = bool(rng.random() < 0.5)
    gains = tuple(float(g) for g in rng.uniform(0.9, 1.1, size=3))
    offset = float(rng.uniform(-12.0, 12.0))
    sigma = float(rng.uniform(*noise))
    return make_tree.ImageSpec(source, width, height, crop_x, crop_y, crop_w, crop_h, flip,
                               gains, offset, sigma)  # type: ignore[arg-type]


def _build(out: Path, params: dict[str, object], counts: dict[str, int], size: tuple[int, int],
           ext: str, noise: tuple[float, float], seed: int) -> Path:
    """Generate a tree of ``counts`` images of ``size`` as ``ext`` unless a matching one is there."""
    if _matches(out, params):
        return out
    _prepare(out)
    sources = make_tree.load_sources()
    rng = np.random.default_rng(seed)
    threads = cv2.getNumThreads()
    cv2.setNumThreads(1)
    enc = [cv2.IMWRITE_JPEG_QUALITY, make_tree.JPEG_QUALITY] if ext == ".jpg" else []
    total = 0
    try:
        for name, count in counts.items():
            (out / name).mkdir(parents=True, exist_ok=True)
            for i in range(count):
                spec = _spec(rng, sources[0].shape[:2], size[0], size[1], noise)
                ok, buf = cv2.imencode(ext, make_tree.render(spec, sources, rng), enc)
                if not ok:
                    raise RuntimeError(f"cannot encode {ext}")
                (out / name / f"{name}_{i:05d}{ext}").write_bytes(buf.tobytes())
                total += buf.size
    finally:
        cv2.setNumThreads(threads)
    stamp = dict(params, bytes=int(total), cv2=cv2.__version__, numpy=np.__version__)
    (out / STAMP).write_text(json.dumps(stamp, indent=2) + "\n")
    return out


def photos(out: Path, scale: float = 1.0, seed: int = 1234) -> Path:
    """make_tree.py's photo tree (about 500x375 JPEG q90, 770 images at scale 1)."""
    return make_tree.build_tree(out, scale, seed, quiet=True)


def tiny(out: Path, count: int = 2000, seed: int = 1234) -> Path:
    """``count`` 32x32 PNG crops in the photo tree's skewed class proportions."""
    weights = np.array(make_tree.CLASS_COUNTS, dtype=float)
    per_class = np.maximum(1, np.round(weights / weights.sum() * count)).astype(int)
    counts = dict(zip(make_tree.CLASS_NAMES, (int(n) for n in per_class), strict=False))
    params = {"generator": "augcli-bench-tiny/1", "seed": seed, "classes": counts}
    return _build(out, params, counts, (TINY_SIZE, TINY_SIZE), ".png", (0.0, 1.0), seed)


def big(out: Path, count: int = 12, seed: int = 1234) -> Path:
    """``count`` 4000x3000 JPEG q90 photos in two classes (upscaled crops plus sensor-like noise)."""
    counts = {"class_0": count - count // 2, "class_1": count // 2}
    params = {"generator": "augcli-bench-big/1", "seed": seed, "classes": counts}
    return _build(out, params, counts, BIG_SIZE, ".jpg", (2.0, 4.0), seed)


def main(argv: list[str] | None = None) -> int:
    """Build the three trees under ROOT."""
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("root", type=Path)
    p.add_argument("--photos-scale", type=float, default=1.0)
    p.add_argument("--tiny", type=int, default=2000)
    p.add_argument("--big", type=int, default=12)
    p.add_argument("--seed", type=int, default=1234)
    p.add_argument("--only", choices=("photos", "tiny", "big"), help="build one tree")
    p.add_argument("--json", action="store_true", help="print {tree: {path, facts}} as JSON")
    args = p.parse_args(argv)
    photos_dir = "photos" if args.photos_scale == 1 else f"photos-x{args.photos_scale:g}"
    builders = {"photos": lambda: photos(args.root / photos_dir, args.photos_scale, args.seed),
                "tiny": lambda: tiny(args.root / "tiny", args.tiny, args.seed),
                "big": lambda: big(args.root / "big", args.big, args.seed)}
    built = {name: build() for name, build in builders.items() if args.only in (None, name)}
    if args.json:
        print(json.dumps({name: {"path": str(path), "facts": facts(path)} for name, path in built.items()}))
        return 0
    for name, path in built.items():
        print(f"{name:<7} {facts(path)}  {path}")
    return 0


def facts(path: Path) -> str:
    """Files, size and image size of a tree, in one line."""
    files = sorted(p for p in path.glob("*/*") if p.is_file())
    size = sum(p.stat().st_size for p in files)
    first = cv2.imread(str(files[0]), cv2.IMREAD_UNCHANGED) if files else None
    dims = f"{first.shape[1]}x{first.shape[0]}" if first is not None else "?"
    return (f"{len(files)} files, {size / 1e6:.1f} MB (mean {size / max(1, len(files)) / 1024:.0f} KiB), "
            f"e.g. {dims} {files[0].suffix.lstrip('.').upper() if files else ''}")


if __name__ == "__main__":
    sys.exit(main())
