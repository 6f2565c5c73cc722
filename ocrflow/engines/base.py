"""The engine interface: every OCR engine turns pages into text behind these few methods."""

from __future__ import annotations

import hashlib
import json
from abc import ABC, abstractmethod
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, ClassVar

from ocrflow.render import RenderedPage, RenderSpec


class EngineUnavailable(RuntimeError):
    """The engine cannot start here; the message says what is missing and how to fix it."""


def check_model_path(engine: str, model: str) -> None:
    """A model given as a path must exist; a hub id is left to the engine's loader."""
    if model.startswith(("/", "./", "../", "~")) and not Path(model).expanduser().exists():
        raise EngineUnavailable(f"engine {engine}: model path {model} does not exist "
                                f"(engines.{engine}.model)")


@dataclass
class PageInput:
    doc_hash: str
    page: int  # 1-based
    path: str
    text_layer: str = ""
    image: RenderedPage | None = None  # set when the engine asked for one


@dataclass
class PageOutput:
    text: str = ""
    error: str = ""  # one line; set when the engine failed on this page
    # The error may pass (server unreachable, timed out, overloaded): the page is tried again by
    # the job's next attempt, up to ocr.max_page_attempts. Otherwise the error is final.
    transient: bool = False
    finish_reason: str = "stop"  # "length" when cut at the token limit
    attempts: int = 1
    meta: dict[str, Any] = field(default_factory=dict)
    images: dict[str, bytes] = field(default_factory=dict)  # figure crops the text links to


def error_line(exc: BaseException) -> str:
    """An exception as the one line a page record or a log keeps."""
    return (f"{type(exc).__name__}: {exc}".splitlines() or [""])[0][:500]


class Engine(ABC):
    """One OCR engine. ``run`` may reorder pages (concurrent engines) but answers each once."""

    name: ClassVar[str]
    version: ClassVar[str] = "1"  # bump when the same settings would give other text

    def __init__(self, settings: dict[str, Any], threads: int = 1) -> None:
        self.settings = settings
        self.threads = threads  # CPU cores the job was given

    @property
    def render_spec(self) -> RenderSpec | None:
        """The image the engine needs per page, or None when it reads no image."""
        return None

    def fingerprint(self) -> str:
        """Identifies the engine and every setting that changes its output: the page-store key."""
        blob = json.dumps([self.name, self.version, self.output_settings()], sort_keys=True)
        return hashlib.sha256(blob.encode()).hexdigest()[:12]

    def output_settings(self) -> dict[str, Any]:
        """The settings that change the text; others (threads, timeouts) are left out."""
        return self.settings

    def provenance(self) -> dict[str, Any]:
        """What produced a page's text, kept with every page record: engine, settings key, and
        whatever more an engine knows (model, prompt, sampling, server version)."""
        return {"engine": self.name, "engine_version": self.version,
                "fingerprint": self.fingerprint()}

    def start(self) -> None:  # noqa: B027  (optional hook: most engines need no set-up)
        """Load models or connect; raise EngineUnavailable with a fix when that cannot work."""

    def close(self) -> None:  # noqa: B027
        """Free what start() took."""

    @abstractmethod
    def recognize(self, page: PageInput) -> PageOutput:
        """OCR one page."""

    def run(self, pages: Iterable[PageInput]) -> Iterator[tuple[PageInput, PageOutput]]:
        """OCR pages one by one; engines with batching or concurrency override this."""
        for page in pages:
            try:
                output = self.recognize(page)
            except Exception as exc:  # a page's failure is recorded; the shard goes on
                output = PageOutput(error=error_line(exc))
            yield page, output
