"""Accuracy against the number of augmented points for one score -> PNG and PDF."""

import json
from pathlib import Path

import pandas as pd

from effaug import plots
from effaug.runtime import job

with job(snakemake.log[0], snakemake.threads, snakemake.config["resources"]["kernels"]):
    w = snakemake.wildcards
    references = json.loads(Path(snakemake.input.references).read_text())
    figure = plots.accuracy_curves(pd.read_csv(snakemake.input.curves), w.score, references,
                                   title=f"{w.dataset} ({references['n_classes']} classes), {w.augmentation}, "
                                         f"score: {w.score}")
    plots.save(figure, snakemake.output.png, snakemake.output.pdf)
