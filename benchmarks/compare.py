#!/usr/bin/env python
"""Compare augcli with the decode/encode floor and with its peers, on the same trees and job.

    python benchmarks/compare.py [--repeats 3] [--workers 2] [--copies 2] [--photos-scale 1]
                                 [--tiny 2000] [--big 6] [--memory-scale 10] [--doc docs/performance.md]

Builds three deterministic trees (trees.py), then runs every row as a subprocess, round by round
(all rows once per round, in a fixed order), each writing ``inputs x copies`` files with the same
worker count: the floor, augcli with several recipes, a hand-written albumentations script,
Augmentor and torchvision.transforms.v2 (the peers are in the optional ``bench`` extra and are left
out when they do not import). Wall time includes interpreter start. Ratios are paired: taken
round by round against the row they compare with, then the median. Peak memory comes from
getrusage (probe.py). Also times augcli stage by stage (stages.py) and checks that augcli's peak
memory stays flat when the input grows ``--memory-scale`` times. Prints the tables and writes them,
with the date and the machine, to ``--doc``. See benchmarks/README.md.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import platform
import shutil
import statistics
import subprocess
import sys
import time
from dataclasses import dataclass, field
from importlib import metadata
from pathlib import Path

from bench_expand import cpu_model  # this folder is on sys.path when a script here runs

HERE = Path(__file__).resolve().parent
REPO_ROOT = HERE.parent
IMAGE_EXTS = {".jpg", ".jpeg", ".png"}
# This process imports neither OpenCV nor numpy and builds no tree itself: Linux carries a parent's
# peak RSS into a child's ru_maxrss across fork + exec, so the parent must stay small.

PY = sys.executable
PEERS = ("albumentations", "augmentor", "torchvision")
PEER_LABELS = {"albumentations": "albumentations", "augmentor": "Augmentor", "torchvision": "torchvision"}
PEER_MODULES = {"albumentations": "albumentations", "augmentor": "Augmentor", "torchvision": "torchvision"}


@dataclass
class Row:
    """One command under test and what each round measured."""

    key: str
    label: str
    tree: str  # photos | tiny | big
    tool: str  # floor | augcli | a peer name
    recipe: str = ""
    workers: int = 2
    rates: list[float | None] = field(default_factory=list)
    seconds: list[float | None] = field(default_factory=list)
    self_kib: list[int] = field(default_factory=list)
    children_kib: list[int] = field(default_factory=list)
    outputs: list[int] = field(default_factory=list)
    failed: str | None = None


# --------------------------------------------------------------------------- running rows

def clean(path: Path) -> None:
    """Remove an output directory and flush dirty pages, outside the timed part."""
    shutil.rmtree(path, ignore_errors=True)
    os.sync()


def count_images(out: Path) -> int:
    """Image files written under OUT."""
    return sum(1 for _, _, files in os.walk(out) for f in files
               if os.path.splitext(f)[1].lower() in IMAGE_EXTS) if out.exists() else 0


def build_trees(args: argparse.Namespace, photos_scale: float, only: str = "") -> dict[str, dict[str, str]]:
    """Build (or reuse) the trees in a child process (trees.py); return their paths and facts."""
    cmd = [PY, str(HERE / "trees.py"), str(args.root), "--photos-scale", str(photos_scale), "--tiny",
           str(args.tiny), "--big", str(args.big), "--seed", str(args.seed), "--json"]
    if only:
        cmd += ["--only", only]
    proc = subprocess.run(cmd, capture_output=True, text=True, check=True)
    return json.loads(proc.stdout.strip().splitlines()[-1])

def command(row: Row, tree: Path, out: Path, result: Path, args: argparse.Namespace) -> list[str]:
    """The argv of one run of a row, wrapped in probe.py."""
    probe = [PY, str(HERE / "probe.py"), str(result)]
    if row.tool == "augcli":
        return [*probe, "-m", "augcli", "expand", "--recipe", str(REPO_ROOT / "configs" / row.recipe),
                "--copies", str(args.copies), "--workers", str(row.workers), "--no-originals", "--quiet",
                str(tree), str(out)]
    return [*probe, str(HERE / "peers.py"), row.tool, str(tree), str(out), "--copies", str(args.copies),
            "--workers", str(row.workers), "--quality", str(args.quality)]


def child_env() -> dict[str, str]:
    """Environment of every run: this checkout's augcli first on the path, no peer update checks."""
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join(p for p in (str(REPO_ROOT), env.get("PYTHONPATH", "")) if p)
    env["NO_ALBUMENTATIONS_UPDATE"] = "1"
    return env


