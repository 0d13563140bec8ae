"""The rules of ``augcli suggest``: measures in, choices and the evidence for each out.

Each rule reads the per-image measures of :mod:`augcli._suggest_stats`, sets its part of
:class:`Choices` and returns :class:`Finding` records (rule, class, statistic, value, threshold,
decision). Thresholds are named constants with where they come from; docs/suggest.md has the
measured effect of each rule.
"""

from __future__ import annotations

import statistics
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from augcli._suggest_stats import (
    RING_TOLERANCE,
    Measure,
    facing_share,
    mean_image,
    split_half,
    turned_correlation,
)

# Orientation. The product photos: mean-image mirror correlation 0.06-0.68 for the footwear
# (which faces one way), 0.94-0.99 for every other class. 0.85 sits in that gap: on the benchmark's
# generated products the one-way classes measure 0.49-0.82 and the symmetric ones 0.97 or more, at 15
# images as at 200 (the mirror may move by 1 px, see turned_correlation).
MIRROR_MIN = 0.85
# Between MIRROR_MIN and SYMMETRIC_MIN the mean is nearly symmetric, yet most images may face one way (the
# benchmark's sandals, 88% facing right on a long flat sole: 0.82-0.88): the class faces one way when at
# least FACING_MIN of its images are closer to the mean of the others than to its mirror. Measured there:
# one-way classes 0.81-1.0, symmetric ones 0.13-0.63 (chance, at 15-200 images).
SYMMETRIC_MIN = 0.95
FACING_MIN = 0.8
STABLE_MIN = 0.5  # split-half correlation of the mean image below this: the mean is noise, judge nothing
MIN_IMAGES = 6  # fewer images read than this: too few to judge a class's orientation
FLAT_STD = 0.02  # mean image std (0-1 units) below this: no common layout (textures, scattered content)
TURN_MIN = 0.95  # vflip and quarter turns: the mean must be nearly unchanged by them (the symmetric floor)
# Background. An image's border ring is plain when PLAIN_RING of its pixels are within RING_TOLERANCE of
# its median (the `background` transform's default tolerance starts at 10): objects may touch the edge.
# Measured share of such ring pixels, 1st percentile: 0.82 on the benchmark's products on black, 0.59 on the
# upscaled digits (strokes reach the edge); on 200 random crops of scikit-learn's two sample photos the
# median is 0.07 and the 95th percentile 0.51. The data has a plain background when PLAIN_SHARE of the
# images have a plain ring of the common colour.
PLAIN_RING = 0.55
PLAIN_SHARE = 0.9
DARK, LIGHT = 16, 239  # a background at or below DARK is kept by multiplication and gamma, at or above LIGHT by gamma
# Colour: a mean max-min channel spread up to GREY_CHROMA (0-255 units) is grey (JPEG chroma noise on grey
# content stays below 1); GREY_SHARE of the images grey makes grey data.
GREY_CHROMA = 2.0
GREY_SHARE = 0.99
# Size. The default recipe's blur reaches 1.0 px, meant for photos of about 250 px: sigma scales with the
# shorter side (side / BLUR_SCALE), and blur is left out when its upper sigma stays under BLUR_MIN px.
BLUR_SCALE = 250
BLUR_MIN = 0.5
TINY = 64  # a median shorter side under this many px: gentler noise and rotation
# Dropout: holes only from DROPOUT_SIDE px up (on the benchmark's 28-px products, 1-2 holes of 10-20% of
# the side cost 0.5 points of macro-F1 in 5 seeds of 5), at least DROPOUT_PX px and at most 15% of the side.
DROPOUT_SIDE = 128
DROPOUT_PX = 8
# Text: at least TEXT_LINES bands of vertical strokes whose density is TEXT_CONTRAST times that of the rows
# between them. Measured: pages of OpenCV-rendered text (200x260 to 2200x3000 px, 15-100 lines, PNG or a JPEG
# decoded at 1/8) 3.4-9.8; 200 random crops of scikit-learn's two sample photos: 1% reach both thresholds (4%
# at a contrast of 2.5); the benchmark's products: none (an object is one band).
TEXT_LINES = 4
TEXT_CONTRAST = 3.0
TEXT_SHARE = 0.5  # of a class's images text-like: the class is text-like
TURNS = ("vflip", "rot90")


