"""Process set-up shared by the workflow's jobs: logs, progress on the
console, thread counts, pinned CPU kernels, atomic writes."""

from __future__ import annotations

import contextlib
import logging
import os
import sys
import tempfile
import time
from collections.abc import Callable, Iterator, Mapping, MutableMapping
from pathlib import Path
from typing import TextIO

_BLAS_VARIABLES = ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS", "BLIS_NUM_THREADS")

# ---------------------------------------------------------------------------
# CPU kernels. OpenBLAS, NumPy's own SIMD loops and TensorFlow's oneDNN each
# pick their kernels by the CPU at run time, and the last bits of a result
# follow the kernels. Pinning all three (by environment variables read when
# each library loads) gives the same bits on every CPU that has the pinned
# instruction set. OpenCV's warps and resizes are bit-exact across its SIMD
# paths by design, so it needs no pin.

NATIVE = "native"
DEFAULT_KERNELS = {"openblas": "Haswell", "numpy": "AVX2", "onednn": "AVX2"}

# OpenBLAS DYNAMIC_ARCH core names (OPENBLAS_CORETYPE), x86-64 and 64-bit ARM
OPENBLAS_CORES = (
    "Prescott", "Core2", "Penryn", "Dunnington", "Nehalem", "Atom", "Sandybridge", "Haswell", "SkylakeX",
    "CooperLake", "SapphireRapids", "Zen", "Barcelona", "Bulldozer", "Piledriver", "Steamroller", "Excavator",
    "ARMV8", "CortexA53", "CortexA55", "CortexA57", "CortexA72", "CortexA73", "NeoverseN1", "NeoverseN2",
    "NeoverseV1", "NeoverseV2", "ThunderX", "ThunderX2T99", "TSV110", "EMAG8180", "FT2000", "A64FX",
    "CortexX1", "CortexX2", "CortexA510", "CortexA710", "AmpereOne",
)
# NumPy's x86 dispatch targets, in order; a level enables itself and those before it
NUMPY_LEVELS = ("SSSE3", "SSE41", "POPCNT", "SSE42", "AVX", "F16C", "FMA3", "AVX2",
                "AVX512F", "AVX512CD", "AVX512_SKX", "AVX512_CLX", "AVX512_CNL", "AVX512_ICL", "AVX512_SPR")
NUMPY_KERNELS = ("SSE42", "AVX", "AVX2", "AVX512_SKX", "AVX512_ICL")
# oneDNN's ONEDNN_MAX_CPU_ISA values (x86-64)
ONEDNN_KERNELS = ("SSE41", "AVX", "AVX2", "AVX2_VNNI", "AVX512_CORE", "AVX512_CORE_VNNI", "AVX512_CORE_BF16",
                  "AVX512_CORE_FP16", "AVX512_CORE_AMX")


class KernelError(RuntimeError):
    """The CPU kernels asked for (config ``resources.kernels``) are not the ones loaded."""


def check_kernel_names(kernels: Mapping[str, str]) -> None:
    """Raise ``ValueError`` naming the key if a value of ``resources.kernels`` is unknown."""
    allowed = {"openblas": OPENBLAS_CORES, "numpy": NUMPY_KERNELS, "onednn": ONEDNN_KERNELS}
    for key, value in kernels.items():
        if key not in allowed:
            raise ValueError(f"resources.kernels.{key}: unknown library; expected {', '.join(allowed)}")
        names = {name.lower(): name for name in allowed[key]}
        if value != NATIVE and str(value).lower() not in names:
            raise ValueError(f"resources.kernels.{key}: unknown value {value!r}; expected {NATIVE!r} or one of "
                             f"{', '.join(allowed[key])}")


def kernel_environment(kernels: Mapping[str, str]) -> dict[str, str | None]:
    """The environment variables that pin ``kernels`` (None: remove the
    variable). Libraries left ``native`` get no entry: they detect the CPU,
    or follow what the environment already says."""
    kernels = {**DEFAULT_KERNELS, **kernels}
    check_kernel_names(kernels)
    env: dict[str, str | None] = {}
    if kernels["openblas"] != NATIVE:
        env["OPENBLAS_CORETYPE"] = kernels["openblas"]
    if kernels["numpy"] != NATIVE:
        top = NUMPY_LEVELS.index(kernels["numpy"].upper())
        env["NPY_ENABLE_CPU_FEATURES"] = " ".join(NUMPY_LEVELS[: top + 1])
        env["NPY_DISABLE_CPU_FEATURES"] = None  # NumPy refuses both at once
    if kernels["onednn"] != NATIVE:
        env["ONEDNN_MAX_CPU_ISA"] = kernels["onednn"].upper()
        env["TF_ENABLE_ONEDNN_OPTS"] = "1"  # 0 switches TensorFlow to other (Eigen) kernels
    return env