def run_once(row: Row, tree: Path, out: Path, args: argparse.Namespace) -> None:
    """Run a row once into a fresh OUT; record rate, seconds, outputs and peak RSS (or the failure)."""
    clean(out)
    result = out.parent / f"{out.name}.rusage.json"
    result.unlink(missing_ok=True)
    t0 = time.perf_counter()
    proc = subprocess.run(command(row, tree, out, result, args), env=child_env(), capture_output=True,
                          text=True, timeout=args.timeout, check=False)
    elapsed = time.perf_counter() - t0
    made = count_images(out)
    clean(out)
    if proc.returncode != 0 or made == 0 or not result.exists():
        tail = (proc.stderr or proc.stdout or "").strip().splitlines()[-8:]
        row.failed = f"exit {proc.returncode}, {made} images" + "".join(f"\n    {line}" for line in tail)
        row.rates.append(None)
        row.seconds.append(None)
        return
    usage = json.loads(result.read_text())
    result.unlink()
    row.rates.append(made / elapsed)
    row.seconds.append(elapsed)
    row.outputs.append(made)
    row.self_kib.append(int(usage["self_kib"]))
    row.children_kib.append(int(usage["children_kib"]))


def run_stages(tree: Path, out_root: Path, recipe: str, copies: int) -> dict[str, float] | None:
    """One stages.py run (one process, one thread) of a recipe over the photo tree."""
    out = out_root / "out-stages"
    clean(out)
    proc = subprocess.run([PY, str(HERE / "stages.py"), str(tree), str(out), "--recipe",
                           str(REPO_ROOT / "configs" / recipe), "--copies", str(copies), "--json"],
                          env=child_env(), capture_output=True, text=True, check=False)
    clean(out)
    if proc.returncode != 0:
        print(f"  !! stages.py {recipe} failed: {proc.stderr.strip().splitlines()[-1:]}")
        return None
    return json.loads(proc.stdout.strip().splitlines()[-1])


# --------------------------------------------------------------------------- statistics

def med(values: list[float]) -> float | None:
    """Median, or None for no values."""
    return statistics.median(values) if values else None


def paired(a: Row, b: Row) -> list[float]:
    """Round-by-round ratios a / b where both ran."""
    return [x / y for x, y in zip(a.rates, b.rates, strict=False) if x is not None and y is not None]


def fmt_ratio(values: list[float]) -> str:
    """'median (min-max)' of ratios, or '-'."""
    if not values:
        return "-"
    return f"{statistics.median(values):.2f} ({min(values):.2f}-{max(values):.2f})"


def mib(kib: int | float | None) -> str:
    """KiB as whole MiB."""
    return "-" if kib is None else f"{kib / 1024:.0f}"


# --------------------------------------------------------------------------- the plan of rows

def build_rows(args: argparse.Namespace, available: dict[str, bool]) -> list[Row]:
    """Every row, in the order each round runs them."""
    w = args.workers
    rows = [
        Row("floor", "floor (decode + encode + write)", "photos", "floor", workers=w),
        Row("default", "augcli default.yaml", "photos", "augcli", "default.yaml", w),
        Row("light", "augcli light.yaml", "photos", "augcli", "light.yaml", w),
        Row("heavy", "augcli heavy.yaml", "photos", "augcli", "heavy.yaml", w),
        Row("bench_albu", "augcli bench_albu.yaml", "photos", "augcli", "bench_albu.yaml", w),
        Row("albumentations", "albumentations script (same pipeline)", "photos", "albumentations", workers=w),
        Row("augmentor", "Augmentor (closest pipeline)", "photos", "augmentor", workers=w),
        Row("torchvision", "torchvision.transforms.v2, uint8", "photos", "torchvision", workers=w),
        Row("default_1w", "augcli default.yaml, 1 worker", "photos", "augcli", "default.yaml", 1),
        Row("floor_tiny", "floor", "tiny", "floor", workers=w),
        Row("default_tiny", "augcli default.yaml", "tiny", "augcli", "default.yaml", w),
        Row("floor_big", "floor", "big", "floor", workers=w),
        Row("default_big", "augcli default.yaml", "big", "augcli", "default.yaml", w),
        Row("downscale_big", "augcli downscale_512.yaml", "big", "augcli", "downscale_512.yaml", w),
    ]
    skip = set(args.skip)
    return [r for r in rows if r.key not in skip and available.get(r.tool, True)]


