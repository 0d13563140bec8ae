"""Inputs and outputs on fsspec URLs (augcli/stores.py): fsspec's ``memory://`` file system, and ``s3://`` on
moto's S3 server started on 127.0.0.1 for this module. The oracle is always a local run of the same command
on the same files: the store's objects must be its bytes (``augcli-sources.csv`` records each input's mtime,
which on a store is the object's; ``augcli-run.json`` names the input by its URL).

Runs with two local workers come before the one dask run (no fork from this process after a cluster's
threads ran in it)."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import fsspec
import pytest
from fsspec.implementations.memory import MemoryFileSystem

from augcli import api, store_io, stores
from augcli import manifest as M
from augcli.errors import InputError, RunError

RECIPE = """\
seed: 5
copies: 2
pipeline:
  - hflip: {p: 0.5}
  - rotate: {degrees: [-20, 20], p: 0.7}
  - gaussian_noise: {std: [2, 6], p: 0.5}
"""


@pytest.fixture(autouse=True)
def staged(monkeypatch: pytest.MonkeyPatch) -> None:
    """This module tests the staging path (``AUGCLI_STORE_DIRECT=0``); tests/test_direct.py the direct one."""
    monkeypatch.setenv("AUGCLI_STORE_DIRECT", "0")


@pytest.fixture
def recipe(tmp_path: Path) -> Path:
    path = tmp_path / "r.yaml"
    path.write_text(RECIPE)
    return path


@pytest.fixture
def memory() -> Iterator[MemoryFileSystem]:
    fs = MemoryFileSystem()
    yield fs
    fs.store.clear()
    fs.pseudo_dirs[:] = [""]


@pytest.fixture(scope="module")
def s3_server() -> Iterator[str]:
    """moto's S3 server on a free loopback port; s3fs finds it through fsspec's configuration (and the
    environment, for any process started from here)."""
    from moto.server import ThreadedMotoServer

    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=port, verbose=False)
    server.start()
    endpoint = f"http://127.0.0.1:{port}"
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("FSSPEC_S3_ENDPOINT_URL", endpoint)
        patch.setenv("AWS_ACCESS_KEY_ID", "testing")
        patch.setenv("AWS_SECRET_ACCESS_KEY", "testing")
        patch.setenv("AWS_DEFAULT_REGION", "us-east-1")
        patch.setitem(fsspec.config.conf, "s3", {"endpoint_url": endpoint})
        try:
            yield endpoint
        finally:
            server.stop()


@pytest.fixture
def s3(s3_server: str) -> tuple[Any, str]:
    """The s3 file system and a new empty bucket for the test."""
    fs = fsspec.filesystem("s3")
    bucket = f"augcli-{uuid.uuid4().hex[:12]}"
    fs.mkdir(bucket)
    return fs, bucket


def _tree(make_tree: Any) -> Path:
    """Two classes, an unreadable file (so errors.csv is written too), files the scan judges by name (a
    format augcli does not read, a text file, a hidden folder: a store run fetches none of them)."""
    src = make_tree({"a": 3, "b": 2}, size=(16, 20))
    (src / "b" / "broken.png").write_bytes(b"\x89PNG\r\n\x1a\n not an image")
    (src / "b" / "clip.gif").write_bytes(b"GIF89a not read")
    (src / "a" / "notes.txt").write_bytes(b"a note")
    (src / "a" / ".cache").mkdir()
    (src / "a" / ".cache" / "x.png").write_bytes((src / "a" / "a_000.png").read_bytes())
    return src


def _upload(fs: Any, src: Path, prefix: str) -> None:
    for path in sorted(src.rglob("*")):
        if path.is_file():
            fs.pipe_file(f"{prefix}/{path.relative_to(src).as_posix()}", path.read_bytes())


def _files(root: Path) -> dict[str, bytes]:
    return {p.relative_to(root).as_posix(): p.read_bytes() for p in sorted(root.rglob("*")) if p.is_file()}


def _objects(fs: Any, prefix: str) -> dict[str, bytes]:
    fs.invalidate_cache()
    found = fs.find(prefix)
    start = len(fs._strip_protocol(prefix).rstrip("/")) + 1
    return {key[start:]: fs.cat_file(key) for key in found}


def _keys(fs: Any, prefix: str) -> list[str]:
    fs.invalidate_cache()
    return [key[len(prefix) + 1:] for key in fs.find(prefix)]


def _same(local: dict[str, bytes], stored: dict[str, bytes], url: str) -> None:
    """The store holds the local run's files: the same names and bytes; the records as said above."""
    assert sorted(local) == sorted(stored)
    for rel in local:
        if rel == M.SOURCES:  # path,size,mtime_ns,sha256: all but the mtimes
            strip = [[line.split(",")[i] for i in (0, 1, 3)] for line in local[rel].decode().splitlines()]
            assert strip == [[line.split(",")[i] for i in (0, 1, 3)] for line in stored[rel].decode().splitlines()]
        elif rel == M.RUN_RECORD:
            mine, theirs = json.loads(local[rel]), json.loads(stored[rel])
            assert theirs.pop("input") == url
            mine.pop("input")
            assert mine == theirs
        else:
            assert local[rel] == stored[rel], rel


