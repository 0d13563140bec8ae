"""Direct store I/O (augcli/direct.py): workers GET inputs and PUT outputs themselves; the client lists the
prefixes, moves the bookkeeping files and keeps sparse placeholders. On moto's S3 server on loopback, with
the fixtures and helpers of tests/test_stores.py; the oracle is a local run of the same command on the same
files. What the client process sends and fetches is counted at s3fs's one door to the API (``_call_s3``):
forked pool workers and a LocalCluster's workers are other processes, so the list holds the client's alone.

Runs with local workers come before the dask run (no fork from this process after a cluster's threads ran)."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pytest

from augcli import api, direct, stores
from augcli import manifest as M
from tests import test_stores as T
from tests.test_stores import _files, _keys, _killable, _objects, _same, _times, _tree, _upload

recipe, s3, s3_server = T.recipe, T.s3, T.s3_server  # the fixtures of tests/test_stores.py
IMAGES = (".png", ".jpg")


@pytest.fixture
def calls(monkeypatch: pytest.MonkeyPatch) -> list[tuple[str, str]]:
    """(S3 operation, key) of every request this process makes; direct mode on."""
    import s3fs

    made: list[tuple[str, str]] = []
    real = s3fs.S3FileSystem._call_s3

    async def counted(self: Any, method: str, *args: Any, **kwargs: Any) -> Any:
        made.append((method, str(kwargs.get("Key", ""))))
        return await real(self, method, *args, **kwargs)

    monkeypatch.setattr(s3fs.S3FileSystem, "_call_s3", counted)
    monkeypatch.delenv(direct.DIRECT_ENV, raising=False)  # direct is the default for s3://
    return made


def _images(made: list[tuple[str, str]]) -> list[tuple[str, str]]:
    """Requests that carried an input's or an output's bytes (a GET or a PUT of prefix/class/name)."""
    return [(m, k) for m, k in made if k.count("/") >= 2 and m in ("get_object", "put_object",
                                                                    "upload_part", "create_multipart_upload")]


def _sparse_check(monkeypatch: pytest.MonkeyPatch, seen: list[int]) -> None:
    """At the end of each run (the last sync), every placeholder in the staging folder holds no data."""
    real = stores._sync

    def checked(stage: stores.Stage, **kwargs: Any) -> None:
        for folder in (stage.folder / "input", stage.folder / "output"):
            for path in folder.rglob("*"):
                if path.is_file() and path.parent != folder:
                    assert os.stat(path).st_blocks == 0, path
                    seen.append(os.stat(path).st_size)
        real(stage, **kwargs)

    monkeypatch.setattr(stores, "_sync", checked)


def test_s3_direct_equals_local_moves_no_image_bytes_and_resumes(
        tmp_path: Path, make_tree: Any, recipe: Path, s3: tuple[Any, str], calls: list[tuple[str, str]],
        monkeypatch: pytest.MonkeyPatch) -> None:
    fs, bucket = s3
    src = _tree(make_tree)
    _upload(fs, src, f"{bucket}/in")
    api.expand(src, tmp_path / "local", recipe=recipe, workers=2)
    local = _files(tmp_path / "local")
    sizes: list[int] = []
    _sparse_check(monkeypatch, sizes)
    calls.clear()
    result = api.expand(f"s3://{bucket}/in/", f"s3://{bucket}/out/", recipe=recipe, workers=2)
    assert result.made == 15 and str(result.output) == f"s3://{bucket}/out"
    assert _images(calls) == [] and sum(sizes) > 0  # the workers moved every image; the placeholders hold none
    _same(local, _objects(fs, f"{bucket}/out"), f"s3://{bucket}/in")
    puts = [k.rsplit("/", 1)[-1] for m, k in calls if m == "put_object"]
    assert puts[:4] == [M.LOCK, M.RUN_RECORD, M.MANIFEST, M.SOURCES], puts  # the records before any worker's PUT
    assert all(k.count("/") == 1 for m, k in calls if m == "put_object")  # then the final records only

    calls.clear()
    before = _times(fs, f"{bucket}/out")
    calls.clear()
    again = api.expand(f"s3://{bucket}/in", f"s3://{bucket}/out", recipe=recipe, workers=2)
    assert (again.made, again.kept) == (0, 15)
    assert [k for m, k in calls if m == "put_object" and not k.endswith(M.LOCK)] == []
    # the one input that could not be read is tried again, as on a disk (its lone task runs in this process)
    assert _images(calls) == [("get_object", "in/b/broken.png")]
    assert _times(fs, f"{bucket}/out") == before

    fs.rm([f"{bucket}/out/a/a_001__aug002.png", f"{bucket}/out/b/b_000.png"])
    calls.clear()
    third = api.expand(f"s3://{bucket}/in", f"s3://{bucket}/out", recipe=recipe, workers=2)
    assert (third.made, third.kept) == (2, 13)
    _same(local, _objects(fs, f"{bucket}/out"), f"s3://{bucket}/in")
    unchanged = {key: value for key, value in _times(fs, f"{bucket}/out").items() if key.endswith(IMAGES)}
    assert {key: value for key, value in before.items() if key in unchanged and "a_001__aug002" not in key
            and "b_000.png" not in key} == {key: value for key, value in unchanged.items()
                                            if "a_001__aug002" not in key and "b_000.png" not in key}


def test_s3_direct_users_objects_survive_and_overwrite_removes_only_augcli_outputs(
        tmp_path: Path, make_tree: Any, recipe: Path, s3: tuple[Any, str], calls: list[tuple[str, str]],
        cli: Any) -> None:
    """A user's objects beside a direct run survive resumes and --overwrite with another seed, which removes
    the earlier outputs only once each is proven augcli's by the sha256 of the store object's bytes."""
    fs, bucket = s3
    src = make_tree({"a": 2, "b": 1}, size=(16, 16))
    _upload(fs, src, f"{bucket}/in")
    users = {"a/mine.png": b"a user's bytes", "notes/readme.txt": b"hello"}
    fs.pipe_file(f"{bucket}/full/x.png", b"a user's")  # no augcli run there: refused, as for a folder
    refused = cli("expand", "-r", str(recipe), f"s3://{bucket}/in", f"s3://{bucket}/full")
    assert refused.exit_code == 2 and "holds no augcli run" in refused.output
    assert _objects(fs, f"{bucket}/full") == {"x.png": b"a user's"}
    api.expand(src, tmp_path / "local", recipe=recipe, workers=1)
    api.expand(f"s3://{bucket}/in", f"s3://{bucket}/out", recipe=recipe, workers=1)
    for rel, data in users.items():
        (tmp_path / "local" / rel).parent.mkdir(exist_ok=True)
        (tmp_path / "local" / rel).write_bytes(data)
        fs.pipe_file(f"{bucket}/out/{rel}", data)
    assert api.expand(f"s3://{bucket}/in", f"s3://{bucket}/out", recipe=recipe, workers=1).kept == 9
    api.expand(src, tmp_path / "local", recipe=recipe, workers=1, seed=9, overwrite=True)
    calls.clear()
    over = api.expand(f"s3://{bucket}/in", f"s3://{bucket}/out", recipe=recipe, workers=1, seed=9, overwrite=True)
    assert over.made == 9
    gets = [k for m, k in calls if m == "get_object" and k.startswith("out/") and k.count("/") == 2]
    assert len(gets) == 9  # each earlier output hashed from the store before anything was removed
    stored = _objects(fs, f"{bucket}/out")
    assert {rel: stored[rel] for rel in users} == users
    _same(_files(tmp_path / "local"), stored, f"s3://{bucket}/in")


def test_s3_direct_a_failed_put_fails_the_run_and_a_rerun_completes(
        tmp_path: Path, make_tree: Any, recipe: Path, s3: tuple[Any, str], calls: list[tuple[str, str]],
        cli: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    """A worker's PUT of one output fails: exit 1 naming it, no object of it, every object there whole and
    the local run's; a rerun completes the same bytes."""
    import s3fs

    fs, bucket = s3
    src = _tree(make_tree)
    _upload(fs, src, f"{bucket}/in")
    api.expand(src, tmp_path / "local", recipe=recipe, workers=1)
    local = _files(tmp_path / "local")
    real = s3fs.S3FileSystem._pipe_file
    victim = f"{bucket}/out/b/b_000__aug001.png"

    async def failing(self: Any, path: str, data: bytes, *args: Any, **kwargs: Any) -> Any:
        if path == victim:
            raise ConnectionResetError("injected: connection reset while writing")
        return await real(self, path, data, *args, **kwargs)

    monkeypatch.setattr(s3fs.S3FileSystem, "_pipe_file", failing)
    s3fs.S3FileSystem.clear_instance_cache()  # an instance binds its sync methods when made
    direct._FS.clear()
    failed = cli("expand", "-q", "-w", "1", "-r", str(recipe), f"s3://{bucket}/in", f"s3://{bucket}/out")
    assert failed.exit_code == 1, failed.output
    assert f"cannot write s3://{victim}: the store failed (ConnectionResetError: injected" in failed.output
    assert "Traceback" not in failed.output
    monkeypatch.setattr(s3fs.S3FileSystem, "_pipe_file", real)
    s3fs.S3FileSystem.clear_instance_cache()
    direct._FS.clear()
    stored = _objects(fs, f"{bucket}/out")
    assert "b/b_000__aug001.png" not in stored and M.LOCK not in stored
    for rel, data in stored.items():
        if rel not in (M.SOURCES, M.RUN_RECORD, M.MANIFEST):
            assert data == local[rel], rel
    again = api.expand(f"s3://{bucket}/in", f"s3://{bucket}/out", recipe=recipe, workers=1)
    assert again.made + again.kept == 15
    _same(local, _objects(fs, f"{bucket}/out"), f"s3://{bucket}/in")


