"""Which GPUs this job may use.

Under a batch scheduler (SLURM, PBS) the job owns what CUDA_VISIBLE_DEVICES names. On a box without
one (profiles/local with ``--resources gpu=N``) Snakemake only counts GPUs; here each job takes
distinct ids by locking one file per GPU, held until the job's process ends (even by SIGKILL), so
two jobs never share a GPU.
"""

from __future__ import annotations

import fcntl
import os
import shutil
import subprocess
import tempfile
import time
from pathlib import Path
from typing import IO

SCHEDULER_VARS = ("SLURM_JOB_ID", "PBS_JOBID", "LSB_JOBID")


def visible_gpus() -> list[str]:
    """GPU ids this process may see: CUDA_VISIBLE_DEVICES, else what nvidia-smi lists."""
    declared = os.environ.get("CUDA_VISIBLE_DEVICES")
    if declared is not None:
        return [g for g in declared.split(",") if g.strip() and g.strip() != "NoDevFiles"]
    if shutil.which("nvidia-smi"):
        result = subprocess.run(["nvidia-smi", "--query-gpu=index", "--format=csv,noheader"],
                                capture_output=True, text=True, timeout=60)
        if result.returncode == 0:
            return [line.strip() for line in result.stdout.splitlines() if line.strip()]
    return []


def memory_mib(gpu: str) -> int | None:
    """Total memory of one GPU (an index or UUID as CUDA_VISIBLE_DEVICES names it), from
    nvidia-smi; None where it cannot be asked."""
    if not shutil.which("nvidia-smi"):
        return None
    result = subprocess.run(["nvidia-smi", "--query-gpu=memory.total", "--format=csv,noheader,"
                             "nounits", "-i", gpu], capture_output=True, text=True, timeout=60)
    try:
        return int(float(result.stdout.split()[0])) if result.returncode == 0 else None
    except (IndexError, ValueError):
        return None


def under_scheduler() -> bool:
    return any(os.environ.get(name) for name in SCHEDULER_VARS)


class GpuSlots:
    """Hold ``count`` GPUs of ``candidates`` exclusively among the jobs on this machine."""

    def __init__(self, lock_dir: str | Path | None = None) -> None:
        default = os.environ.get("OCRFLOW_GPU_LOCK_DIR") or \
            Path(tempfile.gettempdir()) / f"ocrflow-gpus-{os.getuid()}"
        self.lock_dir = Path(lock_dir or default)
        self._held: list[IO[str]] = []

    def acquire(self, candidates: list[str], count: int, timeout_s: float = 3600) -> list[str]:
        if count > len(candidates):
            raise RuntimeError(f"{count} GPUs asked for, {len(candidates)} visible")
        self.lock_dir.mkdir(parents=True, exist_ok=True)
        deadline = time.monotonic() + timeout_s
        while True:
            taken = []
            for gpu in candidates:
                handle = open(self.lock_dir / f"gpu-{gpu}.lock", "a")  # noqa: SIM115
                try:
                    fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
                except BlockingIOError:
                    handle.close()
                    continue
                self._held.append(handle)
                taken.append(gpu)
                if len(taken) == count:
                    return taken
            self.release()  # all or nothing, so two jobs cannot each hold half
            if time.monotonic() > deadline:
                raise RuntimeError(f"no {count} free GPUs among {candidates} after "
                                   f"{timeout_s:g} s")
            time.sleep(1)

    def release(self) -> None:
        for handle in self._held:
            handle.close()
        self._held.clear()


def assign(count: int, slots: GpuSlots) -> list[str]:
    """The GPUs this job uses: all the scheduler gave it, or ``count`` locked ones here."""
    gpus = visible_gpus()
    if not gpus:
        return []
    if under_scheduler():
        return gpus[:count] if count else gpus
    return slots.acquire(gpus, count)


def cuda_index(gpus: list[str]) -> int:
    """The torch device index of the first GPU a job holds, among those it can see."""
    visible = visible_gpus()
    return visible.index(gpus[0]) if gpus and gpus[0] in visible else 0