def _times(fs: Any, prefix: str) -> dict[str, Any]:
    fs.invalidate_cache()
    return {key: (info.get("LastModified"), info.get("created"), info.get("ETag"))
            for key, info in fs.find(prefix, detail=True).items()}


# ---------------------------------------------------------------- memory://


def test_memory_expand_equals_local_and_resumes(tmp_path: Path, make_tree: Any, recipe: Path,
                                                memory: MemoryFileSystem, monkeypatch: pytest.MonkeyPatch) -> None:
    src = _tree(make_tree)
    _upload(memory, src, "/data/in")
    local = api.expand(src, tmp_path / "local", recipe=recipe, workers=2)
    fetched: list[str] = []
    real = store_io.fetch

    def fetch(root: Any, items: Any, *args: Any, **kwargs: Any) -> Any:
        fetched.extend(items)
        return real(root, items, *args, **kwargs)

    monkeypatch.setattr(store_io, "fetch", fetch)
    stored = api.expand("memory://data/in", "memory://data/out", recipe=recipe, workers=2)
    assert sorted(fetched) == ["a/a_000.png", "a/a_001.png", "a/a_002.png", "b/b_000.png", "b/b_001.png",
                               "b/broken.png"]
    assert (stored.made, stored.errors) == (local.made, local.errors) and local.made == 15
    assert str(stored.output) == "memory://data/out" and str(stored.manifest) == "memory://data/out/manifest.csv"
    _same(_files(tmp_path / "local"), _objects(memory, "/data/out"), "memory://data/in")
    assert M.ERRORS in _objects(memory, "/data/out") and M.LOCK not in _objects(memory, "/data/out")

    before = _times(memory, "/data/out")
    again = api.expand("memory://data/in", "memory://data/out", recipe=recipe, workers=2)
    assert (again.made, again.kept) == (0, 15)
    assert _times(memory, "/data/out") == before  # nothing was written again

    memory.rm(["/data/out/a/a_000__aug001.png", "/data/out/b/b_001.png"])
    third = api.expand("memory://data/in", "memory://data/out", recipe=recipe, workers=2)
    assert (third.made, third.kept) == (2, 13)
    _same(_files(tmp_path / "local"), _objects(memory, "/data/out"), "memory://data/in")


def test_memory_a_users_objects_are_never_removed(tmp_path: Path, make_tree: Any, recipe: Path,
                                                  memory: MemoryFileSystem) -> None:
    """--overwrite with another seed removes augcli's earlier outputs (proven by their sha256), not a user's."""
    src = make_tree({"a": 2, "b": 1}, size=(16, 16))
    _upload(memory, src, "/d/in")
    users = {"a/mine.png": b"a user's bytes", "notes/readme.txt": b"hello"}
    api.expand(src, tmp_path / "local", recipe=recipe, workers=1)
    api.expand("memory://d/in", "memory://d/out", recipe=recipe, workers=1)
    for rel, data in users.items():
        (tmp_path / "local" / rel).parent.mkdir(exist_ok=True)
        (tmp_path / "local" / rel).write_bytes(data)
        memory.pipe_file(f"/d/out/{rel}", data)
    api.expand(src, tmp_path / "local", recipe=recipe, workers=1, seed=9, overwrite=True)
    api.expand("memory://d/in", "memory://d/out", recipe=recipe, workers=1, seed=9, overwrite=True)
    stored = _objects(memory, "/d/out")
    assert {rel: stored[rel] for rel in users} == users
    _same(_files(tmp_path / "local"), stored, "memory://d/in")


