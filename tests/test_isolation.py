"""A task that hangs, crashes its process or raises costs only itself."""

from __future__ import annotations

import time

from ocrflow.isolation import IsolatedPool
from tests.isolation_tasks import misbehave


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
