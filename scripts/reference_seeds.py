"""The retrain-mode reference cells over several CNN seeds: no augmentation, full augmentation and VSV.

    python scripts/reference_seeds.py --data-root DATA_DIR [--seeds 5] [--workdir reference-seeds] [--cores 2]
    python scripts/reference_seeds.py --collect [--seeds 5] [--workdir reference-seeds]   # tabulate finished runs

Each reference accuracy of a retrain-mode run is one CNN training (as in the authors' code, where it is one
unseeded GPU run). This runs config/paper-offline-retrain.yaml (MNIST 3 vs 8, the first 1000 training points,
translate) up to its references.json once per featurizer seed 0 .. S-1, each in its own working directory
(a finished one is reused), and replaces the "reference cells over CNN seeds" section of docs/reproduction.md
with one row per seed and the mean and standard deviation.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import yaml

ROOT = Path(__file__).resolve().parent.parent
CONFIG = ROOT / "config/paper-offline-retrain.yaml"
BEGIN, END = "<!-- begin: reference-seeds section -->", "<!-- end: reference-seeds section -->"
CELLS = [("no_augmentation_accuracy", "no augmentation"), ("full_augmentation_accuracy", "full augmentation"),
         ("vsv_accuracy", "VSV"), ("no_augmentation_clean_accuracy", "no augmentation, clean test set")]


def collect(workdir: Path, dataset: str, augmentation: str) -> dict:
    """The references of a finished run, and its jobs' wall time from their benchmark files."""
    path = workdir / f"results/{dataset}/{augmentation}/references.json"
    if not path.is_file():
        sys.exit(f"{path}: not found; run this script without --collect to make it")
    references = json.loads(path.read_text())
    references["seconds"] = sum(float(bench.read_text().splitlines()[1].split("\t")[0])
                                for bench in (workdir / "results/benchmarks").rglob("*.tsv"))
    return references


def run_seed(workdir: Path, dataset: str, augmentation: str, seed: int, data_root: str, cores: int) -> dict:
    target = f"results/{dataset}/{augmentation}/references.json"
    workdir.mkdir(parents=True, exist_ok=True)
    seed_config = workdir / "seed.yaml"  # a second config file merges into the first key by key
    seed_config.write_text(yaml.safe_dump({"datasets": {dataset: {"featurizer": {"seed": seed}}}}))
    command = [sys.executable, "-m", "snakemake", "-s", str(ROOT / "Snakefile"), "--directory", str(workdir),
               "--configfile", str(CONFIG), str(seed_config), "--cores", str(cores), "--config", f"data_root={data_root}",
               "--", target]
    result = subprocess.run(command, capture_output=True, text=True)
    if result.returncode != 0:
        sys.exit(f"seed {seed}: snakemake failed (exit {result.returncode}):\n{result.stderr[-3000:]}")
    return collect(workdir, dataset, augmentation)


