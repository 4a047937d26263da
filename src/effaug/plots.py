"""Figures (matplotlib's Agg backend, in seaborn's "whitegrid" style at its
"paper" scale); each function returns a Figure, :func:`save` writes it as PNG
and PDF.

Seaborn itself is not imported: its import (scipy.stats) took longer than
drawing a figure, and every figure is its own job."""

from __future__ import annotations

from collections.abc import Mapping

import matplotlib

matplotlib.use("Agg")

import matplotlib.colors  # noqa: E402
import matplotlib.pyplot as plt  # noqa: E402
import matplotlib.ticker  # noqa: E402
import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402

from effaug.policies import parse_policy  # noqa: E402
from effaug.runtime import atomic_output  # noqa: E402

# seaborn's "deep" palette, and the rc values of seaborn.set_theme(context="paper", style="whitegrid")
PALETTE = ["#4C72B0", "#DD8452", "#55A868", "#C44E52", "#8172B3", "#937860", "#DA8BC3", "#8C8C8C", "#CCB974",
           "#64B5CD"]
STYLE = {
    "axes.prop_cycle": matplotlib.cycler(color=PALETTE), "figure.facecolor": "white", "axes.facecolor": "white",
    "axes.edgecolor": ".8", "axes.grid": True, "axes.axisbelow": True, "axes.labelcolor": ".15",
    "axes.linewidth": 1.0, "grid.color": ".8", "grid.linestyle": "-", "grid.linewidth": 0.8, "text.color": ".15",
    "xtick.color": ".15", "ytick.color": ".15", "xtick.direction": "out", "ytick.direction": "out",
    "xtick.bottom": False, "ytick.left": False, "xtick.top": False, "ytick.right": False,
    "xtick.major.width": 1.0, "ytick.major.width": 1.0, "xtick.minor.width": 0.8, "ytick.minor.width": 0.8,
    "xtick.major.size": 4.8, "ytick.major.size": 4.8, "xtick.minor.size": 3.2, "ytick.minor.size": 3.2,
    "font.family": ["sans-serif"], "font.sans-serif": ["Arial", "DejaVu Sans", "Liberation Sans",
                                                       "Bitstream Vera Sans", "sans-serif"],
    "font.size": 9.6, "axes.labelsize": 9.6, "axes.titlesize": 9.6, "xtick.labelsize": 8.8,
    "ytick.labelsize": 8.8, "legend.fontsize": 8.8, "legend.title_fontsize": 9.6,
    "lines.linewidth": 1.2, "lines.markersize": 4.8, "lines.solid_capstyle": "round",
    "patch.edgecolor": "w", "patch.force_edgecolor": True, "patch.linewidth": 0.8,
}
matplotlib.rcParams.update(STYLE)
SCORE_LABELS = {"loss": "Loss", "influence": "Influence |I|", "newton_loo": "Newton LOO",
                "gradient_norm": "Gradient norm", "svm_margin": "SVM margin"}
BUDGET_AXES = ("symlog", "percent", "linear")
BASELINE_STYLE = {"color": "black", "linestyle": "--", "marker": "o"}
# One colour map per policy family; the shades within a family are its policies.
FAMILY_COLOURMAPS = {"proportional": "Blues", "update": "Greens", "inverse": "Oranges", "clustered": "Purples",
                     "kdpp": "Reds"}


def save(figure, png_path, pdf_path=None) -> None:
    """PNG (and PDF where a path is given), with fixed metadata: the same figure gives the same bytes."""
    with atomic_output(png_path) as tmp:
        figure.savefig(tmp, dpi=150, bbox_inches="tight", metadata={"Software": None})
    if pdf_path is not None:
        with atomic_output(pdf_path) as tmp:
            figure.savefig(tmp, bbox_inches="tight",
                           metadata={"CreationDate": None, "Producer": None, "Creator": None})
    plt.close(figure)


def policy_family(name: str) -> str:
    """The colour family of a policy: baseline, vsv, proportional, update, inverse, clustered or kdpp."""
    policy = parse_policy(name)
    if policy.kind != "scored":
        return policy.kind
    if policy.inverse:
        return "inverse"
    return "update" if policy.update else "proportional"