def importable(module: str) -> bool:
    """True when ``module`` imports in a fresh interpreter (the peers are optional)."""
    proc = subprocess.run([PY, "-c", f"import {module}"], env=child_env(), capture_output=True, check=False)
    return proc.returncode == 0


def run_rounds(rows: list[Row], paths: dict[str, Path], out_root: Path, args: argparse.Namespace,
               stages: dict[str, list[dict[str, float]]]) -> None:
    """All rows once per round, for --repeats rounds, then the stage split of each recipe."""
    for rnd in range(1, args.repeats + 1):
        parts = []
        for row in rows:
            if row.failed:
                row.rates.append(None)
                row.seconds.append(None)
                continue
            run_once(row, paths[row.tree], out_root / f"out-{row.key}", args)
            parts.append(f"{row.key} {row.rates[-1]:.0f}" if row.rates[-1] else f"{row.key} FAILED")
            if row.failed:
                print(f"  !! {row.key} failed: {row.failed}")
        for recipe in stages:
            split = run_stages(paths["photos"], out_root, recipe, args.copies)
            if split:
                stages[recipe].append(split)
        print(f"  round {rnd}/{args.repeats} (img/s): " + ", ".join(parts), flush=True)


def memory_growth(args: argparse.Namespace, paths: dict[str, Path], out_root: Path) -> list[Row]:
    """augcli default.yaml on the photo tree and on one --memory-scale times larger: peak RSS."""
    if args.memory_scale <= 1:
        return []
    big_tree = Path(build_trees(args, args.photos_scale * args.memory_scale, "photos")["photos"]["path"])
    rows = [Row("mem_1x", "augcli default.yaml, 1x", "photos", "augcli", "default.yaml", args.workers),
            Row("mem_nx", f"augcli default.yaml, {args.memory_scale:g}x", "photos_n", "augcli", "default.yaml",
                args.workers)]
    tree_of = {"photos": paths["photos"], "photos_n": big_tree}
    for _ in range(args.memory_repeats):
        for row in rows:
            run_once(row, tree_of[row.tree], out_root / f"out-{row.key}", args)
    return rows


# --------------------------------------------------------------------------- report

@dataclass
class Target:
    """One target the issue sets, and what was measured for it."""

    name: str
    needed: str
    values: list[float]
    threshold: float
    below: bool = False  # True: the value must stay below the threshold

    def met(self) -> bool | None:
        """Whether the median meets the threshold (None: not measured)."""
        m = med(self.values)
        if m is None:
            return None
        return m < self.threshold if self.below else m >= self.threshold

    def cells(self) -> list[str]:
        """Table cells: target, measured, needed, met."""
        shown = fmt_ratio(self.values) if self.values else "not measured"
        met = {True: "**met**", False: "missed", None: "-"}[self.met()]
        if self.met() is False:
            m = med(self.values) or 0.0
            met += f" (by {abs(m - self.threshold) / self.threshold:.0%})"
        return [self.name, shown, self.needed, met]


def growth(mem: list[Row], attr: str) -> list[float]:
    """Peak RSS growth ratios (nx / 1x - 1) of the memory rows, run by run."""
    if len(mem) < 2:
        return []
    return [b / a - 1 for a, b in zip(getattr(mem[0], attr), getattr(mem[1], attr), strict=False)]