def test_memory_a_failed_write_leaves_no_partial_object(tmp_path: Path, make_tree: Any, recipe: Path,
                                                        memory: MemoryFileSystem,
                                                        monkeypatch: pytest.MonkeyPatch) -> None:
    """The fifth output written fails: every object then in the store is whole and is the local run's, the
    manifest lists every output object; a rerun completes the same bytes."""
    src = _tree(make_tree)
    _upload(memory, src, "/d/in")
    api.expand(src, tmp_path / "local", recipe=recipe, workers=1)
    local = _files(tmp_path / "local")
    real = MemoryFileSystem.pipe_file
    calls: list[str] = []

    def failing(self: Any, path: str, value: bytes, *args: Any, **kwargs: Any) -> Any:
        calls.append(path)
        if len(calls) == 11:  # the lock, 3 records, 6 outputs, then the connection drops
            raise ConnectionResetError("injected: connection reset while writing")
        return real(self, path, value, *args, **kwargs)

    monkeypatch.setattr(MemoryFileSystem, "pipe_file", failing)
    with pytest.raises(RunError, match="output memory://d/out: the store failed .ConnectionResetError: injected"):
        api.expand("memory://d/in", "memory://d/out", recipe=recipe, workers=1)
    monkeypatch.setattr(MemoryFileSystem, "pipe_file", real)
    stored = _objects(memory, "/d/out")
    assert calls[10].removeprefix("/d/out/") not in stored
    rows = {row.path for row in M.read_rows(tmp_path / "local" / M.MANIFEST)}
    assert len([rel for rel in stored if rel in rows]) == 6  # 3 records, 6 outputs, then the failure
    for rel, data in stored.items():
        if rel not in (M.SOURCES, M.RUN_RECORD):
            assert data == local[rel], rel
    assert M.LOCK not in stored
    again = api.expand("memory://d/in", "memory://d/out", recipe=recipe, workers=1)
    assert again.made == 15 - len([rel for rel in stored if rel in rows])
    _same(local, _objects(memory, "/d/out"), "memory://d/in")


def test_memory_balance_by_transforms_equals_local(tmp_path: Path, make_tree: Any, memory: MemoryFileSystem) -> None:
    src = make_tree({"a": 5, "b": 2, "c": 3}, size=(16, 16))
    _upload(memory, src, "/d/in")
    local = api.balance(src, tmp_path / "local", recipe="default", workers=2)
    stored = api.balance("memory://d/in", "memory://d/bal", recipe="default", workers=2)
    assert local.added == stored.added == {"a": 0, "b": 3, "c": 2}
    _same(_files(tmp_path / "local"), _objects(memory, "/d/bal"), "memory://d/in")


def test_memory_lock_object_held_by_another_run(cli: Any, make_tree: Any, memory: MemoryFileSystem) -> None:
    _upload(memory, make_tree({"a": 1}), "/d/in")
    memory.pipe_file("/d/out/augcli.lock", b"another-host 4242 0123456789abcdef")
    held = cli("expand", "-r", "default", "memory://d/in", "memory://d/out")
    assert held.exit_code == 1
    assert "another augcli run is writing to memory://d/out (lock object memory://d/out/augcli.lock)" in held.output
    assert _objects(memory, "/d/out") == {"augcli.lock": b"another-host 4242 0123456789abcdef"}
    memory.pipe_file("/d/out/augcli.lock", f"{socket.gethostname()} 999999999 0123".encode())  # a dead run's
    assert cli("expand", "-q", "-r", "default", "memory://d/in", "memory://d/out").exit_code == 0
    assert "augcli.lock" not in _objects(memory, "/d/out")


