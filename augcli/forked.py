"""Half of a listing's or a stat walk's work in a forked child, on the other core.

Listing a folder and stat'ing a file are mostly the kernel's work, which two processes do on two cores
at once (two threads would only pass the interpreter lock back and forth at every call). The scan of a
large tree and a sealed rerun's stats give half of their classes to a child forked for the purpose; the
child sends its answer back as bytes through a pipe and leaves with ``os._exit``, never returning into
the caller's code. Anything amiss with it (no fork here, it died, it was interrupted) gives None, and the
caller does that half itself: the child only ever saves time.
"""

from __future__ import annotations

import os
import signal
import sys
import threading
from collections.abc import Callable
from typing import TypeVar

T = TypeVar("T")
K = TypeVar("K")


def may_fork() -> bool:
    """A fork is safe here: on Linux (macOS' and Windows' system libraries do not take a fork without
    exec well) and with no other thread in this process (it could hold a lock the child would wait on)."""
    return sys.platform.startswith("linux") and threading.active_count() == 1


def fork() -> int:
    """``os.fork()``; -1 when it fails (no memory for the page tables, a process limit)."""
    try:
        return os.fork()
    except OSError:
        return -1


def their_half(sizes: dict[K, int], minimum: int) -> list[K]:
    """The keys a child takes: about half of the total size, largest first; none when the total is
    under ``minimum`` (a fork costs a few milliseconds) or when one key holds most of it."""
    total = sum(sizes.values())
    if total < minimum or len(sizes) < 2:
        return []
    theirs, half = [], 0
    for key in sorted(sizes, key=lambda key: -sizes[key]):
        if half < total / 2 and half + sizes[key] <= total - half:
            theirs.append(key)
            half += sizes[key]
    return theirs if len(theirs) < len(sizes) else []


def share(mine: Callable[[], T], theirs: Callable[[], bytes]) -> tuple[T, bytes | None]:
    """``mine()`` here while a forked child runs ``theirs()``: (mine's result, the child's bytes, or None
    when the child could not run or did not finish)."""
    read_end, write_end = os.pipe()
    pid = fork()
    if pid < 0:
        os.close(read_end)
        os.close(write_end)
        return mine(), None
    if pid == 0:
        _child(theirs, read_end, write_end)
    os.close(write_end)
    reaped = False
    try:
        result = mine()
        with os.fdopen(read_end, "rb") as pipe:
            reply = pipe.read()
        _, status = os.waitpid(pid, 0)
        reaped = True
    finally:
        if not reaped:  # interrupted here: the child is not left behind
            _stop(pid)
    return result, reply if status == 0 else None


def _child(theirs: Callable[[], bytes], read_end: int, write_end: int) -> None:
    status = 1
    try:
        os.close(read_end)
        reply = theirs()
        with os.fdopen(write_end, "wb") as pipe:
            pipe.write(reply)
        status = 0
    finally:
        os._exit(status)


def _stop(pid: int) -> None:
    try:
        os.kill(pid, signal.SIGKILL)
        os.waitpid(pid, 0)
    except OSError:
        pass
