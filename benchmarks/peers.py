"""The non-augcli rows of compare.py: the floor and the peer pipelines, each run once per call.

    python benchmarks/peers.py {floor,albumentations,augmentor,torchvision} TREE OUT
                               [--copies 2] [--workers 2] [--quality 95]

Every tool gets the same job as ``augcli expand --no-originals``: for each image of an ImageFolder
TREE, decode it once and write ``--copies`` outputs to ``OUT/<class>/<stem>__<k>.<ext>`` (the
input's format; JPEG at ``--quality``), with a process pool of ``--workers`` workers, one OpenCV
(or torch) thread each. The peers are imported only by their own subcommand: they live in the
optional ``bench`` extra, never in augcli's dependencies.

* ``floor``: decode + encode + write only (no augmentation), OpenCV.
* ``albumentations``: the pipeline of configs/bench_albu.yaml written by hand (cv2 read/write,
  BGR<->RGB around the Compose call, as albumentations expects RGB).
* ``augmentor``: Augmentor's closest pipeline, its own Pillow operations and Pillow read/write.
* ``torchvision``: torchvision.transforms.v2 on uint8 CHW tensors, torchvision.io read/write.
"""

from __future__ import annotations

import argparse
import multiprocessing as mp
import os
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import cv2
import numpy as np

IMAGE_EXTS = {".jpg", ".jpeg", ".png"}
Task = tuple[str, str, str]  # source path, output prefix (OUT/class/stem), extension

_STATE: dict[str, Any] = {}


def list_tasks(tree: Path, out: Path) -> list[Task]:
    """One task per input of TREE (sorted), with its output prefix; makes the class folders."""
    tasks = []
    for cls in sorted(d for d in tree.iterdir() if d.is_dir() and not d.name.startswith(".")):
        (out / cls.name).mkdir(parents=True, exist_ok=True)
        for src in sorted(cls.iterdir()):
            if src.suffix.lower() in IMAGE_EXTS and not src.name.startswith("."):
                tasks.append((str(src), str(out / cls.name / src.stem), src.suffix.lower()))
    return tasks


def _cv2_params(ext: str, quality: int) -> list[int]:
    """OpenCV encode parameters: JPEG quality, else the codec's defaults (as augcli)."""
    return [cv2.IMWRITE_JPEG_QUALITY, quality] if ext in (".jpg", ".jpeg") else []


def _write(buf: np.ndarray | None, ok: bool, path: str) -> None:
    """Write an encoded buffer or fail loudly."""
    if not ok or buf is None:
        raise RuntimeError(f"cannot encode {path}")
    buf.tofile(path)


# --------------------------------------------------------------------------- floor

def _floor_init(copies: int, quality: int) -> None:
    """Worker set-up: one OpenCV thread."""
    cv2.setNumThreads(1)
    _STATE.update(copies=copies, quality=quality)


def _floor_task(task: Task) -> int:
    """Decode once, then encode and write ``copies`` times."""
    src, prefix, ext = task
    img = cv2.imdecode(np.fromfile(src, dtype=np.uint8), cv2.IMREAD_UNCHANGED)
    for k in range(1, _STATE["copies"] + 1):
        ok, buf = cv2.imencode(ext, img, _cv2_params(ext, _STATE["quality"]))
        _write(buf, ok, f"{prefix}__{k}{ext}")
    return _STATE["copies"]


# --------------------------------------------------------------------------- albumentations

class _Hide:
    """A meta-path finder that makes some top-level packages look absent (ImportError)."""

    def __init__(self, names: tuple[str, ...]) -> None:
        self.names = names

    def find_spec(self, fullname: str, path: object = None, target: object = None) -> None:
        """Refuse the hidden packages; let every other import through."""
        if fullname.split(".")[0] in self.names:
            raise ImportError(f"{fullname} hidden by benchmarks/peers.py")


