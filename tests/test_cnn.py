import hashlib
import subprocess
import sys
import textwrap

import numpy as np
import pytest

from effaug import cnn
from tests.conftest import REPO, pattern_images

THREADS = 2  # one intra-op thread count for the whole test process

TRAIN_AND_HASH = textwrap.dedent("""
    import hashlib, sys
    import numpy as np
    from effaug import cnn
    from tests.conftest import pattern_images
    seed = int(sys.argv[1])
    labels = np.arange(64) % 2
    images = pattern_images(labels, 28, 1, seed=5)
    spec = cnn.FeaturizerSpec(architecture="mnist_cnn", epochs=2, batch_size=16, seed=seed, threads=2)
    model, _ = cnn.train(images, labels, spec)
    features = cnn.featurize(cnn.bottleneck(model), images, 32)
    print(hashlib.sha256(features.tobytes()).hexdigest())
""")


def tiny_task(n=64, size=28, channels=1):
    labels = np.arange(n) % 2
    return pattern_images(labels, size, channels, seed=5), labels


def train_and_hash(seed):
    images, labels = tiny_task()
    spec = cnn.FeaturizerSpec(architecture="mnist_cnn", epochs=2, batch_size=16, seed=seed, threads=THREADS)
    model, history = cnn.train(images, labels, spec)
    features = cnn.featurize(cnn.bottleneck(model), images, 32)
    return hashlib.sha256(features.tobytes()).hexdigest(), features, history


def test_same_seed_same_features_in_process_and_in_a_new_process():
    first, features, history = train_and_hash(seed=3)
    again, _, _ = train_and_hash(seed=3)
    other, _, _ = train_and_hash(seed=4)
    assert features.shape == (64, 512) and features.dtype == np.float32
    assert first == again
    assert first != other
    assert [row["epoch"] for row in history] == [1, 2]
    assert all(row["seconds"] > 0 and 0 <= row["accuracy"] <= 1 for row in history)
    runs = [
        subprocess.run([sys.executable, "-c", TRAIN_AND_HASH, "3"], cwd=REPO, capture_output=True, text=True,
                       env={"TF_CPP_MIN_LOG_LEVEL": "3", "PATH": "/usr/bin:/bin"}, check=True).stdout.split()[-1]
        for _ in range(2)
    ]
    assert runs == [first, first]


def test_training_learns_the_pattern():
    images, labels = tiny_task(n=128)
    spec = cnn.FeaturizerSpec(architecture="lenet", epochs=15, batch_size=16, seed=0, threads=THREADS)
    model, history = cnn.train(images, labels, spec)
    assert history[-1]["accuracy"] > 0.9
    predicted = model.predict(cnn.to_inputs(images), verbose=0).argmax(axis=1)
    assert (predicted == labels).mean() > 0.9


def test_epoch_seconds_times_repeats_epochs_per_set_on_one_model(monkeypatch):
    images, labels = tiny_task(n=24)
    sets = [(images[:8], labels[:8]), (images, labels), (images[:16], labels[:16])]
    builds = []
    build = cnn.build
    monkeypatch.setattr(cnn, "build", lambda *args, **kwargs: builds.append(args) or build(*args, **kwargs))
    spec = cnn.FeaturizerSpec(architecture="mnist_cnn", batch_size=8, seed=0, threads=THREADS)
    seconds = cnn.epoch_seconds(sets, spec, 2, repeats=2)
    assert len(builds) == 1  # one model trains through every set
    assert [len(s) for s in seconds] == [2, 2, 2]
    assert all(0 < s < 60 for row in seconds for s in row)


def weights_digest(model) -> str:
    return hashlib.sha256(b"".join(np.asarray(w).tobytes() for w in model.get_weights())).hexdigest()


@pytest.mark.parametrize("architecture,size,channels,shuffle,initial_epoch", [
    ("mnist_cnn", 28, 1, True, 0), ("lenet", 28, 1, False, 1), ("resnet_v2", 32, 3, True, 0)])
