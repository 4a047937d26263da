"""The HDF5 stores: ``data.h5`` (the task) and ``features.h5``
(bottleneck features of originals, augmented copies and the poisoned test
set). The layouts are documented in docs/hdf5-layout.md; this module is the
only code that writes or reads them.

Reading needs no TensorFlow: only :func:`compute_features` imports it.
"""

from __future__ import annotations

import contextlib
import json
import logging
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path

import h5py
import numpy as np

from effaug import augment
from effaug.datasets import Task, label_dtype
from effaug.provenance import REBUILD
from effaug.runtime import atomic_output

log = logging.getLogger("effaug.features")

DATA_LAYOUT = {
    "train/images": "uint8 (n, H, W, C)",
    "train/labels": "uint8 (n,) 0..K-1 (uint16 beyond 256 classes)",
    "train/index": "int64 (n,) position in the source's train split",
    "test/images": "uint8 (m, H, W, C)",
    "test/labels": "uint8 (m,) 0..K-1 (uint16 beyond 256 classes)",
    "test/index": "int64 (m,) position in the source's test split",
}
# Written only where the source has a file per image (image_folder).
DATA_OPTIONAL_LAYOUT = {
    "train/name": "utf-8 str (n,) the image's path relative to the source folder",
    "test/name": "utf-8 str (m,) the image's path relative to the source folder",
}
FEATURES_LAYOUT = {
    "train/features": "float32 (n, d)",
    "train/labels": "uint8 (n,)",
    "augmented/features": "float32 (K*n, d), row i*K+k = transform k of train point i",
    "augmented/labels": "uint8 (K*n,)",
    "augmented/source": "int64 (K*n,) train index of each row",
    "augmented/transform": "int64 (K*n,) transform index of each row",
    "test/features": "float32 (m, d)",
    "test/labels": "uint8 (m,)",
    "poisoned_test/features": "float32 ((K+1)*m, d): the m originals, then K*m copies source-major",
    "poisoned_test/labels": "uint8 ((K+1)*m,)",
    "poisoned_test/source": "int64 ((K+1)*m,) test index of each row",
    "poisoned_test/transform": "int64 ((K+1)*m,) transform index, -1 for an original",
}


# The draws of a custom augmentation: training points and test images apart.
TRAIN_STREAM, TEST_STREAM = 0, 1


class StoreError(ValueError):
    """An HDF5 store is missing datasets or holds invalid values."""


_ORDER = h5py.h5p.CRT_ORDER_TRACKED | h5py.h5p.CRT_ORDER_INDEXED


def _create_h5(path: Path) -> h5py.File:
    """A new HDF5 file whose objects carry no time stamps, so that the same
    arrays and attributes give byte-identical files."""
    fcpl = h5py.h5p.create(h5py.h5p.FILE_CREATE)
    fcpl.set_obj_track_times(False)
    fcpl.set_link_creation_order(_ORDER)
    return h5py.File(h5py.h5f.create(str(path).encode(), h5py.h5f.ACC_TRUNC, fcpl=fcpl))


def _write_path(f: h5py.File, name: str, array) -> None:
    """Write a dataset at a path of any depth, creating groups without time stamps."""
    parts = name.split("/")
    group = f
    for part in parts[:-1]:
        if part not in group:
            gcpl = h5py.h5p.create(h5py.h5p.GROUP_CREATE)
            gcpl.set_obj_track_times(False)
            gcpl.set_link_creation_order(_ORDER)
            h5py.h5g.create(group.id, part.encode(), gcpl=gcpl)
        group = group[part]
    group.create_dataset(parts[-1], data=np.asarray(array), track_times=False)


def write_arrays(path: Path, arrays: Mapping[str, np.ndarray], attrs: Mapping | None = None) -> None:
    """A small store of named arrays (``scores.h5``, k-DPP kernels, Update
    states), written atomically and without time stamps."""
    with atomic_output(path) as tmp, _create_h5(tmp) as f:
        for name, array in arrays.items():
            _write_path(f, name, array)
        for key, value in (attrs or {}).items():
            f.attrs[key] = value if isinstance(value, (int, float, str)) else json.dumps(value)


@contextlib.contextmanager
def open_store(path: Path) -> Iterator[h5py.File]:
    """An HDF5 store open for reading; StoreError naming the file, what is
    wrong and how to rebuild it where it is missing, truncated or corrupt
    (also when a dataset read inside the block fails)."""
    path = Path(path)
    if not path.is_file():
        raise StoreError(f"{path}: file not found")
    try:
        with h5py.File(path, "r") as f:
            yield f
    except (OSError, KeyError) as err:
        raise StoreError(f"{path}: not a readable HDF5 file ({type(err).__name__}: {err}); it is truncated or "
                         f"corrupt: {REBUILD}") from None


def read_arrays(path: Path, required=()) -> tuple[dict[str, np.ndarray], dict]:
    """All arrays of a store (names with their group paths) and its attributes."""
    arrays = {}
    with open_store(path) as f:
        _require(f, path, required)
        f.visititems(lambda name, obj: arrays.__setitem__(name, obj[()]) if isinstance(obj, h5py.Dataset) else None)
        return arrays, dict(f.attrs)


