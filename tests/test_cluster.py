"""The cluster profiles on a real SLURM (scripts/slurm-up.sh; .ci/run brings it up).

Skipped, with the reason, where no SLURM answers: `make test` on a machine
without one. The jobs must really go through sbatch (sacct lists them) and
give the same results as a local run of the same config.
"""

from __future__ import annotations

import os
import shutil
import subprocess

import pytest

from tests.conftest import REPO
from tests.test_reruns import SMALL, comparable
from tests.test_workflow import snakemake


def slurm_available() -> str | None:
    """None when sbatch, sinfo and sacct answer; else why not."""
    if not shutil.which("sbatch"):
        return "no sbatch on PATH (bring a SLURM up with scripts/slurm-up.sh)"
    if not os.environ.get("SLURM_CONF") and not os.path.exists("/etc/slurm/slurm.conf"):
        return "no SLURM configuration (source the env.sh that scripts/slurm-up.sh writes)"
    for command in (["sinfo", "-h"], ["sacct", "-n", "-X", "--starttime", "now"]):
        if subprocess.run(command, capture_output=True, timeout=30).returncode != 0:
            return f"`{' '.join(command)}` fails: SLURM or its accounting is not running"
    return None


REASON = slurm_available()
pytestmark = pytest.mark.skipif(REASON is not None, reason=f"no SLURM here: {REASON}")


def sacct_job_names() -> set[str]:
    out = subprocess.run(["sacct", "-X", "-n", "-P", "--starttime", "now-1days", "--format=JobID,JobName,State"],
                         capture_output=True, text=True, check=True).stdout
    return {line.split("|")[0] for line in out.splitlines() if line.strip()}


@pytest.fixture(scope="module")
def local_run(small_run):
    return small_run


def cluster_env() -> dict:
    """The venv first on PATH (jobs and `effaug slurm-status` run from it), SLURM's config."""
    import sys
    from pathlib import Path

    env = {"PATH": f"{Path(sys.executable).parent}:{os.environ['PATH']}"}
    if "SLURM_CONF" in os.environ:
        env["SLURM_CONF"] = os.environ["SLURM_CONF"]
    return env


@pytest.mark.parametrize("profile", ["slurm", "cluster-generic"])
def test_profile_submits_through_sbatch_and_matches_a_local_run(profile, local_run, tmp_path):
    before = sacct_job_names()
    extra = ["--default-resources", "slurm_account=effaug"] if profile == "slurm" else []
    # a one-node test cluster: group jobs may use 2 cores and 20 GB (layers beyond that run in series)
    result = snakemake(tmp_path, "--profile", str(REPO / "profiles" / profile), "--cores", "2",
                       "--resources", "mem_mb=20000", *extra, config=SMALL, env=cluster_env())
    assert result.returncode == 0, (result.stdout + result.stderr)[-4000:]
    submitted = sacct_job_names() - before
    assert len(submitted) >= 5, f"sacct lists only {submitted}"
    differences = [name for name, value in comparable(tmp_path).items() if comparable(local_run).get(name) != value]
    assert comparable(tmp_path).keys() == comparable(local_run).keys()
    assert differences == []
