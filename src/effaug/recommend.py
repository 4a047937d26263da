"""The answers a practitioner wants from a finished run: *which points to
augment* (:func:`selection_table`) and *how many* (:func:`plan_budgets`).

Pure functions on arrays and tables; the CLI (``effaug select``, ``effaug
plan``) reads the workflow's files and writes the outputs.
"""

from __future__ import annotations

import math
import re

import numpy as np
import pandas as pd
from scipy import stats

from effaug.policies import parse_policy

SELECTION_COLUMNS = ("rank", "point_id", "path", "array_index", "class", "score")


class RecommendError(ValueError):
    """A request that the run cannot answer (budget, target, missing curve)."""


def parse_budget(budget: str | int | float, n: int) -> int:
    """A number of points from ``"10%"``, ``0.1`` (a fraction of n, rounded
    like the summary fractions: ``round(fraction * n)``) or ``25`` (points).

    Raises RecommendError for a budget below 1 or above ``n``.
    """
    text = str(budget).strip()
    try:
        if text.endswith("%"):
            points = round(float(text[:-1]) / 100 * n)
        elif re.fullmatch(r"\d+", text):
            points = int(text)
        else:
            value = float(text)
            if not 0 < value <= 1:
                raise RecommendError(f"budget {text}: a number of points is a whole number; a fraction of n "
                                     "lies in (0, 1]")
            points = round(value * n)
    except ValueError as err:
        if isinstance(err, RecommendError):
            raise
        raise RecommendError(f"budget {text!r} is not a number of points, a fraction or a percentage") from None
    if not 1 <= points <= n:
        raise RecommendError(f"budget {text} is {points} points, but there are {n} training points; "
                             f"choose 1..{n} points (or up to 100%)")
    return int(points)


def selection_table(points: np.ndarray, point_ids: np.ndarray, labels: np.ndarray, class_names,
                    scores: np.ndarray | None = None, paths=None) -> pd.DataFrame:
    """The chosen points in the order chosen, one row each.

    Parameters
    ----------
    points : int array of shape (b,)
        Positions of the chosen points among the task's n training points, in order.
    point_ids : int array of shape (n,)
        Each training point's id in its source (the array index for arrays).
    labels : int array of shape (n,), values 0..K-1
    class_names : sequence of K str
    scores : float array of shape (n,), optional
        The score the policy used (blank for score-independent policies).
    paths : sequence of n str, optional
        Each training point's file, relative to the image folder.

    Returns
    -------
    DataFrame with columns rank (0 first), point_id, path (image_folder) or
    array_index (other sources), class, score.
    """
    points = np.asarray(points, dtype=np.int64)
    table = {"rank": np.arange(len(points)), "point_id": np.asarray(point_ids)[points]}
    if paths is not None:
        table["path"] = [paths[i] for i in points]
    else:
        table["array_index"] = np.asarray(point_ids)[points]
    table["class"] = [class_names[int(k)] for k in np.asarray(labels)[points]]
    table["score"] = np.asarray(scores, dtype=np.float64)[points] if scores is not None else np.nan
    return pd.DataFrame(table)


def mean_interval(values: np.ndarray, confidence: float = 0.95) -> tuple[float, float, float]:
    """Mean and the two-sided Student-t confidence interval of the mean
    (a single value: the interval is that value)."""
    values = np.asarray(values, dtype=np.float64)
    mean = float(values.mean())
    if len(values) < 2:
        return mean, mean, mean
    half = stats.t.ppf(0.5 + confidence / 2, len(values) - 1) * values.std(ddof=1) / math.sqrt(len(values))
    return mean, mean - half, mean + half


def gap_closed(curves: pd.DataFrame, no_augmentation: float, full_augmentation: float,
               confidence: float = 0.95) -> pd.DataFrame:
    """The share of the no-augmentation -> full-augmentation accuracy gap each
    (score, policy) closes at each budget: (accuracy - no_aug) / (full_aug - no_aug),
    averaged over seeds, with its confidence interval.

    ``curves`` is a curves.csv table (one augmentation); VSV and budget 0 are left out.
    """
    gap = full_augmentation - no_augmentation
    if not gap > 0:
        raise RecommendError(f"full augmentation ({full_augmentation:.4f}) is no better than no augmentation "
                             f"({no_augmentation:.4f}) here, so there is no gap to close; this augmentation "
                             "does not pay off on this data")
    part = curves[(curves["policy"] != "vsv") & (curves["budget"] > 0)]
    rows = []
    for (score, policy, label, budget), group in part.groupby(["score", "policy", "label", "budget"], sort=True):
        closed = (group["accuracy"].to_numpy() - no_augmentation) / gap
        mean, low, high = mean_interval(closed, confidence)
        rows.append({"score": score, "policy": policy, "label": label, "budget": int(budget),
                     "seeds": len(closed), "accuracy": float(group["accuracy"].mean()),
                     "gap_closed": mean, "ci_low": low, "ci_high": high})
    return pd.DataFrame(rows)


