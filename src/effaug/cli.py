"""Command-line helpers: ``effaug slurm-status JOBID`` (the job-status command
of the cluster-generic profile)."""

from __future__ import annotations

import argparse
import subprocess
import sys
import time

RUNNING = {"PENDING", "CONFIGURING", "RUNNING", "COMPLETING", "REQUEUED", "RESIZING", "SUSPENDED", "STAGE_OUT",
           "SIGNALING", "REQUEUE_HOLD", "REQUEUE_FED", "RESV_DEL_HOLD", "STOPPED", "PREEMPTED"}


def slurm_state(job_id: str, attempts: int = 5, pause: float = 2.0) -> str:
    """running, success or failed, from ``sacct`` (falling back to ``scontrol``
    while accounting has not seen the job yet)."""
    for _ in range(attempts):
        out = subprocess.run(["sacct", "-X", "-n", "-P", "-j", job_id, "--format=State"],
                             capture_output=True, text=True)
        states = [line.split()[0] for line in out.stdout.splitlines() if line.strip()]
        if not states:
            out = subprocess.run(["scontrol", "show", "job", job_id], capture_output=True, text=True)
            for token in out.stdout.split():
                if token.startswith("JobState="):
                    states = [token.split("=", 1)[1]]
        if states:
            state = states[0].rstrip("+")
            if state == "COMPLETED":
                return "success"
            return "running" if state in RUNNING else "failed"
        time.sleep(pause)
    return "running"  # not known yet: ask again at the next status poll


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="effaug", description=__doc__)
    commands = parser.add_subparsers(dest="command", required=True)
    status = commands.add_parser("slurm-status", help="print running, success or failed for a SLURM job id")
    status.add_argument("job_id")
    args = parser.parse_args(argv)
    if args.command == "slurm-status":
        print(slurm_state(args.job_id.split(";")[0]))
    return 0


if __name__ == "__main__":
    sys.exit(main())
