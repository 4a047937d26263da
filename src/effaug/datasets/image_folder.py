"""``image_folder``: your own images, one folder per class.

Layout
------
``path`` is a folder in one of two layouts::

    path/train/<class>/...        path/<class>/...
    path/test/<class>/...

With ``train/`` and ``test/`` (left) the split is yours; both must hold the
same class folders. Without them (right) every class is split here, class
by class in label order with one generator
``numpy.random.default_rng(split_seed)``: a permutation of the class's
images (sorted by path) puts its first ``max(1, round(test_fraction *
count))`` images (at most ``count - 1``) in test, the rest in train, so each
class needs two images or more.

Classes are the class folders' names, sorted; label k is the k-th name. A
class folder may hold subfolders, whose images belong to the class; files
directly in ``path`` (or in ``train/``, ``test/``) are ignored. Images are PNG, JPEG (``.jpg``,
``.jpeg``), BMP and TIFF (``.tif``, ``.tiff``) files, extension in any case;
other files, and files and folders whose names start with ``.``, are skipped
(the count is logged).

A split lists its classes in label order, each class's images sorted by
their path; ``train_index``/``test_index`` are positions in that order and
``train_names``/``test_names`` the paths relative to ``path``, with ``/``
(``train/cat/001.png``), which ``task.h5`` keeps as ``train/name`` and
``test/name``.

Options (``datasets.<name>.<option>``)
--------------------------------------
``image_size``: ``[h, w]``, default none
    Resize every image to h x w pixels (``cv2.INTER_AREA`` where both sides
    shrink or stay, else ``cv2.INTER_LINEAR``). Required when the images
    differ in size; without it they must all have one size, which is kept.
``channels``: ``1`` or ``3``, default ``3``
    Gray images are replicated to RGB for 3; colour images are converted to
    gray (``cv2.COLOR_RGB2GRAY``) for 1.
``test_fraction``: default ``0.2``
    Share of each class that goes to test, in the layout without ``train/``
    and ``test/`` (ignored otherwise); between 0 and 1.
``split_seed``: default ``0``
    Seed of that split.

Decoding
--------
OpenCV reads each file unchanged (``cv2.IMREAD_UNCHANGED``; EXIF orientation
is not applied, multi-page TIFFs give their first page); colour is turned
from BGR to RGB, an alpha channel dropped and 16-bit channels scaled to 8
bits (``>> 8``). Output ``uint8`` of shape (N, h, w, channels). The same
folder and options give identical arrays.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from effaug.datasets.base import OPTION_KEYS, DatasetError, RawDataset, Source, register

log = logging.getLogger("effaug.datasets")

IMAGE_EXTENSIONS = frozenset({".png", ".jpg", ".jpeg", ".bmp", ".tif", ".tiff"})
SPLITS = ("train", "test")


@dataclass(frozen=True)
class Options:
    """The source's options, checked; see the module docstring."""

    image_size: tuple[int, int] | None = None
    channels: int = 3
    test_fraction: float = 0.2
    split_seed: int = 0


def _is_int(value) -> bool:
    return isinstance(value, (int, np.integer)) and not isinstance(value, bool)


def parse_options(options: Mapping) -> Options:
    """The ``image_folder`` keys of a dataset's config, defaults filled in
    (a key set to null takes its default). DatasetError names a bad value."""
    given = {key: options[key] for key in OPTION_KEYS if options.get(key) is not None}
    size = given.get("image_size")
    if size is not None:
        if not (isinstance(size, (list, tuple)) and len(size) == 2 and all(_is_int(v) and v > 0 for v in size)):
            raise DatasetError(f"image_size: expected [h, w], two positive integers, got {size!r}")
        given["image_size"] = (int(size[0]), int(size[1]))
    if "channels" in given and not (_is_int(given["channels"]) and given["channels"] in (1, 3)):
        raise DatasetError(f"channels: expected 1 (gray) or 3 (RGB), got {given['channels']!r}")
    fraction = given.get("test_fraction", Options.test_fraction)
    if isinstance(fraction, bool) or not isinstance(fraction, (int, float)) or not 0 < fraction < 1:
        raise DatasetError(f"test_fraction: expected a number between 0 and 1 (exclusive), got {fraction!r}")
    seed = given.get("split_seed", Options.split_seed)
    if not (_is_int(seed) and seed >= 0):
        raise DatasetError(f"split_seed: expected a non-negative integer, got {seed!r}")
    return Options(**given)


# --------------------------------------------------------------------------
# Listing the folder (no pixels decoded)


