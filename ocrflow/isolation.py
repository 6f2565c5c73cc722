"""Run risky work (opening and rendering untrusted PDFs) in worker processes.

A task that hangs past its time limit, or crashes its worker (a segfault in the PDF library), costs
only that task: the worker is killed and replaced, the task is reported as failed with a reason,
and the other tasks go on.
"""

from __future__ import annotations

import contextlib
import multiprocessing as mp
import time
from collections import deque
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from multiprocessing.connection import Connection, wait
from typing import Any

from ocrflow.records import error_line

# spawn, not fork: the parent may hold threads and PDFium state that a fork would copy broken.
_CONTEXT = mp.get_context("spawn")


@dataclass
class Outcome:
    task: Any
    ok: bool
    value: Any = None  # the function's result when ok
    error: str = ""  # one line when not ok


def _serve(conn: Connection, func: Callable[[Any], Any]) -> None:
    while True:
        try:
            task = conn.recv()
        except EOFError:
            return
        if task is None:
            return
        try:
            conn.send((True, func(task)))
        except Exception as exc:  # reported to the parent as this task's failure
            conn.send((False, error_line(exc)))


class _Worker:
    def __init__(self, func: Callable[[Any], Any]) -> None:
        self.conn, child = _CONTEXT.Pipe()
        self.process = _CONTEXT.Process(target=_serve, args=(child, func), daemon=True)
        self.process.start()
        child.close()
        self.task: Any = None
        self.deadline = 0.0

    def kill(self) -> None:
        self.process.kill()
        self.process.join()
        self.conn.close()


class IsolatedPool:
    """``workers`` processes running ``func`` on tasks, each task under ``timeout_s``.

    ``func`` must be importable (a module-level function) because workers are spawned.
    """

    def __init__(self, func: Callable[[Any], Any], workers: int = 1, timeout_s: float = 60):
        self.func = func
        self.size = max(1, workers)
        self.timeout_s = timeout_s
        self._idle: list[_Worker] = []

    def _spawn(self) -> _Worker:
        return self._idle.pop() if self._idle else _Worker(self.func)

    def imap_unordered(self, tasks: Iterable[Any], prefetch: int = 0) -> Iterator[Outcome]:
        """Yield one Outcome per task, in completion order; at most ``size`` run at once.

        Tasks are pulled from ``tasks`` lazily (``prefetch`` beyond the running ones), so a
        generator can be fed while results flow.
        """
        pending = iter(tasks)
        busy: dict[Connection, _Worker] = {}
        exhausted = False
        queue: deque[Any] = deque()
        try:
            while True:
                while not exhausted and len(queue) + len(busy) < self.size + prefetch:
                    try:
                        queue.append(next(pending))
                    except StopIteration:
                        exhausted = True
                while queue and len(busy) < self.size:
                    worker = self._spawn()
                    worker.task = queue.popleft()
                    worker.deadline = time.monotonic() + self.timeout_s
                    worker.conn.send(worker.task)
                    busy[worker.conn] = worker
                if not busy:
                    if exhausted and not queue:
                        return
                    continue
                now = time.monotonic()
                timeout = max(0.0, min(w.deadline for w in busy.values()) - now)
                for conn in wait(list(busy), timeout=timeout):
                    worker = busy.pop(conn)  # type: ignore[arg-type]
                    try:
                        ok, value = conn.recv()  # type: ignore[union-attr]
                    except (EOFError, OSError):
                        worker.process.join(1)
                        code = worker.process.exitcode
                        worker.kill()
                        yield Outcome(worker.task, False, error=f"worker crashed (exit {code})")
                        continue
                    self._idle.append(worker)
                    yield Outcome(worker.task, ok, value if ok else None, "" if ok else value)
                now = time.monotonic()
                for conn, worker in list(busy.items()):
                    if worker.deadline <= now:
                        del busy[conn]
                        worker.kill()
                        limit = f"{self.timeout_s:g}"
                        yield Outcome(worker.task, False, error=f"timed out after {limit} s")
        finally:
            for worker in busy.values():
                worker.kill()

    def close(self) -> None:
        for worker in self._idle:
            with contextlib.suppress(OSError):
                worker.conn.send(None)
            worker.process.join(5)
            if worker.process.is_alive():
                worker.process.kill()
                worker.process.join()
            worker.conn.close()
        self._idle.clear()

    def __enter__(self) -> IsolatedPool:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