def pin_kernels(kernels: Mapping[str, str], environ: MutableMapping[str, str] | None = None) -> dict:
    """Apply :func:`kernel_environment` to ``environ`` (``os.environ``): every
    process started from here on loads the pinned kernels. Returns what was set."""
    environ = os.environ if environ is None else environ
    env = kernel_environment(kernels)
    for name, value in env.items():
        if value is None:
            environ.pop(name, None)
        else:
            environ[name] = value
    return env


def loaded_kernels() -> dict[str, object]:
    """What this process runs: OpenBLAS core of every loaded OpenBLAS, NumPy's
    enabled dispatch targets, and the oneDNN ISA cap TensorFlow will read."""
    from numpy._core._multiarray_umath import __cpu_dispatch__, __cpu_features__
    from threadpoolctl import threadpool_info

    return {
        "openblas": sorted({(info["filepath"], info.get("architecture") or "?") for info in threadpool_info()
                            if info.get("internal_api") == "openblas"}),
        "numpy": [name for name in __cpu_dispatch__ if __cpu_features__.get(name)],
        "onednn": os.environ.get("ONEDNN_MAX_CPU_ISA"),
        "onednn_opts": os.environ.get("TF_ENABLE_ONEDNN_OPTS"),
    }


def check_kernels(kernels: Mapping[str, str]) -> None:
    """Raise :class:`KernelError` unless this process runs the kernels asked
    for. OpenBLAS and NumPy choose theirs when they load, so a process must be
    started with :func:`kernel_environment` (the workflow does this for every
    job); oneDNN reads its variable when TensorFlow first runs, so it is set
    here if TensorFlow has not been imported yet."""
    kernels = {**DEFAULT_KERNELS, **kernels}
    env = kernel_environment(kernels)
    fix = ("start the process with these variables set: "
           + " ".join(f"{k}={v!r}" if v is not None else f"(unset {k})" for k, v in env.items())
           + "; jobs of the workflow get them from the Snakefile")
    if "tensorflow" not in sys.modules:
        for name in ("ONEDNN_MAX_CPU_ISA", "TF_ENABLE_ONEDNN_OPTS"):
            if name in env:
                os.environ[name] = env[name]
    loaded = loaded_kernels()
    problems = []
    want = kernels["openblas"]
    if want != NATIVE:
        problems += [f"OpenBLAS {path} runs {core} kernels, resources.kernels.openblas is {want}"
                     for path, core in loaded["openblas"] if core.lower() != want.lower()]
    want = kernels["numpy"]
    if want != NATIVE:
        allowed = set(NUMPY_LEVELS[: NUMPY_LEVELS.index(want.upper()) + 1])
        extra = [name for name in loaded["numpy"] if name not in allowed]
        if extra:
            problems.append(f"NumPy dispatches to {', '.join(extra)}, resources.kernels.numpy is {want}")
    want = kernels["onednn"]
    if want != NATIVE and (loaded["onednn"] != want.upper() or loaded["onednn_opts"] != "1"):
        problems.append(f"TensorFlow was imported with ONEDNN_MAX_CPU_ISA={loaded['onednn']} and "
                        f"TF_ENABLE_ONEDNN_OPTS={loaded['onednn_opts']}, resources.kernels.onednn is {want}")
    if problems:
        raise KernelError("CPU kernels differ from the config: " + "; ".join(problems) + f". To fix: {fix}.")


def limit_threads(threads: int) -> None:
    """Cap every BLAS/OpenMP pool of this process (NumPy's and SciPy's OpenBLAS
    are separate libraries, and spinning pools fight over few cores)."""
    threads = max(1, int(threads))
    for name in _BLAS_VARIABLES:
        os.environ[name] = str(threads)
    from threadpoolctl import threadpool_limits

    threadpool_limits(threads)


# ---------------------------------------------------------------------------
# Progress of long loops (training epochs, feature extraction): a line now and
# then on the console, where Snakemake shows a job's stderr, and in the log.

PROGRESS_INTERVAL = 10.0  # seconds between two progress lines of a loop, besides its first and last
progress_log = logging.getLogger("effaug.progress")
# while redirect_output runs: the stderr the process started with (the console) and the job's name
_console: tuple[TextIO, str] | None = None


def job_name(log_path: str | os.PathLike) -> str:
    """The job a log file belongs to, for console lines: its path below the
    last ``logs`` folder without ``.log`` (``retrain/mnist/translate/loss/rand-prop``)."""
    parts = Path(log_path).with_suffix("").parts
    start = max((i + 1 for i, part in enumerate(parts[:-1]) if part == "logs"), default=len(parts) - 1)
    return "/".join(parts[start:])


def format_duration(seconds: float) -> str:
    """``42 s``, ``3 min 05 s``, ``2 h 07 min``."""
    seconds = max(0, round(seconds))
    if seconds < 60:
        return f"{seconds} s"
    if seconds < 3600:
        return f"{seconds // 60} min {seconds % 60:02d} s"
    return f"{seconds // 3600} h {seconds % 3600 // 60:02d} min"


