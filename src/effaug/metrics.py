"""Curves, AUC and summary tables (docs/method.md, "Experiment and metrics").

A curve is the accuracy on the poisoned test set against the number of
augmented points for one (dataset, augmentation, score, policy, seed), with
the no-augmentation accuracy at x = 0. Its AUC is the trapezoid rule over the
budgets with accuracy as a fraction (the maximum is the largest budget); the
normalised AUC divides it by the largest budget (n when the budgets reach n),
which makes it the mean accuracy over the budget range, in [0, 1].
"""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path

import numpy as np
import pandas as pd

from effaug.policies import TWELVE, parse_policy
from effaug.provenance import read_json

AUC_COLUMNS = ["policy", "label", "auc_mean", "auc_std", "auc_normalised_mean", "auc_normalised_std", "seeds"]
CURVE_COLUMNS = ["dataset", "augmentation", "score", "policy", "label", "seed", "budget", "accuracy",
                 "clean_accuracy", "rows", "n_iter"]  # no wall-clock field: a curve file is the same bytes every run


def curve_auc(budgets: np.ndarray, accuracies: np.ndarray) -> float:
    """Trapezoid rule over the points (sorted by budget)."""
    order = np.argsort(budgets, kind="stable")
    x = np.asarray(budgets, dtype=np.float64)[order]
    y = np.asarray(accuracies, dtype=np.float64)[order]
    return float(np.sum((x[1:] - x[:-1]) * (y[1:] + y[:-1]) / 2))


def collect_curves(result_paths: Iterable[str | Path], references_path: str | Path, scores: list[str],
                   policies: list[str]) -> pd.DataFrame:
    """The long table of one (dataset, augmentation): every budget result, the
    x = 0 point of every curve, and the VSV point; results of
    score-independent policies (score ``none``) appear under every score.
    ``result_paths``: ``curve.json`` files (every budget of a curve) or
    ``budget<k>.json`` files (one budget)."""
    references = read_json(references_path)
    rows = []
    for path in result_paths:
        content = read_json(path)
        for result in content.get("curve", [content]):
            for score in scores if result["score"] == "none" else [result["score"]]:
                rows.append({**result, "score": score})
    curves = {(r["dataset"], r["augmentation"], r["score"], r["policy"], r["seed"]) for r in rows}
    for dataset, augmentation, score, policy, seed in sorted(curves):
        rows.append({"dataset": dataset, "augmentation": augmentation, "score": score, "policy": policy,
                     "seed": seed, "budget": 0, "accuracy": references["no_augmentation_accuracy"],
                     "clean_accuracy": references["no_augmentation_clean_accuracy"],
                     "rows": references["n_train"], "n_iter": np.nan})
    if "vsv" in policies:
        for score in scores:
            rows.append({"dataset": references["dataset"], "augmentation": references["augmentation"],
                         "score": score, "policy": "vsv", "seed": 0, "budget": references["n_support_vectors"],
                         "accuracy": references["vsv_accuracy"], "clean_accuracy": references["vsv_clean_accuracy"],
                         "rows": references["n_train"] + references["n_support_vectors"] * references["n_transforms"],
                         "n_iter": np.nan})
    table = pd.DataFrame(rows)
    table["label"] = [parse_policy(p).label_for(s) for p, s in zip(table["policy"], table["score"])]
    table = table[CURVE_COLUMNS].sort_values(["score", "policy", "seed", "budget"], kind="stable")
    return table.reset_index(drop=True)


def own_grid_policies(curves: pd.DataFrame) -> set[str]:
    """The k-DPP policies whose curves run on budgets other than the other
    policies' (``experiment.kdpp.budgets``): an AUC over another range of
    budgets is not comparable, so they get a table of their own."""
    curves = curves[curves["policy"] != "vsv"]
    is_kdpp = np.array([parse_policy(p).kind == "kdpp" for p in curves["policy"]], dtype=bool)
    main_grid = set(curves.loc[~is_kdpp, "budget"])
    if not main_grid:
        return set()
    return {policy for policy, part in curves[is_kdpp].groupby("policy") if set(part["budget"]) != main_grid}


