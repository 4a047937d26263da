"""Which training points to augment, from features of any model: a Python API
over the workflow's own code (no Snakemake, no TensorFlow).

The workflow's frozen mode scores the originals with
:func:`effaug.experiment.compute_scores` and turns the scores into points with
:func:`effaug.experiment.static_order` (nested policies),
:func:`effaug.experiment.frozen_curve` (Update policies) or a k-DPP draw from
the eigendecomposition of :func:`effaug.policies.kdpp_kernel`. This module
wraps exactly those functions around in-memory arrays, so for the same
features, labels, settings and seed it returns the same points as the workflow.

- :class:`AugmentationSelector`: ``fit(X, y)`` then ``select(budget)``.
- :func:`select`: the indices of the points to augment, in one call.
- :func:`point_scores`: the per-point scores.

scikit-learn is imported only where the workflow imports it too: the SVM
margin score, the clustered policies (k-means) and ``solver="lbfgs"``.
"""

from __future__ import annotations

import dataclasses
import numbers
import types
from collections.abc import Sequence

import numpy as np

from effaug import experiment as E
from effaug import policies as P
from effaug import scores as S
from effaug.features import FeatureSet
from effaug.settings import Settings, hessian_l2_value
from effaug.task import label_dtype

__all__ = ["SCORES", "POLICY_NAMES", "POLICY_PATTERNS", "AugmentationSelector", "NotFittedError",
           "select", "point_scores"]

#: Score names (the workflow's ``experiment.scores``); ``prop`` policies favour large scores.
SCORES = ("loss", "influence", "newton_loo", "gradient_norm", "svm_margin")

#: Every fixed policy name the API accepts (``vsv`` is a set, not an ordering: see ``select``).
POLICY_NAMES = (
    "baseline",
    *(f"{draw}-{weight}{update}{down}" for draw in ("rand", "det") for weight in ("prop", "inverse-prop")
      for update in ("", "-update") for down in ("", "-down")),
    "kdpp-influence",
    "kdpp-bottleneck",
)

#: Policy families with a parameter: ``<clusters>`` is a positive integer (at most n).
POLICY_PATTERNS = ("clustered-baseline-c<clusters>", "clustered-rand-prop-c<clusters>")

_VALID_POLICIES = ("baseline, {rand,det}-{prop,inverse-prop}[-update][-down], "
                   "clustered-{baseline,rand-prop}-c<clusters> or kdpp-{influence,bottleneck} "
                   "(see effaug.POLICY_NAMES and effaug.POLICY_PATTERNS)")


class NotFittedError(ValueError, AttributeError):
    """The selector is used before :meth:`AugmentationSelector.fit`."""


# --------------------------------------------------------------------------
# Input checks (the messages name the argument)


def _check_features(features, name: str = "features") -> np.ndarray:
    """(n, d) float32 or float64 (other numeric types become float64), finite."""
    X = np.asarray(features)
    if X.dtype.kind == "c":
        raise ValueError(f"{name} must be real numbers, got complex dtype {X.dtype}")
    if X.dtype not in (np.float32, np.float64):
        try:
            X = X.astype(np.float64)
        except (TypeError, ValueError):
            raise ValueError(f"{name} must be numeric, got dtype {X.dtype}") from None
    if X.ndim != 2:
        raise ValueError(f"{name} must be a 2-d array (n_points, n_features), got shape {X.shape}")
    if X.shape[0] == 0 or X.shape[1] == 0:
        raise ValueError(f"{name} must have at least one row and one column, got shape {X.shape}")
    if not np.isfinite(X).all():
        bad = int((~np.isfinite(X)).any(axis=1).sum())
        raise ValueError(f"{name} hold NaN or infinite values in {bad} of {len(X)} rows")
    return X


