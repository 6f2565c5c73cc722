"""Which text to trust: a quality score (0-1) and a language for any reading of a page, and the
trust verdict on a PDF's text layer.

The signals are ones a page really gives:
- words: the share of a page's words that are real words of its language (word lists of
  ``wordfreq`` for the configured languages; numbers count as words). Letter-shifted gibberish and
  "1I1 l" noise score low; words of a script no configured language is written in are not judged.
  Right-to-left words that are words only when reversed are a layer read in visual order,
  judged over the page and over each right-to-left line (a reversed line among right ones).
- glyph codes: letters no configured language writes its words with, mixed into a page of
  letters it does (Greek, Coptic or Latin-1 letters such as "Þ" where a font's glyph numbers were
  read as text).
- characters: replacement, control and private-use characters, byte-swapped UTF-16 (every code
  point a multiple of 256: "䴀甀氀" for "Mul") and mojibake (``ftfy``'s badness).
- geometry, for a text layer (measured by the inventory): the share of the page's ink that is
  picture with no text over it (text that exists only in an image) and of text off the page.

``quality`` = word share x (1 - bad characters) x (1 - glyph-code letters) x a penalty once
symbols pass half the characters, and for a text layer also x (1 - picture with no text) x
(1 - text off the page).
The text layer is trusted when no signal crosses its threshold.
"""

from __future__ import annotations

import functools
import importlib.util
import re
import unicodedata
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ocrflow.core.records import LayerTrust
from ocrflow.text.scripts import RIGHT_TO_LEFT, UNKNOWN, char_script
from ocrflow.text.settings import TrustSettings

# A word is "known" when its language's list gives it at least this frequency (Zipf 1.5: once in
# 30 million words). Lower, the large lists' crawl noise ("sgd", "bUc") makes gibberish pass.
# Set against letter-shifted gibberish (tests/test_trust.py), not tuned on a corpus.
MIN_FREQUENCY = 10 ** (1.5 - 9)
MAX_TOKENS = 2000  # words judged per page: enough for a share, bounded on a dense page
_NUMBER = re.compile(r"^[+\-−–]?[\d.,:/%°'’٫٬٪]*\d[\d.,:/%°'’٫٬٪]*$")  # ٫٬٪: Arabic ones
_JOINERS = re.compile(r"[-‐'’.·/]")  # inside a word: d'été, Jean-Paul, e.g., km/h
# Bidi controls and zero-width joiners carry no letter (a PDF writer may put them in a word).
_INVISIBLE = re.compile("[\u061c\u200b-\u200f\u202a-\u202e\u2066-\u2069]")
# Abjad scripts are written with or without vowel marks; wordfreq lists them without (its
# preprocessing drops every nonspacing mark and the tatweel: "حَبيبي" -> "حبيبي").
_ABJAD_MARKS = re.compile("[\u0640\u0591-\u05c7\u0610-\u061a\u064b-\u065f\u0670\u06d6-\u06ed"
                          "\u0711\u0730-\u074a\u08d3-\u08ff]")
# Glyph numbers of a font read as text land below U+2E80 (Latin-1, Greek, Coptic, Cyrillic...);
# letters of East Asian scripts above it are real text, judged or not by the languages.
_GLYPH_CODE_RANGE_END = 0x2E80
ALPHABET_WORDS = 10000  # a language's letters: those of its most common words
# A layer with more than this share of glyph-code letters is not trusted: set with the Arabic and
# bilingual example pages of commit 6d8a4db (docs/trust.md: "over a tenth of the letters").
MAX_GLYPH_CODE_LETTERS = 0.1


@dataclass
class Assessment:
    quality: float  # 0-1
    language: str | None  # ISO 639-1 of the configured language most words belong to
    reasons: list[str] = field(default_factory=list)  # why a text layer is not trusted
    words: int = 0  # words judged
    word_share: float | None = None  # None: no word in a script of a configured language
    bad_chars: float = 0.0
    glyph_codes: float = 0.0  # share of letters no configured language writes, mixed in
    reversed_share: float | None = None  # right-to-left words that are words when reversed
    script_words: dict[str, int] = field(default_factory=dict)  # distinct real words, by script

    @property
    def trusted(self) -> bool:
        return not self.reasons

    @property
    def backwards(self) -> bool:
        """More of its right-to-left words are words backwards than forwards."""
        return bool(self.reversed_share)  # None: no right-to-left word judged

    @property
    def rtl_words(self) -> int:
        """Distinct right-to-left words (Arabic, Hebrew...) that are words."""
        return sum(n for script, n in self.script_words.items() if script in RIGHT_TO_LEFT)

    def layer_trust(self) -> LayerTrust:
        """What the inventory keeps of a text layer's assessment."""
        return LayerTrust(trusted=self.trusted, quality=round(self.quality, 3),
                          language=self.language, reasons=self.reasons)


