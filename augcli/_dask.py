"""The dask executor: a plan's tasks sent to a ``distributed`` cluster in batches.

Imported only when a run asks for ``executor="dask"``. The client side submits batches of tasks (a few
per worker thread in flight, more as they finish, so a lazy plan is never held whole) and yields each
task's result as its batch comes back. A worker process runs ``init(shared)`` once per map (keyed by a
token: a long-lived worker serves many runs) and then ``fn(task, shared)`` for each task of the batch.

A worker lost mid-batch (killed, out of memory) is dask's to handle: the scheduler reruns its batches on
other workers. The rerun writes its own temporary files and the parent renames only the ones that came
back, so a lost worker can leave nothing but temporaries, which the run removes before it ends.
"""

from __future__ import annotations

import signal
import threading
import uuid
from collections.abc import Callable, Generator, Iterator
from concurrent.futures import CancelledError
from contextlib import contextmanager
from itertools import islice
from typing import Any

from augcli import __version__
from augcli.errors import InputError, RunError, option
from augcli.pool import _portable

CONNECT_TIMEOUT = 10  # seconds to reach a given scheduler
DEFAULT_BATCH = 32  # tasks per batch when the plan's size is not known
MAX_BATCH = 32  # bench_dask.py on a quiet machine: 32 was +2 % and +5 % of the local pool, 16 +11-15 %, 64 +16 %
PER_SLOT = 4  # batches per worker thread over a whole plan (smaller batches balance the end of a run)
IN_FLIGHT = 3  # batches per worker thread submitted ahead
CLIENT_VERSION = __version__  # sent with every batch: a worker running another augcli refuses it


def connect(scheduler: str | None, workers: int) -> tuple[Any, Any]:
    """A client of the scheduler at ``scheduler``, or of a new LocalCluster of ``workers`` single-threaded
    processes (returned too, so it is shut down after the run)."""
    import logging

    from distributed import Client, LocalCluster

    if scheduler is None:
        with _quiet_on_ctrl_c():
            cluster = LocalCluster(n_workers=workers, threads_per_worker=1, processes=True, dashboard_address=":0",
                                   silence_logs=logging.ERROR)
        return Client(cluster, set_as_default=False), cluster
    _check_address(scheduler)
    try:
        return Client(scheduler, timeout=CONNECT_TIMEOUT, set_as_default=False), None
    except Exception as exc:  # OSError, TimeoutError, ValueError for a malformed address, ...
        raise RunError(f"cannot reach the Dask scheduler at {scheduler} within {CONNECT_TIMEOUT} s "
                       f"({type(exc).__name__}: {exc}); check the address and that the scheduler is running") from None


@contextmanager
def _quiet_on_ctrl_c() -> Iterator[None]:
    """Start worker processes ignoring Ctrl-C, as the local pool's do: the terminal sends it to the whole
    process group, and the client alone stops the run (each worker would print a traceback otherwise)."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    previous = signal.signal(signal.SIGINT, signal.SIG_IGN)
    try:
        yield
    finally:
        signal.signal(signal.SIGINT, previous)


def _check_address(scheduler: str) -> None:
    """Refuse a malformed scheduler address before a client is made (a client that fails on one hangs at exit)."""
    from distributed.comm import get_address_host_port, parse_address

    try:
        if parse_address(scheduler)[0] in ("tcp", "tls"):
            get_address_host_port(scheduler)
    except ValueError as exc:
        raise InputError(f"{option('scheduler')}: expected a scheduler address such as tcp://host:8786, got "
                         f"{scheduler!r} ({exc})") from None


def close(client: Any, cluster: Any) -> None:
    """Close the client, then the cluster if this run started it."""
    client.close()
    if cluster is not None:
        cluster.close()


def map_batches(client: Any, fn: Callable[..., Any], tasks: Iterator[Any], init: Callable[[Any], None],
                shared: Any, *, batch: int | None, count: int | None, used: set[str]) -> Generator[Any, None, None]:
    """Yield ``fn(task, shared)`` for every task, in the order the batches finish; ``used`` gets the
    address of every worker that returned a batch."""
    from distributed import as_completed

    slots = max(1, sum(client.nthreads().values()))
    size = batch or default_batch(count, slots)
    token = uuid.uuid4().hex
    # A task, not scattered data: a worker lost while holding it makes dask compute it again from the graph.
    shared_future = client.submit(_value, shared, key=f"augcli-shared-{token}")
    live: set[Any] = set()

    def submit(chunk: list[Any]) -> Any:
        future = client.submit(_run_batch, fn, init, token, shared_future, chunk, CLIENT_VERSION, pure=False)
        live.add(future)
        return future

    chunks = _chunks(tasks, size)
    finished = as_completed([submit(chunk) for chunk in islice(chunks, IN_FLIGHT * slots)], loop=client.loop)
    try:
        for future in finished:
            live.discard(future)
            address, results = _result(future)
            used.add(address)
            for chunk in islice(chunks, 1):
                finished.add(submit(chunk))
            yield from results
    finally:
        client.cancel([*live, shared_future])


def _value(shared: Any) -> Any:
    return shared


def default_batch(count: int | None, slots: int) -> int:
    """Tasks per batch: about ``PER_SLOT`` batches per worker thread over the plan, 1 to ``MAX_BATCH``."""
    if count is None:
        return DEFAULT_BATCH
    return max(1, min(MAX_BATCH, count // (slots * PER_SLOT)))


def _chunks(tasks: Iterator[Any], size: int) -> Iterator[list[Any]]:
    while chunk := list(islice(tasks, size)):
        yield chunk


def _result(future: Any) -> Any:
    """A batch's (worker address, results); its error raised here; a lost cluster as a RunError."""
    from distributed import KilledWorker
    from distributed.comm import CommClosedError

    try:
        return future.result()
    except KilledWorker as exc:
        raise RunError(f"the Dask cluster lost every worker that ran one batch ({exc}); the batch may need more "
                       "memory than a worker has: run the same command again to resume") from None
    except (CancelledError, CommClosedError) as exc:
        raise RunError(f"the connection to the Dask cluster was lost ({type(exc).__name__}); run the same "
                       "command again to resume") from None


_READY: set[str] = set()  # tokens of the maps this worker process has run ``init`` for
_SETUP = threading.Lock()


def _run_batch(fn: Callable[..., Any], init: Callable[[Any], None], token: str, shared: Any,
               batch: list[Any], version: str = __version__) -> tuple[str, list[Any]]:
    """On a worker: check it runs the client's augcli, set the process up once for this map, then run the
    batch's tasks."""
    from distributed import get_worker

    if version != __version__:  # the same seeds on another version may not give the same bytes
        raise RunError(f"the Dask worker {get_worker().address} runs augcli {__version__}, this client "
                       f"{version}: install the same augcli version on every worker (pip install "
                       f"'augcli=={version}'), then run the same command again")
    with _SETUP:
        if token not in _READY:
            import cv2

            cv2.setNumThreads(1)
            init(shared)
            _READY.add(token)
    try:
        results = [fn(task, shared) for task in batch]
    except Exception as exc:  # a failure the parent reports: sent as itself when it pickles
        raise _portable(exc) from None
    return get_worker().address, results
