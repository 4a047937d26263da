"""One experiment step at a time: scores of the originals, references
(no / full augmentation, VSV), static orders, and the evaluation of a budget
(frozen features, or a CNN retrained on the augmented set). Pure
computation: the settings are :mod:`effaug.settings`, the result files
:mod:`effaug.results_io`.

Frozen-mode code paths import neither scikit-learn nor TensorFlow.
"""

from __future__ import annotations

import hashlib
import logging
import time
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from pathlib import Path

import numpy as np

from effaug import augment, cnn
from effaug import policies as P
from effaug import scores as S
from effaug.augment import TEST_STREAM, TRAIN_STREAM
from effaug.features import FeatureSet
from effaug.provenance import update_with_arrays
from effaug.settings import Settings

log = logging.getLogger("effaug.experiment")

# experiment.retrain_seed: the seed of each retrain-mode CNN (retrain_cnn_seed)
RETRAIN_SEEDS = ("per_job", "per_set", "featurizer")


@dataclass
class TrainingSet:
    """The rows of one fit: n originals then the K copies of each chosen point."""

    X: np.ndarray
    y: np.ndarray
    weights: np.ndarray
    n: int
    n_classes: int = 2


@dataclass
class Features:
    """What a budget evaluation needs, from the frozen cache or a retrained CNN."""

    train: np.ndarray
    train_labels: np.ndarray
    augmented_chosen: np.ndarray  # (K * len(chosen), d), the chosen points' copies, chosen-major
    poisoned_test: np.ndarray
    poisoned_test_labels: np.ndarray
    test: np.ndarray
    test_labels: np.ndarray
    n_transforms: int
    n_classes: int = 2
    extra: dict = field(default_factory=dict)
    model: object = None  # retrain mode: the CNN that featurized


def frozen_features(fs: FeatureSet, chosen: np.ndarray) -> Features:
    return Features(
        train=fs.train,
        train_labels=fs.train_labels,
        augmented_chosen=fs.augmented[fs.augmented_rows(chosen)],
        poisoned_test=fs.poisoned_test,
        poisoned_test_labels=fs.poisoned_test_labels,
        test=fs.test,
        test_labels=fs.test_labels,
        n_transforms=fs.n_transforms,
        n_classes=fs.n_classes,
    )


def training_set(features: Features, chosen: np.ndarray, down: bool) -> TrainingSet:
    chosen = np.asarray(chosen, dtype=np.int64)
    n = len(features.train)
    X = np.concatenate([features.train, features.augmented_chosen]) if len(chosen) else features.train
    y = np.concatenate([features.train_labels, np.repeat(features.train_labels[chosen], features.n_transforms)])
    return TrainingSet(X, y, P.sample_weights(n, chosen, features.n_transforms, down), n, features.n_classes)


def fit(rows: TrainingSet, settings: Settings, warm_start: np.ndarray | None = None) -> S.Model:
    weights = None if np.all(rows.weights == 1.0) else rows.weights
    return S.fit_model(rows.X, rows.y, rows.n_classes, C=settings.C, sample_weight=weights, tol=settings.tol,
                       max_iter=settings.max_iter, warm_start=warm_start, solver=settings.solver)


def evaluate(model: S.Model, features: Features) -> dict:
    """Accuracy on the poisoned and the clean test set, and per class (the
    share of each class's poisoned test images classified correctly)."""
    predicted = model.predict(features.poisoned_test)
    labels = np.asarray(features.poisoned_test_labels)
    return {
        "accuracy": float((predicted == labels).mean()),  # model.accuracy, without predicting again
        "clean_accuracy": model.accuracy(features.test, features.test_labels),
        "per_class_accuracy": [float(np.mean(predicted[labels == k] == k)) if np.any(labels == k) else None
                               for k in range(features.n_classes)],
    }


