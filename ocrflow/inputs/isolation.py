"""Run risky work (opening and rendering untrusted PDFs) in worker processes.

A task that hangs past its time limit, or crashes its worker (a segfault in the PDF library), costs
only that task: the worker is killed and replaced, the task is reported as failed with a reason,
and the other tasks go on.

A pool may also hold each worker to a memory limit (``MemoryLimit``, from the job's declared
mem_mb): the worker caps its own address space at start (RLIMIT_AS), so a PDF that inflates to
gigabytes fails alone, with a "too large" outcome, instead of getting the whole job killed.
"""

from __future__ import annotations

import contextlib
import importlib
import multiprocessing as mp
import resource
import signal
import time
from collections import deque
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from multiprocessing.connection import Connection, wait
from typing import Any, cast

from ocrflow.core.errors import OcrflowError
from ocrflow.core.records import error_line

# spawn, not fork: the parent may hold threads and PDFium state that a fork would copy broken.
_CONTEXT = mp.get_context("spawn")


# What a worker may use at the least, whatever the job declared (measured peaks: an inventory
# worker on the example corpus 57-76 MB RSS; a render worker, 12-megapixel pages, 209 MB).
MIN_WORKER_MB = 512
_OK, _FAILED, _TOO_LARGE = "ok", "failed", "too_large"


@dataclass(frozen=True)
class MemoryLimit:
    """The memory one worker may use (its resident size, in MB), and the job's declared mem_mb it
    was derived from, which the errors name so that a user knows which setting to raise."""

    worker_mb: int
    job_mb: int | None = None

    def describe(self) -> str:
        source = f" (limit from the job's mem_mb {self.job_mb})" if self.job_mb else ""
        return f"{self.worker_mb} MB{source}"

    def exceeded(self) -> str:
        return f"too large: needed more than {self.describe()}"


def worker_limit(job_mem_mb: Any, workers: int, reserve_mb: int) -> MemoryLimit | None:
    """Each worker's share of the job's declared memory: what the job's own process
    (``reserve_mb``) leaves, split between ``workers``; never under MIN_WORKER_MB. None when the
    job declares none."""
    try:
        job_mb = int(job_mem_mb)
    except (TypeError, ValueError):  # absent, or a value Snakemake has not resolved
        return None
    if job_mb <= 0:
        return None
    share = (job_mb - reserve_mb) // max(1, workers)
    return MemoryLimit(max(MIN_WORKER_MB, share), job_mb)


class TooLarge(OcrflowError, MemoryError):
    """Raised by a task that can tell in advance that its work would pass the memory limit (an
    image that would not fit once decoded); its message, "too large: ...", is the error."""


_limit: MemoryLimit | None = None  # this worker's own limit, for tasks that plan by it


def current_limit() -> MemoryLimit | None:
    """The memory limit of the worker this runs in (None outside a limited worker)."""
    return _limit


@dataclass
class Outcome:
    task: Any
    ok: bool
    value: Any = None  # the function's result when ok
    error: str = ""  # one line when not ok
    too_large: bool = False  # it failed for passing the memory limit ("too large: ...")


def _status_kb(field: str) -> int | None:
    with contextlib.suppress(OSError, ValueError), open("/proc/self/status") as status:
        for line in status:
            if line.startswith(field + ":"):
                return int(line.split()[1])
    return None


def _apply_limit(limit: MemoryLimit) -> None:
    """Cap this process's address space so that its resident size stays under the limit: what
    is mapped now (libraries, thread stacks: mostly never resident) plus the share of the limit
    not yet resident. A failed allocation then raises MemoryError in Python and makes PDFium
    abort; a core file of the limit's size is not written."""
    global _limit
    _limit = limit
    mapped, resident = _status_kb("VmSize"), _status_kb("VmRSS")
    room = limit.worker_mb << 20
    if mapped is not None and resident is not None:
        room = (mapped << 10) + max(0, room - (resident << 10))
    hard = resource.getrlimit(resource.RLIMIT_AS)[1]
    if hard != resource.RLIM_INFINITY:
        room = min(room, hard)
    resource.setrlimit(resource.RLIMIT_AS, (room, hard))
    resource.setrlimit(resource.RLIMIT_CORE, (0, resource.getrlimit(resource.RLIMIT_CORE)[1]))


