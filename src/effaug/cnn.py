"""CNN featurizers (Keras 3 on TensorFlow), seeded and deterministic.

A featurizer is a classifier CNN whose layer named ``bottleneck`` gives the
features: the 512-d Dense output of the MNIST CNN, the 84-d penultimate layer
of LeNet, the global-average-pooled 256-d output of ResNet-v2 (or, with
``pool_size`` p, its p x p average pools flattened, as the authors' code).

Or it is the user's own trained model (``featurizer.file``), used frozen: the
features are the output of its layer ``featurizer.layer``, flattened. It is
loaded with Keras' ``safe_mode`` (a file cannot make us run its code), and
its input is the images scaled from 0..255 to ``input_range``.

Determinism: :func:`configure_tensorflow` must run before TensorFlow executes
anything in the process; it seeds Python, NumPy and TensorFlow, turns on op
determinism and pins the intra-op thread count (results differ between
thread counts, so the count is part of the configuration).
"""

from __future__ import annotations

import csv
import logging
import time
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np

from effaug.provenance import update_with_arrays

ARCHITECTURES = ("mnist_cnn", "lenet", "resnet_v2")
# d, the width of each architecture's bottleneck layer (the features); resnet_v2 with a pool_size: feature_width
FEATURE_DIMS = {"mnist_cnn": 512, "lenet": 84, "resnet_v2": 256}
# consistent: the same inputs in training and featurizing; pixel_mean: the same, minus the training images'
# per-pixel mean (a layer of the model); authors*: the authors' ResNet scripts (see pixel_inputs)
PREPROCESSING = ("consistent", "pixel_mean", "authors", "authors_norb")
# the authors' CIFAR-10 step decay (their lr_schedule: the rate times 0.1 once Keras' 0-based epoch index > 80, ...)
AUTHORS_LR_SCHEDULE = ((80, 0.1), (120, 0.01), (160, 0.001), (180, 0.0005))
HISTORY_COLUMNS = ("epoch", "loss", "accuracy", "n_images")
# wall-clock seconds per epoch: a file of their own, so that the history is the same bytes every run
TIMING_COLUMNS = ("epoch", "seconds")
# the zip time stamp of every member of a saved .keras archive, and its metadata's date_saved
ARCHIVE_DATE = (1980, 1, 1, 0, 0, 0)

log = logging.getLogger("effaug.cnn")


class FeaturizerError(ValueError):
    """Invalid featurizer settings."""


