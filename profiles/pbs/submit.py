#!/usr/bin/env python3
"""Submit one Snakemake job to PBS Pro or Torque; print the job id (standard library only).

Called by the cluster-generic executor as ``submit.py <jobscript>``. The job's rule, threads and
resources come from the ``# properties = {...}`` line Snakemake writes into the jobscript; the site
settings are the ``pbs_*`` default resources of this profile. The job runs a wrapper that leaves an
exit record, so status.py knows how the job ended even after the server has forgotten it.
"""

from __future__ import annotations

import json
import re
import shlex
import signal
import subprocess
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from pbs_common import EXIT_DIR, LOG_DIR, SUBMITTED, job_name

WRAPPER = """#!/bin/bash
# ocrflow job wrapper: runs Snakemake's job script and leaves an exit record for status.py.
record_dir={exit_dir}
job_id=${{PBS_JOBID:-${{SLURM_JOB_ID:-unknown}}}}
leave_record() {{  # written whole, then renamed: never a half record
    tmp="$record_dir/.$job_id.tmp"
    printf 'exit=%s\\n' "$1" > "$tmp" && mv "$tmp" "$record_dir/$job_id"
}}
# What the submitting host planned with must be here at the same paths (a shared filesystem):
# else one line naming the path, not a Python traceback or "command not found".
need() {{
    [ -e "$2" ] && return 0
    echo "ocrflow: this node ($(hostname)) cannot see $1 $2: {shared}" >&2
    leave_record {missing} 2>/dev/null
    exit {missing}
}}
{checks}
# The scheduler sends TERM at walltime or on qdel: record a failure before going.
trap 'kill -TERM "$child" 2>/dev/null; wait "$child"; leave_record 143; exit 143' TERM INT
bash {jobscript} &
child=$!
wait "$child"
code=$?
leave_record "$code"
exit "$code"
"""


# The job's exit status when a planned path is missing on its node (sysexits' EX_NOINPUT).
MISSING_PATH = 66
# The words of ocrflow/run/environment.py's SHARED (this script imports nothing of ocrflow's: it
# runs
# with the login node's own Python).
SHARED = ("the checkout, its .venv, the conda envs, the models and the results must be on a "
          "filesystem every node shares, at the same paths (docs/clusters.md)")


def planned_paths(jobscript_text: str) -> list[tuple[str, str]]:
    """(what, path) of each path Snakemake's job command names: the working directory (``cd``),
    the Python of the submitting Snakemake (its venv), the Snakefile (the checkout) and the conda
    envs' prefix."""
    line = next((line for line in jobscript_text.splitlines() if "-m snakemake" in line), "")
    words = shlex.split(line)
    found = []
    for index, word in enumerate(words[:-1]):
        following = words[index + 1]
        if word == "cd":
            found.append(("the working directory", following))
        elif following == "-m" and words[index + 2:index + 3] == ["snakemake"]:
            found.append(("the workflow's Python", word))
        elif word == "--snakefile":
            found.append(("the checkout's Snakefile", following))
        elif word == "--conda-prefix":
            found.append(("the conda envs' folder", following))
    return found


def read_properties(jobscript: Path) -> dict:
    match = re.search(r"^# properties = (.*)$", jobscript.read_text(), re.MULTILINE)
    if not match:
        raise SystemExit(f"submit.py: no '# properties' line in {jobscript}")
    return json.loads(match.group(1))


def walltime(minutes: int) -> str:
    return f"{minutes // 60:02d}:{minutes % 60:02d}:00"


def resource_request(props: dict) -> list[str]:
    res = props["resources"]
    threads, gpus = int(props.get("threads", 1)), int(res.get("gpu", 0) or 0)
    mem, wall = f"{int(res.get('mem_mb', 1000))}mb", walltime(int(res.get("runtime", 60)))
    torque = res.get("pbs_flavour", "pbspro") == "torque"
    gpu_key = res.get("pbs_gpu_resource") or ("gpus" if torque else "ngpus")
    if torque:
        nodes = f"nodes=1:ppn={threads}" + (f":{gpu_key}={gpus}" if gpus else "")
        return ["-l", f"{nodes},mem={mem},walltime={wall}"]
    chunk = f"select=1:ncpus={threads}:mem={mem}" + (f":{gpu_key}={gpus}" if gpus else "")
    return ["-l", chunk, "-l", f"walltime={wall}"]


def qsub_command(props: dict, script: Path, log: Path) -> list[str]:
    res = props["resources"]
    gpus = int(res.get("gpu", 0) or 0)
    queue = res.get("pbs_gpu_queue") if gpus else res.get("pbs_cpu_queue")
    command = ["qsub", "-N", job_name(props)]
    if queue:
        command += ["-q", str(queue)]
    if res.get("pbs_account"):
        command += ["-A", str(res["pbs_account"])]
    command += resource_request(props)
    command += ["-o", str(log), "-j", "oe"]
    command += shlex.split(str(res.get("pbs_extra") or ""))
    return [*command, str(script)]


def main(jobscript: str) -> None:
    props = read_properties(Path(jobscript))
    name = job_name(props)
    scripts = LOG_DIR / "jobscripts"
    for folder in (scripts, EXIT_DIR, LOG_DIR / props["rule"]):
        folder.mkdir(parents=True, exist_ok=True)
    # Keep a copy: Snakemake removes its temporary job scripts when it stops.
    inner = scripts / f"{name}.{props['jobid']}.inner.sh"
    inner.write_text(Path(jobscript).read_text())
    wrapper = scripts / f"{name}.{props['jobid']}.sh"
    checks = "\n".join(f"need {shlex.quote(what)} {shlex.quote(path)}"
                       for what, path in planned_paths(inner.read_text()))
    wrapper.write_text(WRAPPER.format(exit_dir=shlex.quote(str(EXIT_DIR.resolve())),
                                      jobscript=shlex.quote(str(inner.resolve())),
                                      checks=checks, shared=SHARED, missing=MISSING_PATH))
    # Named by Snakemake's job id: the scheduler's is not known before submitting.
    log = (LOG_DIR / props["rule"] / f"{name}.{props['jobid']}.out").resolve()
    command = qsub_command(props, wrapper, log)
    # A Ctrl-C meant for Snakemake must not cut a submission in half: cancel.py cleans up.
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    for attempt in range(5):  # a busy server refuses now and then
        result = subprocess.run(command, capture_output=True, text=True)
        if result.returncode == 0 and result.stdout.strip():
            job_id = result.stdout.strip().splitlines()[0]
            with open(SUBMITTED, "a") as ledger:
                ledger.write(job_id + "\n")
            print(job_id)
            return
        time.sleep(2 ** attempt)
    raise SystemExit(f"qsub failed: {' '.join(command)}: {result.stderr.strip()}")


if __name__ == "__main__":
    main(sys.argv[-1])
