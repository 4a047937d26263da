"""DPPy's exact k-DPP sampler, timed in its own interpreter (benchmarks/.venv-dppy).

Run by benchmarks/kdpp.py, never by hand:

    benchmarks/.venv-dppy/bin/python benchmarks/_dppy_kdpp.py REQUEST.json RESULT.json

REQUEST names, per kernel, the .npy files of L and of its eigendecomposition
(computed by the parent with numpy.linalg.eigh), the sizes k, the number of
repeats and the seed; optionally a marginal-frequency run. Each timed call is

    FiniteDPP("likelihood", L=L).sample_exact_k_dpp(size=k, random_state=rs)

on a fresh FiniteDPP object, so DPPy's own scipy.linalg.eigh of L, its
elementary symmetric polynomials (phase 1) and its Gram-Schmidt chain rule
(mode "GS", the default, phase 2) are all inside the time. "Sample only" is
the same call on FiniteDPP("likelihood", L_eig_dec=(eigenvalues, eigenvectors)).
An exception is recorded (type and message) instead of ending the run.
"""

from __future__ import annotations

import json
import sys
import time
import warnings
from importlib.metadata import version

import numpy as np


def _attempt(make, k: int, seed: int) -> dict:
    rs = np.random.RandomState(seed)
    t0 = time.perf_counter()
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # DPPy's 0/0 RuntimeWarnings at large k
            sample = make().sample_exact_k_dpp(size=k, random_state=rs)
    except Exception as exc:  # noqa: BLE001 - recorded, not hidden
        return {"seconds": time.perf_counter() - t0, "error": f"{type(exc).__name__}: {exc}"}
    seconds = time.perf_counter() - t0
    s = np.asarray(sample, dtype=np.int64)
    valid = bool(len(s) == k and len(np.unique(s)) == k)
    return {"seconds": seconds, "error": None, "valid": valid, "sample": sorted(int(i) for i in s)}


def _summary(attempts: list[dict], k: int) -> dict:
    ok = [a for a in attempts if a["error"] is None]
    errors = sorted({a["error"] for a in attempts if a["error"] is not None})
    out = {"repeats": len(attempts), "failures": len(attempts) - len(ok), "errors": errors,
           "best_s": min(a["seconds"] for a in ok) if ok else None,
           "times_s": [a["seconds"] for a in attempts],
           "valid": sum(a["valid"] for a in ok)}
    if ok and k == len(ok[0]["sample"]):
        out["all_indices"] = sum(a["sample"] == list(range(len(a["sample"]))) for a in ok)
    return out


def main() -> None:
    from dppy.finite_dpps import FiniteDPP

    request = json.loads(open(sys.argv[1]).read())
    result = {"versions": {p: version(p) for p in ("dppy", "numpy", "scipy")}, "kernels": {}}
    try:
        from threadpoolctl import threadpool_info
        result["threadpools"] = [{"api": p.get("internal_api"), "threads": p.get("num_threads"),
                                  "version": p.get("version")} for p in threadpool_info()]
    except ImportError:
        result["threadpools"] = None

    for name, files in request["kernels"].items():
        L = np.load(files["L"])
        lam = np.load(files["eigenvalues"])
        V = np.load(files["eigenvectors"])
        per_k = {}
        for k in request["ks"]:
            row = {}
            for mode, make in (("eig_sample", lambda: FiniteDPP("likelihood", L=L)),
                               ("sample_only", lambda: FiniteDPP("likelihood", L_eig_dec=(lam, V)))):
                attempts = [_attempt(make, k, request["seed"] + r) for r in range(request["repeats"])]
                row[mode] = _summary(attempts, k)
            per_k[str(k)] = row
            print(f"  dppy {name} k={k}: {row['eig_sample']['best_s']} s, errors {row['eig_sample']['errors']}",
                  flush=True)
        result["kernels"][name] = per_k

    marg = request.get("marginals")
    if marg:
        files = request["kernels"][marg["kernel"]]
        lam, V = np.load(files["eigenvalues"]), np.load(files["eigenvectors"])
        dpp = FiniteDPP("likelihood", L_eig_dec=(lam, V))  # reused: E_poly computed once
        rs = np.random.RandomState(marg["seed"])
        counts = np.zeros(len(lam), dtype=np.int64)
        bad = 0
        t0 = time.perf_counter()
        for _ in range(marg["draws"]):
            s = np.asarray(dpp.sample_exact_k_dpp(size=marg["k"], random_state=rs), dtype=np.int64)
            if len(np.unique(s)) != marg["k"]:
                bad += 1
            counts[s] += 1
        dpp.flush_samples()
        result["marginals"] = {"k": marg["k"], "draws": marg["draws"], "counts": counts.tolist(),
                               "invalid_draws": bad, "seconds": time.perf_counter() - t0}

    with open(sys.argv[2], "w") as f:
        json.dump(result, f)


if __name__ == "__main__":
    main()
