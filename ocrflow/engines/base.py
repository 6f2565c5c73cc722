"""The engine interface: every OCR engine turns pages into text behind these few methods."""

from __future__ import annotations

import hashlib
import json
from abc import ABC
from collections.abc import Generator, Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, ClassVar

from ocrflow.core.errors import OcrflowError
from ocrflow.core.records import PageInput, error_line
from ocrflow.engines.gpus import GpuSlots
from ocrflow.inputs.render import RenderSpec

__all__ = ["Engine", "EngineUnavailable", "JobContext", "PageInput", "PageOutput",
           "check_model_path", "error_line"]


class EngineUnavailable(OcrflowError, RuntimeError):
    """The engine cannot start here; the message says what is missing and how to fix it."""


def check_model_path(engine: str, settings: dict[str, Any]) -> None:
    """Before anything starts: a model given as a path exists, one read from models.dir is there,
    complete (ocrflow.engines.models.check); a hub id without models.dir is left to the engine's
    loader."""
    from ocrflow.engines import models

    models.check(engine, settings)


@dataclass
class PageOutput:
    text: str = ""
    error: str = ""  # one line; set when the engine failed on this page
    # The error may pass (server unreachable, timed out, overloaded): the page is tried again by
    # the job's next attempt, up to ocr.max_page_attempts. Otherwise the error is final.
    transient: bool = False
    finish_reason: str = "stop"  # "length": cut at the token limit; "repetition": a loop cut
    attempts: int = 1
    # One entry per request the page took (prompt_tokens, completion_tokens, finish_reason...):
    # what the page cost, kept in its record.
    requests: list[dict[str, Any]] = field(default_factory=list)
    meta: dict[str, Any] = field(default_factory=dict)
    images: dict[str, bytes] = field(default_factory=dict)  # figure crops the text links to


# What an engine's run yields: a generator, so a caller that stops early closes it (and the
# engine stops feeding its servers).
Readings = Generator[tuple[PageInput, PageOutput], None, None]


@dataclass
class JobContext:
    """What an OCR job hands its engine at start: the rule's log (a model server's log goes
    beside it), the GPU slots of this machine the engine takes its GPUs from, and whether
    another engine reads the pages this one fails (``handoff``: a primary with a recovery)."""

    log_path: Path | None = None
    slots: GpuSlots = field(default_factory=GpuSlots)
    handoff: bool = False


class Engine(ABC):
    """One OCR engine. A page-at-a-time engine implements ``recognize``; an engine that batches
    or keeps requests in flight implements ``run`` instead. ``run`` may reorder pages but
    answers each once."""

    name: ClassVar[str]
    version: ClassVar[str] = "1"  # bump when the same settings would give other text
    # Settings that never change the text (threads, timeouts, where the server is): left out of
    # the fingerprint, so changing them never re-reads a page.
    OPERATIONAL: ClassVar[frozenset[str]] = frozenset()
    # Where the model comes from, for every engine: the folder of models.dir (config.engine_settings
    # adds it) never changes the text; a pinned revision does (derived_text_settings), and one
    # left at null adds nothing, so the default settings keep the page-store key they had.
    SOURCE: ClassVar[frozenset[str]] = frozenset({"models_dir", "revision"})
    # What the plan assumes of the engine's speed (walltimes, the cost estimate): never the text.
    PLANNING: ClassVar[frozenset[str]] = frozenset({"pages_per_second", "server_start_s"})
    # Its settings: the JSON schema of engines.<name> in the config ("description" and
    # "properties", each key with its default and description; "$ref" to share keys), which
    # ocrflow/run/config.py puts in the schema; OPTION_DEFS: the "$defs" entries it refers to.
    OPTIONS: ClassVar[dict[str, Any]] = {}
    OPTION_DEFS: ClassVar[dict[str, dict[str, Any]]] = {}

    def __init__(self, settings: dict[str, Any], threads: int = 1) -> None:
        self.settings = settings
        self.threads = threads  # CPU cores the job was given
        self.job = JobContext()

    @property
    def render_spec(self) -> RenderSpec | None:
        """The image the engine needs per page, or None when it reads no image."""
        return None

    def fingerprint(self) -> str:
        """Identifies the engine and every setting that changes its output: the page-store key."""
        blob = json.dumps([self.name, self.version, self.text_settings()], sort_keys=True)
        return hashlib.sha256(blob.encode()).hexdigest()[:12]

    def text_settings(self) -> dict[str, Any]:
        """The settings that change the text: all but OPERATIONAL, and what the engine derives
        from them (derived_text_settings)."""
        kept = {k: v for k, v in self.settings.items()
                if k not in self.OPERATIONAL | self.SOURCE | self.PLANNING}
        return {**kept, **self.derived_text_settings()}

    def derived_text_settings(self) -> dict[str, Any]:
        """Text-changing values an engine derives from its settings (a server's options, a
        pinned model revision)."""
        revision = self.settings.get("revision")
        return {"revision": revision} if revision else {}

    def provenance(self) -> dict[str, Any]:
        """What produced a page's text, kept with every page record: engine, settings key, and
        whatever more an engine knows (model, prompt, sampling, server version)."""
        return {"engine": self.name, "engine_version": self.version,
                "fingerprint": self.fingerprint()}

    def server_starts(self) -> list[dict[str, Any]]:
        """One entry per model-server start of this job, restarts included: ``{"seconds": from
        its start until ready, "phases": {"weights_s", "compile_s", "cuda_graphs_s",
        "engine_init_s"} as far as the server logged them}`` (ocrflow/engines/server_start.py). An
        engine that starts no server: none."""
        return []

    def start_seconds(self) -> float:
        """Seconds the job waited before its servers first answered (0.0: it started none)."""
        return 0.0

    def start(self, job: JobContext | None = None) -> None:
        """Load models or connect; raise EngineUnavailable with a fix when that cannot work.
        Engines that need set-up extend this (and call it first)."""
        self.job = job or JobContext()

    def close(self) -> None:
        """Free what start() took: the GPU slots the engine holds."""
        self.job.slots.release()

    def recognize(self, page: PageInput) -> PageOutput:
        """OCR one page (page-at-a-time engines)."""
        raise NotImplementedError(f"engine {self.name}: implements run(), not recognize()")

    def run(self, pages: Iterable[PageInput]) -> Readings:
        """OCR pages one by one with recognize(); engines that batch or keep requests in
        flight override this instead."""
        for page in pages:
            try:
                output = self.recognize(page)
            except Exception as exc:  # a page's failure is recorded; the shard goes on
                output = PageOutput(error=error_line(exc))
            yield page, output
