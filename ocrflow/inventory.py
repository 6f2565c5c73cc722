"""Inventory of one PDF: content hash, pages, sizes, rotation, text layer, ink, or why unreadable.

``inventory_document`` runs inside an isolated worker (see isolation.py): it opens untrusted files.
"""

from __future__ import annotations

import contextlib
import hashlib
import logging
import re
import unicodedata
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ocrflow import atomic, corpus
from ocrflow.isolation import IsolatedPool
from ocrflow.progress import Progress

log = logging.getLogger(__name__)

HASH_CHUNK = 1 << 20
PDF_MAGIC_WINDOW = 1024  # the spec allows junk before %PDF-; readers accept it within 1 KiB


@dataclass(frozen=True)
class InventoryTask:
    doc_id: str
    path: str
    max_page_points: float
    ink_dpi: float
    text_layer_min_chars: int


def content_hash(path: str) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        while chunk := handle.read(HASH_CHUNK):
            digest.update(chunk)
    return digest.hexdigest()[:32]


def clean_text_layer(text: str) -> str:
    """pdfium's text as a reader sees it: a word hyphenated at a line end (pdfium marks the
    hyphen \x02) or split by a soft hyphen is joined, line breaks are "\n"."""
    text = text.replace("\r\n", "\n").replace("\r", "\n")
    return _SOFT_HYPHEN.sub("", text.replace("\x02", ""))


_SOFT_HYPHEN = re.compile("\u00ad\n?")


def usable_text(text: str, min_chars: int) -> bool:
    """A text layer is usable when it has enough characters and few are junk."""
    visible = [c for c in text if not c.isspace()]
    if len(visible) < min_chars:
        return False
    junk = sum(1 for c in visible if c == "\ufffd" or unicodedata.category(c) in ("Cc", "Co"))
    return junk / len(visible) < 0.02


def page_size_problem(width: float, height: float, max_points: float) -> str:
    if not (width > 0 and height > 0):
        return f"bad page size {width:g}x{height:g} pt"
    if width > max_points or height > max_points:
        return f"absurd page size {width:g}x{height:g} pt (limit {max_points:g} pt)"
    return ""


def ink_fraction(page: Any, dpi: float) -> float:
    """Share of dark pixels in a small grayscale rendering: is there anything on the page?"""
    import numpy as np

    bitmap = page.render(scale=dpi / 72, grayscale=True)
    pixels = bitmap.to_numpy()
    return float(np.count_nonzero(pixels < 160)) / max(1, pixels.size)


_PAGE_COUNT_ZERO = re.compile(rb"/Count\s+0\b")
_PAGE_OBJECT = re.compile(rb"/Type\s*/Page(?!s)")


def has_no_pages(path: str, limit: int = 1 << 20) -> bool:
    """PDFium refuses a PDF whose page tree is empty; say so rather than "corrupt"."""
    with open(path, "rb") as handle:
        head = handle.read(limit)
    return bool(_PAGE_COUNT_ZERO.search(head)) and not _PAGE_OBJECT.search(head)


def open_problem(path: str) -> str:
    """Why a file cannot be a PDF, from its first bytes alone ('' when it may be one)."""
    with open(path, "rb") as handle:
        head = handle.read(PDF_MAGIC_WINDOW)
    if not head:
        return "empty file (0 bytes)"
    if b"%PDF-" not in head:
        return "not a PDF (no %PDF- header)"
    return ""


def inventory_document(task: InventoryTask) -> dict[str, Any]:
    import pypdfium2 as pdfium

    record: dict[str, Any] = {"doc_id": task.doc_id, "path": task.path, "hash": None,
                              "n_pages": 0, "error": "", "pages": []}
    try:
        problem = open_problem(task.path)
        record["hash"] = content_hash(task.path)
    except OSError as exc:
        record["error"] = (corpus.broken_link(task.path)
                           or f"cannot read file: {exc.strerror or exc}")
        return record
    if problem:
        record["error"] = problem
        return record
    try:
        pdf = pdfium.PdfDocument(task.path)
    except pdfium.PdfiumError as exc:
        message = str(exc)
        if "password" in message.lower():
            record["error"] = "encrypted (a password is required)"
        elif has_no_pages(task.path):
            record["error"] = "PDF has no pages"
        else:
            record["error"] = f"corrupt PDF: {message}"
        return record
    with contextlib.suppress(pdfium.PdfiumError):  # forms that cannot load: pages still can
        pdf.init_forms()  # a page whose only ink is filled form fields is not blank
    try:
        record["n_pages"] = len(pdf)
        if record["n_pages"] == 0:
            record["error"] = "PDF has no pages"
        for index in range(len(pdf)):
            record["pages"].append(_inventory_page(pdf, index, task))
    finally:
        pdf.close()
    return record


def _inventory_page(pdf: Any, index: int, task: InventoryTask) -> dict[str, Any]:
    info: dict[str, Any] = {"page": index + 1, "width": 0.0, "height": 0.0, "rotation": 0,
                            "text_layer": "", "has_text_layer": False, "ink": 0.0, "error": ""}
    try:
        page = pdf[index]
    except Exception as exc:  # PDFium reports a broken page object as a generic error
        info["error"] = f"cannot load page: {exc}"
        return info
    try:
        width, height = page.get_size()
        info.update(width=round(width, 2), height=round(height, 2), rotation=page.get_rotation())
        info["error"] = page_size_problem(width, height, task.max_page_points)
        if info["error"]:
            return info
        textpage = page.get_textpage()
        try:
            text = textpage.get_text_bounded()
        finally:
            textpage.close()
        info["text_layer"] = clean_text_layer(text)
        info["has_text_layer"] = usable_text(text, task.text_layer_min_chars)
        info["ink"] = round(ink_fraction(page, task.ink_dpi), 5)
    except Exception as exc:  # one bad page must not sink the document
        info["error"] = f"cannot read page: {type(exc).__name__}: {exc}"
    finally:
        page.close()
    return info


def inventory_shard(members: Path, output: Path, settings: dict[str, Any],
                    workers: int) -> None:
    """Inventory a shard's PDFs; one that hangs or crashes the library is recorded, not fatal."""
    docs = corpus.read_members(members)
    records: dict[str, dict[str, Any]] = {}
    for doc in docs:
        if doc.problem:  # known when the input was listed (a broken symbolic link)
            records[doc.doc_id] = {"doc_id": doc.doc_id, "path": doc.path, "hash": None,
                                   "n_pages": 0, "error": doc.problem, "pages": []}
            log.warning("unreadable: %s: %s", doc.path, doc.problem)
    tasks = [InventoryTask(d.doc_id, d.path, settings["max_page_points"], settings["ink_dpi"],
                           settings["text_layer_min_chars"]) for d in docs if not d.problem]
    progress = Progress("inventory", len(tasks), unit="PDFs")
    with IsolatedPool(inventory_document, workers, settings["timeout_s"]) as pool:
        for outcome in pool.imap_unordered(tasks):
            task: InventoryTask = outcome.task
            if outcome.ok:
                record = outcome.value
            else:
                record = {"doc_id": task.doc_id, "path": task.path, "hash": None, "n_pages": 0,
                          "error": f"PDF library failed: {outcome.error}", "pages": []}
            if record["error"]:
                log.warning("unreadable: %s: %s", task.path, record["error"])
            records[task.doc_id] = record
            progress.advance()
    progress.done()
    atomic.write_jsonl(output, (records[d.doc_id] for d in docs))
