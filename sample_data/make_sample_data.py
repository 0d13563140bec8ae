"""Generate the small, deliberately skewed sample dataset shipped in ``sample_data/``.

Every image is drawn from scratch with OpenCV and NumPy from a fixed seed, so the
output is byte-identical from run to run (for a given OpenCV build).  Run from the
repository root::

    python sample_data/make_sample_data.py            # writes into sample_data/
    python sample_data/make_sample_data.py --out DIR  # writes into DIR instead

Only the class folders listed in ``CLASS_COUNTS`` are deleted and recreated;
nothing else in the output directory is touched.
"""

from __future__ import annotations

import argparse
import math
import shutil
from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np

SEED = 20240611
CLASS_COUNTS: dict[str, int] = {"circle": 40, "square": 12, "triangle": 4}
SIZES: tuple[tuple[int, int], ...] = (  # (width, height)
    (96, 96), (112, 96), (96, 128), (128, 128), (128, 96),
    (120, 120), (144, 112), (160, 128),
)
JPEG_QUALITY = 90
PNG_COMPRESSION = 9
PNG_EVERY = 7  # index % PNG_EVERY == PNG_OFFSET -> PNG (8-bit BGR) instead of JPEG
PNG_OFFSET = 3
GRAYSCALE_IMAGE = ("circle", 17)   # single-channel PNG
RGBA_IMAGE = ("triangle", 3)       # 4-channel PNG, transparent around the shape
UINT16_IMAGE = ("square", 3)       # 3-channel 16-bit PNG
NESTED_DIR = ("square", "studio")  # sub-folder inside a class ...
NESTED_INDICES = (9, 10, 11)       # ... holding these images of that class


@dataclass(frozen=True)
class ImageSpec:
    """Everything needed to draw and save one sample image."""

    label: str
    index: int
    kind: str  # "bgr", "gray", "rgba" or "uint16"
    ext: str   # ".jpg" or ".png"
    subdir: str | None

    @property
    def relpath(self) -> Path:
        """Path of the image relative to the dataset root."""
        name = f"{self.label}_{self.index:03d}{self.ext}"
        parts = [self.label] + ([self.subdir] if self.subdir else []) + [name]
        return Path(*parts)


def build_specs() -> list[ImageSpec]:
    """List all images to generate, in a fixed order."""
    specs: list[ImageSpec] = []
    for label, count in CLASS_COUNTS.items():
        for index in range(count):
            key = (label, index)
            if key == GRAYSCALE_IMAGE:
                kind = "gray"
            elif key == RGBA_IMAGE:
                kind = "rgba"
            elif key == UINT16_IMAGE:
                kind = "uint16"
            else:
                kind = "bgr"
            is_png = kind != "bgr" or index % PNG_EVERY == PNG_OFFSET
            nested = label == NESTED_DIR[0] and index in NESTED_INDICES
            specs.append(ImageSpec(label, index, kind, ".png" if is_png else ".jpg",
                                   NESTED_DIR[1] if nested else None))
    return specs


def image_rng(spec: ImageSpec) -> np.random.Generator:
    """Independent generator per image, so editing one image never shifts the others."""
    class_id = list(CLASS_COUNTS).index(spec.label)
    return np.random.default_rng([SEED, class_id, spec.index])


def random_colour(rng: np.random.Generator) -> np.ndarray:
    """A random BGR colour as float64 in [0, 255]."""
    return rng.uniform(0.0, 255.0, size=3)


