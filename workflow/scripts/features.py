"""Featurize originals, augmented copies and the poisoned test set."""

from effaug import cnn
from effaug.features import compute_features, read_task, write_features
from effaug.runtime import job

with job(snakemake.log[0], snakemake.threads, snakemake.config["resources"]["kernels"]):
    spec = cnn.FeaturizerSpec(**snakemake.params.featurizer)
    cnn.configure_tensorflow(spec.threads, spec.seed)
    fs = compute_features(
        cnn.load(snakemake.input.model),
        read_task(snakemake.input.data),
        snakemake.wildcards.augmentation,
        snakemake.params.augmentation,
        spec.predict_batch_size,
    )
    write_features(snakemake.output.features, fs,
                   {"dataset": snakemake.wildcards.dataset, "featurizer": spec.to_dict()})
