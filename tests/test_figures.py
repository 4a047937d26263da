"""Figures and tables for readers, drawn from small real result files written here."""

from __future__ import annotations

import json

import matplotlib.colors
import numpy as np
import pandas as pd
import pytest
from matplotlib.container import ErrorbarContainer

from effaug import metrics as M
from effaug import plots

N_TRAIN = 100
BUDGETS = [1, 5, 10]
# (score, policy, seed) -> accuracy at each budget; score "none": a score-independent policy
ACCURACIES = {
    ("none", "baseline", 0): [0.55, 0.6, 0.7],
    ("none", "baseline", 1): [0.52, 0.6, 0.8],
    ("loss", "rand-prop", 0): [0.6, 0.75, 0.85],
    ("loss", "rand-prop", 1): [0.62, 0.7, 0.8],
    ("loss", "det-prop-down", 0): [0.7, 0.8, 0.9],
    ("loss", "kdpp-influence", 0): [0.5, 0.55, 0.6],
    ("loss", "kdpp-influence", 1): [0.5, 0.6, 0.65],
}
POLICIES = ["baseline", "rand-prop", "det-prop-down", "kdpp-influence", "vsv"]
REFERENCES = {"dataset": "d", "augmentation": "a", "n_train": N_TRAIN, "n_transforms": 4, "n_classes": 2,
              "no_augmentation_accuracy": 0.5, "no_augmentation_clean_accuracy": 0.6,
              "full_augmentation_accuracy": 0.9, "full_augmentation_clean_accuracy": 0.95,
              "vsv_accuracy": 0.8, "vsv_clean_accuracy": 0.85, "n_support_vectors": 7}


@pytest.fixture
def curves(tmp_path):
    """The curves table of the results above, through :func:`effaug.metrics.collect_curves`."""
    (tmp_path / "references.json").write_text(json.dumps(REFERENCES))
    paths = []
    for (score, policy, seed), accuracies in ACCURACIES.items():
        for budget, accuracy in zip(BUDGETS, accuracies):
            path = tmp_path / f"{score}-{policy}-{seed}-{budget}.json"
            path.write_text(json.dumps({"dataset": "d", "augmentation": "a", "score": score, "policy": policy,
                                        "seed": seed, "budget": budget, "accuracy": accuracy,
                                        "clean_accuracy": accuracy, "rows": N_TRAIN + 4 * budget, "n_iter": 5}))
            paths.append(path)
    return M.collect_curves(paths, tmp_path / "references.json", ["loss"], POLICIES)


def test_normalised_auc_is_the_auc_over_the_largest_budget(curves):
    table = M.auc_table(curves, "loss")
    assert list(table.columns) == ["policy", "label", "auc_mean", "auc_std", "auc_normalised_mean",
                                   "auc_normalised_std", "seeds"]
    assert (table["auc_normalised_mean"] == table["auc_mean"] / max(BUDGETS)).all()
    stochastic = table["seeds"] > 1
    assert (table["auc_normalised_std"][stochastic] == table["auc_std"][stochastic] / max(BUDGETS)).all()
    assert table["auc_normalised_mean"].between(0, 1).all()
    # a curve at accuracy 1 everywhere has normalised AUC 1
    ones = curves.assign(accuracy=1.0)
    assert (M.auc_table(ones, "loss")["auc_normalised_mean"] == 1.0).all()


def test_markdown_tables_have_readable_headers_and_the_csv_keeps_its_names(curves):
    table = M.auc_table(curves, "loss")
    header = M.to_markdown(M.readable_auc_table(table)).splitlines()[0]
    assert [cell.strip() for cell in header.strip("|").split("|")] == [
        "Policy", "Name in config", "AUC", "AUC sd", "Normalised AUC", "Normalised AUC sd", "Seeds"]
    summary = M.summary_table(curves, {"a": REFERENCES}, [0.05, 0.1], N_TRAIN)
    assert list(summary.columns) == ["augmentation", "no_augmentation", "baseline_0.05", "best_0.05",
                                     "best_0.05_policy", "best_observed_0.05_loss", "baseline_0.1", "best_0.1",
                                     "best_0.1_policy", "best_observed_0.1_loss", "full_augmentation", "vsv",
                                     "n_support_vectors"]
    readable = M.readable_summary_table(summary, [0.05, 0.1])
    assert list(readable.columns) == ["Augmentation", "No augmentation", "Baseline 5%", "Best expected 5%",
                                      "Best expected 5% policy (score)", "Best observed 5% (loss)", "Baseline 10%",
                                      "Best expected 10%", "Best expected 10% policy (score)",
                                      "Best observed 10% (loss)", "Full augmentation", "VSV", "#SV"]
    assert readable["Best expected 10% policy (score)"].iloc[0] == "Det Prop Down (loss)"
    assert "evaluation set" in M.SUMMARY_NOTE and "as in the paper" in M.SUMMARY_NOTE


