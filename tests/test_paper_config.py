"""config/paper.yaml and config/paper-offline.yaml: valid, and the paper's grid plans with all three datasets."""

from __future__ import annotations

import re

import yaml

from tests.conftest import REPO, write_paper_fixtures
from tests.test_workflow import snakemake


def job_counts(stdout: str) -> dict[str, int]:
    table = stdout[stdout.index("Job stats:"):]
    return {m[1]: int(m[2]) for m in re.finditer(r"^(\w+)\s+(\d+)$", table, re.M)}


def test_paper_config_plans_the_whole_grid_with_all_three_datasets(tmp_path):
    write_paper_fixtures(tmp_path / "data")
    config = yaml.safe_load((REPO / "config/paper.yaml").read_text())
    config["data_root"] = "data"
    result = snakemake(tmp_path, "-n", "--quiet", "rules", config=config)
    assert result.returncode == 0, result.stderr[-3000:]
    jobs = job_counts(result.stdout)
    # 4 dataset entries (MNIST twice: frozen and retrain), 3 augmentations each
    assert jobs["task"] == 4 and jobs["train_featurizer"] == 4 and jobs["features"] == 12
    assert jobs["scores"] == 12 and jobs["references"] == 12
    # k-DPP kernels per (dataset, augmentation): kdpp-influence per score, kdpp-bottleneck once
    assert jobs["kdpp_kernel"] == 12 * 3
    # frozen datasets (mnist_3v8, cifar10, smallnorb): one selection job per (score, policy) holds all its
    # seeds: baseline; rand-prop, rand-prop-down, rand-inverse-prop 2 scores; clustered-baseline 8 c;
    # clustered-rand-prop 8 c x 2 scores
    per_augmentation = 1 + 3 * 2 + 8 + 8 * 2
    frozen = 3 * 3
    assert jobs["selection"] == frozen * per_augmentation
    # one job per score computes every det-* curve (3 nested, 3 Update)
    assert jobs["selection_deterministic"] == frozen * 2 and "selection_update_deterministic" not in jobs
    # Update chains: 2 rand, 2 scores
    assert jobs["selection_update"] == frozen * 2 * 2
    assert jobs["selection_kdpp"] == frozen * 3
    # the retrain dataset (mnist_3v8_retrain): the same jobs, each training a CNN per curve and budget
    retrain = 3
    assert jobs["retrain"] == retrain * per_augmentation and "order" not in jobs
    assert jobs["retrain_deterministic"] == retrain * 2
    assert jobs["retrain_update"] == retrain * 2 * 2
    assert jobs["retrain_kdpp"] == retrain * 3
    assert jobs["summary"] == 4 and jobs["auc_table"] == 12 * 2


def test_paper_configs_validate_and_dry_run_offline(tmp_path):
    write_paper_fixtures(tmp_path / "data")
    for name in ("paper-offline.yaml",):
        config = yaml.safe_load((REPO / "config" / name).read_text())
        # the offline config reads DATA_DIR; point it at fixtures in the same layout
        (tmp_path / "data" / "cifar-10-airplane-automobile").mkdir(parents=True, exist_ok=True)
        (tmp_path / "data" / "cifar10" / "cifar-10-python.tar.gz").rename(
            tmp_path / "data" / "cifar-10-airplane-automobile" / "cifar-10-python.tar.gz")
        config["data_root"] = "data"
        result = snakemake(tmp_path, "-n", "--quiet", "rules", config=config)
        assert result.returncode == 0, result.stderr[-3000:]
        jobs = job_counts(result.stdout)
        # MNIST 3 vs 8 and three CIFAR-10 featurizers (the CPU-sized one, the authors' recipe, with shifts and flips)
        assert jobs["train_featurizer"] == 4 and jobs["features"] == 12


