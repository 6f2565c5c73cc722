"""Failure detection: is an engine's output for a page usable? A verdict and its reasons.

Each signal is a reason code: engine_error, empty_output, repetition, repeated_tail, truncated,
garbage, hallucination, untrusted_text_layer, low_quality, text_layer_disagreement. Every
threshold comes from the ``detection`` and ``trust`` config sections. Each verdict also carries
the reading's quality score (0-1) and language (trust.py).
"""

from __future__ import annotations

import re
import unicodedata
from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ocrflow import atomic, trust

_SPACES = re.compile(r"\s+")
_WORD = re.compile(r"\w+")
TAIL_WINDOW = 4000  # chars examined for a repeated tail
MAX_PERIOD = 200  # longest repeating unit looked for


TEXT_LAYER = "textlayer"  # the engine whose output is the PDF's own text layer
# Figures in a VLM's Markdown: a link to a crop and its alt text are no text of the page.
_FIGURE = re.compile(r"!\[[^\]]*\]\([^)]*\)|<img\b[^>]*>", re.IGNORECASE)


@dataclass
class Verdict:
    ok: bool
    reasons: list[str] = field(default_factory=list)
    details: list[str] = field(default_factory=list)
    quality: float | None = None  # None: the reading has no text to score
    language: str | None = None


def tokens(text: str) -> list[str]:
    """Words; characters for scripts written without spaces (a word per char is then the unit)."""
    words = text.split()
    if len(words) * 20 < len(text):
        return [c for c in text if not c.isspace()]
    return words


def repeated_ngram_ratio(text: str, n: int) -> tuple[float, int]:
    """Share of n-grams that repeat an earlier one, and how many n-grams there are."""
    toks = tokens(text)
    total = len(toks) - n + 1
    if total <= 0:
        return 0.0, 0
    counts = Counter(tuple(toks[i:i + n]) for i in range(total))
    return 1 - len(counts) / total, total


