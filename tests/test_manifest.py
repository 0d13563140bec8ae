"""The run record: its file format, what decides resume, and how a refusal names a change."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from augcli import api
from augcli.errors import InputError
from augcli.manifest import MANIFEST, RUN_RECORD, RunRecord, read_record, write_record


@pytest.fixture
def run(tmp_path: Path, make_tree) -> Path:
    """A finished expand run of two small classes."""
    out = tmp_path / "out"
    api.expand(make_tree({"cat": 2, "dog": 1}), out, copies=1, workers=1)
    return out


def test_the_record_file_reads_and_writes_back_byte_for_byte(run: Path, tmp_path: Path) -> None:
    """The file format is unchanged: reading it and writing it back gives the same bytes."""
    record = read_record(run / RUN_RECORD)
    assert record is not None and record.command == "expand" and record.options == {"copies": 1, "originals": True}
    write_record(tmp_path / "again.json", record)
    assert (tmp_path / "again.json").read_bytes() == (run / RUN_RECORD).read_bytes()
    assert sorted(json.loads((run / RUN_RECORD).read_text())) == [
        "augcli_version", "command", "copies", "input", "max_pixels", "originals", "planned", "recipe",
        "recipe_digest", "recipe_source", "seed"]


def test_identity_leaves_out_version_input_and_plan_size(run: Path) -> None:
    record = read_record(run / RUN_RECORD)
    assert record is not None
    moved = RunRecord.from_json({**record.to_json(), "augcli_version": "9", "input": "/elsewhere", "planned": 1})
    assert moved is not None and moved.identity() == record.identity()


def test_describe_change_names_what_changed_in_user_terms(run: Path) -> None:
    old = read_record(run / RUN_RECORD)
    assert old is not None
    new = RunRecord.from_json({**old.to_json(), "seed": 5, "recipe_digest": "x", "copies": 2})
    assert new is not None and new.describe_change(old) == "copies, recipe, seed"


def test_an_older_record_without_max_pixels_still_replays(run: Path, tmp_path: Path) -> None:
    """Records written before max_pixels existed lack the key: replay reads what it needs regardless."""
    data = json.loads((run / RUN_RECORD).read_text())
    del data["max_pixels"], data["planned"]
    (run / RUN_RECORD).write_text(json.dumps(data))
    result = api.replay(run / MANIFEST, tmp_path / "re", workers=1)
    assert result.identical == result.rebuilt == 6


def test_a_hand_edited_identity_value_still_counts_as_a_change(run: Path, make_tree) -> None:
    """A value of the wrong type is kept raw, so resume refuses it as a change rather than ignoring it."""
    data = json.loads((run / RUN_RECORD).read_text())
    (run / RUN_RECORD).write_text(json.dumps({**data, "seed": "seven"}))
    record = read_record(run / RUN_RECORD)
    assert record is not None and record.seed is None and record.identity()["seed"] == "seven"
    with pytest.raises(InputError, match="holds a run with a different seed; resume needs"):
        api.expand(Path(data["input"]), run, copies=1, workers=1)


@pytest.mark.parametrize("text", ["[]", "3", "{not json"])
def test_what_is_not_a_json_object_is_not_a_record(tmp_path: Path, text: str) -> None:
    (tmp_path / RUN_RECORD).write_text(text)
    assert read_record(tmp_path / RUN_RECORD) is None


def test_a_manifest_without_label_weights_and_group_resumes_and_gains_them(run: Path, make_tree) -> None:
    """A folder made before the label_weights and group columns resumes: nothing is remade, the header grows."""
    manifest = run / MANIFEST
    lines = manifest.read_text().splitlines()
    assert lines[0] == "path,label,kind,sources,copy,seed,ops,sha256,label_weights,group,redraw"
    old = [lines[0].removesuffix(",label_weights,group")] + [line.removesuffix(",,") for line in lines[1:]]
    manifest.write_text("\n".join(old) + "\n")
    before = {p.name: p.stat().st_mtime_ns for p in run.rglob("*.png")}
    record = read_record(run / RUN_RECORD)
    result = api.expand(record.input, run, copies=1, workers=1)
    assert (result.made, result.kept) == (0, result.planned)
    assert manifest.read_text().splitlines() == lines
    assert {p.name: p.stat().st_mtime_ns for p in run.rglob("*.png")} == before
