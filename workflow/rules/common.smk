# Configuration logic: parsed once, checked before any job runs.

import ast
import base64
import functools
import hashlib
import inspect
import os
import re
from pathlib import Path

import numpy as np
from snakemake.common import overwrite_function_params
from snakemake.logging import logger

import effaug
from effaug import datasets as ds
from effaug.augment import AugmentationError, check_custom, is_custom, most_copies, n_transforms
from effaug.cnn import FeaturizerError, FeaturizerSpec, feature_width, resnet_grid
from effaug.multinomial import MAX_FULL_HESSIAN
from effaug.policies import PolicyError, parse_policy
from effaug import provenance as provenance_lib
from effaug.runtime import DEFAULT_KERNELS, pin_kernels
from effaug.scores import ScoreError
from effaug.settings import Settings
from effaug.verify import report_path as verify_report_path

ENV = "../../envs/effaug.yaml"
DATA_ROOT = Path(config["data_root"])
DATASETS = config["datasets"]
EXPERIMENT = config["experiment"]
BUDGETS = sorted(EXPERIMENT["budgets"])
SCORES = EXPERIMENT["scores"]


class ConfigError(ValueError):
    """An invalid configuration value; the message names the key."""


def per_job(function):
    """Mark a function that Snakemake calls for every job (input, params, threads, resources): its
    signature is read here once, not by Snakemake on each call (several per job, thousands of jobs)."""
    overwrite_function_params(function, inspect.signature(function).parameters)
    return function


def parse_policies():
    policies = {}
    for name in EXPERIMENT["policies"]:
        try:
            policies[name] = parse_policy(name)
        except PolicyError as err:
            raise ConfigError(f"experiment.policies: {err}") from None
    return policies


POLICIES = parse_policies()


def names_regex(names, *within):
    """A wildcard constraint matching exactly these names, or those of them in every one of ``within`` (nothing if
    none)."""
    names = [n for n in names if all(n in group for group in within)]
    return "|".join(re.escape(n) for n in names) or "(?!x)x"


NESTED = [name for name, p in POLICIES.items() if p.nested]
UPDATE = [name for name, p in POLICIES.items() if p.update]
KDPP = [name for name, p in POLICIES.items() if p.kind == "kdpp"]
STOCHASTIC = [name for name, p in POLICIES.items() if p.stochastic]
DETERMINISTIC = [name for name, p in POLICIES.items() if not p.stochastic]
SEEDS = list(range(EXPERIMENT["seeds"]))
# the det-* policies: one curve each, all of one (augmentation, score) in one job
DETERMINISTIC_CURVES = [name for name in DETERMINISTIC if name in NESTED or name in UPDATE]
KDPP_BUDGETS = sorted(EXPERIMENT["kdpp"]["budgets"] or BUDGETS)


def policy_budgets(policy):
    """The budgets of a policy's curves: experiment.kdpp.budgets for the k-DPP policies, else experiment.budgets."""
    return KDPP_BUDGETS if POLICIES[policy].kind == "kdpp" else BUDGETS


wildcard_constraints:
    dataset=names_regex(DATASETS),
    augmentation=names_regex(sorted({a for cfg in DATASETS.values() for a in cfg["augmentations"]})),
    source=names_regex(ds.DOWNLOAD_DIRS),
    score=names_regex(["none", *SCORES]),
    policy=names_regex(POLICIES),
    seed=r"\d+",
    budget=r"\d+",


def featurizer_mode(dataset):
    """frozen or retrain: the dataset's own featurizer_mode, else the experiment's."""
    return DATASETS[dataset].get("featurizer_mode") or EXPERIMENT["featurizer_mode"]


@per_job
def mode_of(wildcards):
    return featurizer_mode(wildcards.dataset)


FROZEN = [name for name in DATASETS if featurizer_mode(name) == "frozen"]
RETRAIN = [name for name in DATASETS if featurizer_mode(name) == "retrain"]


def budget_files(budgets):
    """The names of a curve's per-budget result files."""
    return [f"budget{budget}.json" for budget in budgets]


def deterministic_curve_files(names, nested_only=False):
    """Files of the curves of every det-* policy of one (dataset, augmentation, score), policy by policy (only
    the nested policies' with ``nested_only``): the outputs of a ``selection_deterministic`` or
    ``retrain_deterministic`` job."""
    names = [names] if isinstance(names, str) else names
    return [
        f"results/{{dataset}}/{{augmentation}}/{{score}}/{policy}/seed0/{name}"
        for policy in DETERMINISTIC_CURVES
        if policy in NESTED or not nested_only
        for name in names
    ]


def curve_files(names, seeds):
    """Files of the curves of one (dataset, augmentation, score, policy), seed by seed: the outputs of a
    selection or retrain job."""
    names = [names] if isinstance(names, str) else names
    return [
        f"results/{{dataset}}/{{augmentation}}/{{score}}/{{policy}}/seed{seed}/{name}"
        for seed in seeds
        for name in names
    ]


def dataset_path(name):
    """The configured path of a dataset's files, resolved against data_root."""
    cfg = DATASETS[name]
    if not ds.get_source(cfg["source"]).needs_path:
        return None
    return DATA_ROOT / cfg["path"]