def _encode_labels(labels, n: int) -> tuple[np.ndarray, np.ndarray]:
    """(classes, codes): the sorted distinct labels and each point's index in
    them (0..K-1, in the workflow's label type)."""
    y = np.asarray(labels)
    if y.ndim == 2 and y.shape[1] == 1:
        y = y[:, 0]
    if y.ndim != 1:
        raise ValueError(f"labels must be a 1-d array (n_points,), got shape {y.shape}")
    if len(y) != n:
        raise ValueError(f"labels has {len(y)} entries but features has {n} rows")
    if y.dtype.kind in "fc" and not np.isfinite(y).all():
        raise ValueError(f"labels hold NaN or infinite values ({int((~np.isfinite(y)).sum())} of {n})")
    try:
        classes, codes = np.unique(y, return_inverse=True)
    except TypeError as err:
        raise ValueError(f"labels cannot be sorted (mixed types?): {err}") from None
    if len(classes) < 2:
        raise ValueError(f"labels hold {len(classes)} class ({classes.tolist()}); at least 2 classes are needed")
    return classes, codes.astype(label_dtype(len(classes)))


def _check_augmented(augmented, augmented_source, n: int, d: int) -> tuple[np.ndarray, int]:
    """The augmented features in the workflow's layout (row i*K+k = copy k of
    point i) and K; rows given in another order are reordered by source."""
    if augmented_source is None:
        raise ValueError("augmented_source is required with augmented: the (K*n,) index of the original "
                         "point each augmented row is a copy of")
    A = _check_features(augmented, "augmented")
    if A.shape[1] != d:
        raise ValueError(f"augmented has {A.shape[1]} features per row but features has {d}")
    source = np.asarray(augmented_source)
    if source.ndim != 1 or len(source) != len(A):
        raise ValueError(f"augmented_source must be 1-d with one entry per augmented row ({len(A)}), "
                         f"got shape {source.shape}")
    if source.dtype.kind not in "iu":
        raise ValueError(f"augmented_source must hold integer point indices, got dtype {source.dtype}")
    if len(A) % n:
        raise ValueError(f"augmented has {len(A)} rows, not a multiple of the n = {n} points (K copies each)")
    k = len(A) // n
    if source.min() < 0 or source.max() >= n:
        raise ValueError(f"augmented_source holds indices outside 0..{n - 1}")
    counts = np.bincount(source, minlength=n)
    if (counts != k).any():
        raise ValueError(f"every point needs the same number K = {k} of augmented copies; point "
                         f"{int(np.flatnonzero(counts != k)[0])} has {int(counts[counts != k][0])}")
    rows = np.argsort(source, kind="stable")
    if not np.array_equal(rows, np.arange(len(A))):
        A = A[rows]
    return A, k


def _resolve_budget(budget, n: int, name: str = "budget") -> int:
    """A number of points (int), a fraction of n (float in (0, 1]) or a
    percentage ("10%"); fractions round like the workflow's summary tables."""
    given = budget
    if isinstance(budget, str):
        text = budget.strip()
        if not text.endswith("%"):
            raise ValueError(f"{name} {given!r}: a string budget is a percentage such as '10%'")
        try:
            percent = float(text[:-1])
        except ValueError:
            raise ValueError(f"{name} {given!r}: not a percentage such as '10%'") from None
        if not 0 <= percent <= 100:
            raise ValueError(f"{name} {given!r} must be between 0% and 100% of the n = {n} points")
        return int(round(percent / 100 * n))
    if isinstance(budget, (bool, np.bool_)):
        raise ValueError(f"{name} must be an int, a fraction or a percentage, got {given!r}")
    if isinstance(budget, numbers.Integral):
        budget = int(budget)
        if not 0 <= budget <= n:
            raise ValueError(f"{name} = {budget} points is outside 0..n, n = {n} points")
        return budget
    if isinstance(budget, numbers.Real):
        fraction = float(budget)
        if not 0 < fraction <= 1:
            raise ValueError(f"{name} = {given!r}: a float budget is a fraction of the n = {n} points, in (0, 1] "
                             "(pass an int for a number of points)")
        return int(round(fraction * n))
    raise ValueError(f"{name} must be an int, a fraction in (0, 1] or a percentage string, got {given!r}")


def _update_steps(given, budget: int, n: int) -> list[int]:
    """The budgets at which an Update chain refits, ending at ``budget``."""
    if given is None:
        return list(range(1, budget + 1))
    if isinstance(given, numbers.Integral) and not isinstance(given, (bool, np.bool_)):
        if given < 1:
            raise ValueError(f"update_budgets = {given}: an int is the number of picks between refits, >= 1")
        return [*range(int(given), budget, int(given)), budget]
    if isinstance(given, (str, bytes)) or not isinstance(given, Sequence | np.ndarray):
        raise ValueError(f"update_budgets must be None, an int or a sequence of budgets, got {given!r}")
    steps = {_resolve_budget(b, n, "update_budgets entry") for b in given}
    return sorted(b for b in steps if 0 < b < budget) + [budget]


