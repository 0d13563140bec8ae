"""``--executor dask``: runs on a real distributed.LocalCluster (2 worker processes, 1 thread each) write
the same bytes as a local run; resume, a killed worker, and the refusals (URLs with a remote scheduler,
--scheduler alone, an unreachable or malformed scheduler, dask missing).

Local reference runs use one worker (no fork from this process while the cluster's threads run in it);
that one and two local workers give the same bytes is tested in test_run.py and test_write_safety.py."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from collections.abc import Collection, Iterator
from pathlib import Path
from typing import Any

import distributed  # in the test extra: CI runs these
import pytest

from augcli import _dask, api, executors
from augcli import manifest as M
from augcli.io import TMP_SUFFIX


RECIPE = """\
seed: 5
copies: 2
pipeline:
  - hflip: {p: 0.5}
  - rotate: {degrees: [-20, 20], p: 0.7}
  - gaussian_noise: {std: [2, 6], p: 0.5}
"""
MIX = RECIPE + "  - mixup: {p: 0.6}\n"


@pytest.fixture(scope="module")
def cluster() -> Iterator[Any]:
    """One LocalCluster for the module: starting one costs a second or two."""
    import logging

    with distributed.LocalCluster(n_workers=2, threads_per_worker=1, processes=True, dashboard_address=":0",
                                  silence_logs=logging.ERROR) as running:
        yield running


@pytest.fixture
def scheduler(cluster: Any) -> str:
    return str(cluster.scheduler_address)


@pytest.fixture
def recipe(tmp_path: Path) -> Path:
    path = tmp_path / "r.yaml"
    path.write_text(RECIPE)
    return path


def _files(root: Path, skip: Collection[str] = (M.LOCK,)) -> dict[str, bytes]:
    """Every file below root by relative path (hidden temporaries included: there must be none)."""
    return {os.fsdecode(p.relative_to(root)): p.read_bytes() for p in sorted(root.rglob("*"))
            if p.is_file() and p.relative_to(root).as_posix() not in skip}


def _temps(root: Path) -> list[str]:
    return [p.name for p in root.rglob("*") if p.name.endswith(TMP_SUFFIX)]


def _tree(make_tree: Any) -> Path:
    """Three classes, a file name that is not UTF-8, and an unreadable file (so errors.csv is written too)."""
    src = make_tree({"a": 5, "b": 3, "c": 1}, size=(16, 20))
    (src / "b" / "broken.png").write_bytes(b"\x89PNG\r\n\x1a\n not an image")
    (src / "a" / os.fsdecode(b"caf\xe9.png")).write_bytes((src / "a" / "a_000.png").read_bytes())
    return src


# ---------------------------------------------------------------- same bytes as the local pool


@pytest.mark.parametrize("batch", ["1", None])
def test_expand_on_dask_writes_the_local_bytes(tmp_path: Path, make_tree: Any, recipe: Path, scheduler: str,
                                               monkeypatch: pytest.MonkeyPatch, batch: str | None) -> None:
    """Batches of one task and the default batches alike: every file, manifest and errors.csv identical."""
    src = _tree(make_tree)
    local = api.expand(src, tmp_path / "local", recipe=recipe, workers=1)
    if batch:
        monkeypatch.setenv(executors.BATCH_ENV, batch)
    seen: list[tuple[int, int]] = []
    dask = api.expand(src, tmp_path / "dask", recipe=recipe, workers=2, executor="dask", scheduler=scheduler,
                      progress=lambda n, total: seen.append((n, total)))
    assert local.made == dask.made == 30 and local.cluster_workers == 0
    assert 1 <= dask.cluster_workers <= 2
    assert sum(n for n, _ in seen) == dask.planned == 33 and {total for _, total in seen} == {33}  # 3 skipped
    assert (tmp_path / "dask" / M.ERRORS).read_text().splitlines()[1].startswith("b/broken.png,")
    assert _files(tmp_path / "local") == _files(tmp_path / "dask")
    assert _temps(tmp_path / "dask") == []


@pytest.mark.parametrize(("method", "extra"), [("transforms", {}), ("smote", {"k_neighbors": 2}),
                                               ("mixup", {})])
def test_balance_on_dask_writes_the_local_bytes(tmp_path: Path, make_tree: Any, scheduler: str, method: str,
                                                extra: dict[str, Any]) -> None:
    """balance by transforms, SMOTE (features extracted on the cluster) and mixup (two images per output)."""
    src = make_tree({"a": 6, "b": 2, "c": 3}, size=(16, 16))
    local = api.balance(src, tmp_path / "local", recipe="default", method=method, workers=1, **extra)
    dask = api.balance(src, tmp_path / "dask", recipe="default", method=method, workers=2, executor="dask",
                       scheduler=scheduler, **extra)
    assert local.added == dask.added == {"a": 0, "b": 4, "c": 3}
    assert _files(tmp_path / "local") == _files(tmp_path / "dask")


def test_multi_image_recipe_and_replay_on_dask(tmp_path: Path, make_tree: Any, scheduler: str) -> None:
    """A recipe with a mixup step on dask equals the local run; replay on dask rebuilds every output."""
    src = make_tree({"a": 4, "b": 3}, size=(16, 16))
    mix = tmp_path / "mix.yaml"
    mix.write_text(MIX)
    api.expand(src, tmp_path / "local", recipe=mix, workers=1)
    api.expand(src, tmp_path / "dask", recipe=mix, workers=2, executor="dask", scheduler=scheduler)
    assert _files(tmp_path / "local") == _files(tmp_path / "dask")
    rows = M.read_rows(tmp_path / "dask" / M.MANIFEST)
    assert any(";" in row.sources for row in rows)  # outputs made from two images
    replayed = api.replay(tmp_path / "dask" / M.MANIFEST, tmp_path / "re", workers=2, executor="dask",
                          scheduler=scheduler)
    assert (replayed.rebuilt, replayed.identical, replayed.mismatched) == (21, 21, ())
    assert _temps(tmp_path / "re") == []


def test_a_local_run_resumes_on_dask_and_back(tmp_path: Path, make_tree: Any, recipe: Path, scheduler: str) -> None:
    """The executor is not part of the run's identity: a rerun on the other one makes only what is missing."""
    src = make_tree({"a": 4, "b": 2}, size=(16, 16))
    out = tmp_path / "out"
    first = api.expand(src, out, recipe=recipe, workers=1)
    whole = _files(out)
    rows = M.read_rows(out / M.MANIFEST)
    kept, lost = rows[:-5], rows[-5:]  # as if the run had stopped before its last five outputs
    M.write_rows(out / M.MANIFEST, kept)
    (out / "metadata.csv").unlink()  # written last, from the whole manifest
    for row in lost:
        (out / row.path).unlink()
    again = api.expand(src, out, recipe=recipe, workers=2, executor="dask", scheduler=scheduler)
    assert (first.made, again.made, again.kept) == (18, 5, 13)
    assert _files(out) == whole
    back = api.expand(src, out, recipe=recipe, workers=1)
    assert (back.made, back.kept) == (0, 18)


