"""Run a Python script or module in this process, then record its peak memory as JSON.

    python benchmarks/probe.py RESULT.json -m augcli expand ...
    python benchmarks/probe.py RESULT.json benchmarks/peers.py floor ...

Only the standard library is imported before the target runs, so the target's start-up cost is its
own. At exit the probe writes ``{"exit": code, "self_kib": ..., "children_kib": ...}``: ``self_kib``
is the peak resident set of this process (the tool's main process), ``children_kib`` the largest
peak among the processes it started and waited for (a pool's largest worker), both from
``resource.getrusage`` (ru_maxrss, KiB on Linux).
"""

from __future__ import annotations

import json
import resource
import runpy
import sys


def _run(argv: list[str]) -> int:
    """Run ``-m module args...`` or ``script args...`` as ``__main__``; return its exit code."""
    try:
        if argv[0] == "-m":
            sys.argv = [argv[1], *argv[2:]]
            runpy.run_module(argv[1], run_name="__main__", alter_sys=True)
        else:
            sys.argv = list(argv)
            runpy.run_path(argv[0], run_name="__main__")
    except SystemExit as exc:
        code = exc.code
        if code is None:
            return 0
        return code if isinstance(code, int) else 1
    return 0


def main() -> int:
    """Entry point: probe.py RESULT.json TARGET..."""
    if len(sys.argv) < 3:
        print(__doc__, file=sys.stderr)
        return 2
    result, target = sys.argv[1], sys.argv[2:]
    code = _run(target)
    record = {"exit": code,
              "self_kib": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss,
              "children_kib": resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss}
    with open(result, "w", encoding="utf-8") as handle:
        json.dump(record, handle)
    return code


if __name__ == "__main__":
    sys.exit(main())