def rescore(score: str, model: S.Model, features: Features, rows: TrainingSet,
            settings: Settings, svm_C: float | None = None) -> np.ndarray:
    """Scores of the n originals under a model fit on ``rows`` (the Update step)."""
    if score == "svm_margin":  # the originals are the first n rows
        return S.svm_margins(rows.X, rows.y, C=svm_C).margin[:rows.n]
    weights = rows.weights if settings.hessian_sample_weights else None
    return S.score_points(score, model, features.train, features.train_labels, rows.X, settings.l2, weights,
                          None if weights is None else weights[:rows.n], settings.hessian_structure)


# --------------------------------------------------------------------------
# Scores of the originals and references


def compute_scores(fs: FeatureSet, settings: Settings, svm: bool = True,
                   full_augmentation: bool = True) -> dict[str, np.ndarray]:
    """Every score of the n originals, from the LR fit on the originals, and
    (``full_augmentation``) the same scores under the fit on originals + all
    augmented copies (the before/after figure).

    Returns flat arrays keyed like the datasets of ``scores.h5``.
    """
    everything = frozen_features(fs, np.arange(len(fs.train)))
    passes = [("", training_set(everything, np.empty(0, np.int64), down=False))]
    if full_augmentation:
        passes.append(("full_augmentation/", training_set(everything, np.arange(len(fs.train)), down=False)))
    out: dict[str, np.ndarray] = {}
    for prefix, rows in passes:
        start = time.perf_counter()
        model = fit(rows, settings, None if not prefix else out["model/theta"])
        H = S.hessian(model, rows.X, settings.l2, structure=settings.hessian_structure)
        infl = S.influence(model, fs.train, fs.train_labels, H)
        out[f"{prefix}loss"] = S.loss(model, fs.train, fs.train_labels)
        out[f"{prefix}influence"] = infl["influence"]
        out[f"{prefix}newton_loo"] = infl["newton_loo"]
        out[f"{prefix}leverage"] = infl["leverage"]
        out[f"{prefix}gradient_norm"] = S.gradient_norm(model, fs.train, fs.train_labels)
        out[f"{prefix}model/theta"] = model.theta
        log.info("%sLR fit on %d rows in %d Newton iterations, scores in %.2f s", prefix or "originals: ",
                 len(rows.X), model.n_iter, time.perf_counter() - start)
    if svm:
        start = time.perf_counter()
        fitted = S.svm_margins(fs.train, fs.train_labels, settings.svm_C_grid, settings.svm_folds)
        out["svm_margin"] = fitted.margin
        out["support_vectors"] = fitted.support
        out["svm/C"] = np.array(fitted.C)
        log.info("linear SVM: C=%g by %d-fold CV, %d support vectors (%.2f s)", fitted.C, settings.svm_folds,
                 fitted.support.sum(), time.perf_counter() - start)
    return out


def references(features_for, n: int, n_transforms: int, support_vectors: np.ndarray, settings: Settings,
               warm_start: np.ndarray | None = None, full_augmentation: np.ndarray | None = None) -> dict:
    """No-augmentation, full-augmentation and VSV accuracies.

    ``features_for(chosen)`` gives the :class:`Features` of a training set with
    the chosen points augmented: :func:`frozen_features` of the cache, or a
    retrained CNN (``featurizer_mode: retrain``). ``full_augmentation``: the
    theta of the full augmentation's fit on those features, made before
    (``scores.h5``), which is then evaluated instead of fitting again.
    """
    out = {"n_train": n, "n_transforms": n_transforms}
    for name, chosen in (("no_augmentation", np.empty(0, np.int64)),
                         ("full_augmentation", np.arange(n)),
                         ("vsv", np.flatnonzero(support_vectors))):
        features = features_for(chosen)
        if name == "full_augmentation" and full_augmentation is not None:
            model = S.model_from_theta(full_augmentation, features.n_classes, settings.C)
        else:
            model = fit(training_set(features, chosen, down=False), settings, warm_start)
        result = evaluate(model, features)
        out[f"{name}_accuracy"] = result["accuracy"]
        out[f"{name}_clean_accuracy"] = result["clean_accuracy"]
        out[f"{name}_per_class_accuracy"] = result["per_class_accuracy"]
        log.info("%s: %d augmented points, accuracy %.4f", name, len(chosen), result["accuracy"])
    out["n_support_vectors"] = int(np.sum(support_vectors))
    return out


