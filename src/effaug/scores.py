"""The logistic regression on bottleneck features and the per-point scores.

Notation (docs/method.md): ``x~ = [x; 1]``, ``p_i = sigmoid(w~ . x~_i)``,
``y_i in {0, 1}``. The model minimises

    sum_i v_i * l_i(w~) + 1/(2C) * ||w||^2        (bias unpenalised)

with per-row sample weights ``v_i`` (1, or 1/(K+1) for downweighted rows),
which has the same minimiser as scikit-learn's ``LogisticRegression(C=C)``
(penalty l2, intercept, binary). We solve it with Newton's method and a
backtracking line search to a tight tolerance, in float64: exact, fast for
d <= a few thousand, and needs only NumPy (the frozen-mode selection jobs never
import scikit-learn or TensorFlow). ``solver="lbfgs"`` uses scikit-learn's lbfgs as
the authors did, with its own tolerance and iteration cap.

Scores of training points (all non-negative; larger = "more important"):

- ``loss``: ``l_i = -log(p_i if y_i = 1 else 1 - p_i)``
- ``influence``: ``|I_i| = (p_i - y_i)^2 x~_i^T H^-1 x~_i`` with
  ``H = sum_j u_j p_j (1 - p_j) x~_j x~_j^T + lambda diag(1, ..., 1, 0)`` summed
  over the rows the model was fit on; ``lambda`` is the Hessian's L2 term
  (the authors' code: 2e-10; consistent with the model: 1/C); ``u_j`` is 1 (the
  code ignores sample weights) or the sample weight.
- ``newton_loo``: ``|I_i| / (1 - h_i)``, ``h_i = p_i (1 - p_i) x~_i^T H^-1 x~_i``
  (the leverage): the exact Newton step of leaving point i out, by
  Sherman-Morrison. Undefined (NaN, with a warning that counts them) where
  ``1 - h_i < LEVERAGE_GAP``: the fit interpolates the point (n <= d + 1 with
  a tiny Hessian L2 term), and dividing by ``1 - h_i`` would multiply the
  rounding error of ``h_i`` (hundreds of machine epsilons) by over 1e6.
- ``gradient_norm``: ``|p_i - y_i| * ||x~_i||``.
- ``svm_margin``: ``|w.x + b|`` of a linear SVM with C chosen by k-fold CV.

All influence-type scores come from one Cholesky factorisation H = L L^T and
one product L^-1 X~^T for all points: no per-point loop, no inverse of H.

Tasks of three or more classes use the multinomial model of
:mod:`effaug.multinomial`; the functions here take either model and
dispatch (two classes are the binary model above, as in scikit-learn).
"""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass

import numpy as np

from effaug import multinomial as M
from effaug.linesearch import armijo_step

log = logging.getLogger("effaug.scores")

INFLUENCE_TYPE = ("influence", "newton_loo")
# Newton LOO is NaN where 1 - leverage is below this: fewer than about seven
# significant digits of 1 - h_i survive the rounding of h_i there.
LEVERAGE_GAP = 1e-6
# Newton's last steps reuse the Hessian factor of the iteration before (simplified Newton): each of these
# extra steps costs two matrix-vector products instead of a Hessian and gains about three digits of the
# coefficients, so that the fit ends closer to the minimiser than with one more exact Newton step.
SIMPLIFIED_STEPS = 2


class ScoreError(ValueError):
    """A fit or a score cannot be computed (the message says which and why)."""


def log_sigmoid(z: np.ndarray) -> np.ndarray:
    """log(1 / (1 + exp(-z))), accurate in both tails."""
    return -np.logaddexp(0.0, -z)


def sigmoid(z: np.ndarray) -> np.ndarray:
    return np.exp(log_sigmoid(z))


def residuals(z: np.ndarray, y: np.ndarray) -> np.ndarray:
    """p - y, accurate when p is close to y (1 - p computed as sigmoid(-z))."""
    return np.where(y == 1, -sigmoid(-z), sigmoid(z))


