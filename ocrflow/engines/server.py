"""A model server per GPU, owned by the job: started, waited for, restarted if it dies, and
stopped on every way out (success, exception, SIGTERM from the scheduler, SIGINT).

Each server runs in its own process group; stopping sends SIGTERM to the group, then SIGKILL.
"""

from __future__ import annotations

import asyncio
import atexit
import contextlib
import logging
import os
import shlex
import signal
import socket
import subprocess
import time
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ocrflow.core.errors import OcrflowError
from ocrflow.engines import server_start

log = logging.getLogger(__name__)


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def last_error(log_path: Path, limit: int = 300) -> str:
    """The server's own reason from its log: its last error line (argparse's "vllm: error:
    ...", a Python exception), else its last line."""
    try:
        lines = [line.strip() for line in log_path.read_text(errors="replace").splitlines()
                 if line.strip()]
    except OSError:
        return "no log"
    errors = [line for line in lines if "error" in line.lower()]
    return (errors or lines or ["nothing logged"])[-1][:limit]


def _ends_a_line(path: Path) -> bool:
    with open(path, "rb") as text:
        text.seek(-1, os.SEEK_END)
        return text.read(1) == b"\n"


class ServerFailed(OcrflowError, RuntimeError):
    """The server did not come up (or back); the message names its log."""


@dataclass
class ModelServer:
    """One server process: ``command`` + ``--port``, on the GPUs in ``gpus``."""

    command: list[str]
    gpus: list[str]
    log_path: Path
    startup_timeout_s: float = 900
    host: str = "127.0.0.1"
    port: int = field(default_factory=free_port)
    env: dict[str, str] = field(default_factory=dict)  # over the job's own environment
    process: subprocess.Popen[bytes] | None = None
    restarts: int = 0
    # One per start that came up (restarts included): seconds from its Popen until the job saw
    # it ready, and the phases vLLM logged meanwhile (server_start.py).
    starts: list[dict[str, Any]] = field(default_factory=list)
    _started_at: float = field(default=0.0, repr=False)
    _log_offset: int = field(default=0, repr=False)

    @property
    def base_url(self) -> str:
        return f"http://{self.host}:{self.port}/v1"

    def start(self) -> None:
        env = {**os.environ, **self.env, "CUDA_VISIBLE_DEVICES": ",".join(self.gpus)}
        command = [*self.command, "--host", self.host, "--port", str(self.port)]
        self.log_path.parent.mkdir(parents=True, exist_ok=True)
        self._log_offset = server_start.log_size(self.log_path)
        with open(self.log_path, "ab") as server_log:
            given = " ".join(f"{name}={shlex.quote(value)}" for name, value in self.env.items())
            # on a line of its own, after a stopped server's last line without its newline
            fresh = "\n" if self._log_offset and not _ends_a_line(self.log_path) else ""
            server_log.write(f"{fresh}$ {given + ' ' if given else ''}{shlex.join(command)}\n"
                             .encode())
            self._started_at = time.monotonic()
            self.process = subprocess.Popen(command, stdout=server_log, stderr=subprocess.STDOUT,
                                            env=env, start_new_session=True)
        log.info("started model server pid %d on GPU %s, port %d (log: %s)", self.process.pid,
                 ",".join(self.gpus) or "-", self.port, self.log_path)

    def alive(self) -> bool:
        return self.process is not None and self.process.poll() is None

    def ready(self) -> bool:
        try:
            with urllib.request.urlopen(f"{self.base_url}/models", timeout=5) as response:
                return response.status == 200
        except OSError:
            return False

    def wait_ready(self) -> None:
        deadline = time.monotonic() + self.startup_timeout_s
        while time.monotonic() < deadline:
            if not self.alive():
                code = self.process.returncode if self.process else None
                raise ServerFailed(f"model server exited ({code}) while starting: "
                                   f"{last_error(self.log_path)} (log: {self.log_path})")
            if self.ready():
                self._record_start()
                return
            time.sleep(1)
        self.stop()
        raise ServerFailed(f"model server not ready after {self.startup_timeout_s:g} s; "
                           f"see {self.log_path}")

    def _record_start(self) -> None:
        seconds = round(time.monotonic() - self._started_at, 3)
        self.starts.append({"seconds": seconds,
                            "phases": server_start.phases_since(self.log_path, self._log_offset)})
        log.info("model server on port %d ready after %.1f s %s", self.port, seconds,
                 self.starts[-1]["phases"])

    def stop(self, grace_s: float = 30) -> None:
        if self.process is None or self.process.poll() is not None:
            return
        with contextlib.suppress(ProcessLookupError):
            os.killpg(self.process.pid, signal.SIGTERM)
        try:
            self.process.wait(grace_s)
        except subprocess.TimeoutExpired:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(self.process.pid, signal.SIGKILL)
            self.process.wait()
        log.info("stopped model server pid %d", self.process.pid)


class ServerGroup:
    """The servers of one job, one per GPU, with bounded restarts."""

    def __init__(self, servers: list[ModelServer], max_restarts: int = 3) -> None:
        self.servers = servers
        self.max_restarts = max_restarts
        self._restarting: dict[str, asyncio.Lock] = {}
        self._previous_handlers: dict[int, object] = {}

    @property
    def base_urls(self) -> list[str]:
        return [server.base_url for server in self.servers]

    def start(self) -> None:
        self._install_signal_handlers()
        # A SIGTERM's exit raised where no `finally` stops the servers (between an engine's
        # start() and its caller's try) still stops them as the interpreter exits.
        atexit.register(self.stop)
        for server in self.servers:
            server.start()
        for server in self.servers:
            server.wait_ready()

    def stop(self) -> None:
        for server in self.servers:
            server.stop()
        self._restore_signal_handlers()
        atexit.unregister(self.stop)

    async def recover(self, base_url: str) -> None:
        """Called by the client after a connection error: restart the server if it died."""
        server = next(s for s in self.servers if s.base_url == base_url)
        lock = self._restarting.setdefault(base_url, asyncio.Lock())
        async with lock:
            if server.alive():
                return
            if server.restarts >= self.max_restarts:
                raise ServerFailed(f"model server died {server.restarts + 1} times; "
                                   f"see {server.log_path}")
            server.restarts += 1
            log.warning("model server on port %d died; restart %d of %d", server.port,
                        server.restarts, self.max_restarts)
            server.start()
            await asyncio.get_running_loop().run_in_executor(None, server.wait_ready)

    def _install_signal_handlers(self) -> None:
        # SIGTERM (walltime, scancel, qdel) and SIGINT become exceptions, so every `finally`
        # and context manager up the stack runs and the servers are stopped.
        def interrupt(signum: int, _frame: object) -> None:
            raise SystemExit(128 + signum)

        for signum in (signal.SIGTERM, signal.SIGINT):
            with contextlib.suppress(ValueError):  # not in the main thread: leave as is
                self._previous_handlers[signum] = signal.signal(signum, interrupt)

    def _restore_signal_handlers(self) -> None:
        for signum, handler in self._previous_handlers.items():
            signal.signal(signum, handler)  # type: ignore[arg-type]
        self._previous_handlers.clear()

    def __enter__(self) -> ServerGroup:
        try:
            self.start()
        except BaseException:
            self.stop()
            raise
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()
