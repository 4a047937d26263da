"""Benchmarks 3-6 of the workflow itself: overhead, planning, the MNIST grid end to end, scaling.

    python benchmarks/workflow.py overhead   # the default config from scratch: CPU of Snakemake vs the jobs
    python benchmarks/workflow.py planning   # snakemake -n on config/paper.yaml, three datasets (fixtures)
    python benchmarks/workflow.py grid       # the MNIST frozen paper grid on DATA_DIR, from scratch

Each writes benchmarks/results/<name>.json; benchmarks/report.py renders docs/benchmarks.md.
"""

from __future__ import annotations

import argparse
import copy
import glob
import json
import os
import re
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import pandas as pd
import yaml

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _common import ROOT, save  # noqa: E402

BIN = Path(sys.executable).parent
SNAKEMAKE = str(BIN / "snakemake")
DEFAULT_DATA = ROOT / "resources"

# Runs snakemake in this process's child and reports the child's own CPU
# (RUSAGE_SELF: the scheduler, all its threads) apart from its jobs' (RUSAGE_CHILDREN).
MEASURED_SNAKEMAKE = r"""
import json, resource, sys
from snakemake.cli import main
try:
    main(sys.argv[2:])
finally:
    own, jobs = resource.getrusage(resource.RUSAGE_SELF), resource.getrusage(resource.RUSAGE_CHILDREN)
    with open(sys.argv[1], "w") as f:
        json.dump({"snakemake_cpu": own.ru_utime + own.ru_stime, "jobs_cpu": jobs.ru_utime + jobs.ru_stime}, f)
"""


def run_snakemake(workdir: Path, configfile: Path, *args: str, cores: int | None = None) -> dict:
    """Run the workflow in workdir; wall, Snakemake's own CPU and its jobs' CPU."""
    rusage = configfile.parent / "rusage.json"
    cores = cores or os.cpu_count()
    command = [sys.executable, "-c", MEASURED_SNAKEMAKE, str(rusage), "-s", str(ROOT / "Snakefile"),
               "--directory", str(workdir), "--configfile", str(configfile), "--cores", str(cores), *args]
    env = {**os.environ, "TF_CPP_MIN_LOG_LEVEL": "2", "PATH": f"{BIN}:{os.environ['PATH']}"}
    start = time.perf_counter()
    result = subprocess.run(command, cwd=workdir, env=env, capture_output=True, text=True)
    wall = time.perf_counter() - start
    if result.returncode != 0:
        sys.exit(f"snakemake failed:\n{result.stderr[-4000:]}")
    usage = json.loads(rusage.read_text())
    jobs = re.search(r"(\d+) of (\d+) steps \(100%\) done", result.stderr)
    return {"wall": wall, **usage, "jobs": int(jobs[2]) if jobs else None, "cores": cores,
            "threads": job_threads(result.stderr)}


def job_threads(log: str) -> dict[str, int]:
    """Each job's threads, by its benchmark file, from Snakemake's job blocks (``threads:`` is printed
    only where it is above 1)."""
    threads = {}
    for block in re.split(r"\n(?=(?:local)?rule \w+:\n)", log):
        benchmark = re.search(r"^\s+benchmark: (\S+)$", block, re.M)
        if benchmark:
            count = re.search(r"^\s+threads: (\d+)$", block, re.M)
            threads[benchmark[1]] = int(count[1]) if count else 1
    return threads


def packing_floor(bench: pd.DataFrame, threads: dict[str, int], cores: int) -> float:
    """The shortest wall any schedule of the jobs in ``threads`` (one run's) could reach on ``cores`` cores at
    their measured durations: the sum of every job's wall x threads over the cores (Snakemake gives a job
    its threads' cores for its whole run)."""
    missing = sorted(set(threads) - set(bench["path"]))
    if missing:
        sys.exit(f"no benchmark file for {len(missing)} jobs of Snakemake's log, e.g. {missing[0]}")
    ran = bench[bench["path"].isin(threads)]  # this run's jobs (a --workdir may hold older ones)
    return float((ran["s"] * ran["path"].map(threads)).sum() / cores)


