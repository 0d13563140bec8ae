"""Where augcli uses albumentations' or torchvision's names, its numbers mean the same, or the docs say so."""

from __future__ import annotations

import re

import numpy as np
import pytest

from augcli.compose import Step
from augcli.conventions import COUNTERPARTS, fixed_values
from augcli.docs import transforms_markdown
from augcli.errors import RecipeError
from augcli.ops import tone as T
from augcli.recipe import parse_recipe
from augcli.render import render
from augcli.rng import generator
from augcli.registry import REGISTRY
from augcli.transforms import policies as PO
from tests.conftest import make_image


def _sample(name: str, values: dict, shape: tuple[int, ...] = (37, 53, 3), seed: int = 0) -> dict:
    ops: list[dict] = []
    Step(name, REGISTRY[name].build(values, name)).sample(generator(seed), shape, ops)
    return ops[0]["params"]


# ------------------------------------------------------------------ color_jitter: torchvision's numbers


def test_color_jitter_single_number_is_a_spread_about_one() -> None:
    jitter = REGISTRY["color_jitter"].build({"brightness": 0.2, "contrast": 1.5, "saturation": [0.3, 0.4],
                                             "hue": 0.1}, "color_jitter")
    assert jitter.brightness == (0.8, 1.2)  # torchvision: [max(0, 1 - b), 1 + b]
    assert jitter.contrast == (0.0, 2.5)
    assert jitter.saturation == (0.3, 0.4)  # an explicit [lo, hi] is kept
    assert jitter.hue == (-0.1, 0.1)  # torchvision: [-h, h]
    drawn = [_sample("color_jitter", {"brightness": 0.2}, seed=s)["brightness"] for s in range(50)]
    assert min(drawn) >= 0.8 and max(drawn) <= 1.2 and max(drawn) - min(drawn) > 0.2


def test_color_jitter_brightness_02_no_longer_blackens() -> None:
    """It used to be an exact factor 0.2: the image came out at 20 % of its brightness."""
    image = make_image(np.uint8, 3)
    ratios = []
    for seed in range(10):
        params = _sample("color_jitter", {"brightness": 0.2, "contrast": [1, 1], "saturation": [1, 1],
                                          "sharpness": [1, 1]}, image.shape, seed)
        ratios.append(render(image, [{"name": "color_jitter", "params": params}]).mean() / image.mean())
    assert min(ratios) > 0.75 and max(ratios) < 1.25


@pytest.mark.parametrize("bad", [-0.2, [1.2, 0.8], 0.6])
def test_color_jitter_rejects_bad_factors(bad: object) -> None:
    values = {"hue": bad} if bad == 0.6 else {"brightness": bad}
    with pytest.raises(RecipeError, match=r"color_jitter\.(brightness|hue): expected"):
        REGISTRY["color_jitter"].build(values, "color_jitter")


def test_color_jitter_factor_and_hue_pixels() -> None:
    image = np.array([[[0, 0, 200], [10, 100, 50]]], dtype=np.uint8)  # BGR: a red and a green pixel
    params = {"order": list(T.JITTER_ORDER), "brightness": 1.5, "contrast": 1.0, "saturation": 1.0,
              "sharpness": 1.0, "hue": 0.0}
    out = render(image, [{"name": "color_jitter", "params": params}])
    assert np.array_equal(out, np.clip(np.rint(image * 1.5), 0, 255))  # brightness is a plain factor
    half_turn = render(image[:, :1], [{"name": "color_jitter", "params": {**params, "brightness": 1.0, "hue": 0.5}}])
    assert half_turn.tolist() == [[[200, 200, 0]]]  # red turned half the colour circle is cyan


# ------------------------------------------------------------------ equalize: PIL's formula in the policies


