"""Shared fixtures and helpers: image factories, one-op sampling and rendering, ImageFolder trees, a CLI runner."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import cv2
import numpy as np
import pytest
from click.testing import CliRunner
from numpy.lib.stride_tricks import sliding_window_view

cv2.setNumThreads(1)  # as in augcli's workers; also keeps this process fork-safe for pool tests

KINDS = [(dtype, channels) for dtype in (np.uint8, np.uint16) for channels in (1, 3, 4)]
KIND_IDS = [f"{np.dtype(d).name}x{c}" for d, c in KINDS]
SHAPE = (37, 53, 3)  # make_image's default shape


def full_scale(dtype: Any) -> int:
    """Largest value of an image dtype: 255 or 65535."""
    return 65535 if np.dtype(dtype) == np.uint16 else 255


def make_image(dtype: Any = np.uint8, channels: int = 3, height: int = 37, width: int = 53,
               seed: int = 0) -> np.ndarray:
    """A deterministic test image with structure (gradients and a disc) and some texture."""
    rng = np.random.default_rng(seed)
    top = full_scale(dtype)
    yy, xx = np.mgrid[0:height, 0:width].astype(np.float64)
    planes = []
    for c in range(channels):
        base = (xx / max(width - 1, 1) * 0.6 + yy / max(height - 1, 1) * 0.3 + 0.05 * c)
        disc = ((xx - width * 0.4) ** 2 + (yy - height * 0.5) ** 2) < (min(height, width) * 0.3) ** 2
        plane = base * 0.7 + disc * 0.25 + rng.uniform(0, 0.05, size=(height, width))
        planes.append(plane)
    image = np.clip(np.stack(planes, axis=2), 0, 1)
    if channels == 4:
        image[:, :, 3] = np.where(xx > width // 3, 1.0, 0.5)
    return np.rint(image * top).astype(dtype)


def correlate(image: np.ndarray, kernel: np.ndarray) -> np.ndarray:
    """Float oracle: reflect-101 padding, then a plain correlation of every channel."""
    r = kernel.shape[0] // 2
    padded = np.pad(image.astype(np.float64), ((r, r), (r, r), (0, 0)), mode="reflect")
    windows = sliding_window_view(padded, kernel.shape, axis=(0, 1))
    return np.einsum("hwcij,ij->hwc", windows, kernel.astype(np.float64))


def sample_op(name: str, values: dict | None = None, shape: tuple[int, ...] = SHAPE, seed: int = 0) -> dict:
    """Build a registered transform from recipe values and draw one op, as a step with p = 1 does."""
    from augcli.compose import Step
    from augcli.registry import REGISTRY
    from augcli.rng import generator

    from augcli.compose import sample_pipeline

    ops = sample_pipeline([Step(name, REGISTRY[name].build(values, name))], generator(seed), shape,
                          FakePartners(shape))
    return ops[0]


class FakePartners:
    """Partners for a multi-image step sampled outside a run: inputs p1, p2, p3 (classes b, c, b) shaped
    like the image; their index in the sources is their number (see :func:`with_partners`)."""

    def __init__(self, shape: tuple[int, ...]) -> None:
        self._shape = shape

    def candidates(self, same_class: bool) -> list[str]:
        return ["p1", "p3"] if same_class else ["p1", "p2", "p3"]

    def label(self, rel: str) -> str:
        return {"p1": "b", "p2": "c", "p3": "b"}[rel]

    def shape(self, rel: str) -> tuple[int, ...]:
        return self._shape

    def add(self, rel: str) -> int:
        return int(rel[1])


def with_partners(image: np.ndarray) -> list[np.ndarray]:
    """The sources of an op sampled with :class:`FakePartners`: the image, then p1..p3 of its kind."""
    h, w, c = image.shape
    return [image, *(make_image(image.dtype, c, h, w, seed=20 + i) for i in range(3))]


def sample_params(name: str, values: dict | None = None, shape: tuple[int, ...] = SHAPE, seed: int = 0) -> dict:
    """The params of one drawn op (see :func:`sample_op`)."""
    return sample_op(name, values, shape, seed)["params"]


def sample_ops(name: str, values: dict | None = None, shape: tuple[int, ...] = SHAPE, seed: int = 0) -> list[dict]:
    """The ops list of one step (see :func:`sample_op`), ready for ``render``."""
    return [sample_op(name, values, shape, seed)]


def make_op(name: str, **params: Any) -> dict:
    """A recorded op."""
    return {"name": name, "params": dict(params)}


def render_op(image: np.ndarray, name: str, params: dict) -> np.ndarray:
    """Render one recorded op."""
    from augcli.render import render

    return render(image, [{"name": name, "params": params}])


@pytest.fixture
def image_factory() -> Callable[..., np.ndarray]:
    """Return the image maker."""
    return make_image


def write_image(path: Path, image: np.ndarray) -> Path:
    """Encode by extension and write bytes."""
    path.parent.mkdir(parents=True, exist_ok=True)
    view = image[:, :, 0] if image.ndim == 3 and image.shape[2] == 1 else image
    ok, buf = cv2.imencode(path.suffix, view)
    assert ok
    path.write_bytes(buf.tobytes())
    return path


def build_tree(root: Path, counts: dict[str, int], ext: str = ".png", size: tuple[int, int] = (24, 32)) -> Path:
    """An ImageFolder tree with ``counts[label]`` images per class, distinct content each."""
    for k, (label, n) in enumerate(sorted(counts.items())):
        for i in range(n):
            img = make_image(np.uint8, 3, size[0], size[1], seed=1000 * k + i)
            write_image(root / label / f"{label}_{i:03d}{ext}", img)
    return root


@pytest.fixture
def make_tree(tmp_path: Path) -> Callable[..., Path]:
    """Build a tree under tmp_path/in (or a given name)."""

    def make(counts: dict[str, int], name: str = "in", **kwargs: Any) -> Path:
        return build_tree(tmp_path / name, counts, **kwargs)

    return make


@pytest.fixture
def cli() -> Callable[..., Any]:
    """Invoke the augcli CLI in-process; returns the click Result (exit_code, stdout, stderr)."""
    from augcli.cli import cli as group

    runner = CliRunner()

    def invoke(*args: Any) -> Any:
        return runner.invoke(group, [str(a) for a in args], catch_exceptions=False)

    return invoke
