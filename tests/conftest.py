"""Shared fixtures: tiny dataset files in the real formats, written here."""

from __future__ import annotations

import gzip
import io
import os
import pickle
import struct
import tarfile
from pathlib import Path

import numpy as np
import pytest

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

REPO = Path(__file__).resolve().parents[1]


def idx_bytes(array: np.ndarray) -> bytes:
    """Encode a uint8 array as an IDX file."""
    array = np.ascontiguousarray(array, dtype=np.uint8)
    header = bytes([0, 0, 0x08, array.ndim]) + b"".join(struct.pack(">I", d) for d in array.shape)
    return header + array.tobytes()


def norb_bytes(array: np.ndarray) -> bytes:
    """Encode a uint8 or int32 array as a NYU binary matrix (at least 3 dims stored)."""
    magic = 0x1E3D4C55 if array.dtype == np.uint8 else 0x1E3D4C54
    array = np.ascontiguousarray(array, dtype=np.uint8 if magic == 0x1E3D4C55 else "<i4")
    dims = list(array.shape) + [1] * max(0, 3 - array.ndim)
    header = struct.pack("<ii", magic, array.ndim) + b"".join(struct.pack("<i", d) for d in dims)
    return header + array.tobytes()


def pattern_images(labels: np.ndarray, size: int, channels: int, seed: int) -> np.ndarray:
    """Learnable images: noise plus a bright bar whose position depends on the label."""
    rng = np.random.default_rng(seed)
    images = rng.integers(0, 60, size=(len(labels), size, size, channels), dtype=np.uint8)
    for i, label in enumerate(labels):
        row = 2 + (int(label) * 3) % (size - 4)
        images[i, row:row + 2, 2:size - 2, :] = 255
    return images


def write_mnist_idx(directory: Path, n_train=60, n_test=30, gz=True, seed=0) -> dict:
    """Four IDX files with labels cycling 0..9; returns the arrays written."""
    directory.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(seed)
    arrays = {}
    for split, n in (("train", n_train), ("t10k", n_test)):
        labels = rng.permutation(np.arange(n) % 10).astype(np.uint8)
        images = pattern_images(labels, 28, 1, seed + n)[..., 0]
        arrays[split] = (images, labels)
        for kind, array in (("images-idx3", images), ("labels-idx1", labels)):
            name = f"{split}-{kind}-ubyte"
            data = idx_bytes(array)
            if gz:
                (directory / f"{name}.gz").write_bytes(gzip.compress(data, mtime=0))
            else:
                (directory / name).write_bytes(data)
    return arrays


CIFAR_NAMES = [b"airplane", b"automobile", b"bird", b"cat", b"deer", b"dog", b"frog", b"horse", b"ship", b"truck"]


def cifar_batches(per_batch=8, n_test=10, seed=0) -> dict[str, bytes]:
    rng = np.random.default_rng(seed)
    files = {}
    for name, n in [(f"data_batch_{i}", per_batch) for i in range(1, 6)] + [("test_batch", n_test)]:
        labels = [int(x) for x in rng.integers(0, 10, n)]
        images = pattern_images(np.array(labels), 32, 3, int(rng.integers(1 << 30)))
        data = images.transpose(0, 3, 1, 2).reshape(n, 3072)
        files[name] = pickle.dumps({b"batch_label": name.encode(), b"labels": labels, b"data": data}, protocol=2)
    files["batches.meta"] = pickle.dumps({b"label_names": CIFAR_NAMES, b"num_vis": 3072}, protocol=2)
    return files


def write_cifar10(path: Path, archive: bool, **kwargs) -> Path:
    files = cifar_batches(**kwargs)
    if not archive:
        path.mkdir(parents=True, exist_ok=True)
        for name, data in files.items():
            (path / name).write_bytes(data)
        return path
    path.parent.mkdir(parents=True, exist_ok=True)
    with tarfile.open(path, "w:gz") as tar:
        for name, data in files.items():
            info = tarfile.TarInfo(f"cifar-10-batches-py/{name}")
            info.size = len(data)
            tar.addfile(info, io.BytesIO(data))
    return path


def write_smallnorb(directory: Path, n=10, size=96, gz=False, seed=0, noise=True) -> dict:
    from effaug.datasets import SMALLNORB_FILES

    directory.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(seed)
    arrays = {}
    for split in ("train", "test"):
        labels = (np.arange(n) % 5).astype(np.int32)
        if noise:
            images = rng.integers(0, 256, size=(n, 2, size, size), dtype=np.uint8)
        else:  # compresses to almost nothing: for fixtures that need many images but never read them
            images = np.zeros((n, 2, size, size), dtype=np.uint8)
            images[:, :, : size // 4, :] = (labels * 50)[:, None, None, None]
        info = rng.integers(0, 9, size=(n, 4)).astype(np.int32)
        arrays[split] = (images, labels)
        for kind, array in (("images", images), ("labels", labels), ("info", info)):
            data = norb_bytes(array)
            name = SMALLNORB_FILES[f"{split}_{kind}"]
            if gz:
                (directory / f"{name}.gz").write_bytes(gzip.compress(data, mtime=0))
            else:
                (directory / name).write_bytes(data)
    return arrays


def write_paper_fixtures(data_root: Path) -> None:
    """Small files in the three real formats where config/paper.yaml expects them
    (data_root/mnist, data_root/cifar10/cifar-10-python.tar.gz, data_root/smallnorb),
    each with more than 1000 training images of the paper's two classes."""
    write_mnist_idx(data_root / "mnist", n_train=5100, n_test=40)
    write_cifar10(data_root / "cifar10" / "cifar-10-python.tar.gz", archive=True, per_batch=1100, n_test=20)
    write_smallnorb(data_root / "smallnorb", n=2600, gz=True, noise=False)


@pytest.fixture
def mnist_dir(tmp_path):
    arrays = write_mnist_idx(tmp_path / "mnist")
    return tmp_path / "mnist", arrays


@pytest.fixture(scope="session")
def small_run(tmp_path_factory):
    """A complete local run of the small re-run config (shared: only read or dry-run by its users)."""
    from tests.test_reruns import SMALL
    from tests.test_workflow import snakemake

    workdir = tmp_path_factory.mktemp("small")
    result = snakemake(workdir, "--cores", "2", config=SMALL)
    assert result.returncode == 0, result.stderr[-3000:]
    return workdir