def source_options(name):
    """The dataset's source options that are set (null keys take the source's default)."""
    cfg = DATASETS[name]
    return {key: cfg[key] for key in ds.OPTION_KEYS if cfg.get(key) is not None}


def missing_data_message(name, missing):
    source = DATASETS[name]["source"]
    if source not in ds.DOWNLOAD_DIRS:
        return (
            f"datasets.{name}: not found: {', '.join(map(str, missing))}; set datasets.{name}.path "
            f"(relative to data_root={DATA_ROOT}, or absolute) to your {source.replace('_', ' ')}"
        )
    return (
        f"datasets.{name}: data file(s) not found: {', '.join(map(str, missing))}.\n"
        f"Fetch them with `snakemake --cores 1 download` (into {DATA_ROOT / ds.DOWNLOAD_DIRS[source]}) "
        f"and set datasets.{name}.path to that folder, or point data_root / datasets.{name}.path "
        f"at existing {source} files (for example --config data_root=/path/to/data)."
    )


def probe_channels(name):
    """Channels of the dataset's images (a custom augmentation is tried on one)."""
    cfg = DATASETS[name]
    shape = ds.get_source(cfg["source"]).image_shape
    return shape[2] if shape else cfg.get("channels") or 3


def check_featurizer(name):
    key = f"datasets.{name}.featurizer"
    try:
        spec = FeaturizerSpec.from_config(DATASETS[name]["featurizer"])
    except FeaturizerError as err:
        raise ConfigError(f"{key}: {err}") from None
    if not spec.frozen_file:
        check_pool_size(name, spec)
        return
    if not Path(spec.file).is_file():
        raise ConfigError(
            f"{key}.file: {spec.file} not found (relative paths are relative to the working " f"directory {Path.cwd()})"
        )
    if featurizer_mode(name) == "retrain":
        raise ConfigError(
            f"{key}.file: your model is used frozen (its features once), so featurizer_mode "
            "retrain, which trains a new CNN per budget, does not apply; set featurizer_mode: "
            "frozen, or drop file to retrain a built-in architecture"
        )
    if EXPERIMENT["epoch_timing"]["enabled"]:
        raise ConfigError(
            f"{key}.file: epoch timing trains the featurizer, which a frozen model file is not; "
            "set experiment.epoch_timing.enabled: false"
        )


def check_pool_size(name, spec):
    """A resnet_v2 pool_size must fit the last feature map of the dataset's images, where their size is known
    before loading them (the built-in sources, image_size of an image folder)."""
    if spec.architecture != "resnet_v2" or spec.pool_size is None:
        return
    shape = ds.get_source(DATASETS[name]["source"]).image_shape
    hw = tuple(shape[:2]) if shape else DATASETS[name].get("image_size")
    if hw and 0 in resnet_grid(tuple(hw), spec.pool_size):
        last = resnet_grid(tuple(hw), 1)
        raise ConfigError(
            f"datasets.{name}.featurizer.pool_size: {spec.pool_size} is larger than the last feature map "
            f"({last[0]}x{last[1]}) of resnet_v2 on {hw[0]}x{hw[1]} images; use at most {min(last)}, "
            "or null for global average pooling"
        )


def check_config():
    """What the schema cannot say: paths, classes, n_train against the data."""
    for name, cfg in DATASETS.items():
        key = f"datasets.{name}"
        source = cfg["source"]
        try:
            registered = ds.get_source(source)
        except ds.DatasetError as err:
            raise ConfigError(f"{key}.source: {err}") from None
        if registered.needs_path and not cfg["path"]:
            raise ConfigError(f"{key}.path is required for source {source}")
        if not registered.names_from_data:
            try:
                ds.resolve_classes(source, cfg["classes"])
            except ds.DatasetError as err:
                raise ConfigError(f"{key}.classes: {err}") from None
        check_featurizer(name)
        for augmentation, params in cfg["augmentations"].items():
            try:
                if is_custom(augmentation, params):
                    check_custom(params, probe_channels(name))
                else:
                    n_transforms(augmentation, params)
            except AugmentationError as err:
                raise ConfigError(f"{key}.augmentations.{augmentation}: {err}") from None
        try:
            ds.required_files(source, dataset_path(name), source_options(name))
        except ds.DatasetError as err:
            raise ConfigError(f"{key}: {err}") from None
        # Classes, labels and n_train against the data are checked by the task
        # job: nothing reads the dataset's files while the workflow is planned.


