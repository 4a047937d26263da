"""All curve points of the run in one long table -> results/curves.csv."""

import pandas as pd

from effaug.runtime import job

with job(snakemake.log[0], snakemake.threads, snakemake.config["resources"]["kernels"]):
    pd.concat([pd.read_csv(p) for p in snakemake.input.curves]).to_csv(snakemake.output.curves, index=False)
