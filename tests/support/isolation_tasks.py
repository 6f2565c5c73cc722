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


def ocrflow_error(task: str) -> BaseException:
    """The error ``task`` names, as test_errors builds it; raised, or with "return " before the
    name, returned (so that it crosses the pipe as a pickled value)."""
    from ocrflow.engines.client import RequestFailed
    from ocrflow.inputs.corpus import InputError

    name = task.removeprefix("return ")
    error = (RequestFailed("engine x: server unreachable (3 attempts)", transient=True)
             if name == "request" else InputError(f"input: {name} cannot be used"))
    if task.startswith("return "):
        return error
    raise error
