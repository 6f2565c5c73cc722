"""Merge: the final state of every page, per-document Markdown and the other outputs
(ocrflow/results/outputs.py: page records, JSON, plain text, Dolma records).

Status of a page: ``ok`` (primary passed, or its reading was doubted only for repeating or for
an untrusted text layer and the recovery's independent reading agrees with it), ``recovered``
(primary failed, recovery passed), ``no_text`` (both readings found no text on a page with ink:
a picture), ``failed`` (we could not read it); a PDF that cannot be read at all is
``unreadable``. A failed page gets a visible placeholder naming its reasons, never a gap. Each
page keeps the quality score and language of the reading it was taken from.
"""

from __future__ import annotations

import contextlib
import difflib
import json
import logging
import os
import re
import shutil
from pathlib import Path

from ocrflow.core import atomic
from ocrflow.core.layout import DOCUMENT_SUFFIXES, document_file, document_images
from ocrflow.core.records import (
    OUTPUT_ERROR,
    TOO_LARGE,
    TOO_LARGE_ERROR,
    FinalPage,
    InventoryDocument,
    InventoryPage,
    PageRow,
    Reading,
    Verdict,
    error_line,
    inventory_reasons,
    read_records,
    spent,
    write_records,
)
from ocrflow.core.stages import TEXT_LAYER_ENGINE
from ocrflow.inputs.corpus import owns_output_names
from ocrflow.results.outputs import WRITERS, remove_dolma, write_dolma_line
from ocrflow.results.settings import MergeFiles, MergeSettings
from ocrflow.text import headers
from ocrflow.text.scripts import is_right_to_left
from ocrflow.text.settings import HeadersFootersSettings
from ocrflow.text.trust import covers

log = logging.getLogger(__name__)

Judged = tuple[Reading, Verdict]  # a reading and detection's verdict on it


def _judged(readings: Path | None, verdicts: Path | None) -> dict[tuple[str, int], Judged]:
    if readings is None or verdicts is None:
        return {}
    judged = {(v.doc_id, v.page): v for v in read_records(verdicts, Verdict)}
    return {(r.doc_id, r.page): (r, judged[(r.doc_id, r.page)])
            for r in read_records(readings, Reading)}


def _tagged(verdict: Verdict) -> list[str]:
    return [f"{verdict.engine}:{reason}" for reason in verdict.reasons]


def _taken(page: int, status: str, judged: Judged, reasons: list[str]) -> FinalPage:
    """A page's final state taken from one reading."""
    reading, verdict = judged
    return FinalPage(page, status, reading.engine, reasons, "", verdict.quality,
                     verdict.language, reading.attempts, (reading.meta or {}).get("blocks"),
                     reading.provenance, reading.text, list(reading.images or []))


NO_TEXT = {"empty_output"}
LOOPING = {"repetition", "repeated_tail"}
# Doubts that a second, independent reading settles when it agrees: the repetition is the
# document's (filler text, dot leaders), the layer or the low-scoring reading was right after all.
DOUBTS = LOOPING | {"untrusted_text_layer", "low_quality"}
_WORD = re.compile(r"\w+")


def agreement(a: str, b: str) -> float:
    """How closely two readings of a page agree: word-sequence similarity, case-folded."""
    words_a, words_b = _WORD.findall(a.casefold()), _WORD.findall(b.casefold())
    if not words_a or not words_b:
        return 0.0
    return difflib.SequenceMatcher(None, words_a, words_b, autojunk=False).ratio()


def lost_text(candidate: Verdict, other: Verdict) -> bool:
    """Whether ``candidate``'s reading misses text ``other``'s has: most of its words of a
    script, or of the page, while ``other``'s has nearly all of ``candidate``'s."""
    return not covers(candidate.script_words, other.script_words) and \
        covers(other.script_words, candidate.script_words)