def test_s3_direct_sigkill_of_the_client_then_a_rerun_is_identical(tmp_path: Path, make_tree: Any,
                                                                   s3: tuple[Any, str]) -> None:
    """SIGKILL of the client (and its workers) once outputs are on the store: the run record was sent before
    the first worker's PUT; the objects not yet listed are at planned names, made again with the same bytes."""
    fs, bucket = s3
    local, rows = _killable(tmp_path, make_tree, fs, bucket)
    env = {**os.environ, "PYTHONPATH": str(Path(__file__).parents[1]), stores.SYNC_ENV: "0"}
    env.pop(direct.DIRECT_ENV, None)
    argv = [sys.executable, "-m", "augcli", "expand", "-q", "-r", "default", "-w", "1", f"s3://{bucket}/in",
            f"s3://{bucket}/out"]
    run = subprocess.Popen(argv, env=env, stderr=subprocess.PIPE, text=True, start_new_session=True)
    while run.poll() is None and len([key for key in _keys(fs, f"{bucket}/out") if key in rows]) < 3:
        time.sleep(0.02)
    os.killpg(run.pid, 9)
    run.communicate(timeout=60)
    stored = _objects(fs, f"{bucket}/out")
    made = [rel for rel in stored if rel in rows]
    assert 3 <= len(made) < len(rows) and M.RUN_RECORD in stored
    assert all(stored[rel] == local[rel] for rel in made)
    again = api.expand(f"s3://{bucket}/in", f"s3://{bucket}/out", recipe="default", workers=2)
    assert again.made + again.kept == len(rows)
    _same(local, _objects(fs, f"{bucket}/out"), f"s3://{bucket}/in")


