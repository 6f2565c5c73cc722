"""Progress lines for long jobs: counts, rate and time left, at most every few seconds."""

from __future__ import annotations

import logging
import threading
import time

log = logging.getLogger("ocrflow.progress")


class Progress:
    def __init__(self, label: str, total: int, unit: str = "pages", every_s: float = 10.0):
        self.label, self.total, self.unit, self.every_s = label, total, unit, every_s
        self.count = 0
        self.start = self._last = time.monotonic()
        self._mutex = threading.Lock()  # a concurrent engine's pages finish in another thread

    def advance(self, n: int = 1) -> None:
        with self._mutex:
            self.count += n
            now = time.monotonic()
            due = now - self._last >= self.every_s
            if due:
                self._last = now
        if due:
            log.info("%s", self.line())

    def rate(self) -> float:
        elapsed = time.monotonic() - self.start
        return self.count / elapsed if elapsed > 0 else 0.0

    def line(self) -> str:
        rate = self.rate()
        left = (self.total - self.count) / rate if rate > 0 else float("nan")
        return (f"{self.label}: {self.count}/{self.total} {self.unit}, "
                f"{rate:.2f} {self.unit}/s, about {left:.0f} s left")

    def done(self) -> None:
        elapsed = time.monotonic() - self.start
        log.info("%s: %d %s in %.1f s", self.label, self.count, self.unit, elapsed)