def _parse_policy(name) -> P.Policy:
    if name == "vsv":
        raise ValueError(
            "policy 'vsv' is not an ordering: the workflow augments exactly the support vectors of a CV-tuned "
            "linear SVM, at the single budget #SV. For an ordering by that SVM use score='svm_margin' (for "
            "example with policy='det-inverse-prop': the points nearest its boundary first); "
            "AugmentationSelector(score='svm_margin').fit(X, y).support_vectors_ is the VSV set itself")
    try:
        return P.parse_policy(str(name))
    except P.PolicyError:
        raise ValueError(f"unknown policy {name!r}; expected {_VALID_POLICIES}") from None


def _check_score(name) -> str:
    if name not in SCORES:
        raise ValueError(f"unknown score {name!r}; expected one of {', '.join(SCORES)}")
    return name


def _settings(params: dict) -> Settings:
    """The workflow's Settings from the selector's parameters, with the
    schema's checks (workflow/schemas/config.schema.yaml)."""
    values = {f.name: params[f.name] for f in dataclasses.fields(Settings)}
    s = Settings(**{**values, "hessian_l2": hessian_l2_value(values["hessian_l2"])})
    if not (isinstance(s.C, numbers.Real) and s.C > 0):
        raise ValueError(f"C must be a number > 0, got {s.C!r}")
    if s.solver not in ("newton", "lbfgs"):
        raise ValueError(f"solver must be 'newton' or 'lbfgs', got {s.solver!r}")
    if not (isinstance(s.tol, numbers.Real) and s.tol > 0):
        raise ValueError(f"tol must be a number > 0, got {s.tol!r}")
    if not (isinstance(s.max_iter, numbers.Integral) and s.max_iter >= 1):
        raise ValueError(f"max_iter must be an int >= 1, got {s.max_iter!r}")
    if s.hessian_l2 not in ("code", "model"):
        try:
            ok = float(s.hessian_l2) >= 0
        except (TypeError, ValueError):
            ok = False
        if not ok:
            raise ValueError(f"hessian_l2 must be 'code', 'model' or a number >= 0, got {s.hessian_l2!r}")
    if s.hessian_structure not in ("full", "block_diagonal"):
        raise ValueError(f"hessian_structure must be 'full' or 'block_diagonal', got {s.hessian_structure!r}")
    if len(s.svm_C_grid) == 0 or any(not c > 0 for c in s.svm_C_grid):
        raise ValueError(f"svm_C_grid must hold one or more numbers > 0, got {s.svm_C_grid!r}")
    if not (isinstance(s.svm_folds, numbers.Integral) and s.svm_folds >= 2):
        raise ValueError(f"svm_folds must be an int >= 2, got {s.svm_folds!r}")
    if not (isinstance(s.clustered_n_init, numbers.Integral) and s.clustered_n_init >= 1):
        raise ValueError(f"clustered_n_init must be an int >= 1, got {s.clustered_n_init!r}")
    if not (isinstance(s.kdpp_feature_scale, numbers.Real) and s.kdpp_feature_scale > 0):
        raise ValueError(f"kdpp_feature_scale must be a number > 0, got {s.kdpp_feature_scale!r}")
    return s


def _check_kdpp_epsilon(epsilon) -> float:
    if not (isinstance(epsilon, numbers.Real) and epsilon > 0):
        raise ValueError(f"kdpp_epsilon must be a number > 0, got {epsilon!r}")
    return float(epsilon)


