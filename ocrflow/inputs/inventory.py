"""Inventory of one PDF: content hash, pages, sizes, rotation, text layer, ink, or why unreadable.

``inventory_document`` runs inside an isolated worker (see isolation.py): it opens untrusted files,
under the worker's memory limit; a page whose images or text layer would be too large to read is
a failed page ("too large: ..."), decided before PDFium decodes them.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import logging
import os
import re
import stat
import unicodedata
from dataclasses import dataclass, field, fields, replace
from pathlib import Path
from typing import Any

from ocrflow.core import atomic
from ocrflow.core.progress import Progress
from ocrflow.core.records import InventoryDocument, InventoryPage, error_line, write_records
from ocrflow.core.stages import TEXT_LAYER_ENGINE
from ocrflow.inputs import corpus, rtl_readings
from ocrflow.inputs.isolation import IsolatedPool, current_limit, worker_limit
from ocrflow.inputs.render import oversized_image
from ocrflow.inputs.settings import InventorySettings
from ocrflow.inputs.text_layer import LayerReading, clean_text_layer, has_rtl
from ocrflow.text import trust
from ocrflow.text.settings import TrustSettings

log = logging.getLogger(__name__)

HASH_CHUNK = 1 << 20
LAYOUT_GRID = 40  # cells per side of the page in layout_signals: 2.5% of a page each
PDF_MAGIC_WINDOW = 1024  # the spec allows junk before %PDF-; readers accept it within 1 KiB
# The job's own process, left out of its mem_mb when its workers' limit is set: measured 55 MB
# with its imports, 62 MB more per trust language's word list (644 MB in all on a shard of 55
# PDFs with the 8 default languages).
PARENT_BASE_MB = 256
PARENT_MB_PER_LANGUAGE = 64
_SPECIAL_FILES = ((stat.S_ISFIFO, "a FIFO (named pipe)"), (stat.S_ISCHR, "a character device"),
                  (stat.S_ISBLK, "a block device"), (stat.S_ISSOCK, "a socket"),
                  (stat.S_ISDIR, "a directory"))


@dataclass(frozen=True)
class InventoryTask:
    doc_id: str
    source_path: str
    max_page_points: float
    ink_dpi: float
    text_layer_min_chars: int
    max_page_chars: int | None = None  # None: no cap
    max_image_pixels: int | None = None


@dataclass
class PageWithReadings(InventoryPage):
    """A page with right-to-left text as the isolated worker read it: the readings of its
    layer (rtl_readings.readings), best guess first in ``rtl_readings``. judge_text_layers, in the
    parent where the word lists are, keeps the one the trust signals like best, as a plain
    InventoryPage: the readings are never written."""

    readings: list[LayerReading] = field(default_factory=list)


def content_hash(path: str) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        while chunk := handle.read(HASH_CHUNK):
            digest.update(chunk)
    return digest.hexdigest()[:32]


class PypdfPages:
    """pypdf's text of a document's pages, the document opened on the first request only
    (most documents have no right-to-left page)."""

    def __init__(self, path: str) -> None:
        self.path = path
        self._reader: Any = None

    def text(self, index: int) -> str | None:
        """None when pypdf cannot read the page (its errors are many and not all its own)."""
        try:
            if self._reader is None:
                import pypdf

                self._reader = pypdf.PdfReader(self.path)
            return self._reader.pages[index].extract_text()
        except Exception as exc:  # pypdf raises anything from a broken PDF: no reading, then
            log.debug("pypdf cannot read %s page %d: %s", self.path, index + 1, exc)
            return None


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


def dark_pixels(page: Any, dpi: float) -> Any:
    """Dark pixels of a small grayscale rendering (a boolean array, top row first)."""
    bitmap = page.render(scale=dpi / 72, grayscale=True)
    return bitmap.to_numpy() < 160


def ink_fraction(dark: Any) -> float:
    """Share of dark pixels: is there anything on the page?"""
    return float(dark.mean()) if dark.size else 0.0


def _picture_boxes(page: Any) -> list[tuple[float, float, float, float]]:
    """Bounds of the page's images; an image inside a form XObject counts with the form's
    bounds (pdfium gives a nested object's bounds in the form's own space)."""
    import pypdfium2.raw as pdfium_c

    def bounds(obj: Any) -> tuple[float, float, float, float]:
        return obj.get_bounds() if hasattr(obj, "get_bounds") else obj.get_pos()  # pypdfium2 4

    boxes, form = [], None
    for obj in page.get_objects(max_depth=8):
        if obj.level == 0:
            form = obj if obj.type == pdfium_c.FPDF_PAGEOBJ_FORM else None
            if obj.type == pdfium_c.FPDF_PAGEOBJ_IMAGE:
                boxes.append(bounds(obj))
        elif obj.type == pdfium_c.FPDF_PAGEOBJ_IMAGE and form is not None:
            boxes.append(bounds(form))
            form = None  # once per form
    return boxes


def layout_signals(page: Any, textpage: Any, dark: Any) -> dict[str, float]:
    """Where the text layer is, against where the page has pictures: the share of the page's
    ink that is picture with no text over it (a slide's text that exists only in its picture;
    white margins of a scan do not count), and the share of text boxes that lie off the page.
    Measured on a LAYOUT_GRID x LAYOUT_GRID grid."""
    import numpy as np

    # The page's effective box: get_cropbox() gives US Letter for a box inherited from /Pages.
    left, bottom, right, top = page.get_bbox()
    width, height = right - left, top - bottom
    grid = LAYOUT_GRID

    def cells(box: tuple[float, float, float, float], grow: int = 0) -> tuple[slice, slice]:
        x0, y0, x1, y1 = box  # PDF space, y up; rows of the grid go down from the top
        c0 = int((x0 - left) / width * grid) - grow
        c1 = int(np.ceil((x1 - left) / width * grid)) + grow
        r0 = int((top - y1) / height * grid) - grow
        r1 = int(np.ceil((top - y0) / height * grid)) + grow
        return slice(max(0, r0), max(0, r1)), slice(max(0, c0), max(0, c1))

    picture = np.zeros((grid, grid), bool)
    for box in _picture_boxes(page):
        picture[cells(box)] = True
    text = np.zeros((grid, grid), bool)
    rects = [textpage.get_rect(i) for i in range(textpage.count_rects())]
    off_page = 0
    for x0, y0, x1, y1 in rects:
        cx, cy = (x0 + x1) / 2, (y0 + y1) / 2
        if not (left <= cx <= right and bottom <= cy <= top):
            off_page += 1
        text[cells((x0, y0, x1, y1), grow=1)] = True  # a line's neighbours: leading, gaps
    inked = np.zeros((grid, grid), bool)
    if dark.shape[0] >= grid and dark.shape[1] >= grid:  # per page: one pass, no Python loop
        rows = np.linspace(0, dark.shape[0], grid + 1).astype(int)
        cols = np.linspace(0, dark.shape[1], grid + 1).astype(int)
        sums = np.add.reduceat(np.add.reduceat(dark, rows[:-1], axis=0), cols[:-1], axis=1)
        inked = sums / np.outer(np.diff(rows), np.diff(cols)) > 0.02
    uncovered = (picture & inked & ~text).sum() / max(1, inked.sum())
    return {"picture_without_text": round(float(uncovered), 3),
            "text_off_page": round(off_page / len(rects), 3) if rects else 0.0}


_PAGE_COUNT_ZERO = re.compile(rb"/Count\s+0\b")
_PAGE_OBJECT = re.compile(rb"/Type\s*/Page(?!s)")


def has_no_pages(path: str, limit: int = 1 << 20) -> bool:
    """PDFium refuses a PDF whose page tree is empty; say so rather than "corrupt"."""
    with open(path, "rb") as handle:
        head = handle.read(limit)
    return bool(_PAGE_COUNT_ZERO.search(head)) and not _PAGE_OBJECT.search(head)


def special_file_problem(path: str) -> str:
    """A FIFO, device or socket is no file to read: opening a FIFO blocks until a writer comes,
    /dev/zero never ends. Told from os.stat (links followed), before anything is opened."""
    mode = os.stat(path).st_mode
    if stat.S_ISREG(mode):
        return ""
    kind = next((name for test, name in _SPECIAL_FILES if test(mode)), "a special file")
    return f"not a regular file: {kind}"


def open_problem(path: str) -> str:
    """Why a file cannot be a PDF, from its first bytes alone ('' when it may be one)."""
    with open(path, "rb") as handle:
        head = handle.read(PDF_MAGIC_WINDOW)
    if not head:
        return "empty file (0 bytes)"
    if b"%PDF-" not in head:
        return "not a PDF (no %PDF- header)"
    return ""


def inventory_document(task: InventoryTask) -> InventoryDocument:
    import pypdfium2 as pdfium

    doc = InventoryDocument(task.doc_id, task.source_path)
    try:
        problem = special_file_problem(task.source_path)
        if problem:
            doc.error = problem
            return doc
        problem = open_problem(task.source_path)
        doc.content_hash = content_hash(task.source_path)
    except OSError as exc:
        doc.error = (corpus.broken_link(task.source_path)
                     or f"cannot read file: {exc.strerror or exc}")
        return doc
    if problem:
        doc.error = problem
        return doc
    try:
        pdf = pdfium.PdfDocument(task.source_path)
    except pdfium.PdfiumError as exc:
        message = str(exc)
        if "password" in message.lower():
            doc.error = "encrypted (a password is required)"
        elif has_no_pages(task.source_path):
            doc.error = "PDF has no pages"
        else:
            doc.error = f"corrupt PDF: {message}"
        return doc
    with contextlib.suppress(pdfium.PdfiumError):  # forms that cannot load: pages still can
        pdf.init_forms()  # a page whose only ink is filled form fields is not blank
    pypdf_pages = PypdfPages(task.source_path)
    try:
        if len(pdf) == 0:
            doc.error = "PDF has no pages"
        doc.pages = [_inventory_page(pdf, index, task, pypdf_pages) for index in range(len(pdf))]
    finally:
        pdf.close()
    return doc


def _inventory_page(pdf: Any, index: int, task: InventoryTask,
                    pypdf_pages: PypdfPages) -> InventoryPage:
    info = InventoryPage(page=index + 1)
    try:
        page = pdf[index]
    except Exception as exc:  # PDFium reports a broken page object as a generic error
        info.error = f"cannot load page: {exc}"
        return info
    try:
        width, height = page.get_size()
        info.width, info.height = round(width, 2), round(height, 2)
        info.rotation = page.get_rotation()
        info.error = (page_size_problem(width, height, task.max_page_points)
                      or oversized_image(page, task.max_image_pixels, current_limit()))
        if info.error:
            return info
        dark = dark_pixels(page, task.ink_dpi)
        info.ink = round(ink_fraction(dark), 5)
        textpage = page.get_textpage()
        readings: list[LayerReading] = []
        try:
            info.error = text_size_problem(textpage.count_chars(), task.max_page_chars)
            if info.error:  # failed, never "ok" with an empty layer
                return info
            text = textpage.get_text_bounded()
            info.layout = layout_signals(page, textpage, dark) if text.strip() else {}
            if has_rtl(text):  # only then is the order of the characters in doubt
                readings = rtl_readings.readings(textpage, text, lambda: pypdf_pages.text(index),
                                                 clean_text_layer)
        finally:
            textpage.close()
        info.text_layer = clean_text_layer(text)
        info.has_text_layer = usable_text(text, task.text_layer_min_chars)
        if readings:
            info = _with_readings(info, readings, task.text_layer_min_chars)
    except Exception as exc:  # one bad page must not sink the document
        info.error = f"cannot read page: {error_line(exc)}"
    finally:
        page.close()
    return info


def text_size_problem(chars: int, max_chars: int | None) -> str:
    """A text layer too long to judge: PDFium alone holds ~100 bytes per character (measured:
    1 million characters, 100 MB) and the trust signals go over every word."""
    if max_chars and chars > max_chars:
        return f"too large: text layer of {chars} characters (inventory.max_page_chars {max_chars})"
    return ""


def _with_readings(page: InventoryPage, readings: list[LayerReading],
                   min_chars: int) -> PageWithReadings:
    readings = [replace(r, usable=usable_text(r.text, min_chars)) for r in readings]
    return PageWithReadings(**{**_page_fields(page), "text_layer": readings[0].text,
                               "has_text_layer": readings[0].usable}, readings=readings)


def _page_fields(page: InventoryPage) -> dict[str, Any]:
    return {f.name: getattr(page, f.name) for f in fields(InventoryPage)}


def _best_reading(page: PageWithReadings, settings: TrustSettings) -> InventoryPage:
    """The reading the trust signals score highest (a tie goes to the first): the one whose
    words are words, in the right order of letters, with no glyph codes. A reading whose
    right-to-left words are more often words backwards than forwards gives way, whatever
    its score, to one that is not and has more of them forwards: a few Arabic words weigh
    little in a Latin page's score, less than a Latin word another reading lost."""
    scored = [(trust.assess(r.text, settings, page.layout), r) for r in page.readings
              if r.text.strip()]
    chosen = InventoryPage(**_page_fields(page))
    if scored:
        assessment, reading = max(scored, key=lambda pair: pair[0].quality)
        if assessment.backwards:
            forwards = [pair for pair in scored if not pair[0].backwards and
                        pair[0].rtl_words > assessment.rtl_words]
            if forwards:
                assessment, reading = max(forwards, key=lambda pair: pair[0].quality)
        chosen.text_layer, chosen.has_text_layer = reading.text, reading.usable
        chosen.trust = assessment.layer_trust()
        log.debug("page %d: text layer read by %s", page.page, reading.source)
    return chosen