@functools.cache
def word_frequencies(language: str) -> dict[str, float]:
    """wordfreq's large list of the language: word (``normal_form``) -> frequency."""
    from wordfreq import get_frequency_dict

    return get_frequency_dict(language, wordlist="large")


@functools.cache
def _language_script(language: str) -> str:
    from wordfreq import top_n_list

    scripts = Counter(char_script(w[0]) for w in top_n_list(language, 50) if w[0].isalpha())
    return scripts.most_common(1)[0][0] if scripts else UNKNOWN


@functools.cache
def check_language(language: str) -> str:
    """'' when wordfreq has a word list for the language, else why not (a config error).

    Read off wordfreq's data folder as its available_languages() reads it ("large_fr.msgpack.gz",
    "small_ar.msgpack.gz"), without importing wordfreq: that import costs 0.2 s in every
    Snakemake process, cluster jobs included (a test holds the two to the same answer)."""
    spec = importlib.util.find_spec("wordfreq")
    if spec is None or not spec.submodule_search_locations:
        return "wordfreq is not installed"
    data = Path(spec.submodule_search_locations[0]) / "data"
    if not any((data / f"{size}_{language}.msgpack.gz").exists() for size in ("large", "small")):
        return f"no word list for language {language!r} in wordfreq"
    return ""


def normal_form(part: str) -> str:
    """A word as wordfreq lists it: NFKC, casefolded, without abjad vowel marks."""
    return _ABJAD_MARKS.sub("", unicodedata.normalize("NFKC", part).casefold())


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


@dataclass
class WordCounts:
    share: float | None  # words that are real words or numbers; None: none judged
    language: str | None  # the configured language most of them belong to
    judged: int  # words judged
    rtl_words: int = 0  # judged words of a right-to-left script
    rtl_known: int = 0  # ... that are words
    rtl_reversed: int = 0  # ... that are words when their letters are reversed
    letters: int = 0
    foreign_letters: int = 0  # letters no configured language writes, below East Asian ones
    known_by_script: dict[str, int] = field(default_factory=dict)  # distinct words that are words
    known_total_by_script: dict[str, int] = field(default_factory=dict)  # ... and every one
    reversed_runs: int = 0  # right-to-left lines whose words are words only when reversed
    reversed_run_words: int = 0  # ... and their words


def _known(language: str, token: str) -> bool:
    words = word_frequencies(language)
    return all(words.get(part, 0) >= MIN_FREQUENCY for part in token.split("\0"))


def _reversed(token: str) -> str:
    return "\0".join(part[::-1] for part in token.split("\0"))


@functools.cache
def _alphabet(languages: tuple[str, ...]) -> frozenset[str]:
    """The letters the languages write their common words with (casefolded, no marks)."""
    from wordfreq import top_n_list

    return frozenset(c for language in languages for word in top_n_list(language, ALPHABET_WORDS)
                     for c in word if c.isalpha())


@functools.lru_cache(maxsize=8192)
def _letter_kind(char: str, alphabet: frozenset[str]) -> int:
    """0: no letter (marks and the tatweel go), 1: a letter, 2: a letter the alphabet lacks
    below the East Asian scripts (a glyph code). Cached: a page repeats a few dozen characters."""
    letters = [c for c in normal_form(char) if c.isalpha()]
    if not letters:
        return 0
    return 2 if ord(char) < _GLYPH_CODE_RANGE_END and any(c not in alphabet for c in letters) \
        else 1


def _count_letters(counts: WordCounts, token: str, alphabet: frozenset[str]) -> None:
    for char in token:
        kind = _letter_kind(char, alphabet)
        counts.letters += kind > 0
        counts.foreign_letters += kind == 2