# ---------------------------------------------------------------- a worker lost mid-run


def test_a_killed_worker_leaves_the_same_bytes(tmp_path: Path, make_tree: Any, recipe: Path, cluster: Any,
                                               monkeypatch: pytest.MonkeyPatch) -> None:
    """SIGKILL one worker process when the first batch is back: its batches run again elsewhere, the result is
    byte-identical to a local run and no temporary or partial file is left."""
    src = make_tree({"a": 16, "b": 8}, size=(48, 64))
    api.expand(src, tmp_path / "local", recipe=recipe, workers=1)
    monkeypatch.setenv(executors.BATCH_ENV, "2")  # many small batches: the killed worker holds some
    client = distributed.Client(cluster, set_as_default=False)
    pids = client.run(os.getpid)
    client.close()
    killed: list[int] = []

    def kill_once(n: int, total: int) -> None:
        if n and not killed:  # a first batch is back; others are queued or running on both workers
            victim = sorted(pids.values())[0]
            os.kill(victim, signal.SIGKILL)
            killed.append(victim)

    result = api.expand(src, tmp_path / "dask", recipe=recipe, workers=2, executor="dask",
                        scheduler=cluster.scheduler_address, progress=kill_once)
    assert killed and result.made == 72
    assert _files(tmp_path / "local") == _files(tmp_path / "dask")
    assert _temps(tmp_path / "dask") == []
    cluster.wait_for_workers(2, timeout=30)  # the nanny restarts it for the tests after this one


def test_a_lost_workers_temporaries_are_removed(tmp_path: Path, make_tree: Any, recipe: Path, scheduler: str) -> None:
    """A temporary file under another process's id that appears during the run (what a worker lost after
    writing leaves; the start of a run has already cleared older ones) is gone when the run ends."""
    src = make_tree({"a": 2}, size=(16, 16))
    out = tmp_path / "out"
    stray = out / "a" / f".a_000__aug001.png.999999{TMP_SUFFIX}"

    def lost_worker_writes(n: int, total: int) -> None:
        if not stray.exists():
            stray.parent.mkdir(parents=True, exist_ok=True)
            stray.write_bytes(b"half a fi")

    result = api.expand(src, out, recipe=recipe, workers=2, executor="dask", scheduler=scheduler,
                        progress=lost_worker_writes)
    assert result.made == 6 and _temps(out) == []


# ---------------------------------------------------------------- refusals and messages