@dataclass(frozen=True, slots=True, kw_only=True)
class Finding:
    """The evidence for one choice: which rule, for which class (None: the whole tree), what was
    measured, the threshold it was compared with, and what was decided."""

    rule: str
    label: str | None
    statistic: str
    value: float
    threshold: float | None
    decision: str

    def as_dict(self) -> dict[str, Any]:
        """Plain data."""
        return {"rule": self.rule, "label": self.label, "statistic": self.statistic, "value": self.value,
                "threshold": self.threshold, "decision": self.decision}


@dataclass
class Choices:
    """What the rules decided, filled in rule by rule."""

    flip_out: list[str] = field(default_factory=list)  # classes that face one way
    turns: bool = False  # vflip (and rot90 when square) join the pipeline
    square: bool = False  # every image read is square: quarter turns keep the size
    turns_out: list[str] = field(default_factory=list)
    text: list[str] = field(default_factory=list)  # text-like classes
    all_text: bool = False
    border: str = "reflect"
    fill: float | list[int] = 0
    tone: list[dict[str, Any]] = field(default_factory=list)
    tone_note: str = ""
    grey: bool = False
    blur: tuple[float, float] | None = None
    noise: tuple[float, float] = (2.0, 6.0)
    degrees: float = 12.0
    dropout: tuple[float, float] | None = None  # hole side, fraction of the image side


def _r(value: float, digits: int = 2) -> float:
    """A value rounded for the recipe and its comments."""
    return round(float(value), digits)


def orientation(by_label: dict[str, list[Measure]], choices: Choices) -> list[Finding]:
    """hflip left out for classes whose mean image is not mirror-symmetric; vflip and quarter turns
    added when most classes' means are unchanged by them, and left out for the others."""
    found, turnable, judged = [], [], 0
    square = choices.square = all(m.height == m.width for ms in by_label.values() for m in ms)
    for label, ms in by_label.items():
        finding, mean = _mirror(label, ms)
        found.append(finding)
        if finding.decision.startswith("faces one way"):
            choices.flip_out.append(label)
        if mean is None:  # no evidence: turns are not a default, so none for this class
            choices.turns_out.append(label)
            continue
        judged += 1
        turned = [turned_correlation(mean, mean[::-1], "xy")]
        if square:
            turned.append(turned_correlation(mean, np.rot90(mean), "xy"))
        if finding.value >= MIRROR_MIN and min(turned) >= TURN_MIN:
            turnable.append(label)
        else:
            choices.turns_out.append(label)
    choices.turns = judged > 0 and 2 * len(turnable) >= judged
    if not choices.turns:
        choices.turns_out = []
    turns = "vflip and rot90" if square else "vflip (images not all square: no quarter turns)"
    found.append(Finding(
        rule="orientation", label=None, statistic="share of classes whose mean image is unchanged by a vertical "
        "flip" + (" and a quarter turn" if square else ""), value=_r(len(turnable) / judged if judged else 0.0),
        threshold=0.5, decision=f"{turns} added, left out for {len(choices.turns_out)} class(es)" if choices.turns
        else "no vertical flips or quarter turns"))
    return found


