"""Rendering: fused warps match step-by-step application and are at least as sharp; exact runs stay exact."""

from __future__ import annotations

import cv2
import numpy as np
import pytest

from augcli.recipe import parse_recipe
from augcli.render import fused_matrix, geometric_runs, render, render_stepwise
from augcli.rng import generator
from tests.conftest import make_image

CHAIN = [
    {"name": "hflip", "params": {}},
    {"name": "rotate", "params": {"angle": 9.5, "border": "reflect", "fill": 0, "interpolation": "linear"}},
    {"name": "scale", "params": {"sx": 1.12, "sy": 1.05, "border": "reflect", "fill": 0, "interpolation": "linear"}},
    {"name": "shear", "params": {"shear_x": 6.0, "shear_y": -3.0, "border": "reflect", "fill": 0,
                                 "interpolation": "linear"}},
    {"name": "translate", "params": {"dx": 0.04, "dy": -0.03, "border": "reflect", "fill": 0,
                                     "interpolation": "linear"}},
]


def _photo(size: int = 160, grain: int = 4, circle: bool = True) -> np.ndarray:
    """A textured image with detail about ``grain`` pixels across, and a thin circle."""
    rng = np.random.default_rng(1)
    noise = rng.integers(0, 256, (size // grain, size // grain, 3), dtype=np.uint8)
    image = cv2.resize(noise, (size, size), interpolation=cv2.INTER_CUBIC)
    if circle:
        cv2.circle(image, (size // 2, size // 2), size // 4, (255, 255, 255), 2)
    return image


def _sharpness(image: np.ndarray) -> float:
    """Variance of the Laplacian: higher is sharper."""
    return float(cv2.Laplacian(cv2.cvtColor(image, cv2.COLOR_BGR2GRAY), cv2.CV_64F).var())


def test_consecutive_geometric_ops_form_one_run() -> None:
    ops = [*CHAIN, {"name": "brightness", "params": {"delta": 0.1}}, CHAIN[0]]
    runs = geometric_runs(ops)
    assert [(geo, [op["name"] for op in run]) for geo, run in runs] == [
        (True, ["hflip", "rotate", "scale", "shear", "translate"]), (False, ["brightness"]), (True, ["hflip"])]


def test_different_border_settings_split_the_run() -> None:
    other = {"name": "rotate", "params": {**CHAIN[1]["params"], "border": "constant"}}
    assert [len(run) for _, run in geometric_runs([CHAIN[1], other])] == [1, 1]


def test_fused_matches_stepwise_within_tolerance() -> None:
    image = _photo(grain=8, circle=False)
    fused, steps = render(image, CHAIN), render_stepwise(image, CHAIN)
    # Compare away from the borders, where the two differ by what each step's border filled in.
    inner = (slice(24, -24), slice(24, -24))
    diff = np.abs(fused[inner].astype(np.int16) - steps[inner].astype(np.int16))
    assert diff.mean() < 2.0
    assert np.percentile(diff, 99) < 12


def test_fused_is_sharper_than_stepwise_on_fine_detail() -> None:
    """Four bilinear resamplings blur fine texture; one fused warp blurs it once."""
    image = _photo(grain=4)
    assert _sharpness(render(image, CHAIN)) > 1.2 * _sharpness(render_stepwise(image, CHAIN))


def test_exact_runs_are_bit_exact() -> None:
    image = make_image(np.uint16, 4, 21, 34)
    ops = [{"name": "hflip", "params": {}}, {"name": "rot90", "params": {"k": 1}},
           {"name": "crop", "params": {"box": [2, 3, 15, 30]}}, {"name": "vflip", "params": {}}]
    expected = np.rot90(image[:, ::-1], 1)[3:30, 2:15][::-1]
    assert np.array_equal(render(image, ops), expected)


def test_fused_matrix_tracks_size_changes() -> None:
    ops = [{"name": "rot90", "params": {"k": 1}},
           {"name": "resize", "params": {"width": 10, "height": 8, "border": "reflect", "fill": 0,
                                         "interpolation": "linear"}}]
    _, size = fused_matrix(ops, (30, 20, 3))
    assert size == (10, 8)
    assert render(make_image(np.uint8, 3, 30, 20), ops).shape == (8, 10, 3)


@pytest.mark.parametrize("k", [1, 2, 3])
def test_rot90_matrix_agrees_with_numpy(k: int) -> None:
    """A quarter turn fused with an identity rotate (one fused matrix, taken by the exact path) equals np.rot90."""
    image = make_image(np.uint8, 3, 13, 22)
    ident = {"name": "rotate", "params": {"angle": 0.0, "border": "reflect", "fill": 0, "interpolation": "nearest"}}
    out = render(image, [{"name": "rot90", "params": {"k": k}}, ident])
    assert np.array_equal(out, np.rot90(image, k))


def test_recipe_output_is_replayable_for_every_kind() -> None:
    recipe = parse_recipe("pipeline: [hflip, {affine: {}}, brightness, {gaussian_noise: {}}, {resize: {factor: 0.5}}]")
    for channels in (1, 3, 4):
        image = make_image(np.uint16, channels, 40, 52)
        ops = recipe.sample(generator(3), image.shape)
        first = render(image, ops)
        assert first.shape == (20, 26, channels) and first.dtype == np.uint16
        assert np.array_equal(first, render(image, ops))


# ------------------------------------------------------------------ one implementation per op, one interpolation rule

from augcli.compose import Step, next_shape  # noqa: E402
from augcli.ops import geometric as G  # noqa: E402
from augcli.registry import REGISTRY  # noqa: E402

# Recipe-level geometric transforms (decoded_at, recorded by augcli when it decodes small, has its own tests).
GEOMETRIC = [(name, i, example) for name in sorted(REGISTRY) if REGISTRY[name].geometric
             and not REGISTRY[name].cls.planned for i, example in enumerate(REGISTRY[name].cls.examples)]
GEOMETRIC_IDS = [f"{name}-{i}" for name, i, _ in GEOMETRIC]
LINEAR = {"border": "reflect", "fill": 0, "interpolation": "linear"}


def _sampled(name: str, example: dict, image: np.ndarray, seed: int = 5) -> dict:
    ops: list[dict] = []
    Step(name, REGISTRY[name].build(example, name)).sample(generator(seed), image.shape, ops)
    return ops[0]


def test_geometric_transforms_declare_a_matrix_and_no_kernel_of_their_own() -> None:
    from augcli.declare import Transform

    for name, spec in REGISTRY.items():
        if spec.geometric:
            assert spec.cls.apply is Transform.apply, name  # render owns the pixels: only the matrix is declared


@pytest.mark.parametrize(("name", "index", "example"), GEOMETRIC, ids=GEOMETRIC_IDS)
@pytest.mark.parametrize("dtype", [np.uint8, np.uint16])
def test_geometric_op_gives_the_same_pixels_alone_and_fused(name: str, index: int, example: dict,
                                                            dtype: type) -> None:
    """Alone, or fused with an identity warp before and after it, an op renders the same; its shape is predicted."""
    image = make_image(dtype, 3, 37, 53)
    op = _sampled(name, example, image)
    settings = {k: op["params"].get(k, LINEAR[k]) for k in LINEAR}
    ident = {"name": "rotate", "params": {"angle": 0.0, **settings}}
    alone = render(image, [op])
    assert alone.shape == next_shape(name, REGISTRY[name].cls, op["params"], image.shape)
    assert alone.flags["C_CONTIGUOUS"] and not np.shares_memory(alone, image)
    assert np.array_equal(render(image, [ident, op, ident]), alone)
    assert np.array_equal(render_stepwise(image, [op]), alone)


@pytest.mark.parametrize(("name", "index", "example"), GEOMETRIC, ids=GEOMETRIC_IDS)
def test_geometric_op_matches_a_plain_warp_through_its_matrix(name: str, index: int, example: dict) -> None:
    """The fast paths agree with one warpAffine/warpPerspective of the declared matrix: exactly for exact ops."""
    image = make_image(np.uint8, 3, 37, 53)
    op = _sampled(name, example, image)
    matrix, size = REGISTRY[name].cls.matrix(op["params"], image.shape)
    settings = {k: op["params"].get(k, LINEAR[k]) for k in LINEAR}
    warped = G.warp(image, matrix, size, **{**settings, "interpolation": "nearest" if REGISTRY[name].cls.exact
                                            else settings["interpolation"]})
    diff = np.abs(render(image, [op]).astype(int) - warped.astype(int))
    if REGISTRY[name].cls.exact:
        assert diff.max() == 0
    else:
        assert diff.mean() < 2.5  # a smooth image: filters differ (area, cv2.resize), geometry does not


def test_full_box_crop_is_a_new_contiguous_array() -> None:
    image = make_image(np.uint8, 3, 20, 30)
    out = render(image, [{"name": "crop", "params": {"box": [0, 0, 30, 20]}}])
    assert np.array_equal(out, image) and not np.shares_memory(out, image) and out.flags["C_CONTIGUOUS"]


def _texture(size: int = 500) -> np.ndarray:
    return _photo(size, grain=3, circle=False)


AREA = {"border": "reflect", "fill": 0, "interpolation": "area"}


def test_crop_then_area_resize_is_cv2_inter_area_of_the_crop() -> None:
    """Fusing a crop with a 5x area shrink used to resample bilinearly (mean 26.7, max 116 on this texture)."""
    image = _texture()
    ops = [{"name": "crop", "params": {"box": [50, 50, 450, 450]}},
           {"name": "resize", "params": {"width": 80, "height": 80, **AREA}}]
    expected = cv2.resize(image[50:450, 50:450], (80, 80), interpolation=cv2.INTER_AREA)
    assert np.array_equal(render(image, ops), expected)


def test_flip_crop_and_area_resize_fuse_exactly() -> None:
    image = _texture(300)
    ops = [{"name": "hflip", "params": {}}, {"name": "rot90", "params": {"k": 1}},
           {"name": "crop", "params": {"box": [0, 50, 250, 300]}},
           {"name": "resize", "params": {"width": 50, "height": 50, **AREA}}]
    turned = np.rot90(image[:, ::-1], 1)[50:300, 0:250]
    assert np.array_equal(render(image, ops), cv2.resize(np.ascontiguousarray(turned), (50, 50),
                                                         interpolation=cv2.INTER_AREA))


def test_rotate_then_area_shrink_is_a_warp_then_inter_area() -> None:
    """Where no crop can honour area, the warp is made at full size and then area-resized."""
    image = _texture(200)
    ops = [{"name": "rotate", "params": {"angle": 10.0, **AREA}},
           {"name": "resize", "params": {"width": 50, "height": 50, **AREA}}]
    rotation = cv2.getRotationMatrix2D((99.5, 99.5), 10.0, 1.0)
    full = cv2.warpAffine(image, rotation, (200, 200), flags=cv2.INTER_LINEAR, borderMode=cv2.BORDER_REFLECT_101)
    assert np.array_equal(render(image, ops), cv2.resize(full, (50, 50), interpolation=cv2.INTER_AREA))


def test_area_is_refused_where_it_cannot_be_honoured() -> None:
    from augcli.errors import RecipeError

    with pytest.raises(RecipeError, match=r"elastic\.interpolation: expected .*got 'area'"):
        parse_recipe("pipeline: [{elastic: {interpolation: area}}]")


def test_pad_and_whole_pixel_translate_are_exact_and_fuse_with_flips() -> None:
    image = make_image(np.uint16, 4, 12, 16)
    ops = [{"name": "pad", "params": {"sides": [3, 1, 0, 2], "border": "reflect", "fill": 0,
                                      "interpolation": "cubic"}},
           {"name": "hflip", "params": {}}]
    expected = np.pad(image, ((1, 2), (3, 0), (0, 0)), mode="reflect")[:, ::-1]
    assert np.array_equal(render(image, ops), expected)
