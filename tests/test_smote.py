"""SMOTE planning: parents, recorded blends, small classes, refused variants, the imblearn hook, replay."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import numpy as np
import pytest

from augcli import _imblearn as H
from augcli import features as F
from augcli import smote as S
from augcli.dataset import scan
from augcli.errors import InputError
from augcli.io import read_image
from augcli.manifest import RunRecord, read_rows
from augcli.ops.mix import blend_pair
from augcli.recipe import load_recipe
from augcli.render import render_sources
from augcli.run import Context, run_plan
from tests.conftest import make_image, write_image

RECORD = RunRecord(command="test", seed=0, recipe={}, recipe_digest="", max_pixels=None)

VARIANTS = ["smote", "borderline", "borderline2", "svm", "kmeans"]


def _two_blobs(seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """Three overlapping Gaussian classes of 60, 20 and 12 rows, so every variant finds borderline samples."""
    rng = np.random.default_rng(seed)
    sizes, centres = (60, 20, 12), (0.0, 1.0, 2.0)
    X = np.concatenate([rng.normal(c, 1.0, size=(n, 4)) for n, c in zip(sizes, centres, strict=True)])
    y = np.repeat(np.arange(3), sizes)
    return X, y


def _run(root: Path, out: Path, plan: S.SmotePlan, workers: int = 1) -> list:
    """Run a SMOTE plan with the default recipe and return the manifest rows."""
    ctx = Context(in_root=root, out_root=out, recipe=load_recipe(None))
    stats = run_plan(plan.tasks, ctx, record=RECORD, workers=workers)
    return list(stats.rows)


@pytest.mark.parametrize("variant", VARIANTS)
def test_hook_sees_every_row_and_rebuilds_it(variant: str) -> None:
    """Fails loudly if imbalanced-learn stops calling _generate_samples: the hook must report every row."""
    from imblearn.over_sampling import SMOTE, SVMSMOTE, BorderlineSMOTE, KMeansSMOTE

    X, y = _two_blobs()
    pairs = H.oversample(X, y, 2, 30, variant, 3, seed=5, share=0.5)
    assert len(pairs) >= 30
    # imbalanced-learn's own sampler, same settings and seed, makes the same rows (the hook changes nothing)
    m = max(1, min(10, len(y) - 1))
    plain = {
        "smote": lambda: SMOTE(k_neighbors=3),
        "borderline": lambda: BorderlineSMOTE(k_neighbors=3, m_neighbors=m, kind="borderline-1"),
        "borderline2": lambda: BorderlineSMOTE(k_neighbors=3, m_neighbors=m, kind="borderline-2"),
        "svm": lambda: SVMSMOTE(k_neighbors=3, m_neighbors=m),
        "kmeans": lambda: KMeansSMOTE(k_neighbors=3, cluster_balance_threshold=0.25),
    }[variant]()
    total = int(np.count_nonzero(y == 2)) + 30
    plain.set_params(sampling_strategy={2: total}, random_state=np.random.RandomState(np.random.MT19937(5)))
    X_res, _ = plain.fit_resample(X, y)
    np.testing.assert_array_equal(np.stack([p.vector for p in pairs]), X_res[len(X):])
    for pair in pairs:
        assert y[pair.a] == 2
        if variant != "borderline2":
            assert y[pair.b] == 2
        rebuilt = X[pair.a] + pair.step * (X[pair.b] - X[pair.a])
        np.testing.assert_allclose(pair.vector, rebuilt, rtol=1e-9, atol=1e-9)
    if variant == "svm":
        assert min(p.step for p in pairs) < 0  # SVM-SMOTE extrapolates away from safe samples


def test_equal_classes_get_different_draws() -> None:
    """A RandomState per class (not an int) keeps two equal-size classes from repeating each other's steps."""
    X, y = _two_blobs()
    y = np.where(y == 2, 1, y)[:80]
    X = X[:80]
    y[70:] = 2
    one = H.oversample(X, y, 1, 10, "smote", 3, seed=S.plan_seed(1, "smote", "smote", "a"))
    two = H.oversample(X, y, 2, 10, "smote", 3, seed=S.plan_seed(1, "smote", "smote", "b"))
    assert [p.step for p in one] != [p.step for p in two]


