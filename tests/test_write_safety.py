"""Write safety: augcli writes and deletes only what it made, refuses what it cannot prove, and says why."""

from __future__ import annotations

import csv
import errno
import hashlib
import json
import multiprocessing
import os
import re
import shutil
import sys
from collections.abc import Collection
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from augcli import api
from augcli import manifest as M
from augcli.errors import InputError, RunError
from tests.conftest import make_image, write_image

RECIPE = "seed: 1\ncopies: 2\npipeline:\n  - rotate: {degrees: [-20, 20], p: 1}\n"
BOOKKEEPING = {M.RUN_RECORD, M.SOURCES, M.LOCK}  # differ between runs of the same plan (paths, mtimes)


@pytest.fixture
def recipe(tmp_path: Path) -> Path:
    path = tmp_path / "r.yaml"
    path.write_text(RECIPE)
    return path


@pytest.fixture
def tree(make_tree: Any) -> Path:
    """cat: 2 images, dog: 1 (24x32 PNG); with the recipe, 9 outputs."""
    return make_tree({"cat": 2, "dog": 1})


@pytest.fixture
def run(tmp_path: Path, tree: Path, recipe: Path) -> Path:
    """A finished expand run of ``tree``; returns its output folder."""
    out = tmp_path / "out"
    result = api.expand(tree, out, recipe=recipe, workers=1)
    assert result.made == result.planned == 9
    return out


def _files(root: Path, skip: Collection[str] = ()) -> dict[str, bytes]:
    """Every file below root by relative path (as the file system names it), top-level ``skip`` left out."""
    return {os.fsdecode(p.relative_to(root)): p.read_bytes() for p in sorted(root.rglob("*"))
            if p.is_file() and p.relative_to(root).as_posix() not in skip}


def _digest(root: Path) -> dict[str, str]:
    """sha256 of every output file and the manifest, without the bookkeeping that names paths and mtimes."""
    return {rel: hashlib.sha256(data).hexdigest() for rel, data in _files(root, BOOKKEEPING).items()}


def _append_rows(manifest: Path, rows: list[M.Row]) -> None:
    with open(manifest, "a", newline="", **M.ENCODING) as handle:  # type: ignore[call-overload]
        csv.writer(handle, lineterminator="\n").writerows(M.astuple_row(r) for r in rows)


