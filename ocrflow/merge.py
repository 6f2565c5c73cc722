"""Merge: the final state of every page, per-document Markdown and page records.

Status of a page: ``ok`` (primary passed, or its reading was doubted only for repeating or for
an untrusted text layer and the recovery's independent reading agrees with it), ``recovered``
(primary failed, recovery passed), ``no_text`` (both readings found no text on a page with ink:
a picture), ``failed`` (we could not read it); a PDF that cannot be read at all is
``unreadable``. A failed page gets a visible placeholder naming its reasons, never a gap. Each
page keeps the quality score and language of the reading it was taken from.
"""

from __future__ import annotations

import difflib
import os
import re
import shutil
from pathlib import Path
from typing import Any

from ocrflow import atomic
from ocrflow.layout import DOCUMENT_SUFFIXES, document_file, document_images


def _keyed(path: Path | None) -> dict[tuple[str, int], dict[str, Any]]:
    if path is None:
        return {}
    return {(r["doc_id"], r["page"]): r for r in atomic.read_jsonl(path)}


def _tagged(verdict: dict[str, Any]) -> list[str]:
    return [f"{verdict['engine']}:{reason}" for reason in verdict["reasons"]]


def _read(output: dict[str, Any], verdict: dict[str, Any]) -> dict[str, Any]:
    """What a page record keeps of the engine output it was taken from."""
    return {"text": output["text"], "attempts": output.get("attempts"),
            "blocks": (output.get("meta") or {}).get("blocks"),
            "images": output.get("images") or [], "provenance": output.get("provenance"),
            "quality": verdict.get("quality"), "language": verdict.get("language")}


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


def resolve_page(page: dict[str, Any], key: tuple[str, int], stages: dict[str, dict],
                 min_agreement: float = 0.8) -> dict:
    """The final record of one page from its inventory entry and each stage's output."""
    nothing = {"text": "", "attempts": None, "blocks": None, "images": [], "provenance": None,
               "quality": 0.0, "language": None}
    if page["error"]:
        return {"status": "failed", "engine": None, "reasons": ["inventory:bad_page"],
                "error": page["error"], **nothing}
    primary, primary_verdict = stages["primary"][key], stages["primary_verdicts"][key]
    if primary_verdict["ok"]:
        return {"status": "ok", "engine": primary["engine"], "reasons": [], "error": "",
                **_read(primary, primary_verdict)}
    reasons = _tagged(primary_verdict)
    recovery_verdict = stages["recovery_verdicts"].get(key)
    if recovery_verdict is not None:
        recovery = stages["recovery"][key]
        agree = (set(primary_verdict["reasons"]) <= DOUBTS
                 and agreement(primary["text"], recovery["text"]) >= min_agreement)
        if recovery_verdict["ok"]:
            better = (primary_verdict.get("quality") or 0) >= (recovery_verdict.get("quality") or 0)
            if agree and better:
                return {"status": "ok", "engine": primary["engine"],
                        "reasons": [*reasons, "merge:readings_agree"], "error": "",
                        **_read(primary, primary_verdict)}
            if set(primary_verdict["reasons"]) == {"low_quality"} and better:
                # re-read on request (retry-failed --below) and read no better: keep the first
                return {"status": "ok", "engine": primary["engine"],
                        "reasons": [*reasons, "merge:kept_better_reading"], "error": "",
                        **_read(primary, primary_verdict)}
            return {"status": "recovered", "engine": recovery_verdict["engine"],
                    "reasons": reasons, "error": "", **_read(recovery, recovery_verdict)}
        reasons += _tagged(recovery_verdict)
        # Two independent readings that agree overrule the heuristics: the emptiness is the
        # page's (a picture), the repetition the document's (filler text, dot leaders).
        # ... unless the page's own text layer says otherwise
        if {*primary_verdict["reasons"], *recovery_verdict["reasons"]} <= NO_TEXT \
                and not page.get("text_layer", "").strip():
            return {"status": "no_text", "engine": None, "reasons": reasons, "error": "",
                    **nothing, "quality": None}
        if agree and set(recovery_verdict["reasons"]) <= LOOPING:
            return {"status": "ok", "engine": primary["engine"],
                    "reasons": [*reasons, "merge:readings_agree"], "error": "",
                    **_read(primary, primary_verdict)}
        # A short text layer ("Potato") the inventory trusts, and an OCR that read nothing more:
        # the layer is the page's whole text.
        if (set(primary_verdict["reasons"]) <= NO_TEXT and primary["text"].strip()
                and (page.get("trust") or {}).get("trusted")
                and set(recovery_verdict["reasons"]) <= NO_TEXT):
            return {"status": "ok", "engine": primary["engine"],
                    "reasons": [*reasons, "merge:trusted_text_layer"], "error": "",
                    **_read(primary, primary_verdict)}
    errors = [r["error"] for r in (primary, stages["recovery"].get(key)) if r and r["error"]]
    return {"status": "failed", "engine": None, "reasons": reasons, "error": "; ".join(errors),
            **nothing}


