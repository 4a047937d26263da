"""Provenance of cached files: which settings made a file, and is it whole.

Every cached file (``task.h5``, ``featurizer.keras``, ``features.h5``,
``scores.h5``, ``kernel.h5``, ``order.tsv``, ``budget<k>.json``,
``curve.json``, ``references.json``) carries a *record*::

    {"stage": "scores", "stages": {"task": {...}, "featurizer": {...}, ...}, "digest": "<sha256>"}

``stages`` holds the parameters of the stage that wrote the file and of every
stage upstream of it, so the record of a file is also a digest of its
inputs' provenance. A job compares each cached input's record with what the
current configuration expects (:func:`check_inputs`) before it reads it, and
the workflow compares existing files while it is planned, so a file made
under other settings, copied in or left behind, is never silently reused.

Where the record lives: an HDF5 attribute ``provenance`` (JSON), a key
``provenance`` of a JSON file, a first line ``# provenance: {...}`` of a TSV
file, and a member ``effaug_provenance.json`` of a ``.keras`` zip archive.
"""

from __future__ import annotations

import hashlib
import json
import zipfile
from collections.abc import Iterable, Mapping
from pathlib import Path

import numpy as np

KEY = "provenance"
TSV_PREFIX = f"# {KEY}: "
KERAS_MEMBER = "effaug_provenance.json"
REBUILD = "`effaug verify --fix` removes it, and the next run rebuilds it"


class ProvenanceError(ValueError):
    """A cached file is unreadable, or was made under other settings than the configuration's."""


def canonical(value):
    """``value`` as JSON would give it back (tuples become lists, keys strings)."""
    return json.loads(json.dumps(value, sort_keys=True))


def digest(stages: Mapping) -> str:
    return hashlib.sha256(json.dumps(canonical(stages), sort_keys=True, separators=(",", ":")).encode()).hexdigest()


def make_record(stage: str, stages: Mapping) -> dict:
    """The record of a file written by ``stage``; ``stages`` must include it."""
    stages = canonical(stages)
    if stage not in stages:
        raise ValueError(f"stage {stage!r} is not among the record's stages {sorted(stages)}")
    return {"stage": stage, "stages": stages, "digest": digest(stages)}


def cached_kind(path: str | Path) -> str | None:
    """The kind of record a cached file holds (its suffix), or None where it holds none."""
    suffix = Path(path).suffix
    return suffix if suffix in (".h5", ".json", ".tsv", ".keras") else None


def update_with_arrays(digest, arrays: Iterable[np.ndarray]) -> None:
    """Feed each array's dtype, shape and bytes (C order) to a ``hashlib`` digest."""
    for array in arrays:
        array = np.ascontiguousarray(array)
        digest.update(repr((array.dtype.str, array.shape)).encode())
        digest.update(memoryview(array).cast("B"))


# --------------------------------------------------------------------------
# Reading records and JSON files


def _unreadable(path, what) -> ProvenanceError:
    return ProvenanceError(f"{path}: {what}; the file is truncated or corrupt: {REBUILD}")


def read_json(path: str | Path) -> dict:
    """A cached JSON file (``budget<k>.json``, ``references.json``);
    ProvenanceError naming the file and how to rebuild it where it cannot be read."""
    path = Path(path)
    try:
        return json.loads(path.read_text())
    except FileNotFoundError:
        raise ProvenanceError(f"{path}: file not found") from None
    except (OSError, ValueError) as err:
        raise _unreadable(path, f"not readable JSON ({type(err).__name__}: {err})") from None


def read_record(path: str | Path) -> dict | None:
    """The record of a cached file, None where it has none. Raises
    :class:`ProvenanceError` naming the file where it cannot be read."""
    path = Path(path)
    kind = cached_kind(path)
    try:
        if kind == ".h5":
            import h5py

            with h5py.File(path, "r") as f:
                text = f.attrs.get(KEY)
            return None if text is None else json.loads(text)
        if kind == ".json":
            return json.loads(path.read_text()).get(KEY)
        if kind == ".tsv":
            with open(path) as f:
                first = f.readline()
            return json.loads(first[len(TSV_PREFIX):]) if first.startswith(TSV_PREFIX) else None
        if kind == ".keras":
            with zipfile.ZipFile(path) as archive:
                if KERAS_MEMBER not in archive.namelist():
                    return None
                return json.loads(archive.read(KERAS_MEMBER))
    except FileNotFoundError:
        raise ProvenanceError(f"{path}: file not found") from None
    except (OSError, ValueError, KeyError, zipfile.BadZipFile, UnicodeDecodeError, AttributeError) as err:
        raise _unreadable(path, f"cannot read its provenance ({type(err).__name__}: {err})") from None
    raise ValueError(f"{path}: not a cached file (no provenance record for suffix {path.suffix!r})")


def differences(recorded: Mapping, expected: Mapping, prefix: str = "") -> list[tuple[str, object, object]]:
    """(dotted key, recorded value, expected value) wherever two nested mappings differ."""
    out = []
    for key in sorted(set(recorded) | set(expected), key=str):
        name = f"{prefix}{key}"
        got, want = recorded.get(key, "<absent>"), expected.get(key, "<absent>")
        if isinstance(got, Mapping) and isinstance(want, Mapping):
            out += differences(got, want, f"{name}.")
        elif got != want:
            out.append((name, got, want))
    return out


