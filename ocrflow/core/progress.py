"""Progress of long jobs: log lines with counts, rate and time left at most every few seconds; a
timeline of (time, count) samples; and, for OCR jobs, a small JSON file that a heartbeat thread
rewrites while the job runs, which ``python -m ocrflow status`` reads (ocrflow/run/status.py).

The progress file (``Layout.progress``) holds the job's ``fields`` (role, engine, shard, pages,
pages_from_text_layer, pages_stored, pages_to_ocr) and ``pages_done``, ``started`` and
``updated`` (unix seconds), ``finished``, ``error`` (the line a failed job ended with, or null),
``host``, ``pid`` and ``timeline``: ``[[unix seconds, pages done by this job], ...]``, the same
list the job's stats file gets.
"""

from __future__ import annotations

import json
import logging
import os
import signal
import socket
import threading
import time
from pathlib import Path
from typing import Any

from ocrflow.core import atomic
from ocrflow.core.records import error_line

log = logging.getLogger("ocrflow.core.progress")
TIMELINE_LIMIT = 480  # samples; a job of days keeps fewer than this (Timeline.add thins them)


class Timeline:
    """``[[unix seconds, count], ...]``: a sample at most every ``every_s`` seconds, the first
    and the last always. At ``limit`` samples every other one is dropped (the first and the last
    kept) and the spacing doubles, so a job of any length keeps fewer than ``limit``."""

    def __init__(self, every_s: float = 10.0, limit: int = TIMELINE_LIMIT):
        self.every_s, self.limit = every_s, limit
        self.samples: list[list[float | int]] = []

    def add(self, t: float, count: int, force: bool = False) -> None:
        if self.samples and not force and t - float(self.samples[-1][0]) < self.every_s:
            return
        self.samples.append([round(t, 2), count])
        if len(self.samples) >= self.limit:
            self.samples = [*self.samples[:-1:2], self.samples[-1]]
            self.every_s *= 2


class Progress:
    def __init__(self, label: str, total: int, unit: str = "pages", every_s: float = 10.0):
        self.label, self.total, self.unit, self.every_s = label, total, unit, every_s
        self.count = 0
        self.start = self._last = time.monotonic()
        self.started = time.time()  # unix seconds, for the timeline and the stats
        self.finished: float | None = None
        self.timeline = Timeline(every_s)
        self.timeline.add(self.started, 0)
        self._mutex = threading.Lock()  # a concurrent engine's pages finish in another thread

    def advance(self, n: int = 1) -> None:
        with self._mutex:
            self.count += n
            now = time.monotonic()
            due = now - self._last >= self.every_s
            if due:
                self._last = now
                self.timeline.add(time.time(), self.count)
        if due:
            log.info("%s", self.line())

    def sample(self) -> None:
        """A timeline sample now, if one is due (the heartbeat of a job whose pages are slow)."""
        with self._mutex:
            self.timeline.add(time.time(), self.count)

    def rate(self) -> float:
        elapsed = time.monotonic() - self.start
        return self.count / elapsed if elapsed > 0 else 0.0

    def line(self) -> str:
        rate = self.rate()
        left = (self.total - self.count) / rate if rate > 0 else float("nan")
        return (f"{self.label}: {self.count}/{self.total} {self.unit}, "
                f"{rate:.2f} {self.unit}/s, about {left:.0f} s left")

    def finish(self) -> None:
        """The end: the last timeline sample, the finishing time; no log line."""
        with self._mutex:
            if self.finished is None:
                self.finished = time.time()
                self.timeline.add(self.finished, self.count, force=True)

    def done(self) -> None:
        self.finish()
        elapsed = time.monotonic() - self.start
        log.info("%s: %d %s in %.1f s", self.label, self.count, self.unit, elapsed)

    def times(self) -> dict[str, Any]:
        """What a job's stats file gets: started, finished (unix seconds) and the timeline."""
        with self._mutex:
            return {"started": round(self.started, 2),
                    "finished": round(self.finished or time.time(), 2),
                    "timeline": [list(s) for s in self.timeline.samples]}


def ended_by(exc: BaseException) -> str:
    """The line a progress file keeps of why its job stopped: the signal that stopped it
    (server.py turns SIGTERM and SIGINT into SystemExit), or the exception's own line."""
    code = exc.code if isinstance(exc, SystemExit) else None
    if isinstance(code, int) and 128 < code < 128 + signal.NSIG:
        return f"stopped by {signal.Signals(code - 128).name}"
    return "stopped by SIGINT" if isinstance(exc, KeyboardInterrupt) else error_line(exc)


def progress_record(progress: Progress, fields: dict[str, Any], finished: bool = False,
                    error: str | None = None) -> dict[str, Any]:
    """What a progress file holds (the module's docstring says each key)."""
    times = progress.times()
    return {**fields, "pages_done": progress.count, "started": times["started"],
            "updated": round(time.time(), 2), "finished": finished, "error": error,
            "host": socket.gethostname(), "pid": os.getpid(), "timeline": times["timeline"]}


class ProgressFile:
    """A job's ``progress`` in a JSON file at ``path``, rewritten atomically every ``every_s``
    seconds by a daemon thread (so a job waiting on its model server still shows it is alive)
    and once by ``close``. Writing it never fails the job: an error is logged once."""

    def __init__(self, path: Path, progress: Progress, fields: dict[str, Any],
                 every_s: float = 10.0):
        self.path, self.progress, self.fields, self.every_s = path, progress, fields, every_s
        self._stop = threading.Event()
        self._lock = threading.Lock()
        self._warned = False
        self.write()
        self._thread = threading.Thread(target=self._beat, name="progress-file", daemon=True)
        self._thread.start()

    def _beat(self) -> None:
        while not self._stop.wait(self.every_s):
            self.progress.sample()
            self.write()

    def write(self, final: bool = False, error: str | None = None) -> None:
        data = progress_record(self.progress, self.fields, final, error)
        with self._lock:
            if self._stop.is_set() and not final:
                return  # a heartbeat that lost the race with close() never undoes its write
            try:
                atomic.write_text(self.path, json.dumps(data) + "\n")
            except OSError as exc:
                if not self._warned:
                    log.warning("cannot write the progress file %s: %s", self.path, exc)
                    self._warned = True

    def close(self, error: str | None = None) -> None:
        """The last write: finished, with the line the job failed with (None: it succeeded)."""
        self._stop.set()
        self.progress.finish()
        self._thread.join(timeout=5)
        self.write(final=True, error=error)
