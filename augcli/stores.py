"""Inputs and outputs on object stores and other fsspec URLs (``s3://``, ``gs://``, ``az://``, ``memory://``).

A run whose input, output or manifest is a URL runs the local machinery unchanged on a *staging* folder of
this machine; on the staging path this module moves the bytes at both ends (:func:`staging`):

- **In.** The input prefix is listed once (one ``find``, no request per object) and fetched into a local
  folder; each file gets the object's size and its modification time from the listing, so the run's
  source stamps (size, mtime) are the same on every rerun while the object is unchanged.
- **Out.** The output prefix is listed once and fetched (augcli's earlier outputs and records, and any
  object of a user's, so the local rules on what augcli may overwrite or delete judge them as on a disk);
  a lock object is taken first. After the run (finished, failed or stopped) the staging folder is compared
  with what was fetched and the store is brought level, in an order that keeps every object listed in the
  store's manifest: first the objects the run removed or replaced are deleted, then the run record,
  ``manifest.csv`` and ``augcli-sources.csv`` are written, then the new outputs, then the other top files.
  Each object is written whole (one PUT; s3fs sends a big file as a multipart upload, which the store shows
  only once complete), so no partial object is ever visible.

The **direct** path (the default for ``expand`` and ``balance`` other than SMOTE with input and output on
one ``s3://``, ``gs://`` or ``az://`` store, and always with a remote scheduler) stages names, not bytes:
sparse placeholders from one listing of each prefix (:func:`_stage_in_sparse`, :func:`_stage_out_sparse`),
the top files fetched; the workers GET and PUT the objects (:mod:`augcli.direct`); the records go up
before the first worker starts and at the end, and no output is ever sent from here.

``file://`` URLs are plain local paths. The store side (listing, fetching, whole-object writes, the lock)
is :mod:`augcli.store_io`; fsspec is imported there, only when a URL is given.
"""

from __future__ import annotations

import csv
import hashlib
import io
import json
import os
import re
import shutil
import tempfile
import threading
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field, fields, replace
from pathlib import Path
from typing import Any

from augcli import direct as D
from augcli import store_io
from augcli.errors import AugcliError, InputError, option
from augcli.io import TMP_SUFFIX, is_image_name, unsupported_reason
from augcli.manifest import LOCK, MANIFEST, RUN_RECORD, SOURCES
from augcli.store_io import Root, open_root

_URL = re.compile(r"^([A-Za-z][A-Za-z0-9+.-]*):/+(.*)$", re.DOTALL)  # a Path turns '//' into '/'
# Written first after the deletes: every output the store holds is then listed in its manifest.
_RECORDS = (RUN_RECORD, MANIFEST, SOURCES)
_PATH_ARGS = ("input", "output", "manifest")
SYNC_ENV = "AUGCLI_STORE_SYNC"
SYNC_DEFAULT = 60.0  # seconds between uploads while a run goes on


class Url(str):
    """A URL shown in a result where a local path would be (``url / "manifest.csv"`` works as for a Path)."""

    __slots__ = ()

    def __truediv__(self, name: str) -> Url:
        return Url(f"{self.rstrip('/')}/{name}")


def url_of(path: Any) -> str | None:
    """``protocol://path`` for a URL argument (a str, or a Path that folded its ``//``), else None."""
    if not isinstance(path, (str, Path)):
        return None
    match = _URL.match(os.fspath(path))
    if match is None:
        return None
    return f"{match.group(1).lower()}://{match.group(2)}"


