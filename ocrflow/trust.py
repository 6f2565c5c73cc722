"""Which text to trust: a quality score (0-1) and a language for any reading of a page, and the
trust verdict on a PDF's text layer.

The signals are ones a page really gives:
- words: the share of a page's words that are real words of its language (word lists of
  ``wordfreq`` for the configured languages; numbers count as words). Letter-shifted gibberish and
  "1I1 l" noise score low; words of a script no configured language is written in are not judged.
- characters: replacement, control and private-use characters, byte-swapped UTF-16 (every code
  point a multiple of 256: "䴀甀氀" for "Mul") and mojibake (``ftfy``'s badness).
- geometry, for a text layer (measured by the inventory): the share of the page's ink that is
  picture with no text over it (text that exists only in an image) and of text off the page.

``quality`` = word share x (1 - bad characters) x a penalty once symbols pass half the
characters, and for a text layer also x (1 - picture with no text) x (1 - text off the page).
The text layer is trusted when no signal crosses its threshold.
"""

from __future__ import annotations

import functools
import re
import unicodedata
from collections import Counter
from dataclasses import dataclass, field
from typing import Any

from ocrflow.records import LayerTrust

# A word is "known" when its language's list gives it at least this frequency (Zipf 1.5: once in
# 30 million words). Lower, the large lists' crawl noise ("sgd", "bUc") makes gibberish pass.
MIN_FREQUENCY = 10 ** (1.5 - 9)
MAX_TOKENS = 2000  # words judged per page: enough for a share, bounded on a dense page
_NUMBER = re.compile(r"^[+\-−–]?[\d.,:/%°'’]*\d[\d.,:/%°'’]*$")
_JOINERS = re.compile(r"[-‐'’.·/]")  # inside a word: d'été, Jean-Paul, e.g., km/h
_ARABIC_MARKS = re.compile("[\u0610-\u061a\u064b-\u065f\u0670\u06d6-\u06ed\u0640]")


@dataclass
class Assessment:
    quality: float  # 0-1
    language: str | None  # ISO 639-1 of the configured language most words belong to
    reasons: list[str] = field(default_factory=list)  # why a text layer is not trusted
    words: int = 0  # words judged
    word_share: float | None = None  # None: no word in a script of a configured language
    bad_chars: float = 0.0

    @property
    def trusted(self) -> bool:
        return not self.reasons

    def layer_trust(self) -> LayerTrust:
        """What the inventory keeps of a text layer's assessment."""
        return LayerTrust(trusted=self.trusted, quality=round(self.quality, 3),
                          language=self.language, reasons=self.reasons)


def _script(char: str) -> str:
    """First word of the character's Unicode name: LATIN, ARABIC, CYRILLIC, CJK, HIRAGANA..."""
    try:
        return unicodedata.name(char).split(" ", 1)[0]
    except ValueError:
        return "UNKNOWN"


@functools.cache
def _words(language: str) -> dict[str, float]:
    from wordfreq import get_frequency_dict

    return get_frequency_dict(language, wordlist="large")


@functools.cache
def _language_script(language: str) -> str:
    from wordfreq import top_n_list

    scripts = Counter(_script(w[0]) for w in top_n_list(language, 50) if w[0].isalpha())
    return scripts.most_common(1)[0][0] if scripts else "UNKNOWN"


@functools.cache
def check_language(language: str) -> str:
    """'' when wordfreq has a word list for the language, else why not (a config error)."""
    from wordfreq import available_languages

    if language not in available_languages(wordlist="large") and \
            language not in available_languages(wordlist="best"):
        return f"no word list for language {language!r} in wordfreq"
    return ""


def _normal(part: str) -> str:
    return _ARABIC_MARKS.sub("", unicodedata.normalize("NFKC", part).casefold())


def _strip_punctuation(token: str) -> str:
    start, end = 0, len(token)
    while start < end and unicodedata.category(token[start])[0] in "PS":
        start += 1
    while end > start and unicodedata.category(token[end - 1])[0] in "PS":
        end -= 1
    return token[start:end]


def _word_parts(token: str) -> list[str] | None:
    """The letter parts of a word, [] for a number, None for a token that is neither (a mix of
    letters, digits and symbols: "1I1", "vote{note")."""
    if _NUMBER.match(token):
        return []
    parts = [p for p in _JOINERS.split(token) if p]
    for part in parts:
        letters = all(c.isalpha() or unicodedata.category(c)[0] == "M" for c in part)
        if not letters and not part.isdigit():
            return None
    return [p for p in parts if not p.isdigit()]