def with_bias(X: np.ndarray) -> np.ndarray:
    """(n, d) -> (n, d + 1) float64 with a trailing column of ones."""
    X = np.asarray(X)
    Xb = np.empty((len(X), X.shape[1] + 1))  # one allocation; float32 features are cast on the way in
    Xb[:, :-1] = X
    Xb[:, -1] = 1.0
    return Xb


@dataclass(frozen=True)
class LogisticModel:
    """A fitted binary logistic regression.

    coef : (d,) float64; intercept : float; C : the inverse L2 strength.
    """

    coef: np.ndarray
    intercept: float
    C: float
    n_iter: int = 0
    fit_seconds: float = 0.0

    @property
    def theta(self) -> np.ndarray:
        return np.append(self.coef, self.intercept)

    def decision_function(self, X: np.ndarray) -> np.ndarray:
        return np.asarray(X, dtype=np.float64) @ self.coef + self.intercept

    def predict(self, X: np.ndarray) -> np.ndarray:
        return (self.decision_function(X) > 0).astype(np.uint8)

    def accuracy(self, X: np.ndarray, y: np.ndarray) -> float:
        return float((self.predict(X) == np.asarray(y)).mean())


def _gram(A: np.ndarray) -> np.ndarray:
    """(d, d) A^T A of a C-ordered (n, d) float64 array by dsyrk, symmetrised."""
    from scipy.linalg.blas import dsyrk

    G = dsyrk(1.0, A.T, lower=1)  # Fortran-ordered, the lower triangle filled
    for j in range(1, len(G)):  # slice by slice: a fancy-indexed triangle copy took longer than the dsyrk
        G[j - 1, j:] = G[j:, j - 1]
    return G


def _hessian_solver(A: np.ndarray, diagonal: np.ndarray):
    """``solve(g) -> (H^-1 g, g^T H^-1 g)`` for H = A^T A + diag(``diagonal``), A (n, d) C-ordered.

    The lower triangle by dsyrk, then Cholesky: H is symmetric positive definite, so half the flops of
    LU and no upper triangle to fill. LU on the full H only where Cholesky finds it not numerically
    positive definite; a ScoreError where LU finds it singular.
    """
    from scipy.linalg.blas import dsyrk
    from scipy.linalg.lapack import dpotrf, dtrtrs

    H = dsyrk(1.0, A.T, lower=1)
    H[np.diag_indices(len(H))] += diagonal
    factor, info = dpotrf(H, lower=1, overwrite_a=1, clean=0)
    if info == 0:
        def solve(g):
            w = dtrtrs(factor, g, lower=1)[0]  # L^-1 g: the decrement |L^-1 g|^2 is never negative
            return dtrtrs(factor, w, lower=1, trans=1)[0], float(w @ w)
        return solve
    H = _gram(A)
    H[np.diag_indices(len(H))] += diagonal

    def solve_lu(g):
        try:
            step = np.linalg.solve(H, g)
        except np.linalg.LinAlgError:
            raise ScoreError("the logistic regression's Hessian is singular to working precision (features of "
                             "a huge scale, or duplicated columns): standardise the features, or lower C "
                             "(experiment.C in the workflow's config)") from None
        return step, float(g @ step)
    return solve_lu


def _objective(theta, Xb, y, v, lam):
    z = Xb @ theta
    losses = np.where(y == 1, -log_sigmoid(z), -log_sigmoid(-z))
    return float(v @ losses + 0.5 * lam * theta[:-1] @ theta[:-1]), z


