"""Runs and resumes with the bookkeeping sorted on disk: the same bytes as runs held in memory, whatever the
order of the earlier manifest and wherever a run stopped; and the seal of a finished run.

The spool's batches are cut to a few items here, so every sort spills many runs and merges them in
several passes, as a run of millions of outputs does.
"""

from __future__ import annotations

import hashlib
import os
import random
import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from augcli import api, forked, resume, seal, spool
from augcli import manifest as M
from augcli import run as R
from augcli.dataset import scan
from augcli.errors import InputError, RunError
from augcli.plan import expand_items, plan_tasks
from augcli.resume import Listing
from augcli.sections import plan_expand
from tests.conftest import build_tree, make_image, write_image

RECIPE = "seed: 2\ncopies: 2\npipeline:\n  - rotate: {degrees: [-30, 30], p: 1}\n"
BOOKKEEPING = {M.RUN_RECORD, M.SOURCES, M.LOCK}


@pytest.fixture(autouse=True)
def tiny_batches(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(spool, "LIMIT", 3)
    monkeypatch.setattr(spool, "BLOCK", 2)
    monkeypatch.setattr(spool, "FAN_IN", 2)
    monkeypatch.setattr(resume, "ROWS_LIMIT", 4)


@pytest.fixture
def recipe(tmp_path: Path) -> Path:
    path = tmp_path / "r.yaml"
    path.write_text(RECIPE)
    return path


@pytest.fixture
def tree(tmp_path: Path) -> Path:
    """11 images in 3 classes (33 outputs), one class in a sub-folder."""
    root = build_tree(tmp_path / "in", {"a": 5, "b": 4}, size=(12, 16))
    for i in range(2):
        write_image(root / "c" / "deep" / f"c_{i}.png", make_image(height=12, width=16, seed=50 + i))
    return root


def _files(folder: Path) -> dict[str, str]:
    return {p.relative_to(folder).as_posix(): hashlib.sha256(p.read_bytes()).hexdigest()
            for p in sorted(folder.rglob("*")) if p.is_file() and p.name not in BOOKKEEPING}


@pytest.fixture
def reference(tmp_path: Path, tree: Path, recipe: Path, monkeypatch: pytest.MonkeyPatch) -> dict[str, str]:
    """The files of an uninterrupted run made with the batches of a normal run."""
    with monkeypatch.context() as normal:
        normal.setattr(spool, "LIMIT", 32_768)
        api.expand(tree, tmp_path / "reference", recipe=recipe, workers=1)
    return _files(tmp_path / "reference")


@pytest.mark.parametrize("workers", [1, 2])
def test_merged_manifest_equals_the_rows_put_in_plan_order_in_memory(tmp_path: Path, tree: Path, recipe: Path,
                                                                     reference: dict[str, str],
                                                                     workers: int) -> None:
    out = tmp_path / "out"
    result = api.expand(tree, out, recipe=recipe, workers=workers)
    assert result.made == 33 and _files(out) == reference
    rows = {row.path: row for row in M.read_rows(out / M.MANIFEST)}
    plan = plan_tasks(expand_items(scan(tree).sources, 2, True), 2, "same")  # the oracle: the list plan
    assert list(rows.values()) == [rows[job.rel] for task in plan for job in task.jobs]


class _Stop(Exception):
    pass


def _stopping_commit(stop_at: int, step: str) -> Any:
    """A run._commit that stops the run at its ``stop_at``-th call, before it (step "before"), after the rows
    and stamps are appended (step "rows"), or after the first of the task's files is moved (step "one")."""
    real, calls = R._commit, [0]

    def commit(result: R.TaskResult, manifest: M.Appender, sources: M.Appender) -> None:
        calls[0] += 1
        if calls[0] < stop_at or step == "before" and calls[0] > stop_at:
            real(result, manifest, sources)
            return
        if step == "before":
            raise KeyboardInterrupt
        sources.write(st.record() for st in result.stamps)
        manifest.write(M.astuple_row(row) for row in result.rows)
        if step == "one" and result.temps:
            os.replace(result.temps[0], Path(result.temps[0]).with_name(Path(result.rows[0].path).name))
        raise KeyboardInterrupt

    return commit


@pytest.mark.parametrize("step", ["before", "rows", "one"])
def test_a_run_stopped_after_any_result_resumes_byte_identical(tmp_path: Path, tree: Path, recipe: Path,
                                                               reference: dict[str, str],
                                                               monkeypatch: pytest.MonkeyPatch, step: str) -> None:
    for stop_at in range(1, 12):  # 11 tasks: stopped at each one
        out = tmp_path / f"{step}{stop_at}"
        with monkeypatch.context() as stopping:
            stopping.setattr(R, "_commit", _stopping_commit(stop_at, step))
            with pytest.raises(R.Interrupted):
                api.expand(tree, out, recipe=recipe, workers=1)
        again = api.expand(tree, out, recipe=recipe, workers=1)
        assert again.made + again.kept == 33, (step, stop_at)
        assert _files(out) == reference, (step, stop_at)
        assert not list(out.rglob("*.augcli-tmp"))


def test_a_manifest_in_any_order_resumes(tmp_path: Path, tree: Path, recipe: Path, reference: dict[str, str]) -> None:
    """Rows appended out of plan order (as after a stop), some files gone: the rerun ends as a fresh run."""
    out = tmp_path / "out"
    api.expand(tree, out, recipe=recipe, workers=1)
    lines = (out / M.MANIFEST).read_text().splitlines(keepends=True)
    body = lines[1:]
    random.Random(4).shuffle(body)
    (out / M.MANIFEST).write_text(lines[0] + "".join(body))
    (out / "metadata.csv").unlink()  # as a stopped run leaves it: removed when the run began
    for line in body[:5]:
        (out / line.split(",")[0]).unlink()
    again = api.expand(tree, out, recipe=recipe, workers=2)
    assert (again.made, again.kept, again.stale) == (5, 28, 0)
    assert _files(out) == reference


def test_the_first_bad_row_in_file_order_is_named(tmp_path: Path, tree: Path, recipe: Path) -> None:
    """A row outside the folder and a row listed twice: the one nearer the top of the manifest is reported."""
    out = tmp_path / "out"
    api.expand(tree, out, recipe=recipe, workers=1)
    lines = (out / M.MANIFEST).read_text().splitlines(keepends=True)
    outside = "../x.png" + lines[1][lines[1].index(","):]
    for body, message in (([outside, lines[2], lines[2]], "names a path outside"),
                          ([lines[2], lines[2], outside], "is listed twice")):
        (out / M.MANIFEST).write_text(lines[0] + "".join(lines[1:] + body))
        with pytest.raises(InputError, match=message):
            api.expand(tree, out, recipe=recipe, workers=1)


def test_a_touched_input_keeps_its_outputs_and_its_stamp_takes_the_new_mtime(tmp_path: Path, tree: Path,
                                                                              recipe: Path) -> None:
    out = tmp_path / "out"
    api.expand(tree, out, recipe=recipe, workers=1)
    source = tree / "b" / "b_001.png"
    stat = source.stat()
    os.utime(source, ns=(stat.st_atime_ns, stat.st_mtime_ns + 7_000_000_000))
    again = api.expand(tree, out, recipe=recipe, workers=1)
    assert (again.made, again.kept, again.stale) == (0, 33, 0)
    stamps = M.read_stamps(out / M.SOURCES)
    assert stamps["b/b_001.png"].mtime_ns == source.stat().st_mtime_ns
    assert len(stamps) == 11


def test_listing_says_what_stat_says(tmp_path: Path) -> None:
    root = tmp_path / "o"
    (root / "d" / "sub").mkdir(parents=True)
    (root / "d" / "f.png").write_bytes(b"x")
    (root / "d" / "to_file").symlink_to(root / "d" / "f.png")
    (root / "d" / "to_dir").symlink_to(root / "d" / "sub")
    (root / "d" / "broken").symlink_to(root / "nowhere")
    (root / "file").write_bytes(b"y")
    listing = Listing(root)
    for rel in ("d/f.png", "d/sub", "d/to_file", "d/to_dir", "d/broken", "d/none", "none/x", "file/x", "d/sub/x",
                "d/to_dir/x", "file"):
        assert listing.is_file(rel) == (root / rel).is_file(), rel
        assert listing.lexists(rel) == os.path.lexists(root / rel), rel


# ---------------------------------------------------------------- the seal


def _refuse_prepare(monkeypatch: pytest.MonkeyPatch) -> None:
    def refuse(*args: object, **kwargs: object) -> None:
        raise AssertionError("the full path ran")

    monkeypatch.setattr(R, "prepare", refuse)


def test_a_sealed_rerun_touches_nothing_and_says_what_the_full_check_says(
        tmp_path: Path, tree: Path, recipe: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    out = tmp_path / "out"
    first = api.expand(tree, out, recipe=recipe, workers=1)
    assert seal._read(out / M.RUN_RECORD) is not None
    before = {p: (p.stat().st_mtime_ns, p.read_bytes()) for p in out.rglob("*") if p.is_file()}
    with monkeypatch.context() as sealed:
        _refuse_prepare(sealed)
        quick = api.expand(tree, out, recipe=recipe, workers=2)
    assert {p: (p.stat().st_mtime_ns, p.read_bytes()) for p in out.rglob("*") if p.is_file()} == before
    monkeypatch.setenv("AUGCLI_FULL_CHECK", "1")
    full = api.expand(tree, out, recipe=recipe, workers=1)
    assert (quick.made, quick.kept, quick.stale, quick.skipped) == (0, 33, 0, 0)
    for name in ("planned", "made", "kept", "stale", "skipped", "errors", "before", "after", "redrawn",
                 "copies_left_out", "status"):
        assert getattr(quick, name) == getattr(full, name), name
    assert first.after == quick.after == {"a": 15, "b": 12, "c": 6}
    assert seal._read(out / M.RUN_RECORD) is not None  # the full check sealed it again


def test_two_processes_give_the_inputs_digest_of_one(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    root = build_tree(tmp_path / "in", {"a": 3, "b": 6, "c": 1, "d": 4}, size=(8, 8))
    plan = plan_expand(scan(root), copies=1, originals=True, recipe_seed=0, fmt="same")
    problems = [("b/bad.png", "not an image")]
    alone = seal._inputs_digest(root, plan, problems)
    forks = _share_the_stats(monkeypatch)
    assert forked.their_half({k: len(plan.sections[k].names) for k in range(4)}, 0) == [1, 2]  # b (6), c (1): 7 of 14
    assert seal._inputs_digest(root, plan, problems) == alone is not None
    os.utime(root / "c" / "c_000.png", ns=(0, 0))  # one of the child's classes
    assert seal._inputs_digest(root, plan, problems) not in (alone, None)
    (root / "b" / "b_005.png").unlink()  # the child cannot stat it: no digest
    assert seal._inputs_digest(root, plan, problems) is None
    monkeypatch.setattr(forked, "fork", lambda: forks.append(1) or -1)  # no fork here: this process does it all
    assert seal._inputs_digest(root, plan, problems) is None
    assert len(forks) == 4


def test_a_child_that_answers_wrong_gives_no_digest() -> None:
    one = (1).to_bytes(4, "little") + b"\1" + bytes(range(20))
    assert seal._merge({0: b"x"}, one, [1]) == {0: b"x", 1: bytes(range(20))}
    assert seal._merge({0: b"x"}, one[:-1], [1]) is None  # cut short (it died while writing)
    assert seal._merge({0: b"x"}, one, [2]) is None  # a class it was not given
    assert seal._merge({1: b"x"}, one, [1]) is None  # a class this process did


def _delete_an_output(tree: Path, out: Path) -> None:
    (out / "b" / "b_001__aug002.png").unlink()


def _add_a_file_beside_outputs(tree: Path, out: Path) -> None:
    (out / "c" / "deep" / "mine.txt").write_text("mine")


def _touch_an_input(tree: Path, out: Path) -> None:
    stat = (tree / "a" / "a_000.png").stat()
    os.utime(tree / "a" / "a_000.png", ns=(stat.st_atime_ns, stat.st_mtime_ns + 5_000_000_000))


def _edit_an_input(tree: Path, out: Path) -> None:
    write_image(tree / "c" / "deep" / "c_1.png", make_image(height=12, width=16, seed=99))


def _add_an_input(tree: Path, out: Path) -> None:
    write_image(tree / "b" / "b_009.png", make_image(height=12, width=16, seed=98))


def _edit_the_manifest(tree: Path, out: Path) -> None:
    with open(out / M.MANIFEST, "a", encoding="utf-8") as handle:
        handle.write("")  # opened for writing: no new bytes, yet the file's times move
    os.utime(out / M.MANIFEST)


def _replace_a_folder(tree: Path, out: Path) -> None:
    shutil.copytree(out / "a", out / "a2", copy_function=shutil.copy2)
    shutil.rmtree(out / "a")
    (out / "a2").rename(out / "a")


def _share_the_stats(monkeypatch: pytest.MonkeyPatch) -> list[int]:
    """Every rerun stats its inputs in two processes, however small the tree; the forks it made."""
    forks: list[int] = []
    real = forked.fork

    def fork() -> int:
        forks.append(1)
        return real()

    monkeypatch.setattr(seal, "SHARE_FROM", 0)
    monkeypatch.setattr(forked, "may_fork", lambda: True)  # pytest may hold threads of earlier tests
    monkeypatch.setattr(forked, "fork", fork)
    return forks


@pytest.mark.parametrize("shared", [False, True], ids=["one process", "two processes"])
@pytest.mark.parametrize("change", [_delete_an_output, _add_a_file_beside_outputs, _touch_an_input, _edit_an_input,
                                    _add_an_input, _edit_the_manifest, _replace_a_folder])
def test_any_change_breaks_the_seal(tmp_path: Path, tree: Path, recipe: Path, monkeypatch: pytest.MonkeyPatch,
                                    change: Any, shared: bool) -> None:
    out = tmp_path / "out"
    api.expand(tree, out, recipe=recipe, workers=1)
    assert seal._read(out / M.RUN_RECORD) is not None
    forks = _share_the_stats(monkeypatch) if shared else []
    change(tree, out)
    calls = []
    real = R.prepare

    def spy(*args: Any, **kwargs: Any) -> Any:
        calls.append(1)
        return real(*args, **kwargs)

    monkeypatch.setattr(R, "prepare", spy)
    api.expand(tree, out, recipe=recipe, workers=1)
    assert calls == [1]
    assert len(forks) == (shared and change in (_touch_an_input, _edit_an_input))  # the others: seen before the inputs
    monkeypatch.setattr(spool, "LIMIT", 32_768)
    api.expand(tree, tmp_path / "fresh", recipe=recipe, workers=1)
    assert _files(out) == {**_files(tmp_path / "fresh"), **({"c/deep/mine.txt": hashlib.sha256(b"mine").hexdigest()}
                                                            if change is _add_a_file_beside_outputs else {})}


def test_a_copied_folder_takes_the_full_path(tmp_path: Path, tree: Path, recipe: Path,
                                             monkeypatch: pytest.MonkeyPatch) -> None:
    out = tmp_path / "out"
    api.expand(tree, out, recipe=recipe, workers=1)
    shutil.copytree(out, tmp_path / "copy", copy_function=shutil.copy2)  # extended attributes come along
    assert seal._read(tmp_path / "copy" / M.RUN_RECORD) is not None
    with pytest.raises(AssertionError, match="the full path ran"):
        with monkeypatch.context() as sealed:
            _refuse_prepare(sealed)
            api.expand(tree, tmp_path / "copy", recipe=recipe, workers=1)


def test_no_seal_for_a_run_with_an_unreadable_input_or_an_input_changed_while_it_ran(
        tmp_path: Path, tree: Path, recipe: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    (tree / "b" / "bad.png").write_bytes(b"not a png")
    api.expand(tree, tmp_path / "bad", recipe=recipe, workers=1)
    assert seal._read(tmp_path / "bad" / M.RUN_RECORD) is None
    (tree / "b" / "bad.png").unlink()

    real = R._commit

    def edit_after_read(result: R.TaskResult, *args: Any) -> None:
        if result.stamps and result.stamps[0].path == "a/a_002.png":
            _edit_an_input(tree, tmp_path)
            write_image(tree / "a" / "a_002.png", make_image(height=12, width=16, seed=97))
        real(result, *args)

    monkeypatch.setattr(R, "_commit", edit_after_read)
    api.expand(tree, tmp_path / "changed", recipe=recipe, workers=1)
    assert seal._read(tmp_path / "changed" / M.RUN_RECORD) is None


def test_the_seal_waits_for_the_file_systems_clock(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    probe = tmp_path / "p"
    probe.write_bytes(b"")
    now = probe.stat().st_ctime_ns
    assert seal._clock_after(tmp_path, now)  # at most a clock tick
    monkeypatch.setattr(seal, "_CLOCK_WAIT", 0.05)
    assert not seal._clock_after(tmp_path, now + 3600 * 10**9)  # an hour ahead: gives up
    assert list(tmp_path.iterdir()) == [probe]


def test_a_stop_while_sealing_resumes(tmp_path: Path, tree: Path, recipe: Path, reference: dict[str, str],
                                      monkeypatch: pytest.MonkeyPatch) -> None:
    out = tmp_path / "out"

    def stop(*args: Any) -> Iterator[None]:
        raise KeyboardInterrupt

    with monkeypatch.context() as stopping:
        stopping.setattr(seal, "_clock_after", stop)
        with pytest.raises(KeyboardInterrupt):
            api.expand(tree, out, recipe=recipe, workers=1)
    again = api.expand(tree, out, recipe=recipe, workers=1)
    assert (again.made, again.kept) == (0, 33) and _files(out) == reference


def test_an_edited_recipe_is_refused_even_when_sealed(tmp_path: Path, tree: Path, recipe: Path) -> None:
    api.expand(tree, tmp_path / "out", recipe=recipe, workers=1)
    with pytest.raises(InputError, match="different seed"):
        api.expand(tree, tmp_path / "out", recipe=recipe, workers=1, seed=8)
    with pytest.raises(RunError, match="another augcli run"):
        (tmp_path / "out" / M.LOCK).write_text(str(os.getppid()))
        api.expand(tree, tmp_path / "out", recipe=recipe, workers=1)