def cluster_labels(features: np.ndarray, clusters: int, settings: Settings) -> np.ndarray:
    """k-means labels of the originals (scikit-learn, seeded), on one thread: scikit-learn's k-means sums
    per-thread partial results, so its bits (and, through ties, its labels) depend on the thread count, which
    differs between the jobs that call this (a CNN-training job runs with the featurizer's threads)."""
    from sklearn.cluster import KMeans
    from threadpoolctl import threadpool_limits

    if clusters > len(features):
        raise P.PolicyError(f"{clusters} clusters for {len(features)} points")
    km = KMeans(n_clusters=clusters, n_init=settings.clustered_n_init, random_state=settings.clustered_seed)
    with threadpool_limits(1):
        return km.fit_predict(np.asarray(features, dtype=np.float64))


def static_order(policy: P.Policy, scores: np.ndarray | None, features: np.ndarray, seed: int,
                 settings: Settings, score: str = "score") -> np.ndarray:
    """The full order of a nested policy; ``score`` names ``scores`` in errors."""
    if scores is not None:
        scores = P.check_finite(scores, score)
    labels = cluster_labels(features, policy.clusters, settings) if policy.kind == "clustered" else None
    return P.order(policy, scores, P.rng_for(policy.name, seed), len(features), labels)


# --------------------------------------------------------------------------
# A budget


def run_budget(features: Features, chosen: np.ndarray, policy: P.Policy, settings: Settings,
               warm_start: np.ndarray | None = None,
               fitted: S.Model | None = None) -> tuple[dict, S.Model, TrainingSet]:
    """Fit on originals + the chosen points' copies and evaluate; ``fitted``: the model of that training set,
    fit before (reported with its own ``n_iter`` and ``fit_seconds``, 0 for a model read back from its theta)."""
    rows = training_set(features, chosen, policy.down)
    model = fit(rows, settings, warm_start) if fitted is None else fitted
    result = evaluate(model, features)
    result.update(rows=int(len(rows.X)), augmented_points=int(len(chosen)), fit_seconds=model.fit_seconds,
                  n_iter=model.n_iter, points=[int(i) for i in chosen])
    return result, model, rows


def augments_every_point(chosen: np.ndarray, n: int) -> bool:
    """Whether ``chosen`` (indices of the n originals) holds all of them."""
    return len(chosen) == n and len(np.unique(chosen)) == n


def update_choice(policy: P.Policy, current_scores: np.ndarray, chosen: np.ndarray, budget: int,
                  seed: int, score: str = "score") -> np.ndarray:
    """The points augmented at ``budget``: the ones already chosen, then
    ``budget - len(chosen)`` more drawn from the current scores (named
    ``score`` in errors)."""
    current_scores = P.check_finite(current_scores, score)
    extra = P.continue_order(policy, current_scores, chosen, budget - len(chosen),
                             P.rng_for(policy.name, seed, budget))
    return np.concatenate([np.asarray(chosen, dtype=np.int64), extra])


def kdpp_choice(policy: P.Policy, eigenvalues: np.ndarray, eigenvectors: np.ndarray, budget: int,
                seed: int) -> np.ndarray:
    """One independent k-DPP draw of ``budget`` points."""
    return P.kdpp_sample(eigenvalues, eigenvectors, budget, P.rng_for(policy.name, seed, budget))


def choice(policy: P.Policy, budget: int, seed: int, score: str, order: np.ndarray | None,
           kernel: Mapping[str, np.ndarray] | None, current: np.ndarray | None, chosen: np.ndarray) -> np.ndarray:
    """The points a curve augments at ``budget``: a prefix of a nested policy's static ``order``, an
    independent k-DPP draw from ``kernel``, or the Update chain's ``chosen`` extended from its ``current``
    scores."""
    if policy.nested:
        return np.asarray(order[:budget], dtype=np.int64)
    if policy.kind == "kdpp":
        return kdpp_choice(policy, kernel["eigenvalues"], kernel["eigenvectors"], budget, seed)
    return update_choice(policy, current, chosen, budget, seed, score)


