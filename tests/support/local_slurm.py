"""A real Slurm on localhost, with Torque-compatible qsub/qstat/qdel, for the cluster tests.

Needs Debian's slurm-wlm, slurm-wlm-torque and munge (installed by `make test` / .ci/run) and
root. ``start()`` writes /etc/slurm/slurm.conf and starts munged, slurmctld and slurmd;
``stop()`` shuts them down again.
"""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import time
from pathlib import Path

CONF = Path("/etc/slurm/slurm.conf")
PARTITIONS = ("batch", "gpu")  # the CPU and the GPU queue of the profiles' site settings


def available() -> bool:
    return all(shutil.which(tool) for tool in ("slurmctld", "slurmd", "munged", "qsub", "sbatch"))


def _memory_mb() -> int:
    """What the node offers jobs: most of this machine's memory (a node that claims more than it
    has is drained by slurmd)."""
    total_kb = next(int(line.split()[1]) for line in Path("/proc/meminfo").read_text().splitlines()
                    if line.startswith("MemTotal:"))
    return int(total_kb / 1024 * 0.85)


def _conf(host: str, cpus: int, memory_mb: int) -> str:
    partitions = "\n".join(
        f"PartitionName={name} Nodes={host} Default={'YES' if name == 'batch' else 'NO'} "
        "MaxTime=INFINITE State=UP" for name in PARTITIONS)
    return f"""ClusterName=ocrflowtest
SlurmctldHost={host}
AuthType=auth/munge
ProctrackType=proctrack/linuxproc
TaskPlugin=task/none
SchedulerType=sched/backfill
SelectType=select/cons_tres
SelectTypeParameters=CR_Core_Memory
ReturnToService=2
SlurmctldPidFile=/run/slurmctld.pid
SlurmdPidFile=/run/slurmd.pid
SlurmdSpoolDir=/var/spool/slurmd
StateSaveLocation=/var/spool/slurmctld
SlurmUser=root
SlurmctldLogFile=/var/log/slurm/slurmctld.log
SlurmdLogFile=/var/log/slurm/slurmd.log
# Memory is enforced by polling each job's processes every second, as many sites do.
JobAcctGatherType=jobacct_gather/linux
JobAcctGatherFrequency=1
JobAcctGatherParams=OverMemoryKill
MpiDefault=none
KillWait=5
MinJobAge=3600
SchedulerParameters=sched_interval=2
NodeName={host} CPUs={cpus} RealMemory={memory_mb} State=UNKNOWN
{partitions}
"""


def _run(*command: str) -> None:
    subprocess.run(command, check=True, capture_output=True, timeout=60)


def start() -> None:
    host = socket.gethostname().split(".")[0]
    for folder in ("/etc/slurm", "/var/spool/slurmctld", "/var/spool/slurmd", "/var/log/slurm",
                   "/run/munge"):
        Path(folder).mkdir(parents=True, exist_ok=True)
    CONF.write_text(_conf(host, os.cpu_count() or 2, _memory_mb()))
    if not Path("/etc/munge/munge.key").exists():
        _run("mungekey", "-c", "-f")
    _run("chown", "-R", "munge:munge", "/etc/munge", "/run/munge", "/var/lib/munge",
         "/var/log/munge")
    if subprocess.run(["munge", "-n"], capture_output=True).returncode != 0:
        _run("su", "munge", "-s", "/bin/sh", "-c", "/usr/sbin/munged")
    stop()  # a controller left from an earlier run would hold the old configuration
    _run("/usr/sbin/slurmctld")
    _run("/usr/sbin/slurmd")
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        state = subprocess.run(["sinfo", "-h", "-o", "%t"], capture_output=True, text=True)
        if state.returncode == 0 and state.stdout.split() and all(
                s.strip("*") in ("idle", "mix", "alloc") for s in state.stdout.split()):
            return
        time.sleep(1)
    raise RuntimeError(f"slurm did not come up: {state.stdout} {state.stderr}")


def stop() -> None:
    subprocess.run(["scancel", "--user", "root"], capture_output=True)
    subprocess.run(["scontrol", "shutdown"], capture_output=True)
    for pidfile in ("/run/slurmd.pid", "/run/slurmctld.pid"):
        deadline = time.monotonic() + 20
        while Path(pidfile).exists() and time.monotonic() < deadline:
            time.sleep(0.5)
