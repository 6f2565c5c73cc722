"""Engines behind an OpenAI-compatible server (vLLM): the job starts one server per GPU, or uses
``endpoint``; pages are sent concurrently, up to ``max_in_flight`` per server, while the next
pages render.
"""

from __future__ import annotations

import asyncio
import base64
import hashlib
import logging
import os
import queue
import shutil
import threading
from abc import abstractmethod
from collections.abc import Iterable, Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any, ClassVar

from ocrflow.engines import models
from ocrflow.engines.base import (
    Engine,
    EngineUnavailable,
    JobContext,
    PageInput,
    PageOutput,
    Readings,
    check_model_path,
    error_line,
)
from ocrflow.engines.client import ChatClient, RequestFailed, server_version
from ocrflow.engines.gpus import assign, memory_mib
from ocrflow.engines.loops import LoopCut
from ocrflow.engines.serve_options import option_values
from ocrflow.engines.server import ModelServer, ServerGroup
from ocrflow.engines.server_start import job_start_s

log = logging.getLogger(__name__)

# `vllm serve` options that change the text a model returns (context length, image sizes, the
# weights' precision or revision, logits processors): part of the page-store key wherever they
# are given, server_args included.
TEXT_FLAGS = {"--max-model-len", "--mm-processor-kwargs", "--dtype", "--quantization",
              "--revision", "--tokenizer", "--tokenizer-revision", "--tokenizer-mode",
              "--logits-processors", "--hf-overrides", "--chat-template", "--generation-config",
              "--override-generation-config", "--limit-mm-per-prompt", "--kv-cache-dtype",
              "--seed"}
_DONE = object()


def graph_size_bound(args: list[str], in_flight: int) -> list[str]:
    """``--max-cudagraph-capture-size`` for a server sent at most ``in_flight`` requests at once
    (or fewer, where ``--max-num-seqs`` says so): vLLM 0.32.0 otherwise captures CUDA graphs up to
    min(2 x max_num_seqs, 512) tokens (vllm/config/vllm.py, VllmConfig._set_cudagraph_sizes),
    and max_num_seqs left out is 1024 on an H100 (engine/arg_utils.py): 51 graphs up to 512,
    each captured at every start, for batches this job never sends. A decode step carries a
    token per request, so no decode batch is wider than the bound. Nothing is added where
    ``args`` choose capture sizes themselves (any cudagraph_capture option, a compilation
    config naming one) or speculative decoding (its decode steps carry more tokens a request)."""
    if any("cudagraph_capture" in arg or "cudagraph-capture" in arg for arg in args):
        return []
    given = option_values(args)
    if "--speculative-config" in given:
        return []
    seqs = given.get("--max-num-seqs") or []
    bound = min(in_flight, int(seqs[-1])) if seqs and seqs[-1].isdigit() else in_flight
    return ["--max-cudagraph-capture-size", str(bound)]


def data_url(page: PageInput) -> str:
    assert page.image is not None, "a server engine needs a rendered page"
    kind = {"png": "png", "jpeg": "jpeg"}[page.image.encoding]
    return f"data:image/{kind};base64,{base64.b64encode(page.image.data).decode()}"


