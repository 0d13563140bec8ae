"""Replay: rebuilding outputs from the manifest alone gives the same bytes; tampering is caught."""

from __future__ import annotations

import csv
import json
import shutil
from dataclasses import replace
from pathlib import Path

import pytest

from augcli import api
from augcli.errors import Status
from augcli.manifest import MANIFEST, RUN_RECORD, read_rows, write_rows

RECIPE = """\
seed: 3
copies: 2
output: {format: jpg, quality: 80}
pipeline:
  - hflip: {p: 0.5}
  - affine: {degrees: [-20, 20], scale: [0.9, 1.1], p: 0.8}
  - some_of: {n: [1, 2], of: [brightness, contrast, hsv]}
  - one_of: [{gaussian_blur: {}}, {gaussian_noise: {}}]
"""


@pytest.fixture
def run(tmp_path: Path, make_tree) -> Path:
    """An expand run of a small tree with the default recipe; returns its output folder."""
    tree = make_tree({"cat": 3, "dog": 2})
    api.expand(tree, tmp_path / "out", copies=2, workers=1)
    return tmp_path / "out"


def test_replay_after_expand_is_identical(cli, run: Path, tmp_path: Path) -> None:
    result = cli("replay", "-q", run / MANIFEST, tmp_path / "re")
    assert result.exit_code == 0, result.output
    assert "15 of 15 outputs rebuilt byte for byte" in result.stdout
    for row in read_rows(run / MANIFEST):
        assert (tmp_path / "re" / row.path).read_bytes() == (run / row.path).read_bytes()


def test_replay_uses_the_recorded_encoder_settings(tmp_path: Path, make_tree) -> None:
    tree = make_tree({"cat": 2, "dog": 1}, ext=".png")
    recipe = tmp_path / "r.yaml"
    recipe.write_text(RECIPE)
    api.expand(tree, tmp_path / "out", recipe=recipe, workers=1)
    result = api.replay(tmp_path / "out" / MANIFEST, tmp_path / "re", workers=2)
    assert (result.rebuilt, result.identical, result.mismatched) == (9, 9, ())
    assert len(list((tmp_path / "re").rglob("*__aug*.jpg"))) == 6


def test_replay_after_balance_is_identical(tmp_path: Path, make_tree) -> None:
    tree = make_tree({"cat": 4, "dog": 1})
    api.balance(tree, tmp_path / "out", workers=1)
    result = api.replay(tmp_path / "out" / MANIFEST, tmp_path / "re", workers=1)
    assert result.rebuilt == result.identical == 8 and not result.mismatched


def test_tampered_output_exits_1_naming_it(cli, run: Path, tmp_path: Path) -> None:
    target = run / "dog/dog_001__aug002.png"
    target.write_bytes(target.read_bytes() + b"\0")
    result = cli("replay", "-q", run / MANIFEST, tmp_path / "re")
    assert result.exit_code == 1
    assert "14 of 15 outputs rebuilt byte for byte" in result.stdout
    assert "dog/dog_001__aug002.png: its bytes differ" in result.stderr
    assert "1 output(s) differ" in result.stderr


def test_missing_output_counts_as_a_mismatch_with_a_note(run: Path, tmp_path: Path) -> None:
    (run / "cat/cat_000__aug001.png").unlink()
    result = api.replay(run / MANIFEST, tmp_path / "re", workers=1)
    assert result.mismatched == ("cat/cat_000__aug001.png",)
    assert result.status is Status.FAILED and str(result.failure) == "1 output(s) differ from the manifest's files"
    assert "missing from" in result.reasons["cat/cat_000__aug001.png"]
    assert (tmp_path / "re" / "cat/cat_000__aug001.png").is_file()  # still rebuilt


def test_replay_follows_the_ops_column_not_the_recipe(run: Path, tmp_path: Path) -> None:
    rows = read_rows(run / MANIFEST)
    k = next(i for i, row in enumerate(rows) if row.kind == "augmented")
    ops = [*rows[k].op_list(), {"name": "vflip", "params": {}}]
    rows[k] = replace(rows[k], ops=json.dumps(ops))
    write_rows(run / MANIFEST, rows)
    result = api.replay(run / MANIFEST, tmp_path / "re", workers=1)
    assert result.mismatched == (rows[k].path,)


