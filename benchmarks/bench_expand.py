#!/usr/bin/env python
"""Throughput benchmark: ``augcli expand`` versus a decode/encode/write floor.

Usage::

    python benchmarks/bench_expand.py [--tree DIR] [--copies 2] [--workers 2] [--repeats 3]
                                      [--recipe configs/default.yaml] [--quality 95]
                                      [--extra NAME=CMD ...]

Every row is timed wall-clock as a subprocess (interpreter start-up and imports
included), in one process, alternating floor / augcli / extras round by round.
See benchmarks/README.md for what each row means.
"""

from __future__ import annotations

import argparse
import json
import multiprocessing as mp
import os
import platform
import shlex
import shutil
import statistics
import subprocess
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import cv2
import numpy as np

HERE = Path(__file__).resolve().parent
REPO_ROOT = HERE.parent
DEFAULT_TREE = Path("/tmp/augcli-bench/tree")
IMAGE_EXTS = {".jpg", ".jpeg", ".png", ".bmp", ".tif", ".tiff", ".webp"}


# --------------------------------------------------------------------------- floor (child side)

def _floor_init() -> None:
    """Pool initializer: one OpenCV thread per worker process."""
    cv2.setNumThreads(1)


def _floor_task(task: tuple[str, str, int, int]) -> int:
    """Decode one source once, then K times encode it as JPEG and write it; return outputs."""
    src, dst_prefix, copies, quality = task
    img = cv2.imdecode(np.fromfile(src, dtype=np.uint8), cv2.IMREAD_UNCHANGED)
    if img is None:
        raise RuntimeError(f"cannot decode {src}")
    params = [cv2.IMWRITE_JPEG_QUALITY, quality]
    for k in range(1, copies + 1):
        ok, buf = cv2.imencode(".jpg", img, params)
        if not ok:
            raise RuntimeError(f"cannot encode {src}")
        buf.tofile(f"{dst_prefix}__copy{k}.jpg")
    return copies


def list_inputs(tree: Path) -> list[Path]:
    """List the images of an ImageFolder tree (class sub-directories, sorted, no hidden entries)."""
    return sorted(
        p for d in tree.iterdir() if d.is_dir() and not d.name.startswith(".")
        for p in d.iterdir()
        if p.is_file() and not p.name.startswith(".") and p.suffix.lower() in IMAGE_EXTS
    )


def floor_run(tree: Path, out: Path, copies: int, workers: int, quality: int) -> int:
    """Run the floor once: Pool(workers) over inputs; return the number of outputs written."""
    inputs = list_inputs(tree)
    tasks = []
    for src in inputs:
        (out / src.parent.name).mkdir(parents=True, exist_ok=True)
        tasks.append((str(src), str(out / src.parent.name / src.stem), copies, quality))
    with mp.Pool(workers, initializer=_floor_init) as pool:
        written = sum(pool.imap_unordered(_floor_task, tasks, chunksize=4))
        pool.close()
        pool.join()
    return written


# --------------------------------------------------------------------------- parent side

@dataclass
class Row:
    """One command under test and its per-round results."""

    name: str
    argv: Callable[[Path], list[str] | str]  # out dir -> argv (list) or shell command (str)
    expected: int | None = None
    rates: list[float | None] = field(default_factory=list)
    seconds: list[float | None] = field(default_factory=list)
    outputs: list[int] = field(default_factory=list)
    failed: str | None = None


def find_augcli() -> str | None:
    """Locate the augcli console script (PATH first, then next to this interpreter)."""
    found = shutil.which("augcli")
    if found:
        return found
    local = Path(sys.executable).parent / "augcli"
    return str(local) if local.is_file() and os.access(local, os.X_OK) else None


def resolve_recipe(recipe: str) -> Path:
    """Resolve the recipe path relative to CWD, else relative to the repository root."""
    path = Path(recipe)
    if path.is_absolute() or path.exists():
        return path.resolve()
    alt = REPO_ROOT / path
    return alt.resolve() if alt.exists() else path


def recipe_quality(recipe: Path) -> object | None:
    """Best effort: return the first ``quality``-like key found in the YAML recipe."""
    try:
        import yaml

        data = yaml.safe_load(recipe.read_text())
    except Exception:
        return None
    stack = [data]
    while stack:
        node = stack.pop()
        if isinstance(node, dict):
            for key, value in node.items():
                if "quality" in str(key).lower() and not isinstance(value, (dict, list)):
                    return value
                stack.append(value)
        elif isinstance(node, list):
            stack.extend(node)
    return None


