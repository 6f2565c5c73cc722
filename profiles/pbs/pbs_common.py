"""What submit.py and status.py share: where job logs and exit records live, job names."""

from __future__ import annotations

from pathlib import Path

LOG_DIR = Path("logs/cluster")  # relative to Snakemake's working directory
EXIT_DIR = LOG_DIR / "exit"  # <job id>: "exit=<code>", written by the job wrapper as it ends
STATE_DIR = LOG_DIR / "status"  # when status.py first saw a job finished without a record
# Every job id qsub returned, written before Snakemake is told: a Ctrl-C that lands during a
# submission still finds the job (Snakemake locks its working directory: one run at a time).
SUBMITTED = LOG_DIR / "submitted.txt"


def job_name(props: dict) -> str:
    """ocrflow.<rule>.<shard>: readable in qstat, within PBS's 236-character limit."""
    wildcards = ".".join(str(v) for v in props.get("wildcards", {}).values())
    name = f"ocrflow.{props['rule']}" + (f".{wildcards}" if wildcards else "")
    return name[:236]
