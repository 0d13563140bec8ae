"""Scanning the ImageFolder tree and planning output names."""

from __future__ import annotations

from pathlib import Path

import pytest

from augcli.dataset import Source, scan
from augcli.errors import InputError
from augcli.plan import SourcePlan, expand_items, plan_tasks
from tests.conftest import make_image, write_image


def test_scan_sorts_keeps_nesting_and_skips_hidden_and_non_images(tmp_path: Path) -> None:
    root = tmp_path / "in"
    for rel in ["b/z.jpg", "b/a.PNG", "a/deep/er/x.webp", "a/y.tif"]:
        write_image(root / rel, make_image())
    (root / "a" / "notes.txt").write_text("hi")
    (root / "a" / ".hidden.jpg").write_bytes(b"")
    (root / ".cache").mkdir()
    write_image(root / ".cache" / "c.png", make_image())
    (root / "empty").mkdir()
    data = scan(root)
    assert data.classes == ("a", "b")
    assert [s.rel for s in data.sources] == ["a/deep/er/x.webp", "a/y.tif", "b/a.PNG", "b/z.jpg"]


def test_scan_flat_folder_explains_the_layout(tmp_path: Path) -> None:
    write_image(tmp_path / "in" / "x.jpg", make_image())
    with pytest.raises(InputError, match="holds 1 images directly: put them in a sub-folder named after their class"):
        scan(tmp_path / "in")


def test_scan_missing_folder(tmp_path: Path) -> None:
    with pytest.raises(InputError, match="does not exist"):
        scan(tmp_path / "nope")


def test_names_are_stable_and_collision_free() -> None:
    sources = [Source("c/a.jpg", "c"), Source("c/a.png", "c"), Source("c/b.jpg", "c"), Source("c/b__aug001.jpg", "c")]
    tasks = plan_tasks(expand_items(sources, 2, True), recipe_seed=1, fmt="jpg")
    names = [job.rel for task in tasks for job in task.jobs]
    assert names == [
        "c/a.jpg", "c/a_jpg__aug001.jpg", "c/a_jpg__aug002.jpg",
        "c/a.png", "c/a_png__aug001.jpg", "c/a_png__aug002.jpg",
        "c/b.jpg", "c/b_jpg__aug001.jpg", "c/b__aug002.jpg",
        "c/b__aug001.jpg", "c/b__aug001__aug001.jpg", "c/b__aug001__aug002.jpg",
    ]
    assert len({n.casefold() for n in names}) == len(names)


def test_same_format_keeps_extension_and_seeds_differ_per_copy() -> None:
    tasks = plan_tasks([SourcePlan(Source("k/s/x.PNG", "k"), False, 3)], recipe_seed=7, fmt="same")
    jobs = tasks[0].jobs
    assert [j.rel for j in jobs] == ["k/s/x__aug001.PNG", "k/s/x__aug002.PNG", "k/s/x__aug003.PNG"]
    assert len({j.seed for j in jobs}) == 3