@dataclass(frozen=True)
class FeaturizerSpec:
    """Settings of one featurizer (config key ``datasets.<name>.featurizer``).

    ``depth`` is used by ``resnet_v2`` only and must be 9k+2 (20, 29, 56, ...).
    ``threads`` is the pinned intra-op thread count. ``file`` is a user's
    trained ``.keras`` model used frozen instead of a built-in architecture
    (then ``architecture``, ``epochs``, ``batch_size`` and ``learning_rate``
    are not used); ``layer`` the layer whose output are the features;
    ``input_range`` the interval that pixel values 0..255 are mapped to.
    ``pool_size`` (``resnet_v2`` only): ``None`` pools the last feature map
    globally, an integer p average-pools it in p x p tiles (stride p), flattened
    (the authors' ``AveragePooling2D(pool_size=8)``). ``preprocessing``:
    see :func:`pixel_inputs` (``authors*`` for ``resnet_v2`` only).

    The training recipe of a built-in architecture: ``lr_schedule`` holds
    (e, factor) pairs, e increasing: from the epoch whose 0-based index
    exceeds e on, the Adam rate is ``learning_rate * factor`` (the last pair
    that applies; the authors' CIFAR-10 step decay is ``AUTHORS_LR_SCHEDULE``).
    ``training_shift`` (a fraction of the height and width, Keras'
    ``RandomTranslation``, nearest fill) and ``training_flip`` (random
    horizontal flips) augment every training batch anew, as the Keras
    CIFAR-10 example's ``ImageDataGenerator`` (inactive when featurizing).
    ``resume`` trains epoch by epoch with a seeded permutation per epoch and
    a checkpoint after each (:func:`train`'s ``checkpoint_dir``), so that an
    interrupted training resumes to the same bits; its bits differ from
    ``resume: false`` (Keras' own shuffling), so it is part of the spec.
    """

    architecture: str = "mnist_cnn"
    epochs: int = 40
    batch_size: int = 512
    learning_rate: float = 1e-3
    seed: int = 0
    depth: int = 20
    threads: int = 2
    predict_batch_size: int = 1024
    file: str | None = None
    layer: str = "bottleneck"
    input_range: tuple[float, float] = (0.0, 1.0)
    pool_size: int | None = None
    preprocessing: str = "consistent"
    lr_schedule: tuple = ()
    training_shift: float = 0.0
    training_flip: bool = False
    resume: bool = False

    def __post_init__(self):
        try:
            schedule = tuple((int(e), float(f)) for e, f in (self.lr_schedule or ()))
            if any(int(e) != float(e) for e, _ in (self.lr_schedule or ())):
                raise ValueError("epochs are whole numbers")
        except (TypeError, ValueError):
            raise FeaturizerError(f"featurizer.lr_schedule must be a list of [epoch, factor] pairs, e.g. "
                                  f"[[80, 0.1], [120, 0.01]], got {self.lr_schedule!r}") from None
        object.__setattr__(self, "lr_schedule", schedule)
        epochs = [e for e, _ in schedule]
        if epochs != sorted(set(epochs)) or any(e < 0 for e in epochs) or any(f <= 0 for _, f in schedule):
            raise FeaturizerError(f"featurizer.lr_schedule needs increasing epochs >= 0 and factors > 0, got "
                                  f"{[list(pair) for pair in schedule]}")
        if not 0.0 <= float(self.training_shift) < 0.5:
            raise FeaturizerError(f"featurizer.training_shift is a fraction of the image size in [0, 0.5), got "
                                  f"{self.training_shift}")
        object.__setattr__(self, "input_range", tuple(float(v) for v in self.input_range))
        if len(self.input_range) != 2 or self.input_range[0] >= self.input_range[1]:
            raise FeaturizerError(f"featurizer.input_range must be [low, high] with low < high, got "
                                  f"{list(self.input_range)}")
        if self.architecture not in ARCHITECTURES:
            raise FeaturizerError(
                f"unknown architecture {self.architecture!r}; expected one of {', '.join(ARCHITECTURES)}"
            )
        if self.architecture == "resnet_v2" and (self.depth < 11 or (self.depth - 2) % 9):
            raise FeaturizerError(f"resnet_v2 depth must be 9k+2 with k >= 1 (11, 20, 29, 56, ...), got {self.depth}")
        for name in ("epochs", "batch_size", "threads", "predict_batch_size"):
            if int(getattr(self, name)) < 1:
                raise FeaturizerError(f"featurizer.{name} must be >= 1")
        if self.preprocessing not in PREPROCESSING:
            raise FeaturizerError(f"featurizer.preprocessing must be one of {', '.join(PREPROCESSING)}, "
                                  f"got {self.preprocessing!r}")
        if self.pool_size is not None and int(self.pool_size) < 1:
            raise FeaturizerError(f"featurizer.pool_size must be null or >= 1, got {self.pool_size}")
        resnet_only = {"pool_size": (self.pool_size is not None, "null"),
                       "preprocessing": (self.preprocessing.startswith("authors"), "consistent")}
        for name, (changed, default) in resnet_only.items():
            if changed and (self.architecture != "resnet_v2" or self.frozen_file):
                raise FeaturizerError(f"featurizer.{name} applies to the built-in resnet_v2 only (the authors' "
                                      f"ResNet), not to {self.file or self.architecture}; leave it at {default}")
        recipe = {"preprocessing": (self.preprocessing == "pixel_mean", "consistent"),
                  "lr_schedule": (bool(schedule), "[]"), "training_shift": (float(self.training_shift) > 0, "0"),
                  "training_flip": (bool(self.training_flip), "false"), "resume": (bool(self.resume), "false")}
        for name, (changed, default) in recipe.items():
            if changed and self.frozen_file:
                raise FeaturizerError(f"featurizer.{name} is part of training a built-in architecture; "
                                      f"featurizer.file {self.file} is used as it is: leave it at {default}")

    @classmethod
    def from_config(cls, cfg: dict) -> FeaturizerSpec:
        known = set(cls.__dataclass_fields__)
        return cls(**{k: v for k, v in cfg.items() if k in known})

    def to_dict(self) -> dict:
        out = asdict(self)
        out["input_range"] = list(self.input_range)
        out["lr_schedule"] = [list(pair) for pair in self.lr_schedule]
        return out

    def learning_rate_at(self, epoch: int) -> float:
        """The Adam rate of the epoch with 0-based index ``epoch``."""
        rate = float(self.learning_rate)
        for after, factor in self.lr_schedule:
            if epoch > after:
                rate = float(self.learning_rate) * factor
        return rate

    @property
    def frozen_file(self) -> bool:
        """A user's model file, used as it is (no training step)."""
        return self.file is not None


_configured: tuple[int, int] | None = None


def configure_tensorflow(threads: int, seed: int) -> None:
    """Seed everything and make TensorFlow deterministic with ``threads``
    intra-op threads. Call before any TensorFlow work in the process."""
    global _configured
    import keras
    import tensorflow as tf

    if _configured is None:
        tf.config.threading.set_intra_op_parallelism_threads(int(threads))
        tf.config.threading.set_inter_op_parallelism_threads(1)
        tf.config.experimental.enable_op_determinism()
        _configured = (int(threads), int(seed))
    elif _configured[0] != int(threads):
        raise RuntimeError(
            f"TensorFlow already runs with {_configured[0]} intra-op threads in this process; "
            f"cannot switch to {threads}"
        )
    keras.utils.set_random_seed(int(seed))