def resolve_page(page: InventoryPage, primary: Judged | None, recovery: Judged | None,
                 min_agreement: float = 0.8) -> FinalPage:
    """The final state of one page from its inventory entry and its readings: the primary's
    (None only for a page the inventory could not read) and the recovery's (None when the
    primary passed or there is no recovery)."""
    number = page.page
    if page.error or primary is None:
        error = page.error or "no reading recorded"
        return FinalPage(number, "failed", reasons=inventory_reasons(error), error=error,
                         quality=0.0)
    first, first_verdict = primary
    if first_verdict.ok:
        return _taken(number, "ok", primary, [])
    reasons = _tagged(first_verdict)
    doubted = set(first_verdict.reasons)
    if recovery is not None:
        second, second_verdict = recovery
        agree = doubted <= DOUBTS and agreement(first.text, second.text) >= min_agreement
        if second_verdict.ok:
            better = (first_verdict.quality or 0) >= (second_verdict.quality or 0)
            if agree and better:
                return _taken(number, "ok", primary, [*reasons, "merge:readings_agree"])
            if doubted == {"low_quality"} and better:
                # re-read on request (retry-failed --below) and read no better: keep the first
                return _taken(number, "ok", primary, [*reasons, "merge:kept_better_reading"])
            if doubted <= DOUBTS and lost_text(second_verdict, first_verdict):
                # A cleaner score is no better reading when text is missing from it (a French
                # reading of a page whose Arabic the first one has, a calendar's numbers alone)
                return _taken(number, "ok", primary, [*reasons, "merge:kept_more_complete"])
            return _taken(number, "recovered", recovery, reasons)
        reasons += _tagged(second_verdict)
        # Two independent readings that agree overrule the heuristics: the emptiness is the
        # page's (a picture), the repetition the document's (filler text, dot leaders).
        # ... unless the page's own text layer says otherwise
        if {*doubted, *second_verdict.reasons} <= NO_TEXT and not page.text_layer.strip():
            return FinalPage(number, "no_text", reasons=reasons)
        if agree and set(second_verdict.reasons) <= LOOPING:
            return _taken(number, "ok", primary, [*reasons, "merge:readings_agree"])
        # A short text layer ("Potato") the inventory trusts, and an OCR that read nothing more:
        # the layer is the page's whole text.
        if (doubted <= NO_TEXT and first.text.strip() and page.trusted_layer
                and set(second_verdict.reasons) <= NO_TEXT):
            return _taken(number, "ok", primary, [*reasons, "merge:trusted_text_layer"])
    errors = [r.error for r, _ in filter(None, (primary, recovery)) if r.error]
    return FinalPage(number, "failed", reasons=reasons, error="; ".join(errors), quality=0.0)


def placeholder(page: int, reasons: list[str]) -> str:
    return f"> **[ocrflow] page {page} could not be recognised** ({'; '.join(reasons)})"


def no_text_marker(page: int) -> str:
    return f"> [ocrflow] page {page}: no text (a picture or drawing)"


_MARKER = re.compile(r"<!--(\s*page\s+\d+\s*)-->", re.IGNORECASE)


_PARAGRAPHS = re.compile(r"\n[ \t]*\n")


def right_to_left(text: str) -> bool:
    """Whether most letters of a text are of a right-to-left script (Arabic, Hebrew)."""
    letters = [c for c in text if c.isalpha()]
    return sum(map(is_right_to_left, letters)) * 2 > len(letters)


def mark_direction(text: str) -> str:
    """Markdown has no text direction: each run of right-to-left paragraphs goes into a
    ``<div dir="rtl">`` (their characters are in logical order already), so a renderer sets them
    from the right; a page with no such paragraph is left as it is."""
    paragraphs = _PARAGRAPHS.split(text)
    if not any(map(right_to_left, paragraphs)):
        return text
    out: list[str] = []
    run: list[str] = []
    for paragraph in [*paragraphs, ""]:  # the empty sentinel closes a run at the end
        if paragraph and right_to_left(paragraph):
            run.append(paragraph)
            continue
        if run:  # blank lines around the content: Markdown inside an HTML block is parsed
            out.append('<div dir="rtl">\n\n' + "\n\n".join(run) + "\n\n</div>")
            run = []
        if paragraph:
            out.append(paragraph)
    return "\n\n".join(out)


