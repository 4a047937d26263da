"""Incremental re-runs: what a change makes Snakemake plan, counted from dry runs."""

from __future__ import annotations

import copy
import os
import re
import shutil
import signal
import subprocess
import time
from pathlib import Path

import h5py
import pandas as pd
import pytest
import yaml

from tests.conftest import REPO
from tests.test_workflow import snakemake, snakemake_command, workflow_env

# The workflow tests' small configuration; `snakemake --directory .test` runs the same one.
SMALL = yaml.safe_load((REPO / ".test" / "config" / "config.yaml").read_text())
AGGREGATION = {"curves", "all_curves", "auc_table", "summary", "accuracy_figure", "report_landing", "all"}


def planned(workdir: Path, config: dict) -> dict[str, int]:
    result = snakemake(workdir, "-n", config=config)
    assert result.returncode == 0, result.stderr[-3000:]
    text = result.stdout + result.stderr
    if "Nothing to be done" in text:
        return {}
    table = text.split("Job stats:")[1].split("total")[0]
    return {m[1]: int(m[2]) for m in re.finditer(r"^(\w+)\s+(\d+)\s*$", table, re.M)}


def changed(path: list, value) -> dict:
    config = copy.deepcopy(SMALL)
    node = config
    for key in path[:-1]:
        node = node[key]
    node[path[-1]] = value
    return config


@pytest.fixture(scope="module")
def complete(small_run):
    return small_run


def test_complete_run_has_nothing_to_do(complete):
    assert planned(complete, SMALL) == {}


@pytest.mark.parametrize("parameter", [{"epsilon": 0.01}, {"feature_scale": 1.0}])
def test_a_kdpp_parameter_reruns_only_kdpp_jobs(complete, parameter):
    jobs = planned(complete, changed(["experiment", "kdpp"], parameter))
    assert set(jobs) == {"kdpp_kernel", "selection_kdpp"} | AGGREGATION
    assert jobs["kdpp_kernel"] == 2 and jobs["selection_kdpp"] == 2  # one per augmentation, with both seeds


def test_the_kdpp_kernel_is_built_with_the_feature_scale(complete):
    with h5py.File(complete / "results/tiny/crop/none/kdpp-bottleneck/kernel.h5") as f:
        assert f.attrs["feature_scale"] == 1000.0 and f.attrs["epsilon"] == 0.001


def test_kdpp_budgets_of_their_own_rerun_only_the_kdpp_curves_and_get_their_own_auc_table(complete, tmp_path):
    config = changed(["experiment", "kdpp"], {"budgets": [1, 3, 5]})
    jobs = planned(complete, config)
    assert set(jobs) == {"selection_kdpp"} | AGGREGATION and jobs["selection_kdpp"] == 2
    workdir = tmp_path / "run"
    shutil.copytree(complete, workdir, symlinks=True)
    result = snakemake(workdir, "--cores", "2", config=config)
    assert result.returncode == 0, result.stderr[-3000:]
    curves = pd.read_csv(workdir / "results/tiny/crop/curves.csv")
    assert set(curves[curves["policy"] == "kdpp-bottleneck"]["budget"]) == {0, 1, 3, 5}
    assert set(curves[curves["policy"] == "baseline"]["budget"]) == {0, 2, 5}
    for augmentation in ("crop", "translate"):
        base = workdir / f"results/tiny/{augmentation}/loss"
        main, own = pd.read_csv(base / "auc.csv"), pd.read_csv(base / "auc_kdpp.csv")
        assert "kdpp-bottleneck" not in set(main["policy"]) and list(own["policy"]) == ["kdpp-bottleneck"]
        assert own["auc_normalised_mean"].iloc[0] == pytest.approx(own["auc_mean"].iloc[0] / 5)
        assert (complete / f"results/tiny/{augmentation}/loss/auc.csv").read_text() != (base / "auc.csv").read_text()
        assert "k-DPP curves on budgets of their own" in (base / "auc.md").read_text()
        assert pd.read_csv(complete / f"results/tiny/{augmentation}/loss/auc_kdpp.csv").empty


def test_the_budget_axis_redraws_only_the_accuracy_figures(complete):
    jobs = planned(complete, changed(["figures"], {"budget_axis": "linear"}))
    assert jobs == {"accuracy_figure": 2, "report_landing": 1, "all": 1}  # one figure per augmentation


def test_a_clustering_parameter_reruns_only_clustered_jobs(complete):
    jobs = planned(complete, changed(["experiment", "clustered"], {"seed": 3}))
    assert set(jobs) == {"selection"} | AGGREGATION
    assert jobs["selection"] == 2  # clustered-baseline-c2 per augmentation, both seeds in one job


def test_an_augmentation_parameter_reruns_that_augmentation_only(complete):
    config = changed(["datasets", "tiny", "augmentations", "translate"], {"shift": 3})
    jobs = planned(complete, config)
    assert "task" not in jobs and "train_featurizer" not in jobs
    assert jobs["features"] == 1 and jobs["scores"] == 1 and jobs["references"] == 1
    # every curve of translate, none of crop: 4 policies, each job with both seeds
    assert jobs["selection"] + jobs["selection_update"] + jobs["selection_kdpp"] == 4
    assert jobs["curves"] == 1 and jobs["accuracy_figure"] == 1


def test_adding_policies_runs_their_selection_jobs_only(complete):
    policies = SMALL["experiment"]["policies"] + ["rand-prop", "det-prop", "det-inverse-prop-update"]
    jobs = planned(complete, changed(["experiment", "policies"], policies))
    assert set(jobs) == {"selection", "selection_deterministic"} | AGGREGATION
    # rand-prop: one job per augmentation with both seeds; the det-* policies: one job per augmentation and score
    assert jobs["selection"] == 2 and jobs["selection_deterministic"] == 2


