"""Selection policies: pure functions from scores (and a seeded generator) to
the order in which training points get augmented (docs/method.md, "Policies").

A budget of k augments the first k points of the order, so the sets of a
static policy are nested. Policy names (one slug per policy, used in config
and paths; ``label`` gives the name used in tables and plots):

- ``baseline``: uniform random permutation.
- ``{rand,det}-{prop,inverse-prop}[-update][-down]``: ``rand`` = successive
  weighted sampling without replacement, ``det`` = sorted; ``prop`` weighs by
  |s|, ``inverse-prop`` by 1/|s|; ``update`` refits and rescores at every
  budget; ``down`` gives each augmented point and its K copies weight 1/(K+1).
- ``vsv``: the support vectors of the CV-tuned linear SVM (one budget, #SV).
- ``clustered-{baseline,rand-prop}-c<c>``: k-means with c clusters, the inner
  policy inside every cluster, picks interleaved round robin.
- ``kdpp-{influence,bottleneck}``: a k-DPP draw per budget with kernel
  ``diag(q) F F^T diag(q) + eps I`` (F: unit rows times a feature scale);
  ``influence``: q = |score| of whichever score the curve runs under (not only
  influence), ``bottleneck``: q = 1.

**Weighted sampling without replacement is exactly successive sampling**
(draw one point with probability w_i / sum of the remaining weights, remove
it, repeat). We draw it in one pass with exponential keys: with E_i ~ Exp(1)
i.i.d., the order of E_i / w_i ascending is distributed exactly like
successive sampling, because the minimum of independent exponentials with
rates w_j is attained at i with probability w_i / sum_j w_j and, by
memorylessness, the remaining keys again race as independent exponentials
(Efraimidis & Spirakis 2006). Keys are compared as log E_i - log w_i, so
weights spanning hundreds of orders of magnitude (inverse policies) stay exact.
"""

from __future__ import annotations

import re
import zlib
from dataclasses import dataclass

import numpy as np

TWELVE = (
    "baseline",
    "rand-prop",
    "rand-prop-down",
    "rand-prop-update",
    "rand-prop-update-down",
    "rand-inverse-prop",
    "det-prop",
    "det-prop-down",
    "det-prop-update",
    "det-prop-update-down",
    "det-inverse-prop",
    "det-inverse-prop-update",
)
ZERO_SCORE = np.finfo(np.float64).tiny  # replaces |s| = 0 ("a tiny positive value")

# Matched with fullmatch: a name with anything after it (a trailing newline too) is not a policy.
_SCORED = re.compile(r"(rand|det)-(prop|inverse-prop)(-update)?(-down)?")
_CLUSTERED = re.compile(r"clustered-(baseline|rand-prop)-c([1-9][0-9]*)")
_KDPP = re.compile(r"kdpp-(influence|bottleneck)")


class PolicyError(ValueError):
    """Unknown policy name or invalid selection request."""


@dataclass(frozen=True)
class Policy:
    name: str
    kind: str  # baseline | scored | vsv | clustered | kdpp
    random: bool = True
    inverse: bool = False
    update: bool = False
    down: bool = False
    inner: str | None = None  # clustered: baseline | rand-prop
    clusters: int | None = None
    kernel: str | None = None  # kdpp: influence | bottleneck

    @property
    def uses_score(self) -> bool:
        """Whether the order depends on the configured score (else it runs once, under score ``none``)."""
        if self.kind == "scored":
            return True
        if self.kind == "clustered":
            return self.inner == "rand-prop"
        if self.kind == "kdpp":
            return self.kernel == "influence"
        return False

    @property
    def stochastic(self) -> bool:
        return self.kind != "vsv" and not (self.kind == "scored" and not self.random)

    @property
    def nested(self) -> bool:
        """Whether budgets take prefixes of one static order."""
        return self.kind in ("baseline", "scored", "clustered") and not self.update

    @property
    def label(self) -> str:
        """The name in tables and plots, without the score (:meth:`label_for` adds it where the policy needs it)."""
        if self.kind == "baseline":
            return "Baseline"
        if self.kind == "vsv":
            return "VSV"
        if self.kind == "clustered":
            inner = "Baseline" if self.inner == "baseline" else "Rand Prop"
            return f"Clustered {inner} (c={self.clusters})"
        if self.kind == "kdpp":
            return "k-DPP"
        words = ["Rand" if self.random else "Det"]
        words += ["Inverse", "Prop"] if self.inverse else ["Prop"]
        words += ["Update"] if self.update else []
        words += ["Down"] if self.down else []
        return " ".join(words)

    def label_for(self, score: str) -> str:
        """The name in one score's tables and plots. ``kdpp-influence`` weighs
        its kernel by whichever score it runs under (its folder's), so its
        label names that score ("k-DPP (loss)"); the unweighted
        ``kdpp-bottleneck`` is plain "k-DPP". Other policies' labels leave the
        score to the table's or figure's own score."""
        return f"{self.label} ({score})" if self.kind == "kdpp" and self.uses_score else self.label


