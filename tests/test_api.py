"""The Python API (effaug.api) gives the workflow's numbers: the same scores as
experiment.compute_scores and the same points as static_order / frozen_curve /
a k-DPP draw, for the same arrays, settings and seed."""

import subprocess
import sys

import numpy as np
import pytest

import effaug
from effaug import experiment as E
from effaug import policies as P
from effaug.api import AugmentationSelector, NotFittedError, point_scores, select
from effaug.features import FeatureSet
from effaug.settings import Settings
from tests.conftest import REPO

N, D, COPIES = 200, 10, 3
SETTINGS = Settings()


def blobs(n_classes=2, n=N, d=D, seed=0):
    """Overlapping Gaussian classes (float32, like features.h5) and jittered copies."""
    rng = np.random.default_rng(seed)
    y = (np.arange(n) % n_classes).astype(np.uint8)
    means = rng.normal(size=(n_classes, d)) * 1.2
    X = (means[y] + rng.normal(size=(n, d))).astype(np.float32)
    augmented = (np.repeat(X, COPIES, axis=0) + 0.3 * rng.normal(size=(n * COPIES, d))).astype(np.float32)
    return X, y, augmented, np.repeat(np.arange(n), COPIES)


def workflow_set(X, y, augmented, n_classes):
    """The FeatureSet the workflow would read from features.h5 (with a test set of its own)."""
    n, k = len(X), len(augmented) // len(X)
    test = X[:40] + 0.5
    return FeatureSet(
        train=X, train_labels=y, augmented=augmented, augmented_source=np.repeat(np.arange(n), k),
        augmented_transform=np.tile(np.arange(k), n), test=test, test_labels=y[:40],
        poisoned_test=np.concatenate([test, np.repeat(test, k, axis=0)]),
        poisoned_test_labels=np.concatenate([y[:40], np.repeat(y[:40], k)]),
        poisoned_test_source=np.concatenate([np.arange(40), np.repeat(np.arange(40), k)]),
        poisoned_test_transform=np.concatenate([np.full(40, -1), np.tile(np.arange(k), 40)]),
        attrs={"n_classes": n_classes, "n_transforms": k},
    )


@pytest.fixture(scope="module", params=[2, 3], ids=["binary", "three_classes"])
def task(request):
    """(X, y, augmented, source, K, the workflow's scores.h5 arrays, its FeatureSet)."""
    K = request.param
    X, y, augmented, source = blobs(K)
    fs = workflow_set(X, y, augmented, K)
    return X, y, augmented, source, K, E.compute_scores(fs, SETTINGS, svm=False), fs


# --------------------------------------------------------------------------
# Same numbers as the workflow


@pytest.mark.parametrize("score", ["loss", "influence", "newton_loo", "gradient_norm"])
def test_scores_are_the_workflows_bit_for_bit(task, score):
    X, y, _, _, _, arrays, _ = task
    got = point_scores(X, y, score)
    assert got.dtype == np.float64 and got.shape == (N,)
    np.testing.assert_array_equal(got, arrays[score])
    # the augmented copies do not change the originals' scores
    np.testing.assert_array_equal(
        AugmentationSelector(score).fit(X, y, *task[2:4]).scores_, arrays[score])


def test_scores_follow_the_model_settings(task):
    X, y, augmented, _, K, _, _ = task
    settings = Settings(C=0.3, hessian_l2="model", hessian_structure="block_diagonal")
    arrays = E.compute_scores(workflow_set(X, y, augmented, K), settings, svm=False)
    got = point_scores(X, y, "influence", C=0.3, hessian_l2="model", hessian_structure="block_diagonal")
    np.testing.assert_array_equal(got, arrays["influence"])


def test_svm_margin_and_its_support_vectors():
    X, y, augmented, _ = blobs(2)
    arrays = E.compute_scores(workflow_set(X, y, augmented, 2), SETTINGS, svm=True)
    selector = AugmentationSelector("svm_margin", "det-inverse-prop").fit(X, y)
    np.testing.assert_array_equal(selector.scores_, arrays["svm_margin"])
    np.testing.assert_array_equal(selector.support_vectors_, arrays["support_vectors"])
    expected = E.static_order(P.parse_policy("det-inverse-prop"), arrays["svm_margin"], X, 0, SETTINGS)
    np.testing.assert_array_equal(selector.select(30), expected[:30])


