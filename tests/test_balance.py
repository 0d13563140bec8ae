"""augcli balance: target resolution, undersampling, recipe targets, SMOTE integration, the chart."""

from __future__ import annotations

import csv
import json
import re
from collections import Counter
from pathlib import Path
from typing import Any

import cv2
import numpy as np
import pytest

from augcli._balance import Settings, parse_target, resolve, spread, undersample
from augcli.dataset import Source
from augcli.errors import InputError

COUNTS = {"a": 6, "b": 2, "c": 3}


def _rows(out: Path) -> list[dict[str, str]]:
    with open(out / "manifest.csv", newline="", encoding="utf-8") as handle:
        return list(csv.DictReader(handle))


def _per_class(out: Path, kind: str | None = None) -> dict[str, int]:
    rows = [r for r in _rows(out) if kind is None or r["kind"] == kind]
    return dict(sorted(Counter(r["label"] for r in rows).items()))


def _on_disk(out: Path) -> dict[str, int]:
    return {d.name: sum(1 for _ in d.iterdir()) for d in sorted(out.iterdir()) if d.is_dir()}


def _recipe(tmp_path: Path, balance: str = "") -> Path:
    path = tmp_path / "r.yaml"
    path.write_text("seed: 3\npipeline:\n  - hflip\n  - rotate: {degrees: 10}\n" + balance, encoding="utf-8")
    return path


# ---------------------------------------------------------------- resolution


def _settings(target: Any = "max", per_class: dict[str, int] | None = None, under: bool = False) -> Settings:
    return Settings(target=target, per_class=per_class or {}, method="transforms", undersample=under)


@pytest.mark.parametrize(("target", "total"), [
    ("max", {"a": 6, "b": 6, "c": 6}),
    (4, {"a": 6, "b": 4, "c": 4}),
    (0.5, {"a": 6, "b": 3, "c": 3}),
    (1.0, {"a": 6, "b": 6, "c": 6}),
])
def test_resolve_targets(target: Any, total: dict[str, int]) -> None:
    t = resolve(COUNTS, _settings(target))
    assert t.total == total
    assert t.add == {k: v - COUNTS[k] for k, v in total.items() if v > COUNTS[k]}
    assert list(t.add) == sorted(t.add) and t.remove == {}


def test_resolve_undersample_cuts_to_the_target() -> None:
    t = resolve(COUNTS, _settings(3, under=True))
    assert t.total == {"a": 3, "b": 3, "c": 3}
    assert t.add == {"b": 1} and t.remove == {"a": 3}


@pytest.mark.parametrize(("n_max", "ratio"), [(100, 0.29), (10, 0.7), (30, 0.1), (7, 0.5), (13, 0.33)])
def test_ratio_rounding_matches_imblearn(n_max: int, ratio: float) -> None:
    from imblearn.utils import check_sampling_strategy

    y = np.array([0] * n_max + [1] * 2)
    expected = check_sampling_strategy(ratio, y, "over-sampling")[1]
    assert resolve({"x": n_max, "y": 2}, _settings(ratio)).add["y"] == expected


def test_per_class_targets_leave_unnamed_classes_or_follow_the_target() -> None:
    assert resolve(COUNTS, _settings(None, {"b": 5})).total == {"a": 6, "b": 5, "c": 3}
    assert resolve(COUNTS, _settings("max", {"b": 5})).total == {"a": 6, "b": 5, "c": 6}


@pytest.mark.parametrize(("text", "value"), [("max", "max"), ("MAX", "max"), ("7", 7), ("1", 1),
                                             ("0.25", 0.25), ("1.0", 1.0), (3, 3), (0.5, 0.5)])
def test_parse_target(text: Any, value: Any) -> None:
    got = parse_target(text)
    assert got == value and type(got) is type(value)


@pytest.mark.parametrize("bad", ["most", "0", "-3", "1.5", "0.0", "-0.1", True, None])
def test_parse_target_refuses(bad: Any) -> None:
    with pytest.raises(InputError, match=r"^target: expected .*got .* instead"):
        parse_target(bad)


def test_undersample_subset_is_seeded_sorted_and_sized() -> None:
    sources = [Source(f"a/{i:02d}.png", "a") for i in range(20)]
    first = undersample(sources, 7, 11)
    assert first == undersample(sources, 7, 11) and len(first) == 7
    assert first == sorted(first, key=lambda s: s.rel)
    assert first != undersample(sources, 7, 12)
    assert undersample(sources, 30, 11) == sources


