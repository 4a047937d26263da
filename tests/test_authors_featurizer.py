"""Options that reproduce the authors' CNN code (mkuchnik/Efficient_Augmentation): ResNet features pooled in 8x8
tiles (their smallNORB), their ResNet preprocessing quirk, and the CNN seed of retrain-mode jobs."""

from __future__ import annotations

import hashlib

import numpy as np
import pytest

from effaug import cnn
from effaug import experiment as E
from effaug import features as F
from effaug import task as T
from tests.conftest import write_mnist_idx

THREADS = 2  # one intra-op thread count for the whole test process


def resnet(shape, pool_size=None, seed=0):
    """A depth-11 ResNet-v2 (5 classes) with weights drawn from ``seed``."""
    cnn.configure_tensorflow(THREADS, seed)
    return cnn.build(cnn.FeaturizerSpec(architecture="resnet_v2", depth=11, pool_size=pool_size, threads=THREADS),
                     shape, 5)


def images(shape, n=3, seed=0):
    return np.random.default_rng(seed).integers(0, 256, (n, *shape), dtype=np.uint8)


# --------------------------------------------------------------------------
# featurizer.pool_size


def test_tiles_of_the_last_map_give_d_times_the_tiles_features_and_global_pooling_d():
    shape = (64, 96, 1)  # last map 16 x 24: 2 x 3 tiles of 8 x 8
    tiled = cnn.bottleneck(resnet(shape, pool_size=8))
    features = cnn.featurize(tiled, images(shape), 2)
    assert features.shape == (3, 256 * 2 * 3) == (3, cnn.feature_width("resnet_v2", shape[:2], 8))
    pooled = cnn.featurize(cnn.bottleneck(resnet(shape)), images(shape), 2)
    assert pooled.shape == (3, 256) == (3, cnn.feature_width("resnet_v2", shape[:2]))
    # the features are the means of the 8 x 8 tiles of the last map, flattened (row, column, channel)
    import keras

    pooling = tiled.layers[-2]  # AveragePooling2D, then Flatten (the bottleneck)
    last_map = keras.Model(tiled.inputs, pooling.input).predict(cnn.to_inputs(images(shape)), verbose=0)
    assert last_map.shape == (3, 16, 24, 256)
    means = last_map.reshape(3, 2, 8, 3, 8, 256).mean(axis=(2, 4)).reshape(3, -1)
    np.testing.assert_allclose(features, means, rtol=1e-5, atol=1e-6)


def test_on_32x32_images_8x8_tiles_are_global_pooling():
    shape = (32, 32, 3)  # last map 8 x 8: one tile
    tiled = cnn.featurize(cnn.bottleneck(resnet(shape, pool_size=8, seed=4)), images(shape), 2)
    pooled = cnn.featurize(cnn.bottleneck(resnet(shape, seed=4)), images(shape), 2)
    assert tiled.shape == pooled.shape == (3, 256) and cnn.feature_width("resnet_v2", (32, 32), 8) == 256
    np.testing.assert_allclose(tiled, pooled, rtol=1e-5, atol=1e-6)  # the same weights, the same features


def test_pool_size_errors_name_the_key():
    with pytest.raises(cnn.FeaturizerError, match=r"featurizer.pool_size 8 is larger than the last feature map "
                                                  r"\(4, 4\) of ResNet-v2 on \(16, 16\) images"):
        resnet((16, 16, 1), pool_size=8)
    with pytest.raises(cnn.FeaturizerError, match="featurizer.pool_size applies to the built-in resnet_v2 only"):
        cnn.FeaturizerSpec(architecture="mnist_cnn", pool_size=8)
    with pytest.raises(cnn.FeaturizerError, match="featurizer.pool_size must be null or >= 1"):
        cnn.FeaturizerSpec(architecture="resnet_v2", pool_size=0)


# --------------------------------------------------------------------------
# featurizer.preprocessing


def test_consistent_preprocessing_is_x_over_255_in_training_and_featurizing():
    x = images((6, 5, 3), n=4)
    for training in (True, False):
        np.testing.assert_array_equal(cnn.pixel_inputs(x, "consistent", training), x.astype(np.float32) / 255)


@pytest.mark.parametrize("mode", ["authors", "authors_norb"])
def test_authors_preprocessing_subtracts_the_pixel_mean_in_training_only(mode):
    x = images((6, 5, 3), n=4)
    if mode == "authors":
        scaled = x.astype(np.float32) / np.float32(255)
    else:  # their loader's img_as_float (float64), then their float32 division by 255
        scaled = (x / 255.0).astype(np.float32) / np.float32(255)
        assert scaled.max() <= 1 / 255
    np.testing.assert_array_equal(cnn.pixel_inputs(x, mode, training=False), scaled)
    training = cnn.pixel_inputs(x, mode, training=True)
    np.testing.assert_array_equal(training, scaled - scaled.mean(axis=0))
    assert training.dtype == np.float32 and np.abs(training.mean(axis=0)).max() < 1e-7
    assert not np.allclose(training, scaled)


