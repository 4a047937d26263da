"""The multinomial model and its scores against independent computations."""

import numpy as np
import pytest

from effaug import multinomial as M


def problem(n=60, d=5, K=4, seed=1, separation=1.0):
    rng = np.random.default_rng(seed)
    y = np.arange(n) % K
    X = rng.normal(size=(n, d)) + separation * np.eye(K, d)[y]
    return X, y


def objective_gradient(theta, X, y, K, C, weights):
    """The gradient of sum_i v_i (-log p_iy) + ||W[:d]||^2 / (2C), written out here."""
    d1 = X.shape[1] + 1
    W = theta.reshape(K, d1).T
    Xb = np.hstack([X, np.ones((len(X), 1))])
    Z = Xb @ W
    P = np.exp(Z - Z.max(axis=1, keepdims=True))
    P /= P.sum(axis=1, keepdims=True)
    Y = np.eye(K)[y]
    G = Xb.T @ (weights[:, None] * (P - Y))
    G[:-1] += W[:-1] / C
    return G.T.ravel()


@pytest.mark.parametrize("C", [0.1, 1.0, 10.0])
def test_fit_matches_sklearn_multinomial(C):
    from sklearn.linear_model import LogisticRegression

    X, y = problem(n=300, d=6, separation=0.8, seed=0)
    ours = M.fit_multinomial(X, y, 4, C=C, tol=1e-14)
    ref = LogisticRegression(C=C, tol=1e-12, max_iter=10000).fit(X, y)
    np.testing.assert_allclose(ours.predict_proba(X), ref.predict_proba(X), rtol=0, atol=1e-6)
    np.testing.assert_allclose(ours.coef, ref.coef_, rtol=0, atol=1e-6)
    assert abs(ours.intercept.sum()) < 1e-12  # the representative with zero-sum intercepts


def test_weighted_fit_matches_sklearn_and_the_lbfgs_solver():
    from sklearn.linear_model import LogisticRegression

    X, y = problem(n=200, separation=0.8)
    weights = np.random.default_rng(3).uniform(0.2, 2.0, len(X))
    ours = M.fit_multinomial(X, y, 4, sample_weight=weights, tol=1e-14)
    ref = LogisticRegression(tol=1e-12, max_iter=10000).fit(X, y, sample_weight=weights)
    np.testing.assert_allclose(ours.predict_proba(X), ref.predict_proba(X), atol=1e-6)
    lbfgs = M.fit_multinomial(X, y, 4, sample_weight=weights, solver="lbfgs", tol=1e-12, max_iter=10000)
    np.testing.assert_allclose(lbfgs.predict_proba(X), ours.predict_proba(X), atol=1e-6)


def test_gradient_is_zero_at_the_optimum_and_the_hessian_matches_finite_differences():
    X, y = problem()
    K, C = 4, 1.0
    weights = np.ones(len(X))
    model = M.fit_multinomial(X, y, K, C=C, tol=1e-14)
    assert np.abs(objective_gradient(model.theta, X, y, K, C, weights)).max() < 1e-9
    eps = 1e-6
    fd = np.array([(objective_gradient(model.theta + eps * e, X, y, K, C, weights)
                    - objective_gradient(model.theta - eps * e, X, y, K, C, weights)) / (2 * eps)
                   for e in np.eye(len(model.theta))])
    H = M.hessian(model, X, 1.0 / C)
    shift = np.arange(K) * (X.shape[1] + 1) + X.shape[1]
    mu = H[shift[0], shift[1]] - fd[shift[0], shift[1]]  # the documented intercept-shift term
    H[np.ix_(shift, shift)] -= mu
    np.testing.assert_allclose(H, fd, atol=1e-7)


def explicit_scores(model, X, y, l2, weights):
    """Per point, from an independently built Hessian and its pseudo-inverse:
    g^T H^+ g and g^T (H - u_i A_i (x) x x^T)^+ g."""
    K, d = model.n_classes, X.shape[1]
    Xb = np.hstack([X, np.ones((len(X), 1))])
    P = model.predict_proba(X)
    R = P - np.eye(K)[y]
    terms = [w * np.kron(np.diag(p) - np.outer(p, p), np.outer(x, x)) for w, p, x in zip(weights, P, Xb)]
    H = sum(terms) + l2 * np.diag(np.tile(np.r_[np.ones(d), 0.0], K))
    H_pinv = np.linalg.pinv(H, rcond=1e-12)
    influence, newton = [], []
    for i, (r, x) in enumerate(zip(R, Xb)):
        g = np.kron(r, x)
        influence.append(g @ H_pinv @ g)
        newton.append(g @ np.linalg.pinv(H - terms[i], rcond=1e-12) @ g)
    return np.array(influence), np.array(newton)