def _layers():
    import keras

    return keras, keras.layers


def build_mnist_cnn(input_shape, n_classes: int, stem=None):
    """The authors' MNIST CNN (the Keras mnist_cnn example with N(0, 0.05) kernels)."""
    keras, L = _layers()
    init = keras.initializers.RandomNormal(mean=0.0, stddev=0.05)
    inputs = keras.Input(shape=input_shape)
    x = L.Conv2D(32, 3, padding="same", activation="relu", kernel_initializer=init)(_stem(stem, inputs))
    x = L.Conv2D(32, 3, activation="relu", kernel_initializer=init)(x)
    x = L.MaxPooling2D(2)(x)
    x = L.Dropout(0.25)(x)
    x = L.Conv2D(64, 3, padding="same", activation="relu", kernel_initializer=init)(x)
    x = L.Conv2D(64, 3, activation="relu", kernel_initializer=init)(x)
    x = L.MaxPooling2D(2)(x)
    x = L.Dropout(0.25)(x)
    x = L.Flatten()(x)
    x = L.Dense(FEATURE_DIMS["mnist_cnn"], activation="relu", kernel_initializer=init, name="bottleneck")(x)
    x = L.Dropout(0.5)(x)
    outputs = L.Dense(n_classes, activation="softmax", kernel_initializer=init)(x)
    return keras.Model(inputs, outputs, name="mnist_cnn")


def build_lenet(input_shape, n_classes: int, stem=None):
    """LeNet-5 (ReLU, max pooling); bottleneck = the 84-unit layer."""
    keras, L = _layers()
    inputs = keras.Input(shape=input_shape)
    x = L.Conv2D(6, 5, padding="same", activation="relu")(_stem(stem, inputs))
    x = L.MaxPooling2D(2)(x)
    x = L.Conv2D(16, 5, activation="relu")(x)
    x = L.MaxPooling2D(2)(x)
    x = L.Flatten()(x)
    x = L.Dense(120, activation="relu")(x)
    x = L.Dense(FEATURE_DIMS["lenet"], activation="relu", name="bottleneck")(x)
    outputs = L.Dense(n_classes, activation="softmax")(x)
    return keras.Model(inputs, outputs, name="lenet")


