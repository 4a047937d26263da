import json
from functools import partial

import numpy as np
import pandas as pd
import pytest

from effaug import experiment as E
from effaug import metrics as M
from effaug import policies as P
from effaug import results_io as R
from effaug import scores as S
from effaug.features import FeatureSet
from effaug.settings import Settings


def feature_set(n=60, k=3, m=40, d=4, seed=0):
    """A small real FeatureSet: Gaussian classes; copies are jittered originals."""
    rng = np.random.default_rng(seed)
    y = (np.arange(n) % 2).astype(np.uint8)
    train = rng.normal(size=(n, d)) + (y[:, None] - 0.5) * 1.5
    augmented = np.repeat(train, k, axis=0) + 0.3 * rng.normal(size=(n * k, d))
    yt = (np.arange(m) % 2).astype(np.uint8)
    test = rng.normal(size=(m, d)) + (yt[:, None] - 0.5) * 1.5
    test_aug = np.repeat(test, k, axis=0) + 0.3 * rng.normal(size=(m * k, d))
    return FeatureSet(
        train=train.astype(np.float32), train_labels=y, augmented=augmented.astype(np.float32),
        augmented_source=np.repeat(np.arange(n), k), augmented_transform=np.tile(np.arange(k), n),
        test=test.astype(np.float32), test_labels=yt,
        poisoned_test=np.concatenate([test, test_aug]).astype(np.float32),
        poisoned_test_labels=np.concatenate([yt, np.repeat(yt, k)]),
        poisoned_test_source=np.concatenate([np.arange(m), np.repeat(np.arange(m), k)]),
        poisoned_test_transform=np.concatenate([np.full(m, -1), np.tile(np.arange(k), m)]),
        attrs={"n_transforms": k},
    )


SETTINGS = Settings()


def test_training_set_appends_the_chosen_copies_with_down_weights():
    fs = feature_set()
    chosen = np.array([5, 2])
    features = E.frozen_features(fs, chosen)
    rows = E.training_set(features, chosen, down=True)
    assert rows.X.shape == (60 + 6, 4)
    np.testing.assert_array_equal(rows.X[60:63], fs.augmented[15:18])
    np.testing.assert_array_equal(rows.X[63:66], fs.augmented[6:9])
    np.testing.assert_array_equal(rows.y[60:], [fs.train_labels[5]] * 3 + [fs.train_labels[2]] * 3)
    assert rows.weights[5] + rows.weights[60:63].sum() == pytest.approx(1.0)


def test_run_budget_reports_rows_points_and_accuracy():
    fs = feature_set()
    policy = P.parse_policy("det-prop")
    result, model, rows = E.run_budget(E.frozen_features(fs, np.arange(10)), np.arange(10), policy, SETTINGS)
    assert result["rows"] == 60 + 30 and result["augmented_points"] == 10
    assert result["points"] == list(range(10))
    assert 0.5 < result["accuracy"] <= 1 and 0.5 < result["clean_accuracy"] <= 1
    assert result["accuracy"] == model.accuracy(fs.poisoned_test, fs.poisoned_test_labels)


def test_compute_scores_and_references():
    fs = feature_set()
    scores = E.compute_scores(fs, SETTINGS)
    for name in ("loss", "influence", "newton_loo", "gradient_norm", "leverage", "svm_margin"):
        assert scores[name].shape == (60,) and (scores[name] >= 0).all()
        if name != "svm_margin":
            assert scores[f"full_augmentation/{name}"].shape == (60,)
    assert scores["support_vectors"].dtype == bool and scores["support_vectors"].any()
    refs = E.references(partial(E.frozen_features, fs), 60, 3, scores["support_vectors"], SETTINGS,
                        scores["model/theta"])
    assert refs["n_support_vectors"] == scores["support_vectors"].sum()
    for key in ("no_augmentation_accuracy", "full_augmentation_accuracy", "vsv_accuracy"):
        assert 0 <= refs[key] <= 1