def placeholder(page: int, reasons: list[str]) -> str:
    return f"> **[ocrflow] page {page} could not be recognised** ({'; '.join(reasons)})"


def no_text_marker(page: int) -> str:
    return f"> [ocrflow] page {page}: no text (a picture or drawing)"


_MARKER = re.compile(r"<!--(\s*page\s+\d+\s*)-->", re.IGNORECASE)


def escape_markers(text: str) -> str:
    """A page's own "<!-- page 7 -->" reads the same but is no page marker."""
    return _MARKER.sub(r"&lt;!--\1--&gt;", text)


def document_markdown(pages: list[dict[str, Any]]) -> str:
    parts = []
    for page in pages:
        if page["status"] == "failed":
            body = placeholder(page["page"], page["reasons"])
        elif page["status"] == "no_text":
            body = no_text_marker(page["page"])
        else:
            body = escape_markers(page["text"])
        parts.append(f"<!-- page {page['page']} -->\n{body}".rstrip() + "\n")
    return "\n".join(parts)


def place_images(page: dict[str, Any], markdown_file: Path, store_root: Path) -> None:
    """Copy a page's figures from the page store beside the document's Markdown
    (``<name>_images/p<page>-<figure>``) and point the page's links at them."""
    folder = markdown_file.with_name(markdown_file.stem + "_images")  # Layout.document_images
    for stored in page.pop("images"):
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
        page["text"] = page["text"].replace(f"]({figure})", f"]({folder.name}/{target.name})")


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


PAGE_RECORD_KEYS = ("page", "status", "engine", "reasons", "error", "quality", "language",
                    "attempts", "blocks", "provenance", "text")


def merge_shard(*, inventory: Path, primary: Path, primary_verdicts: Path, recovery: Path | None,
                recovery_verdicts: Path | None, markdown_dir: Path, store_root: Path,
                output: Path, documents: Path, outputs: tuple[str, ...] = ("markdown",),
                min_agreement: float = 0.8) -> None:
    """Final page rows of a shard (``output``), each document's chosen ``outputs`` and the index
    of the files written (``documents``: doc_id, then its files); a document's outputs not
    chosen are removed."""
    stages = {"primary": _keyed(primary), "primary_verdicts": _keyed(primary_verdicts),
              "recovery": _keyed(recovery), "recovery_verdicts": _keyed(recovery_verdicts)}
    rows: list[dict[str, Any]] = []
    index: list[str] = []
    for doc in atomic.read_jsonl(inventory):
        base = {"doc_id": doc["doc_id"], "source_path": doc["path"], "hash": doc["hash"]}
        if doc["error"]:
            rows.append({**base, "page": None, "status": "unreadable", "engine": None,
                         "reasons": [], "n_chars": 0, "error": doc["error"], "quality": None,
                         "language": None})
            remove_document(markdown_dir, doc["doc_id"])  # an older readable version's
            continue
        pages = []
        for page in doc["pages"]:
            final = resolve_page(page, (doc["doc_id"], page["page"]), stages, min_agreement)
            pages.append({"page": page["page"], **final})
            rows.append({**base, "page": page["page"], "status": final["status"],
                         "engine": final["engine"], "reasons": final["reasons"],
                         "n_chars": len(final["text"]), "error": final["error"],
                         "attempts": final["attempts"], "provenance": final["provenance"],
                         "quality": final["quality"], "language": final["language"]})
        remove_document(markdown_dir, doc["doc_id"], keep=outputs)
        written = []
        if "markdown" in outputs:
            target = document_file(markdown_dir, doc["doc_id"], "markdown")
            for page in pages:
                if page["images"]:
                    place_images(page, target, store_root)
            atomic.write_text(target, document_markdown(pages))
            written.append(target)
            if document_images(markdown_dir, doc["doc_id"]).is_dir():
                written.append(document_images(markdown_dir, doc["doc_id"]))
        if "page_records" in outputs:
            target = document_file(markdown_dir, doc["doc_id"], "page_records")
            atomic.write_jsonl(target, ({k: p.get(k) for k in PAGE_RECORD_KEYS} for p in pages))
            written.append(target)
        index.append("\t".join([doc["doc_id"], *(p.relative_to(markdown_dir).as_posix()
                                                 for p in written)]))
    atomic.write_jsonl(output, rows)
    atomic.write_text(documents, "".join(f"{line}\n" for line in index))