def test_policy_styles_group_colours_by_family():
    styles = plots.policy_styles(["baseline", "rand-prop", "det-prop-down", "rand-prop-update", "rand-inverse-prop",
                                  "clustered-baseline-c2", "kdpp-influence", "vsv"])
    assert "vsv" not in styles  # a single point, drawn as a star
    assert styles["baseline"] == {"color": "black", "linestyle": "--", "marker": "o"}
    hue = {name: matplotlib.colors.rgb_to_hsv(matplotlib.colors.to_rgb(style["color"]))[0]
           for name, style in styles.items() if name != "baseline"}
    distance = lambda a, b: min(abs(hue[a] - hue[b]), 1 - abs(hue[a] - hue[b]))  # hue is an angle
    assert distance("rand-prop", "det-prop-down") < 0.03  # one family: shades of one hue
    assert styles["rand-prop"]["color"] != styles["det-prop-down"]["color"]
    families = ["rand-prop", "rand-prop-update", "rand-inverse-prop", "clustered-baseline-c2", "kdpp-influence"]
    assert min(distance(a, b) for i, a in enumerate(families) for b in families[i + 1:]) > 0.05
    assert styles["det-prop-down"]["linestyle"] == "-." and styles["det-prop-down"]["marker"] == "v"
    assert styles["rand-prop"]["linestyle"] == "-" and styles["rand-prop"]["marker"] == "o"


def test_symlog_ticks_run_from_zero_to_the_largest_budget_without_crowding():
    assert plots.log_ticks(1, 1000) == [0, 1, 2, 5, 10, 20, 50, 100, 200, 500, 1000]
    assert plots.log_ticks(0.2, 25) == [0, 0.2, 0.5, 1, 2, 5, 10, 25]  # 20 would crowd 25
    assert plots.log_ticks(3, 3) == [0, 3]


def lines_by_label(ax) -> dict[str, object]:
    return {line.get_label(): line for line in ax.get_lines()}


@pytest.mark.parametrize("axis, scale, largest_x", [("symlog", "symlog", 10.0), ("percent", "symlog", 10.0),
                                                     ("linear", "linear", 10.0)])
def test_accuracy_figure_budget_axis(curves, axis, scale, largest_x):
    fig = plots.accuracy_curves(curves, "loss", REFERENCES, M.auc_table(curves, "loss"), budget_axis=axis)
    ax = fig.axes[0]
    assert ax.get_xscale() == scale
    baseline = next(line for label, line in lines_by_label(ax).items() if label.startswith("Baseline"))
    assert max(baseline.get_xdata()) == largest_x  # 10 points, or 10% of n = 100
    assert ("% of n = 100" in ax.get_xlabel()) == (axis == "percent")
    if scale == "symlog":
        assert list(ax.get_xticks()) == [0, 1, 2, 5, 10]  # budgets 1, 5, 10 of n = 100: points or percent


def test_accuracy_figure_baseline_is_black_dashed_and_the_legend_gives_the_auc(curves):
    table = M.auc_table(curves, "loss")
    fig = plots.accuracy_curves(curves, "loss", REFERENCES, table)
    ax = fig.axes[0]
    lines = lines_by_label(ax)
    baseline = next(line for label, line in lines.items() if label.startswith("Baseline:"))
    assert matplotlib.colors.to_hex(baseline.get_color()) == "#000000" and baseline.get_linestyle() == "--"
    others = [line for label, line in lines.items() if label.startswith(("Rand", "Det", "k-DPP"))]
    assert len(others) == 3 and all(matplotlib.colors.to_hex(line.get_color()) != "#000000" for line in others)
    legend = [text.get_text() for text in ax.get_legend().get_texts()]
    expected = [f"{row.label}: AUC {row.auc_mean:#.4g} ({row.auc_normalised_mean:.3f})" for row in table.itertuples()]
    assert legend[:len(table)] == expected  # best AUC first, like the AUC table
    assert "k-DPP (loss)" in legend[len(table) - 1]  # the label names the score it runs under
    assert {"No augmentation", "Full augmentation", "VSV (7 SVs)"} <= set(legend)


def test_unknown_budget_axis_names_the_key(curves):
    with pytest.raises(ValueError, match="figures.budget_axis"):
        plots.accuracy_curves(curves, "loss", REFERENCES, budget_axis="log")


def test_accuracy_figure_is_the_same_bytes_twice(curves, tmp_path):
    for name in ("one", "two"):
        plots.save(plots.accuracy_curves(curves, "loss", REFERENCES, M.auc_table(curves, "loss")),
                   tmp_path / f"{name}.png", tmp_path / f"{name}.pdf")
    assert (tmp_path / "one.png").read_bytes() == (tmp_path / "two.png").read_bytes()
    assert (tmp_path / "one.pdf").read_bytes() == (tmp_path / "two.pdf").read_bytes()


