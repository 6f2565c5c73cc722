#!/usr/bin/env python3
"""Tell Snakemake how a PBS job stands: prints exactly one of running, success, failed.

Called by the cluster-generic executor as ``status.py <job id>``. Standard library only.

Decision order:
1. The job's own exit record (left by the job wrapper, see submit.py): exit=0 is success,
   anything else failed. This is the only trusted source once a job has ended.
2. ``qstat -f``: queued, held, waiting, running, exiting, suspended are running. A finished job
   (Torque C, PBS Pro F/X) with an ``exit_status`` is decided by it. A finished job without one,
   or a job the server has already purged, waits a grace period for its exit record (shared
   filesystems are slow) and is failed if none appears: a job killed with SIGKILL (memory,
   node loss) leaves none.
3. A server that cannot be reached is asked again; if it still cannot, the answer is running,
   never success, and Snakemake asks again later.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from pbs_common import EXIT_DIR, STATE_DIR

RUNNING_STATES = set("QHWTREBSUM")  # queued held waiting transit running exiting begun susp.
FINISHED_STATES = set("CFX")  # Torque completed, PBS Pro finished, finished subjob
# How long a finished job's exit record may take to appear on a shared filesystem.
GRACE_S = float(os.environ.get("OCRFLOW_EXIT_RECORD_GRACE_S", "120"))
QSTAT_TRIES = 3
# qstat's exit code is the PBS error number modulo 256: 15001 unknown job (153), 15139 job
# finished and moved to history (35). Some wrappers print nothing and only exit with it.
UNKNOWN = ("unknown job id", "invalid job id")
UNKNOWN_EXIT = 153
HISTORY = "job has finished"
HISTORY_EXIT = 35


def exit_record(job_id: str) -> int | None:
    try:
        text = (EXIT_DIR / job_id).read_text()
    except FileNotFoundError:
        return None
    match = re.search(r"exit=(-?\d+)", text)
    return int(match.group(1)) if match else 1


def parse_qstat(text: str) -> tuple[str | None, int | None]:
    """(job_state letter, exit status) from ``qstat -f`` output of PBS Pro or Torque."""
    state = re.search(r"^\s*job_state\s*=\s*(\S)", text, re.MULTILINE)
    code = re.search(r"^\s*exit_status\s*=\s*(-?\d+)", text, re.MULTILINE | re.IGNORECASE)
    return (state.group(1) if state else None, int(code.group(1)) if code else None)


def qstat(job_id: str, *flags: str) -> tuple[str, str] | None:
    """('found', output), ('history', ...) for a PBS Pro job moved to history, ('unknown', ...)
    for a job the server does not know (any more), or None when the server cannot be reached."""
    for attempt in range(QSTAT_TRIES):
        try:
            result = subprocess.run(["qstat", *flags, "-f", job_id], capture_output=True,
                                    text=True, timeout=30)
        except (OSError, subprocess.TimeoutExpired):
            result = None
        if result is not None:
            message = (result.stdout + result.stderr).lower()
            if result.returncode == 0 and "job_state" in message:
                return "found", result.stdout
            if HISTORY in message or (result.returncode == HISTORY_EXIT and not message.strip()):
                return "history", message
            if any(marker in message for marker in UNKNOWN) or (
                    result.returncode == UNKNOWN_EXIT and not message.strip()):
                return "unknown", message
        if attempt + 1 < QSTAT_TRIES:
            time.sleep(2 ** attempt)
    return None


def finished_without_record(job_id: str, now: float) -> str:
    """Failed once the exit record has had GRACE_S to appear; running until then."""
    STATE_DIR.mkdir(parents=True, exist_ok=True)
    marker = STATE_DIR / job_id
    if not marker.exists():
        marker.write_text(f"{now}\n")
        return "running"
    return "failed" if now - float(marker.read_text()) >= GRACE_S else "running"


def decide(job_id: str, now: float | None = None) -> str:
    now = time.time() if now is None else now
    code = exit_record(job_id)
    if code is not None:
        return "success" if code == 0 else "failed"
    answer = qstat(job_id)
    if answer is None:
        return "running"  # server unreachable: never guess success
    kind, text = answer
    if kind == "history":  # PBS Pro keeps finished jobs behind -x
        kind, text = qstat(job_id, "-x") or answer
    if kind == "found":
        state, exit_status = parse_qstat(text)
        if state in RUNNING_STATES:
            return "running"
        if state in FINISHED_STATES and exit_status is not None:
            return "success" if exit_status == 0 else "failed"
    return finished_without_record(job_id, now)


if __name__ == "__main__":
    print(decide(sys.argv[1]))
