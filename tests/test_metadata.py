"""metadata.csv: the output folder as Hugging Face datasets' imagefolder reads it, checked against that
loader's documented rules without the package (no network): at the root of the folder, a `file_name`
column of relative paths with forward slashes inside the folder, every image below a class folder listed;
byte-identical whatever the workers; and augcli's own file, never a user's."""

from __future__ import annotations

import csv
import json
import os
from pathlib import Path, PurePosixPath
from typing import Any

import numpy as np
import pandas as pd
import pytest

from augcli import api
from augcli import manifest as M
from augcli.errors import InputError
from augcli.metadata import METADATA
from tests.conftest import make_image, write_image

REPO = Path(__file__).resolve().parents[1]
IMAGE_SUFFIXES = {".png", ".jpg", ".jpeg", ".bmp", ".tif", ".tiff", ".webp"}  # what imagefolder would pick up


def _files(folder: Path) -> dict[str, bytes]:
    return {p.relative_to(folder).as_posix(): p.read_bytes() for p in sorted(folder.rglob("*")) if p.is_file()}


def check_hf_rules(out: Path) -> pd.DataFrame:
    """The rules imagefolder applies to a metadata.csv, written out: returns the table as pandas reads it."""
    raw = (out / METADATA).read_bytes()
    raw.decode("utf-8")  # pandas reads it as UTF-8
    frame = pd.read_csv(out / METADATA)
    assert list(frame.columns) == ["file_name", "label", "kind", "sources", "seed", "label_weights"]
    assert frame["seed"].dtype == np.int64
    names = [str(name) for name in frame["file_name"]]
    for name in names:
        path = PurePosixPath(name)
        assert "\\" not in name and "://" not in name and not path.is_absolute() and ".." not in path.parts
        assert len(path.parts) >= 2 and (out / name).is_file()
    assert len(set(names)) == len(names)
    below_classes = sorted(p.relative_to(out).as_posix() for p in out.rglob("*")
                           if p.is_file() and p.suffix.lower() in IMAGE_SUFFIXES and p.parent != out)
    assert sorted(names) == below_classes  # older datasets refuse an image without a row
    manifest = pd.read_csv(out / M.MANIFEST, keep_default_na=False)
    assert names == list(manifest["path"]) and list(frame["label"]) == list(manifest["label"])
    assert [name.split("/")[0] for name in names] == list(frame["label"])  # the class folder, even when nested
    for weights, label, row in zip(frame["label_weights"], frame["label"], manifest.itertuples(), strict=True):
        parsed = json.loads(weights)
        assert parsed == (json.loads(row.label_weights) if row.label_weights else {label: 1.0})
        assert abs(sum(parsed.values()) - 1.0) < 1e-9
    return frame


def test_the_readme_run_on_sample_data_follows_the_rules(tmp_path: Path) -> None:
    out = tmp_path / "out"
    api.balance(REPO / "sample_data", out, workers=1)
    frame = check_hf_rules(out)
    assert len(frame) == 120 and frame["label"].value_counts().to_dict() == {"circle": 40, "square": 40,
                                                                            "triangle": 40}
    nested = frame[frame["file_name"].str.startswith("square/studio/")]
    assert len(nested) >= 3 and set(nested["label"]) == {"square"}
    assert set(frame["kind"]) == {"original", "augmented"}
    assert sorted(p.name for p in out.iterdir() if p.is_file() and p.suffix.lower() in IMAGE_SUFFIXES) == [
        "balance.png"]  # the one image without a row: datasets before 3.4 need data_files (README)


def test_same_bytes_whatever_the_workers_and_soft_labels_written(tmp_path: Path, make_tree: Any) -> None:
    tree = make_tree({"a": 3, "b": 2}, size=(16, 16))
    recipe = tmp_path / "mix.yaml"
    recipe.write_text("seed: 3\ncopies: 2\npipeline:\n  - mixup: {partner: any, alpha: 1}\n")
    api.expand(tree, tmp_path / "w1", recipe=recipe, workers=1)
    api.expand(tree, tmp_path / "w2", recipe=recipe, workers=2)
    assert (tmp_path / "w1" / METADATA).read_bytes() == (tmp_path / "w2" / METADATA).read_bytes()
    frame = check_hf_rules(tmp_path / "w1")
    soft = [json.loads(w) for w, kind in zip(frame["label_weights"], frame["kind"], strict=True) if kind != "original"]
    assert len(soft) == 10 and any(len(w) == 2 for w in soft)