def test_retrain_configs_plan_their_curve_jobs(tmp_path):
    write_paper_fixtures(tmp_path / "data")
    expected = {
        # Baseline, Rand Prop (one job each), Det Prop (the det-* job); one seed
        "paper-offline-retrain.yaml": {"retrain": 2, "retrain_deterministic": 1, "retrain_update": 0},
        # Baseline, Rand Prop, Rand Prop Update (5 seeds each); Det Prop and Det Prop Update (seed 0) in one
        # job: Table 1's row
        "paper-offline-retrain-table1.yaml": {"retrain": 2, "retrain_deterministic": 1, "retrain_update": 1},
    }
    for name, counts in expected.items():
        config = yaml.safe_load((REPO / "config" / name).read_text())
        config["data_root"] = "data"
        result = snakemake(tmp_path, "-n", "--quiet", "rules", config=config)
        assert result.returncode == 0, result.stderr[-3000:]
        jobs = job_counts(result.stdout)
        assert {rule: jobs.get(rule, 0) for rule in counts} == counts, name


def test_ten_class_examples_validate_and_plan_their_grids(tmp_path):
    write_paper_fixtures(tmp_path / "data")
    config = yaml.safe_load((REPO / "config/examples/mnist-10class.yaml").read_text())
    config["data_root"] = "data"
    result = snakemake(tmp_path, "-n", "--quiet", "rules", config=config)
    assert result.returncode == 0, result.stderr[-3000:]
    jobs = job_counts(result.stdout)
    assert jobs["task"] == 1 and jobs["features"] == 3 and jobs["scores"] == 3
    # per augmentation, one job per (score, policy): baseline; rand-prop, rand-prop-down, rand-inverse-prop
    # 2 scores; Update chains 2 rand, 2 scores; one job per score for the 6 det-* policies
    assert jobs["selection"] == 3 * (1 + 3 * 2) and jobs["selection_deterministic"] == 3 * 2
    assert jobs["selection_update"] == 3 * 2 * 2
    embedded = yaml.safe_load((REPO / "config/examples/mnist-10class-embedded.yaml").read_text())
    result = snakemake(tmp_path, "-n", "--quiet", "rules", config=embedded)
    assert result.returncode == 0, result.stderr[-3000:]
    # baseline; rand-prop and rand-inverse-prop 2 scores (3 seeds each); det-prop and det-inverse-prop: one job
    # per score
    jobs = job_counts(result.stdout)
    assert jobs["selection"] == 1 + 2 * 2 and jobs["selection_deterministic"] == 2


def test_retrain_jobs_ask_for_the_memory_their_cnns_leave_behind(tmp_path):
    """A retrain job trains its curves' CNNs in one process, which keeps about 25 MB per MNIST CNN (measured
    over 30; about 1.2 GB after the first): a job of 40 CNNs must ask for more than one of 16."""
    write_paper_fixtures(tmp_path / "data")
    config = yaml.safe_load((REPO / "config/paper-offline-retrain-table1.yaml").read_text())
    config["data_root"] = "data"
    result = snakemake(tmp_path, "-n", config=config)
    assert result.returncode == 0, result.stderr[-3000:]
    budgets = len(config["experiment"]["budgets"])
    asked = {}
    for block in re.split(r"\n(?=(?:local)?rule \w+:\n)", result.stdout + result.stderr):
        rule = re.match(r"(?:local)?rule (retrain\w*):", block)
        if rule:
            policy = re.search(r"policy=([\w-]+)", block)
            asked[policy[1] if policy else rule[1]] = int(re.search(r"mem_mb=(\d+)", block)[1])
    # Baseline, Rand Prop, Rand Prop Update: 5 seeds; the det-* job: Det Prop and Det Prop Update, seed 0
    cnns = {"baseline": 5 * budgets, "rand-prop": 5 * budgets, "rand-prop-update": 5 * budgets,
            "retrain_deterministic": 2 * budgets}
    assert set(asked) == set(cnns)
    for job, count in cnns.items():
        assert asked[job] >= 1200 + 25 * count, (job, asked[job])
    assert asked["baseline"] > asked["retrain_deterministic"]