def _pil_equalize(plane: np.ndarray) -> np.ndarray:
    """PIL ImageOps.equalize on one band, restated.

    step = (n - h[last]) // 255, lut[i] = (step // 2 + cdf[i - 1]) // step.
    """
    hist = np.bincount(plane.ravel(), minlength=256)
    step = (int(hist.sum()) - int(hist[np.flatnonzero(hist)[-1]])) // 255
    if step == 0:
        return plane.copy()
    lut, n = [], step // 2
    for count in hist:
        lut.append(min(255, n // step))
        n += int(count)
    return np.array(lut, dtype=np.uint8)[plane]


def _low_contrast(seed: int = 3) -> np.ndarray:
    rng = np.random.default_rng(seed)
    return (rng.integers(0, 256, (40, 50, 3)) * 0.4 + 60).astype(np.uint8)


def test_policy_equalize_uses_pils_formula() -> None:
    image = _low_contrast()
    op = PO.policy_op("equalize", PO.Level(0, 30, 1.0), PO.RAND, image.shape, {})
    expected = np.dstack([_pil_equalize(image[:, :, c]) for c in range(3)])
    assert np.array_equal(render(image, [op]), expected)


def test_equalize_pil_formula_matches_pillow() -> None:
    pil = pytest.importorskip("PIL.ImageOps")
    from PIL import Image

    image = _low_contrast(4)
    expected = np.asarray(pil.equalize(Image.fromarray(np.ascontiguousarray(image[:, :, ::-1]))))[:, :, ::-1]
    out = render(image, [{"name": "equalize", "params": {"mode": "per_channel", "formula": "pil"}}])
    assert np.array_equal(out, expected)


def test_equalize_pil_formula_on_16_bit_spreads_the_levels() -> None:
    image = (_low_contrast().astype(np.uint16) * 257)
    out = render(image, [{"name": "equalize", "params": {"mode": "per_channel", "formula": "pil"}}])
    assert out.min() < 2000 and out.max() > 60000


# ------------------------------------------------------------------ unit traps and fixed values


@pytest.mark.parametrize(("step", "where", "hint"), [
    ("solarize: {threshold: 0.5}", "solarize.threshold", "did you mean 128?"),
    ("solarize: {threshold: [0.25, 0.75]}", "solarize.threshold", "did you mean [64, 191]?"),
    ("gaussian_noise: {std: [0.2, 0.44]}", "gaussian_noise.std", "did you mean [51, 112]?"),
    ("gaussian_noise: {std: 0.5}", "gaussian_noise.std", "did you mean 128?"),
])
def test_values_in_another_librarys_units_are_refused_with_a_hint(step: str, where: str, hint: str) -> None:
    with pytest.raises(RecipeError) as info:
        parse_recipe(f"pipeline: [{{{step}}}]")
    assert f"pipeline[0].{where}: expected" in str(info.value) and str(info.value).endswith(hint)


@pytest.mark.parametrize("step", ["solarize: {threshold: 0}", "solarize: {threshold: 1}",
                                  "gaussian_noise: {std: 0}", "gaussian_noise: {std: [0.5, 8]}"])
def test_values_meaningful_in_0_255_units_are_accepted(step: str) -> None:
    parse_recipe(f"pipeline: [{{{step}}}]")


def test_fixed_values_lists_range_params_given_as_one_number() -> None:
    recipe = parse_recipe("""
pipeline:
  - rotate: {degrees: 30}
  - one_of: {of: [{shear: {x: [-5, 5]}}, {gamma: {gamma: 2.2}}]}
  - brightness: {limit: 0.1}
  - color_jitter: {brightness: 0.3}
  - solarize: {}
  - hsv: {hue: [-8, 8], value: 0}
""")
    # hsv.value = 0 is "off" in every library: not listed (the packaged default recipe says it).
    assert fixed_values(recipe) == ["rotate.degrees = 30 (fixed, not ±30)", "gamma.gamma = 2.2 (fixed)"]
    assert fixed_values(recipe.pipeline[:1]) == ["rotate.degrees = 30 (fixed, not ±30)"]


# ------------------------------------------------------------------ the "Coming from" table


def _counterpart_rows() -> list[list[str]]:
    text = transforms_markdown()
    section = text[text.index("## Coming from albumentations / torchvision"):]
    rows = [line for line in section.splitlines() if line.startswith("| `")]
    return [[cell.strip() for cell in re.split(r"(?<!\\)\|", row)[1:-1]] for row in rows]


def test_coming_from_table_names_registered_transforms_and_their_parameters() -> None:
    rows = _counterpart_rows()
    assert len(rows) == len(COUNTERPARTS) > 40
    for name_cell, library, other, params, _notes in rows:
        name = name_cell.strip("`")
        assert name in REGISTRY, name
        assert library in ("albumentations", "torchvision")
        assert other.startswith("`") and other.endswith("`")
        for ours in re.findall(r"`([a-z_]+)` ←", params):
            assert ours in REGISTRY[name].params, (name, ours)


def test_every_transform_with_a_well_known_counterpart_is_in_the_table() -> None:
    covered = {row.name for row in COUNTERPARTS}
    expected = {"hflip", "vflip", "rot90", "rotate", "affine", "shear", "translate", "scale", "perspective",
                "resize", "crop", "random_crop", "random_resized_crop", "pad", "brightness", "contrast", "hsv",
                "color_jitter", "grayscale", "gaussian_noise", "gaussian_blur", "solarize", "posterize",
                "equalize", "clahe", "gamma", "rgb_shift", "rand_augment", "trivial_augment"}
    assert expected <= covered