def repeated_tail(text: str, min_chars: int, min_repeats: int) -> tuple[int, int]:
    """(period, length) of the longest periodic suffix worth reporting, or (0, 0)."""
    tail = _SPACES.sub(" ", text[-TAIL_WINDOW:]).rstrip()
    best = (0, 0)
    for period in range(1, min(MAX_PERIOD, len(tail) // min_repeats) + 1):
        length = period
        while length < len(tail) and tail[-length - 1] == tail[-length - 1 + period]:
            length += 1
        if length >= min_chars and length >= min_repeats * period and length > best[1]:
            best = (period, length)
    return best


def garbage_ratio(text: str) -> float:
    visible = [c for c in text if not c.isspace()]
    if not visible:
        return 0.0
    bad = sum(1 for c in visible if c == "\ufffd" or unicodedata.category(c) in ("Cc", "Co", "Cs"))
    return bad / len(visible)


def word_similarity(a: str, b: str) -> float:
    """Bag-of-words F1 between two texts, case-folded: cheap and order-insensitive."""
    wa, wb = Counter(_WORD.findall(a.casefold())), Counter(_WORD.findall(b.casefold()))
    if not wa or not wb:
        return 0.0
    common = sum((wa & wb).values())
    return 2 * common / (sum(wa.values()) + sum(wb.values()))


def reading_quality(output: dict[str, Any], page: dict[str, Any],
                    trust_cfg: dict[str, Any]) -> trust.Assessment:
    """The quality and language of one reading: a text layer's come from the inventory, which
    also measured where its text lies; any other reading is scored on its text."""
    if output.get("engine") == TEXT_LAYER and page.get("trust"):
        record = page["trust"]
        return trust.Assessment(quality=record["quality"], language=record["language"],
                                reasons=record["reasons"])
    return trust.assess(_FIGURE.sub("", output.get("text") or ""), trust_cfg)


def judge(output: dict[str, Any], page: dict[str, Any], cfg: dict[str, Any],
          trust_cfg: dict[str, Any]) -> Verdict:
    """``output``: a stage record (engine, text, error, finish_reason); ``page``: its inventory
    record; ``cfg``, ``trust_cfg``: the config's detection and trust sections."""
    verdict = Verdict(ok=True)

    def fail(reason: str, detail: str) -> None:
        verdict.ok = False
        if reason not in verdict.reasons:  # the engine and the n-gram count may both see a loop
            verdict.reasons.append(reason)
        verdict.details.append(detail)

    text = output.get("text") or ""
    from_layer = output.get("engine") == TEXT_LAYER
    assessment = reading_quality(output, page, trust_cfg)
    verdict.quality, verdict.language = assessment.quality, assessment.language
    if from_layer and not assessment.trusted:
        fail("untrusted_text_layer", "; ".join(assessment.reasons))
    if output.get("error"):
        fail("engine_error", output["error"])
    if output.get("finish_reason") == "length":
        fail("truncated", "output stopped at the engine's length limit")
    if output.get("finish_reason") == "repetition":
        fail("repetition", "the engine stopped a generation loop")
    words = _FIGURE.sub("", text)  # a page that is only a figure has no text
    visible = len(words) - words.count(" ") - words.count("\n") - words.count("\t")
    if not visible:
        verdict.quality = None  # nothing to score (a blank page, a picture)
    if visible < cfg["min_chars"] and page.get("ink", 0) >= cfg["min_ink"]:
        fail("empty_output", f"{visible} chars on a page with ink {page.get('ink', 0):.4f}")
    if (visible > cfg["max_chars_on_blank"] and page.get("ink", 0) < cfg["min_ink"]
            and not page.get("has_text_layer")):  # a VLM writing prose on an empty page
        fail("hallucination", f"{visible} chars on a page with no ink and no text layer")
    ratio, total = repeated_ngram_ratio(text, cfg["ngram_size"])
    if total >= cfg["min_ngrams"] and ratio > cfg["max_repeated_ngram_ratio"]:
        fail("repetition", f"{ratio:.0%} of {cfg['ngram_size']}-grams repeat")
    period, length = repeated_tail(text, cfg["tail_min_chars"], cfg["tail_min_repeats"])
    if period:
        fail("repeated_tail", f"last {length} chars repeat a {period}-char unit")
    garbage = garbage_ratio(text)
    if garbage > cfg["max_garbage_ratio"]:
        fail("garbage", f"{garbage:.1%} replacement or control characters")
    # retry-failed --below flags a page's record with the quality it must reach
    min_quality = max(cfg["min_quality"], output.get("reread_below") or 0)
    if verdict.quality is not None and verdict.quality < min_quality:
        fail("low_quality", f"quality {verdict.quality:.2f} below {min_quality}")
    # An OCR reading is compared with the text layer only when the layer can be trusted: the
    # layer is not compared with itself, and a bad layer never throws a good reading away.
    agreement = cfg["text_layer_agreement"]
    layer = page.get("text_layer", "")
    if (agreement["enabled"] and page.get("has_text_layer") and not from_layer
            and (page.get("trust") or {}).get("trusted", True)
            and len(layer) >= agreement["min_text_layer_chars"] and text):
        similarity = word_similarity(text, layer)
        if similarity < agreement["min_similarity"]:
            fail("text_layer_disagreement", f"word similarity {similarity:.2f} with the text layer")
    return verdict


def page_index(inventory: Iterable[dict[str, Any]]) -> dict[tuple[str, int], dict[str, Any]]:
    return {(doc["doc_id"], page["page"]): page for doc in inventory for page in doc["pages"]}


def judge_records(records: Iterable[dict[str, Any]], pages: dict[tuple[str, int], dict[str, Any]],
                  cfg: dict[str, Any], trust_cfg: dict[str, Any]) -> list[dict[str, Any]]:
    verdicts = []
    for record in records:
        verdict = judge(record, pages[(record["doc_id"], record["page"])], cfg, trust_cfg)
        verdicts.append({"doc_id": record["doc_id"], "page": record["page"],
                         "engine": record["engine"], "ok": verdict.ok,
                         "reasons": verdict.reasons, "details": verdict.details,
                         "quality": None if verdict.quality is None else round(verdict.quality, 3),
                         "language": verdict.language})
    return verdicts


def detect_shard(*, inventory: Path, records: Path, output: Path, cfg: dict[str, Any],
                 trust_cfg: dict[str, Any]) -> None:
    pages = page_index(atomic.read_jsonl(inventory))
    atomic.write_jsonl(output, judge_records(atomic.read_jsonl(records), pages, cfg, trust_cfg))
