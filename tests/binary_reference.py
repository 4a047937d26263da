"""The numbers of a small two-class run, to pin the binary path's results.

``python -m tests.binary_reference WORKDIR`` prints the fingerprint of a
finished run of ``tests.test_reruns.SMALL`` in WORKDIR; tests/data/binary_reference.json
holds the one taken at commit 75e6d23 (before multiclass support), and
``test_multiclass.test_binary_results_are_unchanged`` compares a fresh run with it.
Its two auc.csv digests were retaken when the tables gained the normalised AUC
columns and k-DPP its label "k-DPP": without those columns and with the old
label, the files are the ones of 75e6d23, byte for byte. The summary.csv digest was
retaken when the table gained the ``best_observed_<f>_<score>`` columns (without
them it is the old file, byte for byte), and the two k-DPP kernel.h5 digests when
the kernel gained ``experiment.kdpp.feature_scale`` (1e3; with ``feature_scale: 1``
they are the old ones, and every k-DPP budget JSON is unchanged either way). One
``n_iter`` (translate, kdpp-bottleneck, seed 0, budget 5: 4 -> 3) was retaken when
each budget's fit began to start from the previous budget's; every accuracy and
point is the same. The two scores.h5 digests were retaken when the Newton solver moved from LU to
Cholesky with simplified-Newton last steps: their arrays moved in the last digits (the coefficients by up to
about 1e-11 relative, closer to the minimiser than before), and every JSON value, CSV and
kernel.h5 stayed the same.
"""

from __future__ import annotations

import hashlib
import json
import sys
from pathlib import Path

import h5py

TIMING = ("fit_seconds", "cnn_seconds")


def fingerprint(workdir: Path) -> dict[str, object]:
    """Per result file: HDF5 arrays and CSV text as digests, JSON values without wall-clock fields
    (and only the keys the reference has: new keys may be added)."""
    out: dict[str, object] = {}
    for path in sorted((workdir / "results").rglob("*")):
        rel = str(path.relative_to(workdir))
        if rel.startswith(("results/logs", "results/benchmarks")) or path.is_dir():
            continue
        if path.suffix == ".h5":
            digest = hashlib.sha256()
            with h5py.File(path) as f:
                names = []
                f.visititems(lambda name, obj: names.append(name) if isinstance(obj, h5py.Dataset) else None)
                for name in sorted(names):
                    digest.update(name.encode() + f[name][()].tobytes())
            out[rel] = digest.hexdigest()
        elif path.suffix == ".csv" and "fit_seconds" not in path.read_text().split("\n", 1)[0]:
            out[rel] = hashlib.sha256(path.read_bytes()).hexdigest()
        elif path.suffix == ".json":
            out[rel] = {k: v for k, v in json.loads(path.read_text()).items() if k not in TIMING}
    return out


if __name__ == "__main__":
    print(json.dumps(fingerprint(Path(sys.argv[1])), indent=1, sort_keys=True))