def test_preprocessing_errors_name_the_key():
    with pytest.raises(cnn.FeaturizerError, match="featurizer.preprocessing must be one of consistent, pixel_mean, authors"):
        cnn.FeaturizerSpec(architecture="resnet_v2", preprocessing="mean")
    with pytest.raises(cnn.FeaturizerError, match="featurizer.preprocessing applies to the built-in resnet_v2"):
        cnn.FeaturizerSpec(architecture="lenet", preprocessing="authors")


def train_weights(pixels, preprocessing):
    """Weights of a depth-11 ResNet trained 2 epochs on 2 images of a constant ``pixels`` (16 x 16 x 1): two, so
    that their float32 mean is exactly the value."""
    spec = cnn.FeaturizerSpec(architecture="resnet_v2", depth=11, epochs=2, batch_size=2, threads=THREADS,
                              preprocessing=preprocessing)
    model, _ = cnn.train(np.full((2, 16, 16, 1), pixels, np.uint8), np.array([0, 1]), spec)
    return model.get_weights()


@pytest.mark.parametrize("mode", ["authors", "authors_norb"])
def test_authors_training_sees_mean_subtracted_images(mode):
    """Identical images minus their mean are zeros: the same training as consistent on black images."""
    zeros = train_weights(0, "consistent")
    for got, want in zip(train_weights(200, mode), zeros, strict=True):
        np.testing.assert_array_equal(got, want)
    assert any(not np.array_equal(a, b) for a, b in zip(train_weights(200, "consistent"), zeros))


def test_authors_features_are_computed_without_the_mean(tmp_path):
    """compute_features and cnn.featurize feed x / 255 / 255 under authors_norb, as the authors' pipeline."""
    write_mnist_idx(tmp_path, n_train=60, n_test=30)
    task = T.make_task("mnist_idx", tmp_path, [3, 8], 10)
    extractor = cnn.bottleneck(resnet((28, 28, 1)))
    fs = F.compute_features(extractor, task, "translate", {"shift": 1}, 8, preprocessing="authors_norb")
    expected = extractor.predict((task.train_images / 255.0).astype(np.float32) / np.float32(255), verbose=0)
    np.testing.assert_allclose(fs.train, expected, rtol=1e-5, atol=1e-7)
    consistent = F.compute_features(extractor, task, "translate", {"shift": 1}, 8)
    assert not np.allclose(fs.train, consistent.train, rtol=1e-3)


# --------------------------------------------------------------------------
# experiment.retrain_seed


def test_per_job_cnn_seeds_differ_between_policy_seeds_and_featurizer_seeds_do_not():
    per_job = [E.retrain_cnn_seed("per_job", 0, "det-prop-update", seed, 5) for seed in (0, 1)]
    assert per_job[0] != per_job[1]
    assert [E.retrain_cnn_seed("featurizer", 3, "det-prop-update", seed, 5) for seed in (0, 1)] == [3, 3]


def test_the_per_job_cnn_seed_is_the_documented_hash():
    # the first 4 bytes of SHA-256("0/det-prop-update/0/5"), big-endian: 0x825a1bb9 (sha256sum of that string)
    assert E.retrain_cnn_seed("per_job", 0, "det-prop-update", 0, 5) == 0x825A1BB9 == 2186943417
    digest = hashlib.sha256(b"7/rand-prop/2/100").digest()
    assert E.retrain_cnn_seed("per_job", 7, "rand-prop", 2, 100) == int.from_bytes(digest[:4], "big")
    seeds = {E.retrain_cnn_seed("per_job", 0, "baseline", s, b) for s in range(5) for b in (1, 10, 50)}
    assert len(seeds) == 15 and max(seeds) < 2**32  # what keras.utils.set_random_seed takes


def test_the_per_set_cnn_seed_is_a_function_of_the_set_and_the_seed():
    seed = E.retrain_cnn_seed("per_set", 0, "det-prop", 0, 3, np.array([5, 1, 9]))
    assert seed == E.retrain_cnn_seed("per_set", 0, "baseline", 0, 3, np.array([9, 5, 1]))  # any policy, any order
    assert seed != E.retrain_cnn_seed("per_set", 0, "det-prop", 1, 3, np.array([5, 1, 9]))  # another curve seed
    assert seed != E.retrain_cnn_seed("per_set", 0, "det-prop", 0, 3, np.array([5, 1, 8]))  # another set
    assert seed != E.retrain_cnn_seed("per_set", 1, "det-prop", 0, 3, np.array([5, 1, 9]))  # another featurizer seed
    digest = hashlib.sha256(np.array([1, 5, 9], dtype="<i8").tobytes()).hexdigest()
    assert seed == int.from_bytes(hashlib.sha256(f"0/0/{digest}".encode()).digest()[:4], "big")


def test_an_unknown_retrain_seed_mode_is_refused_by_name():
    with pytest.raises(ValueError, match="experiment.retrain_seed must be one of per_job, per_set, featurizer, "
                                         "got 'job'"):
        E.retrain_cnn_seed("job", 0, "baseline", 0, 1)
