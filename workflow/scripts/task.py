"""Cut the task from a source and write task.h5.

The first job of a dataset: it is where the classes, labels and n_train are
checked against the data (nothing reads the data while the workflow is planned)."""

from effaug import datasets as ds
from effaug.provenance import check_inputs, h5_attrs
from effaug.runtime import job
from effaug.task import make_task, write_task

with job(snakemake.log[0], snakemake.threads, snakemake.config["resources"]["kernels"]):
    p = snakemake.params
    record = check_inputs(snakemake.input, p.provenance)
    try:
        task = make_task(p.source, p.path or None, p.classes, p.n_train, p.train_subset, p.train_subset_seed,
                         p.options)
    except ds.DatasetError as err:
        raise ds.DatasetError(f"datasets.{snakemake.wildcards.dataset}: {err}") from None
    write_task(
        snakemake.output.task,
        task,
        {"dataset": snakemake.wildcards.dataset, "source": p.source, "path": p.path,
         "n_train": p.n_train, "train_subset": p.train_subset, "train_subset_seed": p.train_subset_seed,
         "options": p.options, **h5_attrs(record)},
    )