def benchmark_files(workdir: Path, dataset: str | None = None) -> pd.DataFrame:
    """Every job's benchmark file (only those of ``dataset`` if given), with its rule."""
    rows = []
    for path in glob.glob(str(workdir / "results/benchmarks/**/*.tsv"), recursive=True):
        parts = Path(path).relative_to(workdir / "results/benchmarks").parts
        if dataset and not (len(parts) > 1 and parts[1].removesuffix(".tsv") == dataset):
            continue
        table = pd.read_csv(path, sep="\t")
        table["rule"] = parts[0].removesuffix(".tsv")
        table["path"] = str(Path(path).relative_to(workdir))
        rows.append(table)
    table = pd.concat(rows, ignore_index=True)
    table["cpu_time"] = pd.to_numeric(table["cpu_time"], errors="coerce")
    return table


def job_start_cpu(repeats: int = 7) -> float:
    """CPU seconds of what every job process pays before its work: the interpreter,
    Snakemake's script preamble and the imports of a selection job."""
    code = "from snakemake import script; import h5py, numpy; from effaug import experiment, features, runtime"
    best = float("inf")
    for _ in range(repeats):
        before = resource.getrusage(resource.RUSAGE_CHILDREN)
        subprocess.run([sys.executable, "-c", code], check=True)
        after = resource.getrusage(resource.RUSAGE_CHILDREN)
        best = min(best, after.ru_utime + after.ru_stime - before.ru_utime - before.ru_stime)
    return best


OVERHEAD_NOTE = ("The same run had 1773 jobs once (one process per budget; 613 s wall, 1117 CPU s), then 240 "
                 "(one `selection` job per curve, every budget in it), then 108 (one selection job per "
                 "(augmentation, score, policy) with the curves of all its seeds), then 78 (the six det-* "
                 "policies of an (augmentation, score) in one job too); now the CNN epoch timings run once per "
                 "dataset, on the copies of the augmentation with the most per point, instead of once per "
                 "augmentation (76 jobs; at cdaffeb the three timing jobs took 68.5 s). The result files stay "
                 "one folder per curve, and these changes kept their bytes. Then the Newton fits moved from LU "
                 "to Cholesky with simplified-Newton last steps (f1d7c6a; selection jobs 187.7 -> 154.5 s) and "
                 "the figures stopped importing seaborn (8dc62b3; accuracy figures 18.6 -> 8.7 s), 201.6 s wall "
                 "before, 173.5-178.8 s in three runs after (206.8 s in a fourth while the machine ran slower: "
                 "jobs' CPU 333 s against 286-292 s): every accuracy, chosen point and order stayed the same, "
                 "the score values in scores.h5 and order.tsv moved in their last digits, and 2 of 1608 budgets "
                 "report one Newton iteration fewer. Those runs were on an AMD EPYC; the run below is on an "
                 "Intel Xeon, where f2049ad took 171.2 s (selection jobs 155.8 s of job time) and 4749e8e, "
                 "whose curves take the full augmentation's fit of scores.h5 at their all-points budget (500 "
                 "here, the largest) where they do not down-weight, 147.5 s (selection jobs 119.4 s).")

GRID_NOTE = ("The Cholesky/simplified-Newton solver (f1d7c6a) took the selection jobs from 337.9 to 277.7 s of "
             "job time (wall 6.4 -> 5.7 min at 1e819e1 -> 8dc62b3). Then (4749e8e) a curve's budget that augments "
             "every point without down-weighting takes the full augmentation's fit of scores.h5 instead of "
             "fitting the same minimiser again (129 of the 1608 budgets; 46.6 of the 232 s of fits): 5.6 -> 5.5 "
             "min (floors 5.4 and 5.3; f2049ad gave 5.6 min on this Intel Xeon as on the AMD EPYC before), "
             "every accuracy and point the same, those budgets' n_iter 0. Then (e2b198f) config/paper-offline.yaml times the cost figure's CNN "
             "epochs at config/config.yaml's 4 sizes x 2 epochs instead of the schema's 6 x 3 (epoch_timing "
             "95.4 -> 46.3 s; an epoch cost 0.68-0.71 ms per image at all six sizes): 4.4 min at e2b198f and "
             "the run below, whose result files (budget JSONs, curves, tables, orders) are the bytes of the "
             "5.5-min run's. Left: the "
             "selection jobs' Newton fits (about 190 s of 1-thread time, dsyrk near this CPU's peak), the CNN "
             "training, the features and the epoch timings.")

FLOOR_NOTE = ("Floor: no schedule of these jobs, at the wall times they took, ends sooner than the sum of "
              "each job's wall time x its threads over the cores, since Snakemake reserves a job's threads for "
              "its whole run (threads from Snakemake's job list). A run near its floor loses little to "
              "scheduling; a shorter run needs less work in the jobs themselves.")


