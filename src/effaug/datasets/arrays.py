"""``arrays``: your own images as arrays in one ``.npz`` or HDF5 file.

``path`` is a ``.npz`` file (``numpy.savez``) or an ``.h5``/``.hdf5`` file
with these arrays (HDF5: datasets at the root):

``x_train``, ``x_test``
    ``uint8`` images of shape (N, H, W) or (N, H, W, C), C 1 (gray) or 3
    (RGB); both splits of one size. Convert other types to ``uint8``
    (0..255) before saving.
``y_train``, ``y_test``
    Integer labels of shape (N,), 0..K-1.
``class_names`` (optional)
    The names of labels 0..K-1, an array of strings (``.npz``: a unicode
    array such as ``np.array(["cat", "dog"])``; HDF5: a string dataset or a
    root attribute). Without it K is the largest label + 1 and the names are
    ``"0"`` .. ``"K-1"``.

Point ids (``train_index``, ``test_index``) are the positions in the arrays.
No options. ``.npz`` files are read with ``allow_pickle=False``: an object
array is refused, never unpickled.
"""

from __future__ import annotations

import zipfile
from collections.abc import Mapping
from pathlib import Path

import h5py
import numpy as np

from effaug.datasets.base import DatasetError, RawDataset, Source, register

IMAGE_KEYS = ("x_train", "x_test")
LABEL_KEYS = ("y_train", "y_test")
NAMES_KEY = "class_names"


def _read_npz(path: Path, keys: tuple[str, ...]) -> dict[str, np.ndarray]:
    try:
        archive = np.load(path, allow_pickle=False)
    except (OSError, ValueError, EOFError, zipfile.BadZipFile) as err:
        raise DatasetError(f"{path}: not a readable .npz file ({err})") from err
    if not isinstance(archive, np.lib.npyio.NpzFile):
        raise DatasetError(f"{path}: a single .npy array, not an .npz archive; save it with numpy.savez")
    out = {}
    with archive:
        for key in (*keys, NAMES_KEY):
            if key not in archive.files:
                if key == NAMES_KEY:
                    continue
                raise DatasetError(f"{path}: no array {key!r} (it has {', '.join(archive.files) or 'none'})")
            try:
                out[key] = archive[key]
            except ValueError as err:
                raise DatasetError(f"{path}: {key!r} is an object array, which is not unpickled; save plain "
                                   "arrays (images: convert to uint8; class_names: a unicode string array)") from err
            except (OSError, EOFError, zipfile.BadZipFile) as err:
                raise DatasetError(f"{path}: cannot read {key!r} ({err}); the file is corrupt or truncated") from err
    return out


def _read_h5(path: Path, keys: tuple[str, ...]) -> dict[str, np.ndarray]:
    try:
        f = h5py.File(path, "r")
    except OSError as err:
        raise DatasetError(f"{path}: not a readable HDF5 file ({err})") from err
    out = {}
    with f:
        for key in keys:
            if not isinstance(f.get(key), h5py.Dataset):
                raise DatasetError(f"{path}: no dataset {key!r} at the root (it has {', '.join(f) or 'none'})")
            out[key] = f[key][()]
        if isinstance(f.get(NAMES_KEY), h5py.Dataset):
            names = f[NAMES_KEY]
            out[NAMES_KEY] = names.asstr()[()] if h5py.check_string_dtype(names.dtype) else names[()]
        elif NAMES_KEY in f.attrs:
            out[NAMES_KEY] = f.attrs[NAMES_KEY]
    return out


def read_keys(path: Path, keys: tuple[str, ...]) -> dict[str, np.ndarray]:
    """The arrays ``keys`` of the file, and ``class_names`` where present."""
    if not path.is_file():
        raise DatasetError(f"{path}: file not found")
    suffix = path.suffix.lower()
    if suffix == ".npz":
        return _read_npz(path, keys)
    if suffix in (".h5", ".hdf5"):
        return _read_h5(path, keys)
    raise DatasetError(f"{path}: expected a .npz, .h5 or .hdf5 file")


