"""Where a run's tasks execute: ``local`` (the process pool of :mod:`augcli.pool`) or ``dask`` (a cluster).

The API's run commands take ``executor`` and ``scheduler`` keywords (:func:`with_executor`). A dask
choice opens a :class:`Session` for the length of the call; every ``pool.map_tasks`` inside it sends its
tasks to the cluster in batches (:mod:`augcli._dask`) instead of to local processes. Nothing else
changes: the same tasks, the same worker functions, the same parent that alone writes the manifest.

This module imports no dask: ``augcli --help`` and local runs never load it.
"""

from __future__ import annotations

import functools
import importlib.util
import inspect
import os
import re
from collections.abc import Callable, Generator, Iterable, Iterator, Sized
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any, ParamSpec, TypeVar

from augcli.errors import InputError, option

EXECUTORS = ("local", "dask")
BATCH_ENV = "AUGCLI_DASK_BATCH"  # tasks per dask batch (default: from the plan's size and the cluster's workers)
_URL = re.compile(r"^[A-Za-z][A-Za-z0-9+.-]*:/")  # s3://, gs://, memory:// (a Path turns '//' into '/')
_PATH_ARGS = ("input", "output", "manifest")

P = ParamSpec("P")
R = TypeVar("R")


@dataclass
class Session:
    """A dask executor for the length of one API call: the client is made on first use and closed at the
    end (a LocalCluster started here is shut down; a given scheduler's cluster is left running)."""

    scheduler: str | None
    workers: int
    batch: int | None = None
    used: set[str] = field(default_factory=set)  # addresses of the workers that ran a batch
    _client: Any = None
    _cluster: Any = None

    def map(self, fn: Callable[..., Any], tasks: Iterable[Any], init: Callable[[Any], None],
            shared: Any) -> Generator[Any, None, None]:
        """Yield ``fn(task, shared)`` for every task, as the cluster's batches finish."""
        from augcli import _dask

        iterator = iter(tasks)
        first = next(iterator, _NONE)
        if first is _NONE:  # nothing to do: no cluster is started for it
            return
        if self._client is None:
            self._client, self._cluster = _dask.connect(self.scheduler, self.workers)
        yield from _dask.map_batches(self._client, fn, _chain(first, iterator), init, shared,
                                     batch=self.batch, count=_count(tasks), used=self.used)

    def close(self) -> None:
        """Close the client, and the LocalCluster when this session started one."""
        from augcli import _dask

        if self._client is not None:
            _dask.close(self._client, self._cluster)
            self._client = self._cluster = None


_NONE = object()
_ACTIVE: ContextVar[Session | None] = ContextVar("augcli_executor", default=None)


def active() -> Session | None:
    """The dask session of the API call running now, or None (the local pool)."""
    return _ACTIVE.get()


def _chain(first: Any, rest: Iterator[Any]) -> Iterator[Any]:
    yield first
    yield from rest


def _count(tasks: Iterable[Any]) -> int | None:
    """How many tasks a plan holds when it knows (a list), else None (a lazy plan)."""
    return len(tasks) if isinstance(tasks, Sized) else None


def check_executor(executor: str, scheduler: str | None) -> None:
    """Refuse an unknown executor, ``scheduler`` without dask, and dask when it is not installed."""
    if executor not in EXECUTORS:
        raise InputError(f"{option('executor')}: expected one of {', '.join(EXECUTORS)}, got {executor!r}")
    if scheduler is not None and executor != "dask":
        raise InputError(f"{option('scheduler')}: expected {option('executor', 'dask')} with it, got "
                         f"{option('executor', executor)}; add {option('executor', 'dask')} or leave it out")
    if scheduler is not None and not scheduler.strip():
        raise InputError(f"{option('scheduler')}: expected a scheduler address (tcp://host:8786), got an empty one")
    if executor == "dask" and not _installed():
        raise InputError(f"{option('executor', 'dask')} needs dask.distributed, which is not installed: "
                         "pip install 'augcli[dask]'")