def _require(f: h5py.File, path: Path, names) -> None:
    missing = [n for n in names if n not in f]
    if missing:
        raise StoreError(f"{path}: missing dataset(s) {', '.join(missing)}; the file is not an effaug store or "
                         f"was written by another version: {REBUILD}")


# --------------------------------------------------------------------------
# data.h5


def write_task(path: Path, task: Task, attrs: Mapping) -> None:
    """Write the task with ``attrs`` (dataset, source, path, ...); the point
    names as variable-length UTF-8 strings where the task has them."""
    arrays = {}
    for split in ("train", "test"):
        arrays[f"{split}/images"] = getattr(task, f"{split}_images")
        arrays[f"{split}/labels"] = getattr(task, f"{split}_labels").astype(label_dtype(task.n_classes))
        arrays[f"{split}/index"] = getattr(task, f"{split}_index").astype(np.int64)
        names = getattr(task, f"{split}_names")
        if names is not None:
            arrays[f"{split}/name"] = np.array(names, dtype=h5py.string_dtype())
    meta = {"class_names": list(task.class_names), "classes": [int(c) for c in task.classes]}
    write_arrays(path, arrays, {**meta, **attrs})


def read_task(path: Path) -> Task:
    """The task in ``data.h5``; its point names are None where the file has none."""
    path = Path(path)
    with open_store(path) as f:
        _require(f, path, DATA_LAYOUT)
        return Task(
            **{f"{split}_{what}": f[f"{split}/{what}"][()]
               for split in ("train", "test") for what in ("images", "labels", "index")},
            class_names=tuple(json.loads(f.attrs["class_names"])),
            classes=tuple(json.loads(f.attrs["classes"])),
            **{f"{split}_names": tuple(f[f"{split}/name"].asstr()[()]) if f"{split}/name" in f else None
               for split in ("train", "test")},
        )


def read_points(path: Path) -> tuple[np.ndarray, np.ndarray, list[str], tuple[str, ...] | None]:
    """The training points of ``data.h5`` without their images: point ids
    (int64 (n,)), labels (n,), class names (K) and file names (n, or None)."""
    path = Path(path)
    with open_store(path) as f:
        _require(f, path, ("train/index", "train/labels"))
        names = tuple(f["train/name"].asstr()[()]) if "train/name" in f else None
        return (f["train/index"][()].astype(np.int64), f["train/labels"][()],
                list(json.loads(f.attrs["class_names"])), names)



# --------------------------------------------------------------------------
# features.h5


@dataclass
class FeatureSet:
    """Everything in ``features.h5``; shapes as in ``FEATURES_LAYOUT``."""

    train: np.ndarray
    train_labels: np.ndarray
    augmented: np.ndarray
    augmented_source: np.ndarray
    augmented_transform: np.ndarray
    test: np.ndarray
    test_labels: np.ndarray
    poisoned_test: np.ndarray
    poisoned_test_labels: np.ndarray
    poisoned_test_source: np.ndarray
    poisoned_test_transform: np.ndarray
    attrs: dict = field(default_factory=dict)

    @property
    def n_transforms(self) -> int:
        return len(self.augmented) // max(len(self.train), 1)

    @property
    def n_classes(self) -> int:
        """K of the task (stored; else the largest label + 1)."""
        if "n_classes" in self.attrs:
            return int(self.attrs["n_classes"])
        return int(max(self.train_labels.max(initial=0), self.test_labels.max(initial=0))) + 1

    @property
    def class_names(self) -> list[str]:
        if "class_names" in self.attrs:
            return list(json.loads(self.attrs["class_names"]))
        return [str(k) for k in range(self.n_classes)]

    @property
    def augmented_labels(self) -> np.ndarray:
        return self.train_labels[self.augmented_source]

    def augmented_rows(self, points: np.ndarray) -> np.ndarray:
        """Row indices in ``augmented`` of all K copies of the given train points."""
        k = self.n_transforms
        points = np.asarray(points, dtype=np.int64)
        return (points[:, None] * k + np.arange(k)[None, :]).ravel()


def _augment_and_featurize(extractor, images, ids, stream, name, params, batch_size, chunk, input_range):
    """Features of all K copies of ``images`` (point ids ``ids``), source-major,
    computed in chunks of ``chunk`` source images so memory stays bounded."""
    from effaug import cnn

    parts, sources, transforms = [], [], []
    for start in range(0, len(images), chunk):
        augmented, source, transform = augment.augment(images[start:start + chunk], name, params,
                                                       ids[start:start + chunk], stream)
        parts.append(cnn.featurize(extractor, augmented, batch_size, input_range))
        sources.append(source + start)
        transforms.append(transform)
    if not parts:
        return np.empty((0, cnn.feature_dim(extractor)), np.float32), np.empty(0, np.int64), np.empty(0, np.int64)
    return np.concatenate(parts), np.concatenate(sources), np.concatenate(transforms)