def test_spread_is_even() -> None:
    counts = spread(10, 4, 5)
    assert sum(counts) == 10 and set(counts) <= {2, 3}


# ---------------------------------------------------------------- runs


@pytest.mark.parametrize(("args", "expected"), [
    ([], {"a": 6, "b": 6, "c": 6}),
    (["--target", "4"], {"a": 6, "b": 4, "c": 4}),
    (["--target", "0.5"], {"a": 6, "b": 3, "c": 3}),
    (["--target", "4", "--undersample"], {"a": 4, "b": 4, "c": 4}),
])
def test_balance_counts(cli: Any, make_tree: Any, tmp_path: Path, args: list[str],
                        expected: dict[str, int]) -> None:
    src = make_tree(COUNTS)
    out = tmp_path / "out"
    result = cli("balance", src, out, "--workers", 1, "-q", *args)
    assert result.exit_code == 0, result.output
    assert _per_class(out) == expected
    assert _on_disk(out) == expected
    originals = _per_class(out, "original")
    assert all(originals[k] == min(COUNTS[k], expected[k]) for k in COUNTS)
    kinds = {r["kind"] for r in _rows(out)}
    assert kinds <= {"original", "augmented"}


def test_balance_prints_the_table_and_draws_the_chart(cli: Any, make_tree: Any, tmp_path: Path) -> None:
    src = make_tree(COUNTS)
    out = tmp_path / "out"
    result = cli("balance", src, out, "--workers", 1, "--target", 4, "--undersample")
    assert result.exit_code == 0, result.output
    lines = [line.split() for line in result.stdout.splitlines()]
    assert ["class", "before", "after", "added", "removed"] in lines
    assert ["a", "6", "4", "0", "2"] in lines and ["b", "2", "4", "2", "0"] in lines
    chart = cv2.imread(str(out / "balance.png"))
    # 3 classes x 2 series (before, after): 40 px bars, 60 + 3 * 3 * 40 + 20 = 440 < the 480 minimum; 400 high
    assert chart is not None and chart.shape[:2] == (400, 480)


def test_undersample_is_deterministic_across_workers(cli: Any, make_tree: Any, tmp_path: Path) -> None:
    src = make_tree({"a": 9, "b": 2})
    for workers in (1, 2):
        assert cli("balance", src, tmp_path / f"w{workers}", "-w", workers, "-t", 3, "--undersample",
                   "-q").exit_code == 0
    one, two = tmp_path / "w1", tmp_path / "w2"
    assert (one / "manifest.csv").read_bytes() == (two / "manifest.csv").read_bytes()
    kept = [r["path"] for r in _rows(one) if r["label"] == "a"]
    assert len(kept) == 3 and set(kept) <= {f"a/a_{i:03d}.png" for i in range(9)}
    for row in _rows(one):
        assert (one / row["path"]).read_bytes() == (two / row["path"]).read_bytes()


def test_recipe_per_class_targets(cli: Any, make_tree: Any, tmp_path: Path) -> None:
    src = make_tree(COUNTS)
    recipe = _recipe(tmp_path, "balance:\n  target:\n    b: 5\n")
    # a fixed rotation makes one image per source: b's third copy would copy another output and be left out
    recipe.write_text(recipe.read_text().replace("degrees: 10", "degrees: [-10, 10]"))
    assert cli("balance", "-r", recipe, src, tmp_path / "o1", "-w", 1, "-q").exit_code == 0
    assert _per_class(tmp_path / "o1") == {"a": 6, "b": 5, "c": 3}
    assert cli("balance", "-r", recipe, src, tmp_path / "o2", "-w", 1, "-q", "-t", "max").exit_code == 0
    assert _per_class(tmp_path / "o2") == {"a": 6, "b": 5, "c": 6}


def test_recipe_scalar_target_and_undersample(cli: Any, make_tree: Any, tmp_path: Path) -> None:
    src = make_tree(COUNTS)
    recipe = _recipe(tmp_path, "balance:\n  target: 3\n  undersample: true\n")
    assert cli("balance", "-r", recipe, src, tmp_path / "o", "-w", 1, "-q").exit_code == 0
    assert _per_class(tmp_path / "o") == {"a": 3, "b": 3, "c": 3}