def test_update_rescoring_changes_the_scores_and_skips_chosen_points():
    fs = feature_set()
    policy = P.parse_policy("det-prop-update")
    initial = E.compute_scores(fs, SETTINGS, svm=False)["influence"]
    chosen = E.update_choice(policy, initial, np.empty(0, np.int64), 5, 0)
    np.testing.assert_array_equal(chosen, P.deterministic_order(initial)[:5])
    features = E.frozen_features(fs, chosen)
    _, model, rows = E.run_budget(features, chosen, policy, SETTINGS)
    rescored = E.rescore("influence", model, features, rows, SETTINGS)
    assert rescored.shape == (60,) and not np.allclose(rescored, initial)
    more = E.update_choice(policy, rescored, chosen, 9, 0)
    np.testing.assert_array_equal(more[:5], chosen)
    assert len(set(more)) == 9


def test_order_file_roundtrip(tmp_path):
    order = np.array([3, 0, 2, 1])
    R.write_order(tmp_path / "order.tsv", order, np.array([0.1, 0.2, 0.3, 0.4]))
    np.testing.assert_array_equal(R.read_order(tmp_path / "order.tsv"), order)
    (tmp_path / "bad.tsv").write_text("nope\n")
    with pytest.raises(ValueError, match="bad.tsv: not an order file"):
        R.read_order(tmp_path / "bad.tsv")


def test_curve_auc_is_the_trapezoid_rule():
    assert M.curve_auc(np.array([0, 1, 10]), np.array([0.5, 0.5, 1.0])) == pytest.approx(0.5 + 9 * 0.75)
    assert M.curve_auc(np.array([10, 0, 1]), np.array([1.0, 0.5, 0.5])) == pytest.approx(7.25)
    budgets = np.array([0, 1, 10, 50, 100, 250, 500, 750, 1000])
    assert M.curve_auc(budgets, np.ones(9)) == pytest.approx(1000.0)


def write_results(tmp_path):
    refs = {"dataset": "d", "augmentation": "a", "n_train": 100, "n_transforms": 4,
            "no_augmentation_accuracy": 0.5, "no_augmentation_clean_accuracy": 0.6,
            "full_augmentation_accuracy": 0.9, "full_augmentation_clean_accuracy": 0.95,
            "vsv_accuracy": 0.8, "vsv_clean_accuracy": 0.85, "n_support_vectors": 7}
    (tmp_path / "refs.json").write_text(json.dumps(refs))
    paths = []
    values = {("none", "baseline", 0): [0.6, 0.7], ("none", "baseline", 1): [0.6, 0.8],
              ("loss", "det-prop", 0): [0.7, 0.9]}
    for (score, policy, seed), accs in values.items():
        for budget, acc in zip([5, 10], accs):
            path = tmp_path / f"{score}-{policy}-{seed}-{budget}.json"
            path.write_text(json.dumps({"dataset": "d", "augmentation": "a", "score": score, "policy": policy,
                                        "seed": seed, "budget": budget, "accuracy": acc, "clean_accuracy": acc,
                                        "rows": 100, "fit_seconds": 0.1, "n_iter": 5}))
            paths.append(path)
    return paths, refs


