"""The curves of one job's policies (one policy with all its seeds, or every det-* policy of one score with
seed 0) at every budget -> per curve order.tsv (nested policies), budget<k>.json, curve.json and timings.tsv
(what varies by run: wall-clock seconds, and in retrain mode whether each CNN came from the cache).

Frozen mode refits the logistic regression on the frozen features (at a budget that augments every point without
down-weighting it takes scores.h5's full-augmentation fit, the same set's). Retrain mode trains a CNN per budget on the
originals + the chosen points' copies, featurizes, fits and evaluates; the CNNs are kept in the cache, so a job
run again after an interruption loads the ones it had trained instead of training them again."""

from effaug import experiment as E
from effaug import results_io as R
from effaug.features import read_features
from effaug.policies import parse_policy
from effaug.provenance import check_inputs, make_record
from effaug.runtime import job
from effaug.settings import Settings
from effaug.stores import read_arrays
from effaug.task import read_points, read_task

retrain = snakemake.params.mode == "retrain"
# BLAS results depend on the thread count: pinned by the config, not by --cores
with job(snakemake.log[0], snakemake.params.threads, snakemake.config["resources"]["kernels"],
         skip_teardown=retrain):  # TensorFlow: no teardown after the outputs are written
    w, p, inputs = snakemake.wildcards, snakemake.params, snakemake.input
    curves = [(name, int(seed)) for name in p.policies for seed in p.seeds]  # the order of p.provenance
    # one record per curve; they differ only in the curve's own stage, so the inputs are checked once
    records = [check_inputs(inputs, p.provenance[0])]
    records += [make_record(expected["stage"], expected["stages"]) for expected in p.provenance[1:]]
    fs = read_features(inputs.features)
    required = ["model/theta"] if retrain else ["model/theta", "full_augmentation/model/theta"]
    scores, _ = read_arrays(inputs.scores, required)
    kdpp = any(parse_policy(name).kind == "kdpp" for name in p.policies)  # a *_kdpp job: one policy
    kernel = read_arrays(inputs.kernel, ["eigenvalues", "eigenvectors"])[0] if kdpp else None
    if retrain:
        task = read_task(inputs.task)
        names = task.train_names
        context = {"library": p.library, "kernels": p.kernels, "task": E.task_digest(task)}
        cache = f"results/{w.dataset}/{w.augmentation}/retrain_cache"  # not a param: it triggers no re-run
        test_augmented = E.augmented_test_set(task, w.augmentation, p.augmentation)  # the same for every CNN
    else:
        names = read_points(inputs.task)[3]
    outputs = R.files_by_curve(snakemake.output)
    for (name, seed), record in zip(curves, records):
        policy, settings = parse_policy(name), Settings(**p.settings[name])
        files = outputs[(name, seed)]
        values = scores[w.score] if policy.uses_score else None
        order = None
        if policy.nested:
            order = E.static_order(policy, values, fs.train, seed, settings, w.score)
            R.write_order(files["order.tsv"], order, values, names, record)
        if retrain:
            retrained = E.cached_retraining(cache, context, task, w.augmentation, p.augmentation, p.featurizer,
                                            snakemake.config["experiment"]["retrain_seed"], name, seed,
                                            test_augmented)
            curve = E.retrain_curve(policy, scores, w.score, seed, p.budgets, settings, retrained, order, kernel)
        else:
            curve = E.frozen_curve(policy, fs, scores, w.score, seed, p.budgets, settings, order, kernel,
                                   scores["full_augmentation/model/theta"])
        fields = dict(dataset=w.dataset, augmentation=w.augmentation, score=w.score, policy=name, seed=seed,
                      featurizer_mode=p.mode)
        R.write_curve_files(files, curve, fields, names, record)
