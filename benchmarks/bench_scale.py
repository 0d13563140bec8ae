"""augcli at scale: memory, time to a first output, throughput against the floor, and the rerun with
nothing to do, on trees of 10^4 and 10^5 tiny PNGs (and 10^6 with --million, a few GB of disk).

    python benchmarks/bench_scale.py [--sizes 10000 100000] [--million] [--root /tmp/augcli-scale]
                                     [--workers 2] [--rounds 1] [--json results.json] [--markdown table.md]
                                     [--doc docs/performance.md] [--keep]

Each tree holds N distinct 16x16 PNGs in 20 classes (``class_CC/img_NNNNNNN.png``), made once and reused
(a stamp file records how). For each N, in its own processes:
- **floor**: ``peers.py floor`` (decode once, encode and write once, OpenCV, the same pool size);
- **run**: ``augcli expand --copies 1 --no-originals`` with a one-step recipe (hflip, so every output is
  new): wall time, time to the first output written (the first progress call after a result), the
  parent's peak resident memory and the largest worker's (``getrusage``: RUSAGE_SELF and
  RUSAGE_CHILDREN's ru_maxrss);
- **no-op rerun**: the same command again (the seal holds: augcli.seal), twice, the faster kept (the first
  comes right after the run, with the caches as it left them); wall time and parent peak;
- **full check**: the same with ``AUGCLI_FULL_CHECK=1`` (the earlier manifest read and joined).
Times include interpreter start-up and imports (``start-up`` row: ``python -c "from augcli import api"``).
The slopes between the two largest sizes give the extrapolation to 10^7 printed at the end.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import shutil
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import cv2
import numpy as np

HERE = Path(__file__).resolve().parent
REPO = HERE.parent
STAMP = ".bench_scale.json"
CLASSES = 20
SIDE = 16
RECIPE = "seed: 0\ncopies: 1\noutput: {format: same}\npipeline:\n  - hflip: {p: 1}\n"
BYTES_PER_FILE = 4096 + 512  # a tiny file takes a block, plus its directory entry
MARK = "<!-- bench_scale.py writes from here to the end; compare.py keeps it -->"
TARGETS = {"parent_mb_at_1e6": 300, "growth_bytes_per_input": 50, "noop_us_per_file": 5, "throughput_drop": 0.10}

# Runs one expand and reports what the benchmark measures (the augcli under test comes from PYTHONPATH).
DRIVER = r"""
import json, resource, sys, time
began = time.perf_counter()
from augcli import api
first = []
done = [0]
def progress(n, total):
    done[0] += n
    if n and not first:
        first.append(time.perf_counter() - began)
r = api.expand(sys.argv[1], sys.argv[2], recipe=sys.argv[3], workers=int(sys.argv[4]), originals=False,
               progress=progress)
wall = time.perf_counter() - began
me, kids = resource.getrusage(resource.RUSAGE_SELF), resource.getrusage(resource.RUSAGE_CHILDREN)
print(json.dumps({"wall": wall, "first": first[0] if first else None, "made": r.made, "kept": r.kept,
                  "parent_kib": me.ru_maxrss, "worker_kib": kids.ru_maxrss,
                  "parent_cpu": me.ru_utime + me.ru_stime, "workers_cpu": kids.ru_utime + kids.ru_stime}))
