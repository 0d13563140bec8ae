"""Peak memory of `augcli expand` as the dataset grows: it should stay flat.

Builds benchmark trees at --scales (1 = 770 JPEGs) with make_tree.py, runs
`augcli expand --copies K --workers W` on each in a fresh process and prints the peak resident
set size of the parent and of the largest worker (from getrusage), next to the number of outputs.

    python benchmarks/bench_memory.py [--scales 1 3] [--copies 2] [--workers 2]
"""

from __future__ import annotations

import argparse
import json
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

HERE = Path(__file__).resolve().parent
# Runs one expand in this child process and reports its own and its children's peak RSS (KiB on Linux).
PROBE = """
import json, resource, sys
from augcli import api
r = api.expand(sys.argv[1], sys.argv[2], recipe="default", copies=int(sys.argv[3]),
               workers=int(sys.argv[4]), originals=False)
print(json.dumps({"outputs": r.made,
                  "parent_kib": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss,
                  "worker_kib": resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss}))
"""


def main() -> None:
    """Measure each scale and print a table."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--scales", type=float, nargs="+", default=[1.0, 3.0])
    parser.add_argument("--copies", type=int, default=2)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--root", type=Path, default=Path("/tmp/augcli-bench"))
    args = parser.parse_args()
    print(f"{'scale':>5} {'inputs':>7} {'outputs':>8} {'parent MiB':>11} {'largest worker MiB':>19}")
    for scale in args.scales:
        tree = args.root / ("tree" if scale == 1 else f"tree-x{scale:g}")
        subprocess.run([sys.executable, str(HERE / "make_tree.py"), str(tree), "--scale", str(scale)],
                       check=True, capture_output=True)
        inputs = sum(1 for p in tree.rglob("*.jpg"))
        out = Path(tempfile.mkdtemp(prefix="augcli-mem-")) / "out"
        try:
            done = subprocess.run([sys.executable, "-c", PROBE, str(tree), str(out), str(args.copies),
                                   str(args.workers)], check=True, capture_output=True, text=True)
        finally:
            shutil.rmtree(out.parent, ignore_errors=True)
        rec = json.loads(done.stdout.strip().splitlines()[-1])
        print(f"{scale:>5g} {inputs:>7} {rec['outputs']:>8} {rec['parent_kib'] / 1024:>11.0f} "
              f"{rec['worker_kib'] / 1024:>19.0f}")


if __name__ == "__main__":
    main()