def albumentations_pipeline() -> Any:
    """HorizontalFlip, Affine, RandomBrightnessContrast, HueSaturationValue, GaussNoise,
    GaussianBlur and CoarseDropout with the probabilities and ranges of configs/bench_albu.yaml.

    albumentations/__init__.py imports its PyTorch helpers whenever torch is importable (about
    1.5 s and 500 MiB per process here); the pipeline does not use them, so torch is hidden, as
    in an environment without it. The online version check is off (NO_ALBUMENTATIONS_UPDATE).
    """
    os.environ.setdefault("NO_ALBUMENTATIONS_UPDATE", "1")
    if os.environ.get("BENCH_ALBU_WITH_TORCH") != "1":
        sys.meta_path.insert(0, _Hide(("torch", "torchvision")))
    import albumentations as A

    return A.Compose([
        A.HorizontalFlip(p=0.5),
        A.Affine(rotate=(-15, 15), scale=(0.9, 1.1), translate_percent=(-0.05, 0.05), shear=(-5, 5), p=0.5),
        A.RandomBrightnessContrast(p=0.5),
        A.HueSaturationValue(p=0.5),
        A.GaussNoise(std_range=(0.02, 0.1), p=0.5),
        A.GaussianBlur(blur_limit=(3, 7), p=0.2),
        A.CoarseDropout(num_holes_range=(1, 8), hole_height_range=(0.05, 0.15),
                        hole_width_range=(0.05, 0.15), p=0.3),
    ], seed=os.getpid())


def _albu_init(copies: int, quality: int) -> None:
    """Worker set-up: one OpenCV thread, the Compose object."""
    cv2.setNumThreads(1)
    _STATE.update(copies=copies, quality=quality, albu=albumentations_pipeline())


def _albu_task(task: Task) -> int:
    """cv2 read, BGR->RGB, Compose ``copies`` times, RGB->BGR, cv2 encode + write."""
    src, prefix, ext = task
    rgb = cv2.cvtColor(cv2.imread(src, cv2.IMREAD_COLOR), cv2.COLOR_BGR2RGB)
    for k in range(1, _STATE["copies"] + 1):
        out = cv2.cvtColor(_STATE["albu"](image=rgb)["image"], cv2.COLOR_RGB2BGR)
        ok, buf = cv2.imencode(ext, out, _cv2_params(ext, _STATE["quality"]))
        _write(buf, ok, f"{prefix}__{k}{ext}")
    return _STATE["copies"]


# --------------------------------------------------------------------------- Augmentor

def augmentor_pipeline() -> Any:
    """Augmentor's closest pipeline: flip, rotate, zoom, shear, brightness, contrast, colour, erasing.

    Augmentor has no translate, noise or blur; its rotate crops the largest inner rectangle and
    resizes back, and each geometric op is a separate bicubic resampling.
    """
    import Augmentor

    p = Augmentor.Pipeline()
    p.flip_left_right(probability=0.5)
    p.rotate(probability=0.5, max_left_rotation=15, max_right_rotation=15)
    p.zoom(probability=0.5, min_factor=0.9, max_factor=1.1)
    p.shear(probability=0.5, max_shear_left=5, max_shear_right=5)
    p.random_brightness(probability=0.5, min_factor=0.8, max_factor=1.2)
    p.random_contrast(probability=0.5, min_factor=0.8, max_factor=1.2)
    p.random_color(probability=0.5, min_factor=0.8, max_factor=1.2)
    p.random_erasing(probability=0.3, rectangle_area=0.11)
    return p.torch_transform()  # a function PIL image -> PIL image applying each op with its p


def _augmentor_init(copies: int, quality: int) -> None:
    """Worker set-up: the pipeline function."""
    _STATE.update(copies=copies, quality=quality, augmentor=augmentor_pipeline())


def _augmentor_task(task: Task) -> int:
    """Pillow read, the pipeline ``copies`` times, Pillow save."""
    from PIL import Image

    src, prefix, ext = task
    with Image.open(src) as handle:
        img = handle.convert("RGB") if handle.mode not in ("RGB", "L") else handle.copy()
    for k in range(1, _STATE["copies"] + 1):
        out = _STATE["augmentor"](img)
        if ext in (".jpg", ".jpeg"):
            out.save(f"{prefix}__{k}{ext}", "JPEG", quality=_STATE["quality"])
        else:
            out.save(f"{prefix}__{k}{ext}", "PNG")
    return _STATE["copies"]


