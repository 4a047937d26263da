"""Result files are the same bytes on every run: no wall-clock field in them
(the timings have files of their own), and no drift of the last bit of a float
where a table is read and written again. That two runs give the same bytes is
``test_reruns.test_killed_run_resumes_to_byte_identical_results``."""

from __future__ import annotations

import io
import json
import shutil
from collections import Counter
from pathlib import Path

import numpy as np
import pandas as pd

from effaug import metrics as M
from tests.test_reruns import SMALL, is_timing
from tests.test_workflow import snakemake


def table_lines(path: Path) -> list[str]:
    """A TSV's or CSV's lines, without a leading ``# ...`` comment line."""
    return [line for line in path.read_text().splitlines() if not line.startswith("#")]


def test_result_files_hold_no_wall_clock_field(small_run):
    results = small_run / "results"
    checked = Counter()
    for path in sorted(results.rglob("*")):
        rel = str(path.relative_to(small_run))
        if not path.is_file() or is_timing(rel):
            continue
        if path.suffix == ".json":
            assert not [key for key in json.loads(path.read_text()) if "seconds" in key], rel
        elif path.suffix in (".csv", ".tsv"):
            assert "seconds" not in table_lines(path)[0], rel
        else:
            continue
        checked[path.name if path.name in ("curves.csv", "featurizer_history.tsv") else path.suffix] += 1
    # every budget result, both curves.csv levels and the featurizer history were looked at
    assert checked["curves.csv"] == 1 + 2 and checked["featurizer_history.tsv"] == 1 and checked[".json"] >= 2 * 16
    assert table_lines(results / "tiny/featurizer_history.tsv")[0] == "epoch\tloss\taccuracy\tn_images"

    # the seconds are in their own files: per epoch of the featurizer, per budget of every curve
    epochs = pd.read_csv(results / "tiny/featurizer_timings.tsv", sep="\t")
    assert list(epochs.columns) == ["epoch", "seconds"] and list(epochs["epoch"]) == [1]
    assert (epochs["seconds"] > 0).all()
    budgets = sorted(results.glob("tiny/*/*/*/seed*/budget*.json"))
    assert len(budgets) == 2 * 4 * 2 * 2  # augmentations x policies x seeds x budgets
    for curve in sorted({path.parent for path in budgets}):
        timings = pd.read_csv(curve / "timings.tsv", sep="\t")
        assert list(timings.columns) == ["budget", "rows", "fit_seconds"], curve
        assert list(timings["budget"]) == SMALL["experiment"]["budgets"] and (timings["fit_seconds"] > 0).all()
        rows = [json.loads((curve / f"budget{b}.json").read_text())["rows"] for b in timings["budget"]]
        assert list(timings["rows"]) == rows


def test_combined_curves_are_the_per_augmentation_rows_bit_for_bit(small_run):
    results = small_run / "results"
    parts = [table_lines(path) for path in sorted(results.glob("tiny/*/curves.csv"))]
    combined = table_lines(results / "curves.csv")
    assert len(parts) == 2 and all(part[0] == combined[0] for part in parts)
    # the text, line for line: every float written as read (a parser one ulp off changes the digits)
    assert Counter(combined[1:]) == Counter(line for part in parts for line in part[1:])
    # and so the numbers: every float column parsed exactly is the same array
    exact = pd.read_csv(results / "curves.csv", float_precision="round_trip")
    each = pd.concat([pd.read_csv(path, float_precision="round_trip")
                      for path in sorted(results.glob("tiny/*/curves.csv"))])
    key = ["augmentation", "score", "policy", "seed", "budget"]
    exact, each = (t.sort_values(key, kind="stable").reset_index(drop=True) for t in (exact, each))
    for column in exact.select_dtypes("float").columns:
        assert exact[column].equals(each[column]), column


def test_tables_read_back_every_float_exactly(small_run, tmp_path):
    """all_curves, auc_table and summary re-read curves.csv: with accuracies that
    pandas' default parser reads one ulp off, their outputs still follow from the exact values."""
    workdir = tmp_path / "run"
    shutil.copytree(small_run, workdir, symlinks=True, ignore=shutil.ignore_patterns("logs", "benchmarks"))
    rng = np.random.default_rng(0)
    tables = {}
    for path in sorted(workdir.glob("results/tiny/*/curves.csv")):
        table = pd.read_csv(path, float_precision="round_trip")
        table["accuracy"] = rng.uniform(0.5, 1.0, len(table))
        tables[path.parent.name] = table
        path.write_text(table.to_csv(index=False))
        assert (pd.read_csv(path)["accuracy"] != table["accuracy"]).any()  # the default parser is off
    augmentations = sorted(tables)
    targets = ["results/curves.csv", "results/tiny/summary.csv",
               *[f"results/tiny/{augmentation}/loss/auc.csv" for augmentation in augmentations]]
    result = snakemake(workdir, "--cores", "1", *targets)
    assert result.returncode == 0, result.stderr[-3000:]

    parts = [(workdir / f"results/tiny/{a}/curves.csv").read_text().splitlines() for a in augmentations]
    combined = (workdir / "results/curves.csv").read_text().splitlines()
    assert Counter(combined[1:]) == Counter(line for part in parts for line in part[1:])
    for augmentation, table in tables.items():
        auc = M.auc_table(table, "loss").to_csv(index=False)
        assert (workdir / f"results/tiny/{augmentation}/loss/auc.csv").read_text() == auc
    references = {a: json.loads((workdir / f"results/tiny/{a}/references.json").read_text()) for a in augmentations}
    summary = M.summary_table(pd.concat([tables[a] for a in augmentations]), references,
                              SMALL["experiment"]["summary_fractions"], SMALL["datasets"]["tiny"]["n_train"])
    assert (workdir / "results/tiny/summary.csv").read_text() == summary.to_csv(index=False)


def test_auc_and_summary_tables_are_computed_from_the_exact_curves(small_run):
    results = small_run / "results/tiny"
    references = {}
    curves = []
    for augmentation in sorted(SMALL["datasets"]["tiny"]["augmentations"]):  # the config file's order
        # the curves from the budget results themselves, never re-read from text
        table = M.collect_curves(sorted(results.glob(f"{augmentation}/*/*/seed*/budget*.json")),
                                 results / augmentation / "references.json", SMALL["experiment"]["scores"],
                                 SMALL["experiment"]["policies"])
        text = (results / augmentation / "curves.csv").read_text()
        written = pd.read_csv(io.StringIO(text), float_precision="round_trip")
        assert table.to_csv(index=False) == text and written.to_csv(index=False) == text
        auc = M.auc_table(table, "loss").to_csv(index=False)
        assert (results / augmentation / "loss/auc.csv").read_text() == auc, augmentation
        references[augmentation] = json.loads((results / augmentation / "references.json").read_text())
        curves.append(table)
    summary = M.summary_table(pd.concat(curves), references, SMALL["experiment"]["summary_fractions"],
                              SMALL["datasets"]["tiny"]["n_train"])
    assert (results / "summary.csv").read_text() == summary.to_csv(index=False)