@dataclass
class Stage:
    """A run's local stand-ins for its URL arguments, and what to write back to the output store."""

    folder: Path
    urls: dict[Path, str] = field(default_factory=dict)  # local stand-in -> URL
    out: Root | None = None
    out_local: Path | None = None
    fetched: store_io.Fetched = field(default_factory=store_io.Fetched)
    direct: D.Direct | None = None  # workers read and write the store themselves (augcli.direct)
    syncing: threading.Lock = field(default_factory=threading.Lock)  # one sync at a time (periodic, hook, end)

    def result(self, result: Any) -> Any:
        """The run's result with its staging paths shown as the URLs they stand for."""
        changes = {f.name: self._shown(getattr(result, f.name)) for f in fields(result)
                   if isinstance(getattr(result, f.name), Path)}
        return replace(result, **{k: v for k, v in changes.items() if v is not None})

    def _shown(self, path: Path) -> Url | None:
        for local, url in self.urls.items():
            if path == local or local in path.parents:
                rel = path.relative_to(local).as_posix()
                return Url(url) if rel == "." else Url(url) / rel
        return None

    def message(self, exc: AugcliError) -> None:
        """Name the URLs, not the staging folders, in an error's message."""
        def swap(text: str) -> str:
            for local, url in sorted(self.urls.items(), key=lambda item: -len(str(item[0]))):
                text = text.replace(str(local), url)
            return text

        exc.args = tuple(swap(a) if isinstance(a, str) else a for a in exc.args)
        for name in ("where", "got", "hint", "source"):
            if isinstance(getattr(exc, name, None), str):
                setattr(exc, name, swap(getattr(exc, name)))


def _check_apart(roots: dict[str, Root]) -> None:
    """Refuse an output on the same store prefix as, inside, or around the input (or the manifest's folder)."""
    out = roots.get("output")
    if out is None:
        return
    protocol, path = out.where()
    for name in ("input", "manifest"):
        other = roots.get(name)
        if other is None:
            continue
        their_protocol, theirs = other.where()
        if name == "manifest":
            theirs = theirs.rsplit("/", 1)[0] if "/" in theirs else ""
        if their_protocol != protocol:
            continue
        if path == theirs or path.startswith(theirs + "/") or theirs.startswith(path + "/"):
            raise InputError(f"output {out.url} and {name} {other.url} overlap on the store; choose an output "
                             "prefix outside the input (the input is never written to)")


def _remote(given: Mapping[str, Any]) -> bool:
    """Whether the run goes to a Dask scheduler that is not on this machine's loopback address."""
    scheduler = given.get("scheduler")
    return given.get("executor") == "dask" and scheduler is not None and not _loopback(str(scheduler))


def _refuse_remote(given: Mapping[str, Any], roots: Mapping[str, Root]) -> None:
    """A run with URLs that is not direct stages its files on this machine: a remote cluster's workers could
    not see them (a scheduler on this machine's loopback address has its workers here too)."""
    if _remote(given):
        url = next(iter(roots.values())).url
        raise InputError(f"{url}: object-store runs stage their files on this machine, so their workers must run "
                         f"here too: use {option('executor', 'local')}, or {option('executor', 'dask')} without "
                         f"{option('scheduler')} (a LocalCluster here); a remote cluster reads and writes the "
                         "store itself only for expand and balance (not SMOTE) with input and output both on "
                         "s3://, gs:// or az://; see docs/distributed.md")


_DIRECT_PROTOCOLS = ("s3", "s3a", "gs", "gcs", "az", "abfs", "abfss")  # not memory://: it lives in one process


def _direct(given: Mapping[str, Any], roots: Mapping[str, Root]) -> D.Direct | None:
    """The store side of a direct run (workers GET and PUT the objects), or None to stage the bytes.

    Direct when ``AUGCLI_STORE_DIRECT=1`` or the scheduler is remote, for expand and balance by transforms,
    mixing or undersampling (replay and SMOTE read files in the client) with input and output on one store.
    """
    text = os.environ.get(D.DIRECT_ENV, "")
    if text not in ("", "0", "1"):
        raise InputError(f"{D.DIRECT_ENV}: expected 0 or 1, got {text!r}")
    if text == "0" and not _remote(given):
        return None
    src, out = roots.get("input"), roots.get("output")
    if (src is None or out is None or given.get("manifest") is not None or _smote(given)
            or src.where()[0] != out.where()[0] or src.where()[0] not in _DIRECT_PROTOCOLS):
        return None
    return D.Direct(src.where()[0], src.path, out.path, src.url, out.url, store_io.own_options(src.where()[0]))


