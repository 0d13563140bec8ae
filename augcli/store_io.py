"""One prefix of an object store through fsspec: open it, list it once, fetch it, write objects whole, lock it.

Imported only when a run is given a URL (by :mod:`augcli.stores`); fsspec itself only inside
:func:`open_root`. Every failure of the store becomes one line: a missing bucket, no credentials or access
denied are the caller's (exit 2), anything else a failed run (exit 1).
"""

from __future__ import annotations

import hashlib
import os
import socket
import uuid
from collections.abc import Iterable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

from augcli.errors import AugcliError, InputError, RunError
from augcli.manifest import LOCK
from augcli.paths import safe_rel

# Backends fsspec names for the usual stores, and what to install for each.
_BACKENDS = {"s3": "s3fs (pip install 'augcli[s3]')", "s3a": "s3fs (pip install 'augcli[s3]')",
             "gs": "gcsfs (pip install gcsfs)", "gcs": "gcsfs (pip install gcsfs)",
             "az": "adlfs (pip install adlfs)", "abfs": "adlfs (pip install adlfs)",
             "abfss": "adlfs (pip install adlfs)"}
# Short network limits for s3fs unless the user's fsspec configuration sets its own (no hang on a bad endpoint).
_S3_CONFIG = {"connect_timeout": 10, "read_timeout": 60, "retries": {"max_attempts": 3}}
PUT_BATCH = 64  # objects written concurrently (where the backend can)
PUT_BYTES = 256 << 20  # and at most this many bytes held for them


@dataclass(frozen=True)
class Root:
    """A prefix on a store: its fsspec file system, the path the file system uses, and the URL as given."""

    fs: Any
    path: str
    url: str

    def key(self, rel: str) -> str:
        return f"{self.path}/{rel}" if self.path else rel

    def where(self) -> tuple[str, str]:
        """The protocol and normalised path, to compare two roots."""
        protocol = self.fs.protocol if isinstance(self.fs.protocol, str) else self.fs.protocol[0]
        return protocol, self.path.strip("/")


def open_root(name: str, url: str) -> Root:
    """The file system of ``url``; an unknown protocol or a missing backend is a usage error (exit 2)."""
    import fsspec

    protocol = url.split("://", 1)[0]
    try:
        cls = fsspec.get_filesystem_class(protocol)
    except ValueError:
        raise InputError(f"{name} {url}: unknown URL protocol {protocol!r} (fsspec knows "
                         f"{', '.join(sorted(p for p in fsspec.available_protocols() if len(p) < 8))})") from None
    except ImportError:
        need = _BACKENDS.get(protocol, f"the fsspec backend of {protocol}://")
        raise InputError(f"{name} {url}: {protocol}:// needs {need}, which is not installed") from None
    options = own_options(protocol)
    with store_errors(name, url):
        fs = fsspec.filesystem(protocol, **options)
        fs.invalidate_cache()  # fsspec shares instances: a listing cached by an earlier call is not used
    path = cls._strip_protocol(url).rstrip("/")
    if not path.strip("/"):
        raise InputError(f"{name} {url}: expected a bucket or folder, got the root of the store")
    return Root(fs, path, url.rstrip("/"))


def own_options(protocol: str) -> dict[str, Any]:
    """The storage options augcli gives a file system itself (never credentials: those are fsspec's to find)."""
    import fsspec

    if protocol in ("s3", "s3a") and "config_kwargs" not in fsspec.config.conf.get("s3", {}):
        return {"config_kwargs": _S3_CONFIG}
    return {}


@contextmanager
def store_errors(name: str, url: str) -> Iterator[None]:
    """A store's failure as one line: a missing bucket or no access is the caller's (2), the rest a failed run (1)."""
    try:
        yield
    except AugcliError:
        raise
    except FileNotFoundError as exc:
        raise InputError(f"{name} {url}: not found on the store ({_brief(exc)}); check the bucket name") from None
    except PermissionError as exc:
        raise InputError(f"{name} {url}: access denied ({_brief(exc)}); check the credentials fsspec uses "
                         "(environment, ~/.aws, fsspec configuration)") from None
    except Exception as exc:  # botocore's NoCredentialsError, ClientError, timeouts, aiohttp errors, ...
        if type(exc).__name__ in ("NoCredentialsError", "PartialCredentialsError"):
            raise InputError(f"{name} {url}: no credentials found for the store; set them as fsspec's backend "
                             "expects (AWS_ACCESS_KEY_ID/AWS_SECRET_ACCESS_KEY, ~/.aws, or fsspec's "
                             "configuration)") from None
        raise RunError(f"{name} {url}: the store failed ({type(exc).__name__}: {_brief(exc)})") from None


def _brief(exc: BaseException) -> str:
    text = " ".join(str(exc).split())
    return text[:300] or type(exc).__name__


def _mtime_ns(info: Mapping[str, Any]) -> int:
    """An object's modification time from its listing entry (s3fs, gcsfs, adlfs, memory), in nanoseconds."""
    for key in ("LastModified", "mtime", "last_modified", "updated", "created"):
        value = info.get(key)
        if isinstance(value, datetime):
            return int(value.timestamp() * 1_000_000) * 1000
        if isinstance(value, (int, float)) and not isinstance(value, bool):
            return int(value * 1_000_000) * 1000
        if isinstance(value, str):
            try:
                return int(datetime.fromisoformat(value.replace("Z", "+00:00")).timestamp() * 1_000_000) * 1000
            except ValueError:
                continue
    return 0


