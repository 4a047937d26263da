"""Shared helpers of the benchmark scripts: the machine, timing, result files.

Every benchmark script writes one JSON file under benchmarks/results/ with
``save(name, data)``; ``report.py`` renders all of them into docs/benchmarks.md.
Numbers are never typed into the document.
"""

from __future__ import annotations

import json
import os
import platform
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
RESULTS = ROOT / "benchmarks" / "results"


def machine() -> dict:
    """What the numbers were measured on."""
    cpu = "unknown"
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    mem_gib = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") / 2**30
    commit = subprocess.run(["git", "-C", str(ROOT), "rev-parse", "--short", "HEAD"],
                            capture_output=True, text=True).stdout.strip()
    return {"cpu": cpu, "cores": os.cpu_count(), "memory_gib": round(mem_gib, 1),
            "python": platform.python_version(), "platform": platform.platform(),
            "commit": commit, "date": time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime())}


def best_of(fn, repeats: int = 3, min_seconds: float = 0.0) -> float:
    """The smallest wall time of ``repeats`` calls of fn() (at least one call)."""
    best = float("inf")
    start = time.perf_counter()
    for i in range(max(1, repeats)):
        t0 = time.perf_counter()
        fn()
        best = min(best, time.perf_counter() - t0)
        if i + 1 >= repeats and time.perf_counter() - start >= min_seconds:
            break
    return best


PATH_OPTIONS = {"--data-root": "DATA_DIR", "--frozen-results": "RESULTS", "--workdir": "WORKDIR"}  # paths on the measuring machine


def published_argv(argv: list[str]) -> list[str]:
    """The command line as docs/benchmarks.md shows it: the values of the options that name paths on the
    measuring machine (``PATH_OPTIONS``) become their placeholders (--data-root DATA_DIR)."""
    out = []
    for i, arg in enumerate(argv):
        option = arg.split("=", 1)[0]
        if i > 0 and argv[i - 1] in PATH_OPTIONS:
            out.append(PATH_OPTIONS[argv[i - 1]])
        elif "=" in arg and option in PATH_OPTIONS:
            out.append(f"{option}={PATH_OPTIONS[option]}")
        else:
            out.append(arg)
    return out


def save(name: str, data: dict) -> Path:
    """Write benchmarks/results/<name>.json with the machine and the command that made it."""
    RESULTS.mkdir(parents=True, exist_ok=True)
    path = RESULTS / f"{name}.json"
    record = {"benchmark": name, "command": " ".join([Path(sys.executable).name] + published_argv(sys.argv)),
              "machine": machine(), **data}
    tmp = path.with_suffix(".json.tmp")
    tmp.write_text(json.dumps(record, indent=2, sort_keys=False) + "\n")
    tmp.replace(path)
    print(f"wrote {path.relative_to(ROOT)}")
    return path