def progress_line(what: str, done: int, total: int, elapsed: float) -> str:
    """``epoch 3/40, 1 min 02 s elapsed, 12 min 45 s left``: the time left
    assumes the remaining steps take as long as the done ones on average."""
    left = format_duration(elapsed / done * (total - done)) if done > 0 else "?"
    return f"{what} {done}/{total}, {format_duration(elapsed)} elapsed, {left} left"


class Progress:
    """Progress of a loop of ``total`` steps: :meth:`advance` writes a
    :func:`progress_line` to the console (``stream``, or the job's console
    under :func:`redirect_output`, else stderr) and to the log, for the first
    step, the last one and at most once every ``interval`` seconds between.
    ``clock`` gives the time in seconds."""

    def __init__(self, what: str, total: int, interval: float = PROGRESS_INTERVAL,
                 clock: Callable[[], float] = time.monotonic, stream: TextIO | None = None):
        self.what, self.total, self.interval, self.clock, self.stream = what, int(total), interval, clock, stream
        self.start = clock()
        self.done = 0
        self.last_report: float | None = None

    def advance(self, steps: int = 1) -> str | None:
        """Count ``steps`` more steps done and report if a report is due; returns the line reported, or None."""
        self.done += int(steps)
        now = self.clock()
        if self.last_report is not None and self.done < self.total and now - self.last_report < self.interval:
            return None
        self.last_report = now
        line = progress_line(self.what, self.done, self.total, now - self.start)
        progress_log.info(line)
        console, name = _console or (sys.stderr, "")
        print(f"[{name}] {line}" if name else line, file=self.stream or console, flush=True)
        return line


@contextlib.contextmanager
def redirect_output(log_path: str | os.PathLike) -> Iterator[None]:
    """Send this process's stdout and stderr, including output written by C
    libraries such as TensorFlow, to ``log_path`` (appending). Python's logging
    goes there too, one line per record with a time stamp. :class:`Progress`
    lines go to both the log and the stderr the process started with."""
    global _console
    log_path = Path(log_path)
    log_path.parent.mkdir(parents=True, exist_ok=True)
    sys.stdout.flush()
    sys.stderr.flush()
    saved = os.dup(1), os.dup(2)
    with open(log_path, "a", buffering=1) as log:
        os.dup2(log.fileno(), 1)
        os.dup2(log.fileno(), 2)
        old_streams = sys.stdout, sys.stderr
        sys.stdout = sys.stderr = log
        old_console, _console = _console, (os.fdopen(os.dup(saved[1]), "w", buffering=1), job_name(log_path))
        logging.basicConfig(
            level=logging.INFO, stream=log, force=True,
            format="%(asctime)s %(levelname)s %(name)s: %(message)s",
        )
        try:
            yield
        except BaseException:
            logging.getLogger("effaug").exception("job failed")
            raise
        finally:
            _console[0].close()
            _console = old_console
            sys.stdout, sys.stderr = old_streams
            os.dup2(saved[0], 1)
            os.dup2(saved[1], 2)
            os.close(saved[0])
            os.close(saved[1])


@contextlib.contextmanager
def job(log_path: str | os.PathLike, threads: int, kernels: Mapping[str, str],
        skip_teardown: bool = False) -> Iterator[None]:
    """The context every workflow script runs in: output to the log, BLAS
    pools capped at the rule's threads, and a check (before and after the
    work, since SciPy loads its own OpenBLAS when first used) that the
    process runs the CPU kernels of ``kernels`` (config ``resources.kernels``).

    ``skip_teardown`` (TensorFlow jobs): once the work has succeeded and the
    log is flushed, end the process at once with status 0 (``os._exit``):
    TensorFlow's interpreter teardown takes about 1.5 s and does nothing the
    job needs, since every output is already written and closed (atomically).
    A failure still raises and exits the usual way."""
    with redirect_output(log_path):
        check_kernels(kernels)
        limit_threads(threads)
        yield
        check_kernels(kernels)
    if skip_teardown:
        logging.shutdown()
        sys.stdout.flush()
        sys.stderr.flush()
        os._exit(0)


@contextlib.contextmanager
def atomic_output(path: str | os.PathLike) -> Iterator[Path]:
    """Yield a temporary path beside ``path`` (same suffix); rename it to
    ``path`` on success, delete it on failure, so a reader never sees a
    half-written file."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.stem}.", suffix=f".tmp{path.suffix}", dir=path.parent)
    os.close(fd)
    tmp = Path(tmp)
    umask = os.umask(0)
    os.umask(umask)
    os.chmod(tmp, 0o666 & ~umask)  # mkstemp makes 0600; outputs get the usual permissions
    try:
        yield tmp
        os.replace(tmp, path)
    finally:
        tmp.unlink(missing_ok=True)