def fit_logistic(X: np.ndarray, y: np.ndarray, C: float = 1.0, sample_weight: np.ndarray | None = None,
                 tol: float = 1e-10, max_iter: int = 100, warm_start: np.ndarray | None = None,
                 solver: str = "newton") -> LogisticModel:
    """Fit the L2 logistic regression (bias unpenalised).

    Parameters
    ----------
    X : (n, d) features; y : (n,) labels in {0, 1}
    sample_weight : (n,) or None
    tol : Newton stops when the Newton decrement squared / 2 falls below
        ``tol * (1 + |objective|)``, after one last full step; in Newton's
        quadratic phase (the step before was full and its decrement below
        ``sqrt(tol)`` of the objective) the decrement is first computed with
        the last Hessian, and if it passes, ``1 + SIMPLIFIED_STEPS`` steps on
        that Hessian's factor end the fit without forming a new one. For
        ``lbfgs``, scikit-learn's ``tol``
    warm_start : (d + 1,) starting [coef; intercept], for example the fit on
        the originals (the minimiser is unique, so only the iteration count changes)
    solver : ``newton`` (ours) or ``lbfgs`` (scikit-learn's, as the authors)
    """
    start = time.perf_counter()
    y = np.asarray(y).astype(np.float64)
    if not np.isfinite(X).all():
        raise ScoreError("features hold NaN or infinite values")
    if solver == "lbfgs":
        from sklearn.linear_model import LogisticRegression

        lr = LogisticRegression(C=C, solver="lbfgs", tol=tol, max_iter=max_iter)
        lr.fit(np.asarray(X, np.float64), y.astype(int), sample_weight=sample_weight)
        return LogisticModel(lr.coef_[0].copy(), float(lr.intercept_[0]), C, int(lr.n_iter_[0]),
                             time.perf_counter() - start)
    if solver != "newton":
        raise ScoreError(f"unknown solver {solver!r}; expected 'newton' or 'lbfgs'")
    Xb = with_bias(X)
    n, d1 = Xb.shape
    v = np.ones(n) if sample_weight is None else np.asarray(sample_weight, dtype=np.float64)
    lam = 1.0 / C
    penalty = np.ones(d1)
    penalty[-1] = 0.0
    theta = np.zeros(d1) if warm_start is None else np.array(warm_start, dtype=np.float64)
    f, z = _objective(theta, Xb, y, v, lam)
    scaled = np.empty_like(Xb)  # reused: a fresh (n, d + 1) array costs its page faults anew every iteration

    def gradient(theta, z):
        return Xb.T @ (v * residuals(z, y)) + lam * penalty * theta

    quadratic_phase, solve = False, None  # solve: with the last Hessian formed
    for iteration in range(1, max_iter + 1):
        grad = gradient(theta, z)
        if quadratic_phase:  # the last Hessian's step first: a new Hessian costs n (d + 1)^2 flops
            step, decrement = solve(grad)
            if decrement / 2 <= tol * (1 + abs(f)):
                theta = theta - step
                for _ in range(SIMPLIFIED_STEPS):
                    theta = theta - solve(gradient(theta, Xb @ theta))[0]
                break
        s = v * sigmoid(z) * sigmoid(-z)
        solve = _hessian_solver(np.multiply(Xb, np.sqrt(s)[:, None], out=scaled), lam * penalty + 1e-12)
        step, decrement = solve(grad)
        if decrement / 2 <= tol * (1 + abs(f)):
            # converged: one last full step makes the error quadratically smaller
            theta = theta - step
            break
        quadratic_phase = decrement / 2 <= np.sqrt(tol) * (1 + abs(f))
        moved, f, z = armijo_step(lambda x: _objective(x, Xb, y, v, lam), theta, step, f, decrement)
        quadratic_phase = quadratic_phase and np.array_equal(moved, theta - step)  # a full step
        theta = moved
    return LogisticModel(theta[:-1].copy(), float(theta[-1]), C, iteration, time.perf_counter() - start)


def hessian_l2(setting, C: float) -> float:
    """The Hessian's L2 term: ``code`` (the authors' code, 2 * 1e-10),
    ``model`` (1/C, the fitted model's own), or a number."""
    if setting == "code":
        return 2e-10
    if setting == "model":
        return 1.0 / C
    try:
        value = float(setting) if not isinstance(setting, bool) else float("nan")
    except (TypeError, ValueError):
        value = float("nan")
    if not (np.isfinite(value) and value >= 0):
        raise ScoreError(f"hessian_l2 must be 'code', 'model' or a number >= 0, got {setting!r}; allowed values: "
                         "code (2e-10, the authors' code), model (1/C, the model's own L2 term) or a number "
                         "such as 1e-4")
    return value


Model = LogisticModel | M.MultinomialModel


