"""Does the recipe ``augcli suggest`` writes beat the default recipe? Two skewed grey sets, balanced four ways.

    python benchmarks/suggest_experiment.py [--seeds 5] [--ablations] [--show-recipe] [--workdir DIR] [--keep]

Data, per seed (the seed changes the split, the kept images and every run):
- ``digits``: the balance experiment's set (scikit-learn's load_digits upscaled to 32x32 grey PNGs; 150 images
  of digits 0-4, 8-15 of digits 5-9; 25 per class held out).
- ``products``: generated 28x28 grey product silhouettes on black, made to look like the issue's footwear case:
  ten classes, three of them footwear that faces one way (sneaker and ankle boot always, sandal 88% of the
  time), seven symmetric garments and a bag; counts long-tailed from 200 down to 15 (a geometric series,
  shuffled over the classes per seed); 100 per class held out.
Training sets: the skewed tree; the skewed tree with class_weight='balanced'; ``augcli balance`` (every class up
to the largest) with the packaged default recipe; with the recipe ``augcli suggest`` writes for the skewed
tree; and, with ``--ablations``, with that recipe with one rule undone (its part of the recipe put back as the
default recipe has it) or one of the size rule's choices changed.
Classifier: StandardScaler + LogisticRegression on the pixels. Reported: macro-F1, mean (std) over seeds; the
suggested recipe's paired difference from every other training set, with the seeds it won; and what the
default and suggested recipes' generated images went through (mirrored one-way classes, a background no longer
black, blur, hsv steps that change nothing on grey images). Run from the repository root with
``PYTHONPATH=$PWD`` (or augcli installed); see docs/suggest.md for run times.
"""

from __future__ import annotations

import argparse
import copy
import json
import shutil
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import cv2
import numpy as np
import yaml

sys.path.insert(0, str(Path(__file__).resolve().parent))
from balance_experiment import make_split  # the digits set, shared with the balance experiment

BIG = 112  # product images are drawn at 4x, then reduced to SIDE with INTER_AREA (anti-aliased edges)
SIDE = 28
JITTER, TILT, SMALLEST, SHIFT = 5.0, 10, 0.76, 9  # vertex noise (px at BIG), rotation (deg), scale, shift (px)
PRODUCT_TEST = 100
SHAPES = {  # polygons in a BIG-px frame; footwear faces right
    "sneaker": [[(8, 36), (28, 30), (44, 42), (68, 54), (96, 62), (104, 72), (104, 86), (8, 86)]],
    "ankle_boot": [[(22, 18), (52, 18), (54, 56), (80, 60), (98, 72), (98, 86), (22, 86)]],
    "sandal": [[(8, 60), (100, 74), (102, 86), (8, 84)], [(10, 62), (12, 26), (26, 26), (28, 64)],
               [(40, 66), (52, 40), (62, 42), (54, 68)], [(72, 72), (80, 56), (88, 58), (84, 74)]],
    "tshirt": [[(36, 16), (48, 22), (64, 22), (76, 16), (98, 34), (88, 46), (78, 40), (78, 96), (34, 96),
                (34, 40), (24, 46), (14, 34)]],
    "pullover": [[(36, 14), (48, 20), (64, 20), (76, 14), (92, 30), (98, 92), (86, 92), (80, 44), (80, 96),
                  (32, 96), (32, 44), (26, 92), (14, 92), (20, 30)]],
    "coat": [[(38, 10), (50, 18), (62, 18), (74, 10), (92, 26), (98, 100), (84, 100), (80, 46), (82, 104),
              (30, 104), (32, 46), (28, 100), (14, 100), (20, 26)]],
    "dress": [[(44, 10), (68, 10), (70, 36), (90, 102), (22, 102), (42, 36)]],
    "trouser": [[(34, 8), (78, 8), (84, 104), (66, 104), (57, 40), (55, 40), (46, 104), (28, 104)]],
    "bag": [[(18, 40), (94, 40), (98, 100), (14, 100)]],
    "shirt": [[(38, 12), (50, 20), (62, 20), (74, 12), (96, 30), (90, 80), (80, 76), (80, 100), (32, 100),
               (32, 76), (22, 80), (16, 30)]],
}
DETAILS = {  # darker lines over the body: laces, soles, openings, a handle
    "sneaker": [((40, 48), (60, 58)), ((44, 56), (56, 46)), ((8, 76), (104, 76))],
    "ankle_boot": [((22, 76), (98, 78)), ((52, 26), (52, 56))],
    "coat": [((56, 20), (56, 102))],
    "shirt": [((56, 22), (56, 98)), ((48, 20), (56, 30)), ((64, 20), (56, 30))],
    "bag": [((34, 40), (40, 22)), ((40, 22), (72, 22)), ((72, 22), (78, 40))],
}
FACING = {"sneaker": 1.0, "ankle_boot": 1.0, "sandal": 0.88}  # share of images facing right
# Classes whose mirror image is not a member (for the "mirrored one-way images" row): the footwear, and the
# digits that mirrored are no digit (0, 1 and 8 are left out: mirrored, they still read as themselves).
ONE_WAY = {"digits": {"d2", "d3", "d4", "d5", "d6", "d7", "d9"}, "products": set(FACING)}


