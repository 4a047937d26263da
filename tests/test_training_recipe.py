"""The featurizer's training recipe: learning-rate steps, per-pixel mean, training-time augmentation and
checkpoints that a training resumes from to the bits of an uninterrupted one."""

import dataclasses

import numpy as np
import pytest

from effaug import cnn
from tests.conftest import pattern_images

THREADS = 2  # one intra-op thread count per test process (as tests/test_cnn.py)


def task(n=48, size=28):
    labels = np.arange(n) % 2
    return pattern_images(labels, size, 1, seed=11), labels


RECIPE = cnn.FeaturizerSpec(architecture="lenet", epochs=4, batch_size=16, seed=3, threads=THREADS,
                            preprocessing="pixel_mean", lr_schedule=[[0, 0.5], [2, 0.1]], training_shift=0.1,
                            training_flip=True, resume=True)


def weights(model):
    return [np.asarray(w) for w in model.get_weights()]


def assert_same_weights(a, b):
    assert len(a) == len(b)
    for x, y in zip(a, b):
        np.testing.assert_array_equal(x, y)


def test_the_authors_step_decay():
    spec = cnn.FeaturizerSpec(architecture="resnet_v2", learning_rate=1e-3, lr_schedule=cnn.AUTHORS_LR_SCHEDULE)
    rates = {epoch: spec.learning_rate_at(epoch) for epoch in (0, 80, 81, 120, 121, 160, 161, 180, 181, 199)}
    assert rates == pytest.approx({0: 1e-3, 80: 1e-3, 81: 1e-4, 120: 1e-4, 121: 1e-5, 160: 1e-5, 161: 1e-6,
                                   180: 1e-6, 181: 5e-7, 199: 5e-7}, rel=1e-12)
    assert cnn.FeaturizerSpec().learning_rate_at(500) == 1e-3


@pytest.mark.parametrize("resume", [False, True])
def test_training_follows_the_schedule(resume):
    images, labels = task()
    spec = dataclasses.replace(RECIPE, epochs=3, resume=resume)
    model, history = cnn.train(images, labels, spec)
    assert [row["epoch"] for row in history] == [1, 2, 3]
    assert float(model.optimizer.learning_rate) == pytest.approx(1e-3 * 0.5, rel=1e-6)  # index 2 exceeds 0, not 2
    spec = dataclasses.replace(spec, epochs=4)
    model, _ = cnn.train(images, labels, spec)
    assert float(model.optimizer.learning_rate) == pytest.approx(1e-3 * 0.1, rel=1e-6)  # index 3 exceeds 2


def test_resume_continues_to_the_bits_of_an_uninterrupted_training(tmp_path):
    images, labels = task()
    straight, history = cnn.train(images, labels, RECIPE, tmp_path / "straight")
    # an interruption after epoch 2 is a checkpoint after epoch 2: the same as a 2-epoch training's
    cnn.train(images, labels, dataclasses.replace(RECIPE, epochs=2), tmp_path / "interrupted")
    assert len(list((tmp_path / "interrupted").glob("model-*.keras"))) == 1
    resumed, resumed_history = cnn.train(images, labels, RECIPE, tmp_path / "interrupted")
    assert_same_weights(weights(straight), weights(resumed))
    assert [row["loss"] for row in resumed_history] == [row["loss"] for row in history]
    assert not np.array_equal(weights(straight)[0], weights(cnn.build(RECIPE, images.shape[1:], 2))[0])


@pytest.mark.parametrize("architecture,size", [("mnist_cnn", 28), ("resnet_v2", 16)])
def test_resume_is_exact_with_dropout_and_batch_normalisation(tmp_path, architecture, size):
    images, labels = task(n=32, size=size)
    spec = dataclasses.replace(RECIPE, architecture=architecture, depth=11, epochs=3, training_shift=0.0,
                               training_flip=False)
    straight, _ = cnn.train(images, labels, spec, tmp_path / "straight")
    cnn.train(images, labels, dataclasses.replace(spec, epochs=1), tmp_path / "interrupted")
    resumed, _ = cnn.train(images, labels, spec, tmp_path / "interrupted")
    assert_same_weights(weights(straight), weights(resumed))
    # a checkpoint beyond the epochs asked for is not this training's state: it starts anew
    shorter, _ = cnn.train(images, labels, dataclasses.replace(spec, epochs=2), tmp_path / "interrupted")
    fresh, _ = cnn.train(images, labels, dataclasses.replace(spec, epochs=2))
    assert_same_weights(weights(shorter), weights(fresh))


def test_a_checkpoint_of_other_settings_or_data_is_not_resumed(tmp_path):
    images, labels = task()
    folder = tmp_path / "checkpoint"
    cnn.train(images, labels, dataclasses.replace(RECIPE, epochs=2, seed=4), folder)
    other_seed, _ = cnn.train(images, labels, RECIPE, folder)  # seed 3: starts anew, then replaces it
    fresh, _ = cnn.train(images, labels, RECIPE)
    assert_same_weights(weights(other_seed), weights(fresh))
    flipped = images[:, :, ::-1].copy()
    assert cnn.training_key(flipped, labels, RECIPE) != cnn.training_key(images, labels, RECIPE)
    assert cnn.training_key(images, labels, RECIPE) == cnn.training_key(
        images, labels, dataclasses.replace(RECIPE, epochs=400))
    (folder / "state.json").write_text("{not json")
    damaged, _ = cnn.train(images, labels, RECIPE, folder)  # a damaged checkpoint: starts anew
    assert_same_weights(weights(damaged), weights(fresh))


