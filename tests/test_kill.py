"""A run killed at any moment resumes to exactly the files of an uninterrupted run.

Each trial starts ``augcli`` as a real process, SIGKILLs its whole process group (the parent and
its workers) after a delay spread over the run's whole life, from the first milliseconds of
start-up to the final manifest write, then runs the same command again to the end. The output
folder must then hold the same files with the same bytes, and the same manifest, as a run that
was never interrupted. SIGINT and SIGTERM stop a run with one line and no traceback.
"""

from __future__ import annotations

import hashlib
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from augcli import api
from augcli import manifest as M
from tests.conftest import build_tree

BOOKKEEPING = {M.RUN_RECORD, M.SOURCES, M.LOCK}  # the record names the run, not the outputs
TRIALS = 22


def _files(folder: Path) -> dict[str, str]:
    """Every file below ``folder`` (but run bookkeeping) with the sha256 of its bytes."""
    return {p.relative_to(folder).as_posix(): hashlib.sha256(p.read_bytes()).hexdigest()
            for p in sorted(folder.rglob("*")) if p.is_file() and p.name not in BOOKKEEPING}


def _command(tree: Path, out: Path) -> list[str]:
    return [sys.executable, "-m", "augcli", "expand", "-q", "--copies", "3", "--workers", "2", "--seed", "3",
            str(tree), str(out)]


def _start(tree: Path, out: Path) -> subprocess.Popen[bytes]:
    return subprocess.Popen(_command(tree, out), stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            start_new_session=True)


