#!/usr/bin/env python
"""The dask executor's cost on one machine: ``expand`` on the local pool versus a dask LocalCluster with
the same number of worker processes, on the same tree, for a few batch sizes.

Usage::

    python benchmarks/bench_dask.py [--tree DIR] [--workers 2] [--copies 2] [--repeats 2]
                                    [--batches 4,16,64] [--markdown]

The tree is make_tree.py's (770 JPEG photos at scale 1). One LocalCluster is started for the dask rows
(its start-up is timed apart: an existing cluster is what a team points augcli at), plus one row that
starts and stops its own LocalCluster inside the run, as ``--executor dask`` without ``--scheduler`` does.
Rows alternate round by round; each figure is the median. Needs ``pip install 'augcli[dask]'``.
"""

from __future__ import annotations

import argparse
import logging
import os
import shutil
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
import make_tree

from augcli import api, executors


def _run(tree: Path, out: Path, copies: int, workers: int, **dask: str) -> float:
    """Seconds for one expand into a fresh folder."""
    shutil.rmtree(out, ignore_errors=True)
    start = time.perf_counter()
    result = api.expand(tree, out, recipe="default", copies=copies, workers=workers, **dask)
    seconds = time.perf_counter() - start
    assert result.made == result.planned, result
    return seconds


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--tree", type=Path, default=Path("/tmp/augcli-bench-dask/tree"))
    parser.add_argument("--out", type=Path, default=Path("/tmp/augcli-bench-dask/out"))
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--copies", type=int, default=2)
    parser.add_argument("--repeats", type=int, default=2)
    parser.add_argument("--batches", default="4,16,64", help="batch sizes (tasks per batch) to time")
    parser.add_argument("--markdown", action="store_true", help="print the table as Markdown")
    args = parser.parse_args()

    from distributed import LocalCluster

    tree = make_tree.build_tree(args.tree, 1.0, 1234, quiet=True)  # reused when already built
    start = time.perf_counter()
    cluster = LocalCluster(n_workers=args.workers, threads_per_worker=1, processes=True, dashboard_address=":0",
                           silence_logs=logging.ERROR)
    cluster_start = time.perf_counter() - start
    address = cluster.scheduler_address
    rows: dict[str, list[float]] = {"local pool": []}
    for size in args.batches.split(","):
        rows[f"dask, batch {size}"] = []
    rows["dask, default batch"] = []
    rows["dask, own LocalCluster per run"] = []
    outputs = 0
    try:
        for _ in range(args.repeats):
            for name, times in rows.items():
                os.environ.pop(executors.BATCH_ENV, None)
                if name == "local pool":
                    times.append(_run(tree, args.out, args.copies, args.workers))
                elif name.startswith("dask, batch"):
                    os.environ[executors.BATCH_ENV] = name.rsplit(" ", 1)[1]
                    times.append(_run(tree, args.out, args.copies, args.workers, executor="dask", scheduler=address))
                elif name == "dask, default batch":
                    times.append(_run(tree, args.out, args.copies, args.workers, executor="dask", scheduler=address))
                else:
                    times.append(_run(tree, args.out, args.copies, args.workers, executor="dask"))
        outputs = len(list((args.out / "manifest.csv").read_text().splitlines())) - 1
    finally:
        cluster.close()
        os.environ.pop(executors.BATCH_ENV, None)
    base = statistics.median(rows["local pool"])
    lines = [f"{outputs} outputs ({args.copies} copies + originals of {outputs // (args.copies + 1)} photos), "
             f"{args.workers} workers, median of {args.repeats}; LocalCluster start {cluster_start:.1f} s",
             "", "| executor | seconds | images/s | vs local pool |", "|---|---:|---:|---:|"]
    for name, times in rows.items():
        median = statistics.median(times)
        overhead = "" if name == "local pool" else f"{100 * (median - base) / base:+.1f} %"
        lines.append(f"| {name} | {median:.2f} | {outputs / median:.0f} | {overhead} |")
    print("\n".join(lines if args.markdown else [line.replace("|", " ") for line in lines]))


if __name__ == "__main__":
    main()