def count_images(out: Path) -> int:
    """Count image files written anywhere under OUT."""
    if not out.exists():
        return 0
    return sum(1 for p in out.rglob("*") if p.suffix.lower() in IMAGE_EXTS and p.is_file())


def clean(path: Path) -> None:
    """Remove an output directory and flush dirty pages so the next run starts clean."""
    shutil.rmtree(path, ignore_errors=True)
    os.sync()


def workload(inputs: list[Path]) -> dict[str, float]:
    """Read and decode every input once (warms the page cache); return size statistics."""
    n_bytes, pixels, widths, heights = 0, 0, [], []
    for path in inputs:
        data = np.fromfile(path, dtype=np.uint8)
        img = cv2.imdecode(data, cv2.IMREAD_UNCHANGED)
        n_bytes += data.size
        heights.append(img.shape[0])
        widths.append(img.shape[1])
        pixels += img.shape[0] * img.shape[1]
    n = max(1, len(inputs))
    return {"inputs": len(inputs), "mean_kb": n_bytes / n / 1024, "mean_w": statistics.fmean(widths),
            "mean_h": statistics.fmean(heights), "mean_mpx": pixels / n / 1e6, "total_mb": n_bytes / 1e6}


def cpu_model() -> str:
    """CPU model name from /proc/cpuinfo (Linux), else platform.processor()."""
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "unknown"


def augcli_version(exe: str | None) -> str:
    """Installed augcli distribution version, or a short note."""
    if exe is None:
        return "not found"
    try:
        from importlib.metadata import version

        return version("augcli")
    except Exception:
        return "unknown version"


def machine_info(augcli: str | None) -> dict[str, str]:
    """Collect the machine / software facts printed with the results."""
    affinity = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count()
    return {
        "cpu": cpu_model(),
        "cores": f"{os.cpu_count()} logical, {affinity} usable",
        "python": f"{platform.python_version()} ({sys.executable})",
        "cv2": f"{cv2.__version__} (default threads {cv2.getNumThreads()})",
        "numpy": np.__version__,
        "platform": platform.platform(),
        "mp start method": mp.get_start_method(),
        "augcli": f"{augcli_version(augcli)} ({augcli})" if augcli else "not found",
    }


def run_row(row: Row, out: Path, timeout: float) -> None:
    """Run one row once into a fresh OUT, time it and record rate / outputs (or the failure)."""
    clean(out)
    cmd = row.argv(out)
    t0 = time.perf_counter()
    proc = subprocess.run(cmd, shell=isinstance(cmd, str), stdout=subprocess.PIPE,
                          stderr=subprocess.PIPE, text=True, timeout=timeout, check=False)
    elapsed = time.perf_counter() - t0
    produced = count_images(out)
    clean(out)
    if proc.returncode != 0 or produced == 0:
        tail = (proc.stderr or proc.stdout or "").strip().splitlines()[-15:]
        row.failed = f"exit code {proc.returncode}, {produced} images written"
        row.failed += "".join(f"\n    {line}" for line in tail)
        row.rates.append(None)
        row.seconds.append(None)
        return
    row.rates.append(produced / elapsed)
    row.seconds.append(elapsed)
    row.outputs.append(produced)


def shell_template(template: str, tree: Path) -> Callable[[Path], str]:
    """Turn an --extra command template into an out -> shell command function."""
    def build(out: Path) -> str:
        """Substitute {tree} and {out} (shell-quoted)."""
        return template.replace("{tree}", shlex.quote(str(tree))).replace("{out}", shlex.quote(str(out)))
    return build


def build_rows(args: argparse.Namespace, tree: Path, n_inputs: int, augcli: str | None) -> list[Row]:
    """Build the list of rows: floor, augcli (if found), extras."""
    expected = n_inputs * args.copies
    common = ["--copies", str(args.copies), "--workers", str(args.workers)]
    rows = [Row(f"floor (q{args.quality})",
                lambda out: [sys.executable, str(Path(__file__).resolve()), "--floor", str(tree), str(out),
                             *common, "--quality", str(args.quality)], expected)]
    if augcli:
        rows.append(Row("augcli expand",
                        lambda out: [augcli, "expand", "--recipe", str(args.recipe), *common,
                                     "--no-originals", "--quiet", str(tree), str(out)], expected))
    for spec in args.extra:
        name, sep, template = spec.partition("=")
        if not sep or not name.strip() or not template.strip():
            raise SystemExit(f"--extra expects NAME=CMD, got {spec!r}")
        rows.append(Row(name.strip(), shell_template(template, tree)))
    return rows