def test_fit_trains_the_weights_of_keras_fit_to_the_bit(architecture, size, channels, shuffle, initial_epoch):
    images, labels = tiny_task(n=70, size=size, channels=channels)  # batches of 16 and a partial one of 6
    spec = cnn.FeaturizerSpec(architecture=architecture, depth=11, batch_size=16, seed=3, threads=THREADS)
    inputs, labels = cnn.pixel_inputs(images, spec.preprocessing, training=True), labels.astype(np.int64)
    runs = []
    for train in ("keras", "ours"):
        model = cnn._compiled(spec, (size, size, channels), 2, None)
        history: list[dict] = []
        callbacks = [cnn._history_callback(history, len(inputs))]
        if train == "keras":
            model.fit(inputs, labels, epochs=3, batch_size=16, shuffle=shuffle, initial_epoch=initial_epoch,
                      verbose=0, callbacks=callbacks)
        else:
            cnn.fit(model, inputs, labels, 3, 16, shuffle=shuffle, initial_epoch=initial_epoch, callbacks=callbacks)
        runs.append((weights_digest(model), [(row["epoch"], row["loss"], row["accuracy"]) for row in history]))
    assert len(runs[0][1]) == 3 - initial_epoch
    assert runs[0] == runs[1]


@pytest.mark.parametrize("shape", [(32, 32, 3), (96, 96, 1)])
def test_resnet_v2_bottleneck_is_256_wide(shape):
    model = cnn.build(cnn.FeaturizerSpec(architecture="resnet_v2", depth=11, threads=THREADS), shape, 5)
    assert model.get_layer("bottleneck").output.shape[-1] == 256
    assert model.output.shape[-1] == 5
    # 9k+2 depth: one bottleneck block (3 convs) per stage for depth 11
    convs = [layer for layer in model.layers if layer.__class__.__name__ == "Conv2D"]
    assert len(convs) == 1 + 3 * 3 + 3  # stem + blocks + projection shortcuts


@pytest.mark.parametrize("architecture", cnn.ARCHITECTURES)
def test_feature_dims_are_the_built_bottleneck_widths(architecture):
    spec = cnn.FeaturizerSpec(architecture=architecture, depth=11, threads=THREADS)
    model = cnn.build(spec, (32, 32, 1), 2)
    assert model.get_layer("bottleneck").output.shape[-1] == cnn.FEATURE_DIMS[architecture]


def test_resnet_v2_deeper_has_more_blocks():
    spec = cnn.FeaturizerSpec(architecture="resnet_v2", depth=20, threads=THREADS)
    model = cnn.build(spec, (32, 32, 3), 10)
    convs = [layer for layer in model.layers if layer.__class__.__name__ == "Conv2D"]
    assert len(convs) == 1 + 3 * 2 * 3 + 3


def test_resnet_v2_trains_and_saves(tmp_path):
    images, labels = tiny_task(n=16, size=32, channels=3)
    spec = cnn.FeaturizerSpec(architecture="resnet_v2", depth=11, epochs=1, batch_size=8, threads=THREADS)
    model, history = cnn.train(images, labels, spec)
    cnn.save(model, history, tmp_path / "m.keras", tmp_path / "h.tsv", tmp_path / "t.tsv")
    loaded = cnn.load(tmp_path / "m.keras")
    a = cnn.featurize(cnn.bottleneck(model), images, 8)
    b = cnn.featurize(cnn.bottleneck(loaded), images, 8)
    assert a.shape == (16, 256)
    np.testing.assert_array_equal(a, b)
    lines = [line for line in (tmp_path / "h.tsv").read_text().splitlines() if not line.startswith("#")]
    assert lines[0].split("\t") == list(cnn.HISTORY_COLUMNS) and len(lines) == 2
    assert "seconds" not in lines[0]  # wall-clock time: in the timings file only
    timings = (tmp_path / "t.tsv").read_text().splitlines()
    assert timings[0].split("\t") == list(cnn.TIMING_COLUMNS) == ["epoch", "seconds"] and len(timings) == 2
    assert timings[1].split("\t")[0] == "1" and float(timings[1].split("\t")[1]) > 0