def targets(by: dict[str, Row], mem: list[Row], scale: float) -> list[Target]:
    """The issue's targets, from the measured rows."""
    def ratio(a: str, b: str) -> list[float]:
        return paired(by[a], by[b]) if a in by and b in by else []

    def worker_ratio(a: str, b: str) -> list[float]:
        if a not in by or b not in by:
            return []
        return [x / y for x, y in zip(by[a].children_kib, by[b].children_kib, strict=False)]

    return [
        Target("bench_albu.yaml / albumentations script", ">= 1.75", ratio("bench_albu", "albumentations"), 1.75),
        Target("bench_albu.yaml / Augmentor", ">= 5", ratio("bench_albu", "augmentor"), 5.0),
        Target("bench_albu.yaml / floor", ">= 0.6", ratio("bench_albu", "floor"), 0.6),
        Target("default.yaml / floor", ">= 0.65", ratio("default", "floor"), 0.65),
        Target("light.yaml / floor", ">= 0.85", ratio("light", "floor"), 0.85),
        Target("downscale_512.yaml / floor, 12-MP inputs", ">= 2", ratio("downscale_big", "floor_big"), 2.0),
        Target("default.yaml, 2 workers / 1 worker", ">= 1.8", ratio("default", "default_1w"), 1.8),
        Target(f"peak RSS growth, {scale:g}x the inputs: main process", "< 0.20", growth(mem, "self_kib"),
               0.2, below=True),
        Target(f"peak RSS growth, {scale:g}x the inputs: largest worker", "< 0.20",
               growth(mem, "children_kib"), 0.2, below=True),
        Target("per-worker peak RSS on 12-MP inputs, default.yaml / floor", "<= 2",
               worker_ratio("default_big", "floor_big"), 2.0 + 1e-9, below=True),
        Target("per-worker peak RSS on 12-MP inputs, downscale_512.yaml / floor", "<= 2",
               worker_ratio("downscale_big", "floor_big"), 2.0 + 1e-9, below=True),
    ]


def md_table(head: list[str], rows: list[list[str]], align: str = "") -> str:
    """A Markdown table; ``align`` gives 'l' or 'r' per column."""
    marks = ["---:" if (align[i:i + 1] == "r") else "---" for i in range(len(head))]
    lines = ["| " + " | ".join(head) + " |", "| " + " | ".join(marks) + " |"]
    lines += ["| " + " | ".join(r) + " |" for r in rows]
    return "\n".join(lines)


def main_table(rows: list[Row]) -> str:
    """Throughput, ratios and peak memory of every row."""
    by = {r.key: r for r in rows}
    floors = {"photos": by.get("floor"), "tiny": by.get("floor_tiny"), "big": by.get("floor_big")}
    peers = [p for p in PEERS if p in by]
    head = ["row", "tree", "outputs", "img/s median (min-max)", "x floor"]
    head += [f"x {PEER_LABELS[p]}" for p in peers] + ["peak RSS MiB: main / largest worker"]
    out = []
    for r in rows:
        rates = [x for x in r.rates if x is not None]
        if not rates:
            out.append([r.label, r.tree, "-", "FAILED" if r.failed else "-", "-", *["-"] * len(peers), "-"])
            continue
        floor = floors.get(r.tree)
        cells = [r.label, r.tree, "/".join(map(str, sorted(set(r.outputs)))),
                 f"{statistics.median(rates):.0f} ({min(rates):.0f}-{max(rates):.0f})",
                 fmt_ratio(paired(r, floor)) if floor is not None and floor is not r else ("1" if floor is r else "-")]
        for p in peers:
            cells.append(fmt_ratio(paired(r, by[p])) if r.tree == "photos" and r is not by[p] else "-")
        cells.append(f"{mib(max(r.self_kib))} / {mib(max(r.children_kib)) if r.workers > 1 else '-'}")
        out.append(cells)
    return md_table(head, out, "lllrr" + "r" * len(peers) + "r")


def stages_table(stages: dict[str, list[dict[str, float]]]) -> str:
    """Median ms per output of each stage, per recipe."""
    recipes = [r for r, runs in stages.items() if runs]
    head = ["stage"] + [f"{r}: ms/output (share)" for r in recipes]
    rows = []
    totals = {r: statistics.median(sum(run[s] / run["outputs"] for s in STAGES) for run in stages[r])
              for r in recipes}
    for stage in (*STAGES, "total"):
        cells = [stage]
        for r in recipes:
            if stage == "total":
                cells.append(f"{totals[r] * 1e3:.2f} ({1 / totals[r]:.0f} img/s on one core)")
                continue
            v = statistics.median(run[stage] / run["outputs"] for run in stages[r])
            cells.append(f"{v * 1e3:.2f} ({v / totals[r]:.0%})")
        rows.append(cells)
    return md_table(head, rows, "l" + "r" * len(recipes))