def out_dir(root: Path, row: Row) -> Path:
    """Per-row scratch output directory."""
    slug = "".join(c if c.isalnum() else "_" for c in row.name).strip("_")
    return root / f"out-{slug}"


def fmt_range(values: list[float], spec: str) -> str:
    """Format 'min-max' of a list."""
    return f"{min(values):{spec}}-{max(values):{spec}}" if values else "-"


def pair_ratios(row: Row, floor: Row) -> list[float]:
    """Per-round ratio row_rate / floor_rate for rounds where both succeeded."""
    return [r / f for r, f in zip(row.rates, floor.rates) if r is not None and f is not None]


def print_table(rows: list[Row]) -> None:
    """Print the results table."""
    floor = rows[0]
    head = f"{'row':<24} {'median img/s':>12} {'min-max':>15} {'median s':>9} {'outputs':>8} " \
           f"{'x floor':>8} {'x floor min-max':>16}"
    print(head)
    print("-" * len(head))
    for row in rows:
        rates = [r for r in row.rates if r is not None]
        if not rates:
            print(f"{row.name:<24} {'FAILED':>12}")
            continue
        secs = [s for s in row.seconds if s is not None]
        outs = sorted(set(row.outputs))
        outputs = "/".join(map(str, outs))
        if row.expected is not None and outs != [row.expected]:
            outputs += f" (!={row.expected})"
        ratios = pair_ratios(row, floor) if row is not floor else []
        ratio_med = f"{statistics.median(ratios):.3f}" if ratios else "-"
        print(f"{row.name:<24} {statistics.median(rates):>12.1f} {fmt_range(rates, '.1f'):>15} "
              f"{statistics.median(secs):>9.2f} {outputs:>8} {ratio_med:>8} {fmt_range(ratios, '.3f'):>16}")


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    """Parse command-line arguments."""
    p = argparse.ArgumentParser(description="Benchmark augcli expand against a decode/encode/write floor.")
    p.add_argument("--tree", type=Path, default=DEFAULT_TREE, help=f"input tree (default {DEFAULT_TREE})")
    p.add_argument("--copies", type=int, default=2, help="outputs per input (K)")
    p.add_argument("--workers", type=int, default=2, help="worker processes for every row")
    p.add_argument("--repeats", type=int, default=3, help="alternating rounds")
    p.add_argument("--recipe", default="configs/default.yaml", help="augcli recipe")
    p.add_argument("--quality", type=int, default=95, help="JPEG quality of the floor's outputs")
    p.add_argument("--extra", action="append", default=[], metavar="NAME=CMD",
                   help="extra shell command to compare; {tree} and {out} are substituted (repeatable)")
    p.add_argument("--out-root", type=Path, default=None,
                   help="where scratch output dirs go (default: next to the tree)")
    p.add_argument("--scale", type=float, default=1.0, help="make_tree --scale if the tree is built")
    p.add_argument("--seed", type=int, default=1234, help="make_tree --seed if the tree is built")
    p.add_argument("--timeout", type=float, default=3600.0, help="per-run timeout in seconds")
    p.add_argument("--json", type=Path, default=None, help="also write raw results to this JSON file")
    p.add_argument("--floor", nargs=2, type=Path, metavar=("TREE", "OUT"),
                   help="internal: run the floor once on TREE into OUT and exit")
    args = p.parse_args(argv)
    if min(args.copies, args.workers, args.repeats) < 1:
        p.error("--copies, --workers and --repeats must be >= 1")
    return args


def ensure_tree(args: argparse.Namespace) -> Path:
    """Build the default benchmark tree if needed; use a user tree as is."""
    tree: Path = args.tree
    ours = not tree.exists() or not any(tree.iterdir()) or (tree / ".bench_tree.json").exists()
    if not ours:
        return tree  # a user-supplied ImageFolder tree: use as is
    sys.path.insert(0, str(HERE))
    import make_tree

    return make_tree.build_tree(tree, args.scale, args.seed)


