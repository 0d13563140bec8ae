"""The streamed plan (augcli.sections) equals the list plans it replaced, output for output.

Oracles: ``plan.plan_tasks`` / ``plan.plan_tta`` over the whole source list with one ``Namer`` (the code
the run used before), a copy of the former ``_balance.plan_balance`` below, numpy's own SeedSequence for
the vectorised seeds, ``sorted`` for the on-disk sorter.
"""

from __future__ import annotations

import random
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from augcli import _balance as B
from augcli import sections as S
from augcli import spool
from augcli.dataset import Names, Source, scan
from augcli.plan import Namer, SourcePlan, Task, expand_items, plan_tasks, plan_tta
from augcli.rng import path_words, plan_seed, sample_seed, sample_seeds
from augcli.smote import SMOTE_NAME, plan_smote
from tests.conftest import make_image, write_image

# Names that collide once case-folded, that look like generated names, that are not UTF-8, not NFC.
TRICKY = {
    "Cat": ["a.png", "A.png", "b.png", "b__aug001.png", "b_png__aug001.png", "sub/x.jpg", "sub/X.JPG",
            "c.jpg", "c__smote001.jpg", "caf\udce9.png", "e\u0301.png"],
    "cat": ["a.png", "z.PNG"],
    "dog": ["q.png", "r.png", "\u00df.png", "ss.png", "dot.", ".x.png"[1:]],
    "Dog2": ["d.png"],
}


def _layouts(classes: dict[str, list[str]], copies: int) -> dict[str, S.Layout]:
    return {label: S.Layout.uniform(len(names), copies) for label, names in classes.items()}


def _sources(classes: dict[str, list[str]]) -> list[Source]:
    return [Source(f"{label}/{name}", label) for label, names in classes.items() for name in sorted(names)]


def _streamed(classes: dict[str, list[str]], copies: int, originals: bool, fmt: str,
              words: tuple[str, ...] = ()) -> list[Task]:
    packed = {label: Names(sorted(names)) for label, names in classes.items()}
    n = len(words) if words else copies
    sections, _ = S.make_sections(list(classes), packed.__getitem__, _layouts(classes, n), original=originals,
                                  kind="tta" if words else "augmented", recipe_seed=11, fmt=fmt, words=words)
    return list(S.Plan(sections))


@pytest.mark.parametrize("fmt", ["same", "png", "jpg"])
@pytest.mark.parametrize(("copies", "originals"), [(2, True), (1, False), (0, True), (3, False), (0, False)])
def test_streamed_expand_plan_equals_the_list_plan(monkeypatch: pytest.MonkeyPatch, fmt: str, copies: int,
                                                   originals: bool) -> None:
    monkeypatch.setattr(S, "WINDOW", 2)  # many windows per class
    expected = plan_tasks(expand_items(_sources(TRICKY), copies, originals), 11, fmt)
    assert _streamed(TRICKY, copies, originals, fmt) == expected


@pytest.mark.parametrize("originals", [True, False])
def test_streamed_tta_plan_equals_the_list_plan(originals: bool) -> None:
    variants = ("identity", "hflip", "center")
    assert _streamed(TRICKY, 0, originals, "same", variants) == plan_tta(_sources(TRICKY), variants, originals,
                                                                         "same")


NAMES = st.lists(st.sampled_from(["x.png", "X.png", "x__aug001.png", "x_png__aug001.png", "x__aug001.PNG",
                                  "y-2.png", "y.png", "y.jpg", "s/x.png", "S/x.png", "x-2.png", "x", "x."]),
                 unique=True, max_size=6)


@settings(max_examples=200, deadline=None)
@given(classes=st.dictionaries(st.sampled_from(["c", "C", "d"]), NAMES, min_size=1),
       copies=st.integers(0, 3), originals=st.booleans(), fmt=st.sampled_from(["same", "png"]))
def test_any_names_stream_as_the_one_namer_names_them(classes: dict[str, list[str]], copies: int,
                                                       originals: bool, fmt: str) -> None:
    """Whatever the names (collisions, case, no extension), the streamed names are the one Namer's."""
    classes = {label: names for label, names in sorted(classes.items()) if names}
    expected = plan_tasks(expand_items(_sources(classes), copies, originals), 11, fmt)
    assert _streamed(classes, copies, originals, fmt) == expected


