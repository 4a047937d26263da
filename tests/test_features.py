import time

import h5py
import numpy as np
import pytest

from effaug import augment, cnn
from effaug import features as F
from effaug import task as T
from tests.conftest import REPO, pattern_images, write_mnist_idx

THREADS = 2


@pytest.fixture(scope="module")
def task_and_model(tmp_path_factory):
    directory = tmp_path_factory.mktemp("mnist")
    write_mnist_idx(directory, n_train=60, n_test=30)
    task = T.make_task("mnist_idx", directory, [3, 8], 10)
    labels = np.arange(32) % 2
    spec = cnn.FeaturizerSpec(architecture="lenet", epochs=1, batch_size=16, threads=THREADS)
    model, _ = cnn.train(pattern_images(labels, 28, 1, seed=2), labels, spec)
    return task, model


def test_data_h5_roundtrip(tmp_path, task_and_model):
    task, _ = task_and_model
    T.write_task(tmp_path / "task.h5", task, {"dataset": "tiny", "source": "mnist_idx"})
    back = T.read_task(tmp_path / "task.h5")
    for name in ("train_images", "train_labels", "train_index", "test_images", "test_labels", "test_index"):
        np.testing.assert_array_equal(getattr(back, name), getattr(task, name))
    assert back.class_names == ("3", "8") and back.classes == (3, 8)
    with h5py.File(tmp_path / "task.h5") as f:
        assert set(T.TASK_LAYOUT) <= {f"{g}/{d}" for g in f for d in f[g]}
        assert f["train/images"].dtype == np.uint8 and f.attrs["source"] == "mnist_idx"


def test_features_layout(tmp_path, task_and_model):
    task, model = task_and_model
    params = {"px": [1, 2, 3]}
    fs = F.compute_features(cnn.bottleneck(model), task, "crop", params, batch_size=7, chunk=4)
    F.write_features(tmp_path / "features.h5", fs, {"dataset": "tiny"})
    back = F.read_features(tmp_path / "features.h5")
    n, m, k, d = len(task.train_labels), len(task.test_labels), 3, 84
    assert back.train.shape == (n, d) and back.train.dtype == np.float32
    assert back.augmented.shape == (k * n, d)
    assert back.test.shape == (m, d)
    assert back.poisoned_test.shape == ((k + 1) * m, d)
    np.testing.assert_array_equal(back.augmented_source, np.repeat(np.arange(n), k))
    np.testing.assert_array_equal(back.augmented_transform, np.tile(np.arange(k), n))
    np.testing.assert_array_equal(back.poisoned_test[:m], back.test)
    np.testing.assert_array_equal(back.poisoned_test_transform[:m], -1)
    np.testing.assert_array_equal(back.poisoned_test_labels, task.test_labels[back.poisoned_test_source])
    assert back.attrs["n_transforms"] == k and back.attrs["augmentation"] == "crop"
    assert back.attrs["dataset"] == "tiny"
    # chunked computation equals featurizing the augmented images in one go
    images, _, _ = augment.augment(task.train_images, "crop", params)
    direct = cnn.featurize(cnn.bottleneck(model), images, 7)
    np.testing.assert_allclose(back.augmented, direct, rtol=1e-6, atol=1e-6)
    np.testing.assert_array_equal(back.augmented_rows(np.array([2, 0])), [6, 7, 8, 0, 1, 2])
    with h5py.File(tmp_path / "features.h5") as f:
        np.testing.assert_array_equal(f["augmented/labels"][()], task.train_labels[back.augmented_source])


def test_same_arrays_give_identical_files(tmp_path, task_and_model):
    task, model = task_and_model
    fs = F.compute_features(cnn.bottleneck(model), task, "translate", {"shift": 2})
    F.write_features(tmp_path / "a.h5", fs)
    time.sleep(1.1)  # HDF5 time stamps have one-second resolution
    F.write_features(tmp_path / "b.h5", fs)
    assert (tmp_path / "a.h5").read_bytes() == (tmp_path / "b.h5").read_bytes()


def test_read_features_errors_name_the_file(tmp_path, task_and_model):
    task, model = task_and_model
    fs = F.compute_features(cnn.bottleneck(model), task, "translate", {"shift": 2})
    path = tmp_path / "features.h5"
    F.write_features(path, fs)
    with h5py.File(path, "a") as f:
        del f["poisoned_test/labels"]
    with pytest.raises(F.StoreError, match=r"features.h5: missing dataset\(s\) poisoned_test/labels"):
        F.read_features(path)
    fs.train[0, 0] = np.nan
    F.write_features(path, fs)
    with pytest.raises(F.StoreError, match="features.h5: train/features holds NaN"):
        F.read_features(path)
    path.write_bytes(b"not hdf5")
    with pytest.raises(F.StoreError, match="not a readable HDF5 file"):
        F.read_features(path)
    with pytest.raises(F.StoreError, match="file not found"):
        F.read_features(tmp_path / "nothing.h5")


def test_failed_write_leaves_no_file(tmp_path, task_and_model):
    task, _ = task_and_model
    broken = F.Task(**{**task.__dict__, "train_labels": None})
    with pytest.raises(Exception):
        T.write_task(tmp_path / "task.h5", broken, {})
    assert list(tmp_path.iterdir()) == []


def test_layout_is_documented():
    doc = (REPO / "docs" / "hdf5-layout.md").read_text()
    for name in [*T.TASK_LAYOUT, *F.FEATURES_LAYOUT]:
        assert f"`{name}`" in doc, name


@pytest.mark.parametrize("augmentation, params", [("rotate", {"max_angle": 30, "n_angles": 3}),
                                                  ("crop", {"px": [1, 2]})])
def test_epoch_timing_sets_equal_the_retraining_sets_of_a_random_order(task_and_model, augmentation, params):
    from effaug import experiment as E

    task, _ = task_and_model
    budgets = [0, 3, 5, 10]
    order = np.random.default_rng(7).permutation(len(task.train_images))
    for budget, (images, labels) in zip(budgets, E.timing_sets(task, augmentation, params, budgets, seed=7),
                                        strict=True):
        expected_images, expected_labels, _ = E.retraining_set(task, augmentation, params, order[:budget])
        np.testing.assert_array_equal(images, expected_images)
        np.testing.assert_array_equal(labels, expected_labels)