def _mirror(label: str, ms: list[Measure]) -> tuple[Finding, Any]:
    """One class's mirror finding, and its mean image when it is stable enough to judge turns."""
    name = "mirror correlation of the mean image"
    if len(ms) < MIN_IMAGES:
        return Finding(rule="orientation", label=label, statistic="images read", value=len(ms),
                       threshold=MIN_IMAGES, decision="too few to judge: hflip kept"), None
    mean = mean_image(ms)
    value = _r(turned_correlation(mean, mean[:, ::-1], "x"))
    spread = _r(mean.std(), 3)
    if spread < FLAT_STD:
        return Finding(rule="orientation", label=label, statistic="std of the mean image", value=spread,
                       threshold=FLAT_STD, decision="no common layout: hflip kept"), None
    stable = _r(split_half(ms))
    if value < MIRROR_MIN and stable < STABLE_MIN:
        return Finding(rule="orientation", label=label, statistic="split-half correlation of the mean image",
                       value=stable, threshold=STABLE_MIN,
                       decision=f"mean image unstable (mirror correlation {value}): hflip kept"), None
    if value < MIRROR_MIN:
        # An asymmetric mean can also come from where symmetric objects happen to sit (sample_data's circles:
        # 0.49): the images must vote for it too, each closer to the others' mean than to its mirror.
        facing = _r(facing_share(ms))
        if facing < FACING_MIN:
            return Finding(rule="orientation", label=label, statistic="share of images facing the class's way",
                           value=facing, threshold=FACING_MIN,
                           decision=f"mean image not mirror-symmetric (mirror correlation {value:g}), but its "
                                    "images do not face one way: hflip kept"), mean
        return Finding(rule="orientation", label=label, statistic=name, value=value, threshold=MIRROR_MIN,
                       decision=f"faces one way ({facing:g} of images face the class's way): hflip excluded"), mean
    if value >= SYMMETRIC_MIN:
        return Finding(rule="orientation", label=label, statistic=name, value=value, threshold=MIRROR_MIN,
                       decision="mirror-symmetric: hflip kept"), mean
    facing = _r(facing_share(ms))
    statistic = "share of images facing the class's way"
    if facing >= FACING_MIN:
        return Finding(rule="orientation", label=label, statistic=statistic, value=facing, threshold=FACING_MIN,
                       decision=f"faces one way (mirror correlation {value:g}): hflip excluded"), mean
    return Finding(rule="orientation", label=label, statistic=name, value=value, threshold=MIRROR_MIN,
                   decision=f"mirror-symmetric; {facing:g} of images face the class's way (threshold "
                            f"{FACING_MIN:g}): hflip kept"), mean


def text(by_label: dict[str, list[Measure]], choices: Choices) -> list[Finding]:
    """Text-like classes (printed lines) get no flips, no quarter turns and small rotations only."""
    found = []
    for label, ms in by_label.items():
        lined = _lined_share(ms)
        if lined >= TEXT_SHARE:
            choices.text.append(label)
            found.append(Finding(rule="text", label=label, statistic="share of images with text lines",
                                 value=lined, threshold=TEXT_SHARE,
                                 decision="text-like: no flips or quarter turns, rotation within 3 deg"))
    choices.all_text = bool(by_label) and len(choices.text) == len(by_label)
    if not found:
        found.append(Finding(rule="text", label=None, statistic="largest share of images with text lines in a class",
                             value=max((_lined_share(ms) for ms in by_label.values()), default=0.0),
                             threshold=TEXT_SHARE, decision="no text-like class"))
    return found


def _lined_share(ms: list[Measure]) -> float:
    """Share of a class's images with text lines, rounded as shown."""
    return _share(m.text_lines >= TEXT_LINES and m.text_contrast >= TEXT_CONTRAST for m in ms)


def _share(flags: Iterable[bool]) -> float:
    """The share of true flags, rounded to 3 decimals: the value shown is the value compared."""
    items = list(flags)
    return _r(sum(items) / len(items), 3) if items else 0.0


def background(measures: list[Measure], choices: Choices) -> list[Finding]:
    """A plain border of one colour: constant borders with that fill, and tone changes that keep it."""
    clear = _share(m.ring_clear >= PLAIN_RING for m in measures)
    if clear >= PLAIN_SHARE:
        choices.border, choices.fill = "constant", 0
        choices.tone = _tone_textured(choices.grey)
        return [Finding(rule="background", label=None, statistic="share of images with a transparent border",
                        value=clear, threshold=PLAIN_SHARE,
                        decision="border constant, fill 0 (transparent on images with alpha)")]
    plain = [m for m in measures if m.ring_plain >= PLAIN_RING]
    colour = [statistics.median(m.ring_colour[c] for m in plain) for c in range(3)] if plain else [0.0] * 3
    near = sum(max(abs(m.ring_colour[c] - colour[c]) for c in range(3)) <= RING_TOLERANCE for m in plain)
    share = _r(near / len(measures), 3)
    statistic = "share of images whose border is one plain colour"
    if share < PLAIN_SHARE:
        choices.tone = _tone_textured(choices.grey)
        return [Finding(rule="background", label=None, statistic=statistic, value=share, threshold=PLAIN_SHARE,
                        decision="no plain background: border reflect; brightness and contrast")]
    level = [round(c) for c in colour]
    choices.border = "constant"
    choices.fill = level[0] if max(level) - min(level) <= 2 else level
    choices.tone, choices.tone_note = _tone_plain(min(level), max(level), max(level) - min(level) <= 2, choices.grey)
    return [Finding(rule="background", label=None, statistic=statistic, value=share, threshold=PLAIN_SHARE,
                    decision=f"plain background {choices.fill}: border constant with that fill; {choices.tone_note}")]


