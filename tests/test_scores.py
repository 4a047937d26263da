import numpy as np
import pytest

from effaug import scores as S


def problem(n=120, d=5, seed=0, separation=1.0):
    rng = np.random.default_rng(seed)
    y = (np.arange(n) % 2).astype(np.uint8)
    X = rng.normal(size=(n, d)) + separation * (y[:, None] - 0.5)
    return X, y


def test_newton_matches_sklearn():
    from sklearn.linear_model import LogisticRegression

    X, y = problem()
    for C in (0.1, 1.0, 10.0):
        ours = S.fit_logistic(X, y, C=C, tol=1e-14)
        ref = LogisticRegression(C=C, tol=1e-12, max_iter=10000).fit(X, y)
        np.testing.assert_allclose(ours.coef, ref.coef_[0], rtol=1e-6, atol=1e-8)
        np.testing.assert_allclose(ours.intercept, ref.intercept_[0], rtol=1e-6, atol=1e-8)


def test_sample_weights_equal_duplicated_rows():
    X, y = problem(n=40)
    weights = np.where(np.arange(40) < 10, 3.0, 1.0)
    weighted = S.fit_logistic(X, y, sample_weight=weights, tol=1e-14)
    rows = np.concatenate([np.arange(40), np.arange(10), np.arange(10)])
    duplicated = S.fit_logistic(X[rows], y[rows], tol=1e-14)
    np.testing.assert_allclose(weighted.theta, duplicated.theta, rtol=1e-8, atol=1e-10)


def test_warm_start_reaches_the_same_optimum_in_fewer_iterations():
    X, y = problem(n=200, d=8)
    cold = S.fit_logistic(X, y, tol=1e-14)
    warm = S.fit_logistic(X, y, tol=1e-14, warm_start=cold.theta + 0.01)
    np.testing.assert_allclose(warm.theta, cold.theta, rtol=1e-9, atol=1e-11)
    assert warm.n_iter < cold.n_iter


def test_newton_ends_at_the_minimiser_when_its_last_steps_reuse_a_hessian(monkeypatch):
    X, y = problem(n=300, d=20, separation=2.0)
    exact = S.fit_logistic(X, y, tol=0.0, max_iter=30)  # tol 0: a new Hessian at every one of 30 steps
    factorisations = []
    real = S._hessian_solver
    monkeypatch.setattr(S, "_hessian_solver", lambda *args: factorisations.append(1) or real(*args))
    model = S.fit_logistic(X, y)
    assert len(factorisations) == model.n_iter - 1  # the last iteration formed no Hessian
    np.testing.assert_allclose(model.theta, exact.theta, rtol=1e-12, atol=1e-14)


def test_a_singular_newton_hessian_gives_a_clear_error():
    X = np.repeat(1e8 * np.random.default_rng(0).normal(size=(20, 1)), 2, axis=1)  # two equal, huge columns
    with pytest.raises(S.ScoreError, match=r"standardise the features, or lower C \(experiment\.C in"):
        S.fit_logistic(X, np.arange(20) % 2)


def test_lbfgs_solver_uses_sklearn_settings():
    X, y = problem()
    model = S.fit_logistic(X, y, solver="lbfgs", tol=1e-12, max_iter=10000)
    np.testing.assert_allclose(model.theta, S.fit_logistic(X, y).theta, rtol=1e-6, atol=1e-8)
    rough = S.fit_logistic(X, y, solver="lbfgs", tol=1e-4, max_iter=100)  # the authors' settings
    assert not np.array_equal(rough.theta, model.theta)


def test_loss_and_residuals_are_accurate_in_the_tails():
    z = np.array([-800.0, -40.0, 0.0, 40.0, 800.0])
    with np.errstate(over="ignore"):
        np.testing.assert_allclose(S.residuals(z, np.ones(5)), -1 / (1 + np.exp(z)), rtol=1e-12)
    assert S.residuals(np.array([40.0]), np.ones(1))[0] == pytest.approx(-np.exp(-40.0), rel=1e-12)
    model = S.LogisticModel(np.array([1.0]), 0.0, 1.0)
    np.testing.assert_allclose(S.loss(model, np.array([[40.0]]), np.array([1])), np.log1p(np.exp(-40.0)), rtol=1e-12)


def direct_influence(model, X, y, H):
    """The authors' way: an explicit inverse and a loop over points."""
    H_inv = np.linalg.inv(H)
    out = []
    for x, label in zip(X, y):
        xb = np.append(x, 1.0)
        p = 1 / (1 + np.exp(-(xb @ model.theta)))
        g = (p - label) * xb
        out.append(-(g @ H_inv @ g))
    return np.abs(np.array(out))