def test_curves_auc_and_summary_tables(tmp_path):
    paths, refs = write_results(tmp_path)
    curves = M.collect_curves(paths, tmp_path / "refs.json", ["loss", "influence"], ["baseline", "det-prop", "vsv"])
    assert list(curves.columns) == M.CURVE_COLUMNS and "fit_seconds" not in curves  # no wall-clock field
    # Baseline (score none) appears under both scores; every curve starts at x=0 with the no-aug accuracy
    assert set(curves[curves["policy"] == "baseline"]["score"]) == {"loss", "influence"}
    zero = curves[curves["budget"] == 0]
    assert (zero["accuracy"] == 0.5).all() and len(zero) == 2 * 2 + 1
    vsv = curves[curves["policy"] == "vsv"]
    assert list(vsv["budget"]) == [7, 7] and list(vsv["rows"]) == [128, 128]
    table = M.auc_table(curves, "loss")
    assert list(table["label"]) == ["Det Prop", "Baseline"]  # sorted by mean AUC
    baseline_aucs = [M.curve_auc(np.array([0, 5, 10]), np.array([0.5, 0.6, a])) for a in (0.7, 0.8)]
    row = table[table["policy"] == "baseline"].iloc[0]
    assert row["auc_mean"] == pytest.approx(np.mean(baseline_aucs))
    assert row["auc_std"] == pytest.approx(np.std(baseline_aucs, ddof=1))
    assert np.isnan(table[table["policy"] == "det-prop"]["auc_std"].iloc[0])
    summary = M.summary_table(curves, {"a": refs}, [0.05, 0.1], 100)
    row = summary.iloc[0]
    assert row["baseline_0.05"] == pytest.approx(0.6) and row["baseline_0.1"] == pytest.approx(0.75)
    assert row["best_0.1"] == pytest.approx(0.9) and row["best_0.1_policy"] == "Det Prop (loss)"
    assert row["full_augmentation"] == 0.9 and row["n_support_vectors"] == 7
    assert "Det Prop" in M.to_markdown(table) and "\\begin{tabular}" in M.to_latex(table)


def test_curve_files_give_the_curves_table_of_their_budget_files(tmp_path):
    paths, _ = write_results(tmp_path)
    results = [json.loads(path.read_text()) for path in paths]
    curve_paths = []
    for key in sorted({(r["score"], r["policy"], r["seed"]) for r in results}):
        curve = [{**r, "points": [1, 2]} for r in results if (r["score"], r["policy"], r["seed"]) == key]
        curve_paths.append(tmp_path / f"{'-'.join(map(str, key))}-curve.json")
        R.write_curve(curve_paths[-1], curve, {"stage": "selection"})
    written = json.loads(curve_paths[0].read_text())
    assert written["provenance"] == {"stage": "selection"} and "points" not in written["curve"][0]
    args = (tmp_path / "refs.json", ["loss", "influence"], ["baseline", "det-prop", "vsv"])
    pd.testing.assert_frame_equal(M.collect_curves(curve_paths, *args), M.collect_curves(paths, *args))


def test_frozen_budget_jobs_import_neither_tensorflow_nor_sklearn():
    import subprocess
    import sys

    from tests.conftest import REPO

    code = ("import sys; from effaug import experiment, features, policies, results_io, runtime, scores, settings, "
            "stores, task; "
            "heavy = [m for m in ('tensorflow', 'keras', 'sklearn', 'imgaug') if m in sys.modules]; "
            "print(heavy); sys.exit(1 if heavy else 0)")
    result = subprocess.run([sys.executable, "-c", code], cwd=REPO, capture_output=True, text=True)
    assert result.returncode == 0, result.stdout + result.stderr


def order_and_kernel(policy, fs, scores, seed):
    """What frozen_curve needs besides the scores: a nested policy's influence order, a k-DPP's kernel."""
    order = E.static_order(policy, scores["influence"], fs.train, seed, SETTINGS) if policy.nested else None
    kernel = None
    if policy.kind == "kdpp":
        eigenvalues, eigenvectors = np.linalg.eigh(P.kdpp_kernel(fs.train, scores["influence"]))
        kernel = {"eigenvalues": eigenvalues, "eigenvectors": eigenvectors}
    return order, kernel