def test_a_rerun_rewrites_it_and_a_stopped_run_leaves_none(tmp_path: Path, make_tree: Any) -> None:
    tree, out = make_tree({"a": 2}, size=(8, 8)), tmp_path / "out"
    api.expand(tree, out, copies=1, workers=1)
    first = (out / METADATA).read_bytes()
    api.expand(tree, out, copies=1, workers=1)
    assert (out / METADATA).read_bytes() == first
    (out / METADATA).unlink()  # as a run stopped after its final manifest leaves it
    again = api.expand(tree, out, copies=1, workers=1)
    assert again.kept == 4 and (out / METADATA).read_bytes() == first
    api.expand(tree, out, copies=2, workers=1, overwrite=True)
    check_hf_rules(out)
    assert len(pd.read_csv(out / METADATA)) == 6


@pytest.mark.parametrize("overwrite", [False, True])
def test_a_metadata_csv_augcli_did_not_write_stops_the_run_untouched(tmp_path: Path, make_tree: Any,
                                                                     overwrite: bool) -> None:
    tree, out = make_tree({"a": 2}, size=(8, 8)), tmp_path / "out"
    api.expand(tree, out, copies=1, workers=1)
    theirs = b"file_name,caption\na/a_000.png,my own words\n"
    (out / METADATA).write_bytes(theirs)
    before = _files(out)
    with pytest.raises(InputError, match=f"^{out / METADATA} is not the one augcli wrote for this folder's "
                                         "manifest .*; nothing was deleted$"):
        api.expand(tree, out, copies=2 if overwrite else 1, workers=1, overwrite=overwrite)
    assert _files(out) == before
    (out / METADATA).rename(tmp_path / "mine.csv")
    api.expand(tree, out, copies=2 if overwrite else 1, workers=1, overwrite=overwrite)
    check_hf_rules(out)
    assert (tmp_path / "mine.csv").read_bytes() == theirs


def test_an_edited_one_or_a_link_is_refused(cli: Any, tmp_path: Path, make_tree: Any) -> None:
    tree, out = make_tree({"a": 2}, size=(8, 8)), tmp_path / "out"
    assert cli("expand", "-q", "-n", 1, "-w", 1, tree, out).exit_code == 0
    text = (out / METADATA).read_text()
    (out / METADATA).write_text(text.replace("original", "originals", 1))
    result = cli("expand", "-q", "-n", 1, "-w", 1, tree, out)
    assert result.exit_code == 2 and "is not the one augcli wrote" in result.stderr
    victim = tmp_path / "victim.csv"
    victim.write_text(text)  # the right bytes, but reached through a link: not a file augcli wrote
    (out / METADATA).unlink()
    (out / METADATA).symlink_to(victim)
    result = cli("expand", "-q", "-n", 1, "-w", 1, tree, out)
    assert result.exit_code == 2 and "is not the one augcli wrote" in result.stderr
    assert victim.read_text() == text and (out / METADATA).is_symlink()


def test_a_class_folder_named_like_a_file_augcli_writes_is_refused(cli: Any, tmp_path: Path) -> None:
    for name in ("metadata.csv", "Manifest.CSV", "balance.png"):
        tree = tmp_path / name.replace(".", "_")
        write_image(tree / name / "x.png", make_image(np.uint8, 3, 8, 8))
        write_image(tree / "cat" / "y.png", make_image(np.uint8, 3, 8, 8, seed=1))
        result = cli("expand", "-q", "-n", 1, "-w", 1, tree, tmp_path / "out")
        assert result.exit_code == 2
        assert result.stderr == (f"Error: class folder {name!r} has the name of a file augcli writes at the top of "
                                 "the output folder; rename the class folder\n")
        assert not (tmp_path / "out").exists()


def test_rows_that_are_not_utf8_are_left_out(tmp_path: Path) -> None:
    """A UTF-8 CSV cannot hold them; the manifest still lists them with their bytes."""
    src, out = tmp_path / "in", tmp_path / "out"
    write_image(src / "dog" / "dog.png", make_image(np.uint8, 3, 8, 8, seed=1))
    (src / "cat").mkdir()
    data = write_image(tmp_path / "plain.png", make_image(np.uint8, 3, 8, 8, seed=2)).read_bytes()
    with open(os.fsencode(src / "cat") + b"/caf\xe9.png", "wb") as handle:
        handle.write(data)
    api.expand(src, out, copies=1, workers=1)
    with open(out / METADATA, newline="", encoding="utf-8") as handle:
        rows = list(csv.reader(handle))
    assert [row[0] for row in rows] == ["file_name", "dog/dog.png", "dog/dog__aug001.png"]
    assert (out / M.MANIFEST).read_bytes().count(b"cat/caf\xe9") == 4
