"""Multinomial (softmax) logistic regression and its per-point scores, for
tasks of K >= 3 classes. Two classes use the binary model of
:mod:`effaug.scores`, exactly as scikit-learn does.

Notation: ``x~ = [x; 1]`` (d + 1 values), ``W`` the (d + 1, K) parameters
(last row: the intercepts), ``p_i = softmax(W^T x~_i)``, ``e_y`` the one-hot
label. The model minimises

    sum_i v_i * (-log p_{i, y_i}) + 1/(2C) * ||W[:d]||_F^2     (intercepts unpenalised)

the objective of ``sklearn.linear_model.LogisticRegression(C=C)`` with K >= 3
classes (multinomial). Its intercepts are determined only up to a common
shift; we return the representative whose intercepts sum to zero (the one
scikit-learn's lbfgs finds from zero).

The parameter vector ``theta`` is class-major: block k (d + 1 values) is
column k of W. The per-point gradient is ``g_i = r_i (x) x~_i`` with the
residual ``r_i = p_i - e_{y_i}`` and the Hessian

    H = sum_j u_j (diag(p_j) - p_j p_j^T) (x) x~_j x~_j^T + l2 * (I_K (x) diag(1, ..., 1, 0))

with the conventions of the binary path (``u_j`` = 1 or the sample weight;
``l2`` = ``hessian_l2``). H is singular along the common intercept shift
``u = 1_K (x) e_{d+1}``; every gradient is orthogonal to it, so we factor
``H + mu u u^T`` (mu > 0), whose inverse is H's pseudo-inverse on the
gradients' space: the results do not depend on mu.

Scores, from one Cholesky factorisation (and inverse) of H and the K x K matrices
``S_i = J_i H^-1 J_i^T`` (``J_i = I_K (x) x~_i^T``) of every point:

- ``influence``: ``|I_i| = g_i^T H^-1 g_i = r_i^T S_i r_i``
- ``newton_loo``: ``g_i^T H_-i^-1 g_i`` with H_-i the Hessian without point i
  (Woodbury with ``u_i (diag(p) - p p^T) = V V^T``, ``V = [sqrt(u_i p_k) (e_k - p)]_k``):
  ``|I_i| + t^T (I - Q)^-1 t``, ``Q = V^T S_i V``, ``t = V^T S_i r_i``; for K = 2
  this is the binary ``|I_i| / (1 - h_i)``. The leverage is ``h_i = lambda_max(Q)``;
  NaN where ``1 - h_i < LEVERAGE_GAP`` (as in the binary case).
- ``loss``: ``-log p_{i, y_i}``; ``gradient_norm``: ``||r_i|| ||x~_i||``.

``hessian_structure="block_diagonal"`` replaces H by its K diagonal blocks
(each class's own ``sum_j u_j p_jk (1 - p_jk) x~_j x~_j^T + l2 ...``), an
explicit approximation for problems whose full H, of size (d + 1) K, is too
large to factor; then ``S_i`` is diagonal and the Newton LOO uses the same
blocks (``sum_k r_k^2 S_kk / (1 - p_k (1 - p_k) S_kk)``).

Fits use Newton's method with the Newton system solved by conjugate
gradients on Hessian-vector products (no (d + 1) K square matrix is formed),
preconditioned by the inverse of H's K diagonal blocks, with a forcing term
that makes the last steps exact; the stopping rule is the binary solver's.
"""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass

import numpy as np

from effaug.linesearch import armijo_step

log = logging.getLogger("effaug.multinomial")

# The largest (d + 1) * K whose full Hessian is factored (8 * 20000^2 bytes = 3.2 GB)
MAX_FULL_HESSIAN = 20000
HESSIAN_STRUCTURES = ("full", "block_diagonal")
CHUNK = 4096  # points per block when forming H and the S_i


class MultinomialError(ValueError):
    """A multinomial fit or score cannot be computed (the message says why)."""


def with_bias(X: np.ndarray) -> np.ndarray:
    X = np.asarray(X)
    Xb = np.empty((len(X), X.shape[1] + 1))
    Xb[:, :-1] = X
    Xb[:, -1] = 1.0
    return Xb


def log_softmax(Z: np.ndarray) -> np.ndarray:
    """(n, K) row-wise log softmax, stable for any logits."""
    shifted = Z - Z.max(axis=1, keepdims=True)
    return shifted - np.log(np.exp(shifted).sum(axis=1, keepdims=True))