def _tone_textured(grey: bool) -> list[dict[str, Any]]:
    """The default recipe's tone changes (hsv only on colour data)."""
    steps: list[dict[str, Any]] = [{"brightness": {"limit": 0.15}}, {"contrast": {"limit": 0.15}}]
    return steps if grey else [*steps, {"hsv": {"hue": [-8, 8], "saturation": [-0.12, 0.12], "value": 0}}]


def _tone_plain(low: int, high: int, neutral: bool, grey: bool) -> tuple[list[dict[str, Any]], str]:
    """Tone changes that leave a plain background of this level unchanged, and why."""
    hsv = [] if grey or not neutral else [{"hsv": {"hue": [-8, 8], "saturation": [-0.12, 0.12], "value": 0}}]
    if high <= DARK:
        return [{"pil_brightness": {"factor": [0.8, 1.2]}}, {"gamma": {"gamma": [0.8, 1.25]}}, *hsv], \
            "tone by multiplication and gamma (they keep a dark background)"
    if low >= LIGHT:
        return [{"gamma": {"gamma": [0.8, 1.25]}}, *hsv], "tone by gamma (it keeps a light background)"
    return hsv, "no brightness, contrast or gamma step keeps a mid-level background: none"


def colour(measures: list[Measure], choices: Choices) -> list[Finding]:
    """Grey data drops hue, saturation and RGB steps; 16-bit depth and transparency are noted."""
    grey = _share(m.chroma <= GREY_CHROMA for m in measures)
    choices.grey = grey >= GREY_SHARE
    found = [Finding(rule="colour", label=None, statistic="share of grey images (channel spread <= 2 of 255)",
                     value=grey, threshold=GREY_SHARE,
                     decision="grey data: no hue, saturation or RGB-shift steps" if choices.grey
                     else "colour data: hue and saturation changes kept")]
    deep = sum(m.depth == 16 for m in measures)
    if deep:
        found.append(Finding(rule="colour", label=None, statistic="16-bit images", value=deep, threshold=None,
                             decision="output format same keeps 16 bits (PNG, TIFF); amounts are in 0-255 units, "
                                      "scaled"))
    alpha = sum(m.translucent for m in measures)
    if alpha:
        found.append(Finding(rule="colour", label=None, statistic="images with transparency", value=alpha,
                             threshold=None, decision="colour steps leave alpha alone, geometric ones move it; "
                                                      "output format same keeps it (JPEG would flatten it)"))
    return found


def size(measures: list[Measure], choices: Choices) -> list[Finding]:
    """Blur sigma scales with the shorter side; tiny images get no blur, gentler noise and rotation."""
    side = statistics.median(min(m.height, m.width) for m in measures)
    high = _r(side / BLUR_SCALE)
    choices.blur = (_r(0.4 * high), _r(high)) if high >= BLUR_MIN else None
    tiny = side < TINY
    choices.noise, choices.degrees = ((1.0, 3.0), 10.0) if tiny else ((2.0, 6.0), 12.0)
    choices.dropout = (_r(max(DROPOUT_PX / side, 0.05), 3), 0.15) if side >= DROPOUT_SIDE else None
    blur = f"blur sigma [{choices.blur[0]}, {choices.blur[1]}] px" if choices.blur else "no blur"
    holes = (f"dropout holes of {choices.dropout[0]:g}-{choices.dropout[1]:g} of the side" if choices.dropout
             else f"no dropout (under {DROPOUT_SIDE} px)")
    return [Finding(rule="size", label=None, statistic="median shorter side (px)", value=_r(side, 1),
                    threshold=float(TINY), decision=f"{blur}; noise std [{_g(choices.noise[0])}, "
                    f"{_g(choices.noise[1])}]; rotation within {choices.degrees:g} deg; {holes}"
                    + (" (tiny images)" if tiny else ""))]


def _g(value: float) -> str:
    return f"{value:g}"