def test_s3_direct_sigterm_sends_the_records_and_a_rerun_completes(tmp_path: Path, make_tree: Any,
                                                                    s3: tuple[Any, str]) -> None:
    """SIGTERM while the workers write: exit 143, the manifest sent lists only objects that are there (each
    the local run's bytes), no staging folder is left; the rerun ends byte-identical."""
    fs, bucket = s3
    local, rows = _killable(tmp_path, make_tree, fs, bucket)
    staging = tmp_path / "tmp"
    staging.mkdir()
    env = {**os.environ, "TMPDIR": str(staging), "PYTHONPATH": str(Path(__file__).parents[1]),
           stores.SYNC_ENV: "0.1"}  # the records sent while the workers write, too
    env.pop(direct.DIRECT_ENV, None)
    argv = [sys.executable, "-m", "augcli", "expand", "-q", "-r", "default", "-w", "2", f"s3://{bucket}/in",
            f"s3://{bucket}/out"]
    run = subprocess.Popen(argv, env=env, stderr=subprocess.PIPE, text=True)
    while run.poll() is None and len(list(staging.glob("augcli-store-*/output/*/*.png"))) < 5:
        time.sleep(0.02)
    run.send_signal(15)
    _, err = run.communicate(timeout=120)
    assert run.returncode == 143, err
    assert list(staging.iterdir()) == []
    stored = _objects(fs, f"{bucket}/out")
    listed = {line.split(",")[0] for line in stored[M.MANIFEST].decode().splitlines()[1:]}
    assert len(listed) >= 5 and listed <= set(stored) and all(stored[rel] == local[rel] for rel in listed)
    again = api.expand(f"s3://{bucket}/in", f"s3://{bucket}/out", recipe="default", workers=2)
    assert again.made + again.kept == len(rows) and again.kept >= len(listed)
    _same(local, _objects(fs, f"{bucket}/out"), f"s3://{bucket}/in")