def overhead(args) -> None:
    with tempfile.TemporaryDirectory(prefix="effaug-overhead-") as tmp:
        workdir = Path(tmp)
        configfile = workdir / "config.yaml"
        configfile.write_bytes((ROOT / "config/config.yaml").read_bytes())
        run = run_snakemake(workdir, configfile)
        bench = benchmark_files(workdir)
    start_cpu = job_start_cpu()
    total = run["snakemake_cpu"] + run["jobs_cpu"]
    starts = start_cpu * len(bench)
    overhead_cpu = run["snakemake_cpu"] + starts
    by_rule = (bench.groupby("rule").agg(jobs=("s", "size"), wall=("s", "sum"), cpu=("cpu_time", "sum"))
               .sort_values("wall", ascending=False))
    fraction = overhead_cpu / total
    floor = packing_floor(bench, run["threads"], run["cores"])
    save("overhead", {
        "title": "3. Workflow overhead on the default config",
        "description": (
            "`make run`'s workflow from scratch (embedded MNIST subset, 3 augmentations, loss and influence, "
            "12 configurations + VSV, 5 seeds, 8 budgets) with `--cores "
            f"{os.cpu_count()}` in a fresh directory. Snakemake runs in a child process that reports its own "
            "CPU (`RUSAGE_SELF`: DAG, scheduling, bookkeeping) apart from the CPU of its jobs "
            "(`RUSAGE_CHILDREN`). Every job is a fresh Python process that first pays the interpreter, "
            "Snakemake's script preamble and NumPy/h5py/effaug imports; that cost is measured separately "
            "(an empty job's imports, best of 7) and counted as overhead too. The work inside the jobs is the "
            "rest; the jobs' wall times from their benchmark files are shown for comparison (their `cpu_time` "
            "is sampled every 0.5 s and misses short jobs)."),
        "tables": [
            {"caption": "The run", "columns": ["quantity", "value"], "rows": [
                ["jobs", int(len(bench))],
                ["wall (s)", round(run["wall"], 1)],
                ["total CPU (s)", round(total, 1)],
                ["Snakemake's own CPU (s)", round(run["snakemake_cpu"], 1)],
                ["jobs' CPU (s)", round(run["jobs_cpu"], 1)],
                ["process start + imports per job (CPU s)", round(start_cpu, 3)],
                ["process starts + imports, all jobs (CPU s)", round(starts, 1)],
                ["overhead: Snakemake + process starts (CPU s)", round(overhead_cpu, 1)],
                ["overhead, share of total CPU", f"{100 * fraction:.1f}%"],
                ["sum of job wall times from the benchmark files (s)", round(float(bench['s'].sum()), 1)],
                [f"floor: the jobs' wall x threads over {run['cores']} cores (s)", round(floor, 1)],
            ]},
            {"caption": "Job wall time by rule (benchmark files)", "columns": ["rule", "jobs", "wall (s)"],
             "rows": [[rule, int(r.jobs), round(float(r.wall), 1)] for rule, r in by_rule.iterrows()]},
        ],
        "targets": [{"target": "overhead <= 15% of total CPU", "measured": f"{100 * fraction:.1f}%",
                     "met": bool(fraction <= 0.15)},
                    {"target": "the default run <= 3 min wall on 2 cores",
                     "measured": f"{run['wall'] / 60:.1f} min (floor of its jobs: {floor / 60:.1f} min)",
                     "met": bool(run["wall"] <= 180)}],
        "notes": [FLOOR_NOTE, OVERHEAD_NOTE],
    })