@pytest.mark.parametrize(("section", "message"), [
    ("balance:\n  target:\n    bb: 5\n",
     r"r\.yaml:7: balance\.target\.bb: expected a class folder .*did you mean 'b'"),
    ("balance:\n  target:\n    b: 0\n", r"r\.yaml:7: balance\.target\.b: expected a whole number"),
    ("balance:\n  target: 2.5\n", r"r\.yaml:6: balance\.target: expected max"),
    ("balance:\n  targte: 3\n", r"r\.yaml:6: balance\.targte: .*did you mean 'target'"),
    ("balance:\n  method: smot\n", r"balance\.method: .*did you mean 'smote'"),
])
def test_recipe_balance_errors_name_the_line(cli: Any, make_tree: Any, tmp_path: Path, section: str,
                                             message: str) -> None:
    src = make_tree(COUNTS)
    result = cli("balance", "-r", _recipe(tmp_path, section), src, tmp_path / "o", "-q")
    assert result.exit_code == 2
    assert re.search(message, result.output), result.output


@pytest.mark.parametrize(("args", "message"), [
    (["--target", "most"], "--target: expected max, a whole number of images N >= 1, or a ratio in (0, 1]"),
    (["--target", "0"], "expected a number of images N >= 1"),
    (["--target", "1.5"], "expected a ratio in (0, 1] of the largest class"),
    (["--target", "0.0"], "got 0.0 instead"),
    (["--k-neighbors", "3"], "--k-neighbors: expected --method smote"),
    (["--features", "hog", "--smote", "svm"], "--features, --smote: expected --method smote"),
    (["--method", "smoke"], "Invalid value for '--method'"),
])
def test_bad_options_exit_2(cli: Any, make_tree: Any, tmp_path: Path, args: list[str], message: str) -> None:
    src = make_tree(COUNTS)
    result = cli("balance", src, tmp_path / "o", "-q", *args)
    assert result.exit_code == 2
    assert message in result.output
    assert not (tmp_path / "o").exists()


def test_changed_target_is_refused_without_overwrite(cli: Any, make_tree: Any, tmp_path: Path) -> None:
    src = make_tree(COUNTS)
    out = tmp_path / "o"
    assert cli("balance", src, out, "-w", 1, "-q").exit_code == 0
    for args in (["-t", "4"], ["--undersample", "-t", "6"]):
        result = cli("balance", src, out, "-w", 1, "-q", *args)
        assert result.exit_code == 2 and "--overwrite" in result.output
    assert cli("balance", src, out, "-w", 1, "-q", "-t", "4", "--overwrite").exit_code == 0
    assert _per_class(out) == {"a": 6, "b": 4, "c": 4}
    assert _on_disk(out) == {"a": 6, "b": 4, "c": 4}


def test_api_result_fields(make_tree: Any, tmp_path: Path) -> None:
    from augcli import api

    result = api.balance(make_tree(COUNTS), tmp_path / "o", target=5, undersample=True, workers=1)
    assert dict(result.before) == COUNTS
    assert dict(result.after) == dict(result.target) == {"a": 5, "b": 5, "c": 5}
    assert dict(result.added) == {"a": 0, "b": 3, "c": 2}
    assert dict(result.removed) == {"a": 1, "b": 0, "c": 0}
    assert result.chart == tmp_path / "o" / "balance.png" and result.chart.is_file()


# ---------------------------------------------------------------- SMOTE


def test_smote_method_tops_up_with_blends(cli: Any, make_tree: Any, tmp_path: Path) -> None:
    src = make_tree({"a": 6, "b": 3, "c": 1})
    out = tmp_path / "o"
    result = cli("balance", src, out, "--recipe", "default", "--method", "smote", "--k-neighbors", 2, "-w", 1)
    assert result.exit_code == 0, result.output
    assert _per_class(out) == {"a": 6, "b": 6, "c": 6}
    assert _per_class(out, "smote") == {"b": 3}
    assert _per_class(out, "augmented") == {"c": 5}  # one image: made by transforms instead
    assert "note:" in result.stderr
    assert (out / "features.npz").is_file() and (out / "balance.png").is_file()
    again = cli("balance", src, out, "--recipe", "default", "--method", "smote", "--k-neighbors", 3, "-w", 1, "-q")
    assert again.exit_code == 2 and "smote" in again.output