def compute_features(extractor, task: Task, augmentation: str, params: Mapping,
                     batch_size: int = 1024, chunk: int = 2048,
                     input_range: tuple[float, float] = (0.0, 1.0)) -> FeatureSet:
    """Featurize the originals, every augmented copy of the training points,
    the test set and the poisoned test set with ``extractor`` (a Keras model
    from images to features: :func:`effaug.cnn.bottleneck`)."""
    from effaug import cnn

    k = augment.n_transforms(augmentation, params)
    log.info("featurizing %d train and %d test images, %s with K=%d", len(task.train_images),
             len(task.test_images), augmentation, k)
    train = cnn.featurize(extractor, task.train_images, batch_size, input_range)
    augmented, aug_source, aug_transform = _augment_and_featurize(
        extractor, task.train_images, task.train_index, TRAIN_STREAM, augmentation, params, batch_size, chunk, input_range)
    test = cnn.featurize(extractor, task.test_images, batch_size, input_range)
    test_aug, test_source, test_transform = _augment_and_featurize(
        extractor, task.test_images, task.test_index, TEST_STREAM, augmentation, params, batch_size, chunk, input_range)
    m = len(task.test_images)
    attrs = {
        "augmentation": augmentation,
        "params": json.dumps(dict(params), sort_keys=True),
        "transforms": json.dumps(augment.transforms(augmentation, params)),
        "n_transforms": k,
        "feature_dim": int(train.shape[1]),
        "n_classes": task.n_classes,
        "class_names": json.dumps(list(task.class_names)),
    }
    dtype = label_dtype(task.n_classes)
    return FeatureSet(
        train=train,
        train_labels=task.train_labels.astype(dtype),
        augmented=augmented,
        augmented_source=aug_source,
        augmented_transform=aug_transform,
        test=test,
        test_labels=task.test_labels.astype(dtype),
        poisoned_test=np.concatenate([test, test_aug]),
        poisoned_test_labels=np.concatenate([task.test_labels, task.test_labels[test_source]]).astype(dtype),
        poisoned_test_source=np.concatenate([np.arange(m, dtype=np.int64), test_source]),
        poisoned_test_transform=np.concatenate([np.full(m, -1, np.int64), test_transform]),
        attrs=attrs,
    )


def write_features(path: Path, fs: FeatureSet, attrs: Mapping | None = None) -> None:
    arrays = {
        "train/features": fs.train,
        "train/labels": fs.train_labels,
        "augmented/features": fs.augmented,
        "augmented/labels": fs.augmented_labels,
        "augmented/source": fs.augmented_source,
        "augmented/transform": fs.augmented_transform,
        "test/features": fs.test,
        "test/labels": fs.test_labels,
        "poisoned_test/features": fs.poisoned_test,
        "poisoned_test/labels": fs.poisoned_test_labels,
        "poisoned_test/source": fs.poisoned_test_source,
        "poisoned_test/transform": fs.poisoned_test_transform,
    }
    write_arrays(path, arrays, {**fs.attrs, **(attrs or {})})


def read_features(path: Path) -> FeatureSet:
    """Read ``features.h5`` and check it: all datasets present, consistent
    shapes, finite features. Raises :class:`StoreError` naming the file."""
    arrays, attrs = read_arrays(path, FEATURES_LAYOUT)
    fs = FeatureSet(
        train=arrays["train/features"],
        train_labels=arrays["train/labels"],
        augmented=arrays["augmented/features"],
        augmented_source=arrays["augmented/source"],
        augmented_transform=arrays["augmented/transform"],
        test=arrays["test/features"],
        test_labels=arrays["test/labels"],
        poisoned_test=arrays["poisoned_test/features"],
        poisoned_test_labels=arrays["poisoned_test/labels"],
        poisoned_test_source=arrays["poisoned_test/source"],
        poisoned_test_transform=arrays["poisoned_test/transform"],
        attrs=attrs,
    )
    n, d = fs.train.shape
    k = int(fs.attrs.get("n_transforms", fs.n_transforms))
    m = len(fs.test)
    expected = {
        "augmented/features": (fs.augmented.shape, (k * n, d)),
        "test/features": (fs.test.shape[1:], (d,)),
        "poisoned_test/features": (fs.poisoned_test.shape, ((k + 1) * m, d)),
        "train/labels": (fs.train_labels.shape, (n,)),
        "poisoned_test/labels": (fs.poisoned_test_labels.shape, ((k + 1) * m,)),
    }
    for name, (got, want) in expected.items():
        if tuple(got) != tuple(want):
            raise StoreError(f"{path}: {name} has shape {tuple(got)}, expected {tuple(want)}")
    for name in ("train", "augmented", "test", "poisoned_test"):
        if not np.isfinite(getattr(fs, name)).all():
            raise StoreError(f"{path}: {name}/features holds NaN or infinite values; "
                             "the featurizer diverged: check its log and settings, then re-run")
    return fs