def _feature_set(X: np.ndarray, y: np.ndarray, n_classes: int, augmented: np.ndarray | None, k: int) -> FeatureSet:
    """A FeatureSet of in-memory arrays. Without augmented copies it holds
    none (K = 0). The test sets are the originals themselves: the workflow's
    per-budget evaluation needs one, and the API uses only the chosen points."""
    n, d = X.shape
    if augmented is None:
        augmented, k = np.empty((0, d), X.dtype), 0
    return FeatureSet(
        train=X, train_labels=y, augmented=augmented,
        augmented_source=np.repeat(np.arange(n, dtype=np.int64), k),
        augmented_transform=np.tile(np.arange(k, dtype=np.int64), n),
        test=X, test_labels=y, poisoned_test=X, poisoned_test_labels=y,
        poisoned_test_source=np.arange(n, dtype=np.int64),
        poisoned_test_transform=np.full(n, -1, np.int64),
        attrs={"n_classes": n_classes, "n_transforms": k},
    )


# --------------------------------------------------------------------------
# The selector


def _same(a, b) -> bool:
    try:
        return bool(type(a) is type(b) and a == b)
    except (TypeError, ValueError):
        return False


class AugmentationSelector:
    """Choose the training points to augment, as the workflow's frozen mode does.

    ``fit`` fits the L2 logistic regression (binary for two classes,
    multinomial for more) on the features of the original training points and
    scores every point; ``select(budget)`` returns the points to augment.

    Parameters
    ----------
    score : str, default "influence"
        The per-point score driving score-based policies, one of
        :data:`SCORES`: ``loss``, ``influence``, ``newton_loo``,
        ``gradient_norm``, ``svm_margin``. Ignored by ``baseline``,
        ``clustered-baseline-c<c>`` and ``kdpp-bottleneck``.
    policy : str, default "rand-prop"
        How scores become points: ``baseline``,
        ``{rand,det}-{prop,inverse-prop}[-update][-down]``,
        ``clustered-{baseline,rand-prop}-c<clusters>``,
        ``kdpp-{influence,bottleneck}`` (:data:`POLICY_NAMES`,
        :data:`POLICY_PATTERNS`).
    seed : int, default 0
        Seed of the random policies (the workflow's ``seed`` wildcard).
    C : float, default 1.0
        Inverse L2 strength of the logistic regression (bias unpenalised).
    hessian_l2 : "code", "model" or float >= 0, default "code"
        The Hessian's L2 term in ``influence``/``newton_loo``: ``code``
        (2e-10, the authors' code), ``model`` (1/C) or a number (``paper``:
        a deprecated name of ``code``).
    hessian_structure : "full" or "block_diagonal", default "full"
        Three or more classes: the exact Hessian, or its per-class blocks.
    hessian_sample_weights : bool, default False
        Update policies with ``-down``: whether the refit's Hessian uses the
        sample weights (the authors' code: no).
    solver : "newton" or "lbfgs", default "newton"
    tol : float, default 1e-10
    max_iter : int, default 100
        Solver settings of the logistic regression.
    svm_C_grid : sequence of float, default (0.01, 0.1, 1, 10, 100)
    svm_folds : int, default 4
        The linear SVM of ``svm_margin``: C by stratified k-fold CV.
    kdpp_epsilon : float, default 1e-3
        Ridge of the k-DPP kernel ``diag(q) F F^T diag(q) + eps I``.
    kdpp_feature_scale : float, default 1e3
        The factor on the unit-normalised features F of the k-DPP kernel (the
        authors' ``phi_scale``): L_ii = kdpp_feature_scale^2 q_i^2 + eps.
    clustered_n_init : int, default 10
    clustered_seed : int, default 0
        k-means of the clustered policies.
    update_budgets : None, int or sequence, default None
        Update policies: the budgets after which the model is refit on the
        originals plus the copies chosen so far and the points rescored.
        None: after every pick (1, 2, ..., budget); an int s: every s picks
        (s, 2s, ..., budget); a sequence (ints, fractions or percentages): the
        budgets below ``budget`` in it, then ``budget`` (the workflow's
        ``experiment.budgets`` reproduce its curve).

    Attributes
    ----------
    scores_ : (n,) float64 or None
        Every point's score; None for policies that use no score.
    classes_ : (n_classes,) array
        The distinct labels, sorted; label ``classes_[k]`` is class k of the
        model (as in scikit-learn).
    n_features_in_ : int
        d, the number of features.
    n_transforms_ : int
        K, copies per point in ``augmented`` (0 without).
    order_ : (n,) int64 or None
        Nested policies (baseline, scored without ``-update``, clustered): the
        full order; ``select(b)`` is ``order_[:b]``. None for the others.
    support_vectors_ : (n,) bool or None
        With ``score="svm_margin"`` (and a policy that uses the score): the
        CV-tuned linear SVM's support vectors, the workflow's VSV set. None
        otherwise.

    Examples
    --------
    >>> import numpy as np
    >>> from effaug import AugmentationSelector
    >>> rng = np.random.default_rng(0)
    >>> X = rng.normal(size=(200, 10))
    >>> y = (X[:, 0] + 0.5 * rng.normal(size=200) > 0).astype(int)
    >>> selector = AugmentationSelector(score="influence", policy="rand-prop", seed=0).fit(X, y)
    >>> selector.scores_.shape
    (200,)
    >>> chosen = selector.select("10%")
    >>> chosen.shape, chosen.dtype
    ((20,), dtype('int64'))
    """

    def __init__(self, score: str = "influence", policy: str = "rand-prop", seed: int = 0, C: float = 1.0, *,
                 hessian_l2: str | float = "code", hessian_structure: str = "full",
                 hessian_sample_weights: bool = False, solver: str = "newton", tol: float = 1e-10,
                 max_iter: int = 100, svm_C_grid: Sequence[float] = (0.01, 0.1, 1.0, 10.0, 100.0),
                 svm_folds: int = 4, kdpp_epsilon: float = 1e-3, kdpp_feature_scale: float = 1e3,
                 clustered_n_init: int = 10, clustered_seed: int = 0, update_budgets: int | Sequence | None = None):
        self.score = score
        self.policy = policy
        self.seed = seed
        self.C = C
        self.hessian_l2 = hessian_l2
        self.hessian_structure = hessian_structure
        self.hessian_sample_weights = hessian_sample_weights
        self.solver = solver
        self.tol = tol
        self.max_iter = max_iter
        self.svm_C_grid = svm_C_grid
        self.svm_folds = svm_folds
        self.kdpp_epsilon = kdpp_epsilon
        self.kdpp_feature_scale = kdpp_feature_scale
        self.clustered_n_init = clustered_n_init
        self.clustered_seed = clustered_seed
        self.update_budgets = update_budgets

    _PARAMS = ("score", "policy", "seed", "C", "hessian_l2", "hessian_structure", "hessian_sample_weights",
               "solver", "tol", "max_iter", "svm_C_grid", "svm_folds", "kdpp_epsilon", "kdpp_feature_scale",
               "clustered_n_init", "clustered_seed", "update_budgets")

    def get_params(self, deep: bool = True) -> dict:
        """The constructor's parameters (scikit-learn convention)."""
        return {name: getattr(self, name) for name in self._PARAMS}

    def set_params(self, **params) -> AugmentationSelector:
        for name, value in params.items():
            if name not in self._PARAMS:
                raise ValueError(f"unknown parameter {name!r}; expected one of {', '.join(self._PARAMS)}")
            setattr(self, name, value)
        return self

    def __repr__(self) -> str:
        defaults = AugmentationSelector().get_params()
        changed = [f"{k}={v!r}" for k, v in self.get_params().items() if not _same(v, defaults[k])]
        return f"AugmentationSelector({', '.join(changed)})"

    # ------------------------------------------------------------------

    def fit(self, X, y, augmented=None, augmented_source=None) -> AugmentationSelector:
        """Fit the logistic regression on the originals and score them.

        Parameters
        ----------
        X : (n, d) array of float
            Features of the original training points (any model's).
        y : (n,) array
            Their labels: any integers or strings, at least two classes.
        augmented : (K*n, d) array of float, optional
            Features of K augmented copies of every point; required by the
            ``-update`` policies (their refits train on the chosen copies).
        augmented_source : (K*n,) array of int, optional
            The point each augmented row is a copy of (row i*K+k = copy k of
            point i, as in ``features.h5``; other orders are sorted by source).

        Returns
        -------
        self
        """
        policy, score, settings, fs = self._fit_scores(X, y, augmented, augmented_source, policy_scores=True)
        X = fs.train
        if policy.nested:
            self.order_ = E.static_order(policy, self.scores_ if policy.uses_score else None, X, self._seed,
                                         settings, score)
        elif policy.kind == "kdpp":  # as workflow/scripts/kdpp_kernel.py
            quality = P.check_finite(self.scores_, score) if policy.uses_score else None
            kernel = P.kdpp_kernel(X, quality, self._kdpp_epsilon, settings.kdpp_feature_scale)
            eigenvalues, eigenvectors = np.linalg.eigh(kernel)
            self._kernel = {"eigenvalues": eigenvalues, "eigenvectors": eigenvectors}
        self._fs = fs  # fitted
        return self

    def _fit_scores(self, X, y, augmented, augmented_source, policy_scores: bool):
        """Check everything, keep the inputs and set ``scores_`` (with
        ``policy_scores``: only if the policy uses them)."""
        self.__dict__.pop("_fs", None)  # not fitted until fit() ends
        policy = _parse_policy(self.policy)
        score = _check_score(self.score)
        settings = _settings(self.get_params())
        kdpp_epsilon = _check_kdpp_epsilon(self.kdpp_epsilon)
        if not isinstance(self.seed, numbers.Integral) or isinstance(self.seed, (bool, np.bool_)) \
                or self.seed < 0:
            raise ValueError(f"seed must be an int >= 0, got {self.seed!r}")
        X = _check_features(X)
        n, d = X.shape
        classes, codes = _encode_labels(y, n)
        if augmented is not None:
            augmented, k = _check_augmented(augmented, augmented_source, n, d)
        elif augmented_source is not None:
            raise ValueError("augmented_source was given without augmented")
        else:
            k = 0
        if policy.update and augmented is None:
            raise ValueError(f"policy {policy.name!r} refits the model on the chosen points' augmented copies: "
                             "pass augmented (K*n, d) and augmented_source (K*n,) to fit")
        if policy.update:
            _update_steps(self.update_budgets, n, n)  # check them now

        # what select() uses, as fitted (set_params afterwards needs a new fit)
        self._policy, self._settings, self._score, self._kdpp_epsilon = policy, settings, score, kdpp_epsilon
        self._seed, self._update_budgets = int(self.seed), self.update_budgets
        self.classes_ = classes
        self.n_features_in_ = d
        self.n_transforms_ = k
        self.scores_ = self.support_vectors_ = self.order_ = None
        self._arrays = None
        self._kernel = None
        if policy.uses_score or not policy_scores:
            # the scores of the originals only: the workflow's fit on the
            # originals, whatever augmented copies the FeatureSet holds
            self._arrays = E.compute_scores(_feature_set(X, codes, len(classes), None, 0), settings,
                                            svm=score == "svm_margin", full_augmentation=False)
            self.scores_ = np.asarray(self._arrays[score], dtype=np.float64)
            if score == "svm_margin":
                self.support_vectors_ = np.asarray(self._arrays["support_vectors"], dtype=bool)
        return policy, score, settings, _feature_set(X, codes, len(classes), augmented, k)

    def _check_fitted(self) -> None:
        if not hasattr(self, "_fs"):
            raise NotFittedError("this AugmentationSelector is not fitted yet: call fit(X, y) first")

    def select(self, budget) -> np.ndarray:
        """The points to augment.

        Parameters
        ----------
        budget : int, float or str
            How many points: an int in 0..n, a fraction of n in (0, 1] or a
            percentage such as ``"10%"`` (both rounded: ``round(fraction * n)``).

        Returns
        -------
        (budget,) int64 array
            Indices into the rows of ``X``, first chosen first (a k-DPP
            draw is a set: sorted). Nested policies give prefixes of one
            order: ``select(b)`` is ``select(b')[:b]`` for b <= b'.
        """
        self._check_fitted()
        n = len(self._fs.train)
        budget = _resolve_budget(budget, n)
        policy = self._policy
        if budget == 0:
            return np.empty(0, np.int64)
        if policy.nested:
            return self.order_[:budget].copy()
        if policy.kind == "kdpp":
            return E.kdpp_choice(policy, self._kernel["eigenvalues"], self._kernel["eigenvectors"], budget,
                                 self._seed).astype(np.int64)
        curve = E.frozen_curve(policy, self._fs, self._arrays, self._score, self._seed,
                               _update_steps(self._update_budgets, budget, n), self._settings)
        return np.asarray(curve[-1]["points"], dtype=np.int64)