def _tokens(text: str) -> list[tuple[int, str]]:
    """The first MAX_TOKENS words of a text, each with the number of its line."""
    found: list[tuple[int, str]] = []
    for number, line in enumerate(text.splitlines()):
        found += [(number, token) for token in line.split()[:MAX_TOKENS - len(found)]]
        if len(found) >= MAX_TOKENS:
            break
    return found


# A right-to-left line of this many words or more is judged on its own, and is read backwards when
# at least REVERSED_RUN_SHARE of its words are words only reversed, REVERSED_OVER_FORWARD times as
# many as forwards. Tuned on the bilingual corpus (tests/support/bilingual_corpus.py, commit
# a75a130): an Arabic paragraph in visual order inside a Latin page is caught, right lines are not.
MIN_RUN_WORDS = 3
REVERSED_RUN_SHARE = 0.5
REVERSED_OVER_FORWARD = 2


def _reversed_runs(counts: WordCounts, tokens: list[str], lines: list[int],
                   candidates: list[str]) -> None:
    """Count the right-to-left lines read backwards: most of their words are words only when
    reversed (an Arabic paragraph in visual order inside a Latin page is a minority of the
    page's words, but all of its line's)."""
    by_line: dict[int, list[str]] = {}
    for token, line in zip(tokens, lines, strict=True):
        by_line.setdefault(line, []).append(token)
    for words in by_line.values():
        if len(words) < MIN_RUN_WORDS:
            continue
        forward = max(sum(_known(lang, w) for w in words) for lang in candidates)
        backward = max(sum(_known(lang, _reversed(w)) for w in words) for lang in candidates)
        if backward >= REVERSED_RUN_SHARE * len(words) and \
                backward >= REVERSED_OVER_FORWARD * max(forward, 1):
            counts.reversed_runs += 1
            counts.reversed_run_words += len(words)


def word_share(text: str, languages: tuple[str, ...]) -> WordCounts:
    """How many of the text's words are real words or numbers, and of which language. Words of
    a script none of ``languages`` is written in are not judged; their letters are counted."""
    scripts = {lang: _language_script(lang) for lang in languages}
    counts = WordCounts(None, None, 0)
    valid = 0
    known: Counter[str] = Counter()
    by_script: dict[str, list[str]] = {}
    line_of: dict[str, list[int]] = {}  # each judged word's line, by script
    for line, raw in _tokens(text):
        token = _strip_punctuation(_INVISIBLE.sub("", raw))
        if not token:
            continue  # punctuation: dot leaders, bullets, rules
        _count_letters(counts, token, _alphabet(languages))
        parts = _word_parts(token)
        if parts is None:
            counts.judged += 1  # noise ("1I1", "t=", "{note") is always judged, never valid
            continue
        if not parts:
            counts.judged += 1
            valid += 1
            continue
        script = char_script(parts[0][0])
        if script not in scripts.values():
            continue
        counts.judged += 1
        by_script.setdefault(script, []).append("\0".join(normal_form(p) for p in parts))
        line_of.setdefault(script, []).append(line)
    for script, tokens in by_script.items():
        candidates = [lang for lang in languages if scripts[lang] == script]
        hits = {lang: sum(_known(lang, t) for t in tokens) for lang in candidates}
        best = max(candidates, key=lambda lang: hits[lang])  # first configured wins a tie
        known[best] += hits[best]
        valid += hits[best]
        # distinct words: a loop repeats a few words many times, and covers little of a page
        counts.known_by_script[script] = len({t for t in tokens if _known(best, t)})
        counts.known_total_by_script[script] = hits[best]
        if script in RIGHT_TO_LEFT:  # read in visual order, its words come out backwards
            counts.rtl_words += len(tokens)
            counts.rtl_known += hits[best]
            counts.rtl_reversed += max(sum(_known(lang, _reversed(t)) for t in tokens)
                                       for lang in candidates)
            _reversed_runs(counts, tokens, line_of[script], candidates)
    if counts.judged:
        counts.share = valid / counts.judged
        if any(known.values()):
            counts.language = max(known, key=lambda lang: known[lang])
    return counts


def script_words(text: str, languages: tuple[str, ...]) -> dict[str, int]:
    """How many distinct words of each script are words of a configured language (numbers
    apart): how much of a page a reading covers, whatever its score."""
    return word_share(text, languages).known_by_script