def check_experiment():
    """Budgets, summary fractions and policy parameters against every dataset."""
    try:
        settings = Settings.from_config(EXPERIMENT)
        settings.l2
    except (ScoreError, ValueError) as err:
        raise ConfigError(f"experiment.hessian_l2: {err}") from None
    for name, cfg in DATASETS.items():
        n = cfg["n_train"]
        for key, budgets in (("experiment.budgets", BUDGETS), ("experiment.kdpp.budgets", KDPP_BUDGETS)):
            too_big = [b for b in budgets if b > n]
            if too_big:
                raise ConfigError(
                    f"{key}: {too_big} exceed datasets.{name}.n_train={n}; "
                    "a budget is a number of training points to augment"
                )
        for fraction in EXPERIMENT["summary_fractions"]:
            if round(fraction * n) not in BUDGETS:
                raise ConfigError(
                    f"experiment.summary_fractions: {fraction} of datasets.{name}.n_train={n} is "
                    f"{fraction * n:g} points, which is not in experiment.budgets {BUDGETS}"
                )
        z = dataset_sizes(name)
        parameters = (z["d"] + 1) * z["classes"]
        # a model file's d, and classes read from the data, are known once loaded: the scores job checks them
        known = not cfg["featurizer"]["file"] and (
            isinstance(cfg["classes"], list) or not ds.get_source(cfg["source"]).names_from_data
        )
        if known and z["classes"] > 2 and EXPERIMENT["hessian_structure"] == "full" and parameters > MAX_FULL_HESSIAN:
            raise ConfigError(
                f"experiment.hessian_structure: full needs a ({z['d']} + 1) x {z['classes']} = {parameters} square "
                f"Hessian for datasets.{name}, more than {MAX_FULL_HESSIAN}; set experiment.hessian_structure: "
                "block_diagonal (the per-class blocks, an approximation) or use fewer classes"
            )
        for policy in POLICIES.values():
            if policy.kind == "clustered" and policy.clusters > n:
                raise ConfigError(
                    f"experiment.policies: {policy.name} asks for {policy.clusters} clusters "
                    f"but datasets.{name}.n_train={n}"
                )


def pinned_kernels():
    """resources.kernels, applied to this process's environment so that every
    job (local, or Snakemake on a cluster node, which parses this file again)
    loads the same CPU kernels whatever the user's environment says."""
    kernels = {**DEFAULT_KERNELS, **config["resources"]["kernels"]}
    try:
        pin_kernels(kernels)
    except ValueError as err:
        raise ConfigError(str(err)) from None
    return kernels


KERNELS = pinned_kernels()


@functools.cache  # planning calls it once per job (thousands of times)
def featurizer_spec(name):
    return FeaturizerSpec.from_config(DATASETS[name]["featurizer"]).to_dict()


@per_job
def dataset_files(wildcards):
    """Input function: the dataset's raw files, or a clear error if missing."""
    name = wildcards.dataset
    files = ds.required_files(DATASETS[name]["source"], dataset_path(name), source_options(name))
    missing = [f for f in files if not f.exists()]
    if missing:
        raise ConfigError(missing_data_message(name, missing))
    return [str(f) for f in files]


@per_job
def featurizer_training_input(wildcards):
    """A featurizer trains on task.h5 (train_on: subset) or on the raw files (full)."""
    if DATASETS[wildcards.dataset]["featurizer"]["train_on"] == "full":
        return dataset_files(wildcards)
    return [f"results/{wildcards.dataset}/task.h5"]


@per_job
def featurizer_model(wildcards):
    """The features' model: the user's file (featurizer.file) or the trained featurizer."""
    file = DATASETS[wildcards.dataset]["featurizer"]["file"]
    return file if file else f"results/{wildcards.dataset}/featurizer.keras"


@per_job
def augmentation_params(wildcards):
    return DATASETS[wildcards.dataset]["augmentations"][wildcards.augmentation]


@per_job
def featurizer_params(wildcards):
    return featurizer_spec(wildcards.dataset)


def downloadable_sources():
    return sorted({c["source"] for c in DATASETS.values() if c["source"] in ds.DOWNLOAD_DIRS})


def remote_files(source):
    """(urls, md5) per file name of a source, with the config's mirror and checksums applied."""
    mirror = config["download"]["mirror"]
    checksums = config["download"]["checksums"]
    out = {}
    for remote in ds.DOWNLOADS[source]:
        urls = [f"{mirror.rstrip('/')}/{remote.name}"] if mirror else list(remote.urls)
        out[remote.name] = {"urls": urls, "md5": checksums.get(remote.name, remote.md5), "published_md5": remote.md5}
    return out


def check_download():
    """download.mirror fetches over https (http only on this machine), and
    download.checksums names only files that some source downloads."""
    from effaug.datasets.download import check_url

    mirror = config["download"]["mirror"]
    if mirror:
        try:
            check_url(mirror)
        except ds.DatasetError as err:
            raise ConfigError(f"download.mirror: {err}") from None
    known = {remote.name for files in ds.DOWNLOADS.values() for remote in files}
    unknown = sorted(set(config["download"]["checksums"]) - known)
    if unknown:
        raise ConfigError(
            f"download.checksums: {', '.join(unknown)} is not a file of any source's download "
            f"(they are {', '.join(sorted(known))}); a misspelt name would check nothing"
        )


LIBRARY = Path(effaug.__file__).parent
SCRIPTS = Path(workflow.basedir) / "workflow" / "scripts"


@functools.cache
def effaug_imports(path):
    """The effaug modules a Python file imports (anywhere in it)."""
    found = set()
    for node in ast.walk(ast.parse(Path(path).read_text())):
        if isinstance(node, ast.ImportFrom) and node.module and node.module.split(".")[0] == "effaug":
            if node.module == "effaug":
                found |= {alias.name for alias in node.names}
            else:
                found.add(node.module.split(".")[1])
        elif isinstance(node, ast.Import):
            found |= {a.name.split(".")[1] for a in node.names if a.name.startswith("effaug.")}
    return frozenset(m for m in found if module_files(m))