def auc_table(curves: pd.DataFrame, score: str) -> pd.DataFrame:
    """AUC mean and std (ddof=1) over seeds per policy of one score, and both
    divided by the largest budget (``auc_normalised_mean``, ``auc_normalised_std``),
    sorted by mean, best first. VSV (a single point) has no AUC, and k-DPP
    curves on budgets of their own are left to :func:`kdpp_auc_table`."""
    part = curves[(curves["score"] == score) & (curves["policy"] != "vsv")]
    if part.empty:
        raise ValueError(f"no curve for score {score!r}")
    return _aucs(part[~part["policy"].isin(own_grid_policies(curves))])


def kdpp_auc_table(curves: pd.DataFrame, score: str) -> pd.DataFrame:
    """:func:`auc_table` of the k-DPP curves that run on budgets of their own
    (normalised by their own largest budget); no rows when there are none."""
    part = curves[(curves["score"] == score) & curves["policy"].isin(own_grid_policies(curves))]
    return _aucs(part) if len(part) else pd.DataFrame(columns=AUC_COLUMNS)


KDPP_AUC_NOTE = ("k-DPP curves on budgets of their own (experiment.kdpp.budgets): each AUC spans 0 to their largest "
                 "budget and is normalised by it, so it is not comparable with the table above.")


def legend_aucs(curves: pd.DataFrame, score: str) -> pd.DataFrame:
    """Every policy's row of :func:`auc_table` and :func:`kdpp_auc_table` (for a figure's legend)."""
    main, own = auc_table(curves, score), kdpp_auc_table(curves, score)
    return pd.concat([main, own], ignore_index=True) if len(own) else main


def _aucs(part: pd.DataFrame) -> pd.DataFrame:
    """The AUC table of curve points ``part`` (one score, no VSV)."""
    aucs = (part.groupby(["policy", "label", "seed"], sort=True)
            .apply(lambda g: curve_auc(g["budget"].to_numpy(), g["accuracy"].to_numpy()), include_groups=False)
            .rename("auc").reset_index())
    table = aucs.groupby(["policy", "label"]).agg(auc_mean=("auc", "mean"), auc_std=("auc", "std"),
                                                  seeds=("auc", "size")).reset_index()
    largest_budget = float(part["budget"].max())
    table.insert(4, "auc_normalised_mean", table["auc_mean"] / largest_budget)
    table.insert(5, "auc_normalised_std", table["auc_std"] / largest_budget)
    return table.sort_values(["auc_mean", "policy"], ascending=[False, True], kind="stable").reset_index(drop=True)


AUC_HEADERS = {"label": "Policy", "policy": "Name in config", "auc_mean": "AUC", "auc_std": "AUC sd",
               "auc_normalised_mean": "Normalised AUC", "auc_normalised_std": "Normalised AUC sd",
               "seeds": "Seeds"}


def readable_auc_table(table: pd.DataFrame) -> pd.DataFrame:
    """:func:`auc_table` with the headers of the Markdown and LaTeX tables, the policy's label first."""
    return table[list(AUC_HEADERS)].rename(columns=AUC_HEADERS)


def mean_accuracy(curves: pd.DataFrame) -> pd.DataFrame:
    """Mean accuracy over seeds per (augmentation, score, policy, budget)."""
    return (curves.groupby(["augmentation", "score", "policy", "label", "budget"])["accuracy"]
            .mean().reset_index())


def best_observed(curves: pd.DataFrame, score: str, budget: int) -> float:
    """The authors' Table 1 "best" (their notebook's per-budget maximum over
    one score's results): the highest single-seed accuracy at ``budget``
    over the paper's 12 configurations (Baseline included) under ``score``;
    NaN where none of them ran."""
    at = curves[(curves["score"] == score) & (curves["budget"] == budget) & curves["policy"].isin(TWELVE)]
    return float(at["accuracy"].max()) if len(at) else np.nan