def judge_text_layers(doc: InventoryDocument, settings: TrustSettings) -> None:
    """Each page's text-layer trust (see trust.py), judged here in the parent process: the
    word lists are loaded once per job, not once per isolated worker."""
    for index, page in enumerate(doc.pages):
        if isinstance(page, PageWithReadings):
            doc.pages[index] = _best_reading(page, settings)
            continue
        page.trust = (trust.assess(page.text_layer, settings, page.layout).layer_trust()
                      if page.text_layer.strip() else None)


def layer_counts(docs: list[InventoryDocument]) -> dict[str, int]:
    """What the planner needs to say where pages will go, without reading the inventory."""
    pages = [page for doc in docs for page in doc.pages]
    trusted = sum(1 for page in pages if page.trusted_layer)
    with_layer = sum(1 for page in pages if page.trust is not None)
    return {"pdfs": len(docs), "unreadable": sum(1 for doc in docs if doc.error),
            "pages": len(pages), "bad_pages": sum(1 for page in pages if page.error),
            "trusted_text_layer": trusted, "untrusted_text_layer": with_layer - trusted,
            "no_text_layer": len(pages) - with_layer}


def engine_plan(counts_files: list[Path], primary: str, trusted_text_layer: bool) -> str:
    """One line for the dry run: how many pages will reach the primary engine, from the shards
    inventoried so far (their counts files)."""
    done = [json.loads(path.read_text()) for path in counts_files if path.exists()]
    if not done:
        n = len(counts_files)
        return f"ocrflow plan: {n} shard{'' if n == 1 else 's'}, none inventoried yet"
    total = {key: sum(c[key] for c in done) for key in done[0]}
    readable = total["pages"] - total["bad_pages"]
    line = (f"ocrflow plan: {len(done)} of {len(counts_files)} shards inventoried: "
            f"{total['pdfs']} PDFs ({total['unreadable']} unreadable), {total['pages']} pages; "
            f"text layer trusted on {total['trusted_text_layer']}, untrusted on "
            f"{total['untrusted_text_layer']}, absent on {total['no_text_layer']}")
    if trusted_text_layer and primary != TEXT_LAYER_ENGINE:
        sent = readable - total["trusted_text_layer"]
        return (f"{line}; primary: {total['trusted_text_layer']} pages from their text layer, "
                f"{sent} to {primary}")
    return f"{line}; primary: {readable} pages to {primary}"