def policy_styles(names: list[str]) -> dict[str, dict]:
    """Colour, line style and marker of each policy's line (VSV, a single point, has none): Baseline black
    and dashed; every other policy a shade of its family's colour map (by name within the family, so that a
    run's figures agree), dash-dot where deterministic, triangles where downweighted."""
    by_family: dict[str, list[str]] = {}
    for name in sorted(set(names) - {"vsv"}):
        by_family.setdefault(policy_family(name), []).append(name)
    styles = {name: dict(BASELINE_STYLE) for name in by_family.pop("baseline", [])}
    for family, members in by_family.items():
        shades = plt.get_cmap(FAMILY_COLOURMAPS[family])(np.linspace(0.9, 0.45, len(members)))
        for name, shade in zip(members, shades):
            policy = parse_policy(name)
            styles[name] = {"color": matplotlib.colors.to_hex(shade), "linestyle": "-" if policy.random else "-.",
                            "marker": "v" if policy.down else "o"}
    return styles


def budget_coordinates(budgets, axis: str, n_train: int) -> np.ndarray:
    """Where budgets (numbers of augmented points) lie on a budget axis: points, or percent of n for ``percent``."""
    values = np.asarray(budgets, dtype=np.float64)
    return values / n_train * 100 if axis == "percent" else values


def log_ticks(smallest: float, largest: float) -> list[float]:
    """Ticks of a symlog budget axis: 0, ``smallest``, the 1, 2 and 5 times powers of ten between them that
    keep a factor 1.5 from both ends (so that no two labels overlap), and ``largest`` (both ends > 0)."""
    powers = range(int(np.floor(np.log10(smallest))), int(np.ceil(np.log10(largest))) + 1)
    steps = [float(f"{m}e{k}") for k in powers for m in (1, 2, 5)]
    inner = [v for v in steps if 1.5 * smallest <= v <= largest / 1.5]
    return sorted({0.0, float(smallest), *inner, float(largest)})


def set_budget_axis(ax, axis: str, smallest_positive: float, largest: float, n_train: int) -> None:
    """The x scale, ticks and label of a budget axis: ``symlog`` (linear from 0 to the smallest positive budget,
    then logarithmic), ``percent`` (the same scale in percent of n) or ``linear``."""
    if axis not in BUDGET_AXES:
        raise ValueError(f"budget axis {axis!r} (figures.budget_axis) is not one of {', '.join(BUDGET_AXES)}")
    if axis == "linear":
        ax.set_xlabel("Augmented points")
        return
    ax.set_xscale("symlog", linthresh=smallest_positive, linscale=0.5)
    ax.set_xticks(log_ticks(smallest_positive, largest))
    ax.xaxis.set_minor_locator(matplotlib.ticker.NullLocator())
    unit = "%" if axis == "percent" else ""
    ax.xaxis.set_major_formatter(matplotlib.ticker.FuncFormatter(lambda value, _: f"{value:g}{unit}"))
    ax.set_xlabel(f"Augmented points, % of n = {n_train} (log scale above {smallest_positive:g}%)" if unit
                  else f"Augmented points (log scale above {smallest_positive:g})")


def legend_label(label: str, auc: pd.Series | None) -> str:
    """A policy's legend entry: its label, with its AUC and normalised AUC (means over seeds) where known."""
    if auc is None:
        return label
    return f"{label}: AUC {auc['auc_mean']:#.4g} ({auc['auc_normalised_mean']:.3f})"


def mean_and_band(rows: pd.DataFrame, x: str, y: str, level: float = 95, n_boot: int = 1000, seed: int = 0):
    """Per value of column ``x`` (ascending): the mean of column ``y`` and a ``level``% bootstrap
    confidence interval of that mean (``n_boot`` resamples with replacement, percentile interval; one
    seeded generator for all x values, in order), as seaborn's lineplot draws it.

    Returns four (k,) arrays: the x values, the means, the lower and the upper bounds.
    """
    rng = np.random.default_rng(seed)
    xs, means, lows, highs = [], [], [], []
    for value, group in rows.groupby(x, sort=True):
        values = group[y].to_numpy(dtype=np.float64)
        resampled = values[rng.integers(0, len(values), size=(n_boot, len(values)))].mean(axis=1)
        low, high = np.percentile(resampled, [(100 - level) / 2, 100 - (100 - level) / 2])
        xs.append(value)
        means.append(values.mean())
        lows.append(low)
        highs.append(high)
    return np.array(xs, dtype=np.float64), np.array(means), np.array(lows), np.array(highs)