STAGES = ("read", "decode", "augment", "encode", "write", "manifest")


def memory_table(mem: list[Row], by: dict[str, Row]) -> str:
    """Peak RSS as the input grows, and on 12-MP inputs."""
    rows = []
    for r in mem:
        if r.self_kib:
            rows.append([r.label, str(max(r.outputs)), mib(statistics.median(r.self_kib)),
                         mib(statistics.median(r.children_kib))])
    for key in ("floor_big", "default_big", "downscale_big"):
        r = by.get(key)
        if r is not None and r.self_kib:
            rows.append([f"{r.label}, 12-MP tree", str(max(r.outputs)), mib(statistics.median(r.self_kib)),
                         mib(statistics.median(r.children_kib))])
    return md_table(["run", "outputs", "main process MiB", "largest worker MiB"], rows, "lrrr")


def versions() -> dict[str, str]:
    """Versions of the libraries in play."""
    out = {}
    for dist in ("opencv-python-headless", "numpy", "Pillow", "albumentations", "albucore", "Augmentor",
                 "torch", "torchvision", "scikit-learn"):
        try:
            out[dist] = metadata.version(dist)
        except metadata.PackageNotFoundError:
            out[dist] = "not installed"
    return out


def machine() -> dict[str, str]:
    """CPU, cores, memory, OS, Python and the checkout."""
    mem = "?"
    try:
        for line in Path("/proc/meminfo").read_text().splitlines():
            if line.startswith("MemTotal"):
                mem = f"{int(line.split()[1]) / 1024 ** 2:.1f} GiB"
    except OSError:
        pass
    commit = subprocess.run(["git", "-C", str(REPO_ROOT), "rev-parse", "--short", "HEAD"],
                            capture_output=True, text=True, check=False).stdout.strip() or "?"
    dirty = subprocess.run(["git", "-C", str(REPO_ROOT), "status", "--porcelain", "--", "augcli", "configs"],
                           capture_output=True, text=True, check=False).stdout.strip()
    return {"cpu": cpu_model(), "cores": str(len(os.sched_getaffinity(0))), "memory": mem,
            "os": platform.platform(), "python": platform.python_version(),
            "augcli": f"{commit}{' (modified)' if dirty else ''}"}


def report(rows: list[Row], mem: list[Row], stages: dict[str, list[dict[str, float]]], args: argparse.Namespace,
           info: dict[str, object]) -> str:
    """The whole Markdown report (also what docs/performance.md holds)."""
    by = {r.key: r for r in rows}
    tgt = targets(by, mem, args.memory_scale)
    met = sum(t.met() is True for t in tgt)
    measured = sum(t.met() is not None for t in tgt)
    mach = info["machine"]
    load = info["load"]
    parts = [
        "# Performance: augcli against the floor and its peers",
        "",
        f"Generated by `{' '.join(['python benchmarks/compare.py', *info['argv']])}` on {info['date']}, "
        f"in {info['minutes']:.0f} minutes. Regenerate it the same way; see benchmarks/README.md for the method.",
        "",
        f"Machine: {mach['cpu']}, {mach['cores']} usable cores, {mach['memory']}, {mach['os']}, "
        f"Python {mach['python']}; augcli at commit {mach['augcli']}. "
        f"Load average (1 min) {load[0]:.2f} before the runs and {load[1]:.2f} after: other work shared "
        "the machine, so absolute img/s are rough; compare the paired ratios.",
        "",
        "Versions: " + ", ".join(f"{k} {v}" for k, v in info["versions"].items()) + ".",
        "",
        f"Job: every row writes `inputs x {args.copies}` files (no originals) with {args.workers} workers, "
        f"JPEG quality {args.quality} (PNG for PNG inputs). {args.repeats} rounds, all rows once per round "
        "in the order below; ratios are taken round by round against the row they compare with, then the "
        "median (min-max over rounds). Wall time from process start to exit, interpreter start included.",
        "",
        "Trees (deterministic, cut from the photos scikit-learn ships):",
        "",
        *[f"- `{k}`: {v}" for k, v in info["trees"].items()],
        "",
        "## Targets",
        "",
        f"{met} of {measured} measured targets met.",
        "",
        md_table(["target", "measured, median (min-max)", "needed", "status"], [t.cells() for t in tgt], "lrll"),
        "",
        "## All rows",
        "",
        main_table(rows),
        "",
        "Peak RSS is `ru_maxrss` from `resource.getrusage` in benchmarks/probe.py, which runs each tool "
        "in its own process: RUSAGE_SELF for the main process, RUSAGE_CHILDREN for the largest process it "
        "started (a pool worker); the largest over all rounds. Forked workers count the pages they "
        "share with the main process.",
        "",
        "## augcli stage by stage (one process, one thread, photo tree)",
        "",
        stages_table(stages),
        "",
        "Read and decode happen once per input and are shared by its copies; `manifest` is the output's "
        "sha256, the ops as JSON, the row, the source's sha256 and the CSV written at the end.",
        "",
        "## Memory",
        "",
        memory_table(mem, by),
        "",
        "## Notes",
        "",
        *[f"- {note}" for note in info["notes"]],
        "",
    ]
    return "\n".join(parts)


