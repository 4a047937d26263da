"""No-augmentation, full-augmentation and VSV accuracies -> references.json."""

from functools import partial

from effaug import experiment as E
from effaug.features import read_features
from effaug.provenance import check_inputs
from effaug.results_io import write_json
from effaug.runtime import job
from effaug.settings import Settings
from effaug.stores import read_arrays
from effaug.task import read_task

# BLAS results depend on the thread count: pinned by the config, not by --cores
with job(snakemake.log[0], snakemake.params.threads, snakemake.config["resources"]["kernels"],
         skip_teardown=True):  # TensorFlow: no teardown after the outputs are written
    p, w = snakemake.params, snakemake.wildcards
    record = check_inputs(snakemake.input, snakemake.params.provenance)
    settings = Settings(**p.settings)
    fs = read_features(snakemake.input.features)
    full_augmentation = None
    if p.mode == "frozen":  # the full augmentation's fit is scores.h5's, as at every curve's all-points budget
        scores, _ = read_arrays(snakemake.input.scores, ["support_vectors", "model/theta",
                                                         "full_augmentation/model/theta"])
        features_for, warm_start = partial(E.frozen_features, fs), scores["model/theta"]
        full_augmentation = scores["full_augmentation/model/theta"]
    else:
        from effaug.cnn import FeaturizerSpec

        scores, _ = read_arrays(snakemake.input.scores, ["support_vectors"])
        task = read_task(snakemake.input.task[0])
        spec = FeaturizerSpec(**p.featurizer)
        features_for = partial(E.retrained_features, task, w.augmentation, p.augmentation, spec=spec)
        warm_start = None
    result = E.references(features_for, len(fs.train), fs.n_transforms, scores["support_vectors"], settings,
                          warm_start, full_augmentation)
    result.update(dataset=w.dataset, augmentation=w.augmentation, featurizer_mode=p.mode,
                  n_classes=fs.n_classes, class_names=fs.class_names)
    write_json(snakemake.output.references, result, record)
