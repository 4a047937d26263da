"""Summary of one dataset over its augmentations -> summary.{csv,md,tex}."""

import json
from pathlib import Path

import pandas as pd

from effaug.metrics import summary_table, to_latex, to_markdown
from effaug.runtime import job

with job(snakemake.log[0], snakemake.threads, snakemake.config["resources"]["kernels"]):
    curves = pd.concat([pd.read_csv(p) for p in snakemake.input.curves])
    references = {}
    for path in snakemake.input.references:
        refs = json.loads(Path(path).read_text())
        references[refs["augmentation"]] = refs
    table = summary_table(curves, references, snakemake.params.fractions, snakemake.params.n_train)
    table.to_csv(snakemake.output.csv, index=False)
    task = next(iter(references.values()))
    classes = f"{task['n_classes']} classes: {', '.join(task['class_names'])}"
    Path(snakemake.output.markdown).write_text(f"{snakemake.wildcards.dataset}, {classes}\n\n{to_markdown(table)}")
    Path(snakemake.output.latex).write_text(f"% {snakemake.wildcards.dataset}, {classes}\n{to_latex(table)}")
