"""The per-document outputs besides the Markdown (merge.py writes that one, with its figures):
one writer per format of the config's ``outputs``, each taking a document and its final pages.

- ``page_records``: ``<doc_id>.pages.jsonl``, one FinalPage per line.
- ``json``: ``<doc_id>.json``, the document and its pages (schemas/document.schema.json).
- ``text``: ``<doc_id>.txt``, plain UTF-8, the pages separated by a form feed.
- ``dolma``: one JSON line per document in the shard's ``<results>/dolma/<shard>.jsonl``, as
  olmOCR's pipeline writes them (tests/data/olmocr-0.4.27/dolma_contract.json); the shards are
  concatenated into ``<results>/dolma.jsonl``.

A failed page is explicit in each: its status and reasons in the records and the JSON, a
placeholder line in the plain text and the Dolma text.
"""

from __future__ import annotations

import contextlib
import datetime
import json
import shutil
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import IO, Any

from ocrflow import __version__
from ocrflow.core import atomic
from ocrflow.core.records import FinalPage, InventoryDocument

FORM_FEED = "\f"
DOLMA_SOURCE = "ocrflow"
DOLMA_SEPARATOR = "\n"  # olmOCR's, inside the span of the page before it
PAGE_KEYS = ("page", "status", "engine", "reasons", "error", "quality", "language", "attempts",
             "blocks", "provenance", "tokens", "text", "removed_lines")


def text_placeholder(page: int, reasons: list[str]) -> str:
    """A failed page in plain text: the Markdown's placeholder without its Markdown."""
    return f"[ocrflow] page {page} could not be recognised ({'; '.join(reasons)})"


def page_text(page: FinalPage) -> str | None:
    """A page's text in the plain text and Dolma outputs: None for a page without text (a
    picture), the placeholder for a failed page."""
    if page.status == "failed":
        return text_placeholder(page.page, page.reasons)
    if page.status == "no_text":
        return None
    return page.text


def page_record(page: FinalPage) -> dict[str, Any]:
    """A page as the page records and the JSON write it (figures are linked from the text;
    their page-store paths are no part of it)."""
    data = page.to_json()
    return {key: data[key] for key in PAGE_KEYS}


def write_page_records(target: Path, doc: InventoryDocument, pages: list[FinalPage]) -> None:
    atomic.write_jsonl(target, map(page_record, pages))


def document_json(doc: InventoryDocument, pages: list[FinalPage]) -> dict[str, Any]:
    return {"doc_id": doc.doc_id, "source_path": doc.source_path,
            "content_hash": doc.content_hash, "pages": [page_record(p) for p in pages]}


def write_json(target: Path, doc: InventoryDocument, pages: list[FinalPage]) -> None:
    atomic.write_text(target, json.dumps(document_json(doc, pages), ensure_ascii=False) + "\n")


def document_text(pages: list[FinalPage]) -> str:
    """The pages' texts joined by form feeds (a form feed inside a page becomes a line break,
    so splitting on form feeds gives the pages back)."""
    return FORM_FEED.join((page_text(p) or "").replace(FORM_FEED, "\n") for p in pages)


def write_text(target: Path, doc: InventoryDocument, pages: list[FinalPage]) -> None:
    atomic.write_text(target, document_text(pages))


Writer = Callable[[Path, InventoryDocument, list[FinalPage]], None]
# The per-document formats written beside the Markdown, in the order of layout.DOCUMENT_SUFFIXES.
WRITERS: dict[str, Writer] = {"page_records": write_page_records, "json": write_json,
                              "text": write_text}


def dolma_spans(texts: Iterable[tuple[int, str | None]]) -> tuple[str, list[list[int]]]:
    """olmOCR's rule: the document text and its ``[start, end, page]`` spans from each page's
    number and text (None: no text). Every page's content is its text and the separator, the
    last page's its text alone; a page without text adds nothing, not even the separator."""
    pages = list(texts)
    parts: list[str] = []
    spans: list[list[int]] = []
    position = 0
    for index, (number, text) in enumerate(pages):
        content = "" if text is None else \
            text + (DOLMA_SEPARATOR if index < len(pages) - 1 else "")
        parts.append(content)
        spans.append([position, position + len(content), number])
        position += len(content)
    return "".join(parts), spans


def dolma_record(doc: InventoryDocument, pages: list[FinalPage],
                 day: str | None = None) -> dict[str, Any]:
    """A document as one Dolma record (``day``: the date it was added, today by default)."""
    text, spans = dolma_spans((p.page, page_text(p)) for p in pages)
    day = day or datetime.date.today().strftime("%Y-%m-%d")
    return {
        "id": doc.doc_id,
        "text": text,
        "source": DOLMA_SOURCE,
        "added": day,
        "created": day,
        "metadata": {"Source-File": doc.source_path, "ocrflow-version": __version__,
                     "pdf-total-pages": len(pages), "content-hash": doc.content_hash,
                     "total-failed-pages": sum(p.status == "failed" for p in pages)},
        "attributes": {"pdf_page_numbers": spans,
                       "primary_language": [p.language for p in pages],
                       "ocrflow_page_status": [p.status for p in pages],
                       "ocrflow_page_engine": [p.engine for p in pages],
                       "ocrflow_page_reasons": [p.reasons for p in pages]},
    }


def write_dolma_line(handle: IO[str], doc: InventoryDocument, pages: list[FinalPage]) -> None:
    handle.write(json.dumps(dolma_record(doc, pages), ensure_ascii=False) + "\n")


def concatenate_dolma(shards: list[Path], target: Path) -> None:
    """The shards' Dolma lines in shard order, in one file written atomically; shard files
    in the same folder that are not among ``shards`` (a shard that left the plan) go."""
    with atomic.atomic_open(target, "wb") as out:
        for shard in shards:
            with open(shard, "rb") as lines:
                shutil.copyfileobj(lines, out)
    folders = {shard.parent for shard in shards}
    for folder in folders:
        for stale in set(folder.glob("*.jsonl")) - set(shards):
            stale.unlink(missing_ok=True)


def remove_dolma(shard: Path, merged: Path) -> None:
    """``dolma`` is no longer an output: the merged file and the shards' files go (this
    shard's and any other's: every merge job removes them all, whichever runs first)."""
    merged.unlink(missing_ok=True)
    for path in [shard, *shard.parent.glob("*.jsonl")]:
        path.unlink(missing_ok=True)
    with contextlib.suppress(OSError):  # absent, or someone else's file is in it
        shard.parent.rmdir()