@pytest.mark.parametrize("variant", ["smote", "borderline"])
def test_parents_from_same_class_and_names(make_tree: Callable[..., Path], variant: str) -> None:
    root = make_tree({"big": 12, "small": 4})
    plan = S.plan_smote(scan(root), {"small": 8}, recipe_seed=3, fmt="same", variant=variant)
    jobs = [(task, job) for task in plan.tasks for job in task.jobs]
    assert len(jobs) == 8
    for task, job in jobs:
        assert task.label == "small" and len(task.sources) == 2
        assert all(src.startswith("small/") for src in task.sources)
        assert job.kind == "smote" and "__smote" in job.rel and job.rel.endswith(".png")
    assert len({job.rel.casefold() for _, job in jobs}) == 8


def test_blend_matches_features(make_tree: Callable[..., Path], tmp_path: Path) -> None:
    """The synthetic vector is x_a + step (x_b - x_a), and the rendered image's features are that blend."""
    root = make_tree({"big": 10, "small": 4})
    plan = S.plan_smote(scan(root), {"small": 6}, recipe_seed=1, fmt="same")
    rows = _run(root, tmp_path / "out", plan)
    # a blend that rounds back to its first image (a tiny step on these low-contrast images) is a copy: left out
    copies = set()
    for task in plan.tasks:
        a, b = (read_image(root / rel).astype(np.float32) for rel in task.sources)
        for job in task.jobs:
            blend = np.clip(np.rint(a + np.float32(job.pre_ops[0]["params"]["step"]) * (b - a)), 0, 255)
            if np.array_equal(blend, a):
                copies.add(job.rel)
    assert len(copies) == 2 and {row.path for row in rows} == {job.rel for task in plan.tasks for job in task.jobs
                                                             if job.rel not in copies}
    npz_path = S.write_features(tmp_path / "out", plan, rows)
    with np.load(npz_path) as npz:
        vectors = dict(zip(npz["paths"], npz["features"], strict=True))
        assert sorted(npz["kinds"]) == ["smote"] * 4
    for row in rows:
        a, b = row.source_list()
        step = row.op_list()[0]["params"]["step"]
        x_a, x_b = plan.vectors[a], plan.vectors[b]
        np.testing.assert_allclose(vectors[row.path], x_a + step * (x_b - x_a), rtol=1e-5, atol=1e-6)
        rendered = F.image_features(read_image(tmp_path / "out" / row.path), "pixels", 32)
        assert np.abs(rendered - vectors[row.path]).max() <= 2.5 / 255  # resize and rounding only


def test_tiny_classes(make_tree: Callable[..., Path]) -> None:
    """1 image: transforms instead; 2 and 3 images: k reduced to 1 and 2, said so; nothing crashes."""
    root = make_tree({"big": 10, "one": 1, "two": 2, "three": 3})
    plan = S.plan_smote(scan(root), {"one": 9, "two": 8, "three": 7}, recipe_seed=0, fmt="same")
    assert plan.fallback == {"one": 9}
    made = {}
    for task in plan.tasks:
        made[task.label] = made.get(task.label, 0) + len(task.jobs)
    assert made == {"two": 8, "three": 7}
    text = "\n".join(plan.notes)
    assert "class one: 1 readable image" in text
    assert "class two: only 2 images, so k_neighbors is 1" in text
    assert "class three: only 3 images, so k_neighbors is 2" in text


def test_adasyn_refused_and_unknown_variant(make_tree: Callable[..., Path]) -> None:
    data = scan(make_tree({"a": 4, "b": 2}))
    with pytest.raises(InputError, match=r"ADASYN is not supported.*use smote='smote' or borderline"):
        S.plan_smote(data, {"b": 2}, recipe_seed=0, fmt="same", variant="adasyn")
    with pytest.raises(InputError, match="did you mean 'borderline'"):
        S.plan_smote(data, {"b": 2}, recipe_seed=0, fmt="same", variant="bordeline")