def test_then_recipe_runs_after_each_blend(cli: Any, make_tree: Any, tmp_path: Path) -> None:
    src = make_tree({"a": 4, "b": 3})
    then = tmp_path / "then.yaml"
    then.write_text("pipeline:\n  - hflip: {p: 1}\n", encoding="utf-8")
    out = tmp_path / "o"
    assert cli("balance", src, out, "-m", "smote", "--then-recipe", then, "-w", 1, "-q").exit_code == 0
    rows = [r for r in _rows(out) if r["kind"] == "smote"]
    assert len(rows) == 1 and [op["name"] for op in json.loads(rows[0]["ops"])] == ["smote_blend", "hflip"]
    then.write_text("pipeline:\n  - vflip: {p: 1}\n", encoding="utf-8")
    again = cli("balance", src, out, "-m", "smote", "--then-recipe", then, "-w", 1, "-q")
    assert again.exit_code == 2 and "--overwrite" in again.output


@pytest.mark.parametrize("method", ["mixup", "cutmix"])
def test_mixing_methods_top_up_with_partners_of_the_same_class(cli: Any, make_tree: Any, tmp_path: Path,
                                                               method: str) -> None:
    """Every added image of a class with two or more images mixes in a partner of its own class; a class of
    one image gets the recipe's transforms alone; workers 1 and 2 write the same bytes; replay is exact."""
    src = make_tree({"a": 6, "b": 3, "c": 1})
    for workers in ("1", "2"):
        result = cli("balance", "-q", "--method", method, "--workers", workers, src, tmp_path / f"w{workers}")
        assert result.exit_code == 0, result.output
    assert _per_class(tmp_path / "w1") == {"a": 6, "b": 6, "c": 6}
    for row in _rows(tmp_path / "w1"):
        assert (tmp_path / "w1" / row["path"]).read_bytes() == (tmp_path / "w2" / row["path"]).read_bytes()
        if row["kind"] == "original":
            continue
        mixes = [op for op in json.loads(row["ops"]) if op["name"] == method]
        sources = row["sources"].split(";")
        if row["label"] == "c":
            assert mixes == [] and sources == [sources[0]]
        else:
            assert len(mixes) == 1 and len(sources) == 2
            assert [p["label"] for p in mixes[0]["params"]["partners"]] == [row["label"]]
            assert sources[1].split("/")[0] == row["label"] and row["label_weights"] == ""
    again = cli("replay", "-q", tmp_path / "w1" / "manifest.csv", tmp_path / "again")
    assert again.exit_code == 0, again.output


def test_a_mixing_method_refuses_a_recipe_that_already_mixes(cli: Any, make_tree: Any, tmp_path: Path) -> None:
    recipe = tmp_path / "r.yaml"
    recipe.write_text("pipeline:\n  - mixup\n", encoding="utf-8")
    result = cli("balance", "-q", "--method", "cutmix", "--recipe", recipe, make_tree({"a": 3, "b": 1}), tmp_path / "o")
    assert result.exit_code == 2
    assert "Error: --method cutmix: expected a recipe without a multi-image step (the method adds one)" in result.stderr
    assert not (tmp_path / "o").exists()


def test_a_then_recipe_that_mixes_can_draw_the_smote_partner(cli: Any, make_tree: Any, tmp_path: Path) -> None:
    """A SMOTE image's then-recipe mixup with a same-class partner: in a class of two images the partner is
    the SMOTE pair's other image, already among the sources; it is used as decoded, and replay is exact."""
    recipe = tmp_path / "then.yaml"
    recipe.write_text("pipeline:\n  - random_crop: {width: 12, height: 10}\n  - mixup: {partner: same_class, alpha: 1}\n",
                      encoding="utf-8")
    out = tmp_path / "out"
    result = cli("balance", "-q", "--method", "smote", "--k-neighbors", "1", "--then-recipe", recipe,
                 make_tree({"a": 6, "b": 2}), out)
    assert result.exit_code == 0, result.output
    rows = [row for row in _rows(out) if row["kind"] == "smote"]
    assert len(rows) == 4
    for row in rows:
        sources = row["sources"].split(";")
        mixes = [op for op in json.loads(row["ops"]) if op["name"] == "mixup"]
        assert len(sources) == 2 and [p["source"] for p in mixes[0]["params"]["partners"]] == [1]
    again = cli("replay", "-q", out / "manifest.csv", tmp_path / "again")
    assert again.exit_code == 0, again.output