def one_hot(y: np.ndarray, K: int) -> np.ndarray:
    Y = np.zeros((len(y), K))
    Y[np.arange(len(y)), np.asarray(y, dtype=np.int64)] = 1.0
    return Y


@dataclass(frozen=True)
class MultinomialModel:
    """A fitted multinomial logistic regression.

    W : (d + 1, K) float64, the last row the intercepts (summing to zero);
    C : the inverse L2 strength.
    """

    W: np.ndarray
    C: float
    n_iter: int = 0
    fit_seconds: float = 0.0

    @property
    def n_classes(self) -> int:
        return self.W.shape[1]

    @property
    def theta(self) -> np.ndarray:
        """(K (d + 1),) class-major parameters."""
        return self.W.T.ravel().copy()

    @property
    def coef(self) -> np.ndarray:
        return self.W[:-1].T

    @property
    def intercept(self) -> np.ndarray:
        return self.W[-1]

    @classmethod
    def from_theta(cls, theta: np.ndarray, n_classes: int, C: float, **kw) -> MultinomialModel:
        return cls(np.asarray(theta, dtype=np.float64).reshape(n_classes, -1).T.copy(), C, **kw)

    def decision_function(self, X: np.ndarray) -> np.ndarray:
        """(n, K) logits."""
        return np.asarray(X, dtype=np.float64) @ self.W[:-1] + self.W[-1]

    def predict_proba(self, X: np.ndarray) -> np.ndarray:
        return np.exp(log_softmax(self.decision_function(X)))

    def predict(self, X: np.ndarray) -> np.ndarray:
        return np.argmax(self.decision_function(X), axis=1)

    def accuracy(self, X: np.ndarray, y: np.ndarray) -> float:
        return float((self.predict(X) == np.asarray(y)).mean())


def _objective(W, Xb, Y, v, lam):
    Z = Xb @ W
    logp = log_softmax(Z)
    return float(-(v @ (logp * Y).sum(axis=1)) + 0.5 * lam * np.sum(W[:-1] ** 2)), logp


def fit_multinomial(X: np.ndarray, y: np.ndarray, n_classes: int, C: float = 1.0,
                    sample_weight: np.ndarray | None = None, tol: float = 1e-10, max_iter: int = 100,
                    warm_start: np.ndarray | None = None, solver: str = "newton") -> MultinomialModel:
    """Fit the L2 multinomial logistic regression (intercepts unpenalised).

    Parameters
    ----------
    X : (n, d) features; y : (n,) labels in 0..n_classes-1
    sample_weight : (n,) or None
    tol : stops (after one last step) when half the Newton decrement squared
        falls below ``tol * (1 + |objective|)``; for ``lbfgs``, scikit-learn's ``tol``
    warm_start : (n_classes (d + 1),) class-major starting parameters
    solver : ``newton`` (Newton-CG, ours) or ``lbfgs`` (scikit-learn's)
    """
    start = time.perf_counter()
    X = np.asarray(X)
    if not np.isfinite(X).all():
        raise MultinomialError("features hold NaN or infinite values")
    y = np.asarray(y).astype(np.int64)
    K = int(n_classes)
    if solver == "lbfgs":
        from sklearn.linear_model import LogisticRegression

        lr = LogisticRegression(C=C, solver="lbfgs", tol=tol, max_iter=max_iter)
        lr.fit(np.asarray(X, np.float64), y, sample_weight=sample_weight)
        if list(lr.classes_) != list(range(K)):
            raise MultinomialError(f"the training rows hold classes {list(lr.classes_)}, expected 0..{K - 1}")
        W = np.vstack([lr.coef_.T, lr.intercept_[None, :]])
        W[-1] -= W[-1].mean()
        return MultinomialModel(W, C, int(np.max(lr.n_iter_)), time.perf_counter() - start)
    if solver != "newton":
        raise MultinomialError(f"unknown solver {solver!r}; expected 'newton' or 'lbfgs'")
    Xb = with_bias(X)
    n, d1 = Xb.shape
    Y = one_hot(y, K)
    v = np.ones(n) if sample_weight is None else np.asarray(sample_weight, dtype=np.float64)
    lam = 1.0 / C
    W = np.zeros((d1, K)) if warm_start is None else MultinomialModel.from_theta(warm_start, K, C).W
    f, logp = _objective(W, Xb, Y, v, lam)
    iteration, first_norm = 0, 0.0
    for iteration in range(1, max_iter + 1):
        P = np.exp(logp)
        G = Xb.T @ (v[:, None] * (P - Y))
        G[:-1] += lam * W[:-1]
        vP = v[:, None] * P

        def hvp(D):
            U = Xb @ D
            PU = P * U
            HV = Xb.T @ (vP * U - vP * PU.sum(axis=1, keepdims=True))
            HV[:-1] += lam * D[:-1]
            return HV

        norm = float(np.linalg.norm(G))
        first_norm = first_norm or norm
        forcing = min(0.5, np.sqrt(norm / first_norm))  # Eisenstat-Walker: exact near the optimum
        if iteration in (1, 2) or iteration % 3 == 0:  # a slightly stale preconditioner still converges
            precondition = _block_preconditioner(Xb, vP * (1.0 - P), lam)
        step = _conjugate_gradient(hvp, G, forcing, precondition)
        decrement = float(np.sum(G * step))
        if decrement / 2 <= tol * (1 + abs(f)):
            W = W - step
            break
        W, f, logp = armijo_step(lambda x: _objective(x, Xb, Y, v, lam), W, step, f, decrement)
    W[-1] -= W[-1].mean()
    return MultinomialModel(W, C, iteration, time.perf_counter() - start)


