"""The records the stages write about documents and pages, one shape per stage, and the
predicates every stage reads them by.

A page goes: ``InventoryPage`` (in its ``InventoryDocument``) -> ``PageInput`` (sent to an engine,
with its pixels, a ``RenderedPage``) -> ``Reading`` (what the engine read) -> ``Verdict``
(detection) -> ``FinalPage`` (merge: the page in its document's outputs) and ``PageRow`` (merge:
the page in the shard's rows and the manifest).
Each fact has one name everywhere: ``content_hash`` (sha256 of the PDF's bytes, 32 hex digits),
``source_path`` (the PDF as the input names it), ``page`` (1-based).
"""

from __future__ import annotations

import dataclasses
import io
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TypeVar

from ocrflow.core import atomic

R = TypeVar("R", bound="Record")
# Names of the same facts in results folders written before the records had one name each.
_FORMER_NAMES = {"hash": "content_hash", "doc_hash": "content_hash", "path": "source_path"}
# A page's model requests by engine: {"chandra": [{"prompt_tokens": .., "completion_tokens": ..,
# "finish_reason": ..}, ...], "deepseek": [...]}: the kept reading's and the failed ones'.
Tokens = dict[str, list[dict[str, Any]]]


class Record:
    """JSON round trip: ``to_json`` gives plain data; ``from_json`` reads it back, ignoring
    keys the record no longer has."""

    def to_json(self) -> dict[str, Any]:
        return dataclasses.asdict(self)  # type: ignore[call-overload]

    @classmethod
    def from_json(cls: type[R], data: dict[str, Any]) -> R:
        names = {f.name for f in dataclasses.fields(cls)}  # type: ignore[arg-type]
        kept = {}
        for key, value in data.items():
            key = key if key in names else _FORMER_NAMES.get(key, key)
            if key in names:
                kept[key] = value
        return cls(**kept)


@dataclass
class LayerTrust(Record):
    """Whether a page's text layer can be taken as its text (trust.py)."""

    trusted: bool
    quality: float  # 0-1
    language: str | None  # ISO 639-1 of the configured language most words belong to
    reasons: list[str] = field(default_factory=list)  # why it is not trusted


@dataclass
class InventoryPage(Record):
    page: int
    width: float = 0.0  # points
    height: float = 0.0
    rotation: int = 0  # degrees, as the PDF's /Rotate says
    text_layer: str = ""
    has_text_layer: bool = False  # enough characters, few of them junk
    ink: float = 0.0  # share of dark pixels
    error: str = ""  # the page cannot be read: no engine gets it
    layout: dict[str, float] = field(default_factory=dict)  # inventory.layout_signals
    trust: LayerTrust | None = None  # None: no text layer to trust

    @property
    def trusted_layer(self) -> bool:
        return self.trust is not None and self.trust.trusted

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> InventoryPage:
        page = super().from_json(data)
        if isinstance(page.trust, dict):
            page.trust = LayerTrust.from_json(page.trust)
        return page


@dataclass
class InventoryDocument(Record):
    doc_id: str
    source_path: str
    content_hash: str | None = None  # None: the file could not be read
    error: str = ""  # the PDF cannot be read at all (then it has no pages)
    pages: list[InventoryPage] = field(default_factory=list)

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> InventoryDocument:
        doc = super().from_json(data)
        doc.pages = [InventoryPage.from_json(p) if isinstance(p, dict) else p for p in doc.pages]
        return doc


@dataclass(frozen=True)
class RenderedPage:
    """A page's pixels as render.render_page made them for an engine (not persisted)."""

    width: int
    height: int
    mode: str  # PIL mode of the pixels: "L" or "RGB"
    encoding: str
    data: bytes

    def to_pil(self) -> Any:
        from PIL import Image

        if self.encoding in ("png", "jpeg"):
            return Image.open(io.BytesIO(self.data))
        size = (self.width, self.height)
        return Image.frombuffer(self.mode, size, self.data, "raw", self.mode, 0, 1)


@dataclass
class PageInput:
    """A page on its way to an engine (not persisted)."""

    content_hash: str
    page: int  # 1-based
    source_path: str
    text_layer: str = ""
    doc_id: str = ""
    image: RenderedPage | None = None  # set when the engine asked for one


