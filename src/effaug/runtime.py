"""Process set-up shared by the workflow's jobs: logs, thread counts, atomic writes."""

from __future__ import annotations

import contextlib
import logging
import os
import sys
import tempfile
from collections.abc import Iterator
from pathlib import Path

_BLAS_VARIABLES = ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS", "BLIS_NUM_THREADS")


def limit_threads(threads: int) -> None:
    """Cap every BLAS/OpenMP pool of this process (NumPy's and SciPy's OpenBLAS
    are separate libraries, and spinning pools fight over few cores)."""
    threads = max(1, int(threads))
    for name in _BLAS_VARIABLES:
        os.environ[name] = str(threads)
    from threadpoolctl import threadpool_limits

    threadpool_limits(threads)


@contextlib.contextmanager
def redirect_output(log_path: str | os.PathLike) -> Iterator[None]:
    """Send this process's stdout and stderr, including output written by C
    libraries such as TensorFlow, to ``log_path`` (appending). Python's logging
    goes there too, one line per record with a time stamp."""
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
            sys.stdout, sys.stderr = old_streams
            os.dup2(saved[0], 1)
            os.dup2(saved[1], 2)
            os.close(saved[0])
            os.close(saved[1])


@contextlib.contextmanager
def job(log_path: str | os.PathLike, threads: int) -> Iterator[None]:
    """The context every workflow script runs in: output to the log, BLAS
    pools capped at the rule's threads."""
    with redirect_output(log_path):
        limit_threads(threads)
        yield


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
