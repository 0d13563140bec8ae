"""The process pool every parallel step uses: generic, it knows no task type.

``map_tasks(fn, tasks, init, shared, workers)`` runs ``fn`` over tasks on fresh worker processes set
up by ``init(shared)`` and yields results as they finish; with one worker it calls ``fn(task, shared)``
in the caller's process and changes nothing there (no signal, thread or allocator setting).

Each worker has a pipe of its own and the processes share no lock, so a worker killed at any moment
(SIGKILL, SIGTERM to the process group, the out-of-memory killer) can never leave the parent waiting:
the parent sees the pipe close, stops the others and says so. ``multiprocessing.Pool`` was used
before; its workers hold a shared queue lock while idle, and terminating it after its workers were
killed by a group-wide SIGTERM hung for ever.
"""

from __future__ import annotations

import multiprocessing
import os
import signal
import sys
from collections.abc import Callable, Generator, Iterable, Iterator, Sequence
from itertools import islice
from multiprocessing.connection import Connection, wait
from typing import Any

from augcli.errors import RunError, option

AHEAD = 2  # chunks queued per worker, so none waits for the parent between chunks


def default_workers(workers: int | None = None) -> int:
    """``workers``, or by default the cores this process may use."""
    if workers is not None:
        return workers
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # pragma: no cover - not Linux
        return os.cpu_count() or 1


def start_method() -> str:
    """fork on Linux (fast start), spawn elsewhere; ``AUGCLI_START_METHOD`` overrides (tests run both)."""
    return os.environ.get("AUGCLI_START_METHOD") or ("fork" if sys.platform.startswith("linux") else "spawn")


def _worker(conn: Connection, other_end: Connection, parent: int, fn: Callable[[Any], Any],
            init: Callable[[Any], None], shared: Any) -> None:
    """A worker: quiet on Ctrl-C (the parent stops it), one OpenCV thread; runs chunks until told to
    stop, and leaves by itself within a second when its parent is gone."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    signal.signal(signal.SIGTERM, signal.SIG_DFL)
    signal.pthread_sigmask(signal.SIG_UNBLOCK, _STOPPING)  # blocked by the parent around the start
    other_end.close()  # a forked child holds the parent's end too; keeping it would hide the parent's exit
    import cv2

    cv2.setNumThreads(1)
    try:
        init(shared)
        while (chunk := _next(conn, parent)) is not None:
            conn.send(("ok", [fn(task) for task in chunk]))
    except (EOFError, BrokenPipeError):  # the parent is gone
        return
    except Exception as exc:  # a failure the parent reports (a write error, a bug)
        conn.send(("error", _portable(exc)))


def _next(conn: Connection, parent: int) -> Any:
    """The next chunk (None: stop), or None once the parent process has gone away."""
    while not conn.poll(1.0):
        if os.getppid() != parent:
            return None
    return conn.recv()


def _portable(exc: Exception) -> Exception:
    """The exception itself when it pickles, else a RunError with its text."""
    import pickle

    try:
        pickle.loads(pickle.dumps(exc))
    except Exception:
        return RunError(f"{type(exc).__name__}: {exc}")
    return exc


def _chunks(tasks: Iterable[Any], count: int, workers: int) -> Iterator[list[Any]]:
    size = max(1, min(16, count // (workers * 8)))
    iterator = iter(tasks)
    while chunk := list(islice(iterator, size)):
        yield chunk


def map_tasks(fn: Callable[..., Any], tasks: Iterable[Any], init: Callable[[Any], None], shared: Any,
              workers: int, count: int | None = None) -> Generator[Any, None, None]:
    """Yield ``fn(task)`` for every task, in the order they finish, from ``workers`` processes; inside an
    API call on a dask executor (``augcli.executors``), from the cluster's workers instead.

    ``tasks`` may be a stream (read as workers ask for more); then ``count`` says how many it holds,
    which sizes the chunks sent to a worker (and one task or none runs in this process).
    """
    from augcli.executors import active

    if (session := active()) is not None:
        yield from session.map(fn, tasks, init, shared)
        return
    if count is None:
        tasks = tasks if isinstance(tasks, Sequence) else list(tasks)
        count = len(tasks)
    if workers <= 1 or count <= 1:
        yield from (fn(task, shared) for task in tasks)
        return
    import cv2

    cv2.setNumThreads(1)  # no OpenCV threads in a process about to fork
    context: Any = multiprocessing.get_context(start_method())
    chunks = _chunks(tasks, count, workers)
    procs: dict[Connection, Any] = {}
    clean = False
    try:
        for _ in range(min(workers, count)):
            here, there = context.Pipe()
            proc = context.Process(target=_worker, args=(there, here, os.getpid(), fn, init, shared), daemon=True)
            procs[here] = proc  # before start: a signal during start still stops it
            _start(proc)
            there.close()
        pending = {conn: 0 for conn in procs}
        for conn in procs:
            pending[conn] += _feed(conn, chunks, AHEAD)
        while any(pending.values()):
            for conn in wait([c for c, n in pending.items() if n]):  # type: ignore[assignment]
                yield from _receive(conn, procs[conn])
                pending[conn] += _feed(conn, chunks, 1) - 1
        for conn in procs:
            conn.send(None)
        clean = True
    finally:
        _stop(procs, clean)


_STOPPING = {signal.SIGINT, signal.SIGTERM}


def _start(proc: Any) -> None:
    """Start a worker with Ctrl-C and SIGTERM held back until it has set its own handlers: a signal in
    between would run the parent's handlers in the child and print a traceback from it."""
    previous = signal.pthread_sigmask(signal.SIG_BLOCK, _STOPPING)
    try:
        proc.start()
    finally:
        signal.pthread_sigmask(signal.SIG_SETMASK, previous)


def _feed(conn: Connection, chunks: Iterator[list[Any]], count: int) -> int:
    """Send up to ``count`` more chunks to a worker; return how many were sent."""
    sent = 0
    for chunk in chunks:
        try:
            conn.send(chunk)
        except OSError:  # the worker is gone: stop the run with what it said last, never drop the chunk
            _raise_last_word(conn)
        sent += 1
        if sent == count:
            break
    return sent


def _raise_last_word(conn: Connection) -> None:
    """Raise the error a dead worker sent before it went, or say it stopped unexpectedly."""
    try:
        while True:
            kind, payload = conn.recv()
            if kind == "error":
                raise payload
    except (EOFError, OSError):
        raise RunError("a worker process stopped unexpectedly; it may have run out of memory: try fewer "
                       f"{option('workers')}, then run the same command again to resume") from None


def _receive(conn: Connection, proc: Any) -> list[Any]:
    """A worker's results for one chunk; a failure in it is raised here, in the parent."""
    try:
        kind, payload = conn.recv()
    except (EOFError, OSError):
        proc.join(timeout=1)
        raise RunError(f"a worker process stopped unexpectedly (exit status {proc.exitcode}); it may have "
                       f"run out of memory: try fewer {option('workers')}, then run the same command again to "
                       "resume") from None
    if kind == "error":
        raise payload
    return payload  # type: ignore[no-any-return]


def _stop(procs: dict[Connection, Any], clean: bool) -> None:
    """Join finished workers; kill them at once when the run stops early (Ctrl-C, SIGTERM, an error)."""
    for conn, proc in procs.items():
        if proc.pid is not None:
            if not clean and proc.is_alive():
                proc.kill()
            proc.join()
        conn.close()