@functools.cache
def module_files(name):
    """The source files of an effaug module or package (all of a package's modules)."""
    if (LIBRARY / f"{name}.py").is_file():
        return (LIBRARY / f"{name}.py",)
    if (LIBRARY / name / "__init__.py").is_file():
        return tuple(sorted((LIBRARY / name).glob("*.py")))
    return ()


@functools.cache
def library_hash(script):
    """A hash of the effaug modules a workflow script uses, transitively. As a
    rule parameter it makes Snakemake re-run the rule's jobs when that code
    changes (Snakemake itself tracks only the script file)."""
    modules, todo = set(), set(effaug_imports(SCRIPTS / f"{script}.py"))
    while todo:
        name = todo.pop()
        modules.add(name)
        for file in module_files(name):
            todo |= effaug_imports(file) - modules
    digest = hashlib.sha256()
    for name in sorted(modules):
        for file in module_files(name):
            digest.update(file.relative_to(LIBRARY).as_posix().encode())
            digest.update(b"\0")
            digest.update(file.read_bytes())
    return f"{','.join(sorted(modules))}:{digest.hexdigest()[:16]}"


SETTING_GROUPS = {
    "fit": ("C", "solver", "tol", "max_iter"),
    "scores": ("C", "solver", "tol", "max_iter", "hessian_l2", "hessian_structure", "svm_C_grid", "svm_folds"),
    "update": ("C", "solver", "tol", "max_iter", "hessian_l2", "hessian_structure", "hessian_sample_weights"),
    "clustered": ("clustered_n_init", "clustered_seed"),
    "kdpp": ("kdpp_feature_scale",),
}


@functools.cache  # planning asks for them once per job (thousands of times)
def experiment_settings():
    return Settings.from_config(EXPERIMENT).__dict__


def settings_for(group):
    """Only the experiment settings a job uses, so that changing one re-runs
    only the jobs that depend on it (a new dict: callers may extend it)."""
    every = experiment_settings()
    return {key: every[key] for key in SETTING_GROUPS[group]}


@per_job
def order_settings(wildcards):
    return settings_for("clustered") if POLICIES[wildcards.policy].kind == "clustered" else {}


@per_job
def selection_settings(wildcards):
    """The settings of a curve (selection or retrain job): the fit's, plus k-means' or Update's where used."""
    policy = POLICIES[wildcards.policy]
    settings = settings_for("update" if policy.update else "fit")
    if policy.kind == "clustered":
        settings.update(settings_for("clustered"))
    return settings


@per_job
def job_policy(wildcards):
    """The policies of a selection job with a policy wildcard: that one."""
    return [wildcards.policy]


@per_job
def selection_settings_by_policy(wildcards):
    """``selection_settings`` of each policy of a selection job."""
    return {
        policy: selection_settings(Wildcards(wildcards.items(), policy=policy))
        for policy in (DETERMINISTIC_CURVES if "policy" not in wildcards.keys() else [wildcards.policy])
    }


def policy_scores(policy):
    """Score-independent policies run once, under the score name ``none``."""
    return SCORES if POLICIES[policy].uses_score else ["none"]


def policy_seeds(policy):
    return SEEDS if POLICIES[policy].stochastic else [0]


def curve_folders(dataset, augmentation):
    """(folder, policy) of every curve of one (dataset, augmentation)."""
    base = f"results/{dataset}/{augmentation}"
    return [
        (f"{base}/{score}/{policy}/seed{seed}", policy)
        for policy, p in POLICIES.items()
        if p.kind != "vsv"
        for score in policy_scores(policy)
        for seed in policy_seeds(policy)
    ]


@per_job
def result_files(wildcards):
    """The curve.json of every curve of one (dataset, augmentation)."""
    return [f"{folder}/curve.json" for folder, _ in curve_folders(wildcards.dataset, wildcards.augmentation)]


@per_job
def missing_budget_files(wildcards):
    """The missing budget files of the finished curves (curve.json exists) of one (dataset, augmentation): a
    budget added to the config, or a budget file deleted, re-runs that curve's job, since Snakemake checks
    only the outputs that something asks for (and the curve.json files are all the tables read)."""
    missing = []
    for folder, policy in curve_folders(wildcards.dataset, wildcards.augmentation):
        if os.path.exists(f"{folder}/curve.json"):
            budgets = (f"{folder}/budget{budget}.json" for budget in policy_budgets(policy))
            missing += [path for path in budgets if not os.path.exists(path)]
    return missing


@per_job
def retrain_inputs(wildcards):
    """In retrain mode the references (CNNs trained on the originals) also need the images."""
    return [f"results/{wildcards.dataset}/task.h5"] if mode_of(wildcards) == "retrain" else []


# ---------------------------------------------------------------------------
# Provenance: the settings that make each cached file, upstream stages
# included (effaug.provenance). Each job gets its expected record as the
# parameter `provenance`, checks its cached inputs against it and writes it
# into its outputs; existing files are checked while the workflow is planned.


@functools.cache
def task_stage(dataset):
    cfg = DATASETS[dataset]
    return {
        "source": cfg["source"],
        "path": str(dataset_path(dataset) or ""),
        "classes": cfg["classes"],
        "n_train": cfg["n_train"],
        "train_subset": cfg["train_subset"],
        "train_subset_seed": cfg["train_subset_seed"],
        "options": source_options(dataset),
    }


