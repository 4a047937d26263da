"""``features.h5``: the bottleneck features of the originals, their
augmented copies and the poisoned test set (layout in docs/hdf5-layout.md);
this module is the only code that computes, writes or reads it.

Reading needs no TensorFlow: only :func:`compute_features` imports it (through :mod:`effaug.cnn`).
"""

from __future__ import annotations

import json
import logging
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from effaug import augment, cnn
from effaug.augment import TEST_STREAM, TRAIN_STREAM
from effaug.runtime import Progress
from effaug.stores import StoreError, read_arrays, write_arrays
from effaug.task import Task, label_dtype

log = logging.getLogger("effaug.features")

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


def _augment_and_featurize(extractor, images, ids, stream, name, params, batch_size, chunk, inputs, progress):
    """Features of all K copies of ``images`` (point ids ``ids``), source-major,
    computed in chunks of ``chunk`` source images so memory stays bounded;
    ``inputs`` the keyword arguments ``input_range`` and ``preprocessing`` of
    :func:`effaug.cnn.featurize`; ``progress`` (effaug.runtime.Progress) counts the copies featurized."""
    parts, sources, transforms = [], [], []
    for start in range(0, len(images), chunk):
        augmented, source, transform = augment.augment(images[start:start + chunk], name, params,
                                                       ids[start:start + chunk], stream)
        parts.append(cnn.featurize(extractor, augmented, batch_size, **inputs))
        progress.advance(len(augmented))
        sources.append(source + start)
        transforms.append(transform)
    if not parts:
        return np.empty((0, cnn.feature_dim(extractor)), np.float32), np.empty(0, np.int64), np.empty(0, np.int64)
    return np.concatenate(parts), np.concatenate(sources), np.concatenate(transforms)


def compute_features(extractor, task: Task, augmentation: str, params: Mapping,
                     batch_size: int = 1024, chunk: int = 2048,
                     input_range: tuple[float, float] = (0.0, 1.0), preprocessing: str = "consistent") -> FeatureSet:
    """Featurize the originals, every augmented copy of the training points,
    the test set and the poisoned test set with ``extractor`` (a Keras model
    from images to features: :func:`effaug.cnn.bottleneck`), its inputs made
    by ``input_range`` or ``preprocessing`` (:func:`effaug.cnn.featurize`)."""
    inputs = {"input_range": input_range, "preprocessing": preprocessing}
    k = augment.n_transforms(augmentation, params)
    log.info("featurizing %d train and %d test images, %s with K=%d", len(task.train_images),
             len(task.test_images), augmentation, k)
    progress = Progress("featurizing: images", (len(task.train_images) + len(task.test_images)) * (1 + k))
    train = cnn.featurize(extractor, task.train_images, batch_size, **inputs)
    progress.advance(len(train))
    augmented, aug_source, aug_transform = _augment_and_featurize(
        extractor, task.train_images, task.train_index, TRAIN_STREAM, augmentation, params, batch_size, chunk,
        inputs, progress)
    test = cnn.featurize(extractor, task.test_images, batch_size, **inputs)
    progress.advance(len(test))
    test_aug, test_source, test_transform = _augment_and_featurize(
        extractor, task.test_images, task.test_index, TEST_STREAM, augmentation, params, batch_size, chunk, inputs,
        progress)
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