@dataclass
class Reading(Record):
    """One engine's reading of one page: a line of an OCR stage's output."""

    doc_id: str
    content_hash: str
    page: int
    engine: str
    text: str = ""
    error: str = ""  # one line; the engine could not read the page
    finish_reason: str = ""  # "length": cut at the token limit; "repetition": a loop stopped
    attempts: int = 0  # requests sent for this page by the job that read it
    page_attempts: int = 0  # jobs that sent it (the earlier ones ended in engine errors)
    meta: dict[str, Any] = field(default_factory=dict)  # an engine's extras (layout blocks)
    images: list[str] = field(default_factory=list)  # figure crops, relative to the page store
    provenance: dict[str, Any] = field(default_factory=dict)  # what produced the text
    reread_below: float | None = None  # retry-failed --below: the quality it must reach
    # one entry per model request: prompt_tokens, completion_tokens, finish_reason (a server
    # engine's; none for an engine that decodes nothing)
    requests: list[dict[str, Any]] = field(default_factory=list)


@dataclass
class Verdict(Record):
    """Detection's judgement of one reading."""

    doc_id: str
    page: int
    engine: str
    ok: bool = True
    reasons: list[str] = field(default_factory=list)  # reason codes (detect.py)
    quality: float | None = None  # 0-1; None: the reading has no text to score
    language: str | None = None
    # distinct dictionary words of each script ("ARABIC", "LATIN"...): how much of the page
    # the reading covers (trust.script_words)
    script_words: dict[str, int] = field(default_factory=dict)


@dataclass
class FinalPage(Record):
    """A page's final state, as a document's page records write it."""

    page: int
    status: str  # ok, recovered, no_text, failed
    engine: str | None = None  # the engine whose reading was kept
    reasons: list[str] = field(default_factory=list)  # engine:reason, merge:decision
    error: str = ""
    quality: float | None = None
    language: str | None = None
    attempts: int | None = None
    blocks: list[dict[str, Any]] | None = None  # layout blocks, from engines that give them
    provenance: dict[str, Any] | None = None
    text: str = ""
    images: list[str] = field(default_factory=list)  # figure crops, relative to the page store
    removed_lines: list[str] = field(default_factory=list)  # running heads/footers taken off
    tokens: Tokens | None = None  # what every reading of the page cost, the failed ones too


@dataclass
class PageRow(Record):
    """One row per page of a readable PDF, one per unreadable PDF (``page`` None): a line of a
    shard's final rows, and a row of the manifest."""

    doc_id: str
    source_path: str
    content_hash: str | None
    page: int | None
    status: str  # ok, recovered, no_text, failed, unreadable
    engine: str | None = None
    reasons: list[str] = field(default_factory=list)
    n_chars: int = 0
    error: str = ""
    attempts: int | None = None
    provenance: dict[str, Any] | None = None
    quality: float | None = None
    language: str | None = None
    tokens: Tokens | None = None


def spent(*readings: Reading | None) -> Tokens | None:
    """The requests of a page's readings, by engine; None when none was asked of a model."""
    tokens = {r.engine: r.requests for r in readings if r is not None and r.requests}
    return tokens or None


def needs_recovery(verdict: Verdict) -> bool:
    """The one "page failed" predicate: its reading failed detection, recovery reads it."""
    return not verdict.ok


# The reason of a page whose document's outputs could not be written (merge): the error says why.
OUTPUT_ERROR = "merge:output_error"
# A page or PDF that would take more memory than its worker may use (inventory, rendering): the
# error starts with TOO_LARGE_ERROR and names the limit.
TOO_LARGE = "inventory:too_large"
TOO_LARGE_ERROR = "too large:"
BAD_PAGE = "inventory:bad_page"  # the page itself cannot be read: no engine can help


def inventory_reasons(error: str) -> list[str]:
    """The reasons of a page or PDF the inventory could not read, from its error line."""
    return [TOO_LARGE if error.startswith(TOO_LARGE_ERROR) else BAD_PAGE]


def error_line(exc: BaseException, limit: int = 500) -> str:
    """An exception as the one line a page record or a log keeps."""
    return (f"{type(exc).__name__}: {exc}".splitlines() or [""])[0][:limit]


def read_records(path: str | Path, kind: type[R]) -> list[R]:
    """A JSON-lines file of records of one kind."""
    return [kind.from_json(data) for data in atomic.read_jsonl(path)]


def write_records(path: str | Path, records: Iterable[Record]) -> None:
    """Records as JSON lines, atomically."""
    atomic.write_jsonl(path, (record.to_json() for record in records))