"""


def make_tree(root: Path, n: int, seed: int = 0) -> Path:
    """N distinct 16x16 PNGs in CLASSES classes under root (reused when its stamp matches)."""
    params = {"n": n, "classes": CLASSES, "side": SIDE, "seed": seed, "version": 1}
    try:
        if json.loads((root / STAMP).read_text()) == params:
            return root
    except (OSError, ValueError):
        pass
    if root.exists():
        if not (root / STAMP).exists() and any(root.iterdir()):
            raise SystemExit(f"{root} exists, is not empty and has no {STAMP}; refusing to touch it")
        shutil.rmtree(root)
    rng = np.random.default_rng(seed)
    for c in range(CLASSES):
        (root / f"class_{c:02d}").mkdir(parents=True)
    block = 4096
    for start in range(0, n, block):
        pixels = rng.integers(0, 256, size=(min(block, n - start), SIDE, SIDE, 3), dtype=np.uint8)
        for k, image in enumerate(pixels):
            i = start + k
            ok, data = cv2.imencode(".png", image)
            assert ok
            data.tofile(root / f"class_{i % CLASSES:02d}" / f"img_{i:07d}.png")
    (root / STAMP).write_text(json.dumps(params))
    return root


def _env() -> dict[str, str]:
    return {**os.environ, "PYTHONPATH": str(REPO) + os.pathsep + os.environ.get("PYTHONPATH", "")}


def _cpu() -> float:
    """CPU seconds (user and system) of every child process this one has waited for so far."""
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def augcli(tree: Path, out: Path, recipe: Path, workers: int, full_check: bool = False) -> dict[str, Any]:
    """One ``expand`` in a fresh process; its measurements (``cpu``: the process and its workers)."""
    env = _env()
    if full_check:
        env["AUGCLI_FULL_CHECK"] = "1"
    before = _cpu()
    done = subprocess.run([sys.executable, "-c", DRIVER, str(tree), str(out), str(recipe), str(workers)],
                          capture_output=True, text=True, env=env, check=True)
    return {**json.loads(done.stdout.strip().splitlines()[-1]), "cpu": _cpu() - before}


def floor(tree: Path, out: Path, workers: int) -> tuple[float, float]:
    """Wall and CPU seconds of the decode/encode/write floor over the tree."""
    began, before = time.perf_counter(), _cpu()
    subprocess.run([sys.executable, str(HERE / "peers.py"), "floor", str(tree), str(out), "--copies", "1",
                    "--workers", str(workers)], check=True, capture_output=True)
    return time.perf_counter() - began, _cpu() - before


def startup() -> float:
    """Wall seconds of starting Python and importing augcli's API (the fixed part of every run)."""
    began = time.perf_counter()
    subprocess.run([sys.executable, "-c", "from augcli import api"], check=True, env=_env())
    return time.perf_counter() - began


def measure(root: Path, n: int, workers: int, keep: bool, rounds: int) -> dict[str, Any]:
    """Every measurement at one size; with several rounds, the fastest of each (the machine is shared)
    and the largest memory."""
    tree = make_tree(root / f"tree-{n}", n)
    recipe = root / "hflip.yaml"
    recipe.write_text(RECIPE)
    out, floor_out = root / f"out-{n}", root / f"floor-{n}"
    commit = subprocess.run(["git", "rev-parse", "--short", "HEAD"], capture_output=True, text=True,
                            cwd=REPO).stdout.strip()
    result: dict[str, Any] = {"n": n, "rounds": rounds, "load": os.getloadavg()[0], "commit": commit}
    for _ in range(rounds):
        for folder in (out, floor_out):
            shutil.rmtree(folder, ignore_errors=True)
        floor_s, floor_cpu = floor(tree, floor_out, workers)
        one: dict[str, Any] = {"start": startup(), "floor_s": floor_s, "floor_cpu": floor_cpu}
        shutil.rmtree(floor_out, ignore_errors=True)
        one["run"] = augcli(tree, out, recipe, workers)
        one["noop"] = augcli(tree, out, recipe, workers)  # right after the run: caches as the run left them
        one["noop_again"] = augcli(tree, out, recipe, workers)
        one["full"] = augcli(tree, out, recipe, workers, full_check=True)
        _best(result, one)
    if not keep:
        shutil.rmtree(out, ignore_errors=True)
    result["ratio"] = result["floor_s"] / result["run"]["wall"]  # throughput over the floor's, wall clock
    result["cpu_ratio"] = result["floor_cpu"] / result["run"]["cpu"]  # the same in CPU seconds
    return result


def _best(into: dict[str, Any], one: dict[str, Any]) -> None:
    """Keep the shortest times and the largest memory over rounds."""
    for key, value in one.items():
        if key not in into:
            into[key] = value
        elif isinstance(value, dict):
            for name, number in value.items():
                if number is None:
                    continue
                old = into[key][name]
                into[key][name] = max(old, number) if name.endswith("_kib") else min(old, number)
        elif isinstance(value, float):
            into[key] = min(into[key], value)


def table(results: list[dict[str, Any]]) -> str:
    """The results as a Markdown table."""
    lines = ["| inputs | parent peak MB | largest worker MB | first output s | run s (CPU s) | floor s (CPU s) | "
             "x floor: wall, CPU | CPU µs per output: parent, workers, floor | no-op rerun s | no-op µs/file | "
             "no-op peak MB | full check s | full check peak MB |",
             "|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|"]
    for r in results:
        run, full, n = r["run"], r["full"], r["n"]
        noop = min(r["noop"], r.get("noop_again", r["noop"]), key=lambda x: x["wall"])
        per = (f"{run['parent_cpu'] / n * 1e6:.0f}, {run['workers_cpu'] / n * 1e6:.0f}, "
               f"{r['floor_cpu'] / n * 1e6:.0f}")
        lines.append(f"| {n:,} | {run['parent_kib'] / 1024:.0f} | {run['worker_kib'] / 1024:.0f} | "
                     f"{run['first']:.2f} | {run['wall']:.1f} ({run['cpu']:.1f}) | {r['floor_s']:.1f} "
                     f"({r['floor_cpu']:.1f}) | {r['ratio']:.2f}, {r['cpu_ratio']:.2f} | {per} | {noop['wall']:.2f} | "
                     f"{noop['wall'] / n * 1e6:.1f} | {noop['parent_kib'] / 1024:.0f} | {full['wall']:.1f} | "
                     f"{full['parent_kib'] / 1024:.0f} |")
    return "\n".join(lines)