@functools.cache
def featurizer_stages(dataset):
    """The stages of featurizer.keras: it trains on the task (subset) or the source's whole split (full)."""
    train_on = DATASETS[dataset]["featurizer"]["train_on"]
    stage = {"spec": featurizer_spec(dataset), "train_on": train_on}
    if train_on == "full":
        task = task_stage(dataset)
        stage["source"] = {key: task[key] for key in ("source", "path", "options")}
        return {"featurizer": stage, "kernels": KERNELS}
    return {"task": task_stage(dataset), "featurizer": stage, "kernels": KERNELS}


@functools.cache
def scores_stages(dataset, augmentation):
    features = {"augmentation": augmentation, "params": DATASETS[dataset]["augmentations"][augmentation]}
    return {
        "task": task_stage(dataset),
        **featurizer_stages(dataset),
        "features": features,
        "scores": settings_for("scores"),
    }


def curve_stage(w, settings):
    return {"score": w.score, "policy": w.policy, "seed": int(w.seed), "settings": settings}


def expected_stages(stage, w):
    """The stages of a file written by ``stage`` for wildcards ``w``."""
    if stage == "task" or (stage == "tables" and "augmentation" not in w.keys()):
        return {"task": task_stage(w.dataset)}
    if stage == "featurizer":
        return featurizer_stages(w.dataset)
    stages = dict(scores_stages(w.dataset, w.augmentation))
    if stage == "features":
        del stages["scores"]
        return stages
    if stage == "scores":
        return stages
    if stage == "references":
        return {**stages, "references": {"settings": settings_for("fit"), "mode": mode_of(w)}}
    if stage == "tables":  # the stages that every curve of an augmentation shares
        return {**stages, "references": {"settings": settings_for("fit"), "mode": mode_of(w)}}
    policy = POLICIES[w.policy]
    if policy.kind == "kdpp":
        stages["kdpp_kernel"] = {
            "score": w.score,
            "policy": w.policy,
            "epsilon": EXPERIMENT["kdpp"]["epsilon"],
            "settings": settings_for("kdpp"),
        }
    if stage == "kdpp_kernel":
        return stages
    if stage == "selection":
        return {**stages, "selection": {**curve_stage(w, selection_settings(w)), "budgets": policy_budgets(w.policy)}}
    if policy.nested:
        stages["order"] = curve_stage(w, order_settings(w))
    if stage == "retrain":
        retrain = curve_stage(w, settings_for("update" if policy.update else "fit"))
        return {**stages, "retrain": {**retrain, "cnn_seed": EXPERIMENT["retrain_seed"]}}
    raise ValueError(f"unknown stage {stage!r}")


def provenance(stage):
    """The parameter `provenance` of a job: the record its outputs carry and its inputs are checked against."""
    return per_job(lambda wildcards: {"stage": stage, "stages": expected_stages(stage, wildcards)})


def curves_provenance(stage, seeds, policies=None):
    """The parameter `provenance` of a job that writes the curves of ``seeds`` of ``policies`` (None: the job's
    own policy wildcard): one record per curve, policy by policy, seed by seed."""
    return per_job(
        lambda wildcards: [
            {
                "stage": stage,
                "stages": expected_stages(stage, Wildcards(wildcards.items(), policy=policy, seed=seed)),
            }
            for policy in (policies or [wildcards.policy])
            for seed in seeds
        ]
    )


class Wildcards(dict):
    """Wildcards of a file path, with attribute access like Snakemake's."""

    __getattr__ = dict.__getitem__


CACHED_FILES = [
    (r"results/(?P<dataset>[^/]+)/task\.h5", lambda w: "task"),
    (r"results/(?P<dataset>[^/]+)/featurizer\.keras", lambda w: "featurizer"),
    (r"results/(?P<dataset>[^/]+)/(?P<augmentation>[^/]+)/features\.h5", lambda w: "features"),
    (r"results/(?P<dataset>[^/]+)/(?P<augmentation>[^/]+)/scores\.h5", lambda w: "scores"),
    (r"results/(?P<dataset>[^/]+)/(?P<augmentation>[^/]+)/references\.json", lambda w: "references"),
    (
        r"results/(?P<dataset>[^/]+)/(?P<augmentation>[^/]+)/(?P<score>[^/]+)/(?P<policy>[^/]+)/kernel\.h5",
        lambda w: "kdpp_kernel",
    ),
    (
        r"results/(?P<dataset>[^/]+)/(?P<augmentation>[^/]+)/(?P<score>[^/]+)/(?P<policy>[^/]+)/seed(?P<seed>\d+)/"
        r"(order\.tsv|budget\d+\.json|curve\.json)",
        lambda w: "selection" if featurizer_mode(w.dataset) == "frozen" else "retrain",
    ),
]


def is_cached_path(path):
    return any(re.fullmatch(pattern, str(path)) for pattern, _ in CACHED_FILES)


def expected_record(path):
    """The stages a cached file of this configuration must carry; None where
    the path is not a cached file of this configuration."""
    for pattern, stage in CACHED_FILES:
        match = re.fullmatch(pattern, str(path))
        if not match:
            continue
        w = Wildcards(match.groupdict())
        known = (
            w.dataset in DATASETS
            and w.get("augmentation", None) in (None, *DATASETS[w.dataset]["augmentations"])
            and w.get("policy", None) in (None, *POLICIES)
            and w.get("score", None) in (None, "none", *SCORES)
        )
        return expected_stages(stage(w), w) if known else None
    return None


