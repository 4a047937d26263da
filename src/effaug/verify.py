"""``effaug verify``: check every existing output of a configuration.

Each file under ``results/`` (logs and benchmarks aside) is read whole: an
HDF5 store's every dataset, a JSON or table parsed, a ``.keras`` archive's
CRCs, a PNG's end chunk, a PDF's end marker. Each cached file's provenance
record is compared with what the configuration gives. The workflow computes
the expected records itself (``workflow/rules/common.smk``), so this runs
Snakemake to parse the workflow, with ``EFFAUG_VERIFY`` naming a report file.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
from dataclasses import dataclass, field
from pathlib import Path

REPORT_VARIABLE = "EFFAUG_VERIFY"
SKIPPED = ("results/logs/", "results/benchmarks/")


class VerifyError(RuntimeError):
    """The workflow could not be parsed to verify its outputs."""


@dataclass
class Report:
    checked: int = 0
    bad: list[tuple[str, str]] = field(default_factory=list)
    foreign: list[str] = field(default_factory=list)
    removed: list[str] = field(default_factory=list)


def output_files(directory: str | Path = ".") -> list[str]:
    """Every file under ``results/`` of ``directory``, as paths relative to it
    (logs, benchmarks and hidden temporary files aside), sorted."""
    root = Path(directory)
    found = []
    for path in sorted((root / "results").rglob("*")):
        relative = path.relative_to(root).as_posix()
        if path.is_file() and not relative.startswith(SKIPPED) and not path.name.startswith("."):
            found.append(relative)
    return found


def report_path() -> str | None:
    """Where the workflow writes its verify report: set by :func:`verify` for
    the Snakemake process it starts (None in every other run)."""
    return os.environ.get(REPORT_VARIABLE) or None


def write_report(path: str | Path, checked: int, bad, foreign) -> None:
    Path(path).write_text(json.dumps({"checked": checked, "bad": bad, "foreign": foreign}))


def verify(snakefile: Path, config: str | Path | None, directory: str | Path = ".", fix: bool = False) -> Report:
    """Check the outputs in ``directory`` against ``config`` (the workflow's
    default config where None); with ``fix``, remove the bad files so that
    the next run rebuilds them."""
    directory = Path(directory).resolve()
    with tempfile.TemporaryDirectory() as tmp:
        report_path = Path(tmp) / "report.json"
        command = [sys.executable, "-m", "snakemake", "--snakefile", str(snakefile), "--directory", str(directory)]
        if config is not None:
            command += ["--configfile", str(Path(config).resolve())]
        command.append("--list-rules")  # parses the workflow (which writes the report), plans nothing
        env = {**os.environ, REPORT_VARIABLE: str(report_path)}
        result = subprocess.run(command, capture_output=True, text=True, env=env, cwd=directory)
        if not report_path.is_file():
            lines = [line for line in (result.stderr + result.stdout).splitlines() if line.strip()]
            raise VerifyError("the workflow could not be parsed with this config:\n" + "\n".join(lines[-15:]))
        raw = json.loads(report_path.read_text())
    report = Report(raw["checked"], [tuple(item) for item in raw["bad"]], raw["foreign"])
    if fix:
        for path, _ in report.bad:
            (directory / path).unlink(missing_ok=True)
            report.removed.append(path)
    return report


def describe(report: Report, fix: bool) -> str:
    lines = [f"checked {report.checked} files: {len(report.bad)} bad"]
    for path, problem in report.bad:
        lines.append(f"  BAD {problem}")
    if report.foreign:
        lines.append(f"{len(report.foreign)} cached file(s) belong to no dataset, augmentation or policy of this "
                     "config (left alone):")
        lines += [f"  {path}" for path in report.foreign]
    if report.removed:
        lines.append(f"removed {len(report.removed)} file(s); the next run rebuilds them")
    elif report.bad and not fix:
        lines.append("run `effaug verify --fix` to remove them; the next run rebuilds them")
    return "\n".join(lines)