def test_s3_direct_balance_with_partners_and_quoted_names_equals_local(
        tmp_path: Path, make_tree: Any, s3: tuple[Any, str], calls: list[tuple[str, str]]) -> None:
    fs, bucket = s3
    src = make_tree({"a": 5, "b": 2, "c": 3}, size=(16, 16))
    (src / "b" / "b_000.png").rename(src / "b" / "é x%20+.png")  # names a URL would quote
    (src / "c" / "c_001.png").rename(src / "c" / "q?#&=.png")
    _upload(fs, src, f"{bucket}/in")
    local = api.balance(src, tmp_path / "local", recipe="default", method="mixup", workers=2)
    calls.clear()
    stored = api.balance(f"s3://{bucket}/in", f"s3://{bucket}/bal", recipe="default", method="mixup", workers=2)
    assert local.added == stored.added == {"a": 0, "b": 3, "c": 2} and _images(calls) == []
    _same(_files(tmp_path / "local"), _objects(fs, f"{bucket}/bal"), f"s3://{bucket}/in")


def test_s3_direct_a_jpeg_failing_late_leaves_no_object_and_dry_run_reads_the_store(
        tmp_path: Path, make_tree: Any, s3: tuple[Any, str], calls: list[tuple[str, str]]) -> None:
    """A lone JPEG whose header reads but whose pixels do not: the outputs its task already sent (its
    original) are deleted from the store, as a local run drops their temporaries. A dry run estimates
    from the objects' bytes (the placeholders hold none)."""
    fs, bucket = s3
    src = make_tree({"a": 3}, ext=".jpg", size=(48, 64))
    bad = src / "a" / "a_001.jpg"
    data = bytearray(bad.read_bytes())
    data[data.index(b"\xff\xc0") + 11] = 0x00  # the first component's sampling factors: libjpeg stops
    bad.write_bytes(bytes(data))
    _upload(fs, src, f"{bucket}/in")
    local = api.expand(src, tmp_path / "local", recipe="default", copies=1, workers=1)
    dry = api.expand(f"s3://{bucket}/in", f"s3://{bucket}/dry", recipe="default", copies=1, workers=1, dry_run=True)
    stored = api.expand(f"s3://{bucket}/in", f"s3://{bucket}/out", recipe="default", copies=1, workers=1)
    assert [rel for rel, _ in stored.errors] == [rel for rel, _ in local.errors] == ["a/a_001.jpg"]
    local_dry = api.expand(src, tmp_path / "local-dry", recipe="default", copies=1, workers=1, dry_run=True)
    assert (dry.planned, dry.after, dry.estimate.original_bytes, dry.estimate.generated_bytes) == (
        local_dry.planned, local_dry.after, local_dry.estimate.original_bytes, local_dry.estimate.generated_bytes)
    assert dry.estimate.seconds is not None and dry.estimate.generated_bytes > 0
    assert not any("a_001" in rel for rel in _objects(fs, f"{bucket}/out"))
    assert ("delete_object", "out/a/a_001.jpg") in calls
    _same(_files(tmp_path / "local"), _objects(fs, f"{bucket}/out"), f"s3://{bucket}/in")


def test_s3_smote_and_replay_take_the_staging_path(tmp_path: Path, make_tree: Any, s3: tuple[Any, str],
                                                  calls: list[tuple[str, str]]) -> None:
    """SMOTE (asked for by the recipe's balance section too) and replay read files in the client: with
    direct I/O the default, they stage the bytes and equal the local run."""
    fs, bucket = s3
    src = make_tree({"a": 6, "b": 2, "c": 3}, name="in2", size=(16, 16))
    _upload(fs, src, f"{bucket}/in2")
    recipe = tmp_path / "smote.yaml"
    recipe.write_text("pipeline: [hflip]\nbalance: {method: smote}\n")
    local = api.balance(src, tmp_path / "local", recipe=recipe, k_neighbors=2, workers=1)
    stored = api.balance(f"s3://{bucket}/in2", f"s3://{bucket}/bal2", recipe=recipe, k_neighbors=2, workers=1)
    assert local.added == stored.added and sum(stored.added.values()) > 0
    assert ("get_object", "in2/b/b_000.png") in calls  # staged: the client fetched the inputs
    _same(_files(tmp_path / "local"), _objects(fs, f"{bucket}/bal2"), f"s3://{bucket}/in2")
    replayed = api.replay(f"s3://{bucket}/bal2/manifest.csv", f"s3://{bucket}/re", input=f"s3://{bucket}/in2",
                          workers=1)
    assert replayed.mismatched == () and replayed.identical == replayed.rebuilt > 0