# The server and client keys every engine served with vLLM shares (engines.chandra,
# engines.deepseek), each engine giving its own default where they differ.
SERVER_OPTIONS: dict[str, Any] = {
    "type": "object",
    "description": "The server and client keys of the engines served with vLLM (engines.chandra, "
                   "engines.deepseek), with what they share; an engine gives its own default "
                   "where they differ.",
    "properties": {
        "endpoint": {
            "type": "string", "default": "",
            "description": "an OpenAI-compatible base URL; set: start no server and ask for no "
                           "GPU"},
        "api_key_env": {
            "type": "string", "default": "",
            "description": "name of the environment variable holding the API key (the key never "
                           "goes in a file or a log)"},
        "served_model_name": {
            "type": "string", "minLength": 1,
            "description": "name the server is started with and asked for"},
        "max_in_flight": {
            "type": "integer", "minimum": 1, "maximum": 100000,
            "description": "requests kept open at once per server"},
        "request_timeout_s": {
            "type": "number", "exclusiveMinimum": 0, "default": 900,
            "description": "one request's time limit, in seconds"},
        "retries": {
            "type": "integer", "minimum": 0, "maximum": 20, "default": 3,
            "description": "retries of a failed HTTP request (refused, dropped, timed out, 429, "
                           "5xx)"},
        "retry_backoff_s": {
            "type": "number", "minimum": 0, "default": 2,
            "description": "seconds before the first retry, doubled for each further one"},
        "gpus": {
            "type": "integer", "minimum": 1, "maximum": 64, "default": 1,
            "description": "GPUs per OCR job, one server on each"},
        "device": {
            "enum": ["cuda", "cpu"], "default": "cuda",
            "description": "where the servers the job starts run: cuda (one per GPU), or cpu "
                           "(one, on the job's cores, with vLLM's CPU build: the tests); nothing "
                           "else changes"},
        "server_command": {
            "type": "string", "minLength": 1, "default": "vllm serve",
            "description": "command that starts a server; model, options, host and port follow"},
        "server_args": {
            "type": "array", "items": {"type": "string"},
            "description": "options given to the server command"},
        "server_env": {
            "type": "object", "propertyNames": {"pattern": "^[A-Za-z_][A-Za-z0-9_]*$"},
            "additionalProperties": {"type": "string"},
            "description": "variables set for the server process only (after the config's "
                           "environment)"},
        "server_mem_mb": {
            "type": ["integer", "null"], "minimum": 1, "default": None,
            "description": "host memory (MB) one server takes, added to the OCR job's "
                           "resources.ocr.mem_mb for each server it starts; null: ocrflow's "
                           "estimate (docs/clusters.md: the server's processes, plus the model's "
                           "weight files where models.dir holds them)"},
        "revision": {
            "type": ["string", "null"], "minLength": 1, "default": None,
            "description": "the model's hub revision (a branch, tag or commit) that `ocrflow "
                           "models download` fetches; null: the newest, recorded when first "
                           "downloaded and kept"},
        "startup_timeout_s": {
            "type": "number", "exclusiveMinimum": 0, "default": 1200,
            "description": "seconds a server may take to answer /v1/models"},
        "max_restarts": {
            "type": "integer", "minimum": 0, "maximum": 20, "default": 3,
            "description": "restarts of a server that dies during a shard"},
        "loop_cut_chars": {
            "type": "integer", "minimum": 0, "default": 2000,
            "description": "answers are streamed, and one whose last this-many characters repeat "
                           "one pattern (3 copies at least) is closed there as a loop "
                           "(finish_reason repetition), so the GPU stops decoding it; 0: answers "
                           "run to max_tokens"},
        "image_format": {
            "enum": ["png", "jpeg"], "default": "png",
            "description": "how pages are sent: png, as upstream serves the models; jpeg costs a "
                           "fifth of the CPU time, its effect on accuracy unmeasured"},
        "jpeg_quality": {
            "type": "integer", "minimum": 1, "maximum": 100, "default": 95,
            "description": "JPEG quality (1-100) when image_format is jpeg"}},
}


