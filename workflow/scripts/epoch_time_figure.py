"""Seconds per CNN epoch against training-set size -> PNG and PDF."""

import pandas as pd

from effaug import plots
from effaug.runtime import job

with job(snakemake.log[0], snakemake.threads, snakemake.config["resources"]["kernels"]):
    timings = pd.read_csv(snakemake.input.timing, sep="\t")
    plots.save(plots.epoch_time(timings, snakemake.params.full_augmentation, title=snakemake.wildcards.dataset),
               snakemake.output.png, snakemake.output.pdf)
