"""Fused geometric warps vs applying each geometric step on its own.

Renders the same sampled geometric chains (hflip, rotate, scale, shear, translate, perspective)
both ways over the benchmark tree's images, alternating A B A B, and prints ms per image and the
speed-up, plus the sharpness (variance of the Laplacian) of each result.

    python benchmarks/bench_fusion.py [--tree DIR] [--images 200] [--repeats 3]
"""

from __future__ import annotations

import argparse
import statistics
import time
from pathlib import Path

import cv2
import numpy as np

from augcli.io import read_image
from augcli.recipe import parse_recipe
from augcli.render import render, render_stepwise
from augcli.rng import generator

CHAIN = """
pipeline:
  - hflip: {p: 0.5}
  - rotate: {degrees: [-15, 15]}
  - scale: {factor: [0.9, 1.1]}
  - shear: {x: [-8, 8]}
  - translate: {x: [-0.05, 0.05], y: [-0.05, 0.05]}
  - perspective: {distortion: [0.02, 0.06]}
"""


def _sharpness(image: np.ndarray) -> float:
    """Variance of the Laplacian of the grey image."""
    grey = cv2.cvtColor(image, cv2.COLOR_BGR2GRAY) if image.shape[2] >= 3 else image[:, :, 0]
    return float(cv2.Laplacian(grey, cv2.CV_64F).var())


def main() -> None:
    """Time both ways and print a small table."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--tree", type=Path, default=Path("/tmp/augcli-bench/tree"))
    parser.add_argument("--images", type=int, default=200)
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args()
    cv2.setNumThreads(1)
    files = sorted(args.tree.rglob("*.jpg"))[: args.images]
    if not files:
        raise SystemExit(f"no JPEGs under {args.tree}: run benchmarks/make_tree.py {args.tree} first")
    images = [read_image(f) for f in files]
    recipe = parse_recipe(CHAIN)
    ops = [recipe.sample(generator(i), im.shape) for i, im in enumerate(images)]
    times: dict[str, list[float]] = {"fused": [], "step by step": []}
    for _ in range(args.repeats):
        for name, fn in (("fused", render), ("step by step", render_stepwise)):
            start = time.perf_counter()
            for im, op in zip(images, ops):
                fn(im, op)
            times[name].append((time.perf_counter() - start) / len(images) * 1000)
    sharp = {name: statistics.mean(_sharpness(fn(im, op)) for im, op in zip(images[:50], ops[:50]))
             for name, fn in (("fused", render), ("step by step", render_stepwise))}
    print(f"{len(images)} images, chain of {len(CHAIN.split('- ')) - 1} geometric steps, 1 thread, "
          f"OpenCV {cv2.__version__}")
    print(f"{'way':<14} {'ms/image (median)':>18} {'min-max':>14} {'sharpness':>10}")
    for name, values in times.items():
        print(f"{name:<14} {statistics.median(values):>18.2f} {min(values):>6.2f}-{max(values):<7.2f}"
              f" {sharp[name]:>10.1f}")
    speedup = statistics.median(times["step by step"]) / statistics.median(times["fused"])
    print(f"fused is {speedup:.2f}x faster")


if __name__ == "__main__":
    main()