def plan_budgets(closed: pd.DataFrame, target: float, n: int, n_transforms: int) -> pd.DataFrame:
    """Per (score, policy): the smallest budget whose mean gap closed is at
    least ``target``, with its interval and the augmented images it saves
    against full augmentation (``n_transforms * (n - budget)``); budget NaN
    where no budget reaches the target. Score-independent policies (score
    ``none`` in the workflow) appear once per score in ``closed``; they are
    kept once. Sorted by budget, smallest first.
    """
    if not 0 < target <= 1:
        raise RecommendError(f"target {target} must lie in (0, 1]: the share of the gap to close")
    rows = []
    seen = set()
    for (score, policy), group in closed.groupby(["score", "policy"], sort=True):
        label = parse_policy(policy).label  # the score is a column of its own
        uses_score = parse_policy(policy).uses_score
        key = (score, policy) if uses_score else policy
        if key in seen:
            continue
        seen.add(key)
        reached = group[group["gap_closed"] >= target].sort_values("budget")
        row = {"score": score if uses_score else "", "policy": policy, "label": label}
        if reached.empty:
            best = group.sort_values(["gap_closed", "budget"], ascending=[False, True]).iloc[0]
            row.update(budget=np.nan, fraction=np.nan, gap_closed=best["gap_closed"], ci_low=best["ci_low"],
                       ci_high=best["ci_high"], accuracy=best["accuracy"], seeds=int(best["seeds"]),
                       augmented_images=np.nan, images_saved=np.nan, reached=False)
        else:
            first = reached.iloc[0]
            budget = int(first["budget"])
            row.update(budget=budget, fraction=budget / n, gap_closed=first["gap_closed"], ci_low=first["ci_low"],
                       ci_high=first["ci_high"], accuracy=first["accuracy"], seeds=int(first["seeds"]),
                       augmented_images=n_transforms * budget, images_saved=n_transforms * (n - budget),
                       reached=True)
        rows.append(row)
    table = pd.DataFrame(rows)
    return table.sort_values(["reached", "budget", "gap_closed"], ascending=[False, True, False],
                             kind="stable").reset_index(drop=True)


def plan_figure(closed: pd.DataFrame, plan: pd.DataFrame, target: float, n: int, title: str = ""):
    """Gap closed against the budget (% of n) per (score, policy), with its
    interval, the target as a line and each policy's chosen budget marked."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    figure, ax = plt.subplots(figsize=(7.5, 4.8))
    for _, row in plan.iterrows():
        policy, score = row["policy"], row["score"]
        group = closed[(closed["policy"] == policy) & ((closed["score"] == score) | (score == ""))]
        group = group.drop_duplicates("budget").sort_values("budget")
        x = 100 * group["budget"].to_numpy() / n
        name = f"{row['label']} ({score})" if score else row["label"]
        line, = ax.plot(x, group["gap_closed"], marker="o", markersize=3, label=name,
                        linestyle="--" if policy == "baseline" else "-", color="black" if policy == "baseline" else None)
        ax.fill_between(x, group["ci_low"], group["ci_high"], color=line.get_color(), alpha=0.15, linewidth=0)
        if row["reached"]:
            ax.plot([100 * row["budget"] / n], [row["gap_closed"]], marker="*", markersize=14,
                    color=line.get_color(), markeredgecolor="black", zorder=5)
    ax.axhline(target, color="grey", linewidth=1, linestyle=":")
    ax.set_xscale("symlog", linthresh=1)
    ax.set_xlabel("augmented points (% of n, symlog)")
    ax.set_ylabel("share of the no-aug -> full-aug gap closed")
    ax.set_title(title or f"Gap closed against the budget (target {target:.0%}; * = smallest budget reaching it)")
    ax.legend(fontsize=8, loc="lower right")
    ax.grid(alpha=0.3)
    figure.tight_layout()
    return figure
