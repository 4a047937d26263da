"""The 10 highest- and 10 lowest-scoring training images -> PNG and PDF."""

from effaug import plots
from effaug.features import read_arrays, read_task
from effaug.provenance import check_inputs
from effaug.runtime import job

with job(snakemake.log[0], snakemake.threads, snakemake.config["resources"]["kernels"]):
    check_inputs(snakemake.input, snakemake.params.provenance, partial=True)
    score = snakemake.wildcards.score
    scores, _ = read_arrays(snakemake.input.scores, [score])
    task = read_task(snakemake.input.data)
    plots.save(plots.extremes(task.train_images, task.train_labels, task.class_names, scores[score], score),
               snakemake.output.png, snakemake.output.pdf)