def stale_outputs(paths, *, whole_file=False):
    """(path, problem, unreadable) of existing cached files that are
    unreadable, or whose provenance differs from this configuration's
    (``whole_file``: read every byte, not only the record)."""
    found = []
    for path in paths:
        if not os.path.exists(path):
            continue
        stages = expected_record(path)
        try:
            problem = whole_file and provenance_lib.integrity_problem(path)
            if problem:
                found.append((path, problem, True))
                continue
            reason = stages is not None and provenance_lib.mismatch(
                provenance_lib.read_record(path), stages, whole=True
            )
            if reason:
                found.append((path, f"{path}: {reason}", False))
        except provenance_lib.ProvenanceError as err:
            found.append((path, str(err), True))
    return found


def planned_checks():
    """The cached files checked while the workflow is planned: the stage
    files, and the first budget file of each curve (a curve's files are
    written together)."""
    paths = []
    for dataset in DATASETS:
        paths += [f"results/{dataset}/task.h5", f"results/{dataset}/featurizer.keras"]
        for augmentation in augmentations_of(dataset):
            base = f"results/{dataset}/{augmentation}"
            paths += [f"{base}/features.h5", f"{base}/scores.h5", f"{base}/references.json"]
            for policy, p in POLICIES.items():
                if p.kind == "vsv":
                    continue
                for score in policy_scores(policy):
                    paths += [
                        f"{base}/{score}/{policy}/seed{seed}/budget{policy_budgets(policy)[0]}.json"
                        for seed in policy_seeds(policy)
                    ]
    return paths


def snakemake_knows(path):
    """Whether Snakemake holds a metadata record of ``path`` (it was made in
    this directory; its own triggers then see a changed parameter)."""
    directory = os.path.join(".snakemake", "metadata")
    name = base64.urlsafe_b64encode(path.encode()).decode()
    longest = (os.pathconf(directory, "PC_NAME_MAX") if os.path.isdir(directory) else 255) - 1
    parts = [name[i : i + longest] for i in range(0, len(name), longest)]
    return os.path.exists(os.path.join(directory, *[f"@{part}" for part in parts[:-1]], parts[-1]))


def verify_outputs(report_path):
    """`effaug verify`: read every output whole, compare every cached file's
    provenance, and write the findings to ``report_path``."""
    from effaug.verify import output_files, write_report

    files = output_files()
    bad = [(path, problem) for path, problem, _ in stale_outputs(files, whole_file=True)]
    foreign = [f for f in files if is_cached_path(f) and expected_record(f) is None]
    write_report(report_path, len(files), bad, foreign)


OUT_OF_DATE = 1  # the modification time (1970) that makes Snakemake rebuild a file from its inputs


def mark_stale_outputs():
    """Make Snakemake rebuild existing cached files that cannot be read, or
    that were made under other settings and copied in (Snakemake has no
    record of them, so its parameter trigger cannot see it): they are marked
    out of date (modification time 1970), never deleted. In the main process
    only; a file whose record Snakemake holds, if changed by hand, is caught
    by the job that reads it."""
    if not workflow.is_main_process:
        return
    for path, problem, unreadable in stale_outputs(planned_checks()):
        if unreadable or not snakemake_knows(path):
            logger.warning(f"effaug: {problem.split('; ')[0]}; marked out of date, to be rebuilt")
            os.utime(path, (OUT_OF_DATE, OUT_OF_DATE))


# ---------------------------------------------------------------------------
# Threads and resources, from the config and the data size. Estimates are
# generous (a cluster kills jobs that exceed them) and grow with each retry.

# CPU seconds per image and epoch of training at 32x32 (2 threads), measured roughly
SECONDS_PER_IMAGE = {"mnist_cnn": 6e-4, "lenet": 2e-4, "resnet_v2": 3e-4}


# A user's model file: its feature dimension is not known before it is loaded.
FILE_FEATURE_DIM = 2048
# Pixels per image where the size is not known before the data is read.
UNKNOWN_IMAGE_VALUES = 256 * 256 * 3