def test_a_saved_model_is_the_same_bytes_every_time(tmp_path):
    """Keras writes the save time (member dates, metadata.json) and the memory addresses of shared
    objects (config.json) into the archive: save takes them out."""
    import time
    import zipfile

    import keras

    spec = cnn.FeaturizerSpec(architecture="mnist_cnn", threads=THREADS)
    models = []
    for name in ("a", "b"):  # the same model in other objects (other addresses), saved at another time
        keras.backend.clear_session()  # the same layer names
        cnn.configure_tensorflow(THREADS, 0)
        models.append(cnn.build(spec, (28, 28, 1), 2))
        cnn.save(models[-1], [], tmp_path / f"{name}.keras", tmp_path / f"{name}.tsv")
        time.sleep(2.1)  # zip time stamps count in steps of 2 s
    model = models[0]
    assert (tmp_path / "a.keras").read_bytes() == (tmp_path / "b.keras").read_bytes()
    with zipfile.ZipFile(tmp_path / "b.keras") as archive:
        assert {info.date_time for info in archive.infolist()} == {cnn.ARCHIVE_DATE}
    images = tiny_task(n=8)[0]
    np.testing.assert_array_equal(cnn.featurize(cnn.bottleneck(cnn.load(tmp_path / "b.keras")), images, 8),
                                  cnn.featurize(cnn.bottleneck(model), images, 8))


def test_spec_validation():
    with pytest.raises(cnn.FeaturizerError, match="9k\\+2"):
        cnn.FeaturizerSpec(architecture="resnet_v2", depth=21)
    with pytest.raises(cnn.FeaturizerError, match="unknown architecture"):
        cnn.FeaturizerSpec(architecture="vgg")
    with pytest.raises(cnn.FeaturizerError, match="epochs"):
        cnn.FeaturizerSpec(epochs=0)


# --------------------------------------------------------------------------
# A user's model file as the featurizer


def small_model(path, shape=(12, 12, 1)):
    import keras

    cnn.configure_tensorflow(THREADS, 1)  # before TensorFlow runs anything in this process
    inputs = keras.Input(shape)
    x = keras.layers.Conv2D(2, 3, name="conv")(inputs)
    x = keras.layers.Flatten(name="flat")(x)
    keras.Model(inputs, keras.layers.Dense(3, activation="softmax", name="head")(x)).save(path)


def test_user_model_gives_the_named_layers_output(tmp_path):
    small_model(tmp_path / "m.keras")
    extractor = cnn.user_extractor(tmp_path / "m.keras", "flat", (12, 12, 1))
    images = np.random.default_rng(0).integers(0, 256, (4, 12, 12, 1), dtype=np.uint8)
    features = cnn.featurize(extractor, images, 2)
    assert features.shape == (4, 10 * 10 * 2) and features.dtype == np.float32
    # input_range [-1, 1] feeds 2 x / 255 - 1: the conv sees other inputs
    scaled = cnn.featurize(extractor, images, 2, (-1.0, 1.0))
    assert not np.allclose(scaled, features)
    np.testing.assert_array_equal(cnn.to_inputs(images, (-1.0, 1.0)),
                                  cnn.to_inputs(images) * np.float32(2.0) + np.float32(-1.0))


def test_user_model_errors_name_the_file_and_the_fix(tmp_path):
    small_model(tmp_path / "m.keras")
    with pytest.raises(cnn.FeaturizerError, match="has no layer 'bottleneck'; its layers are: .*conv, flat, head"):
        cnn.user_extractor(tmp_path / "m.keras", "bottleneck", (12, 12, 1))
    with pytest.raises(cnn.FeaturizerError, match=r"takes inputs of shape \(12, 12, 1\) but the images are "
                                                  r"\(16, 16, 3\); set the dataset's image_size / channels"):
        cnn.user_extractor(tmp_path / "m.keras", "flat", (16, 16, 3))
    (tmp_path / "broken.keras").write_bytes(b"PK\x03\x04 not a zip")
    with pytest.raises(cnn.FeaturizerError, match="broken.keras: cannot load it as a Keras model"):
        cnn.load_user_model(tmp_path / "broken.keras")
    with pytest.raises(cnn.FeaturizerError, match="missing.keras: file not found"):
        cnn.load_user_model(tmp_path / "missing.keras")
    (tmp_path / "weights.h5").write_bytes(b"")
    with pytest.raises(cnn.FeaturizerError, match="expected a Keras 3 '.keras' model file"):
        cnn.load_user_model(tmp_path / "weights.h5")
