"""Provenance records on every cached file, corrupt and copied-in files, `effaug verify`."""

import copy
import json
import os
import re
import shutil
import subprocess
import sys
import zipfile
from pathlib import Path

import numpy as np
import pytest
import yaml

from effaug import provenance as P
from effaug.results_io import read_order, write_json, write_order
from effaug.stores import read_arrays, write_arrays
from tests.test_reruns import SMALL
from tests.test_workflow import snakemake, workflow_env

STAGES = {"task": {"n_train": 20}, "features": {"augmentation": "translate", "params": {"shift": 2}}}
EFFAUG = str(Path(sys.executable).parent / "effaug")


def test_a_record_names_its_stage_and_digests_every_upstream_stage():
    record = P.make_record("features", STAGES)
    assert record["stage"] == "features" and record["stages"] == STAGES
    assert record["digest"] == P.make_record("features", copy.deepcopy(STAGES))["digest"]
    changed = copy.deepcopy(STAGES)
    changed["task"]["n_train"] = 21  # an upstream change changes the digest
    assert P.make_record("features", changed)["digest"] != record["digest"]
    with pytest.raises(ValueError, match="not among the record's stages"):
        P.make_record("scores", STAGES)


def test_the_first_differing_parameter_is_named():
    record = P.make_record("features", STAGES)
    expected = copy.deepcopy(STAGES)
    expected["features"]["params"]["shift"] = 1
    reason = P.mismatch(record, expected, whole=True)
    assert reason == "it was made with features.params.shift = 2, but the configuration gives 1"
    assert P.mismatch(record, STAGES, whole=True) is None
    # a reader with more stages downstream checks the ones the file has
    assert P.mismatch(record, {**STAGES, "scores": {"C": 1}}) is None
    assert "has no provenance record" in P.mismatch(None, STAGES)


@pytest.mark.parametrize("kind", ["h5", "json", "tsv", "keras"])
def test_records_round_trip_in_every_kind_of_cached_file(tmp_path, kind):
    record = P.make_record("features", STAGES)
    path = tmp_path / "results" / f"file.{kind}"
    if kind == "h5":
        write_arrays(path, {"a": np.arange(3)}, P.h5_attrs(record))
        assert read_arrays(path)[0]["a"].tolist() == [0, 1, 2]
    elif kind == "json":
        write_json(path, {"accuracy": 0.5}, record)
    elif kind == "tsv":
        write_order(path, np.array([2, 0, 1]), np.array([0.1, 0.2, 0.3]), record=record)
        assert read_order(path).tolist() == [2, 0, 1]  # the record line is skipped by the reader
    else:
        path.parent.mkdir()
        with zipfile.ZipFile(path, "w") as archive:
            archive.writestr("config.json", "{}")
        P.add_to_keras(path, record)
    assert P.read_record(path) == record