@pytest.mark.parametrize("name,score", [
    ("det-prop", "influence"), ("rand-prop", "influence"), ("rand-prop-down", "loss"),
    ("rand-inverse-prop", "gradient_norm"), ("det-inverse-prop", "loss"), ("baseline", "influence"),
    ("clustered-rand-prop-c4", "influence"), ("clustered-baseline-c3", "loss"),
])
def test_nested_policies_are_the_workflows_static_order(task, name, score):
    X, y, _, _, _, arrays, _ = task
    policy = P.parse_policy(name)
    values = arrays[score] if policy.uses_score else None
    expected = E.static_order(policy, values, X, 7, SETTINGS, score)
    selector = AugmentationSelector(score, name, seed=7).fit(X, y)
    np.testing.assert_array_equal(selector.order_, expected)
    for budget in (0, 1, 25, N):
        got = selector.select(budget)
        assert got.dtype == np.int64
        np.testing.assert_array_equal(got, expected[:budget])
    np.testing.assert_array_equal(select(X, y, 25, score, name, seed=7), expected[:25])
    assert (selector.scores_ is None) == (not policy.uses_score)


@pytest.mark.parametrize("name", ["rand-prop-update-down", "det-prop-update"])
def test_update_policies_are_the_workflows_frozen_curve(task, name):
    X, y, augmented, source, _, arrays, fs = task
    policy = P.parse_policy(name)
    budgets = [1, 5, 20, 60]
    curve = E.frozen_curve(policy, fs, arrays, "influence", 2, budgets, SETTINGS)
    selector = AugmentationSelector("influence", name, seed=2, update_budgets=budgets)
    selector.fit(X, y, augmented, source)
    assert selector.order_ is None
    for budget, result in zip(budgets, curve):
        np.testing.assert_array_equal(selector.select(budget), result["points"])
    # the default refits after every pick: the curve at budgets 1, 2, ..., b
    every = E.frozen_curve(policy, fs, arrays, "influence", 2, list(range(1, 9)), SETTINGS)
    got = select(X, y, 8, "influence", name, seed=2, augmented=augmented, augmented_source=source)
    np.testing.assert_array_equal(got, every[-1]["points"])
    # an int s refits every s picks; fractions and percentages are budgets too
    steps = E.frozen_curve(policy, fs, arrays, "influence", 2, [4, 8, 10], SETTINGS)
    for update_budgets in (4, ["2%", 0.04, 30], np.array([8, 4, 4])):
        selector.set_params(update_budgets=update_budgets).fit(X, y, augmented, source)
        np.testing.assert_array_equal(selector.select(10), steps[-1]["points"])


def test_update_with_svm_margin_rescores_with_the_cv_chosen_C():
    X, y, augmented, source = blobs(2)
    fs = workflow_set(X, y, augmented, 2)
    arrays = E.compute_scores(fs, SETTINGS, svm=True)
    curve = E.frozen_curve(P.parse_policy("det-prop-update"), fs, arrays, "svm_margin", 0, [3, 6], SETTINGS)
    got = select(X, y, 6, "svm_margin", "det-prop-update", augmented=augmented, augmented_source=source,
                 update_budgets=[3])
    np.testing.assert_array_equal(got, curve[-1]["points"])


@pytest.mark.parametrize("name", ["kdpp-influence", "kdpp-bottleneck"])
def test_kdpp_is_the_workflows_draw(name):
    X, y, augmented, _ = blobs(3)
    arrays = E.compute_scores(workflow_set(X, y, augmented, 3), SETTINGS, svm=False)
    policy = P.parse_policy(name)
    quality = arrays["loss"] if policy.uses_score else None
    eigenvalues, eigenvectors = np.linalg.eigh(P.kdpp_kernel(X, quality, AugmentationSelector().kdpp_epsilon))
    selector = AugmentationSelector("loss", name, seed=4).fit(X, y)
    for budget in (1, 17, 150):
        expected = E.kdpp_choice(policy, eigenvalues, eigenvectors, budget, 4)
        np.testing.assert_array_equal(selector.select(budget), expected)
    assert len(selector.select(0)) == 0


# --------------------------------------------------------------------------
# Labels, budgets, augmented rows


def test_string_and_arbitrary_integer_labels_are_encoded_like_sklearn():
    X, y, augmented, source = blobs(3)
    names = np.array(["zebra", "ant", "moose"])[y]  # sorted: ant=0, moose=1, zebra=2
    codes = np.searchsorted(["ant", "moose", "zebra"], names)
    expected = select(X, codes, 30, policy="rand-prop", seed=1)
    selector = AugmentationSelector(policy="rand-prop", seed=1).fit(X, names.tolist())
    assert selector.classes_.tolist() == ["ant", "moose", "zebra"]
    assert selector.n_features_in_ == D and selector.n_transforms_ == 0
    np.testing.assert_array_equal(selector.select(30), expected)
    np.testing.assert_array_equal(select(X, np.array([-5, 40, 7])[codes], 30, seed=1), expected)
    np.testing.assert_array_equal(select(X, codes.reshape(-1, 1), 30, seed=1), expected)  # column vector
    np.testing.assert_array_equal(point_scores(X, names, "loss"), point_scores(X, codes, "loss"))