def draw_product(name: str, rng: np.random.Generator) -> np.ndarray:
    """One SIDE x SIDE grey product image: jittered, scaled, tilted, shifted and textured, on black."""
    canvas = np.zeros((BIG, BIG), np.float32)
    level = rng.uniform(0.45, 0.95)
    for poly in SHAPES[name]:
        points = np.array(poly, np.float32) + rng.normal(0, JITTER, (len(poly), 2))
        cv2.fillPoly(canvas, [np.rint(points).astype(np.int32)], level)
    for a, b in DETAILS.get(name, []):
        cv2.line(canvas, a, b, level * rng.uniform(0.3, 0.7), thickness=int(rng.integers(2, 5)))
    texture = cv2.GaussianBlur(rng.normal(0, 1, (BIG, BIG)).astype(np.float32), (0, 0), 3)
    canvas *= np.clip(1 + 0.35 * texture / max(float(np.abs(texture).max()), 1e-6), 0, 2)
    matrix = cv2.getRotationMatrix2D((BIG / 2, BIG / 2), rng.uniform(-TILT, TILT), rng.uniform(SMALLEST, 1.08))
    matrix[:, 2] += rng.uniform(-SHIFT, SHIFT, 2)
    canvas = cv2.warpAffine(canvas, matrix, (BIG, BIG), flags=cv2.INTER_LINEAR, borderValue=0)
    if name in FACING and rng.uniform() >= FACING[name]:
        canvas = canvas[:, ::-1]
    small = cv2.resize(canvas, (SIDE, SIDE), interpolation=cv2.INTER_AREA)
    return np.clip(np.rint(small * 255), 0, 255).astype(np.uint8)


def make_products(root: Path, seed: int) -> tuple[Path, np.ndarray, np.ndarray]:
    """Write the long-tailed product tree; return it with the balanced test images and labels."""
    rng = np.random.default_rng(seed)
    names = list(SHAPES)
    counts = rng.permutation(np.rint(200 * (15 / 200) ** (np.arange(len(names)) / (len(names) - 1))).astype(int))
    train, test_x, test_y = root / "train", [], []
    for label, (name, count) in enumerate(zip(names, counts, strict=True)):
        (train / name).mkdir(parents=True)
        for i in range(count):
            cv2.imwrite(str(train / name / f"{name}_{i:04d}.png"), draw_product(name, rng))
        test_x += [draw_product(name, rng) for _ in range(PRODUCT_TEST)]
        test_y += [label] * PRODUCT_TEST
    return train, np.stack(test_x), np.array(test_y)


def tree_pixels(root: Path, classes: list[str]) -> tuple[np.ndarray, np.ndarray]:
    """Pixel rows and labels of every image below a class-folder tree (originals and generated alike)."""
    paths = sorted(p for p in root.rglob("*.png") if p.parent != root)
    images = np.stack([cv2.imread(str(p), cv2.IMREAD_GRAYSCALE) for p in paths])
    return images.reshape(len(paths), -1) / 255.0, np.array([classes.index(p.parent.name) for p in paths])


def macro_f1(x: np.ndarray, y: np.ndarray, x_test: np.ndarray, y_test: np.ndarray, weight: str | None) -> float:
    """Macro-F1 of a scaled logistic regression on pixels."""
    from sklearn.linear_model import LogisticRegression
    from sklearn.metrics import f1_score
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler
    from threadpoolctl import threadpool_limits

    model = make_pipeline(StandardScaler(), LogisticRegression(max_iter=3000, C=0.05, class_weight=weight))
    with threadpool_limits(1):  # one BLAS thread: several times faster than two on this small problem
        predicted = model.fit(x.astype(np.float32), y).predict(x_test.astype(np.float32))
    return float(f1_score(y_test, predicted, average="macro"))