def slopes(results: list[dict[str, Any]]) -> str:
    """Growth between the two largest sizes, the targets, and the extrapolation to 10^7 inputs."""
    if len(results) < 2:
        return "(one size: no slope)"
    a, b = results[-2], results[-1]
    dn = b["n"] - a["n"]
    growth = (b["run"]["parent_kib"] - a["run"]["parent_kib"]) * 1024 / dn
    noop_a, noop_b = (min(r["noop"]["wall"], r.get("noop_again", r["noop"])["wall"]) for r in (a, b))
    noop_slope = (noop_b - noop_a) / dn * 1e6
    full_slope = (b["full"]["wall"] - a["full"]["wall"]) / dn * 1e6
    peak_1e7 = b["run"]["parent_kib"] / 1024 + growth * (1e7 - b["n"]) / 2**20
    peak_1e6 = b["run"]["parent_kib"] / 1024 + growth * max(0, 1e6 - b["n"]) / 2**20
    drop = 1 - b["cpu_ratio"] / results[0]["cpu_ratio"]
    wall_drop = 1 - b["ratio"] / results[0]["ratio"]
    first_slope = (b["run"]["first"] - a["run"]["first"]) / dn * 1e6
    lines = [
        f"parent peak growth {a['n']:,} -> {b['n']:,}: {growth:.1f} bytes per input "
        f"(target < {TARGETS['growth_bytes_per_input']}); at 10^6: {peak_1e6:.0f} MB "
        f"{'measured' if b['n'] >= 1e6 else 'extrapolated'} (target < {TARGETS['parent_mb_at_1e6']})",
        f"time to the first output: {first_slope:.2f} µs per added input (the scan, mostly)",
        f"no-op rerun: {noop_b / b['n'] * 1e6:.2f} µs per file at {b['n']:,} with start-up, "
        f"{noop_slope:.2f} µs per added file (target < {TARGETS['noop_us_per_file']})",
        f"full check: {full_slope:.1f} µs per added file",
        f"parent CPU per output: {results[0]['run']['parent_cpu'] / results[0]['n'] * 1e6:.0f} µs at "
        f"{results[0]['n']:,}, {b['run']['parent_cpu'] / b['n'] * 1e6:.0f} µs at {b['n']:,} (what grows with the "
        "tree, if anything, is the parent's; workers make each output on its own)",
        f"throughput against the floor, CPU seconds: {results[0]['cpu_ratio']:.2f} at {results[0]['n']:,}, "
        f"{b['cpu_ratio']:.2f} at {b['n']:,} ({drop:+.0%} drop; target within {TARGETS['throughput_drop']:.0%}); "
        f"wall clock: {results[0]['ratio']:.2f} and {b['ratio']:.2f} ({wall_drop:+.0%}, with other work on the "
        "machine)",
        f"extrapolated to 10^7 inputs: parent peak {peak_1e7:.0f} MB, no-op rerun "
        f"{noop_b + noop_slope * (1e7 - b['n']) / 1e6:.0f} s, full check "
        f"{b['full']['wall'] + full_slope * (1e7 - b['n']) / 1e6:.0f} s",
    ]
    return "\n".join(lines)


