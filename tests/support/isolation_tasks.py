"""Tasks for the isolation tests; a module of its own so spawned workers can import it."""

from __future__ import annotations

import os
import signal
import time


def misbehave(task: str) -> str:
    if task == "hang":
        time.sleep(600)
    if task == "crash":
        os.kill(os.getpid(), signal.SIGSEGV)
    if task == "raise":
        raise ValueError("bad input\nsecond line")
    return task.upper()