# --------------------------------------------------------------------------
# One-call functions


def select(features, labels, budget, score: str = "influence", policy: str = "rand-prop", seed: int = 0,
           C: float = 1.0, *, augmented=None, augmented_source=None, **options) -> np.ndarray:
    """The training points to augment, first chosen first.

    ``AugmentationSelector(score, policy, seed, C, **options).fit(features,
    labels, augmented, augmented_source).select(budget)``.

    Parameters
    ----------
    features : (n, d) array of float
        Features of the original training points, from any model.
    labels : (n,) array
        Their labels: any integers or strings, at least two classes.
    budget : int, float or str
        Points to augment: an int in 0..n, a fraction of n in (0, 1] or a
        percentage such as ``"10%"`` (``round(fraction * n)``).
    score : str, default "influence"
        One of :data:`SCORES`.
    policy : str, default "rand-prop"
        A name of :data:`POLICY_NAMES` or :data:`POLICY_PATTERNS`.
    seed : int, default 0
        Seed of the random policies.
    C : float, default 1.0
        Inverse L2 strength of the logistic regression.
    augmented : (K*n, d) array of float, optional
    augmented_source : (K*n,) array of int, optional
        The augmented copies' features and the point each copy comes from;
        required by the ``-update`` policies.
    **options
        Any other :class:`AugmentationSelector` parameter (``hessian_l2``,
        ``update_budgets``, ...).

    Returns
    -------
    (budget,) int64 array
        Indices into the rows of ``features`` (a k-DPP draw: sorted).

    Raises
    ------
    ValueError
        Invalid inputs, an unknown score or policy, ``vsv``, a budget outside
        0..n, or an ``-update`` policy without ``augmented``.

    Examples
    --------
    >>> import numpy as np
    >>> import effaug
    >>> rng = np.random.default_rng(0)
    >>> X = rng.normal(size=(200, 10))
    >>> y = np.where(X[:, 0] + 0.5 * rng.normal(size=200) > 0, "cat", "dog")
    >>> top = effaug.select(X, y, 5, score="loss", policy="det-prop")
    >>> bool(np.all(np.diff(effaug.point_scores(X, y, "loss")[top]) <= 0))
    True
    """
    selector = AugmentationSelector(score, policy, seed, C, **options)
    return selector.fit(features, labels, augmented, augmented_source).select(budget)


