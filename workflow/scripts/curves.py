"""Every curve point of one (dataset, augmentation) -> curves.csv."""

from effaug.metrics import collect_curves
from effaug.provenance import check_inputs
from effaug.runtime import atomic_output, job

with job(snakemake.log[0], snakemake.threads, snakemake.config["resources"]["kernels"]):
    check_inputs(snakemake.input, snakemake.params.provenance, partial=True)
    table = collect_curves(snakemake.input.results, snakemake.input.references, snakemake.params.scores,
                           snakemake.params.policies)
    with atomic_output(snakemake.output.curves) as tmp:
        table.to_csv(tmp, index=False)  # floats as repr: they read back exactly (float_precision="round_trip")
