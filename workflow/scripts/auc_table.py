"""AUC mean and std per policy for one score -> auc.{csv,md,tex}."""

from pathlib import Path

import pandas as pd

from effaug.metrics import auc_table, to_latex, to_markdown
from effaug.runtime import job

with job(snakemake.log[0], snakemake.threads, snakemake.config["resources"]["kernels"]):
    table = auc_table(pd.read_csv(snakemake.input.curves), snakemake.wildcards.score)
    table.to_csv(snakemake.output.csv, index=False)
    Path(snakemake.output.markdown).write_text(to_markdown(table))
    Path(snakemake.output.latex).write_text(to_latex(table))
