"""HDF5 stores of named arrays, written atomically and without time stamps
(the same arrays and attributes give byte-identical files), and read with
errors that name the file. The stores' layouts are in docs/hdf5-layout.md;
:mod:`effaug.task` and :mod:`effaug.features` hold the two with a fixed layout.
"""

from __future__ import annotations

import contextlib
import json
from collections.abc import Iterator, Mapping
from pathlib import Path

import h5py
import numpy as np

from effaug.provenance import REBUILD
from effaug.runtime import atomic_output


class StoreError(ValueError):
    """An HDF5 store is missing datasets or holds invalid values."""


_ORDER = h5py.h5p.CRT_ORDER_TRACKED | h5py.h5p.CRT_ORDER_INDEXED


def _create_h5(path: Path) -> h5py.File:
    """A new HDF5 file whose objects carry no time stamps."""
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
    """A store of named arrays (``scores.h5``, k-DPP kernels, Update states,
    ``task.h5``, ``features.h5``); attributes that are not a number or a
    string are stored as JSON."""
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


def require_datasets(f: h5py.File, path: Path, names) -> None:
    """StoreError naming the file and the missing datasets, where any of ``names`` is not in ``f``."""
    missing = [n for n in names if n not in f]
    if missing:
        raise StoreError(f"{path}: missing dataset(s) {', '.join(missing)}; the file is not an effaug store or "
                         f"was written by another version: {REBUILD}")


def read_arrays(path: Path, required=()) -> tuple[dict[str, np.ndarray], dict]:
    """All arrays of a store (names with their group paths) and its attributes."""
    arrays = {}
    with open_store(path) as f:
        require_datasets(f, path, required)
        f.visititems(lambda name, obj: arrays.__setitem__(name, obj[()]) if isinstance(obj, h5py.Dataset) else None)
        return arrays, dict(f.attrs)