def print_header(info: dict[str, str], load: dict[str, float], args: argparse.Namespace,
                 tree: Path, rows: list[Row]) -> None:
    """Print machine info, workload and the commands under test."""
    print("== machine")
    for key, value in info.items():
        print(f"  {key:<16} {value}")
    print("== workload")
    print(f"  tree             {tree}")
    print(f"  inputs           {load['inputs']}  ({load['total_mb']:.1f} MB, mean {load['mean_kb']:.1f} KB, "
          f"mean {load['mean_w']:.0f}x{load['mean_h']:.0f} = {load['mean_mpx']:.3f} Mpx)")
    print(f"  outputs          {load['inputs'] * args.copies}  (copies {args.copies}, originals not copied)")
    print(f"  workers          {args.workers}    repeats {args.repeats}    floor JPEG quality {args.quality}")
    print(f"  recipe           {args.recipe}")
    print("== commands (run in this order every round)")
    for row in rows:
        cmd = row.argv(Path("<out>"))
        print(f"  {row.name:<16} {cmd if isinstance(cmd, str) else shlex.join(cmd)}")


def check_recipe(args: argparse.Namespace, augcli: str | None) -> None:
    """Warn about a missing augcli / recipe or a recipe JPEG quality that differs from --quality."""
    if augcli is None:
        print("NOTE: the `augcli` console script was not found on PATH or next to "
              f"{sys.executable}; only the floor (and --extra rows) will be measured.")
        return
    if not args.recipe.exists():
        print(f"NOTE: recipe {args.recipe} does not exist (yet); augcli will probably fail.")
        return
    q = recipe_quality(args.recipe)
    if q is not None and str(q) != str(args.quality):
        print(f"NOTE: the recipe sets a quality of {q} but the floor uses --quality {args.quality}.")


def write_json(path: Path, info: dict[str, str], load: dict[str, float], args: argparse.Namespace,
               rows: list[Row]) -> None:
    """Write the raw per-round results as JSON."""
    data = {"machine": info, "workload": load,
            "params": {k: str(v) for k, v in vars(args).items() if k not in ("floor", "json")},
            "rows": [{"name": r.name, "rates": r.rates, "seconds": r.seconds, "outputs": r.outputs,
                      "ratios_to_floor": pair_ratios(r, rows[0]), "failed": r.failed} for r in rows]}
    path.write_text(json.dumps(data, indent=2) + "\n")


def run_rounds(rows: list[Row], out_root: Path, args: argparse.Namespace) -> None:
    """Alternate all rows, round by round; a failing row is reported and dropped."""
    for rnd in range(1, args.repeats + 1):
        parts = []
        for row in rows:
            if row.failed:
                row.rates.append(None)
                row.seconds.append(None)
                parts.append(f"{row.name}: skipped")
                continue
            run_row(row, out_dir(out_root, row), args.timeout)
            if row.failed:
                print(f"  !! {row.name} failed: {row.failed}")
                parts.append(f"{row.name}: FAILED")
            else:
                parts.append(f"{row.name}: {row.rates[-1]:.1f} img/s")
        print(f"  round {rnd}/{args.repeats}: " + " | ".join(parts), flush=True)


def main(argv: list[str] | None = None) -> int:
    """Command-line entry point."""
    args = parse_args(argv)
    if args.floor:
        written = floor_run(args.floor[0], args.floor[1], args.copies, args.workers, args.quality)
        print(json.dumps({"outputs": written}))
        return 0
    args.recipe = resolve_recipe(args.recipe)
    tree = ensure_tree(args)
    out_root = args.out_root or tree.parent
    augcli = find_augcli()
    check_recipe(args, augcli)
    inputs = list_inputs(tree)
    if not inputs:
        raise SystemExit(f"no images found in class sub-directories of {tree}")
    load = workload(inputs)
    info = machine_info(augcli)
    rows = build_rows(args, tree, len(inputs), augcli)
    print_header(info, load, args, tree, rows)
    print("== runs")
    run_rounds(rows, out_root, args)
    print("== results (wall clock incl. interpreter start-up; ratio = row / floor, paired per round)")
    print_table(rows)
    if args.json:
        write_json(args.json, info, load, args, rows)
    return 0 if not rows[0].failed else 1


if __name__ == "__main__":
    sys.exit(main())