def planning(args) -> None:
    sys.path.insert(0, str(ROOT))
    from tests.conftest import write_paper_fixtures

    with tempfile.TemporaryDirectory(prefix="effaug-planning-") as tmp:
        workdir = Path(tmp)
        write_paper_fixtures(workdir / "data")
        config = yaml.safe_load((ROOT / "config/paper.yaml").read_text())
        config["data_root"] = str(workdir / "data")
        (workdir / "paper.yaml").write_text(yaml.safe_dump(config))
        command = [SNAKEMAKE, "-s", str(ROOT / "Snakefile"), "--directory", str(workdir),
                   "--configfile", str(workdir / "paper.yaml"), "-n"]
        times, jobs = [], None
        for _ in range(args.repeats):
            start = time.perf_counter()
            result = subprocess.run(command, cwd=workdir, capture_output=True, text=True)
            times.append(time.perf_counter() - start)
            if result.returncode != 0:
                sys.exit(f"snakemake -n failed:\n{result.stderr[-4000:]}")
            text = result.stdout + result.stderr
            jobs = int(re.search(r"^total\s+(\d+)", text, re.M)[1])
    best = min(times)
    floor = snakemake_floor(jobs, args.repeats)
    save("planning", {
        "title": "4. Planning the paper's grid",
        "description": (
            "`snakemake -n` (full dry-run output) on `config/paper.yaml` with all three datasets present as "
            "small fixture files in the real formats (MNIST IDX, the CIFAR-10 python archive, smallNORB .mat; "
            "`tests/conftest.py: write_paper_fixtures`), from the command's start to its exit, best of "
            f"{args.repeats}. This includes parsing and validating the config, checking classes and sizes "
            "against the data, building the DAG and printing every job."),
        "tables": [{"caption": "snakemake -n", "columns": ["workflow", "jobs", "seconds (best)", "all runs (s)"],
                    "rows": [["effaug, config/paper.yaml", jobs, round(best, 2), ", ".join(f"{t:.2f}" for t in times)],
                             ["Snakemake's floor: one trivial rule, as many jobs", jobs, round(min(floor), 2),
                              ", ".join(f"{t:.2f}" for t in floor)]]}],
        "targets": [{"target": "snakemake -n on config/paper.yaml <= 8 s", "measured": f"{best:.1f} s ({jobs} jobs)",
                     "met": bool(best <= 8)}],
        "notes": [],
    })


TRIVIAL = """
rule all:
    input: expand("out/{{a}}/budget{{i}}.json", a=range({groups}), i=range(8))
rule budget:
    input: "in/{{a}}.txt"
    output: "out/{{a}}/budget{{i}}.json"
    log: "logs/{{a}}/{{i}}.log"
    benchmark: "benchmarks/{{a}}/{{i}}.tsv"
    threads: 1
    resources: mem_mb=1000, runtime=10
    shell: "touch {{output}}"
rule source:
    output: "in/{{a}}.txt"
    shell: "touch {{output}}"
"""


def snakemake_floor(jobs: int, repeats: int) -> list[float]:
    """snakemake -n on a trivial workflow with about as many jobs: what any workflow of that size costs."""
    with tempfile.TemporaryDirectory(prefix="effaug-floor-") as tmp:
        groups = max(1, round((jobs - 1) / 9))  # 8 budgets + 1 source per group
        (Path(tmp) / "Snakefile").write_text(TRIVIAL.format(groups=groups))
        times = []
        for _ in range(repeats):
            start = time.perf_counter()
            subprocess.run([SNAKEMAKE, "-n", "--workflow-profile", "none"], cwd=tmp, capture_output=True, check=True)
            times.append(time.perf_counter() - start)
    return times


def grid(args) -> None:
    workdir = Path(args.workdir).resolve() if args.workdir else Path(tempfile.mkdtemp(prefix="effaug-grid-"))
    if (workdir / "results" / "mnist_3v8").exists():
        sys.exit(f"{workdir}/results/mnist_3v8 exists: the grid benchmark measures a run from scratch; "
                 "remove it or pass another --workdir")
    config = yaml.safe_load((ROOT / "config/paper-offline.yaml").read_text())
    config["datasets"] = {"mnist_3v8": config["datasets"]["mnist_3v8"]}
    # the 12 configurations and VSV (clustered and k-DPP policies are beyond the paper's main grid)
    config["experiment"]["policies"] = [p for p in config["experiment"]["policies"]
                                        if not p.startswith(("clustered", "kdpp"))]
    # in a --workdir the data_root is kept as given, so that the same config later finds these results
    config["data_root"] = args.data_root if args.workdir else str(Path(args.data_root).resolve())
    workdir.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix="effaug-grid-config-") as tmp:
        configfile = Path(tmp) / "mnist-grid.yaml"
        configfile.write_text(yaml.safe_dump(config))
        run = run_snakemake(workdir, configfile)
    save_grid(workdir, run, timing_workload(config))