@pytest.mark.parametrize("name", ["rand-prop-down", "rand-prop-update-down", "kdpp-influence"])
def test_frozen_curve_equals_one_run_budget_per_budget(name):
    """One selection job per curve gives the bits of one job per budget (chain state round-tripped)."""
    fs = feature_set()
    policy = P.parse_policy(name)
    scores = E.compute_scores(fs, SETTINGS)
    budgets = [1, 5, 20, 60]
    order, kernel = order_and_kernel(policy, fs, scores, 3)
    curve = E.frozen_curve(policy, fs, scores, "influence", 3, budgets, SETTINGS, order, kernel,
                           scores["full_augmentation/model/theta"])
    chosen, current, theta = np.empty(0, np.int64), scores["influence"], scores["model/theta"]
    for budget, together in zip(budgets, curve):
        if policy.nested:
            chosen = order[:budget]
        elif policy.kind == "kdpp":
            chosen = E.kdpp_choice(policy, kernel["eigenvalues"], kernel["eigenvectors"], budget, 3)
        else:
            chosen = E.update_choice(policy, current.copy(), chosen.copy(), budget, 3)
        features = E.frozen_features(fs, chosen)
        full = None  # the all-points budget of a policy without down-weighting: the full augmentation's fit
        if E.augments_every_point(chosen, len(fs.train)) and not policy.down:
            full = S.model_from_theta(scores["full_augmentation/model/theta"], 2, SETTINGS.C)
        alone, model, rows = E.run_budget(features, chosen, policy, SETTINGS, theta, full)
        theta = model.theta  # each budget's fit starts from the one before
        if policy.update:
            current = E.rescore("influence", model, features, rows, SETTINGS, float(scores["svm/C"]))
        alone.pop("fit_seconds")
        assert together["budget"] == budget and len(together["points"]) == budget
        assert {k: v for k, v in together.items() if k not in ("fit_seconds", "budget")} == alone


@pytest.mark.parametrize("name", ["rand-prop", "det-prop-update", "kdpp-influence", "rand-prop-down"])
def test_a_curve_that_augments_every_point_ends_at_the_full_augmentation_reference(name):
    """Without down-weighting, the all-points budget is the full augmentation's training set (in the policy's
    row order): given scores.h5's full-augmentation fit, it takes that model instead of fitting the same
    minimiser again; a down-weighted one is another problem and fits, and so does any curve not given it."""
    fs = feature_set()
    policy = P.parse_policy(name)
    scores = E.compute_scores(fs, SETTINGS)
    full = scores["full_augmentation/model/theta"]
    order, kernel = order_and_kernel(policy, fs, scores, 1)
    curve = E.frozen_curve(policy, fs, scores, "influence", 1, [5, 60], SETTINGS, order, kernel, full)
    unshared = E.frozen_curve(policy, fs, scores, "influence", 1, [5, 60], SETTINGS, order, kernel)
    last = curve[-1]
    assert sorted(last["points"]) == list(range(60)) and last["rows"] == 60 * 4
    assert unshared[-1]["points"] == last["points"] and unshared[-1]["n_iter"] > 0
    refit, model, _ = E.run_budget(E.frozen_features(fs, np.array(last["points"])), np.array(last["points"]),
                                   policy, SETTINGS)
    if policy.down:
        assert last == unshared[-1] | {"fit_seconds": last["fit_seconds"]}  # its own fit, as without ``full``
        return
    assert last["n_iter"] == 0 and last["fit_seconds"] == 0 and curve[0]["n_iter"] > 0
    assert last["accuracy"] == unshared[-1]["accuracy"] == refit["accuracy"]
    assert last["clean_accuracy"] == refit["clean_accuracy"]
    # the same minimiser: a fit of the curve's own rows lands on scores.h5's full-augmentation fit
    np.testing.assert_allclose(model.theta, full, rtol=1e-9, atol=1e-12)
    # and the model the curve reports is that theta's: another theta there, another accuracy
    other = E.frozen_curve(policy, fs, scores, "influence", 1, [5, 60], SETTINGS, order, kernel,
                           scores["model/theta"])[-1]
    originals = S.model_from_theta(scores["model/theta"], 2, SETTINGS.C)
    assert other["accuracy"] == originals.accuracy(fs.poisoned_test, fs.poisoned_test_labels) != last["accuracy"]