# A reading covers another when it has at least this share of the other's distinct words of
# each script that the other has MIN_SCRIPT_WORDS of (a French reading of a page that also has
# 40 Arabic words does not). Tuned on the bilingual corpus (tests/support/bilingual_corpus.py,
# commit a75a130): a reading that lost a script's words never replaces one that has them.
COVER = 0.5
MIN_SCRIPT_WORDS = 5


def covers(reading: dict[str, int], other: dict[str, int]) -> bool:
    """Whether a reading with ``reading``'s words per script has most of ``other``'s text."""
    return all(reading.get(script, 0) >= COVER * count
               for script, count in other.items() if count >= MIN_SCRIPT_WORDS) and \
        sum(reading.values()) >= COVER * sum(other.values())


def glyph_code_share(counts: WordCounts) -> float:
    """Share of letters no configured language writes, when the page also has letters one
    does: a page wholly in another script ("日本語", a Greek page) is not judged."""
    if not counts.letters or counts.foreign_letters == counts.letters:
        return 0.0
    return counts.foreign_letters / counts.letters


def reversed_share(counts: WordCounts) -> float | None:
    """Share of right-to-left words that are words only when reversed (None: none judged)."""
    if not counts.rtl_words:
        return None
    return max(0, counts.rtl_reversed - counts.rtl_known) / counts.rtl_words


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


def _word_reasons(counts: WordCounts, settings: TrustSettings) -> list[str]:
    """A layer whose words are not words; one whose right-to-left words are words only read
    backwards (its own reason: another reading of the page may have them right)."""
    enough = counts.judged >= settings.min_words
    languages = "/".join(settings.languages)
    backwards = reversed_share(counts)
    rtl_enough = counts.rtl_words >= settings.min_words or counts.rtl_known == 0
    if backwards is not None and backwards >= settings.min_word_share and rtl_enough:
        return [f"{backwards:.0%} of {counts.rtl_words} right-to-left words are words of "
                f"{languages} only when reversed: reversed right-to-left text"]
    if counts.reversed_runs:
        lines = f"{counts.reversed_runs} right-to-left line{'s' * (counts.reversed_runs > 1)}"
        return [f"{lines} ({counts.reversed_run_words} words) of {counts.rtl_words} are words of "
                f"{languages} only when reversed: reversed right-to-left text"]
    share = counts.share
    if share is not None and share < settings.min_word_share and (enough or share == 0):
        return [f"{share:.0%} of {counts.judged} words are words of {languages}"]
    return []


def assess(text: str, settings: TrustSettings,
           layout: dict[str, Any] | None = None) -> Assessment:
    """Score one reading of a page. ``layout``: the inventory's geometry of a text layer
    (``picture_without_text``, ``text_off_page``: shares 0-1), given only for a text layer.
    ``settings``: the config's ``trust`` section."""
    counts = word_share(text, settings.languages)
    share = counts.share
    bad, symbols, glyph_codes = bad_char_share(text), symbol_share(text), glyph_code_share(counts)
    # Symbols cost nothing up to half the characters (tables, code), then down to 0 at all.
    quality = ((1.0 if share is None else share) * (1 - bad) * (1 - glyph_codes)
               * min(1.0, 2 * (1 - symbols)))
    reasons = []
    if bad > settings.max_bad_chars:
        reasons.append(f"{bad:.1%} replacement, control, private-use or mis-decoded characters")
    if symbols > settings.max_symbols:
        reasons.append(f"{symbols:.0%} of the characters are punctuation or symbols")
    if glyph_codes > MAX_GLYPH_CODE_LETTERS:
        reasons.append(f"{glyph_codes:.0%} of the letters are letters none of "
                       f"{'/'.join(settings.languages)} is written with, mixed into the "
                       "page: glyph codes")
    reasons += _word_reasons(counts, settings)
    if layout:
        picture, off_page = layout.get("picture_without_text", 0), layout.get("text_off_page", 0)
        quality *= (1 - picture) * (1 - off_page)
        if picture > settings.max_picture_without_text:
            reasons.append(f"{picture:.0%} of the page's ink is picture with no text layer over it")
        if off_page > settings.max_text_off_page:
            reasons.append(f"{off_page:.0%} of the text lies off the page")
    return Assessment(quality=quality, language=counts.language, reasons=reasons,
                      words=counts.judged, word_share=share, bad_chars=bad,
                      glyph_codes=glyph_codes, reversed_share=reversed_share(counts),
                      script_words=counts.known_by_script)
