"""Which points and how many: budgets, the selection table, the gap closed and the plan."""

import numpy as np
import pandas as pd
import pytest
from scipy import stats

from effaug import recommend as R


@pytest.mark.parametrize("budget,points", [("10%", 10), ("0.25", 25), (0.5, 50), ("7", 7), (100, 100), ("100%", 100),
                                           ("0.4%", 0)])
def test_parse_budget(budget, points):
    if points == 0:
        with pytest.raises(R.RecommendError, match="is 0 points"):
            R.parse_budget(budget, 100)
    else:
        assert R.parse_budget(budget, 100) == points


@pytest.mark.parametrize("budget,message", [("101", "101 points, but there are 100 training points"),
                                            ("2.5", "a fraction of n lies in (0, 1]"),
                                            ("ten", "not a number of points")])
def test_parse_budget_errors(budget, message):
    with pytest.raises(R.RecommendError) as err:
        R.parse_budget(budget, 100)
    assert message in str(err.value)


def test_selection_table_keeps_the_order_and_names_the_files():
    table = R.selection_table(np.array([2, 0]), np.array([10, 11, 12]), np.array([1, 0, 1]), ["cat", "dog"],
                              np.array([0.1, 0.2, 0.3]), paths=["a.png", "b.png", "c.png"])
    assert list(table.columns) == ["rank", "point_id", "path", "class", "score"]
    assert table.to_dict("list") == {"rank": [0, 1], "point_id": [12, 10], "path": ["c.png", "a.png"],
                                     "class": ["dog", "dog"], "score": [0.3, 0.1]}
    arrays = R.selection_table(np.array([1]), np.arange(3), np.array([0, 1, 0]), ["a", "b"])
    assert list(arrays.columns) == ["rank", "point_id", "array_index", "class", "score"]
    assert arrays["array_index"].tolist() == [1] and np.isnan(arrays["score"][0])


def curves_table():
    rows = []
    for seed, noise in enumerate([0.0, 0.02, -0.02]):
        for budget, acc in [(0, 0.5), (10, 0.6), (20, 0.75), (50, 0.85), (100, 0.88)]:
            rows.append(("loss", "rand-prop", "Random Prop.", seed, budget, acc + (noise if budget else 0)))
            rows.append(("loss", "baseline", "Baseline", seed, budget, 0.5 + 0.4 * budget / 100))
            rows.append(("influence", "baseline", "Baseline", seed, budget, 0.5 + 0.4 * budget / 100))
    rows.append(("loss", "vsv", "VSV", 0, 30, 0.89))
    return pd.DataFrame(rows, columns=["score", "policy", "label", "seed", "budget", "accuracy"])


def test_gap_closed_means_and_intervals_over_seeds():
    closed = R.gap_closed(curves_table(), 0.5, 0.9)
    row = closed[(closed.policy == "rand-prop") & (closed.budget == 20)].iloc[0]
    values = (np.array([0.75, 0.77, 0.73]) - 0.5) / 0.4
    half = stats.t.ppf(0.975, 2) * values.std(ddof=1) / np.sqrt(3)
    assert row.gap_closed == pytest.approx(values.mean(), abs=1e-12)
    assert (row.ci_low, row.ci_high) == pytest.approx((values.mean() - half, values.mean() + half), abs=1e-12)
    assert row.seeds == 3 and "vsv" not in set(closed.policy) and 0 not in set(closed.budget)


def test_plan_picks_the_smallest_budget_reaching_the_target():
    closed = R.gap_closed(curves_table(), 0.5, 0.9)
    plan = R.plan_budgets(closed, 0.8, n=100, n_transforms=4)
    assert len(plan) == 2  # Baseline once, whatever the score
    by = plan.set_index("policy")
    assert by.loc["rand-prop", "budget"] == 50  # 0.875 >= 0.8 at 50; 0.625 at 20
    assert by.loc["rand-prop", "images_saved"] == 4 * 50
    assert by.loc["baseline", "budget"] == 100  # the gap closed is b / 100
    assert plan.iloc[0]["policy"] == "rand-prop"  # smallest budget first
    unreachable = R.plan_budgets(closed, 1.0, n=100, n_transforms=4).set_index("policy")
    assert not unreachable.loc["rand-prop", "reached"] and np.isnan(unreachable.loc["rand-prop", "budget"])
    assert unreachable.loc["baseline", "reached"] and unreachable.loc["baseline", "budget"] == 100
    figure = R.plan_figure(closed, R.plan_budgets(closed, 0.8, 100, 4), 0.8, 100)
    assert len(figure.axes[0].lines) >= 3


def test_no_gap_and_bad_target_are_errors():
    with pytest.raises(R.RecommendError, match="no gap to close"):
        R.gap_closed(curves_table(), 0.9, 0.9)
    with pytest.raises(R.RecommendError, match="target 1.5 must lie in"):
        R.plan_budgets(R.gap_closed(curves_table(), 0.5, 0.9), 1.5, 100, 4)