def escape_markers(text: str) -> str:
    """A page's own "<!-- page 7 -->" reads the same but is no page marker."""
    return _MARKER.sub(r"&lt;!--\1--&gt;", text)


def document_markdown(pages: list[FinalPage]) -> str:
    parts = []
    for page in pages:
        if page.status == "failed":
            body = placeholder(page.page, page.reasons)
        elif page.status == "no_text":
            body = no_text_marker(page.page)
        else:
            body = mark_direction(escape_markers(page.text))
        parts.append(f"<!-- page {page.page} -->\n{body}".rstrip() + "\n")
    return "\n".join(parts)


def place_images(page: FinalPage, markdown_file: Path, store_root: Path) -> None:
    """Copy a page's figures from the page store beside the document's Markdown
    (``<name>_images/p<page>-<figure>``) and point the page's links at them."""
    folder = markdown_file.with_name(markdown_file.stem + "_images")  # Layout.document_images
    for stored in page.images:
        source = store_root / stored
        target = folder / Path(stored).name  # p<page>-<figure>, unique within the document
        if not target.exists():
            target.parent.mkdir(parents=True, exist_ok=True)
            tmp = target.with_name(f".{target.name}.tmp")
            try:
                os.link(source, tmp)  # the store and the results share a filesystem
            except OSError:
                shutil.copyfile(source, tmp)
            os.replace(tmp, target)
        figure = target.name.split("-", 1)[1]
        page.text = page.text.replace(f"]({figure})", f"]({folder.name}/{target.name})")
    page.images = []  # the page's figures are now beside the Markdown


def remove_document(markdown_dir: Path, doc_id: str, keep: tuple[str, ...] = ()) -> list[Path]:
    """Remove a document's outputs, except the kinds in ``keep``; return what was removed."""
    removed = []
    for kind in DOCUMENT_SUFFIXES:
        path = document_file(markdown_dir, doc_id, kind)
        if kind not in keep and path.exists():
            path.unlink()
            removed.append(path)
    images = document_images(markdown_dir, doc_id)
    if "markdown" not in keep and images.is_dir():
        shutil.rmtree(images)
        removed.append(images)
    return removed


def remove_running_lines(pages: list[FinalPage],
                         settings: HeadersFootersSettings | None) -> None:
    """Take running heads and footers off the born-digital pages of a document (read from their
    text layer: an OCR engine's reading is left as read), recording the lines on each page."""
    if settings is None or not settings.remove:
        return
    born_digital = [p for p in pages
                    if p.engine == TEXT_LAYER_ENGINE and p.status == "ok" and p.text.strip()]
    texts, removed = headers.strip_headers_footers(
        [p.text for p in born_digital], numbers=[p.page for p in born_digital],
        min_share=settings.min_share, max_lines=settings.max_lines,
        min_pages=settings.min_pages, keep_first=settings.keep_first_page)
    for page, text, lines in zip(born_digital, texts, removed, strict=True):
        if lines:
            page.text, page.removed_lines = text, lines
            page.reasons = [*page.reasons, "merge:headers_footers_removed"]


def write_document(doc: InventoryDocument, pages: list[FinalPage], markdown_dir: Path,
                   store_root: Path, outputs: tuple[str, ...]) -> list[Path]:
    """A document's chosen ``outputs`` (the others removed); returns the files written."""
    remove_document(markdown_dir, doc.doc_id, keep=outputs)
    written = []
    if "markdown" in outputs:
        target = document_file(markdown_dir, doc.doc_id, "markdown")
        for final in pages:
            if final.images:
                place_images(final, target, store_root)
        atomic.write_text(target, document_markdown(pages))
        written.append(target)
        if document_images(markdown_dir, doc.doc_id).is_dir():
            written.append(document_images(markdown_dir, doc.doc_id))
    for kind, write in WRITERS.items():  # page_records, json, text
        if kind in outputs:
            target = document_file(markdown_dir, doc.doc_id, kind)
            write(target, doc, pages)
            written.append(target)
    return written


def unwritten(doc: InventoryDocument, error: str) -> list[FinalPage]:
    """The pages of a document whose outputs could not be made: failed, with the one line."""
    return [FinalPage(page.page, "failed", reasons=[OUTPUT_ERROR], error=error, quality=0.0)
            for page in doc.pages]