def test_changed_source_is_reported(run: Path, tmp_path: Path) -> None:
    source = tmp_path / "in" / "cat" / "cat_001.png"
    shutil.copyfile(tmp_path / "in" / "cat" / "cat_002.png", source)
    result = api.replay(run / MANIFEST, tmp_path / "re", workers=1)
    assert set(result.mismatched) == {"cat/cat_001.png", "cat/cat_001__aug001.png", "cat/cat_001__aug002.png"}


def test_unreadable_source_is_a_mismatch_not_a_crash(run: Path, tmp_path: Path) -> None:
    (tmp_path / "in" / "dog" / "dog_000.png").write_bytes(b"broken")
    result = api.replay(run / MANIFEST, tmp_path / "re", workers=1)
    assert len(result.mismatched) == 3 and result.rebuilt == 12 and result.identical == 12
    assert "unreadable" in result.reasons["dog/dog_000.png"]


def test_input_option_overrides_the_recorded_folder(cli, run: Path, tmp_path: Path) -> None:
    moved = tmp_path / "moved"
    (tmp_path / "in").rename(moved)
    lost = cli("replay", "-q", run / MANIFEST, tmp_path / "re")
    assert lost.exit_code == 2 and "pass --input" in lost.stderr
    found = cli("replay", "-q", "--input", moved, run / MANIFEST, tmp_path / "re")
    assert found.exit_code == 0, found.output


def test_missing_run_record_exits_2(cli, run: Path, tmp_path: Path) -> None:
    (run / RUN_RECORD).unlink()
    result = cli("replay", run / MANIFEST, tmp_path / "re")
    assert result.exit_code == 2
    assert "no run record beside" in result.stderr and "pass --input" in result.stderr


BAD_FORMAT = '{"recipe": {"output": {"format": "gif", "quality": 95}}}'


@pytest.mark.parametrize("text", ["{not json", "[]", BAD_FORMAT])
def test_malformed_run_record_exits_2(cli, run: Path, tmp_path: Path, text: str) -> None:
    (run / RUN_RECORD).write_text(text)
    result = cli("replay", run / MANIFEST, tmp_path / "re")
    assert result.exit_code == 2
    assert "run record" in result.stderr


def _edit_manifest(path: Path, column: str, value: str) -> None:
    """Set one column of the manifest's second data row."""
    with open(path, newline="") as handle:
        records = list(csv.DictReader(handle))
    records[1][column] = value
    with open(path, "w", newline="") as handle:
        writer = csv.DictWriter(handle, fieldnames=list(records[0]), lineterminator="\n")
        writer.writeheader()
        writer.writerows(records)


@pytest.mark.parametrize("column, value, message", [
    ("ops", "[{", "ops column is not JSON"),
    ("ops", '[{"name": "rotat", "params": {}}]', "did you mean 'rotate'?"),
    ("path", "../escape.png", "expected relative paths"),
    ("copy", "many", "cannot be read as an augcli manifest"),
])
def test_malformed_manifest_exits_2(cli, run: Path, tmp_path: Path, column: str, value: str,
                                    message: str) -> None:
    _edit_manifest(run / MANIFEST, column, value)
    result = cli("replay", run / MANIFEST, tmp_path / "re")
    assert result.exit_code == 2
    assert message in result.stderr
    assert not (tmp_path / "escape.png").exists()


def test_output_may_not_be_the_manifests_folder(cli, run: Path) -> None:
    before = {p: p.read_bytes() for p in run.rglob("*") if p.is_file()}
    result = cli("replay", run / MANIFEST, run)
    assert result.exit_code == 2
    assert "overlaps the manifest's folder" in result.stderr
    assert {p: p.read_bytes() for p in run.rglob("*") if p.is_file()} == before


def test_workers_agree(run: Path, tmp_path: Path) -> None:
    one = api.replay(run / MANIFEST, tmp_path / "r1", workers=1)
    two = api.replay(run / MANIFEST, tmp_path / "r2", workers=2)
    assert one == replace(two, output=one.output)
    assert one.rebuilt == one.identical == 15


def test_replay_ops_takes_grey_arrays_like_augment() -> None:
    """augment and replay_ops accept the same (H, W) layout and give back (H, W)."""
    import numpy as np

    import augcli

    grey = np.arange(24 * 32, dtype=np.uint8).reshape(24, 32)
    made = augcli.augment(grey, None, seed=3)
    again = augcli.replay_ops(grey, made.ops)
    assert made.image.shape == again.shape == (24, 32)
    assert np.array_equal(made.image, again)
    flipped = augcli.replay_ops(grey, [{"name": "hflip", "params": {}}])
    assert np.array_equal(flipped, grey[:, ::-1])  # oracle: numpy's mirror