def undo(data: dict[str, Any], rule: str) -> dict[str, Any]:
    """The suggested recipe with one rule's part put back as the default recipe has it."""
    data = copy.deepcopy(data)
    pipeline = data["pipeline"]
    affine = next(step["affine"] for step in pipeline if "affine" in step)
    if rule == "orientation":
        data.pop("classes", None)
        if "hflip" not in pipeline[0]:
            pipeline.insert(0, {"hflip": {"p": 0.5}})
    elif rule == "background":
        affine["border"] = "reflect"
        affine.pop("fill", None)
        tone = [{"brightness": {"limit": 0.15}}, {"contrast": {"limit": 0.15}}]
        pipeline[:] = [step for step in pipeline if not _is_tone(step)]
        pipeline.insert(pipeline.index(next(s for s in pipeline if "affine" in s)) + 1,
                        {"one_of": {"p": 0.8, "of": tone}})
    elif rule == "size":
        affine["degrees"] = [-12, 12]
        noise = next(i for i, step in enumerate(pipeline) if "gaussian_noise" in json.dumps(step))
        pipeline[noise] = {"one_of": {"p": 0.25, "of": [{"gaussian_blur": {"sigma": [0.4, 1.0]}},
                                                        {"gaussian_noise": {"std": [2, 6]}}]}}
    elif rule == "colour":
        hsv = {"hsv": {"hue": [-8, 8], "saturation": [-0.12, 0.12], "value": 0}}
        tone = next(step for step in pipeline if _is_tone(step))
        if "one_of" in tone:
            tone["one_of"]["of"].append(hsv)
        else:  # a single tone step (with its p): make it a one_of with hsv
            name, body = next(iter(tone.items()))
            child = {name: {key: value for key, value in body.items() if key != "p"}}
            pipeline[pipeline.index(tone)] = {"one_of": {"p": 0.8, "of": [child, hsv]}}
    return data


TONE = {"brightness", "contrast", "pil_brightness", "gamma", "hsv"}


def _is_tone(step: dict[str, Any]) -> bool:
    """A step of the tone group: one tone transform, or a one_of of them."""
    if "one_of" in step:
        return all(next(iter(child)) in TONE for child in step["one_of"]["of"])
    return next(iter(step)) in TONE


def looks(out: Path, one_way: set[str]) -> dict[str, float]:
    """What a balance run's generated images went through, as shares of them: mirrored images of classes that
    face one way, a background no longer black (border median above 12 of 255), a blur, an hsv step."""
    from augcli.manifest import read_rows

    rows = [row for row in read_rows(out / "manifest.csv") if row.kind != "original"]
    ops = [[op["name"] for op in json.loads(row.ops)] for row in rows]
    facing = [names for row, names in zip(rows, ops, strict=True) if row.label in one_way]
    moved = 0
    for row in rows:
        image = cv2.imread(str(out / row.path), cv2.IMREAD_GRAYSCALE)
        ring = np.concatenate([image[0], image[-1], image[1:-1, 0], image[1:-1, -1]])
        moved += float(np.median(ring)) > 12
    count = max(len(rows), 1)
    return {"mirrored one-way images": sum("hflip" in n for n in facing) / max(len(facing), 1),
            "background no longer black": moved / count, "blurred": sum("gaussian_blur" in n for n in ops) / count,
            "hsv step (a no-op on grey)": sum("hsv" in n for n in ops) / count}


Looks = dict[str, dict[str, float]]  # recipe -> what its generated images went through (see looks)


def probes(data: dict[str, Any]) -> dict[str, dict[str, Any]]:
    """The suggested recipe with one choice of the size rule changed, each on its own."""
    dropout = copy.deepcopy(data)
    dropout["pipeline"].append({"coarse_dropout": {"count": [1, 2], "size": [0.1, 0.2], "fill": 0, "p": 0.25}})
    degrees = copy.deepcopy(data)
    next(step["affine"] for step in degrees["pipeline"] if "affine" in step)["degrees"] = [-12, 12]
    noise = copy.deepcopy(data)
    next(step for step in noise["pipeline"] if "gaussian_noise" in step)["gaussian_noise"]["std"] = [2, 6]
    return {"suggested + 1-2 dropout holes of 10-20%": dropout, "suggested, rotation 12 deg": degrees,
            "suggested, noise std [2, 6]": noise}