class ServerEngine(Engine):
    """Subclasses say how to serve the model, build a request, and read the answer."""

    package: str = ""  # import name of the engine's own package, checked at start
    # How pages are fed and where the server is, not what text comes back. The server's own
    # options count through derived_text_settings (TEXT_FLAGS).
    OPERATIONAL = frozenset({
        "endpoint", "api_key_env", "max_in_flight", "request_timeout_s", "retries",
        "retry_backoff_s", "gpus", "device", "server_command", "server_args", "server_env",
        "server_mem_mb", "startup_timeout_s", "max_restarts", "max_num_seqs",
        "max_num_batched_tokens",
        # what is paid for a page that loops, not the text of one that does not
        "loop_cut_chars", "retries_with_recovery"})
    # $defs.vllm in the schema, which the OPTIONS of each engine served with vLLM refer to.
    OPTION_DEFS: ClassVar[dict[str, dict[str, Any]]] = {"vllm": SERVER_OPTIONS}

    def __init__(self, settings: dict[str, Any], threads: int = 1) -> None:
        super().__init__(settings, threads)
        self.servers: ServerGroup | None = None
        self.started: list[ModelServer] = []  # this job's servers, kept after they stop
        self.base_urls: list[str] = []
        self.server_version = ""
        self._stop = threading.Event()

    def derived_text_settings(self) -> dict[str, Any]:
        if self.settings.get("endpoint"):
            return super().derived_text_settings()
        # A server this job starts, with the options configured (a pinned revision counts
        # through the base class, wherever the model is read from).
        options = option_values(self._command(None)[1:])
        return {**super().derived_text_settings(),
                "server": {k: v for k, v in sorted(options.items()) if k in TEXT_FLAGS}}

    def server_args(self, gpu_memory_mib: int | None) -> list[str]:
        """The engine's own `vllm serve` options for a GPU of this much memory (None: unknown)."""
        return list(self.settings["server_args"])

    def serve_command(self, gpu_memory_mib: int | None = None) -> list[str]:
        """`vllm serve` with the engine's arguments; --host and --port are added. The model is
        models.dir's folder where that is set (the served name stays the engine's); a model the
        server fetches from the Hub itself is asked at its pinned revision, if any."""
        command = self._command(gpu_memory_mib)
        pinned = models.pinned_for_hub(self.settings)
        if pinned and "--revision" not in option_values(command[1:]):
            command += ["--revision", pinned]
        return command

    def _command(self, gpu_memory_mib: int | None) -> list[str]:
        return [*self.settings["server_command"].split(), models.loader_argument(self.settings),
                "--served-model-name", self.settings["served_model_name"],
                *self.server_args(gpu_memory_mib)]

    def server_env(self) -> dict[str, str]:
        """Variables of the engine's own server process (engines.<name>.server_env), over the
        job's environment."""
        return {name: str(value) for name, value in (self.settings.get("server_env") or {}).items()}

    def request_settings(self) -> dict[str, Any]:
        """Prompt and sampling as sent, for the page records' provenance."""
        return {}

    def provenance(self) -> dict[str, Any]:
        model = models.provenance(self.settings, loaded_here=not self.settings.get("endpoint"))
        return {**super().provenance(), **model, **self.request_settings(),
                "server_version": self.server_version, "server_start_s": self.start_seconds()}

    def server_starts(self) -> list[dict[str, Any]]:
        return [start for server in self.started for start in server.starts]

    def start_seconds(self) -> float:
        return job_start_s([server.starts[0] for server in self.started if server.starts])

    def check_packages(self) -> None:
        if not self.package:
            return
        try:
            __import__(self.package)
        except ImportError as exc:
            raise EngineUnavailable(
                f"engine {self.name}: cannot import {exc.name}; run `make gpu` (it installs "
                f"chandra-ocr into .venv), run with '--sdm conda' (envs/{self.name}.yaml), or "
                "install it in this environment") from exc

    def start(self, job: JobContext | None = None) -> None:
        super().start(job)
        self.check_packages()
        endpoint = self.settings.get("endpoint")
        if endpoint:
            self.base_urls = [endpoint]
        else:
            self._start_servers()
        self.server_version = server_version(self.base_urls[0], self.api_key())

    def _start_servers(self) -> None:
        check_model_path(self.name, self.settings)  # before any server: the model is there
        program = self.serve_command()[0]
        if not shutil.which(program):
            raise EngineUnavailable(
                f"engine {self.name}: '{program}' not found; run `make gpu` and set "
                f"engines.{self.name}.server_command to '.venv-gpu/bin/vllm serve', run with "
                f"'--sdm conda' (envs/{self.name}.yaml), or set engines.{self.name}.endpoint to a "
                "running server")
        base = self.job.log_path or Path("logs") / f"{self.name}.log"
        servers = []
        for gpu in self._server_gpus():
            memory = memory_mib(gpu) if gpu else None
            if gpu and memory is None:
                log.warning("GPU %s: memory unknown (no nvidia-smi); server sized for an 80 GB "
                            "card unless server_args say otherwise", gpu)
            servers.append(ModelServer(self.serve_command(memory), [gpu] if gpu else [],
                                       base.with_name(f"{base.stem}.server-{gpu or 'cpu'}.log"),
                                       startup_timeout_s=self.settings["startup_timeout_s"],
                                       env=self.server_env()))
        self.started = servers
        self.servers = ServerGroup(servers, max_restarts=self.settings["max_restarts"])
        try:
            self.servers.start()
        except BaseException:
            self.close()
            raise
        self.base_urls = self.servers.base_urls

    def _server_gpus(self) -> list[str]:
        """One server per GPU of this job; on the CPU, one server that sees no GPU ("")."""
        if self.settings.get("device", "cuda") == "cpu":
            return [""]
        try:
            gpus = assign(self.settings["gpus"], self.job.slots)
        except RuntimeError as exc:  # more GPUs asked for than this job sees
            raise EngineUnavailable(f"engine {self.name}: {exc} (engines.{self.name}.gpus)") \
                from exc
        if not gpus:
            raise EngineUnavailable(
                f"engine {self.name}: no GPU visible to this job (CUDA_VISIBLE_DEVICES, "
                f"nvidia-smi); run it on a GPU node, or set engines.{self.name}.endpoint")
        return gpus

    def close(self) -> None:
        if self.servers is not None:
            self.servers.stop()
            for server in self.servers.servers:
                _copy_log(server.log_path)
            self.servers = None
        super().close()

    def api_key(self) -> str | None:
        name = self.settings.get("api_key_env")
        if not name:
            return None
        key = os.environ.get(name)
        if not key:
            raise EngineUnavailable(f"engine {self.name}: environment variable {name} "
                                    f"(engines.{self.name}.api_key_env) is not set")
        return key

    def loop_cut(self) -> LoopCut | None:
        """The test that closes a looping answer as it streams; None: answers run to the end."""
        chars = self.settings.get("loop_cut_chars", 0)
        return LoopCut(min_chars=chars) if chars else None

    def client(self) -> ChatClient:
        return ChatClient(self.base_urls, self.settings["served_model_name"],
                          api_key=self.api_key(),
                          max_in_flight_per_server=self.settings["max_in_flight"],
                          timeout_s=self.settings["request_timeout_s"],
                          retries=self.settings["retries"],
                          backoff_s=self.settings["retry_backoff_s"],
                          recover=self.servers.recover if self.servers else None)

    @abstractmethod
    async def ask(self, client: ChatClient, page: PageInput) -> PageOutput:
        """One page: request(s) to the server and the parsed answer."""

    def run(self, pages: Iterable[PageInput]) -> Readings:
        """Keep up to max_in_flight requests per server open; pull the next rendered page as one
        finishes.

        The event loop runs in a thread; this generator hands finished pages to the caller,
        which persists each one at once. Closing the generator stops the feed: requests in
        flight are cancelled and their pages left unanswered.
        """
        results: queue.Queue[Any] = queue.Queue()
        self.api_key()  # a missing key fails here, once, not on every page
        self._stop.clear()
        thread = threading.Thread(target=self._loop, args=(iter(pages), results), daemon=True)
        thread.start()
        try:
            while True:
                try:
                    item = results.get(timeout=1)
                except queue.Empty:
                    continue
                if item is _DONE:
                    break
                if isinstance(item, BaseException):
                    raise item
                yield item
        finally:
            self._stop.set()
            thread.join()

    def _loop(self, pages: Iterator[PageInput], results: queue.Queue[Any]) -> None:
        try:
            asyncio.run(self._feed(pages, results))
        except BaseException as exc:  # handed to the caller's thread
            results.put(exc)
        finally:
            results.put(_DONE)

    async def _feed(self, pages: Iterator[PageInput], results: queue.Queue[Any]) -> None:
        client = self.client()
        loop = asyncio.get_running_loop()
        free = asyncio.Semaphore(client.max_in_flight)
        tasks: set[asyncio.Task[None]] = set()

        async def one(page: PageInput) -> None:
            try:
                output = await self.ask(client, page)
            except RequestFailed as exc:
                output = PageOutput(error=str(exc), transient=exc.transient)
            except Exception as exc:  # recorded as this page's failure; the shard goes on
                output = PageOutput(error=error_line(exc))
            finally:
                free.release()
            if not self._stop.is_set():
                results.put((page, output))

        async def watch_stop() -> None:
            while not self._stop.is_set():
                await asyncio.sleep(0.1)
            for task in list(tasks):
                task.cancel()

        watcher = asyncio.create_task(watch_stop())
        with ThreadPoolExecutor(1, thread_name_prefix="pages") as pull:
            try:
                while not self._stop.is_set():
                    await free.acquire()
                    if self._stop.is_set():
                        break
                    page = await loop.run_in_executor(pull, next, pages, None)
                    if page is None:
                        break
                    task = asyncio.create_task(one(page))
                    tasks.add(task)
                    task.add_done_callback(tasks.discard)
                if tasks:
                    await asyncio.gather(*tasks, return_exceptions=True)
            finally:
                watcher.cancel()
                await client.aclose()


def prompt_hash(prompt: str) -> str:
    return hashlib.sha256(prompt.encode()).hexdigest()[:16]


def _copy_log(path: Path, limit: int = 2000) -> None:
    """The server's own log goes into the rule's log (its last ``limit`` lines)."""
    try:
        lines = path.read_text(errors="replace").splitlines()
    except FileNotFoundError:
        return
    server_log = logging.getLogger("ocrflow.engines.server.output")
    for line in lines[-limit:]:
        server_log.info("%s", line)