def test_direct_switch_is_checked(cli: Any, make_tree: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(direct.DIRECT_ENV, "yes")
    refused = cli("expand", "-r", "default", "memory://d/in", "memory://d/out")
    assert refused.exit_code == 2 and "AUGCLI_STORE_DIRECT: expected 0 or 1, got 'yes'" in refused.output


def test_s3_remote_scheduler_workers_do_the_io(tmp_path: Path, make_tree: Any, recipe: Path,
                                              s3: tuple[Any, str], calls: list[tuple[str, str]],
                                              monkeypatch: pytest.MonkeyPatch) -> None:
    """A scheduler off this machine's loopback (a LocalCluster's, taken for remote) gets direct I/O even with
    AUGCLI_STORE_DIRECT=0: its worker processes GET and PUT every image, the client none."""
    from distributed import LocalCluster

    fs, bucket = s3
    src = _tree(make_tree)
    _upload(fs, src, f"{bucket}/in")
    api.expand(src, tmp_path / "local", recipe=recipe, workers=1)
    monkeypatch.setenv(direct.DIRECT_ENV, "0")  # a remote scheduler is direct whatever this says
    monkeypatch.setattr(stores, "_loopback", lambda address: False)
    calls.clear()
    with LocalCluster(n_workers=2, threads_per_worker=1, processes=True, dashboard_address=":0") as cluster:
        result = api.expand(f"s3://{bucket}/in", f"s3://{bucket}/out", recipe=recipe, workers=2,
                            executor="dask", scheduler=cluster.scheduler_address)
    assert result.made == 15 and result.cluster_workers >= 1 and _images(calls) == []
    _same(_files(tmp_path / "local"), _objects(fs, f"{bucket}/out"), f"s3://{bucket}/in")


def test_s3_direct_an_unlisted_object_at_a_planned_name_is_rewritten_only_if_it_holds_the_same_bytes(
        tmp_path: Path, make_tree: Any, recipe: Path, s3: tuple[Any, str], calls: list[tuple[str, str]],
        cli: Any) -> None:
    """What a killed client leaves (an output its manifest does not list) is left as it is; a user's other
    bytes at that name stop the run and stay."""
    fs, bucket = s3
    src = make_tree({"a": 2, "b": 1}, size=(16, 16))
    _upload(fs, src, f"{bucket}/in")
    api.expand(src, tmp_path / "local", recipe=recipe, workers=1)
    api.expand(f"s3://{bucket}/in", f"s3://{bucket}/out", recipe=recipe, workers=1)
    target = "a/a_000__aug001.png"
    made = fs.cat_file(f"{bucket}/out/{target}")
    manifest = fs.cat_file(f"{bucket}/out/{M.MANIFEST}").decode("utf-8")
    fs.pipe_file(f"{bucket}/out/{M.MANIFEST}",  # the row gone, as if the client died before recording it
                 "".join(line for line in manifest.splitlines(keepends=True) if target not in line).encode())
    fs.rm_file(f"{bucket}/out/metadata.csv")  # written at a run's end: a killed client has none
    fs.pipe_file(f"{bucket}/out/{target}", b"a user's bytes")
    refused = cli("expand", "-r", str(recipe), f"s3://{bucket}/in", f"s3://{bucket}/out")
    assert refused.exit_code == 1, refused.output
    assert f"refusing to overwrite s3://{bucket}/out/{target}: its manifest does not list it" in refused.output
    assert fs.cat_file(f"{bucket}/out/{target}") == b"a user's bytes"
    fs.pipe_file(f"{bucket}/out/{target}", made)  # what the killed client's worker had written
    calls.clear()
    again = api.expand(f"s3://{bucket}/in", f"s3://{bucket}/out", recipe=recipe, workers=1)
    assert again.made == 1
    assert not [k for m, k in calls if m == "put_object" and k.endswith(target)]  # left as it was
    _same(_files(tmp_path / "local"), _objects(fs, f"{bucket}/out"), f"s3://{bucket}/in")