def _document_pages(doc: InventoryDocument, primaries: dict[tuple[str, int], Judged],
                    recoveries: dict[tuple[str, int], Judged],
                    settings: MergeSettings) -> list[FinalPage]:
    pages = []
    for page in doc.pages:
        primary, recovery = (judged.get((doc.doc_id, page.page))
                             for judged in (primaries, recoveries))
        final = resolve_page(page, primary, recovery, settings.min_agreement)
        final.tokens = spent(*(judged[0] for judged in (primary, recovery) if judged))
        pages.append(final)
    remove_running_lines(pages, settings.headers_footers)
    return pages


def merge_shard(files: MergeFiles, settings: MergeSettings) -> None:
    """Final page rows of a shard (``files.output``), each document's chosen
    ``settings.outputs`` and the index of the files written (``files.documents``: doc_id, then
    its files); a document's outputs not chosen are removed. ``files.texts``: one JSON line
    (doc_id, page, text) per page of every readable document, in the order of the rows: the
    final page text (its figure links as the Markdown has them; "" for a failed or no_text
    page), for the SQL export, which must not depend on which per-document outputs were chosen.
    ``files.dolma``: the shard's Dolma records, one per readable document, with the outputs
    listing dolma; else it and ``files.dolma_merged`` (all shards') are removed.

    One document never fails its shard: an error making its pages or writing its files is
    that document's (its pages failed with ``merge:output_error`` and the error line, its
    partial files removed), and the other documents are written."""
    outputs = settings.outputs
    primaries = _judged(files.primary, files.primary_verdicts)
    recoveries = _judged(files.recovery, files.recovery_verdicts)
    rows: list[PageRow] = []
    index: list[str] = []
    dolma_lines = atomic.atomic_open(files.dolma) if files.dolma and "dolma" in outputs else None
    # written document by document, atomically: a shard's texts are never all in memory
    texts_out = atomic.atomic_open(files.texts) if files.texts else contextlib.nullcontext()
    with texts_out as text_lines, (dolma_lines or contextlib.nullcontext()) as dolma_out:
        for doc in read_records(files.inventory, InventoryDocument):
            if doc.error:
                reasons = [TOO_LARGE] if doc.error.startswith(TOO_LARGE_ERROR) else []
                rows.append(PageRow(doc.doc_id, doc.source_path, doc.content_hash, None,
                                    "unreadable", reasons=reasons, error=doc.error))
                if owns_output_names(doc.error):
                    remove_document(files.markdown_dir, doc.doc_id)  # an older readable version's
                continue
            try:
                pages = _document_pages(doc, primaries, recoveries, settings)
                written = write_document(doc, pages, files.markdown_dir, files.store_root,
                                         outputs)
            except Exception as exc:  # the document's error, not the shard's
                error = f"cannot write its outputs: {error_line(exc)}"
                log.error("%s: %s", doc.doc_id, error)
                with contextlib.suppress(OSError):  # nothing half-made that looks complete
                    remove_document(files.markdown_dir, doc.doc_id)
                pages, written = unwritten(doc, error), []
            rows += [PageRow(doc.doc_id, doc.source_path, doc.content_hash, final.page,
                             final.status, final.engine, final.reasons, len(final.text),
                             final.error, final.attempts, final.provenance, final.quality,
                             final.language, final.tokens) for final in pages]
            if dolma_out is not None:
                write_dolma_line(dolma_out, doc, pages)
            if written:
                index.append("\t".join([doc.doc_id, *(p.relative_to(files.markdown_dir).as_posix()
                                                      for p in written)]))
            if text_lines is not None:
                for final in pages:
                    text_lines.write(json.dumps({"doc_id": doc.doc_id, "page": final.page,
                                                 "text": final.text}, ensure_ascii=False) + "\n")
    write_records(files.output, rows)
    atomic.write_text(files.documents, "".join(f"{line}\n" for line in index))
    if files.dolma and files.dolma_merged and "dolma" not in outputs:
        remove_dolma(files.dolma, files.dolma_merged)