def word_share(text: str, languages: tuple[str, ...]) -> tuple[float | None, str | None, int]:
    """(share of words that are real words or numbers, the language most of them belong to,
    words judged). Words of a script none of ``languages`` is written in are not judged."""
    scripts = {lang: _language_script(lang) for lang in languages}
    judged = valid = 0
    known: Counter[str] = Counter()
    by_script: dict[str, list[str]] = {}
    for raw in text.split()[:MAX_TOKENS]:
        token = _strip_punctuation(raw)
        if not token:
            continue  # punctuation: dot leaders, bullets, rules
        parts = _word_parts(token)
        if parts is None:
            judged += 1  # noise ("1I1", "t=", "{note") is always judged, and never valid
            continue
        if not parts:
            judged += 1
            valid += 1
            continue
        script = _script(parts[0][0])
        if script not in scripts.values():
            continue
        judged += 1
        by_script.setdefault(script, []).append("\0".join(_normal(p) for p in parts))
    for script, tokens in by_script.items():
        candidates = [lang for lang in languages if scripts[lang] == script]
        hits = {lang: sum(all(_words(lang).get(p, 0) >= MIN_FREQUENCY for p in t.split("\0"))
                          for t in tokens) for lang in candidates}
        best = max(candidates, key=lambda lang: hits[lang])  # first configured wins a tie
        known[best] += hits[best]
        valid += hits[best]
    if not judged:
        return None, None, 0
    language = max(known, key=lambda lang: known[lang]) if known and max(known.values()) else None
    return valid / judged, language, judged


def bad_char_share(text: str) -> float:
    """Share of visible characters that are replacement, control, private-use, surrogate or
    byte-swapped UTF-16, plus ftfy's count of mojibake sequences."""
    import ftfy.badness

    visible = [c for c in text if not c.isspace()]
    if not visible:
        return 0.0
    bad = sum(1 for c in visible
              if c == "\ufffd" or unicodedata.category(c) in ("Cc", "Co", "Cs"))
    # UTF-16 read with the wrong byte order: letters land on code points that are multiples of
    # 256 (one in 256 by chance); only a run of them is a sign.
    swapped = sum(1 for c in visible if ord(c) >= 0x100 and ord(c) % 256 == 0)
    if swapped >= 3 and swapped > len(visible) / 4:
        bad += swapped
    bad += ftfy.badness.badness(text)
    return min(1.0, bad / len(visible))


_RUNS = re.compile(r"(\S)\1+")


def symbol_share(text: str) -> float:
    """Share of visible characters that are punctuation or symbols, a run of one character
    (dot leaders, rules) counted once: glyph codes read as ASCII ('"7+%-') are mostly symbols."""
    visible = [c for c in _RUNS.sub(r"\1", text) if not c.isspace()]
    if len(visible) < 5:
        return 0.0
    return sum(1 for c in visible if unicodedata.category(c)[0] in "PS") / len(visible)


def assess(text: str, settings: dict[str, Any], layout: dict[str, Any] | None = None) -> Assessment:
    """Score one reading of a page. ``layout``: the inventory's geometry of a text layer
    (``picture_without_text``, ``text_off_page``: shares 0-1), given only for a text layer.
    ``settings``: the config's ``trust`` section."""
    share, language, words = word_share(text, tuple(settings["languages"]))
    bad, symbols = bad_char_share(text), symbol_share(text)
    # Symbols cost nothing up to half the characters (tables, code), then down to 0 at all.
    quality = (1.0 if share is None else share) * (1 - bad) * min(1.0, 2 * (1 - symbols))
    reasons = []
    if bad > settings["max_bad_chars"]:
        reasons.append(f"{bad:.1%} replacement, control, private-use or mis-decoded characters")
    if symbols > settings["max_symbols"]:
        reasons.append(f"{symbols:.0%} of the characters are punctuation or symbols")
    if share is not None and share < settings["min_word_share"] and (
            words >= settings["min_words"] or share == 0):
        reasons.append(f"{share:.0%} of {words} words are words of "
                       f"{'/'.join(settings['languages'])}")
    if layout:
        picture, off_page = layout.get("picture_without_text", 0), layout.get("text_off_page", 0)
        quality *= (1 - picture) * (1 - off_page)
        if picture > settings["max_picture_without_text"]:
            reasons.append(f"{picture:.0%} of the page's ink is picture with no text layer over it")
        if off_page > settings["max_text_off_page"]:
            reasons.append(f"{off_page:.0%} of the text lies off the page")
    return Assessment(quality=quality, language=language, reasons=reasons, words=words,
                      word_share=share, bad_chars=bad)