def test_unreadable_left_out_and_noted(make_tree: Callable[..., Path]) -> None:
    root = make_tree({"a": 6, "b": 3})
    (root / "b" / "broken.png").write_bytes(b"not an image")
    plan = S.plan_smote(scan(root), {"b": 3}, recipe_seed=0, fmt="same")
    assert [rel for rel, _ in plan.errors] == ["b/broken.png"]
    assert "b/broken.png" not in plan.vectors
    assert any("unreadable" in note for note in plan.notes)
    assert all("b/broken.png" not in task.sources for task in plan.tasks)


def test_embeddings_file(make_tree: Callable[..., Path], tmp_path: Path) -> None:
    root = make_tree({"a": 6, "b": 3})
    rels = [s.rel for s in scan(root).sources]
    emb = np.random.default_rng(0).normal(size=(len(rels), 5)).astype(np.float32)
    np.savez(tmp_path / "emb.npz", paths=np.array(rels), features=emb)
    plan = S.plan_smote(scan(root), {"b": 3}, recipe_seed=0, fmt="same", features=tmp_path / "emb.npz")
    assert sum(len(t.jobs) for t in plan.tasks) == 3
    np.savez(tmp_path / "short.npz", paths=np.array(rels[1:]), features=emb[1:])
    with pytest.raises(InputError, match=f"no embedding for 1 input images \\({rels[0]}\\)"):
        S.plan_smote(scan(root), {"b": 3}, recipe_seed=0, fmt="same", features=tmp_path / "short.npz")


@pytest.mark.parametrize("kind", ["pixels", "hog", "color_hist"])
def test_feature_kinds_equal_length_for_any_image(kind: str) -> None:
    lengths = {
        F.image_features(make_image(dtype, c, 20 + c, 30), kind).shape
        for dtype in (np.uint8, np.uint16)
        for c in (1, 3, 4)
    }
    assert len(lengths) == 1


def test_same_plan_whatever_the_workers(make_tree: Callable[..., Path]) -> None:
    root = make_tree({"big": 40, "small": 30})
    one = S.plan_smote(scan(root), {"small": 10}, recipe_seed=4, fmt="same", workers=1)
    two = S.plan_smote(scan(root), {"small": 10}, recipe_seed=4, fmt="same", workers=2)
    assert one.tasks == two.tasks


def test_combine_exact_at_ends_and_converts_partner() -> None:
    a, b = make_image(np.uint8, 3, seed=1), make_image(np.uint8, 3, seed=2)
    assert np.array_equal(blend_pair(a, b, 0.0), a)
    assert np.array_equal(blend_pair(a, b, 1.0), b)
    grey16 = make_image(np.uint16, 1, 50, 70, seed=3)
    out = blend_pair(make_image(np.uint8, 4), grey16, 0.5)
    assert out.dtype == np.uint8 and out.shape == (37, 53, 4)
    extrapolated = blend_pair(a, b, -3.0)
    assert extrapolated.dtype == np.uint8 and extrapolated.min() == 0  # clipped, not wrapped


def test_replay_gives_identical_bytes(make_tree: Callable[..., Path], tmp_path: Path) -> None:
    from augcli.io import encode_image

    root = make_tree({"big": 8, "small": 3})
    plan = S.plan_smote(scan(root), {"small": 4}, recipe_seed=2, fmt="same", variant="svm")
    _run(root, tmp_path / "out", plan, workers=2)
    for row in read_rows(tmp_path / "out" / "manifest.csv"):
        images = [read_image(root / rel) for rel in row.source_list()]
        again = encode_image(render_sources(images, row.op_list()), Path(row.path).suffix)
        assert again == (tmp_path / "out" / row.path).read_bytes()