@pytest.mark.parametrize("l2", ["code", "model"])
def test_closed_form_influence_equals_the_per_point_computation(l2):
    X, y = problem(n=80, d=6)
    model = S.fit_logistic(X, y, C=1.0)
    H = S.hessian(model, X, S.hessian_l2(l2, 1.0))
    got = S.influence(model, X, y, H)
    np.testing.assert_allclose(got["influence"], direct_influence(model, X, y, H), rtol=1e-9)
    assert (got["leverage"] > 0).all() and (got["leverage"] < 1).all()


def test_newton_loo_predicts_true_leave_one_out_retraining():
    X, y = problem(n=60, d=4, seed=3, separation=1.5)
    C = 1.0
    model = S.fit_logistic(X, y, C=C, tol=1e-14)
    got = S.influence(model, X, y, S.hessian(model, X, S.hessian_l2("model", C)))
    true_change = []
    for i in range(len(X)):
        keep = np.arange(len(X)) != i
        loo = S.fit_logistic(X[keep], y[keep], C=C, tol=1e-14)
        true_change.append(S.loss(loo, X[i:i + 1], y[i:i + 1])[0] - S.loss(model, X[i:i + 1], y[i:i + 1])[0])
    true_change = np.array(true_change)
    assert (true_change > 0).all()  # leaving a point out raises its loss
    # first order in the held-out point's own loss: |I_i| underestimates, the Newton step is closer
    newton_error = np.abs(got["newton_loo"] - true_change) / true_change
    plain_error = np.abs(got["influence"] - true_change) / true_change
    assert np.median(newton_error) < 0.1
    assert np.median(newton_error) < np.median(plain_error)
    rank = lambda a: np.argsort(np.argsort(a))
    assert np.corrcoef(rank(got["newton_loo"]), rank(true_change))[0, 1] > 0.98


def test_gradient_norm():
    X, y = problem(n=30, d=3)
    model = S.fit_logistic(X, y)
    z = model.decision_function(X)
    p = 1 / (1 + np.exp(-z))
    expected = np.abs(p - y) * np.linalg.norm(np.hstack([X, np.ones((30, 1))]), axis=1)
    np.testing.assert_allclose(S.gradient_norm(model, X, y), expected, rtol=1e-10)


def test_svm_margins_and_support_vectors():
    X, y = problem(n=80, d=3, separation=3.0)
    fit = S.svm_margins(X, y)
    assert fit.C in (0.01, 0.1, 1.0, 10.0, 100.0)
    assert 0 < fit.support.sum() < 80
    # support vectors lie on or inside the margin, the others outside
    assert fit.margin[fit.support].max() <= 1 + 1e-3
    assert fit.margin[~fit.support].min() >= 1 - 1e-3


def test_singular_hessian_gives_a_clear_error():
    X = np.zeros((10, 3))
    y = np.arange(10) % 2
    model = S.LogisticModel(np.zeros(3), 0.0, 1.0)
    with pytest.raises(S.ScoreError, match="hessian_l2"):
        S.influence(model, X, y, S.hessian(model, X, 0.0))


def test_newton_loo_is_nan_where_the_fit_interpolates_the_point(caplog):
    # n <= d + 1 with the authors' tiny Hessian L2 term: every leverage is within 1e-6 of 1
    X, y = problem(n=20, d=50, separation=3.0)
    model = S.fit_logistic(X, y, C=1.0, tol=1e-14)
    with caplog.at_level("WARNING", logger="effaug.scores"):
        scores = S.influence(model, X, y, S.hessian(model, X, 2e-10))
    assert (1 - scores["leverage"] < S.LEVERAGE_GAP).all()
    assert np.isnan(scores["newton_loo"]).all()
    assert np.isfinite(scores["influence"]).all()
    assert "undefined (NaN) for 20 of 20 points" in caplog.text


def test_newton_loo_is_finite_and_exact_where_defined(caplog):
    X, y = problem(n=200, d=5)
    model = S.fit_logistic(X, y, tol=1e-14)
    with caplog.at_level("WARNING", logger="effaug.scores"):
        scores = S.influence(model, X, y, S.hessian(model, X, 1.0))
    assert caplog.text == ""
    np.testing.assert_array_equal(scores["newton_loo"], scores["influence"] / (1 - scores["leverage"]))
