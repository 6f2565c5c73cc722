"""Failure detection: is an engine's output for a page usable? A verdict and its reasons.

Each signal is a reason code: engine_error, empty_output, repetition, repeated_tail, truncated,
garbage, hallucination, untrusted_text_layer, low_quality, text_layer_disagreement. Every
threshold comes from the ``detection`` and ``trust`` config sections. Each verdict also carries
the reading's quality score (0-1) and language (trust.py).
"""

from __future__ import annotations

import json
import re
import unicodedata
from collections import Counter
from pathlib import Path
from typing import Any

from ocrflow.core import atomic
from ocrflow.core.records import (
    InventoryDocument,
    InventoryPage,
    Reading,
    Verdict,
    needs_recovery,
    read_records,
    write_records,
)
from ocrflow.core.stages import TEXT_LAYER_ENGINE
from ocrflow.text import trust
from ocrflow.text.markup import strip_markup
from ocrflow.text.settings import DetectionSettings, TrustSettings

_SPACES = re.compile(r"\s+")
_WORD = re.compile(r"\w+")
TAIL_WINDOW = 4000  # chars examined for a repeated tail
MAX_PERIOD = 200  # longest repeating unit looked for


# Figures in a VLM's Markdown: a link to a crop and its alt text are no text of the page.
_FIGURE = re.compile(r"!\[[^\]]*\]\([^)]*\)|<img\b[^>]*>", re.IGNORECASE)


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


_NUMBERS = re.compile(r"(?<!\S)[\d.,:/%°٫٬-]*\d[\d.,:/%°٫٬-]*(?!\S)")


_LEADERS = re.compile(r"([^\w\s])\1{2,}")


def structure_free(text: str) -> str:
    """The text without its numbers and leaders ("....", "____"), and each line once, but for
    a line with letters repeated one after the other, numbers and all: documents repeat lines
    apart or numbered (a calendar's day names month after month, "Article 3 .... 12"), a loop
    repeats them in a row."""
    lines: list[str] = []
    seen, last = set(), ""
    for raw in text.splitlines():
        whole = " ".join(_LEADERS.sub(r"\1", raw).split())
        line = " ".join(_NUMBERS.sub(" ", whole).split())
        if not line:
            continue
        in_a_row = whole == last and any(c.isalpha() for c in line)
        last = whole
        if line in seen and not in_a_row:
            continue
        seen.add(line)
        lines.append(line)
    return "\n".join(lines)


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


def reading_quality(reading: Reading, page: InventoryPage,
                    trust_settings: TrustSettings
                    ) -> tuple[float, str | None, list[str], dict[str, int]]:
    """The quality, language, distrust reasons and words per script of one reading: a text
    layer's first three come from the inventory, which also measured where its text lies; any
    other reading is scored on its text."""
    if reading.engine == TEXT_LAYER_ENGINE and page.trust is not None:
        return page.trust.quality, page.trust.language, page.trust.reasons, \
            trust.script_words(reading.text, trust_settings.languages)
    assessment = trust.assess(_FIGURE.sub("", reading.text), trust_settings)
    return assessment.quality, assessment.language, assessment.reasons, \
        assessment.script_words


def judge(reading: Reading, page: InventoryPage, settings: DetectionSettings,
          trust_settings: TrustSettings) -> Verdict:
    """``page``: the reading's inventory page; ``trust_settings``: the config's trust section."""
    verdict = Verdict(reading.doc_id, reading.page, reading.engine)

    def fail(reason: str) -> None:
        verdict.ok = False
        if reason not in verdict.reasons:  # the engine and the n-gram count may both see a loop
            verdict.reasons.append(reason)

    text = reading.text
    from_layer = reading.engine == TEXT_LAYER_ENGINE
    quality, verdict.language, distrust, verdict.script_words = reading_quality(reading, page,
                                                                               trust_settings)
    if from_layer and distrust:
        fail("untrusted_text_layer")
    if reading.error:
        fail("engine_error")
    if reading.finish_reason == "length":  # stopped at the engine's length limit
        fail("truncated")
    if reading.finish_reason == "repetition":  # the engine stopped a generation loop
        fail("repetition")
    words = _FIGURE.sub("", text)  # a page that is only a figure has no text
    visible = len(words) - words.count(" ") - words.count("\n") - words.count("\t")
    # nothing to score on a blank page or a picture
    verdict.quality = round(quality, 3) if visible else None
    if visible < settings.min_chars and page.ink >= settings.min_ink:
        fail("empty_output")
    if (visible > settings.max_chars_on_blank and page.ink < settings.min_ink
            and not page.has_text_layer):  # a VLM writing prose on an empty page
        fail("hallucination")
    # A trusted text layer repeats whole lines and runs of numbers where the document does (a
    # calendar's day names and dates month after month, a form's blanks, a table's rows): its
    # lines are judged once each, without their numbers. A stale OCR layer that looped still
    # loops within its lines.
    looped = structure_free(text) if from_layer and page.trusted_layer else text
    # a table's markup counted as text: a long table of short cells reads as characters repeating
    ratio, total = repeated_ngram_ratio(strip_markup(looped), settings.ngram_size)
    if total >= settings.min_ngrams and ratio > settings.max_repeated_ngram_ratio:
        fail("repetition")
    if repeated_tail(looped, settings.tail_min_chars, settings.tail_min_repeats)[0]:
        fail("repeated_tail")
    if garbage_ratio(text) > settings.max_garbage_ratio:
        fail("garbage")
    # retry-failed --below flags a page's record with the quality it must reach
    min_quality = max(settings.min_quality, reading.reread_below or 0)
    if verdict.quality is not None and quality < min_quality:
        fail("low_quality")
    # An OCR reading is compared with the text layer only when the layer can be trusted: the
    # layer is not compared with itself, and a bad layer never throws a good reading away.
    agreement = settings.text_layer_agreement
    if (agreement.enabled and page.has_text_layer and not from_layer
            and (page.trust is None or page.trust.trusted)
            and len(page.text_layer) >= agreement.min_text_layer_chars and text
            and word_similarity(text, page.text_layer) < agreement.min_similarity):
        fail("text_layer_disagreement")
    return verdict


def verdict_counts(verdicts: list[Verdict]) -> dict[str, Any]:
    """What ``status`` reads instead of the verdicts: pages judged, failing, and by reason."""
    failing = [v for v in verdicts if needs_recovery(v)]
    by_reason = Counter(reason for v in failing for reason in v.reasons)
    return {"pages": len(verdicts), "failed": len(failing),
            "by_reason": dict(sorted(by_reason.items()))}


def detect_shard(*, inventories: tuple[Path, ...], records: Path, output: Path,
                 settings: DetectionSettings, trust_settings: TrustSettings,
                 counts: Path | None = None) -> None:
    """Judge each reading of ``records`` against its page in ``inventories`` (a shard's, or a
    recovery pool's shards'). ``counts``: where to write ``verdict_counts`` (small JSON,
    written after the verdicts)."""
    pages = {(doc.doc_id, page.page): page for inventory in inventories
             for doc in read_records(inventory, InventoryDocument) for page in doc.pages}
    verdicts = [judge(reading, pages[(reading.doc_id, reading.page)], settings, trust_settings)
                for reading in read_records(records, Reading)]
    write_records(output, verdicts)
    if counts is not None:
        atomic.write_text(counts, json.dumps(verdict_counts(verdicts)) + "\n")