def mismatch(record: Mapping | None, expected_stages: Mapping, *, whole: bool = False,
             partial: bool = False) -> str | None:
    """Why ``record`` does not fit the configuration, None where it does.

    ``whole``: the file must have exactly ``expected_stages`` (a file checked
    against its own expected record); otherwise its stages must agree with the
    ones of ``expected_stages`` they share (an input checked by the job that
    reads it) and its own stage must be one of them. ``partial``: only the
    stages both have are compared (a table or figure job that reads the
    files of many curves or augmentations checks what they have in common)."""
    if record is None:
        return "it has no provenance record (written by an older effaug, or not by effaug)"
    expected_stages = canonical(expected_stages)
    stages = record.get("stages", {})
    if partial:
        stages = {k: v for k, v in stages.items() if k in expected_stages}
        expected_stages = {k: v for k, v in expected_stages.items() if k in stages}
    elif not whole:
        if record.get("stage") not in expected_stages:
            return f"it was written by stage {record.get('stage')!r}, which this job does not read"
        expected_stages = {k: expected_stages.get(k, "<absent>") for k in stages}
    diffs = differences(stages, expected_stages)
    if not diffs:
        return None
    key, got, want = diffs[0]
    more = f" (and {len(diffs) - 1} more difference(s))" if len(diffs) > 1 else ""
    return f"it was made with {key} = {json.dumps(got)}, but the configuration gives {json.dumps(want)}{more}"


def stale_message(path, reason: str) -> str:
    return (f"{path}: {reason}. It was copied in or made under another configuration, and is not reused: "
            f"{REBUILD}, or restore the setting")


def check_inputs(paths: Iterable[str | Path], expected: Mapping, *, partial: bool = False) -> dict | None:
    """Check every cached input of a job against the job's expected
    provenance (``{"stage": ..., "stages": ...}``, the rule's ``provenance``
    parameter) and return the record its outputs carry (None for a
    ``partial`` check: tables and figures carry none). Files outside
    ``results/`` (the user's data and model files) carry no record."""
    problems = []
    for path in paths:
        path = Path(path)
        if cached_kind(path) is None or path.parts[:1] != ("results",):
            continue
        reason = mismatch(read_record(path), expected["stages"], partial=partial)
        if reason:
            problems.append(stale_message(path, reason))
    if problems:
        raise ProvenanceError("\n".join(problems))
    return None if partial else make_record(expected["stage"], expected["stages"])


# --------------------------------------------------------------------------
# Writing records


def h5_attrs(record: Mapping | None) -> dict:
    """The HDF5 attribute holding ``record`` (none without one)."""
    return {} if record is None else {KEY: json.dumps(record, sort_keys=True)}


def tsv_line(record: Mapping) -> str:
    return TSV_PREFIX + json.dumps(record, sort_keys=True)


def add_to_keras(path: str | Path, record: Mapping) -> None:
    """Append the record to a ``.keras`` archive (Keras ignores the member)."""
    with zipfile.ZipFile(path, "a") as archive:
        info = zipfile.ZipInfo(KERAS_MEMBER, date_time=(1980, 1, 1, 0, 0, 0))
        archive.writestr(info, json.dumps(record, sort_keys=True))


# --------------------------------------------------------------------------
# Integrity


def _check_png(path: Path) -> None:
    data = path.read_bytes()
    if not data.startswith(b"\x89PNG\r\n\x1a\n") or not data.rstrip(b"\0").endswith(b"IEND\xaeB`\x82"):
        raise ValueError("not a whole PNG image (no signature or no end chunk)")


def _check_pdf(path: Path) -> None:
    data = path.read_bytes()
    if not data.startswith(b"%PDF") or b"%%EOF" not in data[-1024:]:
        raise ValueError("not a whole PDF (no header or no end-of-file marker)")


def _check_h5(path: Path) -> None:
    import h5py

    with h5py.File(path, "r") as f:
        f.visititems(lambda name, obj: obj[()] if isinstance(obj, h5py.Dataset) else None)


def _check_table(path: Path) -> None:
    import pandas as pd

    pd.read_csv(path, sep="\t" if path.suffix == ".tsv" else ",", comment="#")


def _check_zip(path: Path) -> None:
    with zipfile.ZipFile(path) as archive:
        bad = archive.testzip()
    if bad:
        raise ValueError(f"member {bad} fails its CRC check")


CHECKS = {".h5": _check_h5, ".json": lambda p: json.loads(p.read_text()), ".tsv": _check_table,
          ".csv": _check_table, ".keras": _check_zip, ".png": _check_png, ".pdf": _check_pdf}


def integrity_problem(path: str | Path) -> str | None:
    """Why a file is not whole (reading every byte a reader would), None if it is."""
    path = Path(path)
    check = CHECKS.get(path.suffix)
    if check is None:
        return None
    try:
        if path.stat().st_size == 0:
            raise ValueError("empty file")
        check(path)
    except Exception as err:  # every reader's failure is a finding here, not a crash
        return f"{path}: cannot be read ({type(err).__name__}: {err}); the file is truncated or corrupt"
    return None
