"""What each kernel costs in CPU instructions, counted by valgrind (callgrind): deterministic, and the same
whatever else the machine is doing, unlike times on a shared machine.

    python benchmarks/op_instructions.py [IMAGE] [--repeats 20]

For each kernel, one process runs it ``--repeats`` times on IMAGE (default: the first photo of the
benchmark tree, about 500x375) under ``valgrind --tool=callgrind``; a process that runs nothing gives the
baseline (interpreter, imports, the decode of IMAGE). Prints millions of instructions per call. Needs
valgrind (Debian: ``apt-get install valgrind``); OpenCV runs on one thread. Counts are user-space
instructions only: no page faults, system calls or cache misses, and sha256 runs without the CPU's SHA
instructions under valgrind; read them as the arithmetic each step asks for.
"""

from __future__ import annotations

import argparse
import os
import shutil
import subprocess
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
REPO = HERE.parent
KERNELS = ("decode", "encode", "flip", "warp_bgra", "warp_bgr", "lut", "brightness_add", "hsv_float",
           "hsv_8bit", "gaussian_noise", "gaussian_blur")

CHILD = r"""
import sys
import cv2
import numpy as np
cv2.setNumThreads(1)
from augcli.ops.color import adjust_brightness, shift_hsv
from augcli.ops.noise import add_gaussian_noise
raw = np.fromfile(sys.argv[1], np.uint8)
img = cv2.imdecode(raw, cv2.IMREAD_COLOR)
h, w = img.shape[:2]
m = cv2.getRotationMatrix2D((w / 2, h / 2), 7.3, 1.03)
bgra = cv2.cvtColor(img, cv2.COLOR_BGR2BGRA)
table = np.arange(256, dtype=np.uint8)[::-1].copy()

def hsv8(image):
    hsv = cv2.cvtColor(image, cv2.COLOR_BGR2HSV)
    planes = [cv2.LUT(plane, table) for plane in cv2.split(hsv)]
    return cv2.cvtColor(cv2.merge(planes), cv2.COLOR_HSV2BGR)

kernels = {
    "none": lambda: None,
    "decode": lambda: cv2.imdecode(raw, cv2.IMREAD_COLOR),
    "encode": lambda: cv2.imencode(".jpg", img, [cv2.IMWRITE_JPEG_QUALITY, 95]),
    "flip": lambda: cv2.flip(img, 1),
    "warp_bgra": lambda: cv2.cvtColor(cv2.warpAffine(cv2.cvtColor(img, cv2.COLOR_BGR2BGRA), m, (w, h),
                                                     borderMode=cv2.BORDER_REFLECT_101), cv2.COLOR_BGRA2BGR),
    "warp_bgr": lambda: cv2.warpAffine(img, m, (w, h), borderMode=cv2.BORDER_REFLECT_101),
    "lut": lambda: cv2.LUT(img, table),
    "brightness_add": lambda: adjust_brightness(img, 0.1),
    "hsv_float": lambda: shift_hsv(img, 20.0, 0.05, 0.03),
    "hsv_8bit": lambda: hsv8(img),
    "gaussian_noise": lambda: add_gaussian_noise(img, 10.0, 123, True),
    "gaussian_blur": lambda: cv2.GaussianBlur(img, (0, 0), 1.2),
}
for _ in range(int(sys.argv[3])):
    kernels[sys.argv[2]]()
"""


def count(image: Path, kernel: str, repeats: int) -> int:
    """Instructions of one process running ``kernel`` ``repeats`` times."""
    env = {**os.environ, "PYTHONPATH": f"{REPO}{os.pathsep}{os.environ.get('PYTHONPATH', '')}"}
    done = subprocess.run(["valgrind", "--tool=callgrind", "--callgrind-out-file=/dev/null", sys.executable,
                           "-c", CHILD, str(image), kernel, str(repeats)],
                          capture_output=True, text=True, env=env, check=True)
    for line in done.stderr.splitlines():
        if "Collected" in line:
            return int(line.rsplit(":", 1)[1].replace(",", "").strip())
    raise RuntimeError(f"no instruction count from valgrind for {kernel}: {done.stderr[-500:]}")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("image", type=Path, nargs="?")
    parser.add_argument("--repeats", type=int, default=20)
    args = parser.parse_args()
    if shutil.which("valgrind") is None:
        print("valgrind is not installed (Debian: apt-get install valgrind)", file=sys.stderr)
        return 2
    image = args.image
    if image is None:
        found = sorted(Path("/tmp/augcli-bench-cmp/photos").glob("*/*.jpg"))
        if not found:
            print("give an IMAGE (or run benchmarks/compare.py once to build its photo tree)", file=sys.stderr)
            return 2
        image = found[0]
    base = count(image, "none", args.repeats)
    print(f"image {image}, {args.repeats} calls each; millions of instructions per call:")
    for kernel in KERNELS:
        print(f"  {kernel:<16} {(count(image, kernel, args.repeats) - base) / args.repeats / 1e6:7.2f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
