"""Retrain mode, one budget of one (score, policy, seed): choose, train a CNN on
the originals + the chosen points' copies, featurize, fit, evaluate -> budget<k>.json and timings<k>.tsv."""

import numpy as np

from effaug import experiment as E
from effaug import results_io as R
from effaug.cnn import FeaturizerSpec
from effaug.policies import parse_policy
from effaug.provenance import check_inputs, h5_attrs
from effaug.runtime import job
from effaug.settings import Settings
from effaug.stores import read_arrays, write_arrays
from effaug.task import read_task

# BLAS results depend on the thread count: pinned by the config, not by --cores
with job(snakemake.log[0], snakemake.params.threads, snakemake.config["resources"]["kernels"],
         skip_teardown=True):  # TensorFlow: no teardown after the outputs are written
    w, p, inputs = snakemake.wildcards, snakemake.params, snakemake.input
    record = check_inputs(snakemake.input, snakemake.params.provenance)
    policy, seed, budget = parse_policy(w.policy), int(w.seed), int(w.budget)
    settings = Settings(**p.settings)
    scores, _ = read_arrays(inputs.scores, ["model/theta"])
    if policy.nested:
        chosen = R.read_order(inputs.order)[:budget]
    elif policy.kind == "kdpp":
        kernel, _ = read_arrays(inputs.kernel, ["eigenvalues", "eigenvectors"])
        chosen = E.kdpp_choice(policy, kernel["eigenvalues"], kernel["eigenvectors"], budget, seed)
    else:  # Update: continue from the state after the previous budget
        if inputs.previous:
            state, _ = read_arrays(inputs.previous[0], ["chosen", "scores"])
            chosen, current = state["chosen"], state["scores"]
        else:
            chosen, current = np.empty(0, np.int64), scores[w.score]
        chosen = E.update_choice(policy, current, chosen, budget, seed, w.score)
    mode = snakemake.config["experiment"]["retrain_seed"]
    cnn_seed = E.retrain_cnn_seed(mode, p.featurizer["seed"], w.policy, seed, budget, chosen)
    spec = FeaturizerSpec(**{**p.featurizer, "seed": cnn_seed})
    task = read_task(inputs.task)
    trained_on, shared = chosen, False
    if mode == "per_set":  # the CNN of a set and seed, trained once: the rows in index order
        trained_on = np.sort(chosen)
        context = {"library": p.library, "kernels": p.kernels, "task": E.task_digest(task)}
        cache = f"results/{w.dataset}/{w.augmentation}/retrain_cache"  # not a param: it triggers no re-run
        features, shared = E.shared_retrained_features(cache, context, task, w.augmentation, p.augmentation,
                                                       trained_on, spec)
    else:
        features = E.retrained_features(task, w.augmentation, p.augmentation, chosen, spec)
    result, model, rows = E.run_budget(features, trained_on, policy, settings)
    result["points"] = [int(i) for i in chosen]  # in the order chosen
    if policy.update:
        svm_C = float(scores["svm/C"]) if "svm/C" in scores else None
        new_scores = E.rescore(w.score, model, features, rows, settings, svm_C)
        write_arrays(snakemake.output.state, {"chosen": chosen, "scores": new_scores}, h5_attrs(record))
    result.update(dataset=w.dataset, augmentation=w.augmentation, score=w.score, policy=w.policy,
                  seed=seed, budget=budget, featurizer_mode="retrain", cnn_seed=cnn_seed,
                  **features.extra)
    timings = {**R.pop_timings(result), "cnn_shared": shared}  # which job trained a shared CNN varies by run
    R.write_timings(snakemake.output.timings, [timings])  # wall-clock seconds: not in the result
    R.write_json(snakemake.output.result, R.name_points(result, task.train_names), record)