def listing(root: Root, name: str) -> dict[str, Mapping[str, Any]]:
    """The objects under ``root`` by relative path, from one listing; keys no local file can name are left out
    (``..`` or empty parts, a part over 255 bytes, a key that is also a folder of other keys)."""
    with store_errors(name, root.url):
        found = root.fs.find(root.path, detail=True, withdirs=False)
    prefix = root.path.rstrip("/") + "/"
    items: dict[str, Mapping[str, Any]] = {}
    for path, info in sorted(found.items()):
        if info.get("type", "file") != "file":
            continue
        text = path if path.startswith("/") == prefix.startswith("/") else "/" + path.lstrip("/")
        if text.rstrip("/") == prefix.rstrip("/"):
            raise InputError(f"{name} {root.url}: an object, expected a folder (a prefix)")
        rel = text[len(prefix):] if text.startswith(prefix) else ""
        if safe_rel(rel) and all(len(os.fsencode(part)) <= 255 for part in rel.split("/")):
            items[rel] = info
    folders = {rel[:at] for rel in items for at, char in enumerate(rel) if char == "/"}
    return {rel: info for rel, info in items.items() if rel not in folders}


@dataclass
class Fetched:
    """What a staging folder held when fetched: each file's stat, and the digest of the top files."""

    stats: dict[str, tuple[int, int, int]] = field(default_factory=dict)
    digests: dict[str, str] = field(default_factory=dict)


def fetch(root: Root, items: Mapping[str, Mapping[str, Any]], local: Path, name: str,
           *, digests: bool = False) -> Fetched:
    """Copy the listed objects into ``local`` with their listing's mtime (concurrent GETs where the backend can)."""
    rels = sorted(items)
    for rel in rels:
        (local / rel).parent.mkdir(parents=True, exist_ok=True)
    if rels:
        with store_errors(name, root.url):
            root.fs.get([root.key(rel) for rel in rels], [os.fspath(local / rel) for rel in rels])
    fetched = Fetched()
    for rel in rels:
        mtime = _mtime_ns(items[rel])
        os.utime(local / rel, ns=(mtime, mtime))
        stat = os.lstat(local / rel)
        fetched.stats[rel] = (stat.st_size, stat.st_mtime_ns, stat.st_ino)
        if digests and "/" not in rel:
            fetched.digests[rel] = sha256(local / rel)
    return fetched


def sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        while chunk := handle.read(1 << 20):
            digest.update(chunk)
    return digest.hexdigest()


class StoreLock:
    """A lock object in the output prefix: a random token written, then read back.

    Object stores have no create-if-absent for every backend, so two clients starting within the same
    moment can both pass; the read-back catches a writer that came between. A lock left by a killed run on
    this host (its process gone) is taken over; one from another host must be deleted by hand.
    """

    def __init__(self, root: Root) -> None:
        self.root = root
        self.key = root.key(LOCK)
        self.token = f"{socket.gethostname()} {os.getpid()} {uuid.uuid4().hex}".encode()

    def __enter__(self) -> StoreLock:
        fs = self.root.fs
        with store_errors("output", self.root.url):
            if fs.exists(self.key) and not self._stale(fs.cat_file(self.key)):
                raise RunError(f"another augcli run is writing to {self.root.url} (lock object "
                               f"{self.root.url}/{LOCK}); wait for it, or delete the lock if no run is writing")
            fs.pipe_file(self.key, self.token)
            if fs.cat_file(self.key) != self.token:
                raise RunError(f"another augcli run took the lock {self.root.url}/{LOCK} at the same moment; "
                               "run again when it is done")
        return self

    @staticmethod
    def _stale(held: bytes) -> bool:
        """True for a lock this host's process left behind (that process is gone)."""
        parts = held.decode("utf-8", "replace").split()
        if len(parts) != 3 or parts[0] != socket.gethostname() or not parts[1].isdigit():
            return False
        try:
            os.kill(int(parts[1]), 0)
        except ProcessLookupError:
            return True
        except (PermissionError, OverflowError):
            return False
        return int(parts[1]) == os.getpid()

    def __exit__(self, *exc: object) -> None:
        try:
            if self.root.fs.cat_file(self.key) == self.token:
                self.root.fs.rm_file(self.key)
        except Exception:  # a lock that cannot be removed is reported by the next run
            pass


def put(root: Root, local: Path, rels: Iterable[str]) -> None:
    """Write each file as one whole object: ``pipe`` hands the store all of an object's bytes at once (one PUT;
    s3fs uses a multipart upload, shown only once complete, for a very large one). Batches bound the memory."""
    batch: dict[str, bytes] = {}
    size = 0
    for rel in rels:
        data = (local / rel).read_bytes()
        batch[root.key(rel)] = data
        size += len(data)
        if len(batch) >= PUT_BATCH or size >= PUT_BYTES:
            root.fs.pipe(batch)
            batch, size = {}, 0
    if batch:
        root.fs.pipe(batch)
