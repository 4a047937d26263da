"""``cifar10``: CIFAR-10, "python version".

``path`` is the ``cifar-10-batches-py`` folder (``data_batch_1`` ..
``data_batch_5``, ``test_batch``, ``batches.meta``) or the
``cifar-10-python.tar.gz`` archive holding it, as downloaded. Images
(N, 32, 32, 3); classes airplane, automobile, bird, cat, deer, dog, frog,
horse, ship, truck; point ids are positions in the five training batches
concatenated, and in the test batch. No options.

The batches are Python pickles, as the dataset is distributed. They are read
with a restricted unpickler that builds only what the format needs (dicts,
lists, bytes, str, numbers and NumPy arrays) and refuses any other object a
crafted file asks for, so a batch file cannot run code.
"""

from __future__ import annotations

import os
import pickle
import tarfile
from collections.abc import Mapping
from pathlib import Path

import numpy as np

from effaug.datasets.base import DatasetError, RawDataset, RemoteFile, Source, check_labels, register

CLASS_NAMES = (
    "airplane", "automobile", "bird", "cat", "deer",
    "dog", "frog", "horse", "ship", "truck",
)
CIFAR10_ARCHIVE = "cifar-10-python.tar.gz"
CIFAR10_DIR = "cifar-10-batches-py"
CIFAR10_TRAIN_BATCHES = tuple(f"data_batch_{i}" for i in range(1, 6))


# The only globals a CIFAR-10 batch refers to: NumPy's array reconstruction
# (as pickled by NumPy 1 and 2) and the codec Python 3 uses for bytes in protocol 2.
ALLOWED_GLOBALS = {
    ("numpy", "ndarray"): ("numpy", "ndarray"),
    ("numpy", "dtype"): ("numpy", "dtype"),
    ("numpy.core.multiarray", "_reconstruct"): ("numpy._core.multiarray", "_reconstruct"),
    ("numpy._core.multiarray", "_reconstruct"): ("numpy._core.multiarray", "_reconstruct"),
    ("_codecs", "encode"): ("_codecs", "encode"),
}


class ForbiddenGlobal(pickle.UnpicklingError):
    """A pickle asks for an object outside ``ALLOWED_GLOBALS``."""


class _BatchUnpickler(pickle.Unpickler):
    """Builds dicts, lists, bytes, str, numbers and NumPy arrays; refuses every other global."""

    def find_class(self, module: str, name: str):
        if (module, name) not in ALLOWED_GLOBALS:
            raise ForbiddenGlobal(f"it asks for {module}.{name}, which a CIFAR-10 batch never holds")
        import importlib

        target_module, target_name = ALLOWED_GLOBALS[(module, name)]
        return getattr(importlib.import_module(target_module), target_name)


def _unpickle(raw: bytes, name: str) -> dict:
    import io

    try:
        batch = _BatchUnpickler(io.BytesIO(raw), encoding="bytes").load()
    except ForbiddenGlobal as err:
        raise DatasetError(f"{name}: refused: {err}; this is not a CIFAR-10 python batch (delete the file and "
                           "fetch the dataset again with `snakemake --cores 1 download`)") from None
    except Exception as err:  # pickle raises many types on corrupt input
        raise DatasetError(f"{name}: not a CIFAR-10 python batch ({err})") from err
    if not isinstance(batch, dict):
        raise DatasetError(f"{name}: not a CIFAR-10 python batch (not a dict)")
    return {k.decode() if isinstance(k, bytes) else k: v for k, v in batch.items()}


def _members(path: Path, names: list[str]) -> dict[str, bytes]:
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


def _batch(raw: bytes, name: str) -> tuple[np.ndarray, np.ndarray]:
    """Images (N, 32, 32, 3) and int64 labels (N,) of one pickled batch."""
    batch = _unpickle(raw, name)
    try:
        data = np.asarray(batch["data"], dtype=np.uint8)
        labels = np.asarray(batch["labels"], dtype=np.int64)
    except KeyError as err:
        raise DatasetError(f"{name}: CIFAR-10 batch lacks key {err}") from err
    if data.ndim != 2 or data.shape[1] != 3072 or len(labels) != len(data):
        raise DatasetError(f"{name}: expected data of shape (N, 3072) and N labels, got {data.shape}, {labels.shape}")
    images = data.reshape(-1, 3, 32, 32).transpose(0, 2, 3, 1)
    return np.ascontiguousarray(images), check_labels(labels, name, len(CLASS_NAMES))


def load(path: Path, options: Mapping) -> RawDataset:
    raw = _members(path, [*CIFAR10_TRAIN_BATCHES, "test_batch", "batches.meta"])
    parts = [_batch(raw[n], f"{path}:{n}") for n in CIFAR10_TRAIN_BATCHES]
    train_images = np.concatenate([p[0] for p in parts])
    train_labels = np.concatenate([p[1] for p in parts])
    test_images, test_labels = _batch(raw["test_batch"], f"{path}:test_batch")
    meta = _unpickle(raw["batches.meta"], f"{path}:batches.meta")
    names = meta.get("label_names", CLASS_NAMES)
    return RawDataset.in_order(train_images, train_labels, test_images, test_labels,
                               [n.decode() if isinstance(n, bytes) else str(n) for n in names])


def read_labels(path: Path, options: Mapping) -> tuple[np.ndarray, np.ndarray]:
    raw = _members(path, [*CIFAR10_TRAIN_BATCHES, "test_batch"])
    train = np.concatenate([_batch(raw[n], f"{path}:{n}")[1] for n in CIFAR10_TRAIN_BATCHES])
    return train, _batch(raw["test_batch"], f"{path}:test_batch")[1]


def class_names(path: Path | None, options: Mapping) -> tuple[str, ...]:
    return CLASS_NAMES


def required_files(path: Path, options: Mapping) -> list[Path]:
    """The batch files of the folder, or the archive."""
    if path.is_dir():
        return [path / b for b in (*CIFAR10_TRAIN_BATCHES, "test_batch", "batches.meta")]
    return [path]


SOURCE = register(Source(
    "cifar10", load, read_labels, class_names, required_files,
    downloads=(RemoteFile(CIFAR10_ARCHIVE, "c58f30108f718f92721af3b95e74349a",
                          ("https://www.cs.toronto.edu/~kriz/cifar-10-python.tar.gz",)),),
    download_dir="cifar10", image_shape=(32, 32, 3), split_sizes=(50000, 10000),
))