def resnet_grid(image_hw: tuple[int, int], pool_size: int) -> tuple[int, int]:
    """(rows, columns) of ``pool_size`` tiles that fit the last feature map of
    ResNet-v2 on (H, W) images: two stride-2 stages make it (ceil(H/4), ceil(W/4))."""
    return tuple((int(side) + 3) // 4 // int(pool_size) for side in image_hw)


def feature_width(architecture: str, image_hw: tuple[int, int] | None = None, pool_size: int | None = None) -> int:
    """d of a built-in architecture on (H, W) images: ``FEATURE_DIMS``, times
    the tiles of ``resnet_grid`` for resnet_v2 with a ``pool_size`` (256 x 3 x 3
    = 2304 for 96 x 96 smallNORB and pool_size 8; 256 for 32 x 32 CIFAR-10)."""
    if architecture != "resnet_v2" or pool_size is None:
        return FEATURE_DIMS[architecture]
    rows, columns = resnet_grid(image_hw, pool_size)
    return FEATURE_DIMS[architecture] * rows * columns


def build_resnet_v2(input_shape, n_classes: int, depth: int = 20, pool_size: int | None = None, stem=None):
    """Pre-activation ResNet with bottleneck blocks (He et al. 2016) as in the
    Keras CIFAR-10 example the authors used: 3 stages of (depth-2)/9 blocks,
    16/64 -> 64/128 -> 128/256 filters, stride 2 at stages 2 and 3, L2 1e-4,
    He-normal kernels; bottleneck = global average pooling (256-d), or with
    ``pool_size`` p the p x p average pools flattened (``feature_width``-d)."""
    if pool_size is not None and 0 in resnet_grid(input_shape[:2], pool_size):
        raise FeaturizerError(f"featurizer.pool_size {pool_size} is larger than the last feature map "
                              f"{resnet_grid(input_shape[:2], 1)} of ResNet-v2 on {tuple(input_shape[:2])} images")
    keras, L = _layers()
    reg = keras.regularizers.l2(1e-4)

    def conv(x, filters, kernel=3, strides=1):
        return L.Conv2D(filters, kernel, strides=strides, padding="same",
                        kernel_initializer="he_normal", kernel_regularizer=reg)(x)

    def bn_relu(x):
        return L.Activation("relu")(L.BatchNormalization()(x))

    blocks = (depth - 2) // 9
    inputs = keras.Input(shape=input_shape)
    x = bn_relu(conv(_stem(stem, inputs), 16))
    filters_in = 16
    for stage in range(3):
        filters_out = filters_in * 4 if stage == 0 else filters_in * 2
        for block in range(blocks):
            strides = 2 if stage > 0 and block == 0 else 1
            # The first block of stage 0 follows the stem's BN-ReLU directly.
            y = x if stage == 0 and block == 0 else bn_relu(x)
            y = conv(y, filters_in, 1, strides)
            y = conv(bn_relu(y), filters_in)
            y = conv(bn_relu(y), filters_out, 1)
            shortcut = conv(x, filters_out, 1, strides) if block == 0 else x
            x = L.Add()([shortcut, y])
        filters_in = filters_out
    x = bn_relu(x)
    if pool_size is None:
        x = L.GlobalAveragePooling2D(name="bottleneck")(x)
    else:
        x = L.Flatten(name="bottleneck")(L.AveragePooling2D(pool_size)(x))
    outputs = L.Dense(n_classes, activation="softmax", kernel_initializer="he_normal")(x)
    return keras.Model(inputs, outputs, name=f"resnet{depth}_v2")


def _stem(stem, inputs):
    return inputs if stem is None else stem(inputs)


def input_stem(spec: FeaturizerSpec, pixel_mean: np.ndarray | None = None):
    """The layers between a built-in model's input and its first convolution,
    or None: subtracting ``pixel_mean`` ((H, W, C), ``preprocessing:
    pixel_mean``; a Normalization layer with variance 1, so that the saved
    model featurizes with the training mean), then the training-time
    augmentation (``training_shift``, ``training_flip``; Keras' random layers
    act in training only)."""
    if pixel_mean is None and not spec.training_shift and not spec.training_flip:
        return None
    keras, L = _layers()

    def stem(x):
        if pixel_mean is not None:
            x = L.Normalization(axis=(1, 2, 3), mean=pixel_mean, variance=np.ones_like(pixel_mean),
                                name="pixel_mean")(x)
        if spec.training_shift:
            x = L.RandomTranslation(spec.training_shift, spec.training_shift, fill_mode="nearest",
                                    seed=spec.seed, name="training_shift")(x)
        if spec.training_flip:
            x = L.RandomFlip("horizontal", seed=spec.seed + 1, name="training_flip")(x)
        return x

    return stem


def build(spec: FeaturizerSpec, input_shape: tuple[int, int, int], n_classes: int,
          pixel_mean: np.ndarray | None = None):
    """The untrained model of ``spec``; ``pixel_mean`` ((H, W, C) in x / 255 units) for ``pixel_mean`` preprocessing."""
    stem = input_stem(spec, pixel_mean)
    if spec.architecture == "mnist_cnn":
        return build_mnist_cnn(input_shape, n_classes, stem)
    if spec.architecture == "lenet":
        return build_lenet(input_shape, n_classes, stem)
    return build_resnet_v2(input_shape, n_classes, spec.depth, spec.pool_size, stem)


def to_inputs(images: np.ndarray, input_range: tuple[float, float] = (0.0, 1.0)) -> np.ndarray:
    """uint8 (N, H, W, C) -> float32, 0..255 mapped linearly onto ``input_range``."""
    x = np.asarray(images, dtype=np.float32) / np.float32(255.0)
    low, high = (float(v) for v in input_range)
    if (low, high) != (0.0, 1.0):
        x = x * np.float32(high - low) + np.float32(low)
    return x


def pixel_inputs(images: np.ndarray, preprocessing: str, training: bool) -> np.ndarray:
    """uint8 (N, H, W, C) -> the float32 (N, H, W, C) a built-in featurizer sees.

    ``consistent``: x / 255 in training and featurizing alike. ``pixel_mean``:
    the same x / 255, and the model's first layer subtracts the training
    images' per-pixel mean (:func:`input_stem`), so featurizing matches. The authors'
    ResNet scripts (a quirk): ``authors`` trains on x / 255 minus the training
    images' per-pixel mean (mean over the N images, shape (H, W, C)) but
    featurizes x / 255 without it; ``authors_norb`` the same with x / 255 / 255
    (their smallNORB loader scales to [0, 1] in float64, the ResNet script and
    the feature pipeline divide by 255 again in float32)."""
    if preprocessing == "authors_norb":
        x = (np.asarray(images, dtype=np.float64) / 255.0).astype(np.float32) / np.float32(255.0)
    else:
        x = to_inputs(images)
    if training and preprocessing.startswith("authors"):
        x = x - x.mean(axis=0)
    return x


def _history_callback(rows: list, n_images: int):
    import keras

    class EpochLog(keras.callbacks.Callback):
        def on_epoch_begin(self, epoch, logs=None):
            self._start = time.perf_counter()

        def on_epoch_end(self, epoch, logs=None):
            seconds = time.perf_counter() - self._start
            row = {"epoch": epoch + 1, "loss": float(logs["loss"]), "accuracy": float(logs["accuracy"]),
                   "seconds": seconds, "n_images": n_images}
            rows.append(row)
            log.info("epoch %d/%d loss %.4f accuracy %.4f (%.2f s)", row["epoch"], self.params["epochs"],
                     row["loss"], row["accuracy"], seconds)

    return EpochLog()


def _progress_callback(what: str):
    """Keras callback: :class:`effaug.runtime.Progress` lines ``<what>: epoch i/N, ... left`` during fit."""
    import keras

    from effaug.runtime import Progress

    class EpochProgress(keras.callbacks.Callback):
        def on_train_begin(self, logs=None):
            self._progress = Progress(f"{what}: epoch", self.params["epochs"])

        def on_epoch_end(self, epoch, logs=None):
            self._progress.advance()

    return EpochProgress()


def _planned_batches(model, n: int, batch_size: int, shuffle: bool, epochs: int) -> list[list[np.ndarray]]:
    """The row indices of every batch of ``epochs`` epochs of ``model.fit`` on n rows, from the batching of
    Keras's own fit; its tf.data pipeline and iterators are gone when this returns."""
    from keras.src.backend.tensorflow.trainer import TFEpochIterator

    planner = TFEpochIterator(x=np.arange(n, dtype=np.int64), batch_size=batch_size, shuffle=shuffle,
                              distribute_strategy=model.distribute_strategy, steps_per_execution=1)
    planner.reset()
    plan = []
    for _ in range(epochs):
        batches = []
        with planner.catch_stop_iteration():
            for _, _, iterator in planner:
                rows = next(iterator)
                batches.append(np.asarray(rows[0] if isinstance(rows, tuple) else rows))
        plan.append(batches)
    return plan


def fit(model, inputs: np.ndarray, labels: np.ndarray, epochs: int, batch_size: int, shuffle: bool = True,
        initial_epoch: int = 0, callbacks=()) -> None:
    """``model.fit(inputs, labels, ...)`` (``verbose=0``) to the bit, each step fed NumPy rows.

    Keras's ``fit`` pulls every training step from a tf.data pipeline inside
    the step's graph; here that made about half of the epochs of a 2-thread
    training take twice as long (the two intra-op threads took turns), a cost
    and never a difference in the weights. So Keras's own pipeline, built on
    the row indices alone, only plans the epochs' batches (its shuffles,
    hence the same bits), is released, and each step then gets its rows from
    Python. ``callbacks`` get the calls ``fit`` makes of them
    (``params["epochs"]``, the epoch's logs at its end).

    Parameters
    ----------
    inputs : float32 array of shape (N, ...); labels : int64 array of shape (N,)
    """
    import keras

    plan = _planned_batches(model, len(inputs), batch_size, shuffle, epochs - initial_epoch)
    callback_list = keras.callbacks.CallbackList(list(callbacks), model=model, epochs=epochs,
                                                 steps=len(plan[0]) if plan else 0, verbose=0)
    model.make_train_function()
    logs: dict = {}
    callback_list.on_train_begin()
    for epoch, batches in zip(range(initial_epoch, epochs), plan):
        model.reset_metrics()
        callback_list.on_epoch_begin(epoch)
        for rows in batches:  # a list of one batch: the step's data comes from Python, not from a tf.data op
            step_logs = model.train_function([(inputs[rows], labels[rows])])
        logs = dict(model._get_metrics_result_or_logs(step_logs))  # the epoch's metrics, as fit reports them
        callback_list.on_epoch_end(epoch, logs)
    callback_list.on_train_end(logs)


def train(images: np.ndarray, labels: np.ndarray, spec: FeaturizerSpec, checkpoint_dir: Path | str | None = None):
    """Train a featurizer from scratch.

    Parameters
    ----------
    images : uint8 array of shape (N, H, W, C)
    labels : int array of shape (N,), values 0..n_classes-1
    checkpoint_dir : with ``spec.resume``, the folder of the checkpoint saved
        after every epoch; a training of the same spec and data resumes from
        it (to the bits of an uninterrupted one), anything else there is
        replaced. The caller removes it once the model is saved.

    Returns
    -------
    model : the trained keras.Model (softmax classifier)
    history : list of dicts with keys ``HISTORY_COLUMNS`` and ``seconds``, one per epoch
    """
    labels = np.asarray(labels, dtype=np.int64)
    n_classes = int(labels.max()) + 1
    inputs = pixel_inputs(images, spec.preprocessing, training=True)
    pixel_mean = inputs.mean(axis=0, dtype=np.float64).astype(np.float32) if spec.preprocessing == "pixel_mean" else None
    if spec.resume:
        key = training_key(images, labels, spec)
        return _train_by_epoch(inputs, labels, spec, n_classes, pixel_mean, checkpoint_dir, key)
    model = _compiled(spec, tuple(images.shape[1:]), n_classes, pixel_mean)
    log.info("training %s on %d images %s, %d classes, %d epochs, batch %d, %d threads",
             model.name, len(images), images.shape[1:], n_classes, spec.epochs, spec.batch_size, spec.threads)
    history: list[dict] = []
    callbacks = [_history_callback(history, len(images)), _progress_callback(f"training {model.name}")]
    if spec.lr_schedule:
        import keras

        callbacks.append(keras.callbacks.LearningRateScheduler(spec.learning_rate_at))
    fit(model, inputs, labels, spec.epochs, spec.batch_size, callbacks=callbacks)
    return model, history


def training_key(images: np.ndarray, labels: np.ndarray, spec: FeaturizerSpec) -> str:
    """SHA-256 of the spec and the training data: a checkpoint belongs to one training. ``epochs`` is left
    out: the state after epoch e does not depend on how many follow, so a longer training continues a shorter one."""
    import hashlib
    import json

    import keras
    import tensorflow as tf

    settings = {k: v for k, v in spec.to_dict().items() if k not in ("epochs", "predict_batch_size")}
    code = {"cnn": hashlib.sha256(Path(__file__).read_bytes()).hexdigest(), "keras": keras.__version__,
            "tensorflow": tf.__version__}  # a checkpoint of other training code is not resumed
    digest = hashlib.sha256(json.dumps({"settings": settings, "code": code}, sort_keys=True).encode())
    update_with_arrays(digest, (images, np.asarray(labels, dtype=np.int64)))
    return digest.hexdigest()


def _train_by_epoch(inputs, labels, spec: FeaturizerSpec, n_classes: int, pixel_mean, checkpoint_dir, key: str):
    """``spec.resume``: one ``fit`` per epoch on the rows in the order of a
    permutation seeded by (seed, epoch), the rate of ``spec.learning_rate_at``,
    a checkpoint after each epoch (model with optimizer and random-layer
    state, history, ``key``)."""
    checkpoint_dir = None if checkpoint_dir is None else Path(checkpoint_dir)
    configure_tensorflow(spec.threads, spec.seed)  # before TensorFlow loads anything
    model, history = load_checkpoint(checkpoint_dir, key) if checkpoint_dir is not None else (None, [])
    if len(history) > spec.epochs:  # a checkpoint past the epochs asked for: not this training's state
        log.info("the checkpoint in %s is after epoch %d, beyond %d epochs: starting anew", checkpoint_dir,
                 len(history), spec.epochs)
        model, history = None, []
    if model is None:
        model, history = _compiled(spec, tuple(inputs.shape[1:]), n_classes, pixel_mean), []
    else:
        log.info("resuming %s from the checkpoint after epoch %d in %s", model.name, len(history), checkpoint_dir)
    log.info("training %s on %d images %s, %d classes, epochs %d..%d of %d, batch %d, %d threads", model.name,
             len(inputs), inputs.shape[1:], n_classes, len(history) + 1, spec.epochs, spec.epochs, spec.batch_size,
             spec.threads)
    from effaug.runtime import Progress

    progress = Progress(f"training {model.name}: epoch", spec.epochs - len(history))
    for epoch in range(len(history), spec.epochs):
        model.optimizer.learning_rate.assign(spec.learning_rate_at(epoch))
        order = np.random.default_rng([int(spec.seed), epoch]).permutation(len(inputs))
        rows: list[dict] = []
        fit(model, inputs[order], labels[order], epoch + 1, spec.batch_size, shuffle=False, initial_epoch=epoch,
            callbacks=[_history_callback(rows, len(inputs))])
        history += rows
        if checkpoint_dir is not None:
            save_checkpoint(checkpoint_dir, model, history, key)
        progress.advance()
    return model, history


def save_checkpoint(folder: Path, model, history: list[dict], key: str) -> None:
    """``model-<epoch>.keras`` then ``state.json`` (the key, the history, that file's name), each written
    atomically, then the older model files removed: an interruption at any point leaves a valid pair."""
    import json

    from effaug.runtime import atomic_output

    folder.mkdir(parents=True, exist_ok=True)
    name = f"model-{len(history)}.keras"
    with atomic_output(folder / name) as tmp:
        model.save(tmp)
    # Keras saves no random layer's seed-generator state (Dropout, RandomFlip, ...): kept here
    seeds = [np.asarray(v.value).tolist() for v in _seed_states(model)]
    with atomic_output(folder / "state.json") as tmp:
        Path(tmp).write_text(json.dumps({"key": key, "model": name, "history": history, "seed_states": seeds}))
    for old in folder.glob("model-*.keras"):
        if old.name != name:
            old.unlink()


def _seed_states(model) -> list:
    return [v for v in model.variables if v.path.endswith("seed_generator_state")]


def load_checkpoint(folder: Path, key: str):
    """(model, history) of the checkpoint in ``folder`` if it belongs to the training ``key``, else (None, [])."""
    import json

    import keras

    state_path = folder / "state.json"
    if not state_path.is_file():
        return None, []
    try:
        state = json.loads(state_path.read_text())
        if state["key"] != key:
            log.info("%s holds the checkpoint of another training (other settings or data): starting anew", folder)
            return None, []
        model = keras.models.load_model(folder / state["model"])
        variables = _seed_states(model)
        if len(variables) != len(state["seed_states"]):
            raise ValueError(f"{len(state['seed_states'])} seed states saved for {len(variables)} random layers")
        for variable, value in zip(variables, state["seed_states"]):
            variable.assign(np.asarray(value, dtype=variable.dtype))
        return model, list(state["history"])
    except Exception as err:  # a damaged checkpoint costs the epochs since the start, nothing else
        log.warning("cannot resume from %s (%s: %s): starting anew", folder, type(err).__name__, err)
        return None, []


def _compiled(spec: FeaturizerSpec, input_shape: tuple[int, int, int], n_classes: int,
              pixel_mean: np.ndarray | None = None):
    configure_tensorflow(spec.threads, spec.seed)
    import keras

    model = build(spec, input_shape, n_classes, pixel_mean)
    model.compile(
        optimizer=keras.optimizers.Adam(learning_rate=spec.learning_rate),
        loss="sparse_categorical_crossentropy",
        metrics=["accuracy"],
    )
    return model


def epoch_seconds(training_sets, spec: FeaturizerSpec, n_classes: int, repeats: int) -> list[list[float]]:
    """Wall-clock seconds of ``repeats`` training epochs on each training set.

    Parameters
    ----------
    training_sets : iterable of (images, labels): uint8 (N, H, W, C) and int (N,), one shape (H, W, C)
    repeats : timed epochs per set

    Returns
    -------
    one list of ``repeats`` seconds per set, in order

    One model keeps training through all the sets, one ``fit`` per set; a
    first, untimed epoch on the first set builds and compiles the training
    graph, which later sets reuse (the batch shape's first dimension is
    free), so every timed epoch is a steady-state one.
    """
    model, seconds = None, []
    for images, labels in training_sets:
        if model is None:  # pixel_mean: a zero mean, for the cost of the layer
            mean = np.zeros(images.shape[1:], np.float32) if spec.preprocessing == "pixel_mean" else None
            model = _compiled(spec, tuple(images.shape[1:]), n_classes, mean)
        history: list[dict] = []
        warm_up = int(not seconds)
        fit(model, pixel_inputs(images, spec.preprocessing, training=True), np.asarray(labels, dtype=np.int64),
            repeats + warm_up, spec.batch_size, callbacks=[_history_callback(history, len(images))])
        seconds.append([row["seconds"] for row in history[warm_up:]])
    return seconds


def layer_names(model) -> list[str]:
    return [layer.name for layer in model.layers]


def bottleneck(model, layer: str = "bottleneck"):
    """The sub-model from the input to the output of ``layer``."""
    import keras

    try:
        output = model.get_layer(layer).output
    except ValueError:
        raise FeaturizerError(f"the model has no layer {layer!r}; its layers are: "
                              f"{', '.join(layer_names(model))} (set featurizer.layer)") from None
    return keras.Model(model.inputs, output)


def feature_dim(extractor) -> int:
    return int(np.prod([d for d in extractor.output_shape[1:]]))


def featurize(extractor, images: np.ndarray, batch_size: int,
              input_range: tuple[float, float] = (0.0, 1.0), preprocessing: str = "consistent") -> np.ndarray:
    """Features (the extractor's output, flattened), float32 of shape (N, d), computed with ``predict``
    on the images mapped onto ``input_range`` (a user's model) or by ``preprocessing`` (a built-in one)."""
    if len(images) == 0:
        return np.empty((0, feature_dim(extractor)), np.float32)
    inputs = to_inputs(images, input_range) if preprocessing == "consistent" else \
        pixel_inputs(images, preprocessing, training=False)
    features = extractor.predict(inputs, batch_size=batch_size, verbose=0)
    return np.asarray(features, dtype=np.float32).reshape(len(images), -1)


def load_user_model(path: Path | str):
    """A user's trained Keras model (``.keras``), loaded in safe mode for
    inference only. Raises FeaturizerError naming the file if it cannot be
    loaded."""
    import keras

    path = Path(path)
    if not path.is_file():
        raise FeaturizerError(f"featurizer.file {path}: file not found")
    if path.suffix != ".keras":
        raise FeaturizerError(f"featurizer.file {path}: expected a Keras 3 '.keras' model file "
                              "(save yours with model.save('model.keras'))")
    try:
        return keras.models.load_model(path, compile=False, safe_mode=True)
    except Exception as err:  # Keras raises ValueError, OSError, zipfile errors, ... on a bad file
        raise FeaturizerError(f"featurizer.file {path}: cannot load it as a Keras model "
                              f"({type(err).__name__}: {err})") from None


def user_extractor(path: Path | str, layer: str, image_shape: tuple[int, ...]):
    """The features sub-model of a user's model, checked against the images' shape (H, W, C)."""
    model = load_user_model(path)
    expected = tuple(model.inputs[0].shape[1:])
    if len(expected) != len(image_shape) or any(e is not None and e != g for e, g in zip(expected, image_shape)):
        raise FeaturizerError(
            f"featurizer.file {path}: the model takes inputs of shape {expected} but the images are "
            f"{tuple(image_shape)}; set the dataset's image_size / channels to match")
    return bottleneck(model, layer)


def _renumber_shared_objects(node, ids: dict):
    """``node`` (a Keras config) with every ``shared_object_id`` (the object's
    memory address when saved) replaced by its rank of first appearance, and
    none on dtype policies: a built model's layers share one policy object, a
    loaded one's (a resumed training) have one each, the same policy."""
    if isinstance(node, dict):
        plain = node.get("class_name") == "DTypePolicy"
        return {key: ids.setdefault(value, len(ids)) if key == "shared_object_id" else
                _renumber_shared_objects(value, ids) for key, value in node.items()
                if not (plain and key == "shared_object_id")}
    if isinstance(node, list):
        return [_renumber_shared_objects(value, ids) for value in node]
    return node


def _reproducible_archive(path: Path) -> None:
    """Give every member of a saved ``.keras`` zip archive the time stamp
    ``ARCHIVE_DATE``, its ``metadata.json`` that ``date_saved``, and number
    the shared objects of its ``config.json`` 0, 1, ...: the same model then
    gives the same bytes in any process (Keras writes the save time and
    memory addresses)."""
    import json
    import zipfile

    with zipfile.ZipFile(path) as archive:
        members = [(info, archive.read(info)) for info in archive.infolist()]
    with zipfile.ZipFile(path, "w") as archive:
        for info, data in members:
            if info.filename == "metadata.json":
                metadata = json.loads(data)
                metadata["date_saved"] = "{:04d}-{:02d}-{:02d}@{:02d}:{:02d}:{:02d}".format(*ARCHIVE_DATE)
                data = json.dumps(metadata).encode()
            elif info.filename == "config.json":
                data = json.dumps(_renumber_shared_objects(json.loads(data), {})).encode()
            fixed = zipfile.ZipInfo(info.filename, date_time=ARCHIVE_DATE)
            fixed.compress_type, fixed.external_attr = info.compress_type, info.external_attr
            archive.writestr(fixed, data)


def save(model, history: list[dict], model_path: Path, history_path: Path, timings_path: Path | None = None,
         record=None) -> None:
    """Write the model (``.keras``, with fixed time stamps and, where given,
    its provenance ``record``), its per-epoch history (TSV,
    ``HISTORY_COLUMNS``) and, where ``timings_path`` is given, the wall-clock
    seconds per epoch (TSV, ``TIMING_COLUMNS``), atomically."""
    from effaug import provenance
    from effaug.runtime import atomic_output

    with atomic_output(model_path) as tmp:
        model.save(tmp)
        _reproducible_archive(tmp)
        if record is not None:
            provenance.add_to_keras(tmp, record)
    for path, columns in ((history_path, HISTORY_COLUMNS), (timings_path, TIMING_COLUMNS)):
        if path is None:
            continue
        with atomic_output(path) as tmp, open(tmp, "w", newline="") as f:
            writer = csv.DictWriter(f, columns, delimiter="\t", lineterminator="\n", extrasaction="ignore")
            writer.writeheader()
            writer.writerows(history)


def load(model_path: Path):
    """A featurizer saved by :func:`save`; FeaturizerError naming the file
    and how to rebuild it where it cannot be loaded."""
    import keras

    from effaug.provenance import REBUILD

    try:
        return keras.models.load_model(model_path)
    except Exception as err:  # Keras raises ValueError, OSError, zipfile errors, ... on a bad file
        raise FeaturizerError(f"{model_path}: cannot load the featurizer ({type(err).__name__}: {err}); it is "
                              f"truncated or corrupt: {REBUILD}") from None


def training_data(train_on: str, task_path: Path, source: str, path: Path | None, options=None):
    """Images and labels a featurizer trains on: the task's training points
    (``subset``, from task.h5) or the source's whole training split with all
    its classes, relabelled 0..C-1 (``full``)."""
    if train_on == "subset":
        from effaug.task import read_task

        task = read_task(task_path)
        return task.train_images, task.train_labels.astype(np.int64)
    if train_on == "full":
        from effaug.datasets import load

        raw = load(source, path, options)
        _, labels = np.unique(raw.train_labels, return_inverse=True)
        return raw.train_images, labels.astype(np.int64)
    raise FeaturizerError(f"unknown train_on {train_on!r}; expected 'subset' or 'full'")