def _sha(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


# ---------------------------------------------------------------- folders augcli did not make


@pytest.mark.parametrize("overwrite", [False, True], ids=["plain", "overwrite"])
def test_folder_without_a_run_record_is_refused_and_left_alone(cli: Any, tmp_path: Path, tree: Path, recipe: Path,
                                                               overwrite: bool) -> None:
    """A non-empty folder holding no augcli run is refused, with or without --overwrite, and no byte changes."""
    out = tmp_path / "out"
    (out / "cat").mkdir(parents=True)
    (out / M.MANIFEST).write_text("path,label\nmine.png,cat\n")
    (out / M.ERRORS).write_text("my own notes\n")
    (out / "cat" / "cat_000.png").write_bytes(b"the user's own image")  # the path of an input's original
    before = _files(out)
    result = cli("expand", "-q", "-w", 1, "--recipe", recipe, *(["--overwrite"] if overwrite else []), tree, out)
    assert result.exit_code == 2, result.output
    assert f"output folder {out} is not empty and holds no augcli run" in result.stderr
    assert "choose a new or empty folder" in result.stderr
    assert _files(out) == before


def test_leftovers_of_a_run_killed_before_its_record_are_accepted_and_cleaned(tmp_path: Path, tree: Path,
                                                                             recipe: Path) -> None:
    """A folder holding only a dead run's lock and temporary file is augcli's own: it is used and tidied."""
    with pytest.raises(ProcessLookupError):
        os.kill(999999, 0)
    out = tmp_path / "out"
    out.mkdir()
    (out / M.LOCK).write_text("999999")
    (out / f".{M.RUN_RECORD}.123.augcli-tmp").write_text("{")
    result = api.expand(tree, out, recipe=recipe, workers=1)
    assert result.made == result.planned == 9
    assert not (out / M.LOCK).exists()
    assert not list(out.rglob("*.augcli-tmp"))
    assert sorted(p.name for p in out.iterdir()) == sorted([M.RUN_RECORD, M.SOURCES, M.MANIFEST, "metadata.csv",
                                                            "cat", "dog"])


@pytest.mark.parametrize("bad", ["../victim.txt", "ABSOLUTE"])
def test_manifest_rows_outside_the_folder_are_refused_before_any_delete(cli: Any, tmp_path: Path, tree: Path,
                                                                       recipe: Path, run: Path, bad: str) -> None:
    """A manifest naming a path outside its folder (climbing or absolute) is refused; nothing is deleted."""
    victim = tmp_path / "victim.txt"
    victim.write_bytes(b"precious")
    rel = str(victim) if bad == "ABSOLUTE" else bad
    _append_rows(run / M.MANIFEST, [M.Row(rel, "cat", "original", "cat/cat_000.png", 0, 0, "[]",
                                          _sha(b"precious"))])
    before = _files(run)
    for extra in (["--overwrite", "--seed", 9], []):  # another run's settings, then a plain rerun
        result = cli("expand", "-q", "-w", 1, "--recipe", recipe, *extra, tree, run)
        assert result.exit_code == 2, result.output
        assert f"Error: {run / M.MANIFEST}: row {rel!r} names a path outside the folders" in result.stderr
        assert victim.read_bytes() == b"precious"
        assert _files(run) == before


# ---------------------------------------------------------------- --overwrite deletes only unchanged files


def test_overwrite_keeps_files_the_manifest_does_not_record(tmp_path: Path, tree: Path, recipe: Path,
                                                            run: Path) -> None:
    """--overwrite removes the earlier run's files, never a file of the user's beside them."""
    (run / "cat" / "mine.txt").write_bytes(b"mine")
    result = api.expand(tree, run, recipe=recipe, workers=1, seed=9, overwrite=True)
    assert result.stale == 9 and result.made == 9
    assert (run / "cat" / "mine.txt").read_bytes() == b"mine"
    fresh = api.expand(tree, tmp_path / "fresh", recipe=recipe, workers=1, seed=9)
    assert fresh.made == 9
    assert _digest(run) == {**_digest(tmp_path / "fresh"), "cat/mine.txt": _sha(b"mine")}


def test_overwrite_refuses_to_delete_an_output_edited_after_the_run(cli: Any, tree: Path, recipe: Path,
                                                                    run: Path) -> None:
    """--overwrite stops with exit 2 naming a recorded output whose bytes changed, and leaves that file as it is."""
    edited = run / "dog" / "dog_000__aug002.png"  # the last row of the manifest
    edited.write_bytes(b"the user's retouched image")
    before = {p: p.read_bytes() for p in run.rglob("*") if p.is_file()}
    result = cli("expand", "-q", "-w", 1, "--recipe", recipe, "--overwrite", "--seed", 9, tree, run)
    assert result.exit_code == 2, result.output
    assert f"Error: {edited} was changed after augcli wrote it" in result.stderr
    assert "move it out of the output folder" in result.stderr
    assert "nothing was deleted" in result.stderr
    # Every file is checked before any is deleted: the refusal leaves the whole folder as it was.
    assert {p: p.read_bytes() for p in run.rglob("*") if p.is_file()} == before
    # The earlier run stays usable: once the file is moved away, the same command replaces the run.
    edited.rename(run.parent / "kept.png")
    again = cli("expand", "-q", "-w", 1, "--recipe", recipe, "--overwrite", "--seed", 9, tree, run)
    assert again.exit_code == 0, again.output
    assert (run.parent / "kept.png").read_bytes() == b"the user's retouched image"


def test_unrecorded_file_at_a_planned_path_is_refused(cli: Any, tree: Path, recipe: Path, run: Path) -> None:
    """A file at a path the plan writes that no manifest row records is never written over: exit 2."""
    text = (run / M.MANIFEST).read_text()
    lines = text.splitlines(keepends=True)
    dropped = [line for line in lines if line.startswith("cat/cat_001__aug001.png,")]
    assert len(dropped) == 1
    (run / M.MANIFEST).write_text("".join(line for line in lines if line not in dropped))
    (run / "metadata.csv").unlink()  # a run stopped before its end has none (it is written last)
    target = run / "cat" / "cat_001__aug001.png"
    before = target.read_bytes()
    result = cli("expand", "-q", "-w", 1, "--recipe", recipe, tree, run)
    assert result.exit_code == 2, result.output
    assert f"output folder {run} holds cat/cat_001__aug001.png that this run would write" in result.stderr
    assert "no augcli manifest records them" in result.stderr
    assert target.read_bytes() == before


# ---------------------------------------------------------------- stale sources


def test_source_moved_to_another_class_is_remade_as_a_fresh_run_would(tmp_path: Path, tree: Path, recipe: Path,
                                                                     run: Path) -> None:
    """A source moved to another class: its old outputs go, new ones come, and the folder equals a fresh run."""
    (tree / "cat" / "cat_000.png").rename(tree / "dog" / "cat_000.png")
    result = api.expand(tree, run, recipe=recipe, workers=1)
    assert (result.stale, result.made, result.kept, result.planned) == (3, 3, 6, 9)
    assert not list((run / "cat").glob("cat_000*"))
    assert sorted(p.name for p in (run / "dog").glob("cat_000*")) == [
        "cat_000.png", "cat_000__aug001.png", "cat_000__aug002.png"]
    api.expand(tree, tmp_path / "fresh", recipe=recipe, workers=1)
    assert _digest(run) == _digest(tmp_path / "fresh")
    assert (run / M.MANIFEST).read_bytes() == (tmp_path / "fresh" / M.MANIFEST).read_bytes()


def test_stale_outputs_are_all_checked_before_any_is_removed(tree: Path, recipe: Path, run: Path) -> None:
    """A moved source whose old output was edited by the user stops the rerun before any stale file goes."""
    (tree / "cat" / "cat_000.png").rename(tree / "dog" / "cat_000.png")
    (run / "cat" / "cat_000__aug002.png").write_bytes(b"retouched")
    before = _files(run)
    with pytest.raises(InputError, match=r"cat_000__aug002\.png was changed after augcli wrote it.*nothing was delet"):
        api.expand(tree, run, recipe=recipe, workers=1)
    assert _files(run) == before


def test_source_edited_in_place_is_remade_and_a_touch_is_not(tmp_path: Path, tree: Path, recipe: Path,
                                                             run: Path) -> None:
    """New pixels under the same name remake that source's outputs; a new mtime on the same bytes remakes nothing."""
    source = tree / "cat" / "cat_000.png"
    stamp = source.stat().st_mtime_ns
    write_image(source, make_image(np.uint8, 3, 24, 32, seed=77))
    os.utime(source, ns=(stamp + 10**9, stamp + 10**9))  # a later edit, even on a coarse clock
    result = api.expand(tree, run, recipe=recipe, workers=1)
    assert (result.stale, result.made, result.kept) == (3, 3, 6)
    api.expand(tree, tmp_path / "fresh", recipe=recipe, workers=1)
    assert _digest(run) == _digest(tmp_path / "fresh")
    assert (run / M.MANIFEST).read_bytes() == (tmp_path / "fresh" / M.MANIFEST).read_bytes()

    os.utime(source, ns=(stamp + 5 * 10**9, stamp + 5 * 10**9))
    touched = api.expand(tree, run, recipe=recipe, workers=1)
    assert (touched.stale, touched.made, touched.kept) == (0, 0, 9)
    assert _digest(run) == _digest(tmp_path / "fresh")


# ---------------------------------------------------------------- options and recipes refused up front


@pytest.mark.parametrize(("args", "message"), [
    (["expand", "--copies", "1000000000"], "Invalid value for '--copies'"),
    (["expand", "--seed", "18446744073709551616"], "Invalid value for '--seed'"),
    (["expand", "--workers", "0"], "Invalid value for '--workers'"),
    (["balance", "--target", "10000000000"], "--target: expected a number of images N >= 1 and at most 1000000"),
    (["balance", "--target", "1000000"], "more than --max-outputs 1,000,000; pass --max-outputs 2000000"),
    (["expand", "--copies", "5", "--max-outputs", "3"], "would write 18 files, more than --max-outputs 3"),
])
def test_out_of_bounds_options_exit_2_naming_the_option(cli: Any, tmp_path: Path, tree: Path, args: list[str],
                                                        message: str) -> None:
    """Numbers outside an option's bounds, or a plan above --max-outputs, stop before anything is written."""
    result = cli(*args, "-q", tree, tmp_path / "out")
    assert result.exit_code == 2, result.output
    assert message in result.stderr
    assert not (tmp_path / "out").exists()


def test_raised_max_outputs_lets_a_large_plan_run(cli: Any, tmp_path: Path, tree: Path) -> None:
    """--max-outputs raised above the plan's size lets it run."""
    result = cli("expand", "-q", "-w", 1, "--copies", 5, "--max-outputs", 1000, tree, tmp_path / "out")
    assert result.exit_code == 0, result.output
    assert len(M.read_rows(tmp_path / "out" / M.MANIFEST)) == 18


def test_api_and_preview_bounds(cli: Any, tmp_path: Path, tree: Path) -> None:
    """The API checks the same bounds (InputError), and preview's --cell is bounded."""
    with pytest.raises(InputError, match=r"^copies: expected an integer in \[0, 100000\], got 1000000000$"):
        api.expand(tree, tmp_path / "out", copies=10**9)
    assert not (tmp_path / "out").exists()
    result = cli("preview", "--cell", 100000, tree, tmp_path / "p.png")
    assert result.exit_code == 2 and "Invalid value for '--cell'" in result.stderr
    assert not (tmp_path / "p.png").exists()


def test_no_custom_refuses_before_importing_the_module(cli: Any, monkeypatch: pytest.MonkeyPatch,
                                                       tmp_path: Path, tree: Path) -> None:
    """--no-custom refuses a recipe with a custom step (exit 2) without importing the module it names."""
    marker = tmp_path / "imported"
    modules = tmp_path / "mods"
    modules.mkdir()
    (modules / "augcli_marker_mod.py").write_text(
        f"from pathlib import Path\nPath({str(marker)!r}).write_text('ran')\n"
        "def fn(image, rng, params):\n    return image\n")
    monkeypatch.syspath_prepend(str(modules))
    recipe = tmp_path / "custom.yaml"
    recipe.write_text("pipeline:\n  - custom: {fn: 'augcli_marker_mod:fn'}\n")
    try:
        for command in (["expand", "-q", "-w", 1, tree, tmp_path / "out"], ["preview", tree, tmp_path / "p.png"],
                        ["balance", "-q", "-w", 1, tree, tmp_path / "out"]):
            result = cli(command[0], "--no-custom", "--recipe", recipe, *command[1:])
            assert result.exit_code == 2, result.output
            assert f"Error: {recipe}:2: pipeline[0]: expected a step" in result.stderr
            assert "got 'custom'" in result.stderr and "refused because --no-custom was given" in result.stderr
            assert not marker.exists() and "augcli_marker_mod" not in sys.modules
        assert not (tmp_path / "out").exists() and not (tmp_path / "p.png").exists()
        api.load_recipe(recipe)  # the control: allowed, loading the recipe imports the module
        assert marker.read_text() == "ran"
    finally:
        sys.modules.pop("augcli_marker_mod", None)


# ---------------------------------------------------------------- system failures


def test_output_under_proc_exits_1_naming_the_path(cli: Any, tree: Path) -> None:
    """An output folder that cannot be made is a clean exit 1 naming the path."""
    result = cli("expand", "-q", "-w", 1, tree, "/proc/augcli-test/out")
    assert result.exit_code == 1, result.output
    assert "Error: cannot write /proc/augcli-test" in result.stderr
    assert "Traceback" not in result.output


def test_full_disk_exits_1_and_the_run_resumes(cli: Any, monkeypatch: pytest.MonkeyPatch, tree: Path,
                                               recipe: Path, tmp_path: Path) -> None:
    """A write failing with ENOSPC is a clean exit 1 naming the file; the same command then finishes the run."""
    def full(path: Path, data: bytes) -> Path:
        raise OSError(errno.ENOSPC, "No space left on device")

    out = tmp_path / "out"
    monkeypatch.setattr("augcli.run.write_temp", full)
    result = cli("expand", "-q", "-w", 1, "--recipe", recipe, tree, out)
    assert result.exit_code == 1, result.output
    assert f"Error: cannot write {out / 'cat' / 'cat_000.png'}: No space left on device" in result.stderr
    assert "Traceback" not in result.output
    assert not list(out.rglob("*.augcli-tmp")) and not (out / M.LOCK).exists()
    monkeypatch.undo()
    again = cli("expand", "-q", "-w", 1, "--recipe", recipe, tree, out)
    assert again.exit_code == 0, again.output
    assert len(M.read_rows(out / M.MANIFEST)) == 9


def test_missing_input_folder_exits_2(cli: Any, tmp_path: Path) -> None:
    """A missing input folder is exit 2 naming it; no output folder is made."""
    result = cli("expand", "-q", tmp_path / "nowhere", tmp_path / "out")
    assert result.exit_code == 2, result.output
    assert f"Error: input folder {tmp_path / 'nowhere'} does not exist or is not a folder" in result.stderr
    assert "Traceback" not in result.output
    assert not (tmp_path / "out").exists()


# ---------------------------------------------------------------- workers under spawn


def test_spawned_workers_give_the_same_bytes(monkeypatch: pytest.MonkeyPatch, tmp_path: Path, make_tree: Any,
                                             recipe: Path) -> None:
    """Workers started with spawn (which re-imports augcli) write exactly what one in-process worker writes:
    expand, SMOTE balance and replay."""
    src = make_tree({"a": 3, "b": 1}, size=(16, 16))
    one = api.expand(src, tmp_path / "e1", recipe=recipe, workers=1)
    b1 = api.balance(src, tmp_path / "b1", method="smote", k_neighbors=2, workers=1)
    monkeypatch.setenv("AUGCLI_START_METHOD", "spawn")
    methods: list[str | None] = []
    real = multiprocessing.get_context

    def spy(method: str | None = None) -> Any:
        methods.append(method)
        return real(method)

    monkeypatch.setattr(multiprocessing, "get_context", spy)
    two = api.expand(src, tmp_path / "e2", recipe=recipe, workers=2)
    b2 = api.balance(src, tmp_path / "b2", method="smote", k_neighbors=2, workers=2)
    replayed = api.replay(tmp_path / "e1" / M.MANIFEST, tmp_path / "r2", workers=2)
    assert methods == ["spawn", "spawn", "spawn"]  # every run used a pool of spawned workers
    assert (replayed.rebuilt, replayed.identical, replayed.mismatched) == (12, 12, ())
    assert one.made == two.made == 12 and b1.made == b2.made == 6
    assert dict(b2.added) == {"a": 0, "b": 2}
    assert _files(tmp_path / "e1", {M.LOCK}) == _files(tmp_path / "e2", {M.LOCK})
    assert _files(tmp_path / "b1", {M.LOCK}) == _files(tmp_path / "b2", {M.LOCK})


# ---------------------------------------------------------------- replay


def test_replay_refuses_an_edited_op_parameter_naming_line_and_op(cli: Any, tmp_path: Path, run: Path) -> None:
    """A renamed op parameter in the manifest is exit 2 naming the manifest line and the op; nothing is written."""
    lines = (run / M.MANIFEST).read_text().splitlines(keepends=True)
    assert lines[2].startswith("cat/cat_000__aug001.png,") and '""angle""' in lines[2]
    lines[2] = lines[2].replace('""angle""', '""angel""')
    (run / M.MANIFEST).write_text("".join(lines))
    result = cli("replay", "-q", run / M.MANIFEST, tmp_path / "replayed")
    assert result.exit_code == 2, result.output
    assert f"Error: {run / M.MANIFEST}:3: op 'rotate': expected parameters" in result.stderr
    assert "unknown: angel" in result.stderr and "missing: angle" in result.stderr
    assert not (tmp_path / "replayed").exists()


def test_replay_checks_op_values_against_the_declaration(cli: Any, tmp_path: Path, run: Path) -> None:
    """An op value of the wrong kind (a word for an angle) is exit 2 naming the line, op and field."""
    lines = (run / M.MANIFEST).read_text().splitlines(keepends=True)
    lines[2], count = re.subn(r'""angle"":\s*[-0-9.e]+', '""angle"":""ninety""', lines[2])
    assert count == 1
    (run / M.MANIFEST).write_text("".join(lines))
    result = cli("replay", "-q", run / M.MANIFEST, tmp_path / "replayed")
    assert result.exit_code == 2, result.output
    assert (f"Error: {run / M.MANIFEST}:3: op 'rotate'.angle: expected number in [-360, 360] (deg), "
            "got 'ninety'; was the manifest edited") in result.stderr
    assert not (tmp_path / "replayed").exists()


@pytest.mark.parametrize(("ops", "message"), [
    ("[" * 50_000 + "]" * 50_000, "the ops column is nested too deeply to be ops written by augcli"),
    (json.dumps([{"name": "trivial_augment", "params": {"ops": [
        {"name": "rand_augment", "params": {"ops": [{"name": "identity", "params": {}}]}}]}}]),
     "op 'rand_augment' inside another op holds ops of its own"),
], ids=["deep-json", "policy-in-policy"])
def test_replay_refuses_ops_nested_deeper_than_augcli_writes(cli: Any, tmp_path: Path, run: Path, ops: str,
                                                             message: str) -> None:
    """Ops nested past one level (a hand-made manifest) are exit 2 naming the line, never a RecursionError."""
    rows = list(csv.reader((run / M.MANIFEST).open(newline="")))
    rows[2][rows[0].index("ops")] = ops
    with (run / M.MANIFEST).open("w", newline="") as f:
        csv.writer(f).writerows(rows)
    result = cli("replay", "-q", run / M.MANIFEST, tmp_path / "replayed")
    assert result.exit_code == 2, result.output
    assert f"Error: {run / M.MANIFEST}:3: {message}" in result.stderr
    assert "Traceback" not in result.output + result.stderr
    assert not (tmp_path / "replayed").exists()


def test_nested_policy_ops_are_checked_by_their_own_declaration() -> None:
    """A policy's nested op is checked as the transform it names (an unknown key inside is refused)."""
    from augcli.errors import RecipeError
    from augcli.registry import REGISTRY

    good = {"name": "rotate", "params": {"angle": 5.0, "border": "constant", "fill": 128, "interpolation": "nearest"}}
    assert REGISTRY["rand_augment"].check_op({"ops": [good]}, "op") == [good]
    with pytest.raises(RecipeError, match=r"op\.ops: expected a list of ops"):
        REGISTRY["rand_augment"].check_op({"ops": [{"name": "rotate"}]}, "op")
    bad = {**good, "params": {**good["params"], "fill": 1e9}}
    with pytest.raises(RecipeError, match=r"op\.fill: expected number or \[b, g, r\]"):
        for op in REGISTRY["rand_augment"].check_op({"ops": [bad]}, "op"):
            REGISTRY[op["name"]].check_op(op["params"], "op")


def test_replay_without_a_run_record_uses_the_input_option(cli: Any, tmp_path: Path, tree: Path,
                                                           run: Path) -> None:
    """Without augcli-run.json beside the manifest, --input is enough to rebuild every file byte for byte."""
    copy = tmp_path / "copy"
    shutil.copytree(run, copy)
    (copy / M.RUN_RECORD).unlink()
    result = cli("replay", "-q", "--input", tree, copy / M.MANIFEST, tmp_path / "replayed")
    assert result.exit_code == 0, result.output
    assert "9 of 9 outputs rebuilt byte for byte" in result.stdout


def test_replay_refuses_a_non_empty_folder_it_did_not_write(cli: Any, tmp_path: Path, run: Path) -> None:
    """Replay into a non-empty folder holding no earlier replay is exit 2 and leaves its files alone."""
    target = tmp_path / "theirs"
    (target / "cat").mkdir(parents=True)
    (target / "cat" / "cat_000.png").write_bytes(b"not augcli's")
    (target / "notes.txt").write_bytes(b"notes")
    before = _files(target)
    result = cli("replay", "-q", run / M.MANIFEST, target)
    assert result.exit_code == 2, result.output
    assert f"output folder {target} is not empty and holds no earlier replay" in result.stderr
    assert _files(target) == before


# ---------------------------------------------------------------- names that are not UTF-8


def test_names_that_are_not_utf8_keep_their_bytes_end_to_end(cli: Any, tmp_path: Path, recipe: Path) -> None:
    """A file name that is not valid UTF-8 is read, written, recorded and replayed with its raw bytes."""
    src = tmp_path / "in"
    write_image(src / "dog" / "dog.png", make_image(np.uint8, 3, 16, 16, seed=1))
    (src / "cat").mkdir()
    data = write_image(tmp_path / "plain.png", make_image(np.uint8, 3, 16, 16, seed=2)).read_bytes()
    with open(os.fsencode(src / "cat") + b"/caf\xe9.png", "wb") as handle:
        handle.write(data)
    out = tmp_path / "out"
    result = cli("expand", "-q", "-w", 1, "--recipe", recipe, src, out)
    assert result.exit_code == 0, result.output
    assert sorted(os.listdir(os.fsencode(out / "cat"))) == [b"caf\xe9.png", b"caf\xe9__aug001.png",
                                                            b"caf\xe9__aug002.png"]
    with open(os.fsencode(out / "cat") + b"/caf\xe9.png", "rb") as handle:
        assert handle.read() == data
    raw = (out / M.MANIFEST).read_bytes()
    assert raw.count(b"\ncat/caf\xe9.png,cat,original,cat/caf\xe9.png,") == 1
    assert raw.count(b"\ncat/caf\xe9__aug00") == 2
    replayed = cli("replay", "-q", out / M.MANIFEST, tmp_path / "replayed")
    assert replayed.exit_code == 0, replayed.output
    assert "6 of 6 outputs rebuilt byte for byte" in replayed.stdout


# ---------------------------------------------------------------- cases found uncovered by docs/reliability.md


def test_cmyk_jpeg_is_read_as_colour(tmp_path: Path) -> None:
    """A CMYK JPEG (print workflows, some phone exports) decodes to 3-channel BGR with the right colour."""
    import io

    from PIL import Image

    from augcli.io import read_image

    buffer = io.BytesIO()
    Image.new("CMYK", (16, 8), (0, 255, 255, 0)).save(buffer, "JPEG", quality=95)  # pure red in CMYK
    path = tmp_path / "cmyk.jpg"
    path.write_bytes(buffer.getvalue())
    image = read_image(path)
    assert image.shape == (8, 16, 3) and image.dtype == np.uint8
    # Oracle: Pillow's own CMYK -> RGB conversion of the same pixels, reversed to BGR.
    expected = np.asarray(Image.open(path).convert("RGB"))[:, :, ::-1].astype(int)
    assert np.abs(image.astype(int) - expected).max() <= 3


def test_a_live_run_on_the_same_folder_is_refused(cli: Any, tree: Path, tmp_path: Path) -> None:
    """While another augcli run holds the folder's lock, a second run exits 1 and touches nothing."""
    import subprocess

    out = tmp_path / "busy"
    out.mkdir()
    holder = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(30)"])
    try:
        (out / M.LOCK).write_text(str(holder.pid))
        result = cli("expand", "-q", "-w", 1, tree, out)
    finally:
        holder.kill()
        holder.wait()
    assert result.exit_code == 1
    assert f"another augcli run is writing to {out}" in result.stderr
    assert sorted(p.name for p in out.iterdir()) == [M.LOCK]


def test_inputs_whose_names_differ_only_in_case_get_distinct_outputs(tmp_path: Path, recipe: Path) -> None:
    """A.png and a.png in one class: no output name collides, even on a case-insensitive file system
    (the later original gets a counter, as generated names do)."""
    for name, seed in (("A.png", 1), ("a.png", 2)):
        write_image(tmp_path / "in" / "cat" / name, make_image(np.uint8, 3, 24, 32, seed=seed))
    if len(list((tmp_path / "in" / "cat").iterdir())) < 2:
        raise AssertionError("this file system folds case; the test needs one that does not")
    result = api.expand(tmp_path / "in", tmp_path / "out", recipe=recipe, workers=1)
    rows = M.read_rows(tmp_path / "out" / M.MANIFEST)
    assert result.made == 6 and len(rows) == 6
    assert len({row.path.casefold() for row in rows}) == 6
    originals = {row.sources: row.path for row in rows if row.kind == "original"}
    assert originals == {"cat/A.png": "cat/A.png", "cat/a.png": "cat/a-2.png"}


def test_overwrite_after_a_kill_right_after_the_record_works(tree: Path, recipe: Path, tmp_path: Path) -> None:
    """A run killed just after writing its record (no manifest yet) can be replaced with --overwrite."""
    out = tmp_path / "early"
    api.expand(tree, out, recipe=recipe, workers=1)
    for path in out.rglob("*"):
        if path.is_file() and path.name != M.RUN_RECORD:
            path.unlink()  # as if killed before the first output: only the record is there
    result = api.expand(tree, out, recipe=recipe, workers=1, seed=5, overwrite=True)
    assert result.made == 9 and len(M.read_rows(out / M.MANIFEST)) == 9


def test_output_under_sys_exits_cleanly(cli: Any, tree: Path) -> None:
    """/sys refuses new folders: a clean exit 1 naming the path, no traceback."""
    result = cli("expand", "-q", "-w", 1, tree, "/sys/augcli-test/out")
    assert result.exit_code == 1, result.output
    assert "Error: cannot write /sys/augcli-test" in result.stderr
    assert "Traceback" not in result.output


def test_an_input_that_vanishes_during_the_run_is_an_error_row(tree: Path, recipe: Path, tmp_path: Path,
                                                               monkeypatch: pytest.MonkeyPatch) -> None:
    """A file deleted after the scan: its outputs are skipped with a reason naming it; the rest are made."""
    from augcli import api as api_module

    real_scan = api_module.scan

    def scan_then_delete(root: Any) -> Any:
        data = real_scan(root)
        (tree / "cat" / "cat_001.png").unlink()
        return data

    monkeypatch.setattr(api_module, "scan", scan_then_delete)
    result = api.expand(tree, tmp_path / "out", recipe=recipe, workers=1)
    assert result.made == 6 and result.skipped == 3
    assert result.errors == (("cat/cat_001.png", "cannot read file (No such file or directory)"),)


def test_overwrite_never_writes_over_a_file_no_manifest_lists(cli: Any, tree: Path, recipe: Path, run: Path) -> None:
    """--overwrite with more copies: a user file where a new output would go stops the run before any delete."""
    user = run / "cat" / "cat_000__aug003.png"  # the recipe makes 2 copies; --copies 3 would write this one
    user.write_bytes(b"USERDATA")
    before = _files(run)
    result = cli("expand", "-q", "-w", 1, "--recipe", recipe, "--copies", 3, "--overwrite", tree, run)
    assert result.exit_code == 2, result.output
    assert "cat/cat_000__aug003.png that this run would write" in result.stderr
    assert "nothing was deleted" in result.stderr
    assert _files(run) == before


def test_a_manifest_listing_an_output_twice_is_refused(tree: Path, recipe: Path, run: Path) -> None:
    """A duplicated manifest row is not augcli's writing: exit 2 naming it, before anything is removed."""
    lines = (run / M.MANIFEST).read_text().splitlines(keepends=True)
    (run / M.MANIFEST).write_text("".join(lines) + lines[1])
    before = _files(run)
    with pytest.raises(InputError, match="is listed twice"):
        api.expand(tree, run, recipe=recipe, workers=1, seed=7, overwrite=True)
    assert _files(run) == before


# ---------------------------------------------------------------- found by an independent attack session


def test_an_image_with_a_side_over_the_limit_is_one_error_row(tmp_path: Path, recipe: Path, tree: Path) -> None:
    """A 20000x1 image (few pixels, one huge side) is refused on its own; the rest of the run is made."""
    write_image(tree / "cat" / "tall.png", np.zeros((1, 20000, 3), np.uint8))
    result = api.expand(tree, tmp_path / "out", recipe=recipe, workers=2)
    assert result.made == 9 and result.skipped == 3
    assert result.errors == (("cat/tall.png", "image is 20000x1, a side above 16384 pixels, the largest augcli "
                                              "transforms; resize or split it first"),)


@pytest.mark.parametrize("kind", ["fifo", "zero"])
def test_bookkeeping_files_that_are_not_files_never_hang(cli: Any, tree: Path, recipe: Path, run: Path,
                                                        kind: str) -> None:
    """A FIFO or a link to /dev/zero as the run record or the lock: a clean refusal, no hang, no memory blow-up."""
    shutil.copy(run / M.RUN_RECORD, run.parent / "record.json")
    for name, status, message in ((M.RUN_RECORD, 2, "holds no augcli run"), (M.LOCK, 1, "is not a lock file")):
        path = run / name
        path.unlink(missing_ok=True)
        os.mkfifo(path) if kind == "fifo" else path.symlink_to("/dev/zero")
        result = cli("expand", "-q", "-w", 1, "--recipe", recipe, tree, run)
        assert result.exit_code == status, result.output
        assert message in result.stderr
        path.unlink()
        if name == M.RUN_RECORD:
            shutil.copy(run.parent / "record.json", path)


def test_names_with_a_backslash_or_carriage_return_are_reported(tmp_path: Path, recipe: Path) -> None:
    """Such names would break the manifest or the path rules: they are left out and listed, the run goes on."""
    for folder in ("ok", "back\\slash", "CR\rx"):
        write_image(tmp_path / "in" / folder / "a.png", make_image(np.uint8, 3, 24, 32))
    result = api.expand(tmp_path / "in", tmp_path / "out", recipe=recipe, workers=2)
    assert result.made == 3
    assert [path for path, _ in result.errors] == ["CR\rx", "CR\rx/a.png", "back\\slash", "back\\slash/a.png"]
    text = (tmp_path / "out" / M.ERRORS).read_text()
    assert "CR\\rx/a.png,\"name holds a backslash, a carriage return or a semicolon" in text and "\r" not in text


def test_a_name_with_a_semicolon_is_reported_not_recorded(tmp_path: Path, recipe: Path, cli: Any) -> None:
    """';' separates a manifest row's sources: such a name would replay as another file and be remade on
    every resume, so it is left out and listed; the others resume and replay."""
    for name in ("a;b.png", "c.png"):
        write_image(tmp_path / "in" / "k" / name, make_image(np.uint8, 3, 24, 32))
    for _ in range(2):
        result = api.expand(tmp_path / "in", tmp_path / "out", recipe=recipe, workers=1)
        assert [path for path, _ in result.errors] == ["k/a;b.png"]
    assert (result.made, result.stale) == (0, 0) and result.kept == result.planned
    assert cli("replay", "-q", tmp_path / "out" / M.MANIFEST, tmp_path / "again").exit_code == 0


def test_an_oversized_manifest_field_is_refused_cleanly(tree: Path, recipe: Path, run: Path) -> None:
    """A hand-made field past the csv module's limit is an InputError naming the file, not a traceback."""
    lines = (run / M.MANIFEST).read_text().splitlines(keepends=True)
    lines[2] = lines[2].replace('"[', '"[' + " " * 200_000, 1)  # inside the quoted ops field of a generated row
    (run / M.MANIFEST).write_text("".join(lines))
    with pytest.raises(InputError, match="field larger than field limit"):
        api.expand(tree, run, recipe=recipe, workers=1)


def test_a_deeply_nested_run_record_is_not_a_run(cli: Any, tree: Path, recipe: Path, run: Path) -> None:
    """100,000 nested brackets in augcli-run.json: no RecursionError traceback; the folder is not taken as a run."""
    (run / M.RUN_RECORD).write_text("[" * 100_000)
    result = cli("expand", "-q", "-w", 1, "--recipe", recipe, tree, run)
    assert result.exit_code == 2 and "holds no augcli run" in result.stderr


def test_non_finite_embeddings_exit_2(cli: Any, tmp_path: Path, tree: Path) -> None:
    """An embeddings file with NaN features is refused naming the file (it ended in an sklearn traceback)."""
    paths = sorted(p.relative_to(tree).as_posix() for p in tree.rglob("*.png"))
    features = np.full((len(paths), 4), np.nan, dtype=np.float32)
    np.savez(tmp_path / "emb.npz", paths=np.array(paths), features=features)
    result = cli("balance", "-q", "-w", 1, "--method", "smote", "--features", tmp_path / "emb.npz", tree,
                 tmp_path / "out")
    assert result.exit_code == 2
    assert f"--features {tmp_path / 'emb.npz'}: expected finite numbers" in result.stderr


@pytest.mark.parametrize(("path", "message"), [(".", "expected relative paths inside the folders"),
                                                ("cat/./x.png", "expected relative paths inside the folders"),
                                                ("cat", "is also a folder of other outputs"),
                                                ("", "not a manifest row")])
def test_replay_refuses_rows_that_name_no_single_file(cli: Any, tmp_path: Path, run: Path, path: str,
                                                      message: str) -> None:
    """A row naming '.', a non-normal path, a folder of other outputs, or nothing: exit 2 (it was exit 1 or
    a silently dropped row)."""
    lines = (run / M.MANIFEST).read_text().splitlines(keepends=True)
    lines[1] = path + lines[1][lines[1].index(","):]
    (run / M.MANIFEST).write_text("".join(lines))
    result = cli("replay", "-q", run / M.MANIFEST, tmp_path / "re")
    assert result.exit_code == 2, result.output
    assert message in result.stderr


def test_a_link_planted_between_two_runs_in_one_process_is_refused(tmp_path: Path, tree: Path, recipe: Path) -> None:
    """In a training loop (workers=1, one process), a link put into out/ after a first run is checked again."""
    out = tmp_path / "out"
    api.expand(tree, out, recipe=recipe, workers=1)
    victim = tmp_path / "elsewhere"
    victim.mkdir()
    for path in list((out / "dog").iterdir()):
        path.unlink()
    (out / "dog").rmdir()
    (out / "dog").symlink_to(victim)
    with pytest.raises(RunError, match=r"refusing to write .*leads outside"):
        api.expand(tree, out, recipe=recipe, workers=1)
    assert list(victim.iterdir()) == []
