"""Histograms of the scores of the training points -> PNG and PDF, once per dataset: the scores of the
originals come from the features of the originals, the same whatever the augmentation."""

from effaug import plots
from effaug.provenance import check_inputs
from effaug.runtime import job
from effaug.stores import read_arrays

with job(snakemake.log[0], snakemake.threads, snakemake.config["resources"]["kernels"]):
    check_inputs(snakemake.input, snakemake.params.provenance, partial=True)
    scores, _ = read_arrays(snakemake.input.scores)
    names = [s for s in snakemake.params.scores if s != "svm_margin"] or ["loss", "influence"]
    plots.save(plots.score_histograms(scores, names, title=snakemake.wildcards.dataset), snakemake.output.png,
               snakemake.output.pdf)
