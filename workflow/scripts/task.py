"""Cut the task (two or more classes) from a source and write data.h5."""

from effaug import datasets as ds
from effaug.features import write_task
from effaug.runtime import job

with job(snakemake.log[0], snakemake.threads, snakemake.config["resources"]["kernels"]):
    p = snakemake.params
    task = ds.make_task(p.source, p.path or None, p.classes, p.n_train, p.train_subset, p.train_subset_seed,
                        p.options)
    write_task(
        snakemake.output.data,
        task,
        {"dataset": snakemake.wildcards.dataset, "source": p.source, "path": p.path,
         "n_train": p.n_train, "train_subset": p.train_subset, "train_subset_seed": p.train_subset_seed,
         "options": p.options},
    )