def point_scores(features, labels, score: str = "influence", C: float = 1.0, **options) -> np.ndarray:
    """Every training point's score under the L2 logistic regression fit on them.

    The workflow's ``scores.h5`` value of ``score`` for these points
    (:func:`effaug.experiment.compute_scores`).

    Parameters
    ----------
    features : (n, d) array of float
        Features of the original training points, from any model.
    labels : (n,) array
        Their labels: any integers or strings, at least two classes.
    score : str, default "influence"
        One of :data:`SCORES`: ``loss``, ``influence``, ``newton_loo``,
        ``gradient_norm``, ``svm_margin``.
    C : float, default 1.0
        Inverse L2 strength of the logistic regression.
    **options
        Any other :class:`AugmentationSelector` model parameter
        (``hessian_l2``, ``hessian_structure``, ``solver``, ``tol``,
        ``max_iter``, ``svm_C_grid``, ``svm_folds``).

    Returns
    -------
    (n,) float64 array
        Non-negative (``prop`` policies favour large values). ``newton_loo``
        is NaN where a point's leverage is within 1e-6 of 1.

    Examples
    --------
    >>> import numpy as np
    >>> import effaug
    >>> rng = np.random.default_rng(0)
    >>> X = rng.normal(size=(300, 10))
    >>> y = rng.integers(0, 3, size=300)
    >>> s = effaug.point_scores(X, y, "influence")
    >>> s.shape, s.dtype, bool((s >= 0).all())
    ((300,), dtype('float64'), True)
    """
    selector = AugmentationSelector(score, "baseline", 0, C, **options)
    selector._fit_scores(features, labels, None, None, policy_scores=False)
    return selector.scores_


class _CallableScores(types.ModuleType):
    """``effaug.scores(features, labels, ...)`` is :func:`point_scores`; the module stays a module."""

    def __call__(self, *args, **kwargs):
        return point_scores(*args, **kwargs)


S.__class__ = _CallableScores
