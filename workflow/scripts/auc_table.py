"""AUC and normalised AUC, mean and std per policy, for one score -> auc.{csv,md,tex}; k-DPP curves on budgets
of their own (experiment.kdpp.budgets) -> auc_kdpp.csv and a section of their own in auc.{md,tex}."""

import pandas as pd

from effaug.metrics import KDPP_AUC_NOTE, auc_table, kdpp_auc_table, readable_auc_table, to_latex, to_markdown
from effaug.runtime import atomic_output, job

with job(snakemake.log[0], snakemake.threads, snakemake.config["resources"]["kernels"]):
    curves = pd.read_csv(snakemake.input.curves, float_precision="round_trip")  # the accuracies as written
    table = auc_table(curves, snakemake.wildcards.score)
    kdpp = kdpp_auc_table(curves, snakemake.wildcards.score)
    with atomic_output(snakemake.output.csv) as tmp:
        table.to_csv(tmp, index=False)
    with atomic_output(snakemake.output.kdpp_csv) as tmp:
        kdpp.to_csv(tmp, index=False)
    readable = readable_auc_table(table)
    markdown, latex = to_markdown(readable), to_latex(readable)
    if len(kdpp):
        markdown += f"\n{KDPP_AUC_NOTE}\n\n{to_markdown(readable_auc_table(kdpp))}"
        latex += f"% {KDPP_AUC_NOTE}\n{to_latex(readable_auc_table(kdpp))}"
    with atomic_output(snakemake.output.markdown) as tmp:
        tmp.write_text(markdown)
    with atomic_output(snakemake.output.latex) as tmp:
        tmp.write_text(latex)
