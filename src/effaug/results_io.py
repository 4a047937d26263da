"""The small result files of the workflow's jobs: budget results, curves
(every budget of a curve, ``curve.json``) and references (JSON), static
orders (``order.tsv``) and wall-clock timings (``timings.tsv``), each with its
provenance record (:mod:`effaug.provenance`)."""

from __future__ import annotations

import json
from collections.abc import Mapping
from pathlib import Path

import numpy as np

from effaug.provenance import KEY, tsv_line
from effaug.runtime import atomic_output


def write_json(path, obj: Mapping, record: Mapping | None = None) -> None:
    """``obj`` as JSON, with its provenance ``record`` (effaug.provenance) where given."""
    obj = {**obj, KEY: record} if record is not None else obj
    with atomic_output(path) as tmp:
        tmp.write_text(json.dumps(obj, indent=1, sort_keys=True) + "\n")


TIMINGS = ("fit_seconds", "cnn_seconds", "cnn_shared")  # a budget result's fields that vary by run


def pop_timings(result: dict) -> dict:
    """Take the fields that vary by run (``TIMINGS``: wall-clock seconds, and in retrain mode whether the
    CNN came from the cache) out of a budget result, so that its file holds the same bytes on every run;
    return them with the budget and the rows fitted, a row of :func:`write_timings`."""
    return {"budget": result["budget"], "rows": result["rows"],
            **{key: result.pop(key) for key in TIMINGS if key in result}}


def write_timings(path, rows: list[dict]) -> None:
    """A TSV of the rows of :func:`pop_timings`, one per budget (``timings.tsv``)."""
    columns = list(rows[0])
    with atomic_output(path) as tmp:
        lines = ["\t".join(columns)] + ["\t".join(str(row[c]) for c in columns) for row in rows]
        tmp.write_text("\n".join(lines) + "\n")


def write_curve(path, results: list[dict], record: Mapping | None = None) -> None:
    """``curve.json``: every budget result of one curve (``{"curve": [...]}``, without the points chosen,
    which are in the ``budget<k>.json`` files): what the curve tables read."""
    write_json(path, {"curve": [{k: v for k, v in r.items() if k not in ("points", "paths")} for r in results]},
               record)


def write_curve_files(files: Mapping[str, str], curve: list[dict], fields: Mapping, names=None,
                      record: Mapping | None = None) -> None:
    """The files of one curve (``files``: name -> path): ``budget<k>.json`` per result of ``curve``, with
    ``fields`` (the curve's dataset, augmentation, score, policy, seed, mode) and, where the points are files
    (``names``), their paths; ``curve.json``; ``timings.tsv``, what varies by run, taken out of the results."""
    timings = [pop_timings(result) for result in curve]
    for result in curve:
        result.update(fields)
        write_json(files[f"budget{result['budget']}.json"], name_points(result, names), record)
    write_curve(files["curve.json"], curve, record)
    write_timings(files["timings.tsv"], timings)


def files_by_curve(paths) -> dict:
    """A curve job's output files grouped by curve folder (``.../<policy>/seed<s>/<name>``):
    ``{(policy, s): {name: path}}``."""
    files = {}
    for path in paths:
        *_, policy, seed, name = Path(path).parts
        files.setdefault((policy, int(seed.removeprefix("seed"))), {})[name] = path
    return files


ORDER_HEADER = "rank\tpoint\tscore"


def write_order(path, order: np.ndarray, scores: np.ndarray | None, names=None,
                record: Mapping | None = None) -> None:
    """One line per rank: the point, where the policy uses one its score, and
    where the points are files (``names``, one per training point) the point's
    path; first, where given, a comment line with the provenance ``record``."""
    with atomic_output(path) as tmp:
        lines = [tsv_line(record)] if record is not None else []
        lines.append(ORDER_HEADER + ("\tpath" if names is not None else ""))
        for rank, point in enumerate(order):
            line = f"{rank}\t{point}\t{'' if scores is None else repr(float(scores[point]))}"
            lines.append(line + (f"\t{names[point]}" if names is not None else ""))
        tmp.write_text("\n".join(lines) + "\n")


def read_order(path) -> np.ndarray:
    lines = [line for line in Path(path).read_text().splitlines() if not line.startswith("#")]
    if not lines or lines[0] not in (ORDER_HEADER, ORDER_HEADER + "\tpath"):
        raise ValueError(f"{path}: not an order file (expected the header 'rank, point, score[, path]')")
    return np.array([int(line.split("\t")[1]) for line in lines[1:]], dtype=np.int64)


def name_points(result: dict, names) -> dict:
    """Add the chosen points' file paths (``paths``) to a budget result, where the points are files."""
    if names is not None:
        result["paths"] = [names[i] for i in result["points"]]
    return result
