"""One error type: what a user is told when ocrflow stops, and the status it exits with.

Every exception ocrflow raises for a user to act on derives from ``OcrflowError``: its message
(``str(error)``) is the line the user reads, naming what to change, and ``exit_status`` is the
status the process exits with. Every entry point (``python -m ocrflow``, the rules' jobs in
``ocrflow.run.entrypoints``, the Snakefile's start in ``rules/common.smk``) hands such an error to
``report``, which writes it and returns that status; no traceback, which would bury the line.
"""

from __future__ import annotations

import logging
import sys
from typing import Any, ClassVar

# The prefix of the command line's lines (python -m ocrflow); a job's log and the Snakefile's
# start write the line as it is (their output already says where it comes from).
PROGRAM = "ocrflow: "


class OcrflowError(Exception):
    """An error a user acts on: ``str(error)`` is its line (or lines, each one complete),
    ``exit_status`` what the process exits with (1: the run failed; 2: the command or the
    configuration is to be changed)."""

    exit_status: ClassVar[int] = 1

    def __reduce__(self) -> tuple[Any, ...]:
        # Rebuilt without calling the class's __init__, whose arguments may not be its args
        # (RequestFailed's keyword ``transient``): the line and any attribute set survive a
        # pickle, as across a process boundary.
        return (_rebuilt, (type(self), self.args, self.__dict__))


def _rebuilt(cls: type[OcrflowError], args: tuple[Any, ...],
             state: dict[str, Any]) -> OcrflowError:
    # BaseException's __new__, which every class here has as its own (a built-in base's, such as
    # MemoryError's, refuses to make a subclass); it sets args, no __init__ runs.
    error = BaseException.__new__(cls, *args)
    error.__dict__.update(state)
    return error


class UsageError(OcrflowError):
    """A command-line argument that cannot be used; the message names it."""

    exit_status = 2


def say(text: str, prefix: str = PROGRAM, log: logging.Logger | None = None) -> None:
    """``text`` for the user, each of its lines after ``prefix``: into ``log`` (a job's log) or
    on stderr."""
    lines = "\n".join(prefix + line for line in text.splitlines() or [""])
    if log is not None:
        log.error("%s", lines)
    else:
        print(lines, file=sys.stderr)


def report(error: OcrflowError, prefix: str = PROGRAM, log: logging.Logger | None = None) -> int:
    """Tell the user ``error`` (see ``say``); the status to exit with."""
    say(str(error), prefix, log)
    return error.exit_status