def inventory_shard(members: Path, output: Path, settings: InventorySettings,
                    workers: int, trust_settings: TrustSettings,
                    counts: Path | None = None, mem_mb: int | None = None) -> None:
    """Inventory a shard's PDFs; one that hangs or crashes the library, or needs more memory than
    a worker's share of the job's ``mem_mb``, is recorded, not fatal."""
    listed = corpus.read_members(members)
    docs: dict[str, InventoryDocument] = {}
    for member in listed:
        if member.problem:  # known when the input was listed (a broken symbolic link)
            docs[member.doc_id] = InventoryDocument(member.doc_id, member.source_path,
                                                    error=member.problem)
            log.warning("unreadable: %s: %s", member.source_path, member.problem)
    tasks = [InventoryTask(m.doc_id, m.source_path, settings.max_page_points,
                           settings.ink_dpi, settings.text_layer_min_chars,
                           settings.max_page_chars, settings.max_image_pixels)
             for m in listed if not m.problem]
    progress = Progress("inventory", len(tasks), unit="PDFs")
    reserve = PARENT_BASE_MB + PARENT_MB_PER_LANGUAGE * len(trust_settings.languages)
    memory = worker_limit(mem_mb, workers, reserve)
    if memory is not None:
        log.info("each worker may use %s", memory.describe())
    with IsolatedPool(inventory_document, workers, settings.timeout_s, memory=memory,
                      preload=("numpy", "pypdfium2")) as pool:
        for outcome in pool.imap_unordered(tasks):
            task: InventoryTask = outcome.task
            if outcome.ok:
                doc = outcome.value
            elif outcome.too_large:  # "too large: needed more than ... MB (...)"
                doc = InventoryDocument(task.doc_id, task.source_path, error=outcome.error)
            else:
                doc = InventoryDocument(task.doc_id, task.source_path,
                                        error=f"PDF library failed: {outcome.error}")
            if doc.error:
                log.warning("unreadable: %s: %s", task.source_path, doc.error)
            judge_text_layers(doc, trust_settings)
            docs[task.doc_id] = doc
            progress.advance()
    progress.done()
    ordered = [docs[m.doc_id] for m in listed]
    summary = layer_counts(ordered)
    log.info("%(pdfs)d PDFs, %(pages)d pages: %(trusted_text_layer)d with a trusted text layer, "
             "%(untrusted_text_layer)d with an untrusted one, %(no_text_layer)d with none", summary)
    write_records(output, ordered)
    if counts is not None:
        atomic.write_text(counts, json.dumps(summary) + "\n")