def _block_preconditioner(Xb: np.ndarray, S: np.ndarray, lam: float):
    """The inverse of H's K diagonal blocks ``X~^T diag(s_k) X~ + lam diag(1, ..., 1, 0)``
    (``s_k = v p_k (1 - p_k)``, the columns of S), applied to a (d + 1, K) array."""
    from scipy.linalg import cho_factor, cho_solve

    d1 = Xb.shape[1]
    ridge = np.full(d1, lam)
    factors = []
    scaled = np.empty_like(Xb, dtype=np.float64)  # one buffer for every class's scaled rows
    for k in range(S.shape[1]):
        block = np.asfortranarray(np.zeros((d1, d1)))
        _gram_accumulate(block, np.multiply(Xb, np.sqrt(S[:, k])[:, None], out=scaled), 1.0)
        block = np.tril(block) + np.tril(block, -1).T
        # the intercept's entry gets a small ridge too: an uncertain-free class would leave it ~0
        ridge[-1] = 1e-8 * max(1.0, block[-1, -1])
        block[np.diag_indices(d1)] += ridge
        factors.append(cho_factor(block, lower=True, check_finite=False))

    def apply(R: np.ndarray) -> np.ndarray:
        return np.column_stack([cho_solve(factor, R[:, k], check_finite=False) for k, factor in enumerate(factors)])

    return apply


def _conjugate_gradient(hvp, G: np.ndarray, forcing: float, precondition, max_iter: int = 500) -> np.ndarray:
    """Solve H x = G by preconditioned conjugate gradients to ||H x - G|| <= forcing * ||G||."""
    x = np.zeros_like(G)
    r = G.copy()
    stop = (forcing * float(np.linalg.norm(G))) ** 2
    z = precondition(r)
    p = z.copy()
    rz = float(np.sum(r * z))
    for _ in range(max_iter):
        if float(np.sum(r * r)) <= stop:
            break
        Hp = hvp(p)
        curvature = float(np.sum(p * Hp))
        if curvature <= 0:
            break
        alpha = rz / curvature
        x += alpha * p
        r -= alpha * Hp
        z = precondition(r)
        rz_new = float(np.sum(r * z))
        p = z + (rz_new / rz) * p
        rz = rz_new
    return x


def loss(model: MultinomialModel, X: np.ndarray, y: np.ndarray) -> np.ndarray:
    """(n,) per-point cross-entropy."""
    logp = log_softmax(model.decision_function(X))
    return -logp[np.arange(len(logp)), np.asarray(y, dtype=np.int64)]


def residuals(model: MultinomialModel, X: np.ndarray, y: np.ndarray) -> np.ndarray:
    """(n, K) p_i - e_{y_i}."""
    return model.predict_proba(X) - one_hot(y, model.n_classes)


def gradient_norm(model: MultinomialModel, X: np.ndarray, y: np.ndarray) -> np.ndarray:
    """(n,) ||g_i|| = ||r_i|| * ||x~_i||."""
    r = residuals(model, X, y)
    return np.sqrt((r * r).sum(axis=1) * ((np.asarray(X, np.float64) ** 2).sum(axis=1) + 1.0))


