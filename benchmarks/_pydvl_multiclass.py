"""pyDVL's exact self-influences of a multinomial L2 logistic regression (run by influence_multiclass.py).

Runs inside benchmarks/.venv-pydvl (torch CPU, pydvl[influence] 0.10, numpy<2),
never in the project's venv. Usage:

    _pydvl_multiclass.py WORKDIR L2 BATCH_SIZE THREADS HESSIAN_POINTS

WORKDIR holds X.npy (n, d) features, y.npy (n,) labels 0..K-1 and W.npy
(d + 1, K), the parameters fit by effaug (last row: intercepts). The model is
``nn.Linear(d + 1, K, bias=False)`` on x~ = [x; 1] in float64 (the intercepts
are ordinary weights), the loss the mean cross-entropy; pyDVL's Hessian is the
mean Hessian plus ``regularization * I`` with regularization = L2 / n.

Timed, once (each step takes minutes at the benchmark's size):
    infl = DirectInfluence(model, loss, regularization=L2 / n).fit(loader)   # "hessian"
    factors = infl.influence_factors(x, y)                                    # "solve": H^-1 g_i
    grads = TorchGradientProvider(model, loss, block).flat_grads(TorchBatch(x, y))
    values = (factors * grads).sum(1)                                         # g_i^T H^-1 g_i

HESSIAN_POINTS > 0: pyDVL's Hessian is timed on the first HESSIAN_POINTS points
(whole batches) and extrapolated linearly to n; the operator's matrix is then
replaced, untimed, by the exact full mean Hessian computed in torch from the
closed formula, and the rest runs on all n points. Writes pydvl_values.npy
(pyDVL's scaling: n times effaug's sum-loss values) and pydvl.json (seconds).
"""

from __future__ import annotations

import json
import sys
import time
from pathlib import Path

import numpy as np
import torch
from torch import nn
from torch.utils.data import DataLoader, TensorDataset

from pydvl.influence.torch import DirectInfluence
from pydvl.influence.torch.base import TorchBatch, TorchGradientProvider


def exact_mean_hessian(xt: torch.Tensor, W: torch.Tensor, regularization: float) -> torch.Tensor:
    """sum_i (diag(p_i) - p_i p_i^T) (x) x~_i x~_i^T / n + reg I, parameters ordered as
    nn.Linear's weight (K, d + 1) flattened: class-major."""
    n, d1 = xt.shape
    K = W.shape[1]
    H = torch.zeros(K * d1, K * d1, dtype=torch.float64)
    with torch.no_grad():
        for start in range(0, n, 4096):
            x = xt[start:start + 4096]
            p = torch.softmax(x @ W, dim=1)
            for k in range(K):
                for j in range(K):
                    w = p[:, k] * (float(k == j) - p[:, j])
                    H[k * d1:(k + 1) * d1, j * d1:(j + 1) * d1] += (x * w[:, None]).T @ x
        H /= n
        H.diagonal().add_(regularization)
    return H


def main() -> None:
    work = Path(sys.argv[1])
    l2 = float(sys.argv[2])
    batch_size = int(sys.argv[3])
    threads = int(sys.argv[4])
    hessian_points = int(sys.argv[5])
    torch.set_num_threads(threads)

    X = np.load(work / "X.npy")
    y = np.load(work / "y.npy")
    W = np.load(work / "W.npy")
    n, d = X.shape
    K = W.shape[1]
    xt = torch.from_numpy(np.hstack([X.astype(np.float64), np.ones((n, 1))]))
    yt = torch.from_numpy(y.astype(np.int64))
    del X
    model = nn.Linear(d + 1, K, bias=False).to(torch.float64)
    with torch.no_grad():
        model.weight.copy_(torch.from_numpy(W.T.copy()))
    model.eval()
    loss = nn.functional.cross_entropy  # mean over the batch
    regularization = float(l2 / n)
    partial = 0 < hessian_points < n
    m = max(batch_size, hessian_points // batch_size * batch_size) if partial else n
    loader = DataLoader(TensorDataset(xt[:m], yt[:m]), batch_size=batch_size, shuffle=False)

    t0 = time.perf_counter()
    infl = DirectInfluence(model, loss, regularization=regularization).fit(loader)
    t1 = time.perf_counter()
    if partial:
        (mapped,) = infl.block_mapper.composable_block_dict.values()
        mapped.op.matrix = exact_mean_hessian(xt, torch.from_numpy(W), regularization)
    t2 = time.perf_counter()
    factors = infl.influence_factors(xt, yt)
    (block,) = infl.parameter_dict.values()
    grads = TorchGradientProvider(model, loss, block).flat_grads(TorchBatch(xt, yt))
    values = (factors * grads).sum(dim=1)
    t3 = time.perf_counter()
    hessian_s = (t1 - t0) * n / m
    np.save(work / "pydvl_values.npy", values.numpy().astype(np.float64))
    import pydvl

    (work / "pydvl.json").write_text(json.dumps({
        "seconds": hessian_s + (t3 - t2), "hessian_seconds": hessian_s, "hessian_measured_seconds": t1 - t0,
        "solve_seconds": t3 - t2, "hessian_points": m, "hessian_extrapolated": partial, "batch_size": batch_size,
        "torch_threads": torch.get_num_threads(), "torch": torch.__version__, "pydvl": pydvl.__version__,
        "numpy": np.__version__, "regularization": regularization,
    }))


if __name__ == "__main__":
    main()
