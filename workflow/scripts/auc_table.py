"""AUC and normalised AUC, mean and std per policy, for one score -> auc.{csv,md,tex}."""

import pandas as pd

from effaug.metrics import auc_table, readable_auc_table, to_latex, to_markdown
from effaug.runtime import atomic_output, job

with job(snakemake.log[0], snakemake.threads, snakemake.config["resources"]["kernels"]):
    curves = pd.read_csv(snakemake.input.curves, float_precision="round_trip")  # the accuracies as written
    table = auc_table(curves, snakemake.wildcards.score)
    with atomic_output(snakemake.output.csv) as tmp:
        table.to_csv(tmp, index=False)
    readable = readable_auc_table(table)
    with atomic_output(snakemake.output.markdown) as tmp:
        tmp.write_text(to_markdown(readable))
    with atomic_output(snakemake.output.latex) as tmp:
        tmp.write_text(to_latex(readable))