def test_scheduler_without_dask_and_urls_are_usage_errors(cli: Any, make_tree: Any, tmp_path: Path) -> None:
    src = make_tree({"a": 1})
    alone = cli("expand", "-r", "default", "--scheduler", "tcp://127.0.0.1:8786", src, tmp_path / "o")
    assert alone.exit_code == 2
    assert "--scheduler: expected --executor dask with it, got --executor local" in alone.output
    for args in (["memory://bucket/in/", tmp_path / "o"], [src, "memory://bucket/out/"]):  # stores.py stages them
        refused = cli("expand", "-r", "default", "--executor", "dask", "--scheduler", "tcp://192.0.2.1:8786", *args)
        assert refused.exit_code == 2 and "object-store runs stage their files on this machine" in refused.output
    balanced = cli("balance", "-r", "default", "az://c/in", tmp_path / "o")
    assert balanced.exit_code == 2 and "input az://c/in: az:// needs adlfs" in balanced.output
    assert not (tmp_path / "o").exists()


def test_a_worker_on_another_augcli_version_stops_the_run(cli: Any, make_tree: Any, tmp_path: Path, scheduler: str,
                                                          monkeypatch: pytest.MonkeyPatch) -> None:
    """The client sends its version with every batch; the real workers run the real one."""
    monkeypatch.setattr(_dask, "CLIENT_VERSION", "0.0.1-other")
    src = make_tree({"a": 2})
    result = cli("expand", "-r", "default", "--executor", "dask", "--scheduler", scheduler, src, tmp_path / "o")
    assert result.exit_code == 1 and "Traceback" not in result.output
    from augcli import __version__

    assert f"runs augcli {__version__}, this client 0.0.1-other: install the same augcli version" in result.output
    assert not [p for p in (tmp_path / "o").rglob("*.png")]


def test_an_unreachable_scheduler_fails_with_its_address(cli: Any, make_tree: Any, tmp_path: Path,
                                                         monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(_dask, "CONNECT_TIMEOUT", 1)  # the real client, a shorter wait
    src = make_tree({"a": 1})
    result = cli("expand", "-r", "default", "--executor", "dask", "--scheduler", "tcp://127.0.0.1:9", src,
                 tmp_path / "o")
    assert result.exit_code == 1
    assert "cannot reach the Dask scheduler at tcp://127.0.0.1:9 within 1 s" in result.output
    assert not (tmp_path / "o").exists()  # refused before anything was written
    for address in ("not an address", "tcp://[::1", "tcp://host:port"):
        malformed = cli("expand", "-r", "default", "--executor", "dask", "--scheduler", address, src, tmp_path / "o")
        assert malformed.exit_code == 2
        assert f"--scheduler: expected a scheduler address such as tcp://host:8786, got {address!r}" in malformed.output


def test_dask_missing_and_a_bad_batch_size_are_usage_errors(cli: Any, make_tree: Any, tmp_path: Path,
                                                            monkeypatch: pytest.MonkeyPatch) -> None:
    src = make_tree({"a": 1})
    monkeypatch.setenv(executors.BATCH_ENV, "0")
    bad = cli("expand", "-r", "default", "--executor", "dask", src, tmp_path / "o")
    assert bad.exit_code == 2 and "AUGCLI_DASK_BATCH: expected an integer in [1, 100000], got '0'" in bad.output
    monkeypatch.delenv(executors.BATCH_ENV)
    monkeypatch.setattr(executors, "_installed", lambda: False)  # as if dask were not installed
    missing = cli("expand", "-r", "default", "--executor", "dask", src, tmp_path / "o")
    assert missing.exit_code == 2 and "pip install 'augcli[dask]'" in missing.output
    with pytest.raises(Exception, match="expected one of local, dask, got 'spark'"):
        api.expand(src, tmp_path / "o", recipe="default", executor="spark")


def test_help_and_local_runs_import_no_optional_backend(tmp_path: Path, make_tree: Any) -> None:
    """Neither dask nor fsspec and its stores are imported by --help or by a run on local folders."""
    src = make_tree({"a": 2})
    code = ("import sys; from augcli.cli import main; sys.argv = ['augcli'] + sys.argv[1:]\n"
            "try:\n    main()\nexcept SystemExit:\n    pass\n"
            "print(sorted(m for m in sys.modules if m.split('.')[0] in "
            "('dask', 'distributed', 'fsspec', 's3fs', 'botocore')))")
    env = {**os.environ, "PYTHONPATH": str(Path(__file__).parents[1])}
    for args in (["--help"], ["expand", "-q", "-r", "default", "-w", "1", str(src), str(tmp_path / "o1")],
                 ["expand", "-q", "-r", "default", "-w", "2", str(src), str(tmp_path / "o2")]):
        done = subprocess.run([sys.executable, "-c", code, *args], capture_output=True, text=True, env=env, check=True)
        assert done.stdout.strip().splitlines()[-1] == "[]"