def section(rows: list[dict], dataset: str, augmentation: str) -> list[str]:
    header = "| featurizer seed | " + " | ".join(label for _, label in CELLS) + " |"
    lines = [BEGIN, "", "## Retrain-mode reference cells over CNN seeds", "",
             f"`python scripts/reference_seeds.py --data-root DATA_DIR --seeds {len(rows)}`: "
             f"config/paper-offline-retrain.yaml (`{dataset}`, {augmentation}) up to its `references.json`, once "
             "per `featurizer.seed`. Each cell is one CNN (the authors' MNIST CNN, 40 epochs, batch 512, Adam "
             "1e-3, pixels / 255) trained on the 1000 originals (no augmentation), on the originals plus all "
             "their copies (full augmentation) or plus the support vectors' copies (VSV), then the logistic "
             "regression on its features, evaluated on the poisoned test set (the clean one in the last "
             "column). The authors' code does the same, with one unseeded GPU training per cell "
             "(`experiments_util.train_and_score_clf`: `poisoned_acc`, `all_aug_train_poisoned_acc`), so "
             "their Table 1 cell is one draw from this distribution; the reduced grid above used seed 0. "
             "Compared line by line, their cell and ours agree in architecture (the Keras MNIST CNN with "
             "N(0, 0.05) kernels, 512-d features), training (Adam 1e-3, batch 512, 40 epochs, shuffled, no "
             "callbacks), preprocessing (x / 255, no mean), data (the first 1000 3s and 8s, the four diagonal "
             "2-pixel shifts with edge fill) and evaluation (a logistic regression with C = 1 on the CNN's "
             "features; the poisoned test set of all 3/8 test images and 4 copies each). What differs: their "
             "CNNs start every training from the same seed-42 weights and draw unseeded dropout and shuffling "
             "on a GPU (Keras 2.2.4, TensorFlow 1.12), ours draw all three from the seed on a CPU (Keras 3, "
             "TensorFlow 2.21, deterministic); their logistic regression is lbfgs to tol 1e-7, ours Newton to "
             "1e-10 (the same objective).", "",
             header, "|" + "---|" * (len(CELLS) + 1)]
    for row in rows:
        lines.append(f"| {row['seed']} | " + " | ".join(f"{row[key]:.4f}" for key, _ in CELLS) + " |")
    values = {key: np.array([row[key] for row in rows]) for key, _ in CELLS}
    sd = lambda v: v.std(ddof=1) if len(v) > 1 else float("nan")  # noqa: E731
    lines.append("| **mean ± sd** | " + " | ".join(f"**{v.mean():.4f} ± {sd(v):.4f}**"
                                                  for v in values.values()) + " |")
    lines.append("| min .. max | " + " | ".join(f"{v.min():.4f} .. {v.max():.4f}" for v in values.values()) + " |")
    no_aug = values["no_augmentation_accuracy"]
    full = values["full_augmentation_accuracy"]
    lines += ["", f"The no-augmentation cell spans {100 * (no_aug.max() - no_aug.min()):.1f} percentage points "
              f"over {len(rows)} seeds (sd {100 * sd(no_aug):.1f} pp); the full-augmentation cell "
              f"{100 * (full.max() - full.min()):.1f} pp. Job time per seed (the featurizer, features, scores and "
              f"the three reference CNNs; the sum of their benchmark files' wall times): "
              f"{np.mean([row['seconds'] for row in rows]) / 60:.1f} min.", "", END]
    return lines


def write_section(lines: list[str], document: Path) -> None:
    """Replace the section, or add it after the retrain-mode section (before the appendix-policies, the
    ten-class section or "## Figures", whichever comes first)."""
    text = document.read_text()
    block = "\n".join(lines)
    if BEGIN in text:
        start, end = text.index(BEGIN), text.index(END) + len(END)
        text = text[:start] + block + text[end:]
    else:
        anchors = ["<!-- begin: appendix-policies section -->", "<!-- begin: ten-class section -->", "## Figures"]
        at = text.index(next(anchor for anchor in anchors if anchor in text))
        text = text[:at] + block + "\n\n" + text[at:]
    document.write_text(text)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--data-root", help="the folder holding mnist/ (the original IDX files)")
    parser.add_argument("--collect", action="store_true", help="only tabulate the finished runs in --workdir")
    parser.add_argument("--seeds", type=int, default=5)
    parser.add_argument("--workdir", default="reference-seeds", help="one working directory per seed inside")
    parser.add_argument("--cores", type=int, default=os.cpu_count())
    parser.add_argument("--document", default=str(ROOT / "docs/reproduction.md"))
    args = parser.parse_args()
    config = yaml.safe_load(CONFIG.read_text())
    dataset = next(iter(config["datasets"]))
    augmentation = next(iter(config["datasets"][dataset]["augmentations"]))
    if not args.collect and not args.data_root:
        parser.error("--data-root is required (or --collect)")
    rows = []
    for seed in range(args.seeds):
        workdir = Path(args.workdir).resolve() / f"seed{seed}"
        references = (collect(workdir, dataset, augmentation) if args.collect else
                      run_seed(workdir, dataset, augmentation, seed, str(Path(args.data_root).resolve()), args.cores))
        rows.append({"seed": seed, **references})
        print(f"seed {seed}: " + ", ".join(f"{label} {references[key]:.4f}" for key, label in CELLS)
              + f" ({references['seconds']:.0f} s)", flush=True)
    write_section(section(rows, dataset, augmentation), Path(args.document))
    print(f"wrote the reference-seeds section of {args.document}")


if __name__ == "__main__":
    main()