def timing_workload(config: dict) -> str:
    """The CNN epoch timing a config asks for, as sizes x timed epochs (the schema's defaults where unset)."""
    from snakemake.utils import validate

    config = copy.deepcopy(config)
    validate(config, str(ROOT / "workflow/schemas/config.schema.yaml"), set_default=True)
    timing = config["experiment"]["epoch_timing"]
    return f"{len(timing['fractions'])} sizes x {timing['repeats']} epochs" if timing["enabled"] else "off"


def save_grid(workdir: Path, run: dict, timing: str) -> None:
    bench = benchmark_files(workdir, "mnist_3v8")
    stages = bench.groupby("rule").agg(jobs=("s", "size"), wall=("s", "sum")).sort_values("wall", ascending=False)
    fits = []
    for path in glob.glob(str(workdir / "results/mnist_3v8/*/*/*/seed*/timings.tsv")):  # budget, rows, fit_seconds
        fits.append(pd.read_csv(path, sep="\t").assign(augmentation=Path(path).parts[-5]))
    fits = pd.concat(fits)[["rows", "fit_seconds", "augmentation"]]
    fits = fits[fits.fit_seconds > 0]  # budgets that took the full augmentation's fit of scores.h5 fit nothing
    big = fits[fits.rows >= 2000]
    slope = float(np.polyfit(np.log(big.rows), np.log(big.fit_seconds), 1)[0])
    bins = pd.cut(fits.rows, [0, 1500, 3000, 6000, 10000, 16000])
    per_bin = fits.groupby(bins, observed=True).agg(budgets=("rows", "size"), rows=("rows", "median"),
                                                   fit=("fit_seconds", "median"))
    minutes = run["wall"] / 60
    floor = packing_floor(benchmark_files(workdir), run["threads"], run["cores"])
    save("grid", {
        "title": "5. End to end: the MNIST frozen paper grid",
        "description": (
            "`config/paper-offline.yaml` restricted to MNIST 3 vs 8 (the original IDX files in "
            "`DATA_DIR/mnist`): CNN training, features of 3 augmentations, scores, references, the 12 "
            "configurations x loss and influence x 5 seeds (1 for deterministic policies) x 8 budgets "
            "(1..1000) and VSV, tables and figures, and the cost figure's CNN epoch timing "
            f"({timing}); from scratch with `--cores {os.cpu_count()}`."),
        "tables": [
            {"caption": "The run", "columns": ["jobs", "wall (min)", "floor (min)", "Snakemake CPU (s)",
                                               "jobs' CPU (s)"],
             "rows": [[run["jobs"], round(minutes, 1), round(floor / 60, 1), round(run["snakemake_cpu"], 1),
                       round(run["jobs_cpu"], 1)]]},
            {"caption": "Wall time by stage (benchmark files; two jobs run at a time)",
             "columns": ["rule", "jobs", "wall (s)"],
             "rows": [[rule, int(r.jobs), round(float(r.wall), 1)] for rule, r in stages.iterrows()]},
            {"caption": "6. Scaling: one budget's logistic-regression fit against its training rows "
                        "(originals + copies), from the curves' timings.tsv files",
             "columns": ["rows (median)", "budgets", "fit seconds (median)"],
             "rows": [[int(r.rows), int(r.budgets), round(float(r.fit), 4)] for _, r in per_bin.iterrows()]},
        ],
        "targets": [{"target": "MNIST frozen paper grid <= 5 min wall",
                     "measured": f"{minutes:.1f} min (floor of its jobs: {floor / 60:.1f} min; epoch timing "
                                 f"{timing})",
                     "met": bool(minutes <= 5)}],
        "notes": [FLOOR_NOTE, GRID_NOTE, f"Fit time against rows (>= 2000 rows): log-log slope {slope:.2f}."],
        "scaling": {"fit_rows_slope": slope},
    })
    print(f"results in {workdir}/results")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = parser.add_subparsers(dest="command", required=True)
    sub.add_parser("overhead").set_defaults(func=overhead)
    p = sub.add_parser("planning")
    p.add_argument("--repeats", type=int, default=3)
    p.set_defaults(func=planning)
    p = sub.add_parser("grid")
    p.add_argument("--data-root", default=str(DEFAULT_DATA), help="folder holding mnist/ (default resources/)")
    p.add_argument("--workdir", help="run here instead of a temporary directory (must not hold the grid yet)")
    p.set_defaults(func=grid)
    args = parser.parse_args()
    args.func(args)


if __name__ == "__main__":
    main()
