"""A task that hangs, crashes its process, raises or passes its memory limit costs only itself."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path

import pytest

from ocrflow.inputs.isolation import (
    MIN_WORKER_MB,
    IsolatedPool,
    MemoryLimit,
    TooLarge,
    worker_limit,
)
from tests.support.isolation_tasks import misbehave


def test_hang_crash_and_error_are_reported_and_the_rest_completes() -> None:
    tasks = ["a", "hang", "b", "crash", "c", "raise", "d"]
    started = time.monotonic()
    with IsolatedPool(misbehave, workers=2, timeout_s=3) as pool:
        outcomes = {o.task: o for o in pool.imap_unordered(tasks)}
    assert time.monotonic() - started < 30
    assert set(outcomes) == set(tasks)
    for name in "abcd":
        assert outcomes[name].ok and outcomes[name].value == name.upper()
    assert outcomes["hang"].error == "timed out after 3 s"
    assert outcomes["crash"].error == "worker crashed (exit -11)"
    assert outcomes["raise"].error == "ValueError: bad input"


def test_workers_are_reused_and_stopped() -> None:
    pool = IsolatedPool(misbehave, workers=1, timeout_s=10)
    results = [o.value for o in pool.imap_unordered(iter(["x", "y", "z"]))]
    assert sorted(results) == ["X", "Y", "Z"]
    processes = [w.process for w in pool._idle]
    assert len(processes) == 1
    pool.close()
    assert not processes[0].is_alive()


def hog(task: str) -> str:
    """Memory-hungry tasks for the limit tests (importable: spawned workers run it)."""
    if task == "grow":  # touched 64 MB blocks, up to 4 GB: far past any limit here
        blocks = [b"x" * (64 << 20) for _ in range(64)]
        return str(len(blocks))
    if task == "abort":  # what PDFium does when an allocation fails
        os.abort()
    if task == "refuse":
        raise TooLarge("too large: an image of 9 x 9 pixels")
    return task.upper()


def test_a_task_past_the_memory_limit_is_too_large_and_the_rest_completes() -> None:
    limit = MemoryLimit(400, job_mb=2000)
    tasks = ["a", "grow", "b", "abort", "c", "refuse", "d"]
    with IsolatedPool(hog, workers=2, timeout_s=30, memory=limit) as pool:
        outcomes = {o.task: o for o in pool.imap_unordered(tasks)}
    for name in "abcd":
        assert outcomes[name].ok and outcomes[name].value == name.upper()
        assert not outcomes[name].too_large
    exceeded = "too large: needed more than 400 MB (limit from the job's mem_mb 2000)"
    for name in ("grow", "abort"):
        assert not outcomes[name].ok and outcomes[name].too_large
        assert outcomes[name].error == exceeded
    assert outcomes["refuse"].too_large
    assert outcomes["refuse"].error == "too large: an image of 9 x 9 pixels"


def test_without_a_limit_an_abort_is_a_crash() -> None:
    with IsolatedPool(hog, workers=1, timeout_s=30) as pool:
        [outcome] = pool.imap_unordered(["abort"])
    assert outcome.error == "worker crashed (exit -6)" and not outcome.too_large


def test_the_limit_holds_the_worker_s_resident_memory() -> None:
    """The workers' peak, as the kernel counts it for the job (its children's largest RSS)."""
    script = (
        "import resource\n"
        "from ocrflow.inputs.isolation import IsolatedPool, MemoryLimit\n"
        "from tests.test_isolation import hog\n"
        "if __name__ == '__main__':\n"
        "    with IsolatedPool(hog, 1, 60, memory=MemoryLimit(600)) as pool:\n"
        "        print([o.too_large for o in pool.imap_unordered(['grow', 'grow'])])\n"
        "    print(resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss // 1024)\n")
    done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True,
                          check=True, cwd=Path(__file__).parent.parent)
    flags, peak_mb = done.stdout.splitlines()
    assert flags == "[True, True]"
    assert int(peak_mb) <= 600 + 16  # what a worker had resident at start counts in the 600


@pytest.mark.parametrize(("job_mb", "workers", "expected"), [
    (2000, 1, MemoryLimit(1232, 2000)),  # the inventory job: its parent holds the word lists
    (8000, 8, MemoryLimit(872, 8000)),
    (600, 4, MemoryLimit(MIN_WORKER_MB, 600)),  # tiny: the floor
    (None, 1, None),  # no memory declared: no limit
    ("<TBD>", 1, None),
])
def test_worker_limit_from_the_job_s_memory(job_mb: object, workers: int,
                                            expected: MemoryLimit | None) -> None:
    reserve = 768 if workers == 1 else 1024
    assert worker_limit(job_mb, workers, reserve) == expected