# --------------------------------------------------------------------------- torchvision

def torchvision_pipeline() -> Any:
    """transforms.v2 on uint8 tensors, the closest to the albumentations pipeline.

    v2 has no per-call noise std range (a fixed sigma of 0.06, the middle of 0.02-0.1), no
    value shift in HSV (brightness stands in) and one erasing box instead of 1-8 holes.
    """
    from torchvision.transforms import v2

    return v2.Compose([
        v2.RandomHorizontalFlip(p=0.5),
        v2.RandomApply([v2.RandomAffine(degrees=15, translate=(0.05, 0.05), scale=(0.9, 1.1),
                                        shear=(-5, 5, -5, 5))], p=0.5),
        v2.RandomApply([v2.ColorJitter(brightness=0.2, contrast=0.2)], p=0.5),
        v2.RandomApply([v2.ColorJitter(brightness=0.08, saturation=0.12, hue=40 / 360)], p=0.5),
        v2.RandomApply([v2.GaussianNoise(sigma=0.06)], p=0.5),
        v2.RandomApply([v2.GaussianBlur(kernel_size=5, sigma=(0.8, 1.4))], p=0.2),
        v2.RandomErasing(p=0.3, scale=(0.0025, 0.0225), ratio=(0.5, 2.0), value=0),
    ])


def _torchvision_init(copies: int, quality: int) -> None:
    """Worker set-up: one torch thread, the Compose object."""
    import torch

    torch.set_num_threads(1)
    _STATE.update(copies=copies, quality=quality, tv=torchvision_pipeline())


def _torchvision_task(task: Task) -> int:
    """torchvision.io read + decode, the pipeline ``copies`` times, encode + write."""
    from torchvision import io as tvio

    src, prefix, ext = task
    img = tvio.decode_image(tvio.read_file(src), mode=tvio.ImageReadMode.UNCHANGED)
    for k in range(1, _STATE["copies"] + 1):
        out = _STATE["tv"](img)
        data = tvio.encode_jpeg(out, quality=_STATE["quality"]) if ext in (".jpg", ".jpeg") else tvio.encode_png(out)
        tvio.write_file(f"{prefix}__{k}{ext}", data)
    return _STATE["copies"]


# --------------------------------------------------------------------------- driver

TOOLS: dict[str, tuple[Callable[[int, int], None], Callable[[Task], int], tuple[str, ...]]] = {
    "floor": (_floor_init, _floor_task, ()),
    "albumentations": (_albu_init, _albu_task, ()),  # imported by albumentations_pipeline
    "augmentor": (_augmentor_init, _augmentor_task, ("Augmentor", "PIL")),
    "torchvision": (_torchvision_init, _torchvision_task, ("torch", "torchvision.transforms.v2")),
}


def run(tool: str, tree: Path, out: Path, copies: int, workers: int, quality: int) -> int:
    """Run one tool over TREE into OUT with a Pool(workers); return the number of outputs."""
    init, task_fn, modules = TOOLS[tool]
    for name in modules:  # imported once in the parent, inherited by the forked workers
        __import__(name)
    if tool == "albumentations":
        albumentations_pipeline()
    tasks = list_tasks(tree, out)
    if workers == 1:
        init(copies, quality)
        return sum(task_fn(t) for t in tasks)
    with mp.get_context("fork").Pool(workers, initializer=init, initargs=(copies, quality)) as pool:
        written = sum(pool.imap_unordered(task_fn, tasks, chunksize=4))
        pool.close()
        pool.join()
    return written


def main(argv: list[str] | None = None) -> int:
    """Command-line entry point."""
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("tool", choices=sorted(TOOLS))
    p.add_argument("tree", type=Path)
    p.add_argument("out", type=Path)
    p.add_argument("--copies", type=int, default=2)
    p.add_argument("--workers", type=int, default=2)
    p.add_argument("--quality", type=int, default=95)
    args = p.parse_args(argv)
    written = run(args.tool, args.tree, args.out, args.copies, args.workers, args.quality)
    print(f"{args.tool}: {written} outputs", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
