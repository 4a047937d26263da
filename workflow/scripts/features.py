"""Featurize originals, augmented copies and the poisoned test set."""

from effaug import cnn
from effaug.features import compute_features, write_features
from effaug.provenance import check_inputs, h5_attrs
from effaug.runtime import job
from effaug.task import read_task

with job(snakemake.log[0], snakemake.threads, snakemake.config["resources"]["kernels"],
         skip_teardown=True):  # TensorFlow: no teardown after the outputs are written
    record = check_inputs(snakemake.input, snakemake.params.provenance)
    spec = cnn.FeaturizerSpec(**snakemake.params.featurizer)
    cnn.configure_tensorflow(spec.threads, spec.seed)
    task = read_task(snakemake.input.task)
    if spec.frozen_file:
        extractor = cnn.user_extractor(snakemake.input.model, spec.layer, task.train_images.shape[1:])
    else:
        extractor = cnn.bottleneck(cnn.load(snakemake.input.model))
    fs = compute_features(extractor, task, snakemake.wildcards.augmentation, snakemake.params.augmentation,
                          spec.predict_batch_size, input_range=spec.input_range, preprocessing=spec.preprocessing)
    write_features(snakemake.output.features, fs,
                   {"dataset": snakemake.wildcards.dataset, "featurizer": spec.to_dict(), **h5_attrs(record)})
