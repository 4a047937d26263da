"""The 10 highest- and 10 lowest-scoring training images -> PNG and PDF, once per dataset (the scores of the
originals do not depend on the augmentation)."""

from effaug import plots
from effaug.provenance import check_inputs
from effaug.runtime import job
from effaug.stores import read_arrays
from effaug.task import read_task

with job(snakemake.log[0], snakemake.threads, snakemake.config["resources"]["kernels"]):
    check_inputs(snakemake.input, snakemake.params.provenance, partial=True)
    w = snakemake.wildcards
    scores, _ = read_arrays(snakemake.input.scores, [w.score])
    task = read_task(snakemake.input.task)
    plots.save(plots.extremes(task.train_images, task.train_labels, task.class_names, scores[w.score], w.score,
                              title=w.dataset),
               snakemake.output.png, snakemake.output.pdf)
