"""Where augcli's time goes per output image: read, decode, augment, encode, write, manifest.

    python benchmarks/stages.py TREE OUT [--recipe configs/default.yaml] [--copies 2] [--json] [--ops]

One process, one OpenCV thread, the same pieces a worker uses (augcli.io.decode_image,
Recipe.sample + augcli.render.render_sources, augcli.io.encode_image, write_temp + rename, and the
manifest row: sha256 of the bytes, the ops as JSON, the CSV text written at the end). Prints
milliseconds per output image for each stage, summed over the tree; decode and read happen once
per input and are shared by its copies. Run it with PYTHONPATH at the checkout to time that code.

``--ops`` splits ``augment`` by what runs: each fused geometric run (one warp, named by its steps) and
each pixel step, in milliseconds per output averaged over all outputs (a step drawn for half of them
counts half), then prints the *ceiling*: the ratio to the floor this recipe would reach if reading,
decoding, encoding and writing cost what the floor pays and nothing else did (no Python, no manifest),
``(read + decode + encode + write) / (that + augment)``. No scheduling or bookkeeping work can lift a
recipe above its ceiling; only cheaper kernels can.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import sys
import time
from pathlib import Path

import cv2
import numpy as np

STAGES = ("read", "decode", "augment", "encode", "write", "manifest")


def _timed_render(image: np.ndarray, ops: list, by_op: dict[str, float]) -> np.ndarray:
    """Render ``ops`` as render.render does (fused geometric runs, pixel steps), timing each piece."""
    from augcli.render import _render_geometric, _render_pixels, geometric_runs

    for geometric, run in geometric_runs(ops):
        t0 = time.perf_counter()
        if geometric:
            image = _render_geometric(image, run)
            key = "warp: " + "+".join(op["name"] for op in run)
        else:
            image, _ = _render_pixels(image, run[0], [image])
            key = run[0]["name"]
        by_op[key] = by_op.get(key, 0.0) + time.perf_counter() - t0
    return image


def split(tree: Path, out: Path, recipe_path: Path, copies: int, ops_split: bool = False) -> dict[str, float]:
    """Run the recipe over TREE into OUT stage by stage; return total seconds per stage and counts."""
    from augcli import manifest as M
    from augcli.io import decode_image, encode_image, write_temp
    from augcli.plan import output_suffix
    from augcli.recipe import load_recipe
    from augcli.render import render_sources
    from augcli.rng import generator, sample_seed

    tune = getattr(__import__("augcli.run", fromlist=["_tune_malloc"]), "_tune_malloc", None)
    if tune is not None:  # what every pool worker does first (private; skipped if it moves)
        tune()
    cv2.setNumThreads(1)
    recipe = load_recipe(recipe_path)
    t = dict.fromkeys(STAGES, 0.0)
    by_op: dict[str, float] = {}
    rows, stamps = [], []
    clock = time.perf_counter
    inputs = sorted(p for p in tree.glob("*/*") if p.is_file() and not p.name.startswith("."))
    for src in inputs:
        rel = src.relative_to(tree).as_posix()
        t0 = clock()
        data = src.read_bytes()
        t1 = clock()
        image = decode_image(np.frombuffer(data, dtype=np.uint8), rel)
        t2 = clock()
        stamps.append((rel, len(data), hashlib.sha256(data).hexdigest()))
        t["read"] += t1 - t0
        t["decode"] += t2 - t1
        t["manifest"] += clock() - t2
        suffix = output_suffix(rel, recipe.output.format)
        for copy in range(1, copies + 1):
            t0 = clock()
            seed = sample_seed(recipe.seed, rel, copy)
            ops = recipe.sample(generator(seed), image.shape, src.parent.name)
            made = _timed_render(image, ops, by_op) if ops_split else render_sources([image], ops)
            t1 = clock()
            blob = encode_image(made, suffix, recipe.output.quality)
            t2 = clock()
            target = out / src.parent.name / f"{src.stem}__{copy}{suffix}"
            os.replace(write_temp(target, blob), target)
            t3 = clock()
            rows.append(M.Row(target.relative_to(out).as_posix(), src.parent.name, "augmented", rel, copy,
                              seed, M.ops_json(ops), hashlib.sha256(blob).hexdigest()))
            t4 = clock()
            t["augment"] += t1 - t0
            t["encode"] += t2 - t1
            t["write"] += t3 - t2
            t["manifest"] += t4 - t3
    t0 = clock()
    M.write_rows(out / M.MANIFEST, rows)
    (out / "sources.json").write_text(json.dumps(stamps))
    t["manifest"] += clock() - t0
    return {**t, "inputs": len(inputs), "outputs": len(rows), "ops": by_op}


def main(argv: list[str] | None = None) -> int:
    """Command-line entry point."""
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("tree", type=Path)
    p.add_argument("out", type=Path)
    p.add_argument("--recipe", type=Path, default=Path("configs/default.yaml"))
    p.add_argument("--copies", type=int, default=2)
    p.add_argument("--json", action="store_true", help="print one JSON object instead of a table")
    p.add_argument("--ops", action="store_true", help="split augment by step and print the recipe's ceiling")
    args = p.parse_args(argv)
    result = split(args.tree, args.out, args.recipe, args.copies, args.ops)
    if args.json:
        print(json.dumps(result))
        return 0
    n = max(1, int(result["outputs"]))
    total = sum(result[s] for s in STAGES)
    for stage in STAGES:
        print(f"{stage:<9} {result[stage] / n * 1e3:7.3f} ms/output  {result[stage] / total:6.1%}")
    print(f"{'total':<9} {total / n * 1e3:7.3f} ms/output  ({n} outputs, {n / total:.0f} img/s on one core)")
    if args.ops:
        for key, seconds in sorted(result["ops"].items(), key=lambda item: -item[1]):
            print(f"  {key:<40} {seconds / n * 1e3:7.3f} ms/output")
        floor = sum(result[s] for s in ("read", "decode", "encode", "write"))
        print(f"ceiling (floor's work / floor's work + augment): {floor / (floor + result['augment']):.2f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