def test_url_refusals_are_one_line_usage_errors(cli: Any, make_tree: Any, tmp_path: Path,
                                                memory: MemoryFileSystem) -> None:
    src = make_tree({"a": 1})
    _upload(memory, src, "/d/in")
    cases = [
        (["memory://d/in", "memory://d/in/out"], "output memory://d/in/out and input memory://d/in overlap"),
        (["memory://d/in", "memory://d"], "output memory://d and input memory://d/in overlap"),
        (["nope://x/in", tmp_path / "o"], "input nope://x/in: unknown URL protocol 'nope'"),
        ([src, "gs://bucket/out/"], "output gs://bucket/out: gs:// needs gcsfs (pip install gcsfs), which is not installed"),
        (["az://c/in", tmp_path / "o"], "input az://c/in: az:// needs adlfs"),
        (["memory://d/in/a/a_000.png", tmp_path / "o"], "input memory://d/in/a/a_000.png: an object, expected"),
        (["--executor", "dask", "--scheduler", "tcp://10.1.2.3:8786", "memory://d/in", tmp_path / "o"],
         "object-store runs stage their files on this machine, so their workers must run here too"),
    ]
    for args, message in cases:
        refused = cli("expand", "-r", "default", *args)
        assert refused.exit_code == 2, (args, refused.output)
        assert message in refused.output and "Traceback" not in refused.output
        assert len(refused.output.strip().splitlines()) == 1
    assert not (tmp_path / "o").exists() and _objects(memory, "/d") == {"in/a/a_000.png": (src / "a/a_000.png").read_bytes()}
    auto = cli("expand", "-r", "auto", "memory://d/in", tmp_path / "o")
    assert auto.exit_code == 2 and "this reads a local folder only" in auto.output
    for bad in ("-1", "soon", "1e9", "nan"):
        with pytest.MonkeyPatch.context() as patch:
            patch.setenv(stores.SYNC_ENV, bad)
            refused = cli("expand", "-r", "default", "memory://d/in", "memory://d/out")
        assert refused.exit_code == 2 and f"AUGCLI_STORE_SYNC: expected seconds in [0, 86400], got {bad!r}" in refused.output
    assert list(_objects(memory, "/d")) == ["in/a/a_000.png"]


def test_s3_expand_equals_local_and_a_rerun_writes_nothing(tmp_path: Path, make_tree: Any, recipe: Path,
                                                           s3: tuple[Any, str],
                                                           monkeypatch: pytest.MonkeyPatch) -> None:
    fs, bucket = s3
    src = _tree(make_tree)
    _upload(fs, src, f"{bucket}/in")
    api.expand(src, tmp_path / "local", recipe=recipe, workers=2)
    result = api.expand(f"s3://{bucket}/in/", f"s3://{bucket}/out/", recipe=recipe, workers=2)
    assert result.made == 15
    _same(_files(tmp_path / "local"), _objects(fs, f"{bucket}/out"), f"s3://{bucket}/in")

    import s3fs

    puts: list[str] = []
    real = s3fs.S3FileSystem._pipe_file

    async def counted(self: Any, path: str, data: bytes, *args: Any, **kwargs: Any) -> Any:
        if not path.endswith(M.LOCK):
            puts.append(path)
        return await real(self, path, data, *args, **kwargs)

    monkeypatch.setattr(s3fs.S3FileSystem, "_pipe_file", counted)
    before = _times(fs, f"{bucket}/out")
    again = api.expand(f"s3://{bucket}/in", f"s3://{bucket}/out", recipe=recipe, workers=2)
    assert (again.made, puts, _times(fs, f"{bucket}/out")) == (0, [], before)
    fs.rm(f"{bucket}/out/a/a_001__aug002.png")
    third = api.expand(f"s3://{bucket}/in", f"s3://{bucket}/out", recipe=recipe, workers=2)
    assert (third.made, puts) == (1, [f"{bucket}/out/a/a_001__aug002.png"])
    _same(_files(tmp_path / "local"), _objects(fs, f"{bucket}/out"), f"s3://{bucket}/in")


def test_s3_sigterm_sends_what_was_made_and_a_rerun_completes(tmp_path: Path, make_tree: Any,
                                                                 s3: tuple[Any, str]) -> None:
    """SIGTERM while the workers write into the staging folder: exit 143, the outputs made so far reach the
    store (each equal to the local run's and listed in its manifest), the staging folder is removed, and a
    rerun makes only the rest."""
    fs, bucket = s3
    src = make_tree({"a": 12, "b": 12}, size=(48, 48))
    _upload(fs, src, f"{bucket}/in")
    api.expand(src, tmp_path / "local", recipe="default", workers=1)
    local = _files(tmp_path / "local")
    staging = tmp_path / "tmp"
    staging.mkdir()
    env = {**os.environ, "TMPDIR": str(staging), "PYTHONPATH": str(Path(__file__).parents[1])}
    argv = [sys.executable, "-m", "augcli", "expand", "-q", "-r", "default", "-w", "2", f"s3://{bucket}/in",
            f"s3://{bucket}/out"]
    run = subprocess.Popen(argv, env=env, stderr=subprocess.PIPE, text=True)
    while run.poll() is None and len(list(staging.glob("augcli-store-*/output/*/*.png"))) < 10:
        time.sleep(0.02)
    run.send_signal(15)
    _, err = run.communicate(timeout=120)
    assert run.returncode == 143, err
    stored = _objects(fs, f"{bucket}/out")
    rows = {row.path for row in M.read_rows(tmp_path / "local" / M.MANIFEST)}
    made = [rel for rel in stored if rel in rows]
    assert 10 <= len(made) < len(rows) and list(staging.iterdir()) == []
    assert all(stored[rel] == local[rel] for rel in made)
    assert set(made) <= {line.split(",")[0] for line in stored[M.MANIFEST].decode().splitlines()[1:]}
    again = api.expand(f"s3://{bucket}/in", f"s3://{bucket}/out", recipe="default", workers=2)
    assert (again.made, again.kept) == (len(rows) - len(made), len(made))
    _same(local, _objects(fs, f"{bucket}/out"), f"s3://{bucket}/in")


