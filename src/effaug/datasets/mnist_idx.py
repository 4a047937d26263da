"""``mnist_idx``: the four MNIST IDX files in one folder.

``path`` is the folder holding ``train-images-idx3-ubyte``,
``train-labels-idx1-ubyte``, ``t10k-images-idx3-ubyte`` and
``t10k-labels-idx1-ubyte``, each plain or gzipped (``.gz``, as downloaded).
Images (N, 28, 28, 1); classes ``"0"`` .. ``"9"``; point ids are positions in
the files. No options.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path

import numpy as np

from effaug.datasets.base import (
    DatasetError, RawDataset, RemoteFile, Source, array_payload, check_labels, find_file, plain_or_gz, read_all,
    register,
)

CLASS_NAMES = tuple(str(d) for d in range(10))
MNIST_FILES = {
    "train_images": "train-images-idx3-ubyte",
    "train_labels": "train-labels-idx1-ubyte",
    "test_images": "t10k-images-idx3-ubyte",
    "test_labels": "t10k-labels-idx1-ubyte",
}
_MIRRORS = (
    "https://ossci-datasets.s3.amazonaws.com/mnist/",
    "https://yann.lecun.com/exdb/mnist/",
)
_MD5 = {
    "train-images-idx3-ubyte": "f68b3c2dcbeaaa9fbdd348bbdeb94873",
    "train-labels-idx1-ubyte": "d53e105ee54ea40749a09fcbcd1e9432",
    "t10k-images-idx3-ubyte": "9fb629c4189551a2d022fa330f9573f3",
    "t10k-labels-idx1-ubyte": "ec29112dd5afa0611ce80d1b7f02629c",
}

_IDX_DTYPES = {0x08: np.uint8, 0x09: np.int8, 0x0B: ">i2", 0x0C: ">i4", 0x0D: ">f4", 0x0E: ">f8"}


def parse_idx(raw: bytes, path: Path) -> np.ndarray:
    """Decode an IDX file (big-endian header: 0, 0, dtype code, ndim, dims)."""
    if len(raw) < 4 or raw[0] != 0 or raw[1] != 0 or raw[2] not in _IDX_DTYPES:
        raise DatasetError(f"{path}: not an IDX file (bad magic number {raw[:4].hex()})")
    ndim = raw[3]
    header = 4 + 4 * ndim
    if ndim == 0 or len(raw) < header:
        raise DatasetError(f"{path}: corrupt IDX header")
    shape = tuple(int(x) for x in np.frombuffer(raw, ">u4", ndim, 4))
    return array_payload(raw, path, "IDX", shape, np.dtype(_IDX_DTYPES[raw[2]]), header)


def load_idx(path: Path) -> np.ndarray:
    return parse_idx(read_all(path), path)


def _images(path: Path) -> np.ndarray:
    """(N, 28, 28, 1) uint8 images of an IDX image file."""
    images = load_idx(path)
    if images.ndim != 3 or images.dtype != np.uint8:
        raise DatasetError(f"{path}: expected a 3-d uint8 IDX image file, got shape {images.shape}")
    return images[..., None]


def _labels(path: Path, n_images: int | None = None) -> np.ndarray:
    """The int64 labels (N,) of an IDX label file: 1-D, digits 0..9, one per image."""
    labels = check_labels(load_idx(path), path, len(CLASS_NAMES), "IDX labels")
    if n_images is not None and labels.shape[0] != n_images:
        raise DatasetError(
            f"{path}: expected {n_images} labels (one per image), got shape {labels.shape}"
        )
    return labels


def load(path: Path, options: Mapping) -> RawDataset:
    f = {key: find_file(path, name) for key, name in MNIST_FILES.items()}
    train_images = _images(f["train_images"])
    test_images = _images(f["test_images"])
    return RawDataset.in_order(train_images, _labels(f["train_labels"], len(train_images)),
                               test_images, _labels(f["test_labels"], len(test_images)), CLASS_NAMES)


def read_labels(path: Path, options: Mapping) -> tuple[np.ndarray, np.ndarray]:
    return _labels(find_file(path, MNIST_FILES["train_labels"])), _labels(find_file(path, MNIST_FILES["test_labels"]))


def class_names(path: Path | None, options: Mapping) -> tuple[str, ...]:
    return CLASS_NAMES


def required_files(path: Path, options: Mapping) -> list[Path]:
    return [plain_or_gz(path, name) for name in MNIST_FILES.values()]


SOURCE = register(Source(
    "mnist_idx", load, read_labels, class_names, required_files,
    downloads=tuple(RemoteFile(f"{name}.gz", md5, tuple(m + f"{name}.gz" for m in _MIRRORS))
                    for name, md5 in _MD5.items()),
    download_dir="mnist", image_shape=(28, 28, 1), split_sizes=(60000, 10000),
))