def frozen_curve(policy: P.Policy, fs: FeatureSet, scores: Mapping[str, np.ndarray], score: str, seed: int,
                 budgets: list[int], settings: Settings, order: np.ndarray | None = None,
                 kernel: Mapping[str, np.ndarray] | None = None,
                 full_augmentation: np.ndarray | None = None) -> list[dict]:
    """Every budget of one (score, policy, seed) on frozen features, in one call.

    Gives the same results, bit for bit, as one :func:`run_budget` per budget
    with the same choices (a static ``order``'s prefixes, one k-DPP draw per
    budget from ``kernel``'s eigendecomposition, or the Update chain) and the
    same warm start, without a process per budget. The first budget's fit
    starts from the originals' fit, each later one from the budget before it:
    the nearest solution at hand, so Newton needs about half the iterations
    (the minimiser is unique). ``scores`` holds the arrays of ``scores.h5``
    (``model/theta`` at least, plus ``score`` and ``svm/C`` for Update).

    A budget that augments every point, without down-weighting, is the full
    augmentation's training set (in another row order). Given
    ``full_augmentation``, the theta of that set's fit on ``fs`` with the
    same ``settings`` (``scores.h5``'s ``full_augmentation/model/theta``,
    :func:`compute_scores`), the budget takes it instead of fitting again
    (``n_iter`` 0, ``fit_seconds`` 0), so every such curve ends at the model
    of the full-augmentation reference.
    """
    theta = scores["model/theta"]
    full_model = None
    if full_augmentation is not None and not policy.down:
        full_model = S.model_from_theta(full_augmentation, fs.n_classes, settings.C)
    # the test sets in float64 once, not at every prediction (the values and products are the same)
    test = np.asarray(fs.test, dtype=np.float64)
    poisoned_test = test if fs.poisoned_test is fs.test else np.asarray(fs.poisoned_test, dtype=np.float64)
    fs = replace(fs, test=test, poisoned_test=poisoned_test)

    def evaluate(budget: int, chosen: np.ndarray):
        nonlocal theta
        features = frozen_features(fs, chosen)
        fitted = full_model if augments_every_point(chosen, len(fs.train)) else None
        result, model, rows = run_budget(features, chosen, policy, settings, theta, fitted)
        theta = model.theta
        log.info("budget %d: %d rows, accuracy %.4f (%s)", budget, result["rows"], result["accuracy"],
                 "the full augmentation's fit" if fitted is not None else f"{result['n_iter']} Newton iterations")
        return result, model, features, rows

    return curve_of(policy, scores, score, seed, budgets, settings, evaluate, order, kernel)


def curve_of(policy: P.Policy, scores: Mapping[str, np.ndarray], score: str, seed: int, budgets: list[int],
             settings: Settings, evaluate, order: np.ndarray | None = None,
             kernel: Mapping[str, np.ndarray] | None = None) -> list[dict]:
    """Every budget of one (score, policy, seed), in budget order: the points of :func:`choice`, then
    ``evaluate(budget, chosen)`` -> (result, model, features, rows fitted); for Update, the rescoring with
    that model, which the next budget continues from. ``scores`` holds the arrays of ``scores.h5`` (``score``
    and ``svm/C`` for Update)."""
    chosen = np.empty(0, np.int64)
    current = scores[score] if policy.update else None
    svm_C = float(scores["svm/C"]) if policy.update and "svm/C" in scores else None
    results = []
    budgets = sorted(budgets)
    for budget in budgets:
        chosen = choice(policy, budget, seed, score, order, kernel, current, chosen)
        result, model, features, rows = evaluate(budget, chosen)
        if policy.update and budget != budgets[-1]:  # no budget continues from the last one's scores
            current = rescore(score, model, features, rows, settings, svm_C)
        result.update(budget=budget)
        results.append(result)
    return results


# --------------------------------------------------------------------------
# Retrain mode: a new CNN per budget