def _killable(tmp_path: Path, make_tree: Any, fs: Any, bucket: str) -> tuple[dict[str, bytes], set[str]]:
    """24 inputs uploaded to ``bucket/in`` (enough work to kill a run in the middle), and the oracle: the files
    of a local ``expand -r default`` of them and its rows' paths."""
    src = make_tree({"a": 12, "b": 12}, size=(48, 48))
    _upload(fs, src, f"{bucket}/in")
    api.expand(src, tmp_path / "local", recipe="default", workers=1)
    return _files(tmp_path / "local"), {row.path for row in M.read_rows(tmp_path / "local" / M.MANIFEST)}


def test_s3_sigkill_of_the_client_leaves_a_resumable_store(tmp_path: Path, make_tree: Any,
                                                            s3: tuple[Any, str]) -> None:
    """SIGKILL of the client while its workers write. With no upload during the run (``AUGCLI_STORE_SYNC=0``)
    nothing reached the store but the lock object (this host's, its process gone), which the next run takes
    over. With uploads every 0.2 s, killed once outputs are on the store: each output object equals the local
    run's and is listed in the store's manifest; the rerun keeps them, makes only the rest, byte-identical."""
    fs, bucket = s3
    local, rows = _killable(tmp_path, make_tree, fs, bucket)
    staging = tmp_path / "tmp"
    staging.mkdir()
    argv = [sys.executable, "-m", "augcli", "expand", "-q", "-r", "default", "-w", "1", f"s3://{bucket}/in",
            f"s3://{bucket}/out"]

    def killed(every: str, started: Any) -> None:
        env = {**os.environ, "TMPDIR": str(staging), "PYTHONPATH": str(Path(__file__).parents[1]),
               stores.SYNC_ENV: every}
        run = subprocess.Popen(argv, env=env, stderr=subprocess.PIPE, text=True, start_new_session=True)
        while run.poll() is None and not started():
            time.sleep(0.02)
        os.killpg(run.pid, 9)
        run.communicate(timeout=60)

    killed("0", lambda: len(list(staging.glob("augcli-store-*/output/*/*.png"))) >= 10)
    assert list(_objects(fs, f"{bucket}/out")) == [M.LOCK]
    killed("0.2", lambda: [key for key in _keys(fs, f"{bucket}/out") if key in rows])
    stored = _objects(fs, f"{bucket}/out")
    made = [rel for rel in stored if rel in rows]
    assert 1 <= len(made) < len(rows)
    assert all(stored[rel] == local[rel] for rel in made)
    listed = {line.split(",")[0] for line in stored[M.MANIFEST].decode().splitlines()[1:]}
    assert set(made) <= listed
    again = api.expand(f"s3://{bucket}/in", f"s3://{bucket}/out", recipe="default", workers=2)
    assert again.kept >= len(made) and again.made + again.kept == len(rows)
    _same(local, _objects(fs, f"{bucket}/out"), f"s3://{bucket}/in")


def test_a_url_on_one_side_only(tmp_path: Path, make_tree: Any, recipe: Path, memory: MemoryFileSystem) -> None:
    src = _tree(make_tree)
    _upload(memory, src, "/d/in")
    api.expand(src, tmp_path / "local", recipe=recipe, workers=1)
    api.expand("memory://d/in", tmp_path / "from-url", recipe=recipe, workers=1)
    api.expand(src, "memory://d/to-url", recipe=recipe, workers=1)
    _same(_files(tmp_path / "local"), _files(tmp_path / "from-url"), "memory://d/in")
    _same(_files(tmp_path / "local"), _objects(memory, "/d/to-url"), str(src.resolve()))
    api.expand(f"file://{src}", f"file://{tmp_path / 'file-url'}", recipe=recipe, workers=1)  # plain local paths
    assert _files(tmp_path / "file-url").keys() == _files(tmp_path / "local").keys()
    assert _files(tmp_path / "file-url")[M.MANIFEST] == _files(tmp_path / "local")[M.MANIFEST]