def main() -> None:
    """Measure each size, print the table and the slopes."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=[10_000, 100_000])
    parser.add_argument("--million", action="store_true", help="add 10^6 inputs (a few GB of disk)")
    parser.add_argument("--root", type=Path, default=Path("/tmp/augcli-scale"))
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--json", type=Path)
    parser.add_argument("--markdown", type=Path)
    parser.add_argument("--doc", type=Path, help="write the table into this page (docs/performance.md)")
    parser.add_argument("--keep", action="store_true", help="keep the output folders")
    parser.add_argument("--rounds", type=int, default=1, help="measure each size this many times (fastest kept)")
    parser.add_argument("--from-json", type=Path, help="print (and --doc) the results of an earlier --json run")
    args = parser.parse_args()
    began = time.time()
    if args.from_json:
        results = json.loads(args.from_json.read_text())
        text = table(results) + "\n\n" + slopes(results)
        print(text)
        if args.doc:
            write_doc(args.doc, results, text, results[-1].get("seconds", 0.0))
        return
    sizes = sorted(set(args.sizes + ([1_000_000] if args.million else [])))
    args.root.mkdir(parents=True, exist_ok=True)
    need = max(sizes) * BYTES_PER_FILE * 3  # the tree, the run's outputs, the floor's outputs
    free = shutil.disk_usage(args.root).free
    if need > free:
        raise SystemExit(f"{args.root}: {max(sizes):,} inputs need about {need / 2**30:.1f} GiB, "
                         f"{free / 2**30:.1f} GiB free")
    results = []
    for n in sizes:
        results.append(measure(args.root, n, args.workers, args.keep, args.rounds))
        results[-1]["seconds"] = time.time() - began
        print(json.dumps(results[-1]), file=sys.stderr, flush=True)
    text = table(results) + "\n\n" + slopes(results)
    print(text)
    if args.json:
        args.json.write_text(json.dumps(results, indent=2))
    if args.markdown:
        args.markdown.write_text(text + "\n")
    if args.doc:
        write_doc(args.doc, results, text, time.time() - began)


def write_doc(doc: Path, results: list[dict[str, Any]], text: str, seconds: float) -> None:
    """Replace the scale section at the end of ``doc`` (from MARK on), keeping what comes before."""
    import datetime as dt
    import platform

    head = doc.read_text(encoding="utf-8").split(MARK, 1)[0].rstrip() if doc.exists() else ""
    loads = ", ".join(f"{r['load']:.1f}" for r in results)
    floors = [r["floor_cpu"] / r["n"] for r in results]
    spread = max(floors) / min(floors)
    commit = results[0].get("commit") or subprocess.run(["git", "rev-parse", "--short", "HEAD"],
                                                        capture_output=True, text=True, cwd=REPO).stdout.strip()
    section = [
        MARK, "", "## At scale: tiny PNGs, 10^4 inputs and up", "",
        f"Generated by `python benchmarks/bench_scale.py` on {dt.date.today().isoformat()} in "
        f"{seconds / 60:.0f} minutes ({results[0]['rounds']} round(s) per size, fastest kept); augcli at commit "
        f"{commit}, Python {platform.python_version()}, {os.cpu_count()} cores shared with other work (1-min load "
        f"{loads} when each size began: compare within a column, not absolute seconds).", "",
        "Job: `augcli expand --copies 1 --no-originals --workers 2` with `hflip: {p: 1}` over N distinct 16x16 "
        "PNGs in 20 classes; the floor decodes and encodes each once with the same pool. Times include "
        "interpreter start-up and imports. *no-op rerun*: the same command again (the seal holds)"
        f"{', the faster of two' if 'noop_again' in results[0] else ', right after the run'}; *full check*: "
        "again with `AUGCLI_FULL_CHECK=1` (the earlier manifest and stamps read, sorted on disk and joined). "
        "*CPU µs per output*: user and system time of the parent, of its workers, and of the floor's processes, "
        "over the outputs.", "",
        text, "",
        "Reading the numbers:", "",
        f"- The throughput ratios follow other users' load on this machine (the floor's own CPU per image moved "
        f"by {spread:.1f}x between sizes): a 10 % target is within that noise. What could grow with the tree is "
        "the parent's share (workers make each output on its own), and its CPU per output is the column to "
        "watch.",
        "- A sealed no-op rerun costs the scan's listing (about 1.5 µs per file) and one `stat` per input "
        "(about 3 µs on this machine's virtual disk), plus start-up. From 20,000 inputs a forked child lists "
        "and stats about half of the classes on the other core (augcli/forked.py), which halves both when a "
        "core is free; with cold caches (right after a large run, or after other work evicted the inodes) it "
        "takes longer.",
        "- Parent peak memory: the imports (about 60 MB), the packed names (about 20 bytes per input), the "
        "sorters' batches (`spool.LIMIT` items or `spool.BYTES` of packed rows each) and, transiently, one "
        "class's names and stats; the growth per input therefore depends on the class sizes (20 classes here).",
        "",
    ]
    doc.write_text((head + "\n\n" if head else "") + "\n".join(section), encoding="utf-8")


if __name__ == "__main__":
    main()