def task_digest(task) -> str:
    """SHA-256 (hex) of a task's images, labels, indices (which seed each image's augmentation) and class names."""
    digest = hashlib.sha256(repr(tuple(task.class_names)).encode())
    update_with_arrays(digest, (task.train_images, task.train_labels, task.train_index, task.test_images,
                                task.test_labels, task.test_index))
    return digest.hexdigest()


def set_digest(chosen: np.ndarray) -> str:
    """SHA-256 (hex) of a set of point indices, whatever their order."""
    return hashlib.sha256(np.sort(np.asarray(chosen, dtype=np.int64)).astype("<i8").tobytes()).hexdigest()


def retrain_cnn_seed(mode: str, featurizer_seed: int, policy: str, seed: int, budget: int,
                     chosen: np.ndarray | None = None) -> int:
    """The seed of the retrain-mode CNN of (``policy``, ``seed``, ``budget``) that augments ``chosen``.

    ``featurizer``: ``featurizer_seed``, the same for every CNN (CNN noise shared
    by all curves). ``per_job``: the first 4 bytes (big-endian) of the SHA-256
    of ``"<featurizer_seed>/<policy>/<seed>/<budget>"``, an integer below 2**32,
    the same on every machine and run (the authors' unseeded dropout and
    shuffling differed between their per-budget jobs). ``per_set``: the same of
    ``"<featurizer_seed>/<seed>/<set_digest(chosen)>"``: the CNN is a function
    of the augmented set and the curve's seed, so curves of one seed that augment
    the same set (every policy at budget n; Det Prop and Det Prop Down) train
    the same CNN, once (:func:`shared_retrained_features`)."""
    if mode == "featurizer":
        return int(featurizer_seed)
    if mode == "per_job":
        key = f"{int(featurizer_seed)}/{policy}/{int(seed)}/{int(budget)}"
    elif mode == "per_set":
        key = f"{int(featurizer_seed)}/{int(seed)}/{set_digest(chosen)}"
    else:
        raise ValueError(f"experiment.retrain_seed must be one of {', '.join(RETRAIN_SEEDS)}, got {mode!r}")
    return int.from_bytes(hashlib.sha256(key.encode()).digest()[:4], "big")


def retraining_set(task, augmentation: str, params: Mapping, chosen: np.ndarray):
    """(images, labels, chosen_images) a retrained CNN learns from: the originals, then the K copies of each
    chosen point in the order of ``chosen``."""
    chosen = np.asarray(chosen, dtype=np.int64)
    chosen_images, _, _ = augment.augment(task.train_images[chosen], augmentation, params,
                                          task.train_index[chosen], TRAIN_STREAM)
    k = augment.n_transforms(augmentation, params)
    images = np.concatenate([task.train_images, chosen_images])
    labels = np.concatenate([task.train_labels, np.repeat(task.train_labels[chosen], k)]).astype(np.int64)
    return images, labels, chosen_images


def retrained_features(task, augmentation: str, params: Mapping, chosen: np.ndarray, spec, model=None,
                       test_augmented: tuple[np.ndarray, np.ndarray] | None = None) -> Features:
    """Train a new featurizer on the originals + the chosen points' augmented
    images (the authors' MNIST behaviour) and featurize with it; or, given
    ``model`` (that CNN, trained before), only featurize. ``test_augmented``:
    :func:`augmented_test_set`, where the caller has it already."""
    images, labels, chosen_images = retraining_set(task, augmentation, params, chosen)
    seconds = 0.0
    if model is None:
        model, history = cnn.train(images, labels, spec)
        seconds = float(sum(row["seconds"] for row in history))
    features = model_features(model, task, augmentation, params, chosen_images, spec, test_augmented)
    features.extra.update(cnn_seconds=seconds, cnn_images=int(len(images)))
    return features


def augmented_test_set(task, augmentation: str, params: Mapping) -> tuple[np.ndarray, np.ndarray]:
    """The test set's augmented copies, shape (m K, H, W, C), and the test image each comes from, shape (m K,):
    the same for every CNN of a task."""
    images, source, _ = augment.augment(task.test_images, augmentation, params, task.test_index, TEST_STREAM)
    return images, source