def test_budgets_as_counts_fractions_and_percentages():
    X, y, _, _ = blobs(2)
    selector = AugmentationSelector(policy="det-prop").fit(X, y)
    order = selector.order_
    for budget, points in [(20, 20), (np.int64(20), 20), (0.1, 20), (np.float32(0.1), 20), ("10%", 20), (" 10% ", 20),
                           (1.0, N), ("100%", N), ("0%", 0), (0, 0), (N, N),
                           # round(fraction * n), half to even like the workflow's summary fractions
                           (0.0125, 2), ("1.25%", 2), (0.0175, 4), ("12.5%", 25)]:
        got = selector.select(budget)
        assert len(got) == points, budget
        np.testing.assert_array_equal(got, order[:points])
    for bad in (N + 1, -1, 1.5, 0.0, -0.2, "150%", "-1%", "ten", "10", True, None, [3]):
        with pytest.raises(ValueError, match="budget"):
            selector.select(bad)
    with pytest.raises(ValueError, match=f"n = {N}"):
        selector.select(N + 1)


def test_augmented_rows_in_any_order_are_matched_by_source():
    X, y, augmented, source = blobs(2)
    transform_major = np.argsort(np.tile(np.arange(COPIES), N), kind="stable")  # rows k*n + i
    shuffled = augmented.reshape(N, COPIES, D).transpose(1, 0, 2).reshape(-1, D)
    assert np.array_equal(shuffled[np.argsort(source[transform_major], kind="stable")], augmented)
    kwargs = dict(policy="det-prop-update-down", update_budgets=5)
    a = select(X, y, 15, augmented=augmented, augmented_source=source, **kwargs)
    b = select(X, y, 15, augmented=shuffled, augmented_source=np.tile(np.arange(N), COPIES), **kwargs)
    np.testing.assert_array_equal(a, b)


def test_same_seed_same_points_other_seed_other_points():
    X, y, _, _ = blobs(2)
    for name in ("rand-prop", "baseline"):
        a, b = select(X, y, 20, policy=name, seed=3), select(X, y, 20, policy=name, seed=3)
        np.testing.assert_array_equal(a, b)
        assert not np.array_equal(a, select(X, y, 20, policy=name, seed=4))
        assert len(np.unique(a)) == 20 and a.min() >= 0 and a.max() < N
    # deterministic policies ignore the seed
    np.testing.assert_array_equal(select(X, y, 20, policy="det-prop", seed=0),
                                  select(X, y, 20, policy="det-prop", seed=9))


# --------------------------------------------------------------------------
# Errors


def test_invalid_inputs_name_the_argument():
    X, y, augmented, source = blobs(2)
    bad_x = X.copy()
    bad_x[3, 2] = np.nan
    cases = [
        (dict(features=X[:, 0]), "features must be a 2-d"),
        (dict(features=X[None]), "features must be a 2-d"),
        (dict(features=bad_x), "features hold NaN or infinite values in 1 of"),
        (dict(features=np.where(bad_x == bad_x, bad_x, np.inf)), "features hold NaN or infinite"),
        (dict(features=np.full((N, D), "a")), "features must be numeric"),
        (dict(features=X + 1j), "features must be real"),
        (dict(features=X[:, :0]), "features must have at least one"),
        (dict(labels=y[:-1]), f"labels has {N - 1} entries but features has {N} rows"),
        (dict(labels=np.stack([y, y], axis=1)), "labels must be a 1-d"),
        (dict(labels=np.zeros(N)), "at least 2 classes"),
        (dict(labels=np.where(y == 1, np.nan, 0.0)), "labels hold NaN"),
        (dict(score="margin"), "unknown score 'margin'; expected one of loss, influence, newton_loo"),
        (dict(policy="random"), "unknown policy 'random'; expected baseline, .*kdpp"),
        (dict(policy="vsv"), "vsv.*not an ordering.*svm_margin"),
        (dict(policy="rand-prop-update"), "augmented \\(K\\*n, d\\) and augmented_source"),
        (dict(augmented=augmented), "augmented_source is required"),
        (dict(augmented_source=source), "augmented_source was given without augmented"),
        (dict(augmented=augmented[:, :3], augmented_source=source), "augmented has 3 features"),
        (dict(augmented=augmented[:-1], augmented_source=source[:-1]), "not a multiple"),
        (dict(augmented=augmented, augmented_source=np.sort(source)[::-1] * 0), "same number K = 3"),
        (dict(augmented=augmented, augmented_source=source + 1), "outside 0..199"),
        (dict(augmented=augmented, augmented_source=source.astype(float)), "integer point indices"),
        (dict(C=0), "C must be a number > 0"),
        (dict(hessian_l2="tiny"), "hessian_l2 must be 'code', 'model' or a number"),
        (dict(hessian_structure="diagonal"), "hessian_structure"),
        (dict(solver="sgd"), "solver"),
        (dict(seed=-1), "seed must be an int"),
        (dict(policy="rand-prop-update", augmented=augmented, augmented_source=source, update_budgets=0),
         "update_budgets"),
    ]
    for change, message in cases:
        kwargs = dict(features=X, labels=y, budget=10)
        kwargs.update(change)
        with pytest.raises(ValueError, match=message):
            select(**kwargs)
    with pytest.raises(ValueError, match="clusters"):
        select(X, y, 5, policy=f"clustered-baseline-c{N + 1}")
    with pytest.raises(NotFittedError, match="fit"):
        AugmentationSelector().select(3)
    with pytest.raises(ValueError, match="unknown parameter 'gamma'"):
        AugmentationSelector().set_params(gamma=1)