def fit_model(X: np.ndarray, y: np.ndarray, n_classes: int, **kwargs) -> Model:
    """The binary model for two classes, the multinomial one for more
    (keyword arguments as :func:`fit_logistic`)."""
    if n_classes < 2:
        raise ScoreError(f"a task needs two or more classes, got {n_classes}")
    if n_classes == 2:
        return fit_logistic(X, y, **kwargs)
    try:
        return M.fit_multinomial(X, y, n_classes, **kwargs)
    except M.MultinomialError as err:
        raise ScoreError(str(err)) from None


def model_from_theta(theta: np.ndarray, n_classes: int, C: float) -> Model:
    theta = np.asarray(theta, dtype=np.float64)
    if n_classes == 2:
        return LogisticModel(theta[:-1].copy(), float(theta[-1]), C)
    return M.MultinomialModel.from_theta(theta, n_classes, C)


def loss(model: Model, X: np.ndarray, y: np.ndarray) -> np.ndarray:
    """(n,) per-point training loss."""
    if isinstance(model, M.MultinomialModel):
        return M.loss(model, X, y)
    z = model.decision_function(X)
    return np.where(np.asarray(y) == 1, -log_sigmoid(z), -log_sigmoid(-z))


def gradient_norm(model: Model, X: np.ndarray, y: np.ndarray) -> np.ndarray:
    """(n,) norm of each point's loss gradient in [w; b]."""
    if isinstance(model, M.MultinomialModel):
        return M.gradient_norm(model, X, y)
    z = model.decision_function(X)
    return np.abs(residuals(z, np.asarray(y))) * np.sqrt((np.asarray(X, np.float64) ** 2).sum(axis=1) + 1.0)


def hessian(model: Model, X_fit: np.ndarray, l2: float, weights: np.ndarray | None = None,
            structure: str = "full") -> np.ndarray:
    """(d+1, d+1) H = sum_j u_j p_j (1 - p_j) x~_j x~_j^T + l2 diag(1, ..., 1, 0);
    for a multinomial model :func:`effaug.multinomial.hessian` (``structure``
    ``full`` or ``block_diagonal``)."""
    if isinstance(model, M.MultinomialModel):
        try:
            return M.hessian(model, X_fit, l2, weights, structure)
        except M.MultinomialError as err:
            raise ScoreError(str(err)) from None
    Xb = with_bias(X_fit)
    z = Xb @ model.theta
    s = sigmoid(z) * sigmoid(-z)
    if weights is not None:
        s = s * weights
    Xb *= np.sqrt(s)[:, None]  # our own copy: scaled in place
    H = _gram(Xb)
    H[np.diag_indices(len(H) - 1)] += l2
    return H


def influence(model: Model, X: np.ndarray, y: np.ndarray, H: np.ndarray,
              weights: np.ndarray | None = None) -> dict[str, np.ndarray]:
    """Closed-form LOO influence of the points (X, y) under Hessian H;
    ``weights`` (n,) are the points' own weights in H (None: 1).

    Returns (n,) arrays ``influence`` (|I_i|), ``leverage`` (h_i) and
    ``newton_loo`` (|I_i| / (1 - h_i), NaN where ``1 - h_i < LEVERAGE_GAP``),
    from one Cholesky factorisation of H and one triangular product for all
    points.
    """
    if isinstance(model, M.MultinomialModel):
        try:
            return M.influence(model, X, y, H, weights, LEVERAGE_GAP)
        except M.MultinomialError as err:
            raise ScoreError(str(err)) from None
    from scipy.linalg import cho_factor
    from scipy.linalg.blas import dtrmm
    from scipy.linalg.lapack import dtrtri

    try:
        factor, lower = cho_factor(H, lower=True, check_finite=True)
    except np.linalg.LinAlgError as err:
        raise ScoreError(
            "the Hessian is not positive definite (features nearly collinear and a tiny L2 term); "
            "set experiment.hessian_l2 to 'model' or a larger number"
        ) from err
    Xb = with_bias(X)
    z = Xb @ model.theta
    # Z = L^-1 X~^T by the triangular inverse and a triangular product (the same
    # flops as a triangular solve, which OpenBLAS runs far below GEMM speed);
    # X~^T is column-major (d+1, n), so it is overwritten in place, no copy
    inverse, info = dtrtri(factor, lower=1)
    if info != 0:
        raise ScoreError(f"the Hessian's Cholesky factor is singular (LAPACK dtrtri info={info}); "
                         "set experiment.hessian_l2 to 'model' or a larger number")
    Z = dtrmm(1.0, inverse, Xb.T, lower=1, overwrite_b=1)
    quad = np.einsum("ij,ij->j", Z, Z)  # x~_i^T H^-1 x~_i
    r = residuals(z, np.asarray(y))
    infl = r * r * quad
    lev = sigmoid(z) * sigmoid(-z) * quad
    if weights is not None:
        lev = lev * weights
    gap = 1.0 - lev
    undefined = gap < LEVERAGE_GAP
    newton = infl / np.where(undefined, 1.0, gap)
    newton[undefined] = np.nan
    if undefined.any():
        log.warning("newton_loo is undefined (NaN) for %d of %d points: their leverage is within %g of 1 "
                    "(the fit interpolates them, as when n <= d + 1 with a tiny hessian_l2)",
                    undefined.sum(), len(lev), LEVERAGE_GAP)
    return {"influence": infl, "leverage": lev, "newton_loo": newton}