def accuracy_curves(curves: pd.DataFrame, score: str, references: dict, aucs: pd.DataFrame | None = None,
                    budget_axis: str = "symlog", title: str = ""):
    """Accuracy on the poisoned test set against the number of augmented
    points, one line per policy (mean over seeds, 95% bootstrap band), styled
    by :func:`policy_styles`; dotted lines at the no- and full-augmentation
    accuracies; VSV as a star. ``aucs`` (:func:`effaug.metrics.auc_table`)
    puts each policy's AUC and normalised AUC in the legend, which lists the
    policies best AUC first."""
    part = curves[curves["score"] == score]
    lines = part[part["policy"] != "vsv"].assign(
        x=lambda t: budget_coordinates(t["budget"], budget_axis, references["n_train"]))
    auc_of = {} if aucs is None else {row["policy"]: row for _, row in aucs.iterrows()}
    labels = dict(zip(lines["policy"], lines["label"]))
    order = sorted(labels, key=lambda p: (-auc_of[p]["auc_mean"] if p in auc_of else np.inf, p))
    styles = policy_styles(order)
    fig, ax = plt.subplots(figsize=(7.5, 4.8))
    for policy in order:
        x, mean, low, high = mean_and_band(lines[lines["policy"] == policy], "x", "accuracy")
        ax.fill_between(x, low, high, color=styles[policy]["color"], alpha=0.12, linewidth=0)
        ax.plot(x, mean, markersize=3, markeredgecolor="white", markeredgewidth=0.75,
                linewidth=1.6 if policy == "baseline" else 1.2,
                label=legend_label(labels[policy], auc_of.get(policy)), **styles[policy])
    ax.axhline(references["no_augmentation_accuracy"], color="0.6", linestyle=":", linewidth=1.2,
               label="No augmentation")
    ax.axhline(references["full_augmentation_accuracy"], color="0.2", linestyle=":", linewidth=1.2,
               label="Full augmentation")
    vsv = part[part["policy"] == "vsv"]
    if len(vsv):
        ax.scatter(budget_coordinates(vsv["budget"], budget_axis, references["n_train"]), vsv["accuracy"],
                   marker="*", s=150, color="crimson", zorder=5, label=f"VSV ({int(vsv['budget'].iloc[0])} SVs)")
    positive = budget_coordinates(part.loc[part["budget"] > 0, "budget"], budget_axis, references["n_train"])
    if len(positive):
        set_budget_axis(ax, budget_axis, positive.min(), positive.max(), references["n_train"])
    ax.set_ylabel("Accuracy (poisoned test set)")
    ax.set_title(title)
    ax.legend(fontsize=7, loc="upper left", bbox_to_anchor=(1.01, 1.0), frameon=False,
              title="Policy: AUC (normalised AUC)" if aucs is not None else "Policy", title_fontsize=7)
    return fig


def score_histograms(scores: dict[str, np.ndarray], names: list[str], title: str = ""):
    """Histograms of each score (arrays of shape (n,)) over the training points (log x where positive)."""
    fig, axes = plt.subplots(1, len(names), figsize=(4 * len(names), 3.2), squeeze=False)
    for ax, name in zip(axes[0], names):
        values = np.asarray(scores[name], dtype=np.float64)
        undefined = int((~np.isfinite(values)).sum())
        values = values[np.isfinite(values)]
        positive = values[values > 0]
        label = SCORE_LABELS.get(name, name)
        if len(values):
            bins = np.logspace(np.log10(positive.min()), np.log10(positive.max()), 40) if len(positive) > 1 else 40
            ax.hist(positive if len(positive) > 1 else values, bins=bins, color="steelblue", alpha=0.75)
            if len(positive) > 1:
                ax.set_xscale("log")
        ax.set_xlabel(label)
        ax.set_ylabel("Training points")
        notes = [f"{count} {what}" for count, what in (((values == 0).sum(), "zeros"), (undefined, "undefined"))
                 if count]
        ax.set_title(f"{label} ({', '.join(notes)})" if notes else label)
    fig.suptitle(title)
    fig.tight_layout()
    return fig


def average_ranks(values: np.ndarray) -> np.ndarray:
    """(n,) ranks 1..n of (n,) ``values``, ties sharing the mean of their ranks."""
    order = np.argsort(values, kind="stable")
    ordered = np.asarray(values)[order]
    starts = np.flatnonzero(np.concatenate([[True], ordered[1:] != ordered[:-1], [True]]))
    ranks = np.empty(len(ordered))
    ranks[order] = np.repeat((starts[:-1] + starts[1:] + 1) / 2, np.diff(starts))
    return ranks


def spearman(a: np.ndarray, b: np.ndarray) -> float:
    """Spearman's rank correlation of (n,) ``a`` and ``b`` (Pearson's of their average ranks)."""
    with np.errstate(invalid="ignore", divide="ignore"):  # constant input: NaN, as scipy.stats.spearmanr
        return float(np.corrcoef(average_ranks(a), average_ranks(b))[0, 1])