def test_adding_a_budget_or_a_seed_reruns_the_selection_jobs_only(complete, tmp_path):
    # frozen mode evaluates all budgets of all seeds of a (score, policy) in one job: a new budget or
    # seed re-runs those jobs (seconds), never features, scores or references
    jobs = planned(complete, changed(["experiment", "budgets"], [2, 5, 10]))
    assert set(jobs) == {"selection", "selection_update", "selection_kdpp"} | AGGREGATION
    assert jobs["selection"] == 2 * 2 and jobs["selection_update"] == 2 and jobs["selection_kdpp"] == 2
    config = changed(["experiment", "seeds"], 3)
    jobs = planned(complete, config)
    assert set(jobs) == {"selection", "selection_update", "selection_kdpp"} | AGGREGATION
    assert jobs["selection"] == 2 * 2 and jobs["selection_update"] == 2 and jobs["selection_kdpp"] == 2
    # the curves of the earlier seeds are made again to the same bytes; the new seed's are new
    workdir = tmp_path / "run"
    shutil.copytree(complete, workdir, symlinks=True)
    result = snakemake(workdir, "--cores", "2", config=config)
    assert result.returncode == 0, result.stderr[-3000:]
    before = sorted(complete.glob("results/tiny/*/*/*/seed*/*"))
    # per augmentation: 2 nested curves x 2 seeds (order, 2 budgets, curve.json, timings) and 2 Update and k-DPP
    # curves x 2 seeds (2 budgets, curve.json, timings)
    assert len(before) == 2 * (2 * 2 * 5 + 2 * 2 * 4) and all("seed2" not in str(f) for f in before)
    for file in before:
        assert (workdir / file.relative_to(complete)).read_bytes() == file.read_bytes() or file.name == "timings.tsv"
    assert len(list(workdir.glob("results/tiny/*/*/*/seed2/budget*.json"))) == 2 * 4 * 2


def test_a_deleted_budget_file_reruns_its_curves_job_only(complete, tmp_path):
    # the tables read one curve.json per curve; a finished curve's missing budget file is asked for too
    workdir = tmp_path / "run"
    shutil.copytree(complete, workdir, symlinks=True)
    (workdir / "results/tiny/crop/none/clustered-baseline-c2/seed1/budget5.json").unlink()
    assert planned(workdir, SMALL) == {"selection": 1, "curves": 1, "all_curves": 1, "auc_table": 1, "summary": 1,
                                       "accuracy_figure": 1, "report_landing": 1, "all": 1}


def test_editing_library_code_reruns_the_rules_that_use_it(complete):
    source = REPO / "src" / "effaug" / "metrics.py"
    original, stat = source.read_bytes(), source.stat()
    try:
        source.write_bytes(original + b"\n# an edit\n")
        jobs = planned(complete, SMALL)
    finally:
        source.write_bytes(original)
        os.utime(source, ns=(stat.st_atime_ns, stat.st_mtime_ns))
    # metrics.py is used by the curves, AUC and summary scripts; the rest follows from their outputs
    assert set(jobs) == AGGREGATION
    assert planned(complete, SMALL) == {}


def is_timing(rel: str) -> bool:
    """Logs, benchmarks and wall-clock timings (featurizer_timings.tsv, timings.tsv,
    epoch_time.tsv and its figure): the files of a run that are not results."""
    name = Path(rel).name
    return (rel.startswith(("results/logs/", "results/benchmarks/")) or (name.endswith(".tsv") and "timings" in name)
            or name == "epoch_time.tsv" or name.startswith("epoch_time."))


def comparable(root: Path) -> dict[str, bytes]:
    """The bytes of every result file (every file under results/ but :func:`is_timing`'s)."""
    out = {}
    for path in sorted(root.glob("results/**/*")):
        rel = str(path.relative_to(root))
        if path.is_file() and not is_timing(rel):
            out[rel] = path.read_bytes()
    return out


def test_killed_run_resumes_to_byte_identical_results(complete, tmp_path):
    # started like the reference run (the same environment), only in the background
    (tmp_path / "config.yaml").write_text(yaml.safe_dump(SMALL))
    process = subprocess.Popen(snakemake_command(tmp_path, "--cores", "2"), cwd=tmp_path,
                               env=workflow_env(tmp_path), stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                               start_new_session=True)
    deadline = time.time() + 300
    while len(list(tmp_path.glob("results/tiny/*/*/*/seed*/budget*.json"))) < 6:
        assert process.poll() is None and time.time() < deadline, "the run ended before it could be killed"
        time.sleep(0.2)
    os.killpg(process.pid, signal.SIGKILL)
    process.wait()
    assert not (tmp_path / "results/curves.csv").exists()
    # a killed Snakemake leaves its lock behind: release it, then finish what was cut off
    assert snakemake(tmp_path, "--unlock").returncode == 0
    result = snakemake(tmp_path, "--cores", "2", "--rerun-incomplete")
    assert result.returncode == 0, result.stderr[-3000:]
    resumed, uninterrupted = comparable(tmp_path), comparable(complete)
    assert resumed.keys() == uninterrupted.keys()
    # the same bytes, file for file (sha256sum -c checks a reproduction): no wall-clock field, no time stamp
    different = [name for name in resumed if resumed[name] != uninterrupted[name]]
    assert different == []
