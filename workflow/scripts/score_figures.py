"""Score histograms and the before/after full-augmentation scatter -> PNG and PDF."""

from effaug import plots
from effaug.features import read_arrays
from effaug.provenance import check_inputs
from effaug.runtime import job

with job(snakemake.log[0], snakemake.threads, snakemake.config["resources"]["kernels"]):
    check_inputs(snakemake.input, snakemake.params.provenance, partial=True)
    scores, _ = read_arrays(snakemake.input.scores)
    names = [s for s in snakemake.params.scores if s != "svm_margin"] or ["loss", "influence"]
    plots.save(plots.score_histograms(scores, names), snakemake.output.histograms, snakemake.output.histograms_pdf)
    plots.save(plots.before_after(scores, names), snakemake.output.before_after, snakemake.output.before_after_pdf)