def _loopback(address: str) -> bool:
    """Whether a scheduler address is on this machine's loopback interface (or in this process)."""
    from urllib.parse import urlsplit

    try:
        parts = urlsplit(address)
        host = parts.hostname or ""
    except ValueError:
        return False
    return parts.scheme == "inproc" or host in ("localhost", "::1") or host.startswith("127.")


@contextmanager
def staging(given: dict[str, Any]) -> Iterator[Stage]:
    """Replace the URL arguments in ``given`` by local staging folders; write the output back at the end."""
    roots = _roots(given)
    folder = Path(tempfile.mkdtemp(prefix="augcli-store-"))
    stage = Stage(folder)
    token = None
    try:
        stage.direct = _direct(given, roots) if roots else None
        if roots and stage.direct is None:
            _refuse_remote(given, roots)
        if roots:
            _check_apart(roots)
        for name in ("input", "manifest"):
            if name in roots:
                given[name] = (_stage_in_sparse(stage, roots[name]) if stage.direct is not None
                               else _stage_in(stage, name, roots[name]))
        _recorded_input(stage, given, roots)
        token = D.ACTIVE.set(stage.direct)
        with _output(stage, given, roots.get("output")):
            yield stage
    except AugcliError as exc:
        stage.message(exc)
        raise
    finally:
        if token is not None:
            D.ACTIVE.reset(token)
        if stage.direct is not None:
            D.BEFORE_WORK.pop(stage.direct.out_url, None)
            for local in [local for local in D.MOUNTS if local == folder or folder in local.parents]:
                del D.MOUNTS[local]
        shutil.rmtree(folder, ignore_errors=True)


