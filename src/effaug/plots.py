"""Figures (seaborn on matplotlib's Agg backend); each function returns a
Figure, :func:`save` writes it as PNG and PDF."""

from __future__ import annotations

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402
import seaborn as sns  # noqa: E402

from effaug.runtime import atomic_output  # noqa: E402

sns.set_theme(context="paper", style="whitegrid")
SCORE_LABELS = {"loss": "Loss", "influence": "Influence |I|", "newton_loo": "Newton LOO",
                "gradient_norm": "Gradient norm", "svm_margin": "SVM margin"}


def save(figure, png_path, pdf_path=None) -> None:
    """PNG (and PDF where a path is given), with fixed metadata: the same figure gives the same bytes."""
    with atomic_output(png_path) as tmp:
        figure.savefig(tmp, dpi=150, bbox_inches="tight", metadata={"Software": None})
    if pdf_path is not None:
        with atomic_output(pdf_path) as tmp:
            figure.savefig(tmp, bbox_inches="tight",
                           metadata={"CreationDate": None, "Producer": None, "Creator": None})
    plt.close(figure)


def accuracy_curves(curves: pd.DataFrame, score: str, references: dict, title: str = ""):
    """Accuracy on the poisoned test set against the number of augmented
    points, one line per policy with a 95% bootstrap band over seeds; dashed
    lines at the no- and full-augmentation accuracies; VSV as a star."""
    part = curves[curves["score"] == score]
    lines = part[part["policy"] != "vsv"]
    fig, ax = plt.subplots(figsize=(7.5, 4.8))
    order = lines.groupby("label")["accuracy"].mean().sort_values(ascending=False).index.tolist()
    palette = sns.color_palette("tab20", len(order)) if len(order) > 10 else None
    sns.lineplot(data=lines, x="budget", y="accuracy", hue="label", hue_order=order, errorbar=("ci", 95),
                 n_boot=1000, seed=0, marker="o", markersize=3, linewidth=1.2, palette=palette, ax=ax)
    ax.axhline(references["no_augmentation_accuracy"], color="0.45", linestyle="--", linewidth=1,
               label="No augmentation")
    ax.axhline(references["full_augmentation_accuracy"], color="black", linestyle="--", linewidth=1,
               label="Full augmentation")
    vsv = part[part["policy"] == "vsv"]
    if len(vsv):
        ax.scatter(vsv["budget"], vsv["accuracy"], marker="*", s=150, color="crimson", zorder=5,
                   label=f"VSV ({int(vsv['budget'].iloc[0])} SVs)")
    ax.set_xlabel("Number of augmented points")
    ax.set_ylabel("Accuracy (poisoned test set)")
    ax.set_title(title)
    ax.legend(fontsize=7, ncol=2, loc="lower right", frameon=True)
    return fig


def score_histograms(scores: dict[str, np.ndarray], names: list[str]):
    """Histograms of each score over the training points (log x where positive)."""
    fig, axes = plt.subplots(1, len(names), figsize=(4 * len(names), 3.2), squeeze=False)
    for ax, name in zip(axes[0], names):
        values = np.asarray(scores[name], dtype=np.float64)
        undefined = int((~np.isfinite(values)).sum())
        values = values[np.isfinite(values)]
        positive = values[values > 0]
        label = SCORE_LABELS.get(name, name)
        if len(values):
            bins = np.logspace(np.log10(positive.min()), np.log10(positive.max()), 40) if len(positive) > 1 else 40
            sns.histplot(positive if len(positive) > 1 else values, bins=bins, ax=ax, color="steelblue")
            if len(positive) > 1:
                ax.set_xscale("log")
        ax.set_xlabel(label)
        ax.set_ylabel("Training points")
        notes = [f"{count} {what}" for count, what in (((values == 0).sum(), "zeros"), (undefined, "undefined"))
                 if count]
        ax.set_title(f"{label} ({', '.join(notes)})" if notes else label)
    fig.tight_layout()
    return fig


def spearman(a: np.ndarray, b: np.ndarray) -> float:
    from scipy.stats import spearmanr

    return float(spearmanr(a, b).statistic)


def before_after(scores: dict[str, np.ndarray], names: list[str]):
    """Each original point's score under the no-augmentation fit against the
    fit on the fully augmented set, with Spearman's rank correlation."""
    fig, axes = plt.subplots(1, len(names), figsize=(4 * len(names), 3.8), squeeze=False)
    for ax, name in zip(axes[0], names):
        before = np.asarray(scores[name], dtype=np.float64)
        after = np.asarray(scores[f"full_augmentation/{name}"], dtype=np.float64)
        floor = np.finfo(np.float64).tiny
        ax.scatter(np.maximum(before, floor), np.maximum(after, floor), s=6, alpha=0.5, color="steelblue")
        ax.set_xscale("log")
        ax.set_yscale("log")
        label = SCORE_LABELS.get(name, name)
        ax.set_xlabel(f"{label}, no augmentation")
        ax.set_ylabel(f"{label}, full augmentation")
        defined = np.isfinite(before) & np.isfinite(after)
        rho = spearman(before[defined], after[defined]) if defined.sum() > 1 else float("nan")
        undefined = len(before) - int(defined.sum())
        ax.set_title(f"Spearman rho = {rho:.3f}" + (f" ({undefined} undefined)" if undefined else ""))
    fig.tight_layout()
    return fig


def extremes(images: np.ndarray, labels: np.ndarray, class_names, scores: np.ndarray, score: str, count: int = 10):
    """The ``count`` highest- and lowest-scoring training images (undefined scores left out)."""
    scores = np.asarray(scores, dtype=np.float64)
    defined = np.flatnonzero(np.isfinite(scores))
    order = defined[np.argsort(-scores[defined], kind="stable")]
    fig, axes = plt.subplots(2, count, figsize=(1.3 * count, 3.8))
    for ax in axes.ravel():
        ax.axis("off")
    for row, (title, picks) in enumerate((("highest", order[:count]), ("lowest", order[::-1][:count]))):
        for ax, i in zip(axes[row], picks):
            image = images[i]
            ax.imshow(image[..., 0] if image.shape[-1] == 1 else image, cmap="gray" if image.shape[-1] == 1 else None)
            ax.set_title(f"{class_names[labels[i]]}\n{scores[i]:.2g}", fontsize=7)
            ax.axis("off")
        axes[row][0].text(-0.5, 0.5, title, transform=axes[row][0].transAxes, rotation=90, va="center",
                          ha="right", fontsize=9)
    fig.suptitle(f"Training images with the {count} highest and lowest {SCORE_LABELS.get(score, score)}", fontsize=9)
    fig.tight_layout(h_pad=1.5)
    return fig


def epoch_time(timings: pd.DataFrame, title: str = ""):
    """Seconds per CNN epoch against the number of training images."""
    fig, ax = plt.subplots(figsize=(5.5, 3.8))
    sns.lineplot(data=timings, x="images", y="seconds_per_epoch", hue="augmentation", marker="o", ax=ax)
    ax.set_xlabel("Training images (originals + augmented copies)")
    ax.set_ylabel("Seconds per epoch")
    ax.set_title(title)
    return fig
