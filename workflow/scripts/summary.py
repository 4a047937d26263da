"""Summary of one dataset over its augmentations -> summary.{csv,md,tex}."""

import pandas as pd

from effaug.metrics import summary_table, to_latex, to_markdown
from effaug.provenance import check_inputs, read_json
from effaug.runtime import atomic_output, job

with job(snakemake.log[0], snakemake.threads, snakemake.config["resources"]["kernels"]):
    check_inputs(snakemake.input, snakemake.params.provenance, partial=True)
    curves = pd.concat([pd.read_csv(p, float_precision="round_trip") for p in snakemake.input.curves])
    references = {}
    for path in snakemake.input.references:
        refs = read_json(path)
        references[refs["augmentation"]] = refs
    table = summary_table(curves, references, snakemake.params.fractions, snakemake.params.n_train)
    with atomic_output(snakemake.output.csv) as tmp:
        table.to_csv(tmp, index=False)
    task = next(iter(references.values()))
    classes = f"{task['n_classes']} classes: {', '.join(task['class_names'])}"
    with atomic_output(snakemake.output.markdown) as tmp:
        tmp.write_text(f"{snakemake.wildcards.dataset}, {classes}\n\n{to_markdown(table)}")
    with atomic_output(snakemake.output.latex) as tmp:
        tmp.write_text(f"% {snakemake.wildcards.dataset}, {classes}\n{to_latex(table)}")