@pytest.fixture(scope="module")
def tree(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("kill") / "in"
    return build_tree(root, {"a": 30, "b": 20, "c": 10}, size=(96, 128))


@pytest.fixture(scope="module")
def reference(tree: Path) -> tuple[dict[str, str], float]:
    """The uninterrupted run's files, and how long a run lasts here (to spread the kill points)."""
    out = tree.parent / "reference"
    began = time.monotonic()
    done = subprocess.run(_command(tree, out), capture_output=True, check=False)
    assert done.returncode == 0, done.stderr.decode()
    return _files(out), time.monotonic() - began


def test_kill_at_any_moment_resumes_byte_identical(tree: Path, reference: tuple[dict[str, str], float]) -> None:
    files, duration = reference
    assert len(files) == 60 * 4 + 2  # originals, 3 copies each, manifest.csv, metadata.csv
    # Delays from 0 (killed before Python has even started) to past the end of a typical run.
    delays = [duration * 1.1 * k / (TRIALS - 1) for k in range(TRIALS)]
    delays[1:4] = [0.01, 0.04, 0.08]  # the first 100 ms, where the folder and record appear
    outcomes = []
    for k, delay in enumerate(delays):
        out = tree.parent / f"trial{k}"
        proc = _start(tree, out)
        time.sleep(delay)
        os.killpg(proc.pid, signal.SIGKILL)
        proc.wait()
        made = len(_files(out)) if out.exists() else 0
        again = subprocess.run(_command(tree, out), capture_output=True, check=False)
        assert again.returncode == 0, f"trial {k} ({delay:.3f}s): {again.stderr.decode()}"
        assert _files(out) == files, f"trial {k} ({delay:.3f}s) differs after resume"
        assert not list(out.rglob("*" + ".augcli-tmp")) and not (out / M.LOCK).exists()
        outcomes.append(made)
    # The trials hit every phase: nothing written yet, part written, and (at the end) all written.
    assert outcomes[0] == 0 and any(0 < n < len(files) for n in outcomes)


def test_kill_during_the_final_manifest_write_resumes(tree: Path, reference: tuple[dict[str, str], float],
                                                      monkeypatch: pytest.MonkeyPatch) -> None:
    """The last step rewrites the manifest in plan order; dying inside it loses nothing."""
    out = tree.parent / "final"
    real = M.write_rows
    calls = []

    def dies_on_final_write(path: Path, rows: object) -> None:
        calls.append(path)
        if len(calls) == 2:  # the first call writes the kept rows before any work; the second is the last
            raise KeyboardInterrupt
        real(path, rows)  # type: ignore[arg-type]

    monkeypatch.setattr(M, "write_rows", dies_on_final_write)
    with pytest.raises(KeyboardInterrupt):
        api.expand(tree, out, copies=3, workers=1, seed=3)
    monkeypatch.setattr(M, "write_rows", real)
    again = api.expand(tree, out, copies=3, workers=1, seed=3)
    assert (again.made, again.kept) == (0, 240)
    assert _files(out) == reference[0]


@pytest.mark.parametrize("sig, status, word", [(signal.SIGINT, 130, "interrupted"),
                                               (signal.SIGTERM, 143, "terminated")])
def test_signal_stops_with_one_line_and_resumes(tree: Path, reference: tuple[dict[str, str], float],
                                                sig: int, status: int, word: str) -> None:
    out = tree.parent / f"signal{int(sig)}"
    proc = _start(tree, out)
    deadline = time.monotonic() + 60
    # mid-run: once the first output is in place (a fixed share of the whole command's time could land
    # after the writing, now that --recipe auto reads the tree first)
    while not any(out.glob("*/*__aug*")) and proc.poll() is None and time.monotonic() < deadline:
        time.sleep(0.002)
    os.killpg(proc.pid, sig)  # as a terminal's Ctrl-C does: the whole group
    _, err = proc.communicate(timeout=90)
    text = err.decode()
    if proc.returncode == 0:  # the run finished before the signal landed: nothing to check but the files
        assert _files(out) == reference[0]
        return
    assert proc.returncode == status, text
    assert "Traceback" not in text
    assert f"Error: {word}: stopped after " in text and "run the same command again to resume" in text
    again = subprocess.run(_command(tree, out), capture_output=True, check=False)
    assert again.returncode == 0 and _files(out) == reference[0]


def test_group_signals_early_in_the_run_never_hang(tree: Path) -> None:
    """SIGTERM or SIGINT to the whole process group in the first milliseconds of writing: the run always
    stops (multiprocessing.Pool could hang here for ever, its workers dying with its queue lock held)."""
    for k in range(8):
        out = tree.parent / f"early{k}"
        proc = _start(tree, out)
        deadline = time.monotonic() + 60
        while not (out / M.MANIFEST).exists() and proc.poll() is None and time.monotonic() < deadline:
            time.sleep(0.001)
        time.sleep(0.002 * k)
        os.killpg(proc.pid, signal.SIGTERM if k % 2 else signal.SIGINT)
        try:
            _, err = proc.communicate(timeout=90)  # a run takes about a second: 90 s is a hang even on a loaded CI
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            raise AssertionError(f"trial {k}: the run hung after the signal") from None
        # 130/143 from augcli, or death by the signal itself (a shell shows 130/143 for those too).
        assert proc.returncode in (0, 130, 143, -signal.SIGINT, -signal.SIGTERM), err.decode()
        assert "Traceback" not in err.decode()


def test_workers_leave_when_the_parent_is_killed_alone(tree: Path) -> None:
    """kill -9 of the parent only (not its group): its workers notice and exit by themselves."""
    out = tree.parent / "orphans"
    proc = _start(tree, out)
    deadline = time.monotonic() + 60
    while not (out / M.MANIFEST).exists() and time.monotonic() < deadline:
        time.sleep(0.005)
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait()
    group = proc.pid  # the session's group id is the parent's pid
    for _ in range(100):
        alive = subprocess.run(["pgrep", "-g", str(group)], capture_output=True, text=True).stdout.split()
        if not alive:
            break
        time.sleep(0.1)
    assert not alive, f"workers still running: {alive}"


def _children(pid: int) -> list[int]:
    """The processes whose parent is ``pid`` (from /proc)."""
    found = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                fields = (entry / "stat").read_text().rsplit(")", 1)[1].split()
            except OSError:
                continue
            if int(fields[1]) == pid:
                found.append(int(entry.name))
    return found


def test_sigterm_while_auto_reads_the_tree_stops_with_one_line(tmp_path: Path) -> None:
    """SIGTERM while --recipe auto reads the input on the pool (before the run's own handler exists): one line,
    exit 143, no traceback, nothing written; before, the process died by the signal (-15)."""
    tree = build_tree(tmp_path / "in", {"a": 1500, "b": 1500}, size=(64, 64))
    out = tmp_path / "out"
    proc = subprocess.Popen([sys.executable, "-m", "augcli", "balance", "-q", "-w", "2", str(tree), str(out)],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, start_new_session=True)
    deadline = time.monotonic() + 60
    while not _children(proc.pid) and proc.poll() is None and time.monotonic() < deadline:
        time.sleep(0.002)
    os.kill(proc.pid, signal.SIGTERM)
    _, err = proc.communicate(timeout=60)
    assert (proc.returncode, err.decode()) == (143, "Error: terminated; run the same command again to resume\n")
    assert not out.exists()