def _gram_accumulate(C: np.ndarray, A: np.ndarray, alpha: float) -> None:
    """C (lower triangle) += alpha * A^T A for a C-ordered (n, m) float64 A and
    a Fortran-ordered C, by dsyrk (in place)."""
    from scipy.linalg.blas import dsyrk

    out = dsyrk(alpha, A.T, beta=1.0, c=C, lower=1, overwrite_c=1)
    if out is not C and not np.shares_memory(out, C):
        C[...] = out


def hessian(model: MultinomialModel, X_fit: np.ndarray, l2: float, weights: np.ndarray | None = None,
            structure: str = "full") -> np.ndarray:
    """The Hessian of the fit on ``X_fit``, with the intercept-shift direction
    made definite (see the module docstring).

    Returns (K (d + 1), K (d + 1)) for ``structure="full"`` (class-major), or
    (K, d + 1, d + 1), the diagonal blocks, for ``"block_diagonal"``.
    """
    if structure not in HESSIAN_STRUCTURES:
        raise MultinomialError(f"unknown hessian structure {structure!r}; expected one of "
                               f"{', '.join(HESSIAN_STRUCTURES)}")
    K = model.n_classes
    d1 = model.W.shape[0]
    n = len(X_fit)
    u = np.ones(n) if weights is None else np.asarray(weights, dtype=np.float64)
    if structure == "full" and K * d1 > MAX_FULL_HESSIAN:
        raise MultinomialError(
            f"the full Hessian has (d + 1) * K = {d1} * {K} = {K * d1} rows, more than {MAX_FULL_HESSIAN} "
            "(it would take {:.1f} GB to factor); set experiment.hessian_structure: block_diagonal for the "
            "per-class block approximation, or use fewer features".format(8 * (K * d1) ** 2 / 1e9))
    if structure == "block_diagonal":
        blocks = [np.zeros((d1, d1), order="F") for _ in range(K)]
    else:
        H = np.zeros((K * d1, K * d1), order="F")
    for start in range(0, n, CHUNK):
        Xb = with_bias(X_fit[start:start + CHUNK])
        P = model.predict_proba(X_fit[start:start + CHUNK])
        w = u[start:start + CHUNK]
        scaled = np.empty_like(Xb)  # one buffer for every class's scaled rows
        if structure == "block_diagonal":
            for k in range(K):
                s = w * P[:, k] * (1.0 - P[:, k])
                _gram_accumulate(blocks[k], np.multiply(Xb, np.sqrt(s)[:, None], out=scaled), 1.0)
            continue
        # H = blockdiag(X~^T diag(u p_k) X~) - B^T B, B = [sqrt(u) p_k x~^T]_k (n, K (d + 1))
        sqrt_u = np.sqrt(w)
        for k in range(K):
            block = np.asfortranarray(H[k * d1:(k + 1) * d1, k * d1:(k + 1) * d1])
            _gram_accumulate(block, np.multiply(Xb, np.sqrt(w * P[:, k])[:, None], out=scaled), 1.0)
            H[k * d1:(k + 1) * d1, k * d1:(k + 1) * d1] = block
        B = (Xb[:, None, :] * (sqrt_u[:, None] * P)[:, :, None]).reshape(len(Xb), K * d1)
        _gram_accumulate(H, B, -1.0)
    penalty = np.ones(d1)
    penalty[-1] = 0.0
    if structure == "block_diagonal":
        for k in range(K):
            lower = np.tril(blocks[k])
            blocks[k] = lower + np.tril(lower, -1).T
            blocks[k][np.diag_indices(d1)] += l2 * penalty
        return np.stack(blocks)
    H = np.tril(H)
    H = H + np.tril(H, -1).T
    H[np.diag_indices(K * d1)] += l2 * np.tile(penalty, K)
    # the intercept shift: + mu u u^T, mu of the size of the intercept block
    shift = np.arange(K) * d1 + d1 - 1
    mu = max(1.0, float(np.mean(H[shift, shift])))
    H[np.ix_(shift, shift)] += mu
    return H