def _serve(conn: Connection, func: Callable[[Any], Any], limit: MemoryLimit | None = None,
           preload: tuple[str, ...] = ()) -> None:
    # Imported before the limit: numpy's thread pool alone maps ~40 MB per core it starts. One
    # that cannot be imported is left to fail the tasks that need it, with its own error.
    for name in preload:
        with contextlib.suppress(ImportError):
            importlib.import_module(name)
    if limit is not None:
        _apply_limit(limit)
    while True:
        try:
            task = conn.recv()
        except EOFError:
            return
        if task is None:
            return
        try:
            reply = (_OK, func(task))
        except MemoryError as exc:  # TooLarge says why; a bare MemoryError is the limit itself
            reply = (_TOO_LARGE, str(exc) if isinstance(exc, TooLarge) else "")
        except Exception as exc:  # reported to the parent as this task's failure
            reply = (_FAILED, error_line(exc))
        conn.send(reply)  # out of the except clause: the failed task's frames are freed first


class _Worker:
    def __init__(self, func: Callable[[Any], Any], limit: MemoryLimit | None = None,
                 preload: tuple[str, ...] = ()) -> None:
        self.conn, child = _CONTEXT.Pipe()
        self.process = _CONTEXT.Process(target=_serve, args=(child, func, limit, preload),
                                        daemon=True)
        self.process.start()
        child.close()
        self.task: Any = None
        self.deadline = 0.0

    def kill(self) -> None:
        self.process.kill()
        self.process.join()
        self.conn.close()


class IsolatedPool:
    """``workers`` processes running ``func`` on tasks, each task under ``timeout_s`` and, with
    ``memory``, each worker under that memory limit; ``preload``: modules a worker imports before
    its limit applies.

    ``func`` must be importable (a module-level function) because workers are spawned.
    """

    def __init__(self, func: Callable[[Any], Any], workers: int = 1, timeout_s: float = 60,
                 memory: MemoryLimit | None = None, preload: tuple[str, ...] = ()):
        self.func = func
        self.size = max(1, workers)
        self.timeout_s = timeout_s
        self.memory = memory
        self.preload = preload
        self._idle: list[_Worker] = []

    def _spawn(self) -> _Worker:
        return self._idle.pop() if self._idle else _Worker(self.func, self.memory, self.preload)

    def _crashed(self, worker: _Worker) -> Outcome:
        worker.process.join(1)
        code = worker.process.exitcode
        worker.kill()
        # PDFium, and C++ code generally, abort() when an allocation fails: under the limit, a
        # content stream inflating to gigabytes ends so (measured), never with a MemoryError.
        if self.memory is not None and code == -signal.SIGABRT:
            return Outcome(worker.task, False, error=self.memory.exceeded(), too_large=True)
        return Outcome(worker.task, False, error=f"worker crashed (exit {code})")

    def _answered(self, worker: _Worker, status: str, value: Any) -> Outcome:
        if status == _OK:
            self._idle.append(worker)
            return Outcome(worker.task, True, value)
        if status == _FAILED:
            self._idle.append(worker)
            return Outcome(worker.task, False, error=value)
        if value:  # refused in advance (TooLarge): nothing was allocated, the worker goes on
            self._idle.append(worker)
        else:  # replaced: a heap that grew to the limit may not shrink back
            worker.kill()
        error = value or (self.memory.exceeded() if self.memory else "too large: out of memory")
        return Outcome(worker.task, False, error=error, too_large=True)

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
                for ready in wait(list(busy), timeout=timeout):
                    worker = busy.pop(cast(Connection, ready))  # wait gives back what it was given
                    try:
                        status, value = worker.conn.recv()
                    except (EOFError, OSError):
                        yield self._crashed(worker)
                        continue
                    yield self._answered(worker, status, value)
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