def parse_policy(name: str) -> Policy:
    if name == "baseline":
        return Policy(name, "baseline")
    if name == "vsv":
        return Policy(name, "vsv", random=False)
    if m := _SCORED.fullmatch(name):
        return Policy(name, "scored", random=m[1] == "rand", inverse=m[2] == "inverse-prop",
                      update=bool(m[3]), down=bool(m[4]))
    if m := _CLUSTERED.fullmatch(name):
        return Policy(name, "clustered", inner=m[1], clusters=int(m[2]))
    if m := _KDPP.fullmatch(name):
        return Policy(name, "kdpp", kernel=m[1])
    raise PolicyError(
        f"unknown policy {name!r}; expected baseline, vsv, "
        "{rand,det}-{prop,inverse-prop}[-update][-down], clustered-{baseline,rand-prop}-c<clusters> "
        "or kdpp-{influence,bottleneck}"
    )


def check_finite(scores: np.ndarray, score: str) -> np.ndarray:
    """``scores`` as float64 if every value is finite, else a :class:`PolicyError`
    naming the score: a policy cannot rank points whose score is undefined."""
    values = np.asarray(scores, dtype=np.float64)
    bad = ~np.isfinite(values)
    if bad.any():
        hint = (" (newton_loo is undefined where a point's leverage is within 1e-6 of 1, as when n_train <= "
                "d + 1 with a tiny experiment.hessian_l2: use influence, a larger n_train, or hessian_l2: model)"
                if score.endswith("newton_loo") else "")
        raise PolicyError(f"score {score!r} is NaN or infinite for {int(bad.sum())} of {len(values)} points, "
                          f"so no policy can order by it{hint}")
    return values


def rng_for(policy: str, seed: int, *more: int) -> np.random.Generator:
    """The generator of one (policy, seed[, budget]): independent streams per
    policy, identical on every machine and run."""
    return np.random.default_rng([int(seed), zlib.crc32(policy.encode()), *map(int, more)])


def proportional_weights(scores: np.ndarray, inverse: bool = False) -> np.ndarray:
    """|s| (or 1/|s|), with zeros replaced by ``ZERO_SCORE``."""
    weights = np.abs(np.asarray(scores, dtype=np.float64))
    if not np.isfinite(weights).all():
        raise PolicyError("scores hold NaN or infinite values")
    weights = np.where(weights > 0, weights, ZERO_SCORE)
    return 1.0 / weights if inverse else weights