def test_newton_loo_nan_is_named_when_ordering():
    rng = np.random.default_rng(0)
    X, y = rng.normal(size=(8, 12)), np.arange(8) % 2  # n <= d + 1: the fit interpolates every point
    assert np.isnan(point_scores(X, y, "newton_loo")).any()
    with pytest.raises(ValueError, match="newton_loo.*NaN"):
        select(X, y, 2, "newton_loo", "det-prop")


# --------------------------------------------------------------------------
# The package surface


def test_names_versions_and_the_schema_agree():
    import yaml

    schema = yaml.safe_load((REPO / "workflow/schemas/config.schema.yaml").read_text())
    enum = schema["properties"]["experiment"]["properties"]["scores"]["items"]["enum"]
    assert list(effaug.SCORES) == enum
    assert set(P.TWELVE) <= set(effaug.POLICY_NAMES) and "vsv" not in effaug.POLICY_NAMES
    assert len(effaug.POLICY_NAMES) == len(set(effaug.POLICY_NAMES)) == 19
    for name in effaug.POLICY_NAMES + tuple(p.replace("<clusters>", "5") for p in effaug.POLICY_PATTERNS):
        P.parse_policy(name)
    assert effaug.__version__ and effaug.__version__[0].isdigit()
    assert effaug.select is select and effaug.point_scores is point_scores
    assert {"select", "point_scores", "AugmentationSelector", "__version__"} <= set(dir(effaug))
    with pytest.raises(AttributeError):
        effaug.no_such_name  # noqa: B018
    assert "AugmentationSelector(policy='det-prop', C=2.0)" == repr(AugmentationSelector(policy="det-prop", C=2.0))


def test_importing_effaug_stays_light_and_keeps_the_submodules():
    code = (
        "import sys; import effaug; "
        "assert [m for m in ('numpy', 'h5py') if m in sys.modules] == [], 'import effaug'; "
        "import numpy as np; rng = np.random.default_rng(0); X = rng.normal(size=(60, 4)); "
        "y = np.arange(60) % 2; effaug.select(X, y, 5); "
        "from effaug import scores; assert scores.__name__ == 'effaug.scores', scores; "
        "heavy = [m for m in ('tensorflow', 'keras', 'sklearn', 'snakemake', 'imgaug') if m in sys.modules]; "
        "assert not heavy, heavy"
    )
    result = subprocess.run([sys.executable, "-c", code], cwd=REPO, capture_output=True, text=True)
    assert result.returncode == 0, result.stdout + result.stderr


def test_docstring_examples_run():
    import doctest

    from effaug import api

    results = doctest.testmod(api, verbose=False)
    assert results.attempted >= 3 and results.failed == 0


def test_a_failed_fit_leaves_the_selector_unfitted():
    X, y, _, _ = blobs(2)
    selector = AugmentationSelector(policy="det-prop").fit(X, y)
    selector.set_params(policy=f"clustered-baseline-c{N + 1}")
    with pytest.raises(ValueError, match="clusters"):
        selector.fit(X, y)
    with pytest.raises(NotFittedError):
        selector.select(3)


def test_effaug_scores_is_the_callable_scores_module():
    import effaug
    from effaug import scores as S

    rng = np.random.default_rng(3)
    X = rng.normal(size=(40, 3))
    y = (X[:, 0] + 0.3 * rng.normal(size=40) > 0).astype(int)
    assert np.array_equal(effaug.scores(X, y, score="loss"), effaug.point_scores(X, y, score="loss"))
    assert effaug.scores is S and callable(S.fit_model)
