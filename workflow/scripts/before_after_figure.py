"""Each point's score without and with full augmentation, against y = x -> PNG and PDF."""

from effaug import plots
from effaug.provenance import check_inputs
from effaug.runtime import job
from effaug.stores import read_arrays

with job(snakemake.log[0], snakemake.threads, snakemake.config["resources"]["kernels"]):
    check_inputs(snakemake.input, snakemake.params.provenance, partial=True)
    w = snakemake.wildcards
    scores, _ = read_arrays(snakemake.input.scores)
    names = [s for s in snakemake.params.scores if s != "svm_margin"] or ["loss", "influence"]
    figure = plots.before_after(scores, names, title=f"{w.dataset}, {w.augmentation}: scores without (x) and with "
                                                     f"(y) full augmentation")
    plots.save(figure, snakemake.output.png, snakemake.output.pdf)
