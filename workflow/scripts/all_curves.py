"""All curve points of the run in one long table -> results/curves.csv."""

import pandas as pd

from effaug.runtime import atomic_output, job

with job(snakemake.log[0], snakemake.threads, snakemake.config["resources"]["kernels"]):
    # round-trip parsing: every float is the one written, so the rows are the per-augmentation ones, bit for bit
    table = pd.concat([pd.read_csv(p, float_precision="round_trip") for p in snakemake.input.curves])
    with atomic_output(snakemake.output.curves) as tmp:
        table.to_csv(tmp, index=False)
