"""--dry-run: the plan per class, disk space and time estimates, what a run would do with OUTPUT, and not one
byte written anywhere (not even the output folder), whatever OUTPUT holds."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import pytest

from augcli import api
from augcli.manifest import MANIFEST

REPO = Path(__file__).resolve().parents[1]


def _tree_state(root: Path) -> dict[str, Any]:
    """Every file and folder below ``root``: bytes, modification time and mode."""
    state: dict[str, Any] = {}
    for folder, dirs, files in os.walk(root):
        for name in [*dirs, *files]:
            path = Path(folder, name)
            stat = path.lstat()
            state[str(path.relative_to(root))] = (path.read_bytes() if path.is_file() else None, stat.st_mtime_ns,
                                                  stat.st_mode)
    return state


@pytest.mark.parametrize("args", [
    ["balance"], ["balance", "--target", "3", "--undersample"], ["balance", "--method", "smote", "--k-neighbors", "1"],
    ["balance", "--method", "mixup"], ["expand", "-n", "2"], ["expand", "--tta"],
])
def test_nothing_is_written_not_even_the_output_folder(cli: Any, make_tree: Any, tmp_path: Path,
                                                       monkeypatch: pytest.MonkeyPatch, args: list[str]) -> None:
    make_tree({"a": 5, "b": 2}, size=(16, 16))
    monkeypatch.chdir(tmp_path)
    before = _tree_state(tmp_path)
    result = cli(*args, "--dry-run", "-w", 1, "in", "out")
    assert result.exit_code == 0, result.output
    assert result.stdout.startswith("Dry run: nothing was written.\n")
    assert _tree_state(tmp_path) == before
    assert "Output folder: out does not exist: a run creates it\n" in result.stdout


def test_the_plan_per_class_is_what_a_run_makes(cli: Any, tmp_path: Path) -> None:
    """The README's first command: circle 40 + 0, square 12 + 28, triangle 4 + 36 (the largest class is 40)."""
    result = cli("balance", "--dry-run", "-w", 1, REPO / "sample_data", tmp_path / "out")
    assert result.exit_code == 0
    assert ("  class     originals  generated      total\n"
            "  circle           40          0         40\n"
            "  square           12         28         40\n"
            "  triangle          4         36         40\n"
            "  total            56         64        120\n") in result.stdout
    undersampled = api.balance(REPO / "sample_data", tmp_path / "u", target=12, undersample=True, workers=1,
                               dry_run=True)
    assert (undersampled.made, undersampled.planned) == (0, 36)
    assert undersampled.after == {"circle": 12, "square": 12, "triangle": 12}
    assert undersampled.added == {"circle": 0, "square": 0, "triangle": 8}
    assert undersampled.removed == {"circle": 28, "square": 0, "triangle": 0}
    assert not (tmp_path / "u").exists()


def test_disk_estimate_counts_originals_exactly_and_samples_the_rest(make_tree: Any, tmp_path: Path) -> None:
    tree = make_tree({"a": 4, "b": 2}, size=(24, 24))
    inputs = sum(p.stat().st_size for p in tree.rglob("*.png"))
    result = api.expand(tree, tmp_path / "out", copies=3, workers=1, dry_run=True)
    est = result.estimate
    assert est is not None and est.original_bytes == inputs
    assert est.originals == {"a": 4, "b": 2} and est.generated == {"a": 12, "b": 6}
    assert "the ratio of 9 outputs made as a sample" in est.bytes_how  # whole tasks: 3 sources x 3 copies
    assert est.seconds is not None and est.seconds > 0 and "18 images to generate; 9 made here" in est.seconds_how
    real = api.expand(tree, tmp_path / "real", copies=3, workers=1)
    made = sum(p.stat().st_size for p in (tmp_path / "real").rglob("*__aug*"))
    assert real.made == 24 and 0.5 * made <= est.generated_bytes <= 2 * made  # an estimate, from 9 of 18


def test_without_generated_images_no_time_is_sampled(make_tree: Any, tmp_path: Path) -> None:
    tree = make_tree({"a": 2, "b": 2}, size=(8, 8))
    est = api.balance(tree, tmp_path / "o", workers=1, dry_run=True).estimate
    assert est is not None and est.generated == {"a": 0, "b": 0} and est.generated_bytes == 0
    assert est.seconds_how == "nothing to generate; originals are only copied"


def test_any_output_folder_is_described_and_left_alone(cli: Any, make_tree: Any, tmp_path: Path) -> None:
    tree, out = make_tree({"a": 3, "b": 1}, size=(8, 8)), tmp_path / "out"
    assert cli("expand", "-q", "-w", 1, "-n", 1, tree, out).exit_code == 0
    (out / "a" / "a_000__aug001.png").unlink()
    before = _tree_state(tmp_path)
    same = cli("expand", "--dry-run", "-w", 1, "-n", 1, tree, out)
    assert same.exit_code == 0
    assert (f"Output folder: {out} holds an earlier run of this plan: a run keeps the 8 outputs it lists (when "
            "their sources are unchanged) and makes the other 0\n") in same.stdout
    other = cli("expand", "--dry-run", "-w", 1, "-n", 2, tree, out)
    assert (f"Output folder: {out} holds a run with a different copies: a run is refused unless --overwrite is "
            "given (it removes only the files that run recorded)\n") in other.stdout
    assert _tree_state(tmp_path) == before
    foreign = tmp_path / "mine"
    foreign.mkdir()
    (foreign / "notes.txt").write_text("mine")
    mine = cli("balance", "--dry-run", "-w", 1, tree, foreign)
    assert mine.exit_code == 0 and (f"Output folder: {foreign} holds files but no augcli run: a run is refused "
                                    "(augcli never writes over files it did not make)\n") in mine.stdout
    assert sorted(os.listdir(foreign)) == ["notes.txt"] and not (foreign / MANIFEST).exists()


def test_problems_and_notes_are_still_said(cli: Any, make_tree: Any, tmp_path: Path) -> None:
    tree = make_tree({"a": 3, "b": 1}, size=(8, 8))
    (tree / "a" / "broken.png").write_bytes(b"not an image")
    (tree / "loose.png").write_bytes(b"x")
    result = cli("balance", "--dry-run", "-w", 1, "--target", 1, tree, tmp_path / "o")
    assert result.exit_code == 0
    assert "note: --target 1 asks for 1 image per class" in result.stderr
    assert "1 input problem(s) found while scanning (a run lists them in errors.csv)" in result.stderr
    assert not (tmp_path / "o").exists()
