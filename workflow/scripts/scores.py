"""Scores of the originals (and under full augmentation) -> scores.h5."""

from effaug.experiment import compute_scores
from effaug.features import read_features
from effaug.provenance import check_inputs, h5_attrs
from effaug.runtime import job
from effaug.settings import Settings
from effaug.stores import write_arrays

# BLAS results depend on the thread count: pinned by the config, not by --cores
with job(snakemake.log[0], snakemake.params.threads, snakemake.config["resources"]["kernels"]):
    record = check_inputs(snakemake.input, snakemake.params.provenance)
    settings = Settings(**snakemake.params.settings)
    arrays = compute_scores(read_features(snakemake.input.features), settings)
    write_arrays(snakemake.output.scores, arrays, {"settings": settings.__dict__, "hessian_l2": settings.l2,
                                                   **h5_attrs(record)})