def test_plain_names_are_used_only_when_nothing_collides() -> None:
    """A class whose names cannot collide is named without a Namer; one with a collision is named by one."""
    clean = {"a": ["p.png", "q.png"]}
    packed = {"a": Names(clean["a"]), "b": Names(["p.png", "P.png"])}
    layouts = {**_layouts(clean, 1), **_layouts({"b": ["p.png", "P.png"]}, 1)}
    _, namings = S.make_sections(["a", "b"], packed.__getitem__, layouts, original=True, kind="augmented",
                                 recipe_seed=1, fmt="same")
    assert namings["a"]() is None
    assert namings["b"]() is not None


# ---------------------------------------------------------------- balance


def _former_plan_balance(data, targets: B.Targets, *, seed: int, fmt: str, method: str = "transforms",
                         smote: B.SmoteOptions | None = None) -> list[Task]:
    """``_balance.plan_balance`` as it was before the streamed plan: the oracle."""
    groups = {label: list(data.sources.of(label)) for label in data.classes}
    kept = {label: B.undersample(sources, targets.total[label], plan_seed(seed, "undersample", label))
            if label in targets.remove else sources for label, sources in groups.items()}
    by_transforms = dict(targets.add)
    names = Namer(fmt)
    names.originals([source.rel for sources in kept.values() for source in sources])
    extra: list[Task] = []
    if method == "smote" and targets.add:
        opts = smote or B.SmoteOptions()
        smote_plan = plan_smote(data, dict(targets.add), recipe_seed=seed, fmt=fmt, features=opts.features,
                                variant=opts.variant, k_neighbors=opts.k_neighbors, workers=1, names=names)
        by_transforms = {label: n for label, n in sorted(smote_plan.fallback.items()) if n > 0}
        extra = list(smote_plan.tasks)
    items: list[SourcePlan] = []
    for label, sources in kept.items():
        copies = B.spread(by_transforms.get(label, 0), len(sources), plan_seed(seed, "balance", label))
        items.extend(SourcePlan(src, True, k) for src, k in zip(sources, copies, strict=True))
    return plan_tasks(items, seed, fmt, names) + extra


@pytest.fixture
def balance_tree(tmp_path: Path) -> Path:
    """Imbalanced classes whose names collide with SMOTE's and augmented outputs' names."""
    names = {"big": [f"b{i:02d}.png" for i in range(9)],
             "mid": ["m.png", "m__smote001.png", "m__aug001.png", "M.PNG", "n.png", "o.png"],
             "small": ["s.png", "s__smote001.png", "t.png"]}
    for label, files in names.items():
        for i, name in enumerate(files):
            write_image(tmp_path / "in" / label / name, make_image(seed=i + len(label)))
    return tmp_path / "in"


@pytest.mark.parametrize(("target", "undersample", "method"), [
    ("max", False, "transforms"), (5, True, "transforms"), (0.5, True, "transforms"), ("max", False, "smote"),
    (7, True, "smote")])
def test_streamed_balance_plan_equals_the_former_plan(balance_tree: Path, monkeypatch: pytest.MonkeyPatch,
                                                      target: object, undersample: bool, method: str) -> None:
    monkeypatch.setattr(S, "WINDOW", 2)
    data = scan(balance_tree)
    settings_ = B.Settings(target=target, per_class={}, method=method, undersample=undersample)
    targets = B.resolve(data.counts(), settings_)
    plan = B.plan_balance(data, targets, seed=5, fmt="same", method=method, workers=1)
    expected = _former_plan_balance(data, targets, seed=5, fmt="same", method=method)
    assert list(plan.tasks) == expected
    assert plan.tasks.planned == sum(len(task.jobs) for task in expected)
    if method == "smote":
        assert any(job.kind == "smote" and SMOTE_NAME in job.rel for task in expected for job in task.jobs)


# ---------------------------------------------------------------- indices, and the order the resume join reads


def test_indices_are_plan_positions_and_jobs_in_reads_each_folder_in_key_order() -> None:
    classes = {"a": ["x.png", "y.png"], "b": ["z.png"]}
    packed = {label: Names(names) for label, names in classes.items()}
    sections, _ = S.make_sections(list(classes), packed.__getitem__, _layouts(classes, 2), original=True,
                                  kind="augmented", recipe_seed=3, fmt="same")
    plan = S.Plan(sections)
    flat = [(i, job.rel) for indices, task in plan.indexed() for i, job in zip(indices, task.jobs, strict=True)]
    assert [i for i, _ in flat] == list(range(plan.planned)) == list(range(9))
    done = np.zeros(plan.planned, dtype=bool)
    done[[0, 1, 5]] = True
    left = [(indices, [job.rel for job in task.jobs]) for indices, task in plan.indexed(done, {"a/x.png": ((0, "h"),)})]
    assert left[0] == ((2,), ["a/x__aug002.png"])
    keys = [key for key, _ in plan.jobs_in("a")]
    assert keys == sorted(keys) and len(keys) == 6