def summary_table(curves: pd.DataFrame, references: dict[str, dict], fractions: list[float],
                  n_train: int) -> pd.DataFrame:
    """Per augmentation: no-augmentation accuracy, Baseline at each fraction
    of n, the best expected policy (the highest mean over seeds, over every
    score, Baseline and VSV excluded) at each fraction with its name, the best
    observed accuracy of every score (:func:`best_observed`), full-augmentation
    and VSV accuracy, #SV. ``references`` maps each augmentation to its
    references.json content."""
    means = mean_accuracy(curves)
    scores = sorted(curves["score"].unique())
    rows = []
    for augmentation, part in means.groupby("augmentation", sort=False):
        observed = curves[curves["augmentation"] == augmentation]
        refs = references[augmentation]
        row = {"augmentation": augmentation, "no_augmentation": refs["no_augmentation_accuracy"]}
        for fraction in fractions:
            budget = int(round(fraction * n_train))
            at = part[part["budget"] == budget]
            baseline = at[at["policy"] == "baseline"]["accuracy"]
            row[f"baseline_{fraction:g}"] = float(baseline.iloc[0]) if len(baseline) else np.nan
            scored = at[~at["policy"].isin(["baseline", "vsv"])]
            if len(scored):
                best = scored.sort_values(["accuracy", "policy"], ascending=[False, True], kind="stable").iloc[0]
                row[f"best_{fraction:g}"] = float(best["accuracy"])
                row[f"best_{fraction:g}_policy"] = f"{parse_policy(best['policy']).label} ({best['score']})"
            for score in scores:
                row[f"best_observed_{fraction:g}_{score}"] = best_observed(observed, score, budget)
        row["full_augmentation"] = refs["full_augmentation_accuracy"]
        row["vsv"] = refs["vsv_accuracy"]
        row["n_support_vectors"] = refs["n_support_vectors"]
        rows.append(row)
    return pd.DataFrame(rows)


SUMMARY_NOTE = ("Best expected: the highest mean accuracy over seeds at that budget over every (score, policy) but "
                "Baseline and VSV, chosen on the evaluation set (the poisoned test set that reports it), as in the "
                "paper: an optimistic figure. Best observed (score): the authors' own Table 1 value, the highest "
                "accuracy of any single seed at that budget over the paper's 12 configurations (Baseline included) "
                "under that score, more optimistic still. Baseline is a mean over seeds, not a maximum (the "
                "authors' \"random\").")


def summary_headers(fractions: list[float], scores: Iterable[str] = ()) -> dict[str, str]:
    """The readable header of every column of :func:`summary_table` (fraction 0.05 -> "5%") with
    best observed columns of ``scores``."""
    headers = {"augmentation": "Augmentation", "no_augmentation": "No augmentation"}
    for fraction in fractions:
        percent = f"{fraction * 100:g}%"
        headers |= {f"baseline_{fraction:g}": f"Baseline {percent}",
                    f"best_{fraction:g}": f"Best expected {percent}",
                    f"best_{fraction:g}_policy": f"Best expected {percent} policy (score)"}
        headers |= {f"best_observed_{fraction:g}_{score}": f"Best observed {percent} ({score})" for score in scores}
    return headers | {"full_augmentation": "Full augmentation", "vsv": "VSV", "n_support_vectors": "#SV"}


def readable_summary_table(table: pd.DataFrame, fractions: list[float]) -> pd.DataFrame:
    """:func:`summary_table` with the headers of the Markdown and LaTeX tables."""
    prefix = f"best_observed_{fractions[0]:g}_"
    scores = [column.removeprefix(prefix) for column in table.columns if column.startswith(prefix)]
    return table.rename(columns=summary_headers(fractions, scores))


def to_markdown(table: pd.DataFrame, digits: int = 4) -> str:
    """A Markdown table; missing values (the std of a single seed) as "–"."""
    cells = table.astype(object).where(table.notna(), None)
    return cells.to_markdown(index=False, floatfmt=f".{digits}f", missingval="–") + "\n"


def to_latex(table: pd.DataFrame, digits: int = 4) -> str:
    return table.to_latex(index=False, float_format=f"%.{digits}f", na_rep="--", escape=True)