@dataclass(frozen=True)
class Listing:
    """The images of a folder, split.

    Attributes
    ----------
    class_names : the class folders' names, sorted
    train_files, test_files : tuple of N str
        Image paths relative to the folder, with ``/``, in split order.
    train_labels, test_labels : int64 arrays of shape (N,)
    """

    class_names: tuple[str, ...]
    train_files: tuple[str, ...]
    train_labels: np.ndarray
    test_files: tuple[str, ...]
    test_labels: np.ndarray


def _require_folder(root: Path) -> None:
    if not root.is_dir():
        raise DatasetError(f"{root}: folder not found; set the dataset's path to a folder of class folders "
                           "(or of train/ and test/ class folders)")


def _has_split(root: Path) -> bool:
    """Whether the folder holds ``train/`` and ``test/`` (one alone is an error)."""
    train, test = (root / split for split in SPLITS)
    if train.is_dir() != test.is_dir():
        have, lack = (train, test) if train.is_dir() else (test, train)
        raise DatasetError(f"{have} exists but {lack} does not: give both train/ and test/ class folders, "
                           f"or put the class folders directly in {root} to have them split")
    return train.is_dir()


def _class_folders(split_root: Path) -> list[Path]:
    """The class folders of a split, sorted by name (hidden ones skipped)."""
    return sorted((p for p in split_root.iterdir() if p.is_dir() and not p.name.startswith(".")),
                  key=lambda p: p.name)


def _images_of(folder: Path, root: Path) -> tuple[list[str], int]:
    """The images under ``folder`` as sorted paths relative to ``root``, and
    how many other files were skipped (hidden folders are not entered)."""
    images, skipped = [], 0
    for directory, subdirectories, files in os.walk(folder):
        subdirectories[:] = [d for d in subdirectories if not d.startswith(".")]
        for name in files:
            if name.startswith(".") or Path(name).suffix.lower() not in IMAGE_EXTENSIONS:
                skipped += 1
            else:
                images.append((Path(directory) / name).relative_to(root).as_posix())
    return sorted(images), skipped


def _classes_of(split_root: Path, root: Path) -> dict[str, list[str]]:
    """Class name -> its images (sorted paths relative to ``root``), classes
    sorted. DatasetError for fewer than two class folders, no image or an
    empty class."""
    folders = _class_folders(split_root)
    if len(folders) < 2:
        found = f"only one class folder ({folders[0].name})" if folders else "no class folders"
        raise DatasetError(f"{split_root}: {found}; a task needs two classes or more, the images of each "
                           "in a folder named after the class")
    classes, skipped = {}, 0
    for folder in folders:
        classes[folder.name], n = _images_of(folder, root)
        skipped += n
    if skipped:
        log.info("%s: skipped %d non-image file(s)", split_root, skipped)
    if not any(classes.values()):
        raise DatasetError(f"{split_root}: no image files (PNG, JPEG, BMP, TIFF) in its class folders"
                           + (f"; {skipped} other file(s) skipped" if skipped else ""))
    for folder in folders:
        if not classes[folder.name]:
            raise DatasetError(f"{folder}: class folder {folder.name!r} holds no images; add some or remove it")
    return classes


def _check_same_classes(root: Path, train: dict, test: dict) -> None:
    for (have, classes), (lack, other) in (("train", train), ("test", test)), (("test", test), ("train", train)):
        missing = [c for c in classes if c not in other]
        if missing:
            raise DatasetError(f"{root / lack}: lacks class folder(s) {', '.join(map(repr, missing))} "
                               f"that {root / have} has; both splits need the same classes")


def _holdout(count: int, test_fraction: float, rng: np.random.Generator) -> np.ndarray:
    """Boolean mask of shape (count,): True for a class's test images."""
    n_test = min(count - 1, max(1, round(test_fraction * count)))
    mask = np.zeros(count, bool)
    mask[rng.permutation(count)[:n_test]] = True
    return mask


def _split(root: Path, classes: dict[str, list[str]], options: Options) -> tuple[dict, dict]:
    """Every class's images split into train and test (sorted order kept),
    one generator drawing class by class in label order."""
    rng = np.random.default_rng(options.split_seed)
    train, test = {}, {}
    for name, files in classes.items():
        if len(files) < 2:
            raise DatasetError(f"{root / name}: class folder {name!r} holds one image; splitting it "
                               "into train and test needs two or more")
        held_out = _holdout(len(files), options.test_fraction, rng)
        train[name] = [f for f, h in zip(files, held_out) if not h]
        test[name] = [f for f, h in zip(files, held_out) if h]
    return train, test


def _flatten(classes: dict[str, list[str]]) -> tuple[tuple[str, ...], np.ndarray]:
    """Files of every class in label order, and their int64 labels (N,)."""
    files = tuple(f for names in classes.values() for f in names)
    labels = np.repeat(np.arange(len(classes), dtype=np.int64), [len(names) for names in classes.values()])
    return files, labels


