"""Accuracy against the number of augmented points for one score, the AUCs in the legend -> PNG and PDF."""

import pandas as pd

from effaug import plots
from effaug.metrics import legend_aucs
from effaug.provenance import check_inputs, read_json
from effaug.runtime import job

with job(snakemake.log[0], snakemake.threads, snakemake.config["resources"]["kernels"]):
    check_inputs(snakemake.input, snakemake.params.provenance, partial=True)
    w = snakemake.wildcards
    references = read_json(snakemake.input.references)
    curves = pd.read_csv(snakemake.input.curves, float_precision="round_trip")
    has_curves = ((curves["score"] == w.score) & (curves["policy"] != "vsv")).any()  # not only the VSV point
    figure = plots.accuracy_curves(curves, w.score, references, legend_aucs(curves, w.score) if has_curves else None,
                                   snakemake.params.budget_axis,
                                   title=f"{w.dataset} ({references['n_classes']} classes), {w.augmentation}, "
                                         f"score: {w.score}")
    plots.save(figure, snakemake.output.png, snakemake.output.pdf)