def successive_sampling(weights: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """A full order of ``range(len(weights))`` distributed as successive
    sampling without replacement with probabilities proportional to weights."""
    weights = np.asarray(weights, dtype=np.float64)
    if (weights <= 0).any():
        raise PolicyError("successive sampling needs positive weights")
    keys = np.log(rng.exponential(size=len(weights))) - np.log(weights)
    return np.argsort(keys, kind="stable")


def deterministic_order(scores: np.ndarray, inverse: bool = False) -> np.ndarray:
    """Descending |s| (ascending for inverse); ties keep index order."""
    magnitude = np.abs(np.asarray(scores, dtype=np.float64))
    return np.argsort(magnitude if inverse else -magnitude, kind="stable")


def scored_order(policy: Policy, scores: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    if policy.random:
        return successive_sampling(proportional_weights(scores, policy.inverse), rng)
    return deterministic_order(scores, policy.inverse)


def clustered_order(inner: str, labels: np.ndarray, scores: np.ndarray | None,
                    rng: np.random.Generator) -> np.ndarray:
    """Run the inner policy (``baseline`` or ``rand-prop``) inside every
    cluster, then interleave: round r takes the r-th pick of every cluster that
    still has points, visiting clusters in one random order drawn once."""
    labels = np.asarray(labels)
    clusters = rng.permutation(np.unique(labels))
    per_cluster = []
    for c in clusters:
        members = np.flatnonzero(labels == c)
        if inner == "baseline":
            local = rng.permutation(len(members))
        else:
            local = successive_sampling(proportional_weights(scores[members]), rng)
        per_cluster.append(members[local])
    longest = max(len(m) for m in per_cluster)
    rounds = [m[r] for r in range(longest) for m in per_cluster if r < len(m)]
    return np.asarray(rounds, dtype=np.int64)


def order(policy: Policy, scores: np.ndarray | None, rng: np.random.Generator, n: int,
          cluster_labels: np.ndarray | None = None) -> np.ndarray:
    """The full static order of a nested policy (all n points)."""
    if policy.kind == "baseline":
        return rng.permutation(n).astype(np.int64)
    if policy.kind == "scored":
        return scored_order(policy, scores, rng).astype(np.int64)
    if policy.kind == "clustered":
        if cluster_labels is None:
            raise PolicyError(f"{policy.name} needs cluster labels")
        return clustered_order(policy.inner, cluster_labels, scores, rng)
    raise PolicyError(f"{policy.name} has no static order")


def continue_order(policy: Policy, scores: np.ndarray, chosen: np.ndarray, count: int,
                   rng: np.random.Generator) -> np.ndarray:
    """Update step: the next ``count`` points from the points not yet chosen,
    drawn by the policy from the new scores."""
    chosen = np.asarray(chosen, dtype=np.int64)
    remaining = np.setdiff1d(np.arange(len(scores)), chosen)
    if count > len(remaining):
        raise PolicyError(f"cannot choose {count} more points, only {len(remaining)} remain")
    picks = scored_order(policy, scores[remaining], rng)[:count]
    return remaining[picks]


def sample_weights(n: int, chosen: np.ndarray, n_transforms: int, down: bool) -> np.ndarray:
    """Weights of the training rows [n originals; K copies of each chosen
    point, in the order of ``chosen``]. With ``down`` every chosen point and
    each of its copies weighs 1/(K+1), so each augmented group weighs 1."""
    chosen = np.asarray(chosen, dtype=np.int64)
    weights = np.ones(n + n_transforms * len(chosen))
    if down:
        share = 1.0 / (n_transforms + 1)
        weights[chosen] = share
        weights[n:] = share
    return weights


# --------------------------------------------------------------------------
# k-DPP


def kdpp_kernel(features: np.ndarray, quality: np.ndarray | None = None, epsilon: float = 1e-3,
                feature_scale: float = 1e3) -> np.ndarray:
    """L (n, n) = diag(q) F F^T diag(q) + eps I for features (n, d), with F the
    L2-normalised features times ``feature_scale`` (rows of zeros stay zero;
    the authors' ``phi_scale`` = 1e3), so L_ii = feature_scale^2 q_i^2 + eps;
    q (n,) = |quality|, or 1 when ``quality`` is None."""
    F = np.asarray(features, dtype=np.float64)
    norms = np.linalg.norm(F, axis=1, keepdims=True)
    F = F / np.where(norms > 0, norms, 1.0) * feature_scale
    if quality is not None:
        F = F * np.abs(np.asarray(quality, dtype=np.float64))[:, None]
    L = F @ F.T
    L[np.diag_indices_from(L)] += epsilon
    return L


def log_elementary_symmetric(eigenvalues: np.ndarray, k: int) -> np.ndarray:
    """E[n, l] = log e_l(lambda_1..lambda_n) for n = 0..N, l = 0..k, by the
    recursion e_l^n = e_l^{n-1} + lambda_n e_{l-1}^{n-1} in log space (no
    overflow for any k up to N)."""
    lam = np.asarray(eigenvalues, dtype=np.float64)
    if (lam <= 0).any():
        raise PolicyError("k-DPP eigenvalues must be positive (add epsilon to the kernel)")
    log_lam = np.log(lam)
    N = len(lam)
    E = np.full((N + 1, k + 1), -np.inf)
    E[:, 0] = 0.0
    for n in range(1, N + 1):
        E[n, 1:] = np.logaddexp(E[n - 1, 1:], log_lam[n - 1] + E[n - 1, :-1])
    return E


def kdpp_sample(eigenvalues: np.ndarray, eigenvectors: np.ndarray, k: int,
                rng: np.random.Generator) -> np.ndarray:
    """An exact k-DPP sample (sorted indices) given the eigendecomposition of L.

    Phase 1 (Kulesza & Taskar 2012, Alg. 8) picks k eigenvectors with the
    elementary symmetric polynomials in log space. Phase 2 samples the
    projection DPP of those eigenvectors by the chain rule, O(N k) per pick;
    for k > N/2 it samples the complement from the other N - k eigenvectors.
    """
    N = len(eigenvalues)
    if not 1 <= k <= N:
        raise PolicyError(f"k-DPP size k={k} must be in 1..{N}")
    E = log_elementary_symmetric(eigenvalues, k)
    log_lam = np.log(eigenvalues)
    selected = []
    remaining = k
    for n in range(N, 0, -1):
        if remaining == 0:
            break
        if remaining == n:  # every remaining eigenvector must be taken
            selected.extend(range(n - 1, -1, -1))
            break
        log_p = log_lam[n - 1] + E[n - 1, remaining - 1] - E[n, remaining]
        if np.log(rng.random()) < log_p:
            selected.append(n - 1)
            remaining -= 1
    if k > N - k:
        # The complement of a projection DPP's sample is a sample of the projection
        # DPP of the other eigenvectors: N - k picks instead of k (k = N: none).
        rest = np.setdiff1d(np.arange(N), selected)
        keep = np.ones(N, dtype=bool)
        keep[_projection_dpp_sample(eigenvectors[:, rest], rng)] = False
        return np.flatnonzero(keep)
    return np.sort(_projection_dpp_sample(eigenvectors[:, selected], rng))


def _projection_dpp_sample(V: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """One sample (unsorted) of the projection DPP with kernel V V^T, V (N, k)
    orthonormal, by the chain rule: each pick j has probability proportional to
    the conditional diagonal d_j, then updated by one rank-one Schur complement
    in the k-dim eigenspace, O(N k) per pick."""
    V = np.asarray(V, dtype=np.float64)
    N, k = V.shape
    d = np.einsum("ij,ij->i", V, V)
    A = np.zeros((k, k))  # orthonormal basis of the conditioned directions, in eigen coordinates
    picks = np.empty(k, dtype=np.int64)
    for t in range(k):
        weights = np.clip(d, 0.0, None)
        cumulative = np.cumsum(weights)
        j = int(np.searchsorted(cumulative, rng.random() * cumulative[-1], side="right"))
        j = min(j, N - 1)
        picks[t] = j
        a = V[j] - A[:t].T @ (A[:t] @ V[j])
        a /= np.sqrt(max(a @ a, np.finfo(np.float64).tiny))
        A[t] = a
        d -= (V @ a) ** 2
        d[picks[: t + 1]] = 0.0
    return picks
