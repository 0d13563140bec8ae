"""Scanning the ImageFolder tree and planning output names."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from augcli import dataset, forked
from augcli.dataset import Names, Source, scan
from augcli.errors import InputError
from augcli.plan import Namer, SourcePlan, expand_items, plan_tasks
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


STEMS = st.sampled_from(["x", "X", "x__aug001", "x_png__aug001", "x__smote001", "x_png__smote001", "y-2", "y"])
RELS = st.builds(lambda c, s, e: f"{c}/{s}.{e}", st.sampled_from(["c", "C"]), STEMS,
                 st.sampled_from(["png", "PNG", "jpg"]))


@settings(max_examples=300, deadline=None)
@given(originals=st.lists(RELS, unique=True, max_size=8), smote=st.lists(st.tuples(RELS, st.integers(1, 3))),
       aug=st.lists(st.tuples(RELS, st.integers(1, 3)), unique=True), fmt=st.sampled_from(["same", "png"]))
def test_one_namer_gives_every_output_a_new_name(originals: list[str], smote: list[tuple[str, int]],
                                                 aug: list[tuple[str, int]], fmt: str) -> None:
    """Originals, then SMOTE images, then augmented copies named through one Namer never share a name,
    even ignoring case and whatever the sources are called; originals keep their path unless only case differs."""
    names = Namer(fmt)
    kept = names.originals(originals)
    made = [*kept.values(), *names.generated(smote, "__smote", avoid=originals), *names.generated(aug, "__aug")]
    assert len({name.casefold() for name in made}) == len(made)
    first = {}
    for rel in originals:
        first.setdefault(rel.casefold(), rel)
    assert all(kept[rel] == rel for rel in originals if first[rel.casefold()] == rel)


def test_generated_names_step_around_originals_named_like_them() -> None:
    """A source called like another source's SMOTE or augmented output keeps its name; the output moves."""
    names = Namer("same")
    assert names.originals(["c/x.png", "c/x__smote001.png", "c/x__aug001.PNG"]) == {
        "c/x.png": "c/x.png", "c/x__smote001.png": "c/x__smote001.png", "c/x__aug001.PNG": "c/x__aug001.PNG"}
    assert names.generated([("c/x.png", 1)], "__smote") == ["c/x_png__smote001.png"]
    assert names.generated([("c/x.png", 1), ("c/x.png", 2)], "__aug") == ["c/x_png__aug001.png", "c/x__aug002.png"]


def _hostile_tree(root: Path) -> Path:
    """Classes of several sizes with nesting, a name the manifest cannot hold, a name that is not UTF-8,
    files to leave out and a class with nothing usable."""
    for rel in ["big/deep/x.webp", "big/a;b.png", "big/y.png", "big/z.jpg", "mid/m1.png", "mid/m2.png", "one/o.png"]:
        write_image(root / rel, make_image(height=4, width=4))
    write_image(Path(os.fsdecode(bytes(root / "mid") + b"/caf\xe9.png")), make_image(height=4, width=4))
    (root / "mid" / "notes.txt").write_text("hi")
    (root / "mid" / "shot.heic").write_bytes(b"x")
    (root / "none").mkdir()
    (root / "none" / "readme.md").write_text("x")
    return root


def _as_tuple(data: Any) -> tuple[Any, ...]:
    return data.classes, [list(data.sources.names(label)) for label in data.classes], data.problems


@pytest.mark.parametrize("fork_works", [True, False])
def test_a_scan_shared_with_a_child_equals_one_made_alone(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                                          fork_works: bool) -> None:
    root = _hostile_tree(tmp_path / "in")
    alone = _as_tuple(scan(root))
    forks: list[int] = []
    real = forked.fork
    monkeypatch.setattr(dataset, "SHARE_FROM_BYTES", 0)
    monkeypatch.setattr(forked, "may_fork", lambda: True)  # pytest may hold threads of earlier tests
    monkeypatch.setattr(forked, "fork", lambda: forks.append(1) or (real() if fork_works else -1))
    shared = _as_tuple(scan(root))
    assert forks == [1]
    assert shared == alone
    assert alone[0] == ("big", "mid", "one")
    assert alone[1][0] == ["deep/x.webp", "y.png", "z.jpg"]
    assert "caf\udce9.png" in alone[1][1]
    assert [path for path, _ in alone[2]] == ["big/a;b.png", "mid/shot.heic", "none"]


def test_packed_names_travel_as_bytes() -> None:
    names = Names(["a", "caf\udce9", "d/e"])
    assert list(Names.from_blob(names.blob)) == ["a", "caf\udce9", "d/e"]
    assert len(Names.from_blob(b"")) == 0
    with pytest.raises(ValueError, match="end with a NUL"):
        Names.from_blob(b"a\0b")