def test_names_avoid_collisions(tmp_path: Path) -> None:
    """Two sources with one stem (x.png, x.jpg) give distinct names, and a clashing original is respected."""
    root = tmp_path / "in"
    for i, name in enumerate(["x.png", "x.jpg", "y.png", "x__smote001.png"]):
        write_image(root / "c" / name, make_image(np.uint8, 3, 24, 32, seed=i))
    for i in range(8):
        write_image(root / "d" / f"d{i}.png", make_image(np.uint8, 3, 24, 32, seed=50 + i))
    plan = S.plan_smote(scan(root), {"c": 12}, recipe_seed=0, fmt="png")
    names = [job.rel.casefold() for task in plan.tasks for job in task.jobs]
    originals = {s.rel.casefold() for s in scan(root).sources}
    assert len(set(names)) == len(names) == 12
    assert not set(names) & originals


def test_then_recipe_ops_follow_the_blend_and_replay(make_tree: Callable[..., Path], tmp_path: Path) -> None:
    from augcli.io import encode_image

    root = make_tree({"big": 8, "small": 3})
    plan = S.plan_smote(scan(root), {"small": 4}, recipe_seed=2, fmt="same")
    rec = load_recipe(None)
    ctx = Context(in_root=root, out_root=tmp_path / "out", recipe=rec, then_recipe=rec)
    stats = run_plan(plan.tasks, ctx, record=RECORD, workers=1)
    assert any(len(row.op_list()) > 1 for row in stats.rows)
    for row in stats.rows:
        assert row.op_list()[0]["name"] == "smote_blend"
        images = [read_image(root / rel) for rel in row.source_list()]
        again = encode_image(render_sources(images, row.op_list()), Path(row.path).suffix)
        assert again == (tmp_path / "out" / row.path).read_bytes()


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_plain_smote_on_one_class_makes_the_pairs_of_the_whole_matrix(seed: int) -> None:
    """plan_pairs gives imbalanced-learn one class (and one other row) for plain SMOTE: the same pairs,
    steps and vectors as the whole matrix, the former input (oracle: _class_pairs on every row)."""
    X, y = _two_blobs(seed)
    labels = [("a", "b", "c")[int(c)] for c in y]
    needs = {"b": 25, "c": 7}
    pairs, _, _ = S.plan_pairs(list(X.astype(np.float32)), labels, ("a", "b", "c"), needs, variant="smote",
                               k_neighbors=4, recipe_seed=seed)
    full = X.astype(np.float32).astype(np.float64)
    expected = []
    for code, label in ((1, "b"), (2, "c")):
        share = needs[label] / sum(needs.values())
        expected += S._class_pairs(full, y, code, label, needs[label], "smote", 4, seed, share)[0]
    assert [(p.a, p.b, p.step) for p in pairs] == [(p.a, p.b, p.step) for p in expected]
    assert all(np.array_equal(p.vector, e.vector) for p, e in zip(pairs, expected, strict=True))


def test_features_of_a_large_tree_are_memory_mapped(make_tree: Callable[..., Path],
                                                    monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    """Past F.MEMORY_LIMIT the features table is a memory map; its vectors, the plan and features.npz are
    those of the in-memory table."""
    root = make_tree({"big": 10, "small": 3})
    small = S.plan_smote(scan(root), {"small": 5}, recipe_seed=2, fmt="same")
    monkeypatch.setattr(F, "MEMORY_LIMIT", 0)
    mapped = S.plan_smote(scan(root), {"small": 5}, recipe_seed=2, fmt="same")
    assert isinstance(mapped.vectors, F.FeatureTable) and isinstance(mapped.vectors.matrix, np.memmap)
    assert list(mapped.tasks) == list(small.tasks)
    assert all(np.array_equal(mapped.vectors[rel], small.vectors[rel]) for rel in small.vectors)
    rows = _run(root, tmp_path / "out", mapped)
    with np.load(S.write_features(tmp_path / "out", mapped, rows)) as npz:
        assert npz["features"].shape == (len(rows), 32 * 32 * 3) and sorted(npz["kinds"]) == ["smote"] * 5
