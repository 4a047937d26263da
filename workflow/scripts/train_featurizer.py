"""Train the dataset's featurizer CNN; save it with its per-epoch history and (apart) its seconds per epoch.
With featurizer.resume, an interrupted training resumes from the checkpoint of its last finished epoch."""

import shutil

from effaug import cnn
from effaug.provenance import check_inputs
from effaug.runtime import job

with job(snakemake.log[0], snakemake.threads, snakemake.config["resources"]["kernels"],
         skip_teardown=True):  # TensorFlow: no teardown after the outputs are written
    p = snakemake.params
    record = check_inputs(snakemake.input, snakemake.params.provenance)
    spec = cnn.FeaturizerSpec(**p.featurizer)
    images, labels = cnn.training_data(p.train_on, snakemake.input[0], p.source, p.path or None, p.options)
    model, history = cnn.train(images, labels, spec, p.checkpoint_dir if spec.resume else None)
    cnn.save(model, history, snakemake.output.model, snakemake.output.history, snakemake.output.timings,
             record)
    shutil.rmtree(p.checkpoint_dir, ignore_errors=True)  # kept only while the model is not saved