@functools.cache
def source_counts(dataset):
    """(train images, test images, classes, pixel values per image) of a
    dataset's source, for resource estimates; the test images of a source of
    fixed sizes are its task's classes' share. Sources whose sizes come from
    the data are estimated from the files' sizes on disk: nothing reads a
    dataset file while the workflow is planned."""
    cfg = DATASETS[dataset]
    source = ds.get_source(cfg["source"])
    if source.split_sizes:
        train, test = source.split_sizes
        classes = len(ds.class_names(source.name))
        task_classes = classes if cfg["classes"] == "all" else len(cfg["classes"])
        return train, test * task_classes // classes, classes, int(np.prod(source.image_shape))
    size = cfg.get("image_size")
    pixels = size[0] * size[1] * (cfg.get("channels") or 3) if size else UNKNOWN_IMAGE_VALUES
    images = max(cfg["n_train"], COMPRESSION * stored_bytes(dataset_path(dataset)) // pixels)
    classes = len(cfg["classes"]) if isinstance(cfg["classes"], list) else UNKNOWN_CLASSES
    return images, max(1, images // 4), classes, pixels


# Decoded pixels per stored byte, generously (PNG and JPEG compress images several times).
COMPRESSION = 8
# Classes of a source whose classes are read from the data (classes: all).
UNKNOWN_CLASSES = 10


def stored_bytes(path):
    """Bytes of a dataset's files on disk (their sizes only, not their contents)."""
    if path is None or not path.exists():
        return 0
    if path.is_file():
        return path.stat().st_size
    return sum(entry.stat().st_size for entry in path.rglob("*") if entry.is_file())


def square_side(dataset, pixels):
    """(side, side) of a square image of ``pixels`` values, for resource estimates."""
    side = int(np.sqrt(pixels / probe_channels(dataset)))
    return side, side


def dataset_sizes(dataset, augmentation=None):
    cfg = DATASETS[dataset]
    k = n_transforms(augmentation, cfg["augmentations"][augmentation]) if augmentation else 0
    featurizer = cfg["featurizer"]
    full, m, classes, pixels = source_counts(dataset)
    architecture = featurizer["architecture"]
    return {
        "n": cfg["n_train"],
        "m": m,
        "k": k,
        "pixels": pixels,
        "d": (
            FILE_FEATURE_DIM
            if featurizer["file"]
            else feature_width(architecture, square_side(dataset, pixels), featurizer["pool_size"])
        ),
        "full": full,
        "image_seconds": SECONDS_PER_IMAGE[architecture]
        * (featurizer["depth"] / 20 if architecture == "resnet_v2" else 1)
        * pixels
        / 1024,
        "epochs": featurizer["epochs"],
        "classes": classes if cfg["classes"] == "all" else len(cfg["classes"]),
    }


def features_mb(z):
    return (z["n"] + z["m"]) * (z["k"] + 1) * z["d"] * 4 / 1e6


def estimate(step, wildcards):
    """(mem_mb, runtime in minutes) of one job."""
    if step == "epoch_timing":  # one job per dataset, sized by the augmentation it times
        return _estimate(step, wildcards.dataset, timing_augmentation(wildcards.dataset))
    return _estimate(step, wildcards.dataset, wildcards.get("augmentation"))


@functools.cache  # resources are evaluated several times per job while planning
def _estimate(step, dataset, augmentation):
    z = dataset_sizes(dataset, augmentation)
    z["full_train"] = DATASETS[dataset]["featurizer"]["train_on"] == "full"
    retrain = featurizer_mode(dataset) == "retrain"
    cnn_minutes = lambda images, epochs: images * epochs * z["image_seconds"] * 3 / 60
    if step == "task":
        return 1000 + 3 * z["full"] * z["pixels"] * 2 / 1e6, 15
    if step == "train_featurizer":
        images = z["full"] if z["full_train"] else z["n"]
        return 2000 + 12 * images * z["pixels"] / 1e6, 10 + cnn_minutes(images, z["epochs"])
    if step == "features":
        return 2000 + 2 * features_mb(z), 10 + cnn_minutes((z["n"] + z["m"]) * (z["k"] + 1), 1)
    if step == "epoch_timing":
        return 2000 + 12 * z["n"] * (z["k"] + 1) * z["pixels"] / 1e6, 10 + cnn_minutes(z["n"] * (z["k"] + 1), 6)
    if step in ("scores", "references", "kdpp_kernel"):
        extra = cnn_minutes(2 * z["n"] * (z["k"] + 1), z["epochs"]) if retrain else 0
        # three copies of the (d + 1) K square Hessian (three or more classes), the K x K S_i per point
        hessian_mb = 3 * 8 * ((z["d"] + 1) * z["classes"]) ** 2 / 1e6 if z["classes"] > 2 else 0
        leverage_mb = 8 * z["n"] * z["classes"] ** 2 * 4 / 1e6
        return 1500 + 4 * features_mb(z) + 8 * z["n"] ** 2 * 8 / 1e6 + hessian_mb + leverage_mb, 15 + extra
    if step == "selection":  # frozen mode: every budget of the curves of all seeds in one job; the features,
        # and the test sets once more in float64
        return 800 + 5 * features_mb(z), 10 + len(SEEDS) * len(BUDGETS) * (1 + features_mb(z) / 50)
    if step == "retrain":  # retrain mode: one CNN at a time, on up to every point's copies, and the features
        return 2000 + 12 * z["n"] * (z["k"] + 1) * z["pixels"] / 1e6 + 3 * features_mb(z), None
    return 1000, 10


# MB that a process keeps after each CNN it trained and featurized with, measured over 30 MNIST CNNs (about
# 25 MB each) and 10 ResNet20v2 (about 100 MB each), with room; clear_session() and malloc_trim() do not
# return it. A retrain-mode job trains its curves' CNNs one after another in one process.
RETAINED_MB_PER_CNN = {"mnist_cnn": 40, "lenet": 40, "resnet_v2": 150}


def retrain_mem_mb(curves, budgets):
    """The memory (MB) of a retrain-mode job of ``curves`` curves: one CNN's, plus what every CNN of the job
    leaves behind."""
    return per_job(
        lambda wildcards, attempt: int(
            _retrain_mem_mb(wildcards.dataset, wildcards.augmentation, curves, len(budgets)) * attempt
        )
    )


@functools.cache
def _retrain_mem_mb(dataset, augmentation, curves, n_budgets):
    featurizer = DATASETS[dataset]["featurizer"]
    retained = RETAINED_MB_PER_CNN.get(featurizer["architecture"], 200)
    if featurizer["architecture"] == "resnet_v2":
        retained *= featurizer["depth"] / 20
    return _estimate("retrain", dataset, augmentation)[0] + retained * curves * n_budgets


def retrain_runtime(curves, budgets):
    """The runtime (minutes) of a retrain-mode job of ``curves`` curves: a CNN per budget, on the originals
    and ``budget`` points' copies."""
    return per_job(
        lambda wildcards, attempt: int(
            _retrain_minutes(wildcards.dataset, wildcards.augmentation, curves, tuple(budgets)) * attempt
        )
        + 1
    )


@functools.cache
def _retrain_minutes(dataset, augmentation, curves, budgets):
    z = dataset_sizes(dataset, augmentation)
    images = sum(z["n"] + min(budget, z["n"]) * z["k"] for budget in budgets)
    return 10 + curves * images * z["epochs"] * z["image_seconds"] * 3 / 60


def mem_mb(step):
    return per_job(lambda wildcards, attempt: int(estimate(step, wildcards)[0] * attempt))


def runtime(step):
    return per_job(lambda wildcards, attempt: int(estimate(step, wildcards)[1] * attempt) + 1)


# GPUs of a CNN-training job (config resources.gpu)
GPUS = config["resources"]["gpu"]


@per_job
def featurizer_threads(wildcards):
    """CNN training threads, pinned by the dataset's featurizer.threads."""
    return DATASETS[wildcards.dataset]["featurizer"]["threads"]


@per_job
def linear_algebra_threads(wildcards):
    return config["resources"]["threads"]


@per_job
def reference_threads(wildcards):
    """Frozen mode fits small LRs on one thread (far faster than on more; the full augmentation's fit is
    scores.h5's); retrain mode trains CNNs with the featurizer's threads."""
    return featurizer_threads(wildcards) if mode_of(wildcards) == "retrain" else 1


def timing_budgets(dataset):
    """The numbers of augmented points whose CNN epoch time is measured
    (independent of experiment.budgets, so adding a budget does not re-time)."""
    n = DATASETS[dataset]["n_train"]
    return sorted({round(f * n) for f in EXPERIMENT["epoch_timing"]["fractions"]})


def timing_augmentation(dataset):
    """The augmentation whose copies the epoch timings add: the one with the most copies per point, so the
    timed sizes reach the dataset's largest training set (an epoch's cost depends on the number of images,
    not on the transforms that made them)."""
    return most_copies(DATASETS[dataset]["augmentations"])


def full_augmentation_images(wildcards):
    """{augmentation: the number of training images under full augmentation, n_train (1 + K)}."""
    cfg = DATASETS[wildcards.dataset]
    return {name: cfg["n_train"] * (1 + n_transforms(name, params)) for name, params in cfg["augmentations"].items()}


def augmentations_of(dataset):
    return list(DATASETS[dataset]["augmentations"])


@per_job
def originals_scores(wildcards):
    """The scores of a dataset's original points: those of its first augmentation. They come from the
    originals' features alone (in both featurizer modes), the same in every augmentation's scores.h5."""
    return f"results/{wildcards.dataset}/{augmentations_of(wildcards.dataset)[0]}/scores.h5"


def table_outputs(dataset):
    outs = [f"results/{dataset}/summary.md", f"results/{dataset}/figures/score_histograms.png"]
    outs += [f"results/{dataset}/figures/extremes_{score}.png" for score in SCORES]
    for augmentation in augmentations_of(dataset):
        base = f"results/{dataset}/{augmentation}"
        outs += [f"{base}/curves.csv", f"{base}/figures/before_after.png"]
        for score in SCORES:
            outs += [f"{base}/{score}/auc.md", f"{base}/figures/accuracy_{score}.png"]
    if EXPERIMENT["epoch_timing"]["enabled"]:
        outs.append(f"results/{dataset}/figures/epoch_time.png")
    return outs


def main_figure():
    """(dataset, augmentation, score) of the accuracy figure on the report's landing page: the first dataset
    and augmentation of the config, policies driven by influence where it is scored."""
    dataset = next(iter(DATASETS))
    return dataset, augmentations_of(dataset)[0], "influence" if "influence" in SCORES else SCORES[0]


MAIN_FIGURE = main_figure()
LANDING_TEMPLATE = Path(workflow.basedir, "workflow/report/workflow.rst").read_text()


def landing_page():
    """The report's landing text: the page rule report_landing wrote (with the summaries and the main figure),
    or the bare description while the run has not written it."""
    written = Path("results/report/workflow.rst")
    return str(written.resolve()) if written.exists() else "workflow/report/workflow.rst"


def final_outputs():
    outs = ["results/curves.csv", "results/report/workflow.rst"]
    for name in DATASETS:
        outs += table_outputs(name)
    return outs


# Checked once, while the workflow is parsed, before any job runs.
check_config()
check_experiment()
check_download()
if verify_report_path() and workflow.is_main_process:
    verify_outputs(verify_report_path())
else:
    mark_stale_outputs()
