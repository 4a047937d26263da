"""``smallnorb``: the six smallNORB files of NYU's binary-matrix format.

``path`` is the folder holding the ``smallnorb-5x46789x9x18x6x2x96x96-training-*``
and ``smallnorb-5x01235x9x18x6x2x96x96-testing-*`` ``.mat`` files, each plain
or gzipped (``.gz``, as downloaded); the ``-info`` files are not read. Images
(N, 96, 96, 1) from camera 0 (the left image of each stereo pair); classes
animal, human, airplane, truck, car; point ids are positions in the files.
No options.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path

import numpy as np

from effaug.datasets.base import (
    DatasetError, RawDataset, RemoteFile, Source, array_payload, check_labels, find_file, plain_or_gz, read_all,
    register,
)

CLASS_NAMES = ("animal", "human", "airplane", "truck", "car")
SMALLNORB_FILES = {
    "train_images": "smallnorb-5x46789x9x18x6x2x96x96-training-dat.mat",
    "train_labels": "smallnorb-5x46789x9x18x6x2x96x96-training-cat.mat",
    "train_info": "smallnorb-5x46789x9x18x6x2x96x96-training-info.mat",
    "test_images": "smallnorb-5x01235x9x18x6x2x96x96-testing-dat.mat",
    "test_labels": "smallnorb-5x01235x9x18x6x2x96x96-testing-cat.mat",
    "test_info": "smallnorb-5x01235x9x18x6x2x96x96-testing-info.mat",
}
_BASE_URL = "https://cs.nyu.edu/~ylclab/data/norb-v1.0-small/"
_MD5 = {
    "train_images": "66054832f9accfe74a0f4c36a75bc0a2",
    "train_labels": "23c8b86101fbf0904a000b43d3ed2fd9",
    "train_info": "51dee1210a742582ff607dfd94e332e3",
    "test_images": "e4ad715691ed5a3a5f138751a4ceb071",
    "test_labels": "5aa791cd7e6016cf957ce9bdb93b8603",
    "test_info": "a9454f3864d7fd4bb3ea7fc3eb84924e",
}

_NORB_DTYPES = {
    0x1E3D4C51: np.dtype("<f4"),
    0x1E3D4C53: np.dtype("<f8"),
    0x1E3D4C54: np.dtype("<i4"),
    0x1E3D4C55: np.dtype("u1"),
    0x1E3D4C56: np.dtype("<i2"),
}


def parse_norb_matrix(raw: bytes, path: Path) -> np.ndarray:
    """Decode a NYU binary matrix: int32 magic, int32 ndim, max(ndim, 3) int32
    dims (only the first ndim count), then the data, all little-endian."""
    if len(raw) < 8:
        raise DatasetError(f"{path}: too short for a NORB binary-matrix header")
    magic, ndim = (int(x) for x in np.frombuffer(raw, "<i4", 2))
    if magic not in _NORB_DTYPES:
        raise DatasetError(f"{path}: not a NORB binary matrix (bad magic number {magic:#x})")
    if not 1 <= ndim <= 16:
        raise DatasetError(f"{path}: corrupt NORB header (ndim={ndim})")
    n_dims_stored = max(ndim, 3)
    header = 8 + 4 * n_dims_stored
    if len(raw) < header:
        raise DatasetError(f"{path}: corrupt NORB header (truncated)")
    shape = tuple(int(x) for x in np.frombuffer(raw, "<i4", ndim, 8))
    return array_payload(raw, path, "NORB", shape, _NORB_DTYPES[magic], header)


def load_norb_matrix(path: Path) -> np.ndarray:
    return parse_norb_matrix(read_all(path), path)


def _split(directory: Path, split: str) -> tuple[np.ndarray, np.ndarray]:
    """Camera-0 images (N, H, W, 1) and int64 labels (N,) of one split."""
    images_path = find_file(directory, SMALLNORB_FILES[f"{split}_images"])
    labels_path = find_file(directory, SMALLNORB_FILES[f"{split}_labels"])
    images = load_norb_matrix(images_path)
    if images.ndim != 4 or images.shape[1] != 2 or images.dtype != np.uint8:
        raise DatasetError(f"{images_path}: expected uint8 images of shape (N, 2, H, W), got {images.shape}")
    labels = _labels(labels_path)
    if len(labels) != len(images):
        raise DatasetError(f"{labels_path}: expected {len(images)} labels, got shape {labels.shape}")
    camera0 = np.ascontiguousarray(images[:, 0, :, :, None])
    return camera0, labels


def _labels(path: Path) -> np.ndarray:
    """The int64 labels (N,) of a category file: 1-D, 0..4."""
    return check_labels(load_norb_matrix(path), path, len(CLASS_NAMES), "NORB labels")


def load(path: Path, options: Mapping) -> RawDataset:
    train_images, train_labels = _split(path, "train")
    test_images, test_labels = _split(path, "test")
    return RawDataset.in_order(train_images, train_labels, test_images, test_labels, CLASS_NAMES)


def read_labels(path: Path, options: Mapping) -> tuple[np.ndarray, np.ndarray]:
    return tuple(_labels(find_file(path, SMALLNORB_FILES[f"{split}_labels"])) for split in ("train", "test"))


def class_names(path: Path | None, options: Mapping) -> tuple[str, ...]:
    return CLASS_NAMES


def required_files(path: Path, options: Mapping) -> list[Path]:
    """The image and label files (the info files are not read)."""
    return [plain_or_gz(path, name) for key, name in SMALLNORB_FILES.items() if not key.endswith("_info")]


SOURCE = register(Source(
    "smallnorb", load, read_labels, class_names, required_files,
    downloads=tuple(RemoteFile(f"{SMALLNORB_FILES[key]}.gz", md5, (f"{_BASE_URL}{SMALLNORB_FILES[key]}.gz",))
                    for key, md5 in _MD5.items()),
    download_dir="smallnorb", image_shape=(96, 96, 1), split_sizes=(24300, 24300),
))
