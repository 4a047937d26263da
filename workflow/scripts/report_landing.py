"""The report's landing page -> results/report/workflow.rst (what the run did, summaries, main figure)."""

from pathlib import Path

import jinja2
import pandas as pd

from effaug.metrics import SUMMARY_NOTE, readable_summary_table
from effaug.report import protect_from_jinja, results_section
from effaug.runtime import atomic_output, job

with job(snakemake.log[0], snakemake.threads, snakemake.config["resources"]["kernels"]):
    template = jinja2.Environment(trim_blocks=True, lstrip_blocks=True).from_string(snakemake.params.template_text)
    intro = template.render(snakemake=snakemake, finished=True)
    summaries = {
        dataset: readable_summary_table(pd.read_csv(path, float_precision="round_trip"), snakemake.params.fractions)
        for dataset, path in zip(snakemake.params.datasets, snakemake.input.summaries)
    }
    figure = Path(snakemake.input.figure).read_bytes()
    results = results_section(summaries, figure, snakemake.params.figure_caption, SUMMARY_NOTE)
    with atomic_output(snakemake.output.rst) as tmp:
        tmp.write_text(protect_from_jinja(intro + "\n" + results))
