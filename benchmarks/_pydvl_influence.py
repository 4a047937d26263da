"""pyDVL's exact self-influences of a binary L2 logistic regression (run by influence.py).

Runs inside benchmarks/.venv-pydvl (torch 2.13 CPU, pydvl[influence] 0.10, numpy<2),
never in the project's venv. Usage:

    _pydvl_influence.py WORKDIR L2 REPEATS MIN_SECONDS BATCH_SIZE THREADS HESSIAN_POINTS

WORKDIR holds X.npy (n, d) features, y.npy (n,) labels in {0, 1} and theta.npy
(d + 1,) = [coef; intercept] of the model fit by effaug. The script writes
WORKDIR/pydvl_values.npy (n,) float64, pyDVL's g_i^T H^-1 g_i in pyDVL's own
scaling (mean loss: n times effaug's sum-loss value), and WORKDIR/pydvl.json with
the wall times, measured around the pyDVL calls only (no imports, no file I/O,
no numpy -> torch conversion): the best of REPEATS runs (more while less than
MIN_SECONDS have passed).

The model is ``nn.Linear(d + 1, 1, bias=False)`` on x~ = [x; 1] in float64, so the
intercept is an ordinary weight; the loss is the mean binary cross-entropy with
logits. pyDVL's Hessian is the mean Hessian of that loss plus ``regularization *
I``; with regularization = L2 / n it is effaug's H / n except on the intercept's
diagonal entry, which pyDVL penalises (by L2 / n) and effaug does not.

Timed, per repeat:
    infl = DirectInfluence(model, loss, regularization=L2 / n).fit(loader)   # "hessian"
        # the Hessian by torch.func.hessian per batch, averaged (pyDVL's hessian())
    factors = infl.influence_factors(x, y)                                    # "solve"
        # per-sample gradients (vmap) and torch.linalg.solve(H, G^T): H^-1 g_i, (n, d + 1)
    grads = TorchGradientProvider(model, loss, block).flat_grads(TorchBatch(x, y))
    values = (factors * grads).sum(1)            # g_i^T H^-1 g_i, the diagonal
        # block: the one parameter block of infl (BlockMode.FULL), as DirectInfluence uses it
``infl.influences(x, y)`` would give the same diagonal inside an n x n matrix
(20 GB at n = 50000), so the self-influences are taken from the factors.

HESSIAN_POINTS > 0 (for the largest sizes, where pyDVL's Hessian alone takes many
minutes): the fit is timed on the first HESSIAN_POINTS points only (whole
batches) and its time extrapolated linearly to n (every batch costs the same);
the operator's matrix is then replaced, untimed, by the exact full mean Hessian
(+ regularization * I) computed in torch from the closed formula, and the rest
(influence_factors, gradients, dot product) runs on all n points as above. The
values then check pyDVL's gradients and solve, not its Hessian.
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


def main() -> None:
    work = Path(sys.argv[1])
    l2 = float(sys.argv[2])
    repeats = int(sys.argv[3])
    min_seconds = float(sys.argv[4])
    batch_size = int(sys.argv[5])
    threads = int(sys.argv[6])
    hessian_points = int(sys.argv[7])
    torch.set_num_threads(threads)

    X = np.load(work / "X.npy")
    y = np.load(work / "y.npy")
    theta = np.load(work / "theta.npy")
    n, d = X.shape
    xt = torch.from_numpy(np.hstack([X.astype(np.float64), np.ones((n, 1))]))
    yt = torch.from_numpy(y.astype(np.float64).reshape(-1, 1))
    del X

    model = nn.Linear(d + 1, 1, bias=False).to(torch.float64)
    with torch.no_grad():
        model.weight.copy_(torch.from_numpy(theta.reshape(1, -1)))
    model.eval()
    loss = nn.functional.binary_cross_entropy_with_logits  # mean over the batch
    regularization = float(l2 / n)
    partial = 0 < hessian_points < n
    if partial:
        m = max(batch_size, hessian_points // batch_size * batch_size)
        fit_data = TensorDataset(xt[:m], yt[:m])
    else:
        m = n
        fit_data = TensorDataset(xt, yt)
    loader = DataLoader(fit_data, batch_size=batch_size, shuffle=False)

    best = None
    values = None
    start = time.perf_counter()
    runs = 0
    while runs < max(1, repeats) or time.perf_counter() - start < min_seconds:
        t0 = time.perf_counter()
        infl = DirectInfluence(model, loss, regularization=regularization).fit(loader)
        t1 = time.perf_counter()
        if partial:  # untimed: the exact full mean Hessian in place of the prefix one
            with torch.no_grad():
                z = xt @ model.weight.reshape(-1)
                s = torch.sigmoid(z) * torch.sigmoid(-z)
                H = (xt * s[:, None]).T @ xt / n
                H.diagonal().add_(regularization)
            (mapped,) = infl.block_mapper.composable_block_dict.values()
            mapped.op.matrix = H
            del z, s, H
        t2 = time.perf_counter()
        factors = infl.influence_factors(xt, yt)
        (block,) = infl.parameter_dict.values()  # BlockMode.FULL: one block, all parameters
        grads = TorchGradientProvider(model, loss, block).flat_grads(TorchBatch(xt, yt))
        values = (factors * grads).sum(dim=1)
        t3 = time.perf_counter()
        hessian_s = (t1 - t0) * n / m
        run = {"seconds": hessian_s + (t3 - t2), "hessian_seconds": hessian_s,
               "hessian_measured_seconds": t1 - t0, "solve_seconds": t3 - t2}
        if best is None or run["seconds"] < best["seconds"]:
            best = run
        del infl, factors, grads
        runs += 1

    np.save(work / "pydvl_values.npy", values.numpy().astype(np.float64))
    import pydvl

    (work / "pydvl.json").write_text(json.dumps({
        **best, "repeats": runs, "batch_size": batch_size, "hessian_points": m,
        "hessian_extrapolated": partial, "torch_threads": torch.get_num_threads(),
        "torch": torch.__version__, "pydvl": pydvl.__version__, "numpy": np.__version__,
        "regularization": regularization,
    }))


if __name__ == "__main__":
    main()
