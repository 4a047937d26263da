"""Frozen mode: one (score, policy), the curves of its seeds at every budget -> per curve order.tsv (nested
policies), budget<k>.json and timings.tsv (the fits' wall-clock seconds)."""

from effaug import experiment as E
from effaug import results_io as R
from effaug.features import read_features
from effaug.policies import parse_policy
from effaug.provenance import check_inputs, make_record
from effaug.runtime import job
from effaug.settings import Settings
from effaug.stores import read_arrays
from effaug.task import read_points


def per_seed(files, n_seeds):
    """A rule's list of output files, seed-major, split into one list per seed."""
    files = [files] if isinstance(files, str) else list(files)
    size = len(files) // n_seeds
    return [files[i * size : (i + 1) * size] for i in range(n_seeds)]


# BLAS results depend on the thread count: pinned by the config, not by --cores
with job(snakemake.log[0], snakemake.params.threads, snakemake.config["resources"]["kernels"]):
    w, p, inputs, outputs = snakemake.wildcards, snakemake.params, snakemake.input, snakemake.output
    # one record per seed; the seeds differ only in their own stage, so the inputs are checked once
    records = [check_inputs(inputs, p.provenance[0])]
    records += [make_record(expected["stage"], expected["stages"]) for expected in p.provenance[1:]]
    policy, seeds = parse_policy(w.policy), [int(seed) for seed in p.seeds]
    settings = Settings(**p.settings)
    fs = read_features(inputs.features)
    names = read_points(inputs.task)[3]
    scores, _ = read_arrays(inputs.scores, ["model/theta"])
    kernel = read_arrays(inputs.kernel, ["eigenvalues", "eigenvectors"])[0] if policy.kind == "kdpp" else None
    values = scores[w.score] if policy.uses_score else None
    orders = per_seed(outputs.order, len(seeds)) if policy.nested else [None] * len(seeds)
    results = per_seed(outputs.results, len(seeds))
    timings = per_seed(outputs.timings, len(seeds))
    for seed, record, order_file, result_files, (timings_file,) in zip(seeds, records, orders, results, timings):
        order = None
        if policy.nested:
            order = E.static_order(policy, values, fs.train, seed, settings, w.score)
            R.write_order(order_file[0], order, values, names, record)
        curve = E.frozen_curve(policy, fs, scores, w.score, seed, p.budgets, settings, order, kernel)
        seconds = [R.pop_timings(result) for result in curve]  # wall-clock seconds: in timings.tsv only
        for result, path in zip(curve, result_files):
            result.update(dataset=w.dataset, augmentation=w.augmentation, score=w.score, policy=w.policy,
                          seed=seed, featurizer_mode="frozen")
            R.write_json(path, R.name_points(result, names), record)
        R.write_timings(timings_file, seconds)
