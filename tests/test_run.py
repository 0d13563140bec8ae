"""Runs: determinism across workers, resume, refusals, unreadable inputs, replayable manifests."""

from __future__ import annotations

import hashlib
import json
import os
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from augcli import api
from augcli.errors import InputError
from augcli.io import read_image
from augcli.manifest import MANIFEST, RUN_RECORD
from augcli.render import render
from augcli.run import run_task

RECIPE = """\
seed: 3
copies: 3
output: {format: same, quality: 90}
pipeline:
  - hflip: {p: 0.5}
  - affine: {degrees: [-20, 20], scale: [0.9, 1.1], p: 0.8}
  - some_of: {n: [1, 2], of: [brightness, contrast, hsv]}
  - one_of: [{gaussian_blur: {}}, {gaussian_noise: {}}]
"""


def _digest(root: Path) -> dict[str, str]:
    """sha256 of every file below root, by relative path."""
    return {p.relative_to(root).as_posix(): hashlib.sha256(p.read_bytes()).hexdigest()
            for p in sorted(root.rglob("*")) if p.is_file()}


@pytest.fixture
def recipe_file(tmp_path: Path) -> Path:
    path = tmp_path / "r.yaml"
    path.write_text(RECIPE)
    return path


@pytest.fixture
def tree(make_tree) -> Path:
    root = make_tree({"cat": 6, "dog": 2})
    make_tree({"dog": 1}, name="in", ext=".jpg")
    return root


def test_workers_give_byte_identical_outputs_and_manifest(tmp_path: Path, tree: Path, recipe_file: Path) -> None:
    one = api.expand(tree, tmp_path / "o1", recipe=recipe_file, workers=1)
    two = api.expand(tree, tmp_path / "o2", recipe=recipe_file, workers=2)
    assert one.made == two.made == 9 * 4
    assert _digest(tmp_path / "o1") == _digest(tmp_path / "o2")


def test_another_seed_gives_other_images(tmp_path: Path, tree: Path, recipe_file: Path) -> None:
    api.expand(tree, tmp_path / "a", recipe=recipe_file, workers=1)
    api.expand(tree, tmp_path / "b", recipe=recipe_file, workers=1, seed=4)
    a, b = _digest(tmp_path / "a"), _digest(tmp_path / "b")
    augmented = [k for k in a if "__aug" in k]
    assert sum(a[k] != b[k] for k in augmented) >= len(augmented) - 2


def test_manifest_loads_with_pandas_and_replays_exactly(tmp_path: Path, tree: Path, recipe_file: Path) -> None:
    out = tmp_path / "out"
    api.expand(tree, out, recipe=recipe_file, workers=1)
    frame = pd.read_csv(out / MANIFEST)
    assert list(frame.columns) == ["path", "label", "kind", "sources", "copy", "seed", "ops", "sha256", "label_weights",
                                   "group", "redraw"]
    assert len(frame) == 36 and frame["seed"].dtype == np.int64 and frame["redraw"].dtype == np.int64
    assert (frame["kind"] == "original").sum() == 9
    png = frame[(frame["kind"] == "augmented") & frame["path"].str.endswith(".png")]
    for row in png.itertuples():
        image = render(read_image(tree / row.sources), json.loads(row.ops))
        assert np.array_equal(image, read_image(out / row.path))


def test_originals_are_byte_copies_and_input_untouched(tmp_path: Path, tree: Path) -> None:
    before = _digest(tree)
    api.expand(tree, tmp_path / "out", workers=1, copies=1)
    assert _digest(tree) == before
    for rel, digest in before.items():
        assert _digest(tmp_path / "out")[rel] == digest


def test_no_originals_and_copies_override(tmp_path: Path, tree: Path, recipe_file: Path) -> None:
    result = api.expand(tree, tmp_path / "out", recipe=recipe_file, copies=1, originals=False, workers=1)
    assert result.made == 9
    assert result.after == {"cat": 6, "dog": 3}


def test_interrupted_run_resumes_to_the_same_result(tmp_path: Path, tree: Path, recipe_file: Path) -> None:
    full = tmp_path / "full"
    api.expand(tree, full, recipe=recipe_file, workers=1)
    part = tmp_path / "part"
    api.expand(tree, part, recipe=recipe_file, workers=1)
    # Simulate a kill while appending: 9 rows kept and a cut tenth line. Files of the rows after the cut
    # were never moved into place (a row is recorded before its file); one is left as a temporary file.
    lines = (part / MANIFEST).read_text().splitlines(keepends=True)
    (part / MANIFEST).write_text("".join(lines[:10]) + lines[10][:25])
    for line in lines[10:]:
        (part / line.split(",")[0]).unlink()
    (part / "cat" / ".cat_001__aug001.png.999.augcli-tmp").write_bytes(b"half")
    (part / "metadata.csv").unlink()  # written last, so a killed run has none
    lost = lines[5].split(",")[0]  # and a recorded output the user deleted
    (part / lost).unlink()
    again = api.expand(tree, part, recipe=recipe_file, workers=2)
    assert (again.kept, again.made) == (8, 36 - 8)
    assert _digest(part) == _digest(full)
    assert (part / MANIFEST).read_bytes() == (full / MANIFEST).read_bytes()
    assert not list(part.rglob("*.augcli-tmp"))