# ---------------------------------------------------------------- seeds


@settings(max_examples=50, deadline=None)
@given(seed=st.integers(0, 2**64 - 1), tag=st.sampled_from([0, 0x534D4F54, 2**32 - 1]),
       rels=st.lists(st.text(min_size=1, max_size=12), min_size=1, max_size=20),
       copies=st.lists(st.integers(0, 100_000), min_size=20, max_size=20))
def test_vectorised_seeds_equal_numpy_seed_sequence(seed: int, tag: int, rels: list[str], copies: list[int]) -> None:
    rels = [*rels, "caf\udce9.png", "e\u0301.png", "\ud800"]
    numbers = copies[: len(rels)] + [1] * max(0, len(rels) - len(copies))
    got = sample_seeds(seed, path_words(rels), numbers, tag).tolist()
    assert got == [sample_seed(seed, rel, copy, tag) for rel, copy in zip(rels, numbers, strict=True)]


# ---------------------------------------------------------------- packed names and the on-disk sorter


def test_packed_names_give_back_every_name() -> None:
    names = sorted(["a", "b/c.png", "caf\udce9.png", "\u00e9", "\U0001f600.png", "x" * 300])
    packed = Names(names)
    assert list(packed) == names and len(packed) == len(names)
    assert [packed[i] for i in range(len(names))] == names and packed[-1] == names[-1]
    assert packed[1:4] == names[1:4] and packed.between(2, 5) == names[2:5] and packed.between(3, 3) == []
    assert packed.has_folders() and not Names(["a.png"]).has_folders()
    assert list(Names()) == []
    with pytest.raises(IndexError):
        packed[len(names)]


@pytest.mark.parametrize("limit", [1, 3, 1000])
def test_sorter_equals_a_stable_sort(monkeypatch: pytest.MonkeyPatch, tmp_path: Path, limit: int) -> None:
    monkeypatch.setattr(spool, "BLOCK", 2)
    monkeypatch.setattr(spool, "FAN_IN", 3)  # many runs: merged in several passes
    rng = random.Random(limit)
    items = [((rng.randint(0, 9), "k"), {"n": i, "s": "é" * (i % 3)}) for i in range(500)]
    with spool.Sorter(tmp_path, limit) as order:
        order.extend(items)
        assert list(order.merged()) == sorted(items, key=lambda item: item[0])
    assert list(tmp_path.iterdir()) == []  # the runs' file has no name


def test_sorter_spills_by_the_bytes_it_holds(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setattr(spool, "BYTES", 100)
    monkeypatch.setattr(spool, "FAN_IN", 4)
    rng = random.Random(7)
    items = [(rng.randint(0, 50), bytes([i % 251]) * rng.randint(1, 40)) for i in range(300)]
    with spool.Sorter(tmp_path, 10_000) as order:
        for item in items[:5]:
            order.add(*item)
        held = sum(len(value) for _, value in items[:5])
        assert order.spilled == (held >= 100)
        order.extend(items[5:])
        assert order.spilled >= sum(len(value) for _, value in items) // (100 + 40)  # a run at most 139 bytes
        assert list(order.merged()) == sorted(items, key=lambda item: item[0])


def test_plan_of_tasks_is_a_plan(make_tree: Callable[..., Path]) -> None:
    data = scan(make_tree({"a": 2, "b": 1}))
    tasks = plan_tasks(expand_items(data.sources, 1, True), 3, "same")
    plan = S.Plan.of_tasks(tasks)
    assert list(plan) == tasks and plan.planned == 6 and plan.folders() == ["a", "b"]


def test_safe_rel_says_what_the_pure_posix_path_rule_says() -> None:
    """paths.safe_rel splits instead of parsing (it runs on every manifest row): the oracle is the former
    rule on PurePosixPath, over every string of up to 4 pieces of a hostile alphabet."""
    import itertools
    from pathlib import PurePosixPath

    from augcli.paths import safe_rel

    def former(rel: str) -> bool:
        if not rel or "\\" in rel or "\x00" in rel:
            return False
        path = PurePosixPath(rel)
        return bool(path.parts) and str(path) == rel and not path.is_absolute() and ".." not in path.parts

    pieces = ["a", "/", ".", "..", "\\", "\x00", "b.png", " ", "\udce9"]
    for k in range(5):
        for combo in itertools.product(pieces, repeat=k):
            rel = "".join(combo)
            assert safe_rel(rel) == former(rel), repr(rel)
