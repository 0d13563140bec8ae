"""What each transform does, checked against an independent oracle.

Oracles are numpy formulas, the standard library (``colorsys``), OpenCV primitives called directly
with matrices built here from the documented formulas, or statistics where the output is random.
None of them calls augcli's own kernels.
"""

from __future__ import annotations

import colorsys
import math

import cv2
import numpy as np
import pytest

from augcli.render import render
from tests.conftest import make_image, make_op, sample_op

W = {"border": "constant", "fill": 0, "interpolation": "linear"}


def _texture(h: int = 60, w: int = 80, seed: int = 2) -> np.ndarray:
    """A smooth random colour texture."""
    rng = np.random.default_rng(seed)
    small = rng.integers(0, 256, (h // 6, w // 6, 3), dtype=np.uint8)
    return cv2.resize(small, (w, h), interpolation=cv2.INTER_CUBIC)


def _diff(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    return np.abs(a.astype(np.int32) - b.astype(np.int32))


# ------------------------------------------------------------------------------------------ geometric


def test_translate_by_whole_pixels_is_a_numpy_shift() -> None:
    image = make_image(np.uint8, 3, 20, 30)
    out = render(image, [make_op("translate", dx=3 / 30, dy=-2 / 20, **W)])
    expected = np.zeros_like(image)
    expected[:-2, 3:] = image[2:, :-3]  # content moves 3 right and 2 up; constant 0 fills
    assert np.array_equal(out, expected)


def test_translate_by_a_fraction_matches_warp_affine() -> None:
    image = _texture()
    out = render(image, [make_op("translate", dx=0.0625, dy=0.1, **W)])
    m = np.float64([[1, 0, 0.0625 * 80], [0, 1, 0.1 * 60]])
    assert np.array_equal(out, cv2.warpAffine(image, m, (80, 60), flags=cv2.INTER_LINEAR,
                                              borderMode=cv2.BORDER_CONSTANT, borderValue=0))


def test_scale_zooms_about_the_centre() -> None:
    image = _texture(61, 81)
    cx, cy = 40.0, 30.0  # ((w - 1) / 2, (h - 1) / 2)
    out = render(image, [make_op("scale", sx=1.7, sy=1.3, **W)])
    m = np.float64([[1.7, 0, cx - 1.7 * cx], [0, 1.3, cy - 1.3 * cy]])
    assert np.array_equal(out, cv2.warpAffine(image, m, (81, 61), flags=cv2.INTER_LINEAR,
                                              borderMode=cv2.BORDER_CONSTANT))


def test_scale_down_with_area_is_pad_then_area_resize() -> None:
    """Halving about the centre with area: the image padded by half a side on each side, then area-resized."""
    image = _texture(60, 80)
    out = render(image, [make_op("scale", sx=0.5, sy=0.5, **{**W, "interpolation": "area", "fill": 9})])
    padded = np.pad(image, ((30, 30), (40, 40), (0, 0)), constant_values=9)
    assert np.array_equal(out, cv2.resize(padded, (80, 60), interpolation=cv2.INTER_AREA))


def test_positive_shear_x_moves_rows_below_the_centre_left() -> None:
    """shear_x 45 deg (tan 1) on a 21-row image: row y takes input pixels shifted by y - 10 (albumentations' sign)."""
    image = make_image(np.uint8, 1, 21, 40)
    out = render(image, [make_op("shear", shear_x=45.0, shear_y=0.0, **{**W, "interpolation": "nearest"})])
    expected = np.zeros_like(image)
    for y in range(21):
        s = y - 10
        for x in range(40):
            if 0 <= x + s < 40:
                expected[y, x] = image[y, x + s]
    assert np.array_equal(out, expected)


def _albumentations_matrix(w: int, h: int, angle: float, scale: float, dx: float, dy: float,
                           sx: float, sy: float) -> np.ndarray:
    """albumentations' create_affine_transformation_matrix with Affine's negated shear, restated."""
    cx, cy = w / 2 - 0.5, h / 2 - 0.5
    a = math.radians(angle)
    rot = np.float64([[math.cos(a), math.sin(a), 0], [-math.sin(a), math.cos(a), 0], [0, 0, 1]])
    shear = np.float64([[1, math.tan(math.radians(-sx)), 0], [math.tan(math.radians(-sy)), 1, 0], [0, 0, 1]])
    return (np.float64([[1, 0, cx + dx * w], [0, 1, cy + dy * h], [0, 0, 1]]) @ shear @ rot
            @ np.diag([scale, scale, 1.0]) @ np.float64([[1, 0, -cx], [0, 1, -cy], [0, 0, 1]]))


def test_affine_matches_albumentations_order_and_sign() -> None:
    image = _texture()
    params = {"angle": 20.0, "scale": 1.1, "dx": 0.05, "dy": -0.04, "shear_x": 10.0, "shear_y": 5.0}
    out = render(image, [make_op("affine", **params, **W)])
    m = _albumentations_matrix(80, 60, 20.0, 1.1, 0.05, -0.04, 10.0, 5.0)
    assert np.array_equal(out, cv2.warpAffine(image, m[:2], (80, 60), flags=cv2.INTER_LINEAR,
                                              borderMode=cv2.BORDER_CONSTANT))


def test_rotate_matches_opencv_rotation_matrix() -> None:
    image = _texture()
    out = render(image, [make_op("rotate", angle=30.0, **W)])
    m = cv2.getRotationMatrix2D((39.5, 29.5), 30.0, 1.0)  # OpenCV: positive is counter-clockwise
    assert np.array_equal(out, cv2.warpAffine(image, m, (80, 60), flags=cv2.INTER_LINEAR,
                                              borderMode=cv2.BORDER_CONSTANT))


def test_rotate_quarter_turn_is_np_rot90() -> None:
    image = make_image(np.uint16, 4, 31, 31)
    assert np.array_equal(render(image, [make_op("rotate", angle=90.0, **W)]), np.rot90(image, 1))


def test_perspective_matches_warp_perspective_of_its_corners() -> None:
    image = _texture()
    op = sample_op("perspective", {"distortion": 0.1, "border": "constant"}, image.shape, seed=4)
    corners = np.float32(op["params"]["corners"])
    src = np.float32([[0, 0], [79, 0], [79, 59], [0, 59]])
    assert np.all(np.abs(corners - src) <= 0.1 * np.float32([80, 60]) + 1e-3)
    m = cv2.getPerspectiveTransform(src, corners)
    expected = cv2.warpPerspective(image, m, (80, 60), flags=cv2.INTER_LINEAR, borderMode=cv2.BORDER_CONSTANT)
    assert np.array_equal(render(image, [op]), expected)


def test_random_crop_is_a_slice_at_a_random_place() -> None:
    image = make_image(np.uint8, 3, 40, 50)
    starts = set()
    for seed in range(40):
        op = sample_op("random_crop", {"width": 20, "height": 16}, image.shape, seed)
        x0, y0, x1, y1 = op["params"]["box"]
        assert (x1 - x0, y1 - y0) == (20, 16) and 0 <= x0 <= 30 and 0 <= y0 <= 24
        assert np.array_equal(render(image, [op]), image[y0:y1, x0:x1])
        starts.add((x0, y0))
    assert len(starts) > 20


@pytest.mark.parametrize("interpolation", ["linear", "area", "cubic"])
def test_random_resized_crop_is_cv2_resize_of_the_box(interpolation: str) -> None:
    image = _texture(120, 160)
    op = sample_op("random_resized_crop", {"width": 32, "height": 24, "interpolation": interpolation},
                 image.shape, seed=5)
    x0, y0, x1, y1 = op["params"]["box"]
    flag = {"linear": cv2.INTER_LINEAR, "area": cv2.INTER_AREA, "cubic": cv2.INTER_CUBIC}[interpolation]
    expected = cv2.resize(image[y0:y1, x0:x1], (32, 24), interpolation=flag)
    assert np.array_equal(render(image, [op]), expected)


@pytest.mark.parametrize(("border", "mode"), [("constant", "constant"), ("reflect", "reflect"),
                                              ("replicate", "edge"), ("wrap", "wrap")])
def test_pad_matches_numpy_pad(border: str, mode: str) -> None:
    image = make_image(np.uint16, 3, 12, 15)
    out = render(image, [make_op("pad", sides=[4, 2, 3, 5], border=border, fill=0, interpolation="linear")])
    assert np.array_equal(out, np.pad(image, ((2, 5), (4, 3), (0, 0)), mode=mode))


def test_pad_constant_fill_is_scaled_for_16_bit() -> None:
    image = make_image(np.uint16, 3, 6, 7)
    out = render(image, [make_op("pad", sides=[1, 0, 0, 0], border="constant", fill=[10, 20, 30],
                             interpolation="linear")])
    assert out[:, 0].tolist() == [[2570, 5140, 7710]] * 6


@pytest.mark.parametrize("interpolation", ["area", "linear", "cubic", "nearest"])
def test_resize_is_cv2_resize(interpolation: str) -> None:
    image = _texture(60, 80)
    flag = {"area": cv2.INTER_AREA, "linear": cv2.INTER_LINEAR, "cubic": cv2.INTER_CUBIC,
            "nearest": cv2.INTER_NEAREST}[interpolation]
    for size in ((16, 12), (200, 90)):
        op = make_op("resize", width=size[0], height=size[1], **{**W, "interpolation": interpolation})
        assert np.array_equal(render(image, [op]), cv2.resize(image, size, interpolation=flag))


def test_resize_factor_rounds_sides() -> None:
    image = make_image(np.uint8, 3, 37, 53)
    op = sample_op("resize", {"factor": 0.5}, image.shape)
    assert (op["params"]["width"], op["params"]["height"]) == (26, 18)  # round(26.5) = 26, round(18.5) = 18
    assert np.array_equal(render(image, [op]), cv2.resize(image, (26, 18), interpolation=cv2.INTER_AREA))


# ------------------------------------------------------------------------------------------ colour


def test_brightness_adds_a_fraction_of_full_scale() -> None:
    image = make_image(np.uint8, 3)
    for delta in (0.2, -0.25):
        expected = np.clip(np.rint(image.astype(np.float64) + 255 * delta), 0, 255)
        assert np.array_equal(render(image, [make_op("brightness", delta=delta)]), expected)


def test_contrast_scales_about_the_mean_luma() -> None:
    image = make_image(np.uint8, 3)
    f = image.astype(np.float64)
    mean = (0.114 * f[:, :, 0] + 0.587 * f[:, :, 1] + 0.299 * f[:, :, 2]).mean()
    expected = np.clip(np.rint((f - mean) * 1.5 + mean), 0, 255)
    assert _diff(render(image, [make_op("contrast", factor=1.5)]), expected).max() <= 1


def test_grayscale_is_bt601_luma_in_every_channel() -> None:
    image = make_image(np.uint8, 3)
    f = image.astype(np.float64)
    luma = 0.114 * f[:, :, 0] + 0.587 * f[:, :, 1] + 0.299 * f[:, :, 2]
    out = render(image, [make_op("grayscale", alpha=1.0)])
    assert _diff(out, np.rint(np.dstack([luma] * 3))).max() <= 1
    half = render(image, [make_op("grayscale", alpha=0.5)])
    assert _diff(half, np.rint((f + np.dstack([luma] * 3)) / 2)).max() <= 1


def _hsv_oracle(bgr: tuple[int, int, int], hue: float, sat: float, val: float) -> list[float]:
    """colorsys: hue in degrees added, S scaled by 1 + sat, V shifted by val; back to 0-255 BGR."""
    b, g, r = (c / 255 for c in bgr)
    h, s, v = colorsys.rgb_to_hsv(r, g, b)
    h = (h + hue / 360) % 1.0
    s = min(max(s * (1 + sat), 0.0), 1.0)
    v = min(max(v + val, 0.0), 1.0)
    r, g, b = colorsys.hsv_to_rgb(h, s, v)
    return [b * 255, g * 255, r * 255]


@pytest.mark.parametrize(("hue", "sat", "val"), [(30.0, 0.0, 0.0), (-50.0, 0.3, -0.1), (7.0, -0.6, 0.2),
                                                 (1.0, 0.0, 0.0)])
def test_hsv_changes_coloured_pixels_as_the_formula_says(hue: float, sat: float, val: float) -> None:
    # The last pixel has hue 9 degrees, so -50 crosses zero; the row is 40 wide because OpenCV's vector
    # path (long rows) handles hues outside [0, 360) differently from its scalar path.
    pixels = [(40, 90, 200), (200, 30, 60), (10, 250, 128), (90, 91, 92), (30, 60, 220)] * 8
    image = np.array([pixels], dtype=np.uint8)
    out = render(image, [make_op("hsv", hue=hue, saturation=sat, value=val)])
    expected = np.array([[_hsv_oracle(p, hue, sat, val) for p in pixels]])
    assert np.abs(out - expected).max() <= 1.0


def test_hsv_keeps_grey_and_white_neutral_for_any_sampled_op() -> None:
    levels = np.repeat(np.arange(256, dtype=np.uint8), 3).reshape(16, 16, 3)
    for seed in range(25):
        op = sample_op("hsv", {"hue": [-180, 180], "saturation": [-1, 1], "value": [-0.3, 0.3]}, levels.shape, seed)
        out = render(levels, [op])
        assert np.array_equal(out[:, :, 0], out[:, :, 1]) and np.array_equal(out[:, :, 1], out[:, :, 2])
    grey = np.full((2, 2, 3), 128, np.uint8)  # the reported case: saturation +0.2 made it (128, 102, 102) RGB
    assert np.array_equal(render(grey, [make_op("hsv", hue=0.0, saturation=0.2, value=0.0)]), grey)


def test_hsv_with_no_shift_changes_nothing() -> None:
    for dtype in (np.uint8, np.uint16):
        image = make_image(dtype, 3)
        assert np.array_equal(render(image, [make_op("hsv", hue=0.0, saturation=0.0, value=0.0)]), image)


def test_hsv_one_degree_of_hue_is_not_lost_to_2_degree_steps() -> None:
    image = _texture()
    out = render(image, [make_op("hsv", hue=1.0, saturation=0.0, value=0.0)])
    assert (out != image).any(axis=2).mean() > 0.5


# ------------------------------------------------------------------------------------------ noise and blur


@pytest.mark.parametrize("per_channel", [True, False])
def test_gaussian_noise_has_the_asked_std_and_zero_mean(per_channel: bool) -> None:
    image = np.full((256, 256, 3), 128, np.uint8)
    op = make_op("gaussian_noise", std=10.0, per_channel=per_channel, seed=12345)
    noise = render(image, [op]).astype(np.float64) - 128
    independent = noise.size if per_channel else noise.size // 3
    assert abs(noise.mean()) < 4 * 10.0 / math.sqrt(independent)  # four standard errors
    assert noise.std() == pytest.approx(10.0 * 0.9975, rel=0.02)  # the quantile table's std is 0.9975
    assert np.abs(noise).max() <= math.ceil(2.886 * 10) + 1  # tails cut at 2.886 sigma
    if not per_channel:
        assert np.array_equal(noise[:, :, 0], noise[:, :, 2])
    else:
        assert not np.array_equal(noise[:, :, 0], noise[:, :, 2])


def test_gaussian_blur_impulse_response_is_a_gaussian_of_sigma() -> None:
    image = np.zeros((41, 41, 1), np.uint16)
    image[20, 20] = 60000
    out = render(image, [make_op("gaussian_blur", sigma=2.0)])[:, :, 0].astype(np.float64)
    yy, xx = np.mgrid[-20:21, -20:21]
    gauss = np.exp(-(xx**2 + yy**2) / (2 * 2.0**2))
    expected = 60000 * gauss / gauss.sum()
    assert np.abs(out - expected).max() < 0.01 * 60000 / (2 * math.pi * 4)
    weights = out / out.sum()
    assert (weights * xx**2).sum() == pytest.approx(4.0, rel=0.03)  # variance sigma**2 along x
