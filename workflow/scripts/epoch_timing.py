"""CNN seconds per epoch against training-set size -> epoch_time.tsv."""

import pandas as pd

from effaug.cnn import FeaturizerSpec
from effaug.experiment import epoch_timing
from effaug.features import read_task
from effaug.provenance import check_inputs
from effaug.runtime import atomic_output, job

with job(snakemake.log[0], snakemake.threads, snakemake.config["resources"]["kernels"]):
    check_inputs(snakemake.input, snakemake.params.provenance, partial=True)
    p = snakemake.params
    rows = epoch_timing(read_task(snakemake.input.data), snakemake.wildcards.augmentation, p.augmentation,
                        p.budgets, FeaturizerSpec(**p.featurizer), p.epochs)
    with atomic_output(snakemake.output.timing) as tmp:
        pd.DataFrame(rows).to_csv(tmp, sep="\t", index=False)
