"""Retrain mode: the curves of one job's policies (one policy with all its seeds, or every det-* policy of one
score with seed 0). Per budget a CNN trained on the originals + the chosen points' copies, featurize, fit,
evaluate -> per curve order.tsv (nested policies), budget<k>.json, curve.json and timings.tsv (wall-clock
seconds, and whether each CNN came from the cache). The CNNs are kept in the cache, so a job run again after
an interruption loads the ones it had trained instead of training them again."""

from effaug import experiment as E
from effaug import results_io as R
from effaug.features import read_features
from effaug.policies import parse_policy
from effaug.provenance import check_inputs, make_record
from effaug.runtime import job
from effaug.settings import Settings
from effaug.stores import read_arrays
from effaug.task import read_task

# BLAS results depend on the thread count: pinned by the config, not by --cores
with job(snakemake.log[0], snakemake.params.threads, snakemake.config["resources"]["kernels"],
         skip_teardown=True):  # TensorFlow: no teardown after the outputs are written
    w, p, inputs = snakemake.wildcards, snakemake.params, snakemake.input
    curves = [(name, int(seed)) for name in p.policies for seed in p.seeds]  # the order of p.provenance
    # one record per curve; they differ only in the curve's own stage, so the inputs are checked once
    records = [check_inputs(inputs, p.provenance[0])]
    records += [make_record(expected["stage"], expected["stages"]) for expected in p.provenance[1:]]
    task = read_task(inputs.task)
    train_features = read_features(inputs.features).train  # the clustered policies' k-means
    scores, _ = read_arrays(inputs.scores, ["model/theta"])
    kdpp = any(parse_policy(name).kind == "kdpp" for name in p.policies)  # a retrain_kdpp job: one policy
    kernel = read_arrays(inputs.kernel, ["eigenvalues", "eigenvectors"])[0] if kdpp else None
    mode = snakemake.config["experiment"]["retrain_seed"]
    context = {"library": p.library, "kernels": p.kernels, "task": E.task_digest(task)}
    cache = f"results/{w.dataset}/{w.augmentation}/retrain_cache"  # not a param: it triggers no re-run
    outputs = R.files_by_curve(snakemake.output)
    for (name, seed), record in zip(curves, records):
        policy, settings = parse_policy(name), Settings(**p.settings[name])
        files = outputs[(name, seed)]
        values = scores[w.score] if policy.uses_score else None
        order = None
        if policy.nested:
            order = E.static_order(policy, values, train_features, seed, settings, w.score)
            R.write_order(files["order.tsv"], order, values, task.train_names, record)
        retrained = E.cached_retraining(cache, context, task, w.augmentation, p.augmentation, p.featurizer, mode,
                                        name, seed)
        curve = E.retrain_curve(policy, scores, w.score, seed, p.budgets, settings, retrained, order, kernel)
        timings = [R.pop_timings(result) for result in curve]  # vary by run: in timings.tsv only
        for result, budget in zip(curve, p.budgets):
            result.update(dataset=w.dataset, augmentation=w.augmentation, score=w.score, policy=name, seed=seed,
                          featurizer_mode="retrain")
            R.write_json(files[f"budget{budget}.json"], R.name_points(result, task.train_names), record)
        R.write_curve(files["curve.json"], curve, record)
        R.write_timings(files["timings.tsv"], timings)
