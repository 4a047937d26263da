"""Frozen mode: one (score, policy, seed) at every budget -> order.tsv (nested policies), budget<k>.json
and timings.tsv (the fits' wall-clock seconds)."""

from effaug import experiment as E
from effaug import results_io as R
from effaug.features import read_features
from effaug.policies import parse_policy
from effaug.provenance import check_inputs
from effaug.runtime import job
from effaug.settings import Settings
from effaug.stores import read_arrays
from effaug.task import read_points

# BLAS results depend on the thread count: pinned by the config, not by --cores
with job(snakemake.log[0], snakemake.params.threads, snakemake.config["resources"]["kernels"]):
    w, p, inputs, outputs = snakemake.wildcards, snakemake.params, snakemake.input, snakemake.output
    record = check_inputs(snakemake.input, snakemake.params.provenance)
    policy, seed = parse_policy(w.policy), int(w.seed)
    settings = Settings(**p.settings)
    fs = read_features(inputs.features)
    names = read_points(inputs.task)[3]
    scores, _ = read_arrays(inputs.scores, ["model/theta"])
    order = kernel = None
    if policy.nested:
        values = scores[w.score] if policy.uses_score else None
        order = E.static_order(policy, values, fs.train, seed, settings, w.score)
        R.write_order(outputs.order, order, values, names, record)
    elif policy.kind == "kdpp":
        kernel, _ = read_arrays(inputs.kernel, ["eigenvalues", "eigenvectors"])
    results = E.frozen_curve(policy, fs, scores, w.score, seed, p.budgets, settings, order, kernel)
    timings = [R.pop_timings(result) for result in results]  # wall-clock seconds: in timings.tsv only
    for result, path in zip(results, outputs.results):
        result.update(dataset=w.dataset, augmentation=w.augmentation, score=w.score, policy=w.policy,
                      seed=seed, featurizer_mode="frozen")
        R.write_json(path, R.name_points(result, names), record)
    R.write_timings(outputs.timings, timings)