NOTES = [
    "albumentations: benchmarks/peers.py, `A.Compose` of HorizontalFlip(p=0.5), Affine(rotate (-15, 15), "
    "scale (0.9, 1.1), translate_percent (-0.05, 0.05), shear (-5, 5), p=0.5), RandomBrightnessContrast(p=0.5), "
    "HueSaturationValue(p=0.5), GaussNoise(std_range (0.02, 0.1), p=0.5), GaussianBlur(blur_limit (3, 7), p=0.2), "
    "CoarseDropout(1-8 holes of 5-15 %, p=0.3); cv2 read/write, BGR<->RGB, multiprocessing Pool with "
    "`cv2.setNumThreads(1)`. configs/bench_albu.yaml is the same pipeline in augcli's units "
    "(conversions in its comments).",
    "albumentations imports torch whenever it is installed (its PyTorch helpers: about 1.5 s and 500 MiB per "
    "process here); peers.py hides torch from it, as in an environment without torch "
    "(`BENCH_ALBU_WITH_TORCH=1` keeps it).",
    "Augmentor: its own operations (flip, rotate with its inner crop, zoom, shear, brightness, contrast, colour, "
    "one erasing box; no translate, noise or blur) applied by `Pipeline.torch_transform()`'s loop, Pillow "
    "read and save, in the same Pool as the others rather than Augmentor's thread pool (its `sample()` "
    "draws inputs at random and so cannot write exactly K copies of each).",
    "torchvision: transforms.v2 on uint8 CHW tensors (flip, RandomAffine, two ColorJitters, GaussianNoise "
    "sigma 0.06, GaussianBlur 5 px, RandomErasing), torchvision.io decode/encode, `torch.set_num_threads(1)`. "
    "torch and torchvision are the CUDA wheels that lie on this machine's disk (torch 2.14.1, torchvision 0.29.1), "
    "run on the CPU; PyTorch's CPU-only index is not reachable from here.",
    "The floor: decode once, then encode and write K times, OpenCV, same Pool; no augmentation.",
    "Why the photo targets are missed: [speed-limits.md](speed-limits.md) splits an output's cost by kernel "
    "(times from `stages.py --ops`, instruction counts from `op_instructions.py`) and gives each recipe's "
    "ceiling, the ratio it would reach if nothing but its kernels cost anything.",
    "augcli runs as `python -m augcli expand` with this checkout first on PYTHONPATH.",
    "augcli with `--workers 1` runs in the calling process, where the pool's glibc malloc tuning "
    "(augcli/run.py `_tune_malloc`) is not applied, so the 2-over-1 workers ratio can exceed 2.",
    "The memory-growth pair runs `--memory-repeats` times (1 by default); identical runs' peak RSS "
    "moved by about 15 MiB on this machine before (research/perf-baseline.md), which is 20-25 % of "
    "augcli's 60-65 MiB: read growth near the 20 % line as unresolved.",
    "downscale_512.yaml: augcli decodes the 12-MP JPEGs at 1/4 or 1/8 of their size (libjpeg's DCT "
    "scaling, recorded as a `decoded_at` op) because the recipe shrinks them that much; the floor decodes "
    "and encodes them at full size. With few inputs interpreter start-up weighs on both rows (hence 48 by default).",
]


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    """Command-line options."""
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--root", type=Path, default=Path("/tmp/augcli-bench-cmp"), help="where trees and outputs go")
    p.add_argument("--repeats", type=int, default=3, help="rounds (all rows once per round)")
    p.add_argument("--workers", type=int, default=2)
    p.add_argument("--copies", type=int, default=2, help="outputs per input")
    p.add_argument("--quality", type=int, default=95, help="JPEG quality of the floor and peers (recipes: 95)")
    p.add_argument("--photos-scale", type=float, default=1.0, help="photo tree size (1: 770 JPEGs)")
    p.add_argument("--tiny", type=int, default=2000, help="number of 32x32 PNGs")
    p.add_argument("--big", type=int, default=48, help="number of 12-MP JPEGs")
    p.add_argument("--memory-scale", type=float, default=10.0, help="input growth for the memory check (<=1: skip)")
    p.add_argument("--memory-repeats", type=int, default=1)
    p.add_argument("--seed", type=int, default=1234, help="tree seed")
    p.add_argument("--skip", nargs="*", default=[], help="row keys to leave out (e.g. torchvision augmentor)")
    p.add_argument("--no-stages", action="store_true", help="skip the stage split")
    p.add_argument("--timeout", type=float, default=1800.0, help="per-run timeout, seconds")
    p.add_argument("--doc", type=Path, default=REPO_ROOT / "docs" / "performance.md",
                   help="Markdown report to write ('-': none)")
    p.add_argument("--json", type=Path, default=None, help="also write the raw numbers here")
    args = p.parse_args(argv)
    if min(args.repeats, args.workers, args.copies) < 1:
        p.error("--repeats, --workers and --copies must be >= 1")
    return args


