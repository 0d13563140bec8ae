"""Does balancing help? A skewed digits image set, balanced six ways, scored on a balanced held-out split.

    python benchmarks/balance_experiment.py [--seeds 3] [--workdir /tmp/augcli-balance-exp]

Data: scikit-learn's load_digits (8x8, 10 classes) upscaled to 32x32 grey PNGs. Per seed, 25 images per class
are held out (balanced test split); the training tree keeps 150 images of digits 0-4 and 8-15 of digits 5-9.
Training sets: the skewed tree as is; ``augcli balance`` by transforms (the default recipe, and a digit-safe
recipe without flips); ``augcli balance --method smote`` (pixels features); ``--method mixup`` and ``cutmix``
(the digit recipe, then a same-class partner); imbalanced-learn's SMOTE on the
classifier's feature matrix (the reference). Classifier: StandardScaler + LogisticRegression on HOG or pixel
features computed from the images. Reported: macro-F1 and balanced accuracy, mean (std) over seeds.
"""

from __future__ import annotations

import argparse
import shutil
import tempfile
from pathlib import Path
from typing import Any

import cv2
import numpy as np

DIGIT_RECIPE = """\
seed: 0
output: {format: same}
pipeline:
  - affine: {degrees: [-10, 10], scale: [0.9, 1.1], translate: [-0.06, 0.06], border: constant, fill: 0}
  - one_of:
      p: 0.5
      of:
        - gaussian_blur: {sigma: [0.3, 0.8]}
        - gaussian_noise: {std: [2, 6]}
"""
BIG, SMALL, TEST = 150, (8, 15), 25


def make_split(root: Path, seed: int) -> tuple[Path, np.ndarray, np.ndarray]:
    """Write the skewed training tree; return it with the test images and labels."""
    from sklearn.datasets import load_digits

    digits = load_digits()
    images = [
        cv2.resize((im * 255 / 16).astype(np.uint8), (32, 32), interpolation=cv2.INTER_LINEAR)
        for im in digits.images
    ]
    rng = np.random.default_rng(seed)
    train_dir, test_x, test_y = root / "train", [], []
    for label in range(10):
        idx = rng.permutation(np.flatnonzero(digits.target == label))
        test_x += [images[i] for i in idx[:TEST]]
        test_y += [label] * TEST
        keep = BIG if label < 5 else int(rng.integers(SMALL[0], SMALL[1] + 1))
        for i in idx[TEST : TEST + keep]:
            path = train_dir / f"d{label}" / f"img{i:04d}.png"
            path.parent.mkdir(parents=True, exist_ok=True)
            cv2.imwrite(str(path), images[i])
    return train_dir, np.stack(test_x), np.array(test_y)


def features(images: list[np.ndarray], kind: str) -> np.ndarray:
    """Classifier features of grey images (augcli's extractor: hog, or pixels at 16x16)."""
    from augcli.features import image_features

    return np.stack([image_features(im.reshape(*im.shape[:2], 1), kind, 16) for im in images])


def tree_images(root: Path) -> tuple[list[np.ndarray], np.ndarray]:
    """Every image below a class-folder tree (manifest-free: originals and generated alike)."""
    paths = sorted(p for p in root.rglob("*.png") if p.parent != root)
    return [cv2.imread(str(p), cv2.IMREAD_GRAYSCALE) for p in paths], np.array(
        [int(p.parent.name[1:]) for p in paths]
    )


def augcli_balance(train: Path, out: Path, method: str, seed: int, recipe: Any) -> None:
    """Run ``augcli balance --method METHOD`` through the Python API."""
    from augcli import api

    api.balance(train, out, method=method, recipe=recipe, seed=seed, workers=2)


def score(
    x_train: np.ndarray, y_train: np.ndarray, x_test: np.ndarray, y_test: np.ndarray
) -> tuple[float, float]:
    """Macro-F1 and balanced accuracy of a scaled logistic regression."""
    from sklearn.linear_model import LogisticRegression
    from sklearn.metrics import balanced_accuracy_score, f1_score
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler

    model = make_pipeline(StandardScaler(), LogisticRegression(max_iter=3000, C=0.1))
    predicted = model.fit(x_train, y_train).predict(x_test)
    return f1_score(y_test, predicted, average="macro"), balanced_accuracy_score(y_test, predicted)


def one_seed(work: Path, seed: int, kinds: list[str]) -> dict[tuple[str, str], tuple[float, float]]:
    """All settings for one seed: {(setting, feature kind): (macro-F1, balanced accuracy)}."""
    from imblearn.over_sampling import SMOTE

    train, test_images, test_y = make_split(work / f"seed{seed}", seed)
    recipe_path = work / "digits.yaml"
    recipe_path.write_text(DIGIT_RECIPE)
    trees = {"skewed": train}
    for name, method, recipe in [
        ("transforms (default recipe)", "transforms", "default"),
        ("transforms (digit recipe)", "transforms", recipe_path),
        ("augcli smote", "smote", "default"),
        ("augcli mixup (digit recipe)", "mixup", recipe_path),
        ("augcli cutmix (digit recipe)", "cutmix", recipe_path),
    ]:
        trees[name] = work / f"seed{seed}" / name.replace(" ", "_").replace("(", "").replace(")", "")
        augcli_balance(train, trees[name], method, seed, recipe)
    results = {}
    for kind in kinds:
        x_test = features(list(test_images), kind)
        for name, root in trees.items():
            images, labels = tree_images(root)
            results[(name, kind)] = score(features(images, kind), labels, x_test, test_y)
        images, labels = tree_images(train)
        x_ref, y_ref = SMOTE(random_state=np.random.RandomState(seed)).fit_resample(
            features(images, kind), labels
        )
        results[("imblearn SMOTE on features", kind)] = score(x_ref, y_ref, x_test, test_y)
    return results


def main() -> None:
    """Run the experiment and print a Markdown table."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seeds", type=int, default=3)
    parser.add_argument("--workdir", type=Path, default=None)
    args = parser.parse_args()
    work = args.workdir or Path(tempfile.mkdtemp(prefix="augcli-balance-exp-"))
    shutil.rmtree(work, ignore_errors=True)
    work.mkdir(parents=True)
    kinds = ["hog", "pixels"]
    runs = [one_seed(work, seed, kinds) for seed in range(args.seeds)]
    print(f"{args.seeds} seeds, mean (std)\n")
    print("| training set | features | macro-F1 | balanced accuracy |")
    print("|---|---|---|---|")
    for key in runs[0]:
        f1 = np.array([r[key][0] for r in runs])
        ba = np.array([r[key][1] for r in runs])
        print(
            f"| {key[0]} | {key[1]} | {f1.mean():.3f} ({f1.std():.3f}) | {ba.mean():.3f} ({ba.std():.3f}) |"
        )


if __name__ == "__main__":
    main()