def check_images(x: np.ndarray, path: Path, key: str) -> np.ndarray:
    """``x`` as uint8 (N, H, W, C), C 1 or 3; a 3-d array gets C = 1."""
    if x.dtype != np.uint8:
        raise DatasetError(f"{path}: {key} has dtype {x.dtype}; convert to uint8 (0..255)")
    if x.ndim == 3:
        x = x[..., None]
    if x.ndim != 4 or x.shape[3] not in (1, 3):
        raise DatasetError(f"{path}: {key} has shape {x.shape}; expected (N, H, W) or (N, H, W, C) "
                           "with C 1 (gray) or 3 (RGB), uint8")
    return x


def check_labels(y: np.ndarray, path: Path, key: str) -> np.ndarray:
    """``y`` as int64 (N,); DatasetError for another shape, a non-integer
    type or a negative label."""
    if y.ndim != 1:
        raise DatasetError(f"{path}: {key} has shape {y.shape}; expected labels of shape (N,)")
    if not np.issubdtype(y.dtype, np.integer):
        raise DatasetError(f"{path}: {key} has dtype {y.dtype}; labels must be integers 0..K-1")
    if (y < 0).any():
        raise DatasetError(f"{path}: {key} holds the negative label {y[y < 0][0]}; labels must be 0..K-1")
    return y.astype(np.int64)


def check_class_names(names, labels: dict[str, np.ndarray], path: Path) -> tuple[str, ...]:
    """The class names (given, else ``"0"`` .. ``"K-1"`` for K = largest
    label + 1); DatasetError where a label has no name."""
    if names is None:
        k = max(int(y.max(initial=-1)) for y in labels.values()) + 1
        return tuple(str(i) for i in range(k))
    array = np.asarray(names)
    if array.ndim != 1 or not all(isinstance(n, (str, bytes)) for n in array.tolist()):
        raise DatasetError(f"{path}: {NAMES_KEY} must be a 1-d array of strings, got {array.dtype} "
                           f"of shape {array.shape}")
    names = tuple(n.decode() if isinstance(n, bytes) else n for n in array.tolist())
    repeated = sorted({n for n in names if names.count(n) > 1})
    if repeated:
        raise DatasetError(f"{path}: {NAMES_KEY} repeats {', '.join(map(repr, repeated))}; name each class once")
    for key, y in labels.items():
        bad = y[y >= len(names)]
        if len(bad):
            raise DatasetError(f"{path}: {key} holds label {bad[0]} but {NAMES_KEY} has {len(names)} names "
                               f"(labels 0..{len(names) - 1})")
    return names


def _labels_and_names(arrays: dict, path: Path) -> tuple[dict[str, np.ndarray], tuple[str, ...]]:
    labels = {key: check_labels(arrays[key], path, key) for key in LABEL_KEYS}
    return labels, check_class_names(arrays.get(NAMES_KEY), labels, path)


def load(path: Path, options: Mapping) -> RawDataset:
    arrays = read_keys(path, (*IMAGE_KEYS, *LABEL_KEYS))
    labels, names = _labels_and_names(arrays, path)
    images = {key: check_images(arrays[key], path, key) for key in IMAGE_KEYS}
    for x_key, y_key in zip(IMAGE_KEYS, LABEL_KEYS):
        if len(images[x_key]) != len(labels[y_key]):
            raise DatasetError(f"{path}: {x_key} holds {len(images[x_key])} images but {y_key} "
                               f"{len(labels[y_key])} labels; give one label per image")
    if images["x_train"].shape[1:] != images["x_test"].shape[1:]:
        raise DatasetError(f"{path}: x_train images are {images['x_train'].shape[1:]} (H, W, C) but x_test "
                           f"images {images['x_test'].shape[1:]}; both splits need one size")
    return RawDataset.in_order(images["x_train"], labels["y_train"], images["x_test"], labels["y_test"], names)


def read_labels(path: Path, options: Mapping) -> tuple[np.ndarray, np.ndarray]:
    labels, _ = _labels_and_names(read_keys(path, LABEL_KEYS), path)
    return labels["y_train"], labels["y_test"]


def class_names(path: Path, options: Mapping) -> tuple[str, ...]:
    return _labels_and_names(read_keys(path, LABEL_KEYS), path)[1]


def required_files(path: Path, options: Mapping) -> list[Path]:
    return [path]


SOURCE = register(Source("arrays", load, read_labels, class_names, required_files, names_from_data=True))