def check_url(path: Any) -> bool:
    """Whether ``path`` is a URL (s3://, gs://, memory:// ...): expand, balance and replay stage it (stores.py)."""
    return path is not None and _URL.match(os.fspath(path) if isinstance(path, (str, Path)) else "") is not None


def check_local(name: str, path: Any) -> None:
    """Refuse a URL where only a local folder is read (``--recipe auto``, suggest, inspect, preview)."""
    if check_url(path):
        raise InputError(f"{name} {os.fspath(path)!r}: this reads a local folder only; URLs (s3://, gs://, "
                         "memory:// ...) work for the inputs and outputs of expand, balance and replay runs, "
                         "with a recipe other than auto")


def _installed() -> bool:
    """Whether dask.distributed can be imported (without importing it)."""
    return importlib.util.find_spec("distributed") is not None


def batch_size() -> int | None:
    """The batch size set by ``AUGCLI_DASK_BATCH``, or None for the default."""
    text = os.environ.get(BATCH_ENV)
    if not text:
        return None
    if not text.isdigit() or not 1 <= int(text) <= 100_000:
        raise InputError(f"{BATCH_ENV}: expected an integer in [1, 100000], got {text!r}")
    return int(text)


@contextmanager
def using(executor: str, scheduler: str | None, workers: int) -> Iterator[Session | None]:
    """Run what is inside on ``executor``: ``local`` changes nothing, ``dask`` opens a :class:`Session`."""
    check_executor(executor, scheduler)
    if executor == "local":
        yield None
        return
    session = Session(scheduler, workers, batch_size())
    if scheduler is not None:  # an unreachable scheduler fails now, before any output is written
        from augcli import _dask

        session._client, session._cluster = _dask.connect(scheduler, workers)
    token = _ACTIVE.set(session)
    try:
        yield session
    finally:
        _ACTIVE.reset(token)
        session.close()


def with_executor(fn: Callable[P, R]) -> Callable[P, R]:
    """Decorate an API run command: stage URL paths (:mod:`augcli.stores`), run it on its ``executor``.

    The executor is how a run is carried out, not what it makes: it is not part of the run record's
    identity, so a run started locally resumes on dask and the other way round.
    """
    signature = inspect.signature(fn)

    @functools.wraps(fn)
    def wrapper(*args: P.args, **kwargs: P.kwargs) -> R:
        bound = signature.bind(*args, **kwargs)
        bound.apply_defaults()
        given = bound.arguments
        if any(check_url(given.get(name)) for name in _PATH_ARGS):  # s3://, memory://: augcli/stores.py
            from augcli import stores

            check_executor(given.get("executor", "local"), given.get("scheduler"))
            with stores.staging(given) as stage:
                return stage.result(_run(fn, bound))  # type: ignore[no-any-return]
        return _run(fn, bound)

    return wrapper


def _run(fn: Callable[P, R], bound: inspect.BoundArguments) -> R:
    """Call ``fn`` with ``bound`` on its executor."""
    from augcli.pool import default_workers

    given = bound.arguments
    workers = given.get("workers")
    with using(given.get("executor", "local"), given.get("scheduler"),
               default_workers(workers if isinstance(workers, int) else None)) as session:
        result = fn(*bound.args, **bound.kwargs)
        if session is not None and hasattr(result, "cluster_workers"):
            result = replace(result, cluster_workers=len(session.used))  # type: ignore[type-var]
        if session is not None and given.get("manifest") is not None and given.get("output") is not None:
            _sweep(Path(given["output"]))  # replay: temporaries of a worker lost mid-batch
        return result


def _sweep(root: Path) -> None:
    """Remove augcli's temporary files under ``root`` (a lost dask worker's; the batch was rerun elsewhere)."""
    from augcli.outdir import remove_temporaries

    if root.is_dir():
        remove_temporaries(root)