def _recorded_input(stage: Stage, given: dict[str, Any], roots: dict[str, Root]) -> None:
    """replay without ``input``: when the run record beside the manifest names a URL, stage that input."""
    if given.get("manifest") is None or given.get("input") is not None:
        return
    try:
        recorded = json.loads((Path(given["manifest"]).parent / RUN_RECORD).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return  # replay itself says what is missing
    url = url_of(recorded.get("input")) if isinstance(recorded, dict) else None
    if url is not None and not url.startswith("file://"):
        roots["input"] = open_root("input", url)
        _check_apart(roots)
        given["input"] = _stage_in(stage, "input", roots["input"])


def _roots(given: dict[str, Any]) -> dict[str, Root]:
    """The stores of the URL arguments (a ``file://`` URL becomes its local path in ``given``)."""
    roots = {}
    for name in _PATH_ARGS:
        url = url_of(given.get(name))
        if url is not None and url.startswith("file://"):
            given[name] = Path("/" + url[len("file://"):].lstrip("/"))
        elif url is not None:
            roots[name] = open_root(name, url)
    return roots


@contextmanager
def _output(stage: Stage, given: dict[str, Any], root: Root | None) -> Iterator[None]:
    """Stage the output store under its lock and bring it level after the run; a local output keeps its place."""
    if root is None:
        try:
            yield
        finally:  # a local output: its run record names the input URL too
            if isinstance(given.get("output"), (str, Path)):
                _record_urls(stage, Path(given["output"]) / RUN_RECORD)
        return
    every = sync_every()
    with store_io.StoreLock(root):
        given["output"] = _stage_out(stage, root) if stage.direct is None else _stage_out_sparse(stage, root)
        periodic = _Periodic(stage, every) if every > 0 else None
        try:
            if periodic is not None:
                periodic.start()
            yield
        finally:
            if periodic is not None:
                periodic.stop()
            _sync(stage)


def _stage_in(stage: Stage, name: str, root: Root) -> Path:
    """Fetch an input prefix (or, for a manifest, the folder holding it) into the staging folder."""
    local = stage.folder / name
    local.mkdir()
    if name == "manifest":
        parent, _, leaf = root.path.rpartition("/")
        folder = Root(root.fs, parent, root.url.rsplit("/", 1)[0])
        items = store_io.listing(folder, name)
        if leaf not in items:
            raise InputError(f"manifest {root.url}: not found on the store")
        store_io.fetch(folder, items, local, name)
        stage.urls[local] = folder.url
        return local / leaf
    items = store_io.listing(root, name)
    store_io.fetch(root, {rel: info for rel, info in items.items() if _read(rel)}, local, name)
    for rel in items:  # what the scan judges by its name alone: an empty stand-in, nothing fetched
        if not _read(rel) and not any(part.startswith(".") for part in rel.split("/")):
            (local / rel).parent.mkdir(parents=True, exist_ok=True)
            (local / rel).touch()
    stage.urls[local] = root.url
    return local


def _smote(given: Mapping[str, Any]) -> bool:
    """Whether a balance run is SMOTE's (its features are read in the client), by its option or its recipe's
    ``balance`` section; a recipe that cannot be read here takes the staging path (the run then says why)."""
    if "method" not in given:
        return False
    if given["method"] is not None:
        return bool(given["method"] == "smote")
    from augcli.recipe import Recipe, balance_section, load_recipe

    try:
        rec = given.get("recipe")
        rec = rec if isinstance(rec, Recipe) else load_recipe(rec, allow_custom=bool(given.get("allow_custom", True)))
        return balance_section(rec.balance).get("method") == "smote"
    except Exception:
        return True


def _stage_in_sparse(stage: Stage, root: Root) -> Path:
    """Direct mode: the input prefix as sparse placeholders (the objects' sizes and listing mtimes), from
    one listing; the workers GET the bytes."""
    assert stage.direct is not None
    local = stage.folder / "input"
    local.mkdir()
    for rel, info in store_io.listing(root, "input").items():
        if not any(part.startswith(".") for part in rel.split("/")):
            mtime = store_io._mtime_ns(info)
            D.placeholder(local / rel, _size(info), mtime)
    stage.urls[local] = root.url
    D.MOUNTS[local] = (stage.direct, "in")
    return local


def _size(info: Mapping[str, Any]) -> int:
    size = info.get("size", info.get("Size", 0))
    return int(size) if isinstance(size, (int, float)) and size >= 0 else 0


def _stage_out_sparse(stage: Stage, root: Root) -> Path:
    """Direct mode: the output prefix's top files (the records) fetched; its other objects as placeholders.

    When the store holds a run record, an object its manifest does not list gets no placeholder: it is
    either a user's (never seen by the run, so never removed) or an output of a run whose client was killed
    after a worker's PUT (the record is sent before any; a planned output there is made and written again,
    with the same bytes for the same run).
    """
    assert stage.direct is not None
    local = stage.folder / "output"
    local.mkdir()
    items = {rel: info for rel, info in store_io.listing(root, "output").items()
             if rel != LOCK and not rel.rsplit("/", 1)[-1].endswith(TMP_SUFFIX)}
    top = {rel: info for rel, info in items.items() if "/" not in rel}
    stage.fetched = store_io.fetch(root, top, local, "output", digests=True)
    listed = None
    if RUN_RECORD in top:
        manifest = local / MANIFEST
        listed = _listed(manifest.read_bytes()) if manifest.is_file() else set()
    for rel, info in items.items():
        if "/" in rel and (listed is None or rel in listed):
            D.placeholder(local / rel, _size(info), store_io._mtime_ns(info))
            stat = os.lstat(local / rel)
            stage.fetched.stats[rel] = (stat.st_size, stat.st_mtime_ns, stat.st_ino)
    if listed is not None:  # workers may rewrite these names only with the bytes already there
        unlisted = frozenset(rel for rel in items if "/" in rel and rel not in listed)
        stage.direct = replace(stage.direct, unrecorded=unlisted)
        D.ACTIVE.set(stage.direct)  # staging()'s reset restores what it found
    stage.out, stage.out_local = root, local
    stage.urls[local] = root.url
    D.MOUNTS[local] = (stage.direct, "out")
    D.BEFORE_WORK[stage.direct.out_url] = lambda: _sync(stage, early=True)
    return local


def _read(rel: str) -> bool:
    """Whether a run reads an input file's bytes: a visible file with an image name of a format augcli reads
    (the scan skips hidden names and lists other names as problems or ignores them, by the name alone)."""
    leaf = rel.rsplit("/", 1)[-1]
    return (not any(part.startswith(".") for part in rel.split("/")) and is_image_name(leaf)
            and unsupported_reason(leaf) is None)


def _stage_out(stage: Stage, root: Root) -> Path:
    """Fetch what the output prefix holds (but the lock) into the staging folder."""
    local = stage.folder / "output"
    local.mkdir()
    items = {rel: info for rel, info in store_io.listing(root, "output").items()
             if rel != LOCK and not rel.rsplit("/", 1)[-1].endswith(TMP_SUFFIX)}
    stage.fetched = store_io.fetch(root, items, local, "output", digests=True)
    stage.out, stage.out_local = root, local
    stage.urls[local] = root.url
    return local


def _now(local: Path) -> dict[str, tuple[int, int, int]]:
    """The staging output's files after the run (augcli's temporaries and its local lock left out)."""
    found: dict[str, tuple[int, int, int]] = {}
    for folder, _, files in os.walk(local):
        for leaf in files:
            path = Path(folder, leaf)
            rel = path.relative_to(local).as_posix()
            if rel == LOCK or (leaf.startswith(".") and leaf.endswith(TMP_SUFFIX)) or path.is_symlink():
                continue
            try:
                stat = os.lstat(path)
            except FileNotFoundError:  # removed since it was listed (the run goes on beside a periodic sync)
                continue
            found[rel] = (stat.st_size, stat.st_mtime_ns, stat.st_ino)
    return found


def _changed(stage: Stage, now: Mapping[str, tuple[int, int, int]]) -> list[str]:
    """Files the run wrote or rewrote (a top file rewritten with the same bytes is not one)."""
    assert stage.out_local is not None
    changed = []
    for rel, stat in now.items():
        before = stage.fetched.stats.get(rel)
        if before == stat:
            continue
        if before is not None and rel in stage.fetched.digests and \
                store_io.sha256(stage.out_local / rel) == stage.fetched.digests[rel]:
            continue
        changed.append(rel)
    return sorted(changed)


def _sync(stage: Stage, *, early: bool = False) -> None:
    """Bring the output store level with the staging folder, every object written whole, in the safe order
    (``early``: before a direct run's workers start; a top file the run removes to write again is left)."""
    with stage.syncing:
        _sync_now(stage, early)


def _sync_now(stage: Stage, early: bool) -> None:
    root, local = stage.out, stage.out_local
    if root is None or local is None or not local.is_dir():
        return
    _record_urls(stage, local / RUN_RECORD)
    now = _now(local)
    changed = _changed(stage, now)
    gone = [rel for rel in stage.fetched.stats if rel not in now and ("/" in rel or not early)]
    direct = stage.direct is not None  # the workers wrote the outputs already: no output is sent or replaced
    replaced = [rel for rel in changed if rel in stage.fetched.stats and "/" in rel and not direct]
    records = [rel for rel in _RECORDS if rel in changed]
    outputs = [rel for rel in changed if "/" in rel and not direct]
    rest = [rel for rel in changed if "/" not in rel and rel not in _RECORDS]
    with store_io.store_errors("output", root.url):
        if gone or replaced:
            root.fs.rm([root.key(rel) for rel in sorted({*gone, *replaced})])
        for rel in gone:
            stage.fetched.stats.pop(rel, None)
        for batch in (records, outputs, rest):
            store_io.put(root, local, batch)
        if direct:  # sent: compared with what the folder holds from now on (the hook before the workers)
            for rel in (*records, *rest):
                stage.fetched.stats[rel] = now[rel]
                stage.fetched.digests[rel] = store_io.sha256(local / rel)


class _Periodic(threading.Thread):
    """Sends what a run has made to the store every ``every`` seconds while it runs, so a client killed
    outright (SIGKILL, a lost machine) leaves the store a resumable state, not only what earlier runs sent."""

    def __init__(self, stage: Stage, every: float) -> None:
        super().__init__(name="augcli-store-sync", daemon=True)
        self.stage, self.every, self.halt = stage, every, threading.Event()

    def run(self) -> None:
        while not self.halt.wait(self.every):
            try:
                with self.stage.syncing:
                    _sync_made(self.stage)
            except Exception:  # the store failing now fails the final sync too, which says so
                return

    def stop(self) -> None:
        self.halt.set()
        self.join()


def sync_every() -> float:
    """Seconds between uploads during a run: ``AUGCLI_STORE_SYNC`` (0 sends only at the end), default 60."""
    text = os.environ.get(SYNC_ENV, "")
    try:
        every = float(text) if text else SYNC_DEFAULT
    except ValueError:
        every = -1.0
    if not 0 <= every <= 86_400:
        raise InputError(f"{SYNC_ENV}: expected seconds in [0, 86400], got {text!r}")
    return every


def _sync_made(stage: Stage) -> None:
    """Send the outputs the manifest lists so far, the manifest first (its lines up to the last whole one)."""
    root, local = stage.out, stage.out_local
    if root is None or local is None:
        return
    snapshot = {name: _whole_lines(local / name) for name in (MANIFEST, SOURCES)}
    listed = _listed(snapshot[MANIFEST])
    now = _now(local)
    changed = _changed(stage, now)
    gone = [rel for rel in stage.fetched.stats if rel not in now]
    direct = stage.direct is not None  # the workers wrote the outputs already
    replaced = [rel for rel in changed if rel in stage.fetched.stats and "/" in rel and not direct]
    outputs = [rel for rel in changed if "/" in rel and rel in listed and not direct]
    with store_io.store_errors("output", root.url):
        if gone or replaced:
            root.fs.rm([root.key(rel) for rel in sorted({*gone, *replaced})])
            for rel in {*gone, *replaced}:
                del stage.fetched.stats[rel]
        texts = {RUN_RECORD: _record_bytes(stage, local / RUN_RECORD), **snapshot}
        for name in _RECORDS:  # the records first: every output object stays listed in the store's manifest
            data = texts[name]
            if data is not None and hashlib.sha256(data).hexdigest() != stage.fetched.digests.get(name):
                root.fs.pipe_file(root.key(name), data)
                stage.fetched.digests[name] = hashlib.sha256(data).hexdigest()
                stage.fetched.stats[name] = (-1, -1, -1)  # compared by digest from now on
        store_io.put(root, local, outputs)
    for rel in outputs:
        stage.fetched.stats[rel] = now[rel]


def _whole_lines(path: Path) -> bytes | None:
    """A file being appended to, up to its last complete line (None when there is none yet)."""
    try:
        data = path.read_bytes()
    except OSError:
        return None
    return data[:data.rfind(b"\n") + 1] or None


def _listed(manifest: bytes | None) -> set[str]:
    """The output paths a manifest's lines name."""
    if manifest is None:
        return set()
    reader = csv.reader(io.StringIO(manifest.decode("utf-8", "surrogateescape")))
    header = next(reader, [])
    if "path" not in header:
        return set()
    at = header.index("path")
    return {row[at] for row in reader if len(row) > at}


def _record_bytes(stage: Stage, record: Path) -> bytes | None:
    """The run record as the store gets it: the input named by its URL."""
    try:
        text = record.read_text(encoding="utf-8")
    except (OSError, ValueError):
        return None
    for local, url in stage.urls.items():
        text = text.replace(json.dumps(str(local)), json.dumps(url))
    return text.encode("utf-8")


def _record_urls(stage: Stage, record: Path) -> None:
    """The run record names the input by its URL, not by the staging folder (its ``input`` is context)."""
    if not record.is_file() or record.is_symlink():
        return
    data = text = record.read_text(encoding="utf-8")
    for local, url in stage.urls.items():
        text = text.replace(json.dumps(str(local)), json.dumps(url))
    if text != data:
        tmp = record.with_name(f".{record.name}{TMP_SUFFIX}")
        tmp.write_text(text, encoding="utf-8")
        os.replace(tmp, record)