def one_seed(work: Path, seed: int, dataset: str, ablations: bool) -> tuple[dict[str, float], Looks, str]:
    """Every training set of one dataset and seed: {setting: macro-F1}, what the default and suggested recipes'
    images went through, and the suggested recipe."""
    from augcli import api
    from augcli.suggest import suggest

    root = work / dataset / f"seed{seed}"
    train, x_test_images, y_test = (make_split if dataset == "digits" else make_products)(root, seed)
    classes = sorted(p.name for p in train.iterdir())
    folders = [f"d{d}" for d in range(10)] if dataset == "digits" else list(SHAPES)  # by test label
    y_test = np.array([classes.index(folders[label]) for label in y_test])
    x_test = x_test_images.reshape(len(x_test_images), -1) / 255.0
    suggestion = suggest(train, workers=2)
    recipes: dict[str, Any] = {"default recipe": None, "suggested recipe": suggestion.data}
    if ablations:
        for rule in ("orientation", "background", "size", "colour"):
            recipes[f"suggested, {rule} rule undone"] = undo(suggestion.data, rule)
        recipes.update(probes(suggestion.data))
    x, y = tree_pixels(train, classes)
    scores = {"skewed": macro_f1(x, y, x_test, y_test, None),
              "class_weight='balanced'": macro_f1(x, y, x_test, y_test, "balanced")}
    seen: Looks = {}
    for i, (name, data) in enumerate(recipes.items()):
        recipe: Any = "default"
        if data is not None:
            recipe = root / f"recipe{i}.yaml"
            recipe.write_text(yaml.safe_dump(data, sort_keys=False))
        out = root / f"out{i}"
        api.balance(train, out, recipe=recipe, seed=seed, workers=2)
        if name in ("default recipe", "suggested recipe"):
            seen[name] = looks(out, ONE_WAY[dataset])
        scores[name] = macro_f1(*tree_pixels(out, classes), x_test, y_test, None)
        shutil.rmtree(out)
    return scores, seen, suggestion.text


def report(runs: dict[str, list[dict[str, float]]], seen: dict[str, list[Looks]], seconds: float) -> None:
    """Print the Markdown tables."""
    datasets = list(runs)
    seeds = len(runs[datasets[0]])
    print(f"{seeds} seeds, macro-F1 mean (std); {seconds:.0f} s\n")
    print("| training set | " + " | ".join(datasets) + " |")
    print("|---|" + "---|" * len(datasets))
    for setting in runs[datasets[0]][0]:
        cells = [np.array([r[setting] for r in runs[d]]) for d in datasets]
        print(f"| {setting} | " + " | ".join(f"{c.mean():.3f} ({c.std():.3f})" for c in cells) + " |")
    print("\nsuggested recipe minus another training set, paired by seed: mean (std), worst seed, seeds won\n")
    print("| against | " + " | ".join(datasets) + " |")
    print("|---|" + "---|" * len(datasets))
    for other in runs[datasets[0]][0]:
        if other == "suggested recipe":
            continue
        cells = []
        for d in datasets:
            diff = np.array([r["suggested recipe"] - r[other] for r in runs[d]])
            cells.append(f"{diff.mean():+.3f} ({diff.std():.3f}), {diff.min():+.3f}, {int((diff > 0).sum())}/{seeds}")
        print(f"| {other} | " + " | ".join(cells) + " |")
    print("\ngenerated images that went through ..., mean share over seeds (default recipe / suggested recipe)\n")
    print("| generated images | " + " | ".join(datasets) + " |")
    print("|---|" + "---|" * len(datasets))
    for what in seen[datasets[0]][0]["default recipe"]:
        cells = [" / ".join(f"{np.mean([s[recipe][what] for s in seen[d]]):.1%}"
                            for recipe in ("default recipe", "suggested recipe")) for d in datasets]
        print(f"| {what} | " + " | ".join(cells) + " |")


def main() -> None:
    """Run the experiment and print Markdown tables."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seeds", type=int, default=5)
    parser.add_argument("--workdir", type=Path, default=None)
    parser.add_argument("--keep", action="store_true", help="keep the generated trees")
    parser.add_argument("--show-recipe", action="store_true", help="print each dataset's seed-0 suggestion")
    parser.add_argument("--ablations", action="store_true",
                        help="also the suggested recipe with each rule undone, and with dropout holes, a 12-degree "
                             "rotation or stronger noise")
    args = parser.parse_args()
    work = args.workdir or Path(tempfile.mkdtemp(prefix="augcli-suggest-exp-"))
    shutil.rmtree(work, ignore_errors=True)
    work.mkdir(parents=True)
    start = time.monotonic()
    runs: dict[str, list[dict[str, float]]] = {"digits": [], "products": []}
    seen: dict[str, list[Looks]] = {"digits": [], "products": []}
    for dataset in runs:
        for seed in range(args.seeds):
            scores, looked, text = one_seed(work, seed, dataset, args.ablations)
            runs[dataset].append(scores)
            seen[dataset].append(looked)
            if args.show_recipe and seed == 0:
                print(f"--- {dataset}, seed 0: suggested recipe\n{text}")
    report(runs, seen, time.monotonic() - start)
    if not args.keep:
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