def test_rerun_of_a_finished_run_makes_nothing(tmp_path: Path, tree: Path, recipe_file: Path) -> None:
    api.expand(tree, tmp_path / "out", recipe=recipe_file, workers=1)
    again = api.expand(tree, tmp_path / "out", recipe=recipe_file, workers=1)
    assert (again.made, again.kept) == (0, 36)


def test_changed_seed_refused_unless_overwrite(tmp_path: Path, tree: Path, recipe_file: Path) -> None:
    out = tmp_path / "out"
    api.expand(tree, out, recipe=recipe_file, workers=1)
    with pytest.raises(InputError, match="holds a run with a different seed"):
        api.expand(tree, out, recipe=recipe_file, workers=1, seed=99)
    stray = out / "cat" / "mine.txt"
    stray.write_text("user file")
    result = api.expand(tree, out, recipe=recipe_file, workers=1, seed=99, overwrite=True)
    assert result.made == 36 and stray.read_text() == "user file"
    assert json.loads((out / RUN_RECORD).read_text())["seed"] == 99


def test_output_inside_input_refused(tree: Path) -> None:
    with pytest.raises(InputError, match="is inside the input folder"):
        api.expand(tree, tree / "out", workers=1)
    with pytest.raises(InputError, match="is inside the input folder"):
        api.expand(tree, tree, workers=1)
    with pytest.raises(InputError, match="contains the input folder"):
        api.expand(tree, tree.parent, workers=1)


def test_foreign_nonempty_output_refused(tmp_path: Path, tree: Path) -> None:
    (tmp_path / "busy").mkdir()
    (tmp_path / "busy" / "thesis.tex").write_text("x")
    with pytest.raises(InputError, match="is not empty and holds no augcli run"):
        api.expand(tree, tmp_path / "busy", workers=1)


def test_unreadable_inputs_are_listed_and_skipped(tmp_path: Path, tree: Path) -> None:
    (tree / "cat" / "broken.jpg").write_bytes(b"\xff\xd8garbage")
    result = api.expand(tree, tmp_path / "out", workers=2, copies=1)
    assert result.errors == (("cat/broken.jpg", "truncated or corrupt JPEG (no end marker after the image data)"),)
    assert result.skipped == 2 and result.made == 18
    assert (tmp_path / "out" / "errors.csv").read_text().splitlines() == [
        "path,reason", "cat/broken.jpg,truncated or corrupt JPEG (no end marker after the image data)"]


def test_class_rule_for_unknown_class_is_a_recipe_error(tmp_path: Path, tree: Path) -> None:
    recipe = tmp_path / "rules.yaml"
    recipe.write_text("pipeline: [hflip]\nclasses:\n  dgo: {exclude: [hflip]}\n")
    with pytest.raises(Exception, match=r"rules.yaml:3: classes.dgo: expected a class folder of the input "
                                        r"\(cat, dog\), got 'dgo'; did you mean 'dog'\?"):
        api.expand(tree, tmp_path / "out", recipe=recipe, workers=1)


def test_run_task_in_process_matches_api(tmp_path: Path, tree: Path) -> None:
    """The executor's unit of work is usable on its own (the seam for other executors)."""
    from augcli.dataset import scan
    from augcli.plan import expand_items, plan_tasks
    from augcli.recipe import load_recipe
    from augcli.run import Context

    data = scan(tree)
    task = plan_tasks(expand_items(data.sources[:1], 1, False), 5, "same")[0]
    result = run_task(task, Context(tree, tmp_path / "o", load_recipe()))
    assert [r.path for r in result.rows] == ["cat/cat_000__aug001.png"]
    # The file waits under its temporary name until the parent has recorded its row.
    assert [Path(t).name for t in result.temps] == [f".cat_000__aug001.png.{os.getpid()}.augcli-tmp"]
    assert not (tmp_path / "o" / "cat" / "cat_000__aug001.png").exists()
    assert hashlib.sha256(Path(result.temps[0]).read_bytes()).hexdigest() == result.rows[0].sha256


def test_changed_recipe_is_named_once_in_the_refusal(tmp_path: Path, tree: Path, recipe_file: Path) -> None:
    out = tmp_path / "out"
    api.expand(tree, out, recipe=recipe_file, workers=1)
    other = tmp_path / "other.yaml"
    other.write_text(RECIPE.replace("hflip: {p: 0.5}", "vflip: {p: 0.5}"))
    with pytest.raises(InputError, match=r"holds a run with a different recipe; resume needs"):
        api.expand(tree, out, recipe=other, workers=1)


def test_in_process_run_leaves_the_callers_process_as_it_was(tmp_path: Path, tree: Path) -> None:
    """workers=1 runs in the caller's process: its OpenCV threads and signal handlers are left alone."""
    import signal

    import cv2

    threads = cv2.getNumThreads()
    cv2.setNumThreads(3)
    handlers = (signal.getsignal(signal.SIGINT), signal.getsignal(signal.SIGTERM))
    try:
        api.expand(tree, tmp_path / "out", copies=1, workers=1)
        assert cv2.getNumThreads() == 3
        assert (signal.getsignal(signal.SIGINT), signal.getsignal(signal.SIGTERM)) == handlers
    finally:
        cv2.setNumThreads(threads)