def before_after(scores: dict[str, np.ndarray], names: list[str], title: str = ""):
    """Each original point's score under the no-augmentation fit (``scores[name]``,
    shape (n,)) against the fit on the fully augmented set
    (``scores["full_augmentation/" + name]``), with the line y = x and
    Spearman's rank correlation."""
    fig, axes = plt.subplots(1, len(names), figsize=(4 * len(names), 3.8), squeeze=False)
    for ax, name in zip(axes[0], names):
        before = np.asarray(scores[name], dtype=np.float64)
        after = np.asarray(scores[f"full_augmentation/{name}"], dtype=np.float64)
        floor = np.finfo(np.float64).tiny
        ax.scatter(np.maximum(before, floor), np.maximum(after, floor), s=6, alpha=0.5, color="steelblue")
        shown = np.maximum(np.concatenate([before, after]), floor)
        shown = shown[np.isfinite(shown)]
        if len(shown):
            ax.plot([shown.min(), shown.max()], [shown.min(), shown.max()], color="0.3", linestyle="--",
                    linewidth=1, label="y = x")
            ax.legend(loc="upper left", fontsize=7)
        ax.set_xscale("log")
        ax.set_yscale("log")
        label = SCORE_LABELS.get(name, name)
        ax.set_xlabel(f"{label}, no augmentation")
        ax.set_ylabel(f"{label}, full augmentation")
        defined = np.isfinite(before) & np.isfinite(after)
        rho = spearman(before[defined], after[defined]) if defined.sum() > 1 else float("nan")
        undefined = len(before) - int(defined.sum())
        ax.set_title(f"Spearman rho = {rho:.3f}" + (f" ({undefined} undefined)" if undefined else ""))
    fig.suptitle(title)
    fig.tight_layout()
    return fig


def extremes(images: np.ndarray, labels: np.ndarray, class_names, scores: np.ndarray, score: str, count: int = 10,
             title: str = ""):
    """The ``count`` highest- and lowest-scoring training images (images (n, h, w, c), labels and scores (n,);
    undefined scores left out)."""
    scores = np.asarray(scores, dtype=np.float64)
    defined = np.flatnonzero(np.isfinite(scores))
    order = defined[np.argsort(-scores[defined], kind="stable")]
    fig, axes = plt.subplots(2, count, figsize=(1.3 * count, 3.8))
    for ax in axes.ravel():
        ax.axis("off")
    for row, (which, picks) in enumerate((("highest", order[:count]), ("lowest", order[::-1][:count]))):
        for ax, i in zip(axes[row], picks):
            image = images[i]
            ax.imshow(image[..., 0] if image.shape[-1] == 1 else image, cmap="gray" if image.shape[-1] == 1 else None)
            ax.set_title(f"{class_names[labels[i]]}\n{scores[i]:.2g}", fontsize=7)
            ax.axis("off")
        axes[row][0].text(-0.5, 0.5, which, transform=axes[row][0].transAxes, rotation=90, va="center",
                          ha="right", fontsize=9)
    what = f"training images with the {count} highest and lowest {SCORE_LABELS.get(score, score)}"
    fig.suptitle(f"{title}: {what}" if title else what[0].upper() + what[1:], fontsize=9)
    fig.tight_layout(h_pad=1.5)
    return fig


def epoch_time(timings: pd.DataFrame, full_augmentation: Mapping[str, int] | None = None, title: str = ""):
    """Seconds per CNN epoch against the number of training images: the mean
    over the repeated timings with error bars of one standard deviation (none
    for a single timing), and a dotted vertical line at each augmentation's
    full augmentation. ``timings``: the rows of epoch_time.tsv (augmentation,
    images, seconds_per_epoch_mean, seconds_per_epoch_sd); ``full_augmentation``:
    {augmentation: training images when every point is augmented}."""
    fig, ax = plt.subplots(figsize=(5.5, 3.8))
    timed = timings.sort_values("images", kind="stable")
    source = ", ".join(timed["augmentation"].unique())
    ax.errorbar(timed["images"], timed["seconds_per_epoch_mean"], yerr=timed["seconds_per_epoch_sd"].fillna(0.0),
                marker="o", markersize=4, capsize=3, color="black", label=f"measured ({source} copies)")
    full = sorted((full_augmentation or {}).items(), key=lambda item: item[1])
    for (augmentation, images), colour in zip(full, PALETTE * (len(full) // len(PALETTE) + 1)):
        ax.axvline(images, color=colour, linestyle=":", linewidth=1.5,
                   label=f"full {augmentation}: {images} images")
    ax.set_xlabel("Training images (originals + augmented copies)")
    ax.set_ylabel("Seconds per epoch (mean ± sd)")
    ax.set_ylim(bottom=0)
    ax.legend(fontsize=7)
    ax.set_title(title)
    return fig