def test_the_pixel_mean_is_part_of_the_model_and_random_layers_rest_when_featurizing():
    import keras

    images, labels = task()
    model, _ = cnn.train(images, labels, dataclasses.replace(RECIPE, epochs=1))
    x = cnn.pixel_inputs(images, "pixel_mean", training=False)
    np.testing.assert_array_equal(x, cnn.to_inputs(images))
    centred = keras.Model(model.inputs, model.get_layer("pixel_mean").output).predict(x, verbose=0)
    mean = cnn.to_inputs(images).mean(axis=0, dtype=np.float64).astype(np.float32)
    np.testing.assert_allclose(centred, x - mean, rtol=0, atol=1e-7)
    flipped = keras.Model(model.inputs, model.get_layer("training_flip").output).predict(x, verbose=0)
    np.testing.assert_array_equal(flipped, centred)  # no shift, no flip outside training
    extractor = cnn.bottleneck(model)
    first = cnn.featurize(extractor, images, 32, preprocessing="pixel_mean")
    np.testing.assert_array_equal(first, cnn.featurize(extractor, images, 32, preprocessing="pixel_mean"))


def test_recipe_keys_need_a_built_in_architecture():
    for key, value in (("lr_schedule", [[1, 0.1]]), ("training_flip", True), ("resume", True),
                       ("preprocessing", "pixel_mean")):
        with pytest.raises(cnn.FeaturizerError, match=f"featurizer.{key} is part of training"):
            cnn.FeaturizerSpec(file="model.keras", **{key: value})
    with pytest.raises(cnn.FeaturizerError, match="increasing epochs"):
        cnn.FeaturizerSpec(lr_schedule=[[120, 0.01], [80, 0.1]])
    with pytest.raises(cnn.FeaturizerError, match=r"\[epoch, factor\] pairs"):
        cnn.FeaturizerSpec(lr_schedule=[80])
    with pytest.raises(cnn.FeaturizerError, match="training_shift"):
        cnn.FeaturizerSpec(training_shift=0.7)


def test_a_killed_featurizer_training_resumes_to_the_same_model(tmp_path):
    """The workflow: kill the train_featurizer job after a few epochs, run again: it resumes from the last
    checkpoint, saves the bytes of an uninterrupted training and removes the checkpoint."""
    import copy
    import json
    import os
    import signal
    import subprocess
    import time

    import yaml

    from tests.test_reruns import SMALL
    from tests.test_workflow import snakemake, snakemake_command, workflow_env

    config = copy.deepcopy(SMALL)
    config["datasets"]["tiny"]["n_train"] = 100
    config["experiment"]["budgets"] = [25]  # the summary's 25% of 100
    config["datasets"]["tiny"]["featurizer"] = {"architecture": "lenet", "epochs": 12, "batch_size": 10,
                                                "threads": 1, "resume": True, "training_flip": True,
                                                "preprocessing": "pixel_mean", "lr_schedule": [[5, 0.5]]}
    target = "results/tiny/featurizer.keras"
    runs = {}
    for name in ("straight", "killed"):
        workdir = tmp_path / name
        workdir.mkdir()
        (workdir / "config.yaml").write_text(yaml.safe_dump(config))
        runs[name] = workdir
    result = snakemake(runs["straight"], "--cores", "1", target)
    assert result.returncode == 0, result.stderr[-3000:]
    assert not (runs["straight"] / "results/tiny/featurizer_checkpoint").exists()

    workdir = runs["killed"]
    state = workdir / "results/tiny/featurizer_checkpoint/state.json"
    process = subprocess.Popen(snakemake_command(workdir, "--cores", "1", target), cwd=workdir,
                               env=workflow_env(workdir), stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                               start_new_session=True)
    deadline = time.time() + 300
    while not (state.is_file() and len(json.loads(state.read_text())["history"]) >= 3):
        assert process.poll() is None and time.time() < deadline, "the training ended before it could be killed"
        time.sleep(0.05)
    os.killpg(process.pid, signal.SIGKILL)
    process.wait()
    done = len(json.loads(state.read_text())["history"])
    assert 3 <= done < 12 and not (workdir / target).exists()
    assert snakemake(workdir, "--unlock").returncode == 0
    result = snakemake(workdir, "--cores", "1", "--rerun-incomplete", target)
    assert result.returncode == 0, result.stderr[-3000:]
    log = (workdir / "results/logs/train_featurizer/tiny.log").read_text()
    assert f"resuming lenet from the checkpoint after epoch {done}" in log
    assert (workdir / target).read_bytes() == (runs["straight"] / target).read_bytes()
    assert (workdir / "results/tiny/featurizer_history.tsv").read_text() == \
        (runs["straight"] / "results/tiny/featurizer_history.tsv").read_text()
    assert not (workdir / "results/tiny/featurizer_checkpoint").exists()
