"""Direct store I/O: the workers read inputs from the store and write outputs to it themselves.

A run on URLs in direct mode (:mod:`augcli.stores`) stages *sparse placeholders*: each input and output
object becomes an empty file of the object's size and listing mtime, so the scan, the plan, resume and
the seal run on them as on a disk while no image byte passes through the client. What the workers need
is :class:`Direct`, carried in the run's context (picklable: URLs and storage options, never an open file
system); each process opens the file system once, lazily (:func:`_fs`).

- A worker reads an input with one GET (:func:`read`); the parent gives its stamp the placeholder's mtime.
- A worker writes an output with one whole-object PUT (:func:`write`): no partial object is ever visible;
  the parent, once the output's row is recorded, makes its placeholder (:func:`placeholder`).
- What the parent hashes under a placeholder folder (an output proven before it is removed, an input
  whose mtime moved) is hashed from the store (:func:`remote_sha256`).

Imported by the run machinery; fsspec is imported only when a file system is opened.
"""

from __future__ import annotations

import hashlib
import os
from contextvars import ContextVar
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from augcli.errors import RunError
from augcli.paths import safe_rel

DIRECT_ENV = "AUGCLI_STORE_DIRECT"  # 1: workers read and write the store themselves (0: staging, the default)


@dataclass(frozen=True)
class Direct:
    """Where the workers read and write: a protocol, the input and output paths as fsspec names them."""

    protocol: str
    in_path: str
    out_path: str
    in_url: str
    out_url: str
    options: dict[str, Any] = field(default_factory=dict)
    # output objects the store's manifest does not list (a killed client's, or a user's): a worker may
    # write one of these names only with the bytes already there (see :func:`write`)
    unrecorded: frozenset[str] = frozenset()

    def in_key(self, rel: str) -> str:
        return f"{self.in_path}/{rel}"

    def out_key(self, rel: str) -> str:
        return f"{self.out_path}/{rel}"


ACTIVE: ContextVar[Direct | None] = ContextVar("augcli_direct", default=None)
# parent process only: local placeholder folders -> (Direct, "in" or "out"); a hook run before the workers start
MOUNTS: dict[Path, tuple[Direct, str]] = {}
BEFORE_WORK: dict[str, Any] = {}

_FS: dict[tuple[str, str], Any] = {}  # per process: the open file system of each (protocol, options)


def active() -> Direct | None:
    """The direct store side of the run being set up in this process, if any."""
    return ACTIVE.get()


def _fs(side: Direct) -> Any:
    """The file system of ``side``, opened once per process (never pickled: a worker opens its own)."""
    key = (side.protocol, repr(sorted(side.options.items())))
    fs = _FS.get(key)
    if fs is None or getattr(fs, "_augcli_pid", None) != os.getpid():
        import fsspec

        fs = fsspec.filesystem(side.protocol, **side.options)
        fs._augcli_pid = os.getpid()
        _FS[key] = fs
    return fs


def read(side: Direct, rel: str) -> bytes:
    """An input object's bytes (one GET). A missing object is an OSError (the row names the file, as for a
    disk); any other failure of the store fails the run."""
    try:
        data = _fs(side).cat_file(side.in_key(rel))
    except FileNotFoundError:
        raise
    except Exception as exc:
        raise RunError(f"input {side.in_url}/{rel}: the store failed ({type(exc).__name__}: {_brief(exc)})") from None
    return bytes(data)


def write(side: Direct, rel: str, data: bytes) -> None:
    """Write one output object whole (one PUT: the store shows it only once complete)."""
    if not safe_rel(rel):
        raise RunError(f"refusing to write {side.out_url}/{rel}: not a plain relative path")
    if rel in side.unrecorded and _same_object(side, rel, data):
        return  # a killed client's output: this run makes the same bytes (same record, same seeds)
    try:
        _fs(side).pipe_file(side.out_key(rel), data)
    except Exception as exc:
        raise RunError(f"cannot write {side.out_url}/{rel}: the store failed "
                       f"({type(exc).__name__}: {_brief(exc)})") from None


def _same_object(side: Direct, rel: str, data: bytes) -> bool:
    """True when the unlisted object at ``rel`` holds exactly ``data``; a RunError when it holds anything
    else: it was not written by a run of this record (same plan, same seeds, same bytes), so it is a user's
    and is never overwritten."""
    try:
        there = _fs(side).cat_file(side.out_key(rel))
    except FileNotFoundError:
        return False
    except Exception as exc:
        raise RunError(f"output {side.out_url}/{rel}: the store failed ({type(exc).__name__}: {_brief(exc)})") from None
    if bytes(there) == data:
        return True
    raise RunError(f"refusing to overwrite {side.out_url}/{rel}: its manifest does not list it and it does not "
                   "hold what this run makes there, so nothing proves augcli wrote it (it may be yours, or left by "
                   "a stopped run with other settings); move or delete it, or choose another output")


def remove(side: Direct, rels: list[str]) -> None:
    """Delete output objects a task wrote but nothing recorded (its source failed to decode afterwards)."""
    for rel in rels:
        try:
            _fs(side).rm_file(side.out_key(rel))
        except FileNotFoundError:
            continue
        except Exception as exc:
            raise RunError(f"cannot remove {side.out_url}/{rel}: the store failed "
                           f"({type(exc).__name__}: {_brief(exc)})") from None


def placeholder(path: Path, size: int, mtime_ns: int | None = None) -> None:
    """A sparse stand-in for an object: ``size`` bytes long, none written (atomically: temp name, rename)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    from augcli.io import temp_path

    tmp = temp_path(path)
    fd = os.open(tmp, os.O_CREAT | os.O_WRONLY | os.O_TRUNC, 0o644)
    try:
        os.ftruncate(fd, size)
    finally:
        os.close(fd)
    if mtime_ns is not None:
        os.utime(tmp, ns=(mtime_ns, mtime_ns))
    os.replace(tmp, path)


def stamp_mtime(in_root: Path, rel: str) -> int | None:
    """The mtime of an input's placeholder (the listing's), which its stamp records."""
    try:
        return os.stat(in_root / rel).st_mtime_ns
    except OSError:
        return None


def remote_sha256(path: Path) -> str | None:
    """The sha256 of the object a placeholder stands for (None when ``path`` is under no placeholder folder)."""
    for root, (side, which) in MOUNTS.items():
        if root == path or root in path.parents:
            rel = path.relative_to(root).as_posix()
            if "/" not in rel:  # a top file (the run's records) is a real local file
                return None
            key = side.in_key(rel) if which == "in" else side.out_key(rel)
            try:
                data = _fs(side).cat_file(key)
            except FileNotFoundError:
                return ""
            except Exception as exc:
                url = side.in_url if which == "in" else side.out_url
                raise RunError(f"{url}/{rel}: the store failed ({type(exc).__name__}: {_brief(exc)})") from None
            return hashlib.sha256(data).hexdigest()
    return None


def before_work(side: Direct) -> None:
    """Parent side, before the first worker writes: the store's records name this run (see stores.py)."""
    hook = BEFORE_WORK.get(side.out_url)
    if hook is not None:
        hook()


def _brief(exc: BaseException) -> str:
    text = " ".join(str(exc).split())[:300] or type(exc).__name__
    if isinstance(exc, PermissionError) or type(exc).__name__ in ("NoCredentialsError", "PartialCredentialsError"):
        text += "; every worker needs the store's credentials (see docs/distributed.md)"
    return text
