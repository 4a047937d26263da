"""Every curve point of one (dataset, augmentation) -> curves.csv."""

from effaug.metrics import collect_curves
from effaug.runtime import job

with job(snakemake.log[0], snakemake.threads, snakemake.config["resources"]["kernels"]):
    table = collect_curves(snakemake.input.results, snakemake.input.references, snakemake.params.scores,
                           snakemake.params.policies)
    table.to_csv(snakemake.output.curves, index=False)
