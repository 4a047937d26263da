"""Summary of one dataset over its augmentations -> summary.csv (column names as in docs/method.md) and
summary.{md,tex} (readable headers, and how "best" is chosen)."""

import pandas as pd

from effaug.metrics import SUMMARY_NOTE, readable_summary_table, summary_table, to_latex, to_markdown
from effaug.provenance import check_inputs, read_json
from effaug.runtime import atomic_output, job

with job(snakemake.log[0], snakemake.threads, snakemake.config["resources"]["kernels"]):
    check_inputs(snakemake.input, snakemake.params.provenance, partial=True)
    curves = pd.concat([pd.read_csv(p, float_precision="round_trip") for p in snakemake.input.curves])
    references = {}
    for path in snakemake.input.references:
        refs = read_json(path)
        references[refs["augmentation"]] = refs
    fractions = snakemake.params.fractions
    table = summary_table(curves, references, fractions, snakemake.params.n_train)
    with atomic_output(snakemake.output.csv) as tmp:
        table.to_csv(tmp, index=False)
    task = next(iter(references.values()))
    classes = f"{task['n_classes']} classes: {', '.join(task['class_names'])}"
    readable = readable_summary_table(table, fractions)
    with atomic_output(snakemake.output.markdown) as tmp:
        tmp.write_text(f"{snakemake.wildcards.dataset}, {classes}\n\n{to_markdown(readable)}\n{SUMMARY_NOTE}\n")
    with atomic_output(snakemake.output.latex) as tmp:
        tmp.write_text(f"% {snakemake.wildcards.dataset}, {classes}\n% {SUMMARY_NOTE}\n{to_latex(readable)}")