def main(argv: list[str] | None = None) -> int:
    """Build the trees, run the rounds, print and write the report."""
    args = parse_args(argv)
    start, load0 = time.time(), os.getloadavg()[0]
    built = build_trees(args, args.photos_scale)
    paths = {name: Path(facts["path"]) for name, facts in built.items()}
    for path in paths.values():  # warm the page cache
        for f in path.glob("*/*"):
            f.read_bytes()
    available = {tool: importable(PEER_MODULES[tool]) for tool in PEERS}
    notes = list(NOTES)
    for tool, ok in available.items():
        if not ok:
            notes.append(f"{PEER_LABELS[tool]} did not import here: its row was left out "
                         "(`pip install -e '.[bench]'`).")
    rows = build_rows(args, available)
    stages: dict[str, list[dict[str, float]]] = {} if args.no_stages else {"default.yaml": [], "bench_albu.yaml": []}
    out_root = args.root
    print(f"== {len(rows)} rows x {args.repeats} rounds; trees under {args.root}")
    run_rounds(rows, paths, out_root, args, stages)
    print("== memory growth")
    mem = memory_growth(args, paths, out_root)
    for r in rows + mem:
        if r.failed:
            notes.append(f"row `{r.key}` failed: {r.failed.splitlines()[0]}")
    info: dict[str, object] = {
        "argv": sys.argv[1:] if argv is None else argv, "date": dt.date.today().isoformat(),
        "minutes": (time.time() - start) / 60, "machine": machine(), "load": (load0, os.getloadavg()[0]),
        "versions": versions(), "trees": {k: v["facts"] for k, v in built.items()}, "notes": notes,
    }
    text = report(rows, mem, stages, args, info)
    print(text)
    if str(args.doc) != "-":
        scale = "<!-- bench_scale.py writes from here to the end; compare.py keeps it -->"
        kept = args.doc.read_text().split(scale, 1) if args.doc.exists() else []
        args.doc.write_text(text + ("\n" + scale + kept[1] if len(kept) == 2 else ""))
        print(f"== wrote {args.doc}")
    if args.json:
        args.json.write_text(json.dumps({"rows": [r.__dict__ for r in rows], "memory": [r.__dict__ for r in mem],
                                         "stages": stages, "info": info}, indent=1, default=str))
    shutil.rmtree(out_root / "out-stages", ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
