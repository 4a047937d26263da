"""The task: the K-class (K >= 2) problem that the workflow cuts from a
source and writes to ``results/{dataset}/task.h5``; :class:`Task`, its
cutting (:func:`make_task`) and its file (:func:`write_task`,
:func:`read_task`; layout in docs/hdf5-layout.md). Loading the sources is
:mod:`effaug.datasets`.

The task holds ``n_train`` training points of the chosen classes and every
test image of them; label k stands for ``classes[k]`` (the paper's tasks have
two classes).
"""

from __future__ import annotations

import json
import logging
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

import h5py
import numpy as np

from effaug.datasets import DatasetError, RawDataset, load, resolve_classes
from effaug.stores import open_store, require_datasets, write_arrays

log = logging.getLogger("effaug.task")

TRAIN_SUBSETS = ("first", "random", "stratified")

TASK_LAYOUT = {
    "train/images": "uint8 (n, H, W, C)",
    "train/labels": "uint8 (n,) 0..K-1 (uint16 beyond 256 classes)",
    "train/index": "int64 (n,) position in the source's train split",
    "test/images": "uint8 (m, H, W, C)",
    "test/labels": "uint8 (m,) 0..K-1 (uint16 beyond 256 classes)",
    "test/index": "int64 (m,) position in the source's test split",
}
# Written only where the source has a file per image (image_folder).
TASK_OPTIONAL_LAYOUT = {
    "train/name": "utf-8 str (n,) the image's path relative to the source folder",
    "test/name": "utf-8 str (m,) the image's path relative to the source folder",
}


@dataclass(frozen=True)
class Task:
    """The K-class task (K >= 2): label k for ``classes[k]``. Arrays as in
    :class:`RawDataset`, restricted to the task's points."""

    train_images: np.ndarray
    train_labels: np.ndarray
    train_index: np.ndarray
    test_images: np.ndarray
    test_labels: np.ndarray
    test_index: np.ndarray
    class_names: tuple[str, ...]
    classes: tuple[int, ...]
    train_names: tuple[str, ...] | None = None
    test_names: tuple[str, ...] | None = None

    @property
    def n_classes(self) -> int:
        return len(self.classes)


def label_dtype(n_classes: int) -> np.dtype:
    """The smallest unsigned integer type for labels 0..n_classes-1."""
    return np.dtype(np.uint8 if n_classes <= 256 else np.uint16 if n_classes <= 65536 else np.uint32)


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


def _pick(names: tuple[str, ...] | None, positions: np.ndarray) -> tuple[str, ...] | None:
    return None if names is None else tuple(names[i] for i in positions)


def _names(raw: RawDataset, classes) -> str:
    return ", ".join(repr(raw.class_names[c]) if c < len(raw.class_names) else repr(str(c)) for c in classes)


def _check_available(raw: RawDataset, classes: tuple[int, ...], n_train: int) -> None:
    """Every class has a training and a test image in the data, and the
    classes hold ``n_train`` training images; DatasetError naming the fix."""
    for split in ("train", "test"):
        labels = getattr(raw, f"{split}_labels")
        absent = [c for c in classes if not (labels == c).any()]
        if absent:
            raise DatasetError(f"class(es) {_names(raw, absent)} have no {split} image in the data; "
                               "drop them from classes")
    available = int(np.isin(raw.train_labels, classes).sum())
    if n_train > available:
        raise DatasetError(f"n_train={n_train} but only {available} training images of classes "
                           f"{_names(raw, classes)} exist in the data; lower n_train to {available} or less "
                           "(or add classes)")