def make_background(rng: np.random.Generator, width: int, height: int) -> np.ndarray:
    """Gradient + low-frequency texture + stripes + mild noise, float32 BGR."""
    ys, xs = np.mgrid[0:height, 0:width].astype(np.float32)
    angle = rng.uniform(0.0, 2.0 * math.pi)
    ramp = (xs * math.cos(angle) + ys * math.sin(angle))
    ramp = (ramp - ramp.min()) / max(float(np.ptp(ramp)), 1e-6)
    c0, c1 = random_colour(rng), random_colour(rng)
    img = c0[None, None, :] * (1.0 - ramp[..., None]) + c1[None, None, :] * ramp[..., None]

    coarse = rng.normal(0.0, 1.0, size=(max(height // 16, 2), max(width // 16, 2), 3))
    blotches = cv2.resize(coarse.astype(np.float32), (width, height), interpolation=cv2.INTER_CUBIC)
    img += blotches * rng.uniform(6.0, 16.0)

    freq = rng.uniform(0.08, 0.35)
    s_angle = rng.uniform(0.0, math.pi)
    stripes = np.sin(freq * (xs * math.cos(s_angle) + ys * math.sin(s_angle)) + rng.uniform(0, 6.3))
    img += stripes[..., None] * rng.uniform(2.0, 10.0)

    img += rng.normal(0.0, 3.0, size=img.shape)
    return img.astype(np.float32)


def pick_shape_colour(rng: np.random.Generator, background: np.ndarray) -> np.ndarray:
    """A random colour that stands out from the mean background colour."""
    mean = background.reshape(-1, 3).mean(axis=0)
    best = random_colour(rng)
    for _ in range(20):
        if np.linalg.norm(best - mean) > 110.0:
            break
        best = random_colour(rng)
    return best.astype(np.float32)


def polygon_vertices(label: str, rng: np.random.Generator, width: int, height: int) -> np.ndarray:
    """Float Nx2 vertices of a regular square/triangle with random size, centre and rotation."""
    n_vertices = 4 if label == "square" else 3
    radius = rng.uniform(0.20, 0.40) * min(width, height)
    cx = rng.uniform(radius + 2, width - radius - 2)
    cy = rng.uniform(radius + 2, height - radius - 2)
    theta0 = rng.uniform(0.0, 2.0 * math.pi)
    thetas = theta0 + np.arange(n_vertices) * (2.0 * math.pi / n_vertices)
    return np.stack([cx + radius * np.cos(thetas), cy + radius * np.sin(thetas)], axis=1)


def shape_mask(label: str, rng: np.random.Generator, width: int, height: int) -> np.ndarray:
    """Anti-aliased float32 mask in [0, 1] of one randomly placed shape."""
    canvas = np.zeros((height, width), dtype=np.uint8)
    shift = 4  # sub-pixel precision for the drawing calls
    scale = 1 << shift
    if label == "circle":
        radius = rng.uniform(0.15, 0.34) * min(width, height)
        cx = rng.uniform(radius + 2, width - radius - 2)
        cy = rng.uniform(radius + 2, height - radius - 2)
        cv2.circle(canvas, (round(cx * scale), round(cy * scale)), round(radius * scale),
                   255, thickness=-1, lineType=cv2.LINE_AA, shift=shift)
    else:
        poly = polygon_vertices(label, rng, width, height)
        pts = np.round(poly * scale).astype(np.int32).reshape(-1, 1, 2)
        cv2.fillPoly(canvas, [pts], 255, lineType=cv2.LINE_AA, shift=shift)
    return canvas.astype(np.float32) / 255.0


def draw_distractors(rng: np.random.Generator, img: np.ndarray, count: int) -> None:
    """Draw ``count`` thin random lines onto ``img`` in place."""
    height, width = img.shape[:2]
    for _ in range(count):
        p0 = (int(rng.integers(0, width)), int(rng.integers(0, height)))
        p1 = (int(rng.integers(0, width)), int(rng.integers(0, height)))
        colour = tuple(float(v) for v in random_colour(rng))
        cv2.line(img, p0, p1, colour, thickness=int(rng.integers(1, 3)), lineType=cv2.LINE_AA)


def render(spec: ImageSpec) -> np.ndarray:
    """Draw the image described by ``spec`` in the dtype/channels it will be saved with."""
    rng = image_rng(spec)
    width, height = SIZES[int(rng.integers(0, len(SIZES)))]
    img = make_background(rng, width, height)
    draw_distractors(rng, img, int(rng.integers(0, 3)))
    colour = pick_shape_colour(rng, img)
    mask = shape_mask(spec.label, rng, width, height)
    shade = 1.0 + rng.normal(0.0, 0.04, size=(height, width, 1)).astype(np.float32)
    img = img * (1.0 - mask[..., None]) + (colour * shade) * mask[..., None]
    if rng.random() < 0.5:
        draw_distractors(rng, img, 1)
    return to_output(spec, rng, np.clip(img, 0.0, 255.0), mask)


def to_output(spec: ImageSpec, rng: np.random.Generator, img: np.ndarray, mask: np.ndarray) -> np.ndarray:
    """Convert the float BGR drawing to the array type required by ``spec.kind``."""
    bgr8 = np.round(img).astype(np.uint8)
    if spec.kind == "gray":
        return cv2.cvtColor(bgr8, cv2.COLOR_BGR2GRAY)
    if spec.kind == "rgba":
        alpha = np.round(mask * 255.0).astype(np.uint8)
        return np.dstack([bgr8, alpha])  # OpenCV order: BGRA
    if spec.kind == "uint16":
        fine = rng.uniform(-128.0, 128.0, size=img.shape)  # use the extra 8 bits of depth
        return np.clip(np.round(img * 257.0 + fine), 0, 65535).astype(np.uint16)
    return bgr8


def encode(spec: ImageSpec, img: np.ndarray) -> bytes:
    """Encode an image to JPEG/PNG bytes deterministically."""
    if spec.ext == ".jpg":
        params = [cv2.IMWRITE_JPEG_QUALITY, JPEG_QUALITY]
    else:
        params = [cv2.IMWRITE_PNG_COMPRESSION, PNG_COMPRESSION]
    ok, buf = cv2.imencode(spec.ext, img, params)
    if not ok:
        raise RuntimeError(f"could not encode {spec.relpath}")
    return buf.tobytes()


def reset_class_dirs(out_dir: Path) -> None:
    """Delete and recreate only the class folders this script owns."""
    for label in CLASS_COUNTS:
        class_dir = out_dir / label
        if class_dir.exists():
            shutil.rmtree(class_dir)
        class_dir.mkdir(parents=True)


def generate(out_dir: Path) -> list[Path]:
    """Write the whole dataset into ``out_dir`` and return the written paths."""
    reset_class_dirs(out_dir)
    written: list[Path] = []
    for spec in build_specs():
        path = out_dir / spec.relpath
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(encode(spec, render(spec)))
        written.append(path)
    return written


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    """Parse the optional ``--out`` argument."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=Path(__file__).resolve().parent,
                        help="dataset root to write into (default: the folder holding this script)")
    return parser.parse_args(argv)


def main(argv: list[str] | None = None) -> None:
    """Entry point: regenerate the sample dataset and print a short summary."""
    out_dir: Path = parse_args(argv).out
    written = generate(out_dir)
    total = sum(p.stat().st_size for p in written)
    for label in CLASS_COUNTS:
        n = sum(1 for p in written if p.relative_to(out_dir).parts[0] == label)
        print(f"{label:>10}: {n:3d} images")
    print(f"wrote {len(written)} images, {total / 1024:.1f} KiB, into {out_dir}")


if __name__ == "__main__":
    main()