def model_features(model, task, augmentation: str, params: Mapping, chosen_images: np.ndarray, spec,
                   test_augmented: tuple[np.ndarray, np.ndarray] | None = None) -> Features:
    """The features of a task under ``model``'s bottleneck: the training points, ``chosen_images`` (their
    augmented copies, from :func:`retraining_set`), the test set and the test set's augmented copies
    (``test_augmented``, :func:`augmented_test_set`; computed here where not given)."""
    extractor = cnn.bottleneck(model)
    test_augmented, test_source = test_augmented or augmented_test_set(task, augmentation, params)

    def featurize(images):
        return cnn.featurize(extractor, images, spec.predict_batch_size, preprocessing=spec.preprocessing)

    test = featurize(task.test_images)
    return Features(
        train=featurize(task.train_images),
        train_labels=task.train_labels,
        augmented_chosen=featurize(chosen_images),
        poisoned_test=np.concatenate([test, featurize(test_augmented)]),
        poisoned_test_labels=np.concatenate([task.test_labels, task.test_labels[test_source]]),
        test=test,
        test_labels=task.test_labels,
        n_transforms=augment.n_transforms(augmentation, params),
        n_classes=task.n_classes,
        model=model,
    )


def shared_retrained_features(cache: Path, context: Mapping, task, augmentation: str, params: Mapping,
                              rows: np.ndarray, spec,
                              test_augmented: tuple[np.ndarray, np.ndarray] | None = None) -> tuple[Features, bool]:
    """:func:`retrained_features` of the points ``rows`` (in training order), with the CNN kept in ``cache``:
    stored as ``<key>.keras`` by the first job that trains it, loaded instead of trained by any later job
    of the same key (the same bits: training is deterministic), including the same job run again after an
    interruption. The key is the SHA-256 of ``context`` (what else determines the training: the library's
    code, the CPU kernels, the task's digest), the spec (its seed included), the augmentation, ``rows`` and
    the Keras and TensorFlow versions.
    Jobs of one key wait for each other (an exclusive lock on ``<key>.lock``).

    Returns the features and whether the CNN came from the cache."""
    import fcntl
    import json

    import keras
    import tensorflow as tf

    from effaug.runtime import atomic_output

    rows = np.asarray(rows, dtype=np.int64)
    digest = hashlib.sha256(rows.astype("<i8").tobytes()).hexdigest()  # set_digest where rows are sorted
    versions = {"keras": keras.__version__, "tensorflow": tf.__version__}  # a CNN of other versions is not reused
    key = hashlib.sha256(json.dumps({"context": context, "spec": spec.to_dict(), "augmentation": augmentation,
                                     "params": params, "set": digest, "versions": versions}, sort_keys=True,
                                    default=str).encode()).hexdigest()
    cache = Path(cache)
    cache.mkdir(parents=True, exist_ok=True)
    path = cache / f"{key}.keras"
    with open(cache / f"{key}.lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        if path.is_file():
            cnn.configure_tensorflow(spec.threads, spec.seed)
            log.info("this CNN (set and seed) is in the cache: %s", path)
            model = keras.models.load_model(path)
            return retrained_features(task, augmentation, params, rows, spec, model, test_augmented), True
        features = retrained_features(task, augmentation, params, rows, spec, test_augmented=test_augmented)
        with atomic_output(path) as tmp:
            features.model.save(tmp)
    return features, False


def cached_retraining(cache: Path, context: Mapping, task, augmentation: str, params: Mapping,
                      featurizer: Mapping, mode: str, policy: str, seed: int,
                      test_augmented: tuple[np.ndarray, np.ndarray] | None = None):
    """The ``retrained`` callable of :func:`retrain_curve` for one curve (``policy``, ``seed``): each budget's
    CNN, seeded by :func:`retrain_cnn_seed` (``mode``, ``featurizer``'s seed), trained on the originals +
    the chosen points' copies (in index order with ``per_set``: the CNN depends on the set, not on the
    order of the picks), through :func:`shared_retrained_features`' ``cache``. ``test_augmented``:
    :func:`augmented_test_set`, computed here where not given (a job passes it to all its curves)."""
    test_augmented = test_augmented or augmented_test_set(task, augmentation, params)

    def retrained(budget: int, chosen: np.ndarray):
        cnn_seed = retrain_cnn_seed(mode, featurizer["seed"], policy, seed, budget, chosen)
        rows = np.sort(chosen) if mode == "per_set" else np.asarray(chosen, dtype=np.int64)
        spec = cnn.FeaturizerSpec(**{**featurizer, "seed": cnn_seed})
        features, shared = shared_retrained_features(cache, context, task, augmentation, params, rows, spec,
                                                     test_augmented)
        return features, rows, {"cnn_seed": cnn_seed, "cnn_shared": shared, **features.extra}

    return retrained


def retrain_curve(policy: P.Policy, scores: Mapping[str, np.ndarray], score: str, seed: int, budgets: list[int],
                  settings: Settings, retrained, order: np.ndarray | None = None,
                  kernel: Mapping[str, np.ndarray] | None = None) -> list[dict]:
    """Every budget of one (score, policy, seed) in retrain mode (:func:`curve_of`): per budget,
    ``retrained(budget, chosen)`` -> (the features under a CNN trained for that set, the rows to fit on, extra
    result fields), e.g. :func:`cached_retraining`; the fit on those rows (no warm start: every budget has
    features of its own) and the evaluation."""

    def evaluate(budget: int, chosen: np.ndarray):
        features, rows, extra = retrained(budget, chosen)
        result, model, fitted = run_budget(features, rows, policy, settings)
        result.update(points=[int(i) for i in chosen], **extra)  # the points in the order chosen
        log.info("budget %d: %d rows, accuracy %.4f", budget, result["rows"], result["accuracy"])
        return result, model, features, fitted

    return curve_of(policy, scores, score, seed, budgets, settings, evaluate, order, kernel)


# --------------------------------------------------------------------------
# Cost: CNN epoch time against training-set size


def timing_sets(task, augmentation: str, params: Mapping, budgets: list[int], seed: int):
    """For each budget, the (images, labels) of :func:`retraining_set` with the first ``budget`` points of
    one seeded random order chosen, augmenting only the largest budget's points: a point's copies depend
    on the point alone, so every budget's copies are a prefix of the largest's."""
    order = np.random.default_rng(seed).permutation(len(task.train_images))
    k = augment.n_transforms(augmentation, params)
    _, labels, copies = retraining_set(task, augmentation, params, order[:max(budgets)])
    for budget in budgets:
        yield np.concatenate([task.train_images, copies[:budget * k]]), labels[:len(task.train_images) + budget * k]


def epoch_timing(task, augmentation: str, params: Mapping, budgets: list[int], spec,
                 repeats: int = 3) -> list[dict]:
    """Seconds per epoch of the featurizer CNN against the number of training
    images: the originals plus the copies of ``budget`` points (the first
    points of a fixed random order), ``repeats`` timed epochs for every budget
    (:func:`cnn.epoch_seconds`: one model, one untimed graph-building epoch first).

    Every augmentation keeps the image shape, so an epoch costs the same for
    the same number of images whichever transforms made them: the workflow
    times the augmentation with the most copies per point
    (:func:`augment.most_copies`), whose sizes cover every augmentation of
    the dataset.

    Returns one row per (budget, repeat): augmentation, budget, images, seconds_per_epoch.
    """
    k = augment.n_transforms(augmentation, params)
    n_classes = int(task.train_labels.max()) + 1
    rows = []
    sets = timing_sets(task, augmentation, params, budgets, spec.seed)
    for budget, seconds in zip(budgets, cnn.epoch_seconds(sets, spec, n_classes, repeats)):
        images = len(task.train_images) + budget * k
        rows += [{"augmentation": augmentation, "budget": budget, "images": images, "seconds_per_epoch": s}
                 for s in seconds]
        log.info("%d points with %d %s copies each, %d images: %s s per epoch", budget, k, augmentation,
                 images, ", ".join(f"{s:.3f}" for s in seconds))
    return rows