def _check_subset_classes(raw: RawDataset, classes: tuple[int, ...], chosen: np.ndarray, n_train: int,
                          subset: str) -> None:
    """The training subset holds every class; for a subset of one class the
    message names n_train and train_subset and suggests a stratified subset."""
    present = set(np.unique(chosen).tolist())
    missing = [c for c in classes if c not in present]
    if not missing:
        return
    if len(present) == 1:
        (only,) = present
        need = f" and n_train >= {len(classes)}" if n_train < len(classes) else ""
        raise DatasetError(
            f"class(es) {_names(raw, missing)} have no train image in the task: n_train={n_train} with "
            f"train_subset: {subset} takes training images of class {_names(raw, [only])} only, and a classifier "
            f"needs two classes or more; use train_subset: stratified{need} (the same number of images of every "
            "class) or raise n_train"
        )
    raise DatasetError(f"class(es) {_names(raw, missing)} have no train image in the task (n_train={n_train}, "
                       f"train_subset: {subset}); raise n_train or use train_subset: stratified")


def cut_task(raw: RawDataset, classes: tuple[int, ...], n_train: int,
             subset: str = "first", seed: int = 0) -> Task:
    """Cut the K-class task: ``n_train`` training points chosen by
    :func:`select_train` and every test image of the classes; label k for
    ``classes[k]``. Every class must have training and test images in the
    data, the classes ``n_train`` training images or more, and the subset a
    point of every class: DatasetError naming n_train and train_subset otherwise."""
    classes = tuple(int(c) for c in classes)
    if len(set(classes)) != len(classes) or len(classes) < 2:
        raise DatasetError(f"a task needs two or more different classes, got {list(classes)}")
    _check_available(raw, classes, n_train)
    train = select_train(raw.train_labels, classes, n_train, subset, seed)
    _check_subset_classes(raw, classes, raw.train_labels[train], n_train, subset)
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
        train_names=_pick(raw.train_names, train),
        test_names=_pick(raw.test_names, test),
    )
    for split in ("train", "test"):
        counts = np.bincount(getattr(task, f"{split}_labels"), minlength=len(classes))
        empty = [task.class_names[k] for k in np.flatnonzero(counts == 0)]
        if empty:
            fix = ("raise n_train or use train_subset: stratified" if split == "train"
                   else "drop the class from classes")
            raise DatasetError(f"class(es) {', '.join(map(repr, empty))} have no {split} image in the task; {fix}")
    return task


def make_task(source: str, path: Path | None, classes, n_train: int, subset: str = "first",
              seed: int = 0, options: Mapping | None = None) -> Task:
    """Load a source and cut its task (classes by label or name, or ``"all"``)."""
    raw = load(source, path, options)
    classes = resolve_classes(source, classes, raw.train_labels, names=raw.class_names)
    task = cut_task(raw, classes, n_train, subset, seed)
    counts = lambda labels: " / ".join(str(c) for c in np.bincount(labels, minlength=task.n_classes))
    log.info("%s, %d classes (%s): train %d (%s), test %d (%s)", source, task.n_classes,
             ", ".join(task.class_names), len(task.train_labels), counts(task.train_labels),
             len(task.test_labels), counts(task.test_labels))
    return task


# --------------------------------------------------------------------------
# task.h5


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
    """The task in ``task.h5``; its point names are None where the file has none."""
    path = Path(path)
    with open_store(path) as f:
        require_datasets(f, path, TASK_LAYOUT)
        return Task(
            **{f"{split}_{what}": f[f"{split}/{what}"][()]
               for split in ("train", "test") for what in ("images", "labels", "index")},
            class_names=tuple(json.loads(f.attrs["class_names"])),
            classes=tuple(json.loads(f.attrs["classes"])),
            **{f"{split}_names": tuple(f[f"{split}/name"].asstr()[()]) if f"{split}/name" in f else None
               for split in ("train", "test")},
        )


def read_points(path: Path) -> tuple[np.ndarray, np.ndarray, list[str], tuple[str, ...] | None]:
    """The training points of ``task.h5`` without their images: point ids
    (int64 (n,)), labels (n,), class names (K) and file names (n, or None)."""
    path = Path(path)
    with open_store(path) as f:
        require_datasets(f, path, ("train/index", "train/labels"))
        names = tuple(f["train/name"].asstr()[()]) if "train/name" in f else None
        return (f["train/index"][()].astype(np.int64), f["train/labels"][()],
                list(json.loads(f.attrs["class_names"])), names)