@dataclass(frozen=True)
class SVMFit:
    margin: np.ndarray  # (n,) |w.x + b| on the training points
    support: np.ndarray  # (n,) bool, support-vector mask
    C: float


def svm_margins(X: np.ndarray, y: np.ndarray, C_grid=(0.01, 0.1, 1.0, 10.0, 100.0), folds: int = 4,
                C: float | None = None) -> SVMFit:
    """Linear SVM (libsvm, ``SVC(kernel="linear")``): C by stratified k-fold CV
    over ``C_grid`` (first best on ties), unless ``C`` is given.

    With three or more classes: one-vs-rest SVMs (one C for all), the margin
    of a point in its own class's SVM, and the union of their support vectors.
    """
    from sklearn.model_selection import GridSearchCV, StratifiedKFold
    from sklearn.multiclass import OneVsRestClassifier
    from sklearn.svm import SVC

    X = np.asarray(X, dtype=np.float64)
    y = np.asarray(y).astype(int)
    multiclass = len(np.unique(y)) > 2
    estimator, key = (OneVsRestClassifier(SVC(kernel="linear")), "estimator__C") if multiclass else (
        SVC(kernel="linear"), "C")
    if C is None:
        search = GridSearchCV(estimator, {key: list(C_grid)}, cv=StratifiedKFold(folds))
        search.fit(X, y)
        C = float(search.best_params_[key])
    svm = estimator.set_params(**{key: C}).fit(X, y)
    support = np.zeros(len(X), dtype=bool)
    if not multiclass:
        support[svm.support_] = True
        return SVMFit(np.abs(svm.decision_function(X)), support, C)
    for binary in svm.estimators_:
        support[binary.support_] = True
    column = np.searchsorted(svm.classes_, y)
    return SVMFit(np.abs(svm.decision_function(X)[np.arange(len(X)), column]), support, C)


def score_points(name: str, model: Model, X: np.ndarray, y: np.ndarray, X_fit: np.ndarray,
                 l2: float, fit_weights: np.ndarray | None = None, point_weights: np.ndarray | None = None,
                 structure: str = "full") -> np.ndarray:
    """One LR-based score of the points (X, y) under ``model`` fit on ``X_fit``
    (H weighted by ``fit_weights``, in which the points weigh ``point_weights``)."""
    if name == "loss":
        return loss(model, X, y)
    if name == "gradient_norm":
        return gradient_norm(model, X, y)
    if name in INFLUENCE_TYPE:
        H = hessian(model, X_fit, l2, fit_weights, structure)
        return influence(model, X, y, H, point_weights)[name]
    raise ScoreError(f"score {name!r} is not a logistic-regression score; expected one of "
                     f"loss, influence, newton_loo, gradient_norm")