def list_images(root: Path, options: Options) -> Listing:
    """Scan the folder and split it (see the module docstring); no pixels decoded."""
    _require_folder(root)
    if _has_split(root):
        train, test = (_classes_of(root / split, root) for split in SPLITS)
        _check_same_classes(root, train, test)
    else:
        train, test = _split(root, _classes_of(root, root), options)
    return Listing(tuple(train), *_flatten(train), *_flatten(test))


# --------------------------------------------------------------------------
# Decoding


def decode(path: Path, channels: int) -> np.ndarray:
    """The image in a file as uint8 of shape (H, W, channels), RGB or gray."""
    import cv2  # OpenCV only where pixels are decoded, not when a configuration is checked

    try:
        image = cv2.imdecode(np.fromfile(path, np.uint8), cv2.IMREAD_UNCHANGED)
    except (OSError, cv2.error) as err:
        raise DatasetError(f"{path}: cannot read the image ({err}); replace or delete the file") from err
    if image is None or image.size == 0:
        raise DatasetError(f"{path}: not a readable image (corrupt or truncated); replace or delete the file")
    if image.dtype == np.uint16:
        image = (image >> 8).astype(np.uint8)
    elif image.dtype != np.uint8:
        raise DatasetError(f"{path}: {image.dtype} pixels are not supported; save it with 8- or 16-bit channels")
    if image.ndim == 3 and image.shape[2] in (3, 4):
        rgb = cv2.cvtColor(image, cv2.COLOR_BGRA2RGB if image.shape[2] == 4 else cv2.COLOR_BGR2RGB)
        return rgb if channels == 3 else cv2.cvtColor(rgb, cv2.COLOR_RGB2GRAY)[..., None]
    if image.ndim == 3 and image.shape[2] != 1:
        raise DatasetError(f"{path}: {image.shape[2]} channels are not supported; save it as gray or RGB")
    return np.repeat(image.reshape(*image.shape[:2], 1), channels, axis=2)


def resize(image: np.ndarray, size: tuple[int, int]) -> np.ndarray:
    """``image`` (H, W, C) resized to ``size`` (h, w): (h, w, C), with
    ``cv2.INTER_AREA`` where both sides shrink or stay, else ``cv2.INTER_LINEAR``."""
    import cv2

    h, w = size
    if image.shape[:2] == (h, w):
        return image
    shrink = h <= image.shape[0] and w <= image.shape[1]
    out = cv2.resize(image, (w, h), interpolation=cv2.INTER_AREA if shrink else cv2.INTER_LINEAR)
    return out.reshape(h, w, image.shape[2])


def read_images(root: Path, files: tuple[str, ...], options: Options) -> np.ndarray:
    """The images ``root/f`` for ``f`` in ``files``: uint8 (N, h, w, channels).
    Without ``image_size`` they must all have the first one's size."""
    images = None
    for i, name in enumerate(files):
        image = decode(root / name, options.channels)
        if options.image_size is not None:
            image = resize(image, options.image_size)
        if images is None:
            images = np.empty((len(files), *image.shape), np.uint8)
        elif image.shape != images.shape[1:]:
            raise DatasetError(
                f"{root / name}: {image.shape[0]}x{image.shape[1]} pixels but {root / files[0]} has "
                f"{images.shape[1]}x{images.shape[2]}; the images differ in size: set image_size: [h, w]"
            )
        images[i] = image
    return images


# --------------------------------------------------------------------------
# The source


def load(path: Path, options: Mapping) -> RawDataset:
    opts = parse_options(options)
    listing = list_images(path, opts)
    images = read_images(path, listing.train_files + listing.test_files, opts)
    n_train = len(listing.train_files)
    return RawDataset.in_order(images[:n_train], listing.train_labels, images[n_train:], listing.test_labels,
                               listing.class_names, listing.train_files, listing.test_files)


def read_labels(path: Path, options: Mapping) -> tuple[np.ndarray, np.ndarray]:
    listing = list_images(path, parse_options(options))
    return listing.train_labels, listing.test_labels


def class_names(path: Path, options: Mapping) -> tuple[str, ...]:
    """The class folders' names, sorted (of ``train/`` where split)."""
    _require_folder(path)
    return tuple(p.name for p in _class_folders(path / "train" if _has_split(path) else path))


def required_files(path: Path, options: Mapping) -> list[Path]:
    """Every image the source reads; the folder itself where it is missing."""
    if not path.is_dir():
        return [path]
    listing = list_images(path, parse_options(options))
    return [path / f for f in listing.train_files + listing.test_files]


SOURCE = register(Source("image_folder", load, read_labels, class_names, required_files, names_from_data=True))