@pytest.mark.parametrize("weighted", [False, True])
def test_closed_form_influence_and_newton_loo_equal_the_explicit_computation(weighted):
    X, y = problem()
    weights = np.random.default_rng(5).uniform(0.3, 2.0, len(X)) if weighted else np.ones(len(X))
    model = M.fit_multinomial(X, y, 4, C=1.0, tol=1e-14, sample_weight=weights if weighted else None)
    H = M.hessian(model, X, 1.0, weights if weighted else None)
    got = M.influence(model, X, y, H, weights if weighted else None)
    influence, newton = explicit_scores(model, X, y, 1.0, weights)
    np.testing.assert_allclose(got["influence"], influence, rtol=1e-10)
    np.testing.assert_allclose(got["newton_loo"], newton, rtol=1e-10)
    assert (got["leverage"] > 0).all() and (got["leverage"] < 1).all()


def test_newton_loo_predicts_true_leave_one_out_retraining():
    X, y = problem()
    model = M.fit_multinomial(X, y, 4, C=1.0, tol=1e-14)
    got = M.influence(model, X, y, M.hessian(model, X, 1.0))
    true_change = []
    for i in range(len(X)):
        keep = np.arange(len(X)) != i
        loo = M.fit_multinomial(X[keep], y[keep], 4, C=1.0, tol=1e-14)
        true_change.append(M.loss(loo, X[i:i + 1], y[i:i + 1])[0] - M.loss(model, X[i:i + 1], y[i:i + 1])[0])
    true_change = np.array(true_change)
    assert (true_change > 0).all()
    newton_error = np.abs(got["newton_loo"] - true_change) / true_change
    plain_error = np.abs(got["influence"] - true_change) / true_change
    assert np.median(newton_error) < 0.15
    assert np.median(newton_error) < np.median(plain_error)
    rank = lambda a: np.argsort(np.argsort(a))
    assert np.corrcoef(rank(got["newton_loo"]), rank(true_change))[0, 1] > 0.98


def test_block_diagonal_hessian_is_the_per_class_blocks():
    X, y = problem()
    model = M.fit_multinomial(X, y, 4, C=1.0, tol=1e-14)
    full = M.hessian(model, X, 1.0)
    blocks = M.hessian(model, X, 1.0, structure="block_diagonal")
    d1 = X.shape[1] + 1
    P = model.predict_proba(X)
    for k in range(4):
        expected = full[k * d1:(k + 1) * d1, k * d1:(k + 1) * d1].copy()
        expected[-1, -1] = np.sum(P[:, k] * (1 - P[:, k]))  # the full H has the intercept-shift term there
        np.testing.assert_allclose(blocks[k], expected, rtol=1e-12, atol=1e-12)
    got = M.influence(model, X, y, blocks)
    R = P - np.eye(4)[y]
    Xb = np.hstack([X, np.ones((len(X), 1))])
    expected = sum(R[:, k] ** 2 * np.einsum("ij,jk,ik->i", Xb, np.linalg.inv(blocks[k]), Xb) for k in range(4))
    np.testing.assert_allclose(got["influence"], expected, rtol=1e-10)


def test_too_large_a_full_hessian_names_the_alternative():
    model = M.MultinomialModel(np.zeros((2001, 11)), 1.0)
    with pytest.raises(M.MultinomialError, match="hessian_structure: block_diagonal"):
        M.hessian(model, np.zeros((3, 2000)), 1.0)


def test_loss_and_gradient_norm():
    X, y = problem(n=30)
    model = M.fit_multinomial(X, y, 4)
    P = model.predict_proba(X)
    np.testing.assert_allclose(M.loss(model, X, y), -np.log(P[np.arange(30), y]), rtol=1e-12)
    R = P - np.eye(4)[y]
    expected = np.linalg.norm(R, axis=1) * np.linalg.norm(np.hstack([X, np.ones((30, 1))]), axis=1)
    np.testing.assert_allclose(M.gradient_norm(model, X, y), expected, rtol=1e-12)