def test_s3_balance_smote_and_replay(tmp_path: Path, make_tree: Any, s3: tuple[Any, str]) -> None:
    fs, bucket = s3
    src = make_tree({"a": 6, "b": 2, "c": 3}, size=(16, 16))
    _upload(fs, src, f"{bucket}/in")
    local = api.balance(src, tmp_path / "local", recipe="default", method="smote", k_neighbors=2, workers=2)
    stored = api.balance(f"s3://{bucket}/in", f"s3://{bucket}/bal", recipe="default", method="smote",
                         k_neighbors=2, workers=2)
    assert local.added == stored.added == {"a": 0, "b": 4, "c": 3}
    assert str(stored.chart).startswith(f"s3://{bucket}/bal/")
    _same(_files(tmp_path / "local"), _objects(fs, f"{bucket}/bal"), f"s3://{bucket}/in")
    replayed = api.replay(f"s3://{bucket}/bal/manifest.csv", f"s3://{bucket}/re", input=f"s3://{bucket}/in",
                          workers=2)
    assert (replayed.rebuilt, replayed.identical, replayed.mismatched) == (18, 18, ())
    assert str(replayed.output) == f"s3://{bucket}/re"
    recorded = api.replay(f"s3://{bucket}/bal/manifest.csv", tmp_path / "re", workers=1)  # the record's input URL
    assert (recorded.rebuilt, recorded.identical) == (18, 18)


def test_s3_errors_are_clear(cli: Any, make_tree: Any, tmp_path: Path, s3: tuple[Any, str],
                             monkeypatch: pytest.MonkeyPatch) -> None:
    fs, bucket = s3
    _upload(fs, make_tree({"a": 1}), f"{bucket}/in")
    missing = cli("expand", "-r", "default", "s3://no-such-bucket-here/in", tmp_path / "o")
    assert missing.exit_code == 2
    assert "input s3://no-such-bucket-here/in: not found on the store" in missing.output
    out_missing = cli("expand", "-r", "default", f"s3://{bucket}/in", "s3://no-such-bucket-here/out")
    assert out_missing.exit_code == 2 and "output s3://no-such-bucket-here/out: not found" in out_missing.output
    for key in ("in/a", "in/../up.png", "in/a//b.png", "in/a/" + "x" * 256 + ".png"):  # no local file can be these
        fs.pipe_file(f"{bucket}/{key}", b"not a file of the tree")
    assert api.expand(f"s3://{bucket}/in", f"s3://{bucket}/out", recipe="default", workers=1).before == {"a": 1}
    import s3fs

    for name in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN", "AWS_PROFILE"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", str(tmp_path / "none"))
    monkeypatch.setenv("AWS_CONFIG_FILE", str(tmp_path / "none"))
    monkeypatch.setenv("AWS_EC2_METADATA_DISABLED", "true")
    s3fs.S3FileSystem.clear_instance_cache()
    try:
        anonymous = cli("expand", "-r", "default", f"s3://{bucket}/in", tmp_path / "o")
    finally:
        s3fs.S3FileSystem.clear_instance_cache()
    assert anonymous.exit_code == 2 and "no credentials found for the store" in anonymous.output
    assert not (tmp_path / "o").exists()
    with pytest.raises(InputError, match="overlap"):
        api.expand(f"s3://{bucket}/in", f"s3://{bucket}/in/x", recipe="default")


def test_s3_on_a_dask_local_cluster_equals_local(tmp_path: Path, make_tree: Any, recipe: Path,
                                                 s3: tuple[Any, str]) -> None:
    fs, bucket = s3
    src = _tree(make_tree)
    _upload(fs, src, f"{bucket}/in")
    api.expand(src, tmp_path / "local", recipe=recipe, workers=1)
    result = api.expand(f"s3://{bucket}/in", f"s3://{bucket}/out", recipe=recipe, workers=2, executor="dask")
    assert result.made == 15 and result.cluster_workers >= 1
    _same(_files(tmp_path / "local"), _objects(fs, f"{bucket}/out"), f"s3://{bucket}/in")


def test_url_of_and_store_paths() -> None:
    assert stores.url_of(Path("s3://bucket/in/")) == "s3://bucket/in"
    assert stores.url_of("MEMORY://x") == "memory://x"
    assert stores.url_of(Path("/tmp/in")) is None and stores.url_of(None) is None
    assert stores.Url("s3://b/out/") / "manifest.csv" == "s3://b/out/manifest.csv"