def test_references_evaluate_a_given_full_augmentation_fit_instead_of_fitting_it(monkeypatch):
    fs = feature_set()
    scores = E.compute_scores(fs, SETTINGS)
    fits = []
    real = E.fit
    monkeypatch.setattr(E, "fit", lambda *args: fits.append(len(args[0].X)) or real(*args))
    features_for = partial(E.frozen_features, fs)
    refitted = E.references(features_for, 60, 3, scores["support_vectors"], SETTINGS, scores["model/theta"])
    assert 60 * 4 in fits and len(fits) == 3
    fits.clear()
    given = E.references(features_for, 60, 3, scores["support_vectors"], SETTINGS, scores["model/theta"],
                         scores["full_augmentation/model/theta"])
    assert 60 * 4 not in fits and len(fits) == 2
    assert given == refitted  # the same minimiser, the same accuracies
    originals = E.references(features_for, 60, 3, scores["support_vectors"], SETTINGS, scores["model/theta"],
                             scores["model/theta"])  # another theta: its accuracy is the one reported
    model = S.model_from_theta(scores["model/theta"], 2, SETTINGS.C)
    assert originals["full_augmentation_accuracy"] == model.accuracy(fs.poisoned_test, fs.poisoned_test_labels)
    assert originals["full_augmentation_accuracy"] != given["full_augmentation_accuracy"]


def test_an_update_curve_rescores_after_every_budget_but_the_last(monkeypatch):
    fs = feature_set()
    scores = E.compute_scores(fs, SETTINGS)
    rescored = []
    real = E.rescore
    monkeypatch.setattr(E, "rescore", lambda *args: rescored.append(1) or real(*args))
    curve = E.frozen_curve(P.parse_policy("rand-prop-update"), fs, scores, "influence", 0, [5, 1, 20], SETTINGS)
    assert [row["budget"] for row in curve] == [1, 5, 20] and len(rescored) == 2


def test_order_and_budget_results_name_files(tmp_path):
    order = np.array([2, 0, 1])
    names = ("a/0.png", "a/1.png", "b/0.png")
    R.write_order(tmp_path / "order.tsv", order, None, names)
    lines = (tmp_path / "order.tsv").read_text().splitlines()
    assert lines[0] == "rank\tpoint\tscore\tpath" and lines[1] == "0\t2\t\tb/0.png"
    np.testing.assert_array_equal(R.read_order(tmp_path / "order.tsv"), order)
    assert R.name_points({"points": [2, 1]}, names)["paths"] == ["b/0.png", "a/1.png"]
    assert "paths" not in R.name_points({"points": [2, 1]}, None)


def test_timings_leave_the_budget_result(tmp_path):
    fs = feature_set()
    result, _, _ = E.run_budget(E.frozen_features(fs, np.arange(3)), np.arange(3), P.parse_policy("det-prop"),
                                SETTINGS)
    result.update(budget=3, cnn_seconds=1.5)
    timing = R.pop_timings(result)
    assert not set(R.TIMINGS) & set(result) and result["budget"] == 3
    assert list(timing) == ["budget", "rows", "fit_seconds", "cnn_seconds"] and timing["rows"] == result["rows"]
    R.write_timings(tmp_path / "timings.tsv", [timing, {**timing, "budget": 4}])
    table = pd.read_csv(tmp_path / "timings.tsv", sep="\t", float_precision="round_trip")
    assert list(table["budget"]) == [3, 4] and table["fit_seconds"].iloc[0] == timing["fit_seconds"] > 0


def test_kmeans_runs_on_one_thread_whatever_the_job_s_threads(monkeypatch):
    # scikit-learn's k-means sums per-thread partial results: its bits depend on the thread count, and a
    # retrain job runs with the featurizer's threads; the clustered orders must match the frozen jobs'
    from sklearn.cluster import KMeans
    from threadpoolctl import threadpool_info, threadpool_limits

    seen = []
    fit_predict = KMeans.fit_predict

    def recording(self, X, *args, **kwargs):
        seen.append({pool["user_api"]: pool["num_threads"] for pool in threadpool_info()})
        return fit_predict(self, X, *args, **kwargs)

    monkeypatch.setattr(KMeans, "fit_predict", recording)
    features = np.random.default_rng(0).normal(size=(60, 4))
    with threadpool_limits(2):
        labels = E.cluster_labels(features, 3, Settings())
    assert seen and all(threads == 1 for threads in seen[0].values())
    assert labels.shape == (60,) and set(labels) == {0, 1, 2}