def leverage_matrices(model: MultinomialModel, X: np.ndarray, H: np.ndarray) -> np.ndarray:
    """(n, K, K) ``S_i = J_i H^-1 J_i^T`` (entries ``x~_i^T (H^-1)_kl x~_i``) of
    the points X under ``H`` (full or block-diagonal, from :func:`hessian`):
    one Cholesky factorisation and inverse of H, then per chunk of points and
    per class k one product of the points with block row k of H^-1 (from
    block k on: S_i is symmetric)."""
    K = model.n_classes
    d1 = model.W.shape[0]
    n = len(X)
    S = np.zeros((n, K, K))
    if H.ndim == 3:  # block-diagonal: S_i is diagonal
        for k in range(K):
            inverse = _inverse(H[k])
            for start in range(0, n, CHUNK):
                Xb = with_bias(X[start:start + CHUNK])
                S[start:start + CHUNK, k, k] = np.einsum("ij,ij->i", Xb @ inverse, Xb)
        return S
    inverse = _inverse(H)
    for start in range(0, n, CHUNK):
        Xb = with_bias(X[start:start + CHUNK])
        for k in range(K):
            Y = (Xb @ inverse[k * d1:(k + 1) * d1, k * d1:]).reshape(len(Xb), K - k, d1)
            values = np.einsum("ijd,id->ij", Y, Xb)
            S[start:start + CHUNK, k, k:] = values
            S[start:start + CHUNK, k:, k] = values
    return S


def _inverse(H: np.ndarray) -> np.ndarray:
    """H^-1 of a symmetric positive definite H, by its Cholesky factorisation
    (LAPACK potrf, potri), symmetrised."""
    from scipy.linalg.lapack import dpotrf, dpotri

    factor, info = dpotrf(H, lower=1, clean=1)
    if info != 0:
        raise MultinomialError(
            "the Hessian is not positive definite (features nearly collinear and a tiny L2 term); "
            "set experiment.hessian_l2 to 'model' or a larger number")
    inverse, info = dpotri(factor, lower=1)
    if info != 0:
        raise MultinomialError(f"the Hessian's Cholesky factor is singular (LAPACK dpotri info={info}); "
                               "set experiment.hessian_l2 to 'model' or a larger number")
    lower = np.tril(inverse)
    return lower + np.tril(lower, -1).T


def influence(model: MultinomialModel, X: np.ndarray, y: np.ndarray, H: np.ndarray,
              weights: np.ndarray | None = None, leverage_gap: float = 1e-6) -> dict[str, np.ndarray]:
    """Closed-form LOO influence of the points (X, y) under H (from :func:`hessian`).

    ``weights`` (n,) are the points' own weights in H (None: 1): leaving a
    point out removes its weighted term from H.

    Returns (n,) arrays ``influence`` (|I_i|), ``leverage`` (h_i) and
    ``newton_loo`` (NaN where ``1 - h_i < leverage_gap``).
    """
    S = leverage_matrices(model, X, H)
    P = model.predict_proba(X)
    r = P - one_hot(y, model.n_classes)
    u = np.ones(len(X)) if weights is None else np.asarray(weights, dtype=np.float64)
    Sr = np.einsum("ikl,il->ik", S, r)
    infl = np.einsum("ik,ik->i", r, Sr)
    if H.ndim == 3:
        a = u[:, None] * P * (1.0 - P) * np.einsum("ikk->ik", S)
        lev = a.max(axis=1)
        gap = 1.0 - a
        undefined = (gap < leverage_gap).any(axis=1)
        newton = np.einsum("ik,ik->i", r * r, np.einsum("ikk->ik", S) / np.where(gap < leverage_gap, 1.0, gap))
    else:
        # V_i = [sqrt(u_i p_k) (e_k - p)]_k, columns k: u_i (diag(p) - p p^T) = V V^T
        sqrt_p = np.sqrt(u[:, None] * P)
        V = (np.eye(model.n_classes)[None, :, :] - P[:, :, None]) * sqrt_p[:, None, :]
        Q = np.einsum("iak,iab,ibl->ikl", V, S, V)
        t = np.einsum("iak,ia->ik", V, Sr)
        eigenvalues, eigenvectors = np.linalg.eigh(Q)
        lev = eigenvalues[:, -1]
        gap = 1.0 - eigenvalues
        undefined = gap.min(axis=1) < leverage_gap
        proj = np.einsum("ikj,ik->ij", eigenvectors, t)
        newton = infl + (proj * proj / np.where(gap < leverage_gap, 1.0, gap)).sum(axis=1)
    newton[undefined] = np.nan
    if undefined.any():
        log.warning("newton_loo is undefined (NaN) for %d of %d points: their leverage is within %g of 1 "
                    "(the fit interpolates them, as when n <= d + 1 with a tiny hessian_l2)",
                    undefined.sum(), len(infl), leverage_gap)
    return {"influence": np.abs(infl), "leverage": lev, "newton_loo": newton}