def test_check_inputs_refuses_a_file_of_another_configuration(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    path = Path("results/d/a/features.h5")
    write_arrays(path, {"a": np.arange(3)}, P.h5_attrs(P.make_record("features", STAGES)))
    expected = copy.deepcopy(STAGES)
    expected["features"]["params"]["shift"] = 1
    expected["scores"] = {"C": 1.0}
    with pytest.raises(P.ProvenanceError) as err:
        P.check_inputs([path], {"stage": "scores", "stages": expected})
    message = str(err.value)
    assert message.startswith("results/d/a/features.h5: it was made with features.params.shift = 2")
    assert "`effaug verify --fix` removes it" in message
    expected["features"]["params"]["shift"] = 2
    record = P.check_inputs([path, "data/user-file.h5"], {"stage": "scores", "stages": expected})
    assert record == P.make_record("scores", expected)  # files outside results/ carry no record


def test_a_truncated_store_is_named_with_the_command_that_rebuilds_it(tmp_path):
    path = tmp_path / "results" / "features.h5"
    write_arrays(path, {"a": np.zeros((1000, 50))}, P.h5_attrs(P.make_record("features", STAGES)))
    path.write_bytes(path.read_bytes()[: path.stat().st_size // 2])
    with pytest.raises(P.ProvenanceError, match=r"features\.h5: cannot read its provenance .*truncated or "
                                                r"corrupt: `effaug verify --fix` removes it"):
        P.read_record(path)
    assert "truncated or corrupt" in P.integrity_problem(path)


@pytest.mark.parametrize("suffix", [".h5", ".json", ".keras", ".png", ".pdf"])
def test_integrity_finds_truncated_files(tmp_path, suffix):
    path = tmp_path / f"file{suffix}"
    if suffix == ".h5":
        write_arrays(path, {"a": np.random.default_rng(0).random((2000, 20))})
    elif suffix == ".json":
        path.write_text(json.dumps({"a": list(range(100))}))
    elif suffix == ".keras":
        with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as archive:
            archive.writestr("model.weights.h5", bytes(range(256)) * 100)
    else:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt

        figure, ax = plt.subplots()
        ax.plot([0, 1], [1, 0])
        figure.savefig(path)
        plt.close(figure)
    assert P.integrity_problem(path) is None
    data = path.read_bytes()
    path.write_bytes(data[: len(data) // 2])
    assert P.integrity_problem(path) is not None


# --------------------------------------------------------------------------
# In the workflow (copies of the shared small run: its users only read it)


@pytest.fixture
def copied_run(small_run, tmp_path):
    """A copy of the finished small run, Snakemake's metadata included."""
    workdir = tmp_path / "copy"
    shutil.copytree(small_run, workdir, symlinks=True)
    return workdir


def dry_run(workdir, config):
    result = snakemake(workdir, "-n", config=config)
    assert result.returncode == 0, result.stderr[-3000:]
    return result.stdout + result.stderr


def test_every_cached_file_carries_its_record(small_run):
    results = small_run / "results" / "tiny"
    files = [results / "task.h5", results / "featurizer.keras", results / "translate/features.h5",
             results / "translate/scores.h5", results / "translate/references.json",
             results / "translate/loss/rand-prop-update/seed1/budget5.json",
             results / "translate/none/clustered-baseline-c2/seed0/order.tsv",
             results / "translate/none/kdpp-bottleneck/kernel.h5"]
    records = {path.name: P.read_record(path) for path in files}
    assert records["task.h5"]["stages"]["task"]["n_train"] == 20
    assert records["features.h5"]["stages"]["features"]["params"] == {"shift": 2}
    assert records["scores.h5"]["stages"]["task"] == records["task.h5"]["stages"]["task"]
    assert records["budget5.json"]["stages"]["selection"]["policy"] == "rand-prop-update"
    assert records["kernel.h5"]["stage"] == "kdpp_kernel"
    assert records["order.tsv"]["stages"]["selection"]["policy"] == "clustered-baseline-c2"
    import keras

    keras.models.load_model(results / "featurizer.keras")  # Keras still loads an archive with the record


def test_a_results_tree_copied_from_another_config_is_rebuilt(small_run, tmp_path):
    workdir = tmp_path / "elsewhere"
    shutil.copytree(small_run / "results", workdir / "results")  # without Snakemake's records, times kept
    assert "Nothing to be done" in dry_run(workdir, SMALL)
    changed = copy.deepcopy(SMALL)
    changed["datasets"]["tiny"]["augmentations"]["translate"] = {"shift": 1}
    text = dry_run(workdir, changed)
    assert ("effaug: results/tiny/translate/features.h5: it was made with features.params.shift = 2, but the "
            "configuration gives 1; marked out of date, to be rebuilt") in text
    outputs = re.findall(r"^\s+output: (.*)$", text, re.M)
    assert "results/tiny/translate/features.h5" in outputs
    assert "results/tiny/crop/features.h5" not in outputs  # the other augmentation's files are kept


def test_a_features_file_copied_over_a_finished_run_is_refused_by_its_reader(copied_run):
    results = copied_run / "results/tiny"
    shutil.copyfile(results / "translate/features.h5", results / "crop/features.h5")  # a plain cp: new time
    before = (results / "crop/scores.h5").read_bytes()
    result = snakemake(copied_run, "--cores", "1", "results/tiny/crop/scores.h5")
    assert result.returncode != 0
    log = (copied_run / "results/logs/scores/tiny/crop.log").read_text()
    assert ('results/tiny/crop/features.h5: it was made with features.augmentation = "translate", but the '
            'configuration gives "crop"') in log
    assert "`effaug verify --fix` removes it, and the next run rebuilds it" in log
    assert not (results / "crop/scores.h5").exists() or (results / "crop/scores.h5").read_bytes() == before


def test_a_truncated_store_with_its_old_time_is_rebuilt(copied_run):
    path = copied_run / "results/tiny/task.h5"
    stat = path.stat()
    path.write_bytes(path.read_bytes()[: stat.st_size // 3])
    os.utime(path, ns=(stat.st_atime_ns, stat.st_mtime_ns))  # the time stamp restored
    text = dry_run(copied_run, SMALL)
    assert "effaug: results/tiny/task.h5: cannot read its provenance" in text
    assert "rule task:" in text


def test_verify_lists_bad_files_and_fix_removes_them(copied_run):
    (copied_run / "config.yaml").write_text(yaml.safe_dump(SMALL))
    results = copied_run / "results/tiny/translate"
    budget = results / "loss/rand-prop-update/seed0/budget2.json"
    budget.write_text(budget.read_text()[:40])
    figure = next((results / "figures").glob("*.png"))
    figure.write_bytes(figure.read_bytes()[:100])
    command = [EFFAUG, "verify", "config.yaml"]
    env = workflow_env(copied_run)
    result = subprocess.run(command, capture_output=True, text=True, cwd=copied_run, env=env)
    assert result.returncode == 1, result.stderr
    rel = lambda p: str(p.relative_to(copied_run))
    assert f"BAD {rel(budget)}: cannot be read (JSONDecodeError" in result.stdout
    assert f"BAD {rel(figure)}: cannot be read" in result.stdout
    assert "2 bad" in result.stdout
    fixed = subprocess.run([*command, "--fix"], capture_output=True, text=True, cwd=copied_run, env=env)
    assert fixed.returncode == 0, fixed.stderr
    assert "removed 2 file(s)" in fixed.stdout
    assert not budget.exists() and not figure.exists()
    again = subprocess.run(command, capture_output=True, text=True, cwd=copied_run, env=env)
    assert again.returncode == 0 and " 0 bad" in again.stdout


def test_verify_finds_a_file_made_under_other_settings(copied_run):
    changed = copy.deepcopy(SMALL)
    changed["experiment"]["C"] = 0.5
    (copied_run / "other.yaml").write_text(yaml.safe_dump(changed))
    result = subprocess.run([EFFAUG, "verify", "other.yaml"], capture_output=True, text=True, cwd=copied_run,
                            env=workflow_env(copied_run))
    assert result.returncode == 1
    assert "BAD results/tiny/translate/scores.h5: it was made with scores.C = 1.0, but the configuration gives 0.5" \
        in result.stdout


def test_planning_reads_no_dataset_file(tmp_path):
    """A data file that cannot be read (or a crafted pickle) is not opened by
    `snakemake -n`: the task job checks the data."""
    data = tmp_path / "data" / "mnist"
    data.mkdir(parents=True)
    for name in ("train-images-idx3-ubyte", "train-labels-idx1-ubyte", "t10k-images-idx3-ubyte",
                 "t10k-labels-idx1-ubyte"):
        (data / name).write_bytes(b"not an IDX file")
    config = {"data_root": "data", "datasets": {"idx": {
        "source": "mnist_idx", "path": "mnist", "classes": [3, 8], "n_train": 20,
        "augmentations": {"translate": {"shift": 2}}}},
        "experiment": {"budgets": [2, 5], "summary_fractions": [0.25], "seeds": 1}}
    result = snakemake(tmp_path, "-n", config=config)
    assert result.returncode == 0, result.stderr[-2000:]
    failed = snakemake(tmp_path, "--cores", "1", "results/idx/task.h5", config=config)
    assert failed.returncode != 0
    assert "train-images-idx3-ubyte" in (tmp_path / "results/logs/task/idx.log").read_text()
    assert not (tmp_path / "results/idx/task.h5").exists()
