"""Eigendecomposition of a k-DPP kernel over the originals -> kernel.h5."""

import numpy as np

from effaug.features import read_features
from effaug.policies import check_finite, kdpp_kernel, parse_policy
from effaug.provenance import check_inputs, h5_attrs
from effaug.runtime import job
from effaug.settings import Settings
from effaug.stores import read_arrays, write_arrays

# BLAS results depend on the thread count: pinned by the config, not by --cores
with job(snakemake.log[0], snakemake.params.threads, snakemake.config["resources"]["kernels"]):
    w = snakemake.wildcards
    record = check_inputs(snakemake.input, snakemake.params.provenance)
    policy = parse_policy(w.policy)
    quality = read_arrays(snakemake.input.scores, [w.score])[0][w.score] if policy.uses_score else None
    if quality is not None:
        quality = check_finite(quality, w.score)
    feature_scale = Settings(**snakemake.params.settings).kdpp_feature_scale
    L = kdpp_kernel(read_features(snakemake.input.features).train, quality, snakemake.params.epsilon, feature_scale)
    eigenvalues, eigenvectors = np.linalg.eigh(L)
    write_arrays(snakemake.output.kernel, {"eigenvalues": eigenvalues, "eigenvectors": eigenvectors},
                 {"epsilon": snakemake.params.epsilon, "feature_scale": feature_scale, **h5_attrs(record)})
