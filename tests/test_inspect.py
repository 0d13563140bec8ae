"""augcli inspect: per-class counts, formats, sizes, unreadable files, imbalance, JSON and chart."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import cv2
import numpy as np
import pytest

from augcli.chart import chart_size, draw_bars
from augcli._inspect import inspect_tree
from tests.conftest import make_image, write_image


@pytest.fixture
def tree(tmp_path: Path) -> Path:
    """cat: 4 images (2 png, 1 jpg, 1 corrupt jpg), dog: 1 bmp; sizes differ."""
    root = tmp_path / "in"
    write_image(root / "cat" / "a.png", make_image(np.uint8, 3, 20, 30))
    write_image(root / "cat" / "b.png", make_image(np.uint16, 1, 12, 40))
    write_image(root / "cat" / "sub" / "c.jpg", make_image(np.uint8, 3, 25, 16))
    (root / "cat" / "broken.jpg").write_bytes(b"\xff\xd8\xff\xe0 not really a jpeg")
    write_image(root / "dog" / "d.bmp", make_image(np.uint8, 3, 10, 11))
    (root / "dog" / "notes.txt").write_text("not an image")
    return root


def test_inspect_counts_formats_sizes_and_unreadable(tree: Path) -> None:
    result = inspect_tree(tree, workers=2)
    cat, dog = result.classes
    assert (cat.name, cat.images, dog.name, dog.images) == ("cat", 4, "dog", 1)
    assert cat.share == pytest.approx(0.8) and dog.share == pytest.approx(0.2)
    assert cat.formats == {"jpg": 2, "png": 2} and dog.formats == {"bmp": 1}
    assert cat.width == (16, 40) and cat.height == (12, 25)
    assert dog.width == (11, 11) and dog.height == (10, 10)
    assert [path for path, _ in cat.unreadable] == ["cat/broken.jpg"]
    assert "JPEG" in cat.unreadable[0][1] and dog.unreadable == ()
    assert result.imbalance_ratio == 4.0


def test_inspect_cli_text(cli: Any, tree: Path) -> None:
    result = cli("inspect", tree)
    assert result.exit_code == 0, result.output
    lines = [line.split() for line in result.stdout.splitlines()]
    assert lines[0][1:] == ["5", "images", "in", "2", "classes"]
    assert ["class", "images", "share", "formats", "width", "height", "unreadable"] in lines
    assert ["cat", "4", "80.0%", "jpg", "2,", "png", "2", "16-40", "12-25", "1"] in lines
    assert ["dog", "1", "20.0%", "bmp", "1", "11", "10", "0"] in lines
    assert "imbalance ratio: 4.00 (largest cat 4 / smallest dog 1)" in result.stdout
    assert "cat/broken.jpg: truncated or corrupt JPEG" in result.stdout


def test_inspect_cli_json_and_chart(cli: Any, tree: Path, tmp_path: Path) -> None:
    chart = tmp_path / "counts.png"
    result = cli("inspect", tree, "--json", "--chart", chart, "--workers", 1)
    assert result.exit_code == 0, result.output
    data = json.loads(result.stdout)
    assert data["images"] == 5 and data["unreadable"] == 1 and data["imbalance_ratio"] == 4.0
    assert (data["largest"], data["smallest"]) == ("cat", "dog")
    cat, dog = data["classes"]
    reason = cat["unreadable"][0]["reason"]
    assert cat == {"name": "cat", "images": 4, "share": 0.8, "formats": {"jpg": 2, "png": 2},
                   "width": [16, 40], "height": [12, 25],
                   "unreadable": [{"path": "cat/broken.jpg", "reason": reason}]}
    assert dog["width"] == [11, 11] and dog["unreadable"] == []
    image = cv2.imread(str(chart))
    # 2 classes x 1 series: 40 px bars, 60 + 2 * 2 * 40 + 20 = 240 < the 480 minimum; 400 high
    assert image is not None and image.shape == (400, 480, 3)
    assert data["chart"] == str(chart)


def test_inspect_missing_folder_exits_2(cli: Any, tmp_path: Path) -> None:
    result = cli("inspect", tmp_path / "nope")
    assert result.exit_code == 2 and "does not exist" in result.output


def test_chart_sizes_and_bars() -> None:
    assert chart_size(3, 2) == (480, 400)
    wide = chart_size(200, 2)
    assert wide[0] > 480 and wide[0] <= 60 + 1800 + 20 + 200 * 3
    image = draw_bars(["x", "y"], {"before": [10, 0], "after": [10, 10]}, "t")
    assert image.shape == (400, 480, 3) and image.dtype == np.uint8
    assert (image != 255).any()


def test_inspect_reads_in_chunks_and_keeps_only_summaries(tree: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Read two images at a time: the same summary as the whole-tree reading it replaced (its numbers pinned
    above), every image counted once in the progress, unreadable files in path order."""
    from augcli import _inspect

    monkeypatch.setattr(_inspect, "_CHUNK", 2)
    for i in range(5):
        write_image(tree / "cat" / f"z{i}.png", make_image(np.uint8, 3, 8 + i, 9))
    (tree / "cat" / "y.png").write_bytes(b"\x89PNG\r\n\x1a\n cut")
    seen = []
    result = inspect_tree(tree, workers=3, progress=lambda n, total: seen.append((n, total)))
    cat = result.classes[0]
    assert cat.images == 10 and cat.formats == {"jpg": 2, "png": 8}
    assert cat.width == (9, 40) and cat.height == (8, 25)
    assert [path for path, _ in cat.unreadable] == ["cat/broken.jpg", "cat/y.png"]
    assert seen == [(1, 11)] * 11
