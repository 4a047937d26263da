"""What pinning the CPU kernels (config resources.kernels) costs.

Each measurement runs in a fresh process, since OpenBLAS and NumPy choose
their kernels when they load: once with the workflow's pinned environment
(``effaug.runtime.kernel_environment`` of the defaults) and once with every
library detecting the CPU itself (OPENBLAS_CORETYPE, OPENBLAS_L2_SIZE, the
NumPy and oneDNN variables all unset). The two settings alternate, twice
each, and the best time counts. Measured: the closed-form influence of all
points (Hessian, Cholesky, triangular product), the Newton LR fit of a
frozen-mode budget, and CNN training epochs (the MNIST CNN and ResNet20v2).

    python benchmarks/kernels.py          # ~5 minutes on 2 cores
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from _common import best_of, save  # noqa: E402

UNPINNED = ("OPENBLAS_CORETYPE", "OPENBLAS_L2_SIZE", "NPY_ENABLE_CPU_FEATURES", "NPY_DISABLE_CPU_FEATURES",
            "ONEDNN_MAX_CPU_ISA", "TF_ENABLE_ONEDNN_OPTS")
INFLUENCE = (10000, 512)
FIT = (1500, 512)  # a frozen budget fit: originals plus a few hundred augmented rows
CNNS = (("mnist_cnn", (2000, 28, 28, 1)), ("resnet_v2", (500, 32, 32, 3)))


def child() -> dict:
    import hashlib

    import numpy as np

    from effaug import cnn
    from effaug import scores as S
    from effaug.runtime import limit_threads, loaded_kernels

    limit_threads(1)
    rng = np.random.default_rng(0)
    out = {}
    n, d = INFLUENCE
    X = rng.normal(size=(n, d)).astype(np.float32)
    y = (rng.random(n) < 0.5).astype(np.uint8)
    model = S.fit_logistic(X[:2000], y[:2000], C=1.0)

    def influence():
        out["influence_digest"] = hashlib.sha256(
            S.influence(model, X, y, S.hessian(model, X, 2e-10))["influence"].tobytes()).hexdigest()[:12]

    out["influence_s"] = best_of(influence, 3)
    n, d = FIT
    Xf, yf = X[:n, :d], y[:n]
    fitted = []
    out["fit_s"] = best_of(lambda: fitted.append(S.fit_logistic(Xf, yf, C=1.0, tol=1e-10)), 5)
    out["fit_digest"] = hashlib.sha256(fitted[-1].theta.tobytes()).hexdigest()[:12]
    for architecture, shape in CNNS:
        images = rng.integers(0, 256, size=shape, dtype=np.uint8)
        labels = np.arange(shape[0]) % 2
        spec = cnn.FeaturizerSpec(architecture=architecture, epochs=3, batch_size=128, threads=2)
        trained, history = cnn.train(images, labels, spec)
        out[f"{architecture}_epoch_s"] = min(row["seconds"] for row in history[1:])  # the first epoch compiles
        out[f"{architecture}_digest"] = hashlib.sha256(
            b"".join(w.tobytes() for w in trained.get_weights())).hexdigest()[:12]
    kernels = loaded_kernels()
    out["openblas"] = [f"{os.path.basename(path).split('-')[0]} {core}" for path, core in kernels["openblas"]]
    out["numpy_top"] = kernels["numpy"][-1] if kernels["numpy"] else "baseline"
    out["onednn"] = kernels["onednn"] or "all the CPU has"
    return out


def measure(env: dict) -> dict:
    result = subprocess.run([sys.executable, __file__, "--child"], env=env, capture_output=True, text=True)
    if result.returncode:
        sys.exit(result.stderr[-3000:])
    return json.loads(result.stdout.strip().splitlines()[-1])


def main() -> None:
    from effaug.runtime import pin_kernels

    base = {k: v for k, v in os.environ.items() if k not in UNPINNED}
    base["TF_CPP_MIN_LOG_LEVEL"] = "2"
    pinned_env = dict(base)
    pin_kernels({}, pinned_env)
    settings = {"pinned": pinned_env, "native": base}
    runs: dict[str, list[dict]] = {name: [] for name in settings}
    for _ in range(2):
        for name, env in settings.items():
            start = time.perf_counter()
            runs[name].append(measure(env))
            print(f"{name}: {time.perf_counter() - start:.0f} s", file=sys.stderr)
    best = {name: {key: min(r[key] for r in rs) if key.endswith("_s") else rs[0][key] for key in rs[0]}
            for name, rs in runs.items()}
    rows = []
    labels = {"influence_s": f"influence of all points, (n, d) = {INFLUENCE}, 1 thread",
              "fit_s": f"Newton LR fit of a budget, {FIT[0]} rows x {FIT[1]}, 1 thread",
              "mnist_cnn_epoch_s": f"MNIST CNN epoch, {CNNS[0][1][0]} images 28x28, 2 threads",
              "resnet_v2_epoch_s": f"ResNet20v2 epoch, {CNNS[1][1][0]} images 32x32x3, 2 threads"}
    digests = {"influence_s": "influence_digest", "fit_s": "fit_digest", "mnist_cnn_epoch_s": "mnist_cnn_digest",
               "resnet_v2_epoch_s": "resnet_v2_digest"}
    for key, label in labels.items():
        pinned, native = best["pinned"][key], best["native"][key]
        same = best["pinned"][digests[key]] == best["native"][digests[key]]
        rows.append([label, round(pinned, 4), round(native, 4), f"{pinned / native:.2f}x", "yes" if same else "no"])
    kernels = {name: f"OpenBLAS {', '.join(b['openblas'])}; NumPy up to {b['numpy_top']}; oneDNN {b['onednn']}"
               for name, b in best.items()}
    save("kernels", {
        "title": "The cost of pinned CPU kernels",
        "description": (
            "Pinned (`resources.kernels` defaults: OpenBLAS Haswell, NumPy up to AVX2, oneDNN up to AVX2) "
            "against each library detecting the CPU, each in a fresh process, best of two alternating runs "
            "(`benchmarks/kernels.py`). 'same bits' says whether the two settings computed identical results."),
        "tables": [{"caption": "Seconds, pinned against auto-detected kernels",
                    "columns": ["what", "pinned s", "auto-detected s", "pinned / auto", "same bits"],
                    "rows": rows}],
        "notes": [f"{name}: {text}" for name, text in kernels.items()] + [
            "OpenCV's wheel bundles an OpenBLAS of its own (0.3.3), which detects old AMD 'Barcelona' kernels on "
            "AMD EPYC; the pin covers it too (every loaded OpenBLAS reads OPENBLAS_CORETYPE)."],
        "raw": runs,
    })


if __name__ == "__main__":
    if "--child" in sys.argv:
        print(json.dumps(child()))
    else:
        main()
