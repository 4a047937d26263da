"""CNN seconds per epoch against training-set size, timed ``repeats`` times -> epoch_time.tsv (the mean and
standard deviation per size: wall-clock times, different on every run)."""

import pandas as pd

from effaug.cnn import FeaturizerSpec
from effaug.experiment import epoch_timing
from effaug.provenance import check_inputs
from effaug.runtime import atomic_output, job
from effaug.task import read_task

with job(snakemake.log[0], snakemake.threads, snakemake.config["resources"]["kernels"],
         skip_teardown=True):  # TensorFlow: no teardown after the outputs are written
    check_inputs(snakemake.input, snakemake.params.provenance, partial=True)
    p = snakemake.params
    task = read_task(snakemake.input.task)
    rows = epoch_timing(task, p.augmentation, p.augmentation_params, p.budgets, FeaturizerSpec(**p.featurizer),
                        p.repeats)
    timings = (pd.DataFrame(rows).groupby(["augmentation", "budget", "images"], sort=False)["seconds_per_epoch"]
               .agg(seconds_per_epoch_mean="mean", seconds_per_epoch_sd="std", repeats="size").reset_index())
    with atomic_output(snakemake.output.timing) as tmp:
        timings.to_csv(tmp, sep="\t", index=False)