def scores_of(n: int = 30) -> dict[str, np.ndarray]:
    rng = np.random.default_rng(0)
    loss = rng.exponential(size=n)
    return {"loss": loss, "full_augmentation/loss": loss * rng.uniform(0.5, 2, size=n),
            "influence": rng.exponential(size=n), "full_augmentation/influence": rng.exponential(size=n)}


def test_before_after_has_the_identity_line_and_names_dataset_and_augmentation():
    scores = scores_of()
    fig = plots.before_after(scores, ["loss", "influence"], title="mnist, translate: scores")
    assert "mnist" in fig.get_suptitle() and "translate" in fig.get_suptitle()
    for ax, name in zip(fig.axes, ["loss", "influence"]):
        identity = lines_by_label(ax)["y = x"]
        x, y = identity.get_xdata(), identity.get_ydata()
        assert list(x) == list(y)
        values = np.concatenate([scores[name], scores[f"full_augmentation/{name}"]])
        assert x[0] == values.min() and x[-1] == values.max()  # spans every point


def test_score_histograms_name_the_dataset():
    fig = plots.score_histograms(scores_of(), ["loss", "influence"], title="mnist")
    assert fig.get_suptitle() == "mnist" and len(fig.axes) == 2


def test_epoch_time_figure_has_error_bars_of_one_sd_and_marks_each_full_augmentation():
    timings = pd.DataFrame({"augmentation": ["crop"] * 3, "budget": [10, 0, 5], "images": [160, 100, 130],
                            "seconds_per_epoch_mean": [1.6, 1.0, 1.3], "seconds_per_epoch_sd": [0.3, 0.1, 0.2],
                            "repeats": [3] * 3})
    fig = plots.epoch_time(timings, {"translate": 140, "crop": 160}, title="mnist")
    ax = fig.axes[0]
    containers = [c for c in ax.containers if isinstance(c, ErrorbarContainer)]
    assert len(containers) == 1 and containers[0].has_yerr
    assert list(containers[0].lines[0].get_xdata()) == [100, 130, 160]  # by size
    segments = containers[0].lines[2][0].get_segments()
    assert [float(s[1, 1] - s[0, 1]) for s in segments] == pytest.approx([0.2, 0.4, 0.6])
    labels = ax.get_legend_handles_labels()[1]
    assert labels == ["full translate: 140 images", "full crop: 160 images", "measured (crop copies)"]
    vertical = [line.get_xdata()[0] for line in ax.get_lines() if line.get_linestyle() == ":"]
    assert vertical == [140, 160]


def test_extremes_names_the_dataset_and_shows_the_highest_first():
    scores = np.arange(30, dtype=np.float64)
    images = np.zeros((30, 8, 8, 1), np.uint8)
    fig = plots.extremes(images, np.arange(30) % 2, ["3", "8"], scores, "loss", count=3, title="mnist")
    assert fig.get_suptitle() == "mnist: training images with the 3 highest and lowest Loss"
    titles = [ax.get_title() for ax in fig.axes if ax.get_title()]
    assert titles == ["8\n29", "3\n28", "8\n27", "3\n0", "8\n1", "3\n2"]


def test_spearman_equals_scipy_with_ties_and_is_nan_for_constant_input():
    from scipy.stats import spearmanr

    rng = np.random.default_rng(0)
    a, b = rng.integers(0, 5, size=40).astype(float), rng.normal(size=40)  # many ties in a
    assert plots.spearman(a, b) == pytest.approx(spearmanr(a, b).statistic, rel=1e-12)
    np.testing.assert_array_equal(plots.average_ranks(np.array([3.0, 1.0, 3.0, 2.0])), [3.5, 1, 3.5, 2])
    assert np.isnan(plots.spearman(np.ones(5), np.arange(5.0)))


def test_accuracy_band_is_a_bootstrap_confidence_interval_of_the_mean():
    values = np.random.default_rng(1).normal(size=50)
    rows = pd.DataFrame({"x": [5] * 4 + [1] * 4 + [9] + [7] * 50,
                         "y": [0.1, 0.2, 0.3, 0.6] + [0.5] * 4 + [0.7] + list(values)})
    x, mean, low, high = plots.mean_and_band(rows, "x", "y")
    np.testing.assert_array_equal(x, [1, 5, 7, 9])
    np.testing.assert_allclose(mean, [0.5, 0.3, values.mean(), 0.7])
    assert low[0] == high[0] == 0.5 and low[3] == high[3] == 0.7  # no spread, no band
    assert 0.1 < low[1] < 0.3 < high[1] < 0.6
    normal = 2 * 1.96 * values.std() / np.sqrt(len(values))  # the large-sample 95% interval's width
    assert high[2] - low[2] == pytest.approx(normal, rel=0.15) and low[2] < values.mean() < high[2]
    again = plots.mean_and_band(rows, "x", "y")
    assert all(np.array_equal(one, two) for one, two in zip((x, mean, low, high), again))  # seeded
