"""Tesseract's languages by script, and the mixed-script pass: a page whose script OSD named
read again where it holds another script's words (``MixedScriptPass``).

Scripts are named as ``ocrflow.text.scripts`` names them (LATIN, ARABIC...): the languages'
(``SCRIPTS``), OSD's (through ``osd_script``) and the letters' read.
"""

from __future__ import annotations

import itertools
import re
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, replace
from typing import TYPE_CHECKING, Any

from ocrflow.engines.tesseract_geometry import (
    BIDI_MARKS,
    LOST_WORD,
    RULES,
    SAME_LINE_SHARE,
    LineReading,
    PageReading,
    Word,
    clean_text,
    half,
    is_table_row,
    middle,
    near,
    same_line,
    scaled,
    scaled_word,
    share,
    touching,
    union,
    within,
)
from ocrflow.text.scripts import RIGHT_TO_LEFT, char_script

if TYPE_CHECKING:
    from ocrflow.engines.tesseract import PageReader

# The script of each language code, for the common codes; a code not listed is read on every
# page whatever its script. JAPANESE (Han with kana) is OSD's name, no letter's script.
SCRIPTS = {
    "LATIN": {"eng", "fra", "deu", "spa", "ita", "por", "nld", "cat", "ron", "pol", "ces", "slk",
              "hun", "swe", "dan", "nor", "fin", "tur", "vie", "ind", "msa", "lat", "hrv", "slv",
              "est", "lav", "lit", "gle", "isl", "eus", "glg", "afr", "swa", "tgl", "aze"},
    "ARABIC": {"ara", "fas", "urd", "pus", "uig", "snd"},
    "CYRILLIC": {"rus", "ukr", "bul", "srp", "bel", "mkd", "kaz", "kir", "tgk", "mon"},
    "GREEK": {"ell", "grc"},
    "HEBREW": {"heb", "yid"},
    "HAN": {"chi_sim", "chi_tra"},
    "JAPANESE": {"jpn"},
    "HANGUL": {"kor"},
    "DEVANAGARI": {"hin", "mar", "nep", "san"},
    "THAI": {"tha"},
}
# wordfreq's code of Tesseract's languages, for the common ones
WORDFREQ = {"fra": "fr", "eng": "en", "deu": "de", "spa": "es", "ita": "it", "por": "pt",
            "nld": "nl", "ara": "ar", "fas": "fa", "urd": "ur", "rus": "ru", "ukr": "uk",
            "bul": "bg", "srp": "sr", "mkd": "mk", "ell": "el", "heb": "he", "hin": "hi",
            "mar": "mr", "nep": "ne", "tha": "th", "chi_sim": "zh", "chi_tra": "zh", "jpn": "ja",
            "kor": "ko"}
PSM_SINGLE_LINE = 7  # tesserocr's PSM.SINGLE_LINE
PSM_SPARSE_TEXT = 11  # tesserocr's PSM.SPARSE_TEXT: as much text as it finds, in no order
# A run of doubted words read again with another script's languages replaces them when it is
# SURER (0-1) surer, has MIN_RUN_LETTERS letters of that script, and is read at least
# recheck_below surely, or at least SURE_RUN surely with every word a dictionary word or a
# number. Tuned on the bilingual corpus's scans (benchmarks/bilingual.py): with them its table
# of names keeps 0.88 of its Arabic words (was 0.76), every scan 0.88 or more in each script.
SURER = 0.1
MIN_RUN_LETTERS = 3
SURE_RUN = 0.6
# A doubted run this much lower than its line, or less, is a rule or a dash, not read again.
# Tuned on the bilingual corpus's scans (commit f95a572: a mixed page costs 1.11x-1.38x one
# reading, and keeps >= 0.89 of each script's words).
FLAT = 0.3
# A half-resolution line taller than this many times the first reading's line it lies on spans
# several lines (a table's column read as one) and takes none of their place. Tuned on the
# bilingual corpus's scans (commit f95a572, as FLAT).
COLUMN_HEIGHTS = 1.5
# Tesseract's Arabic model writes a final ya as alif maqsura ("فى" for "في", "العلوى" for
# "العلوي"), as Egyptian print does. A word is put right when the other spelling is this many
# times as frequent in wordfreq's Arabic list: tuned on wordfreq's list itself ("في" is 26 times
# "فى", but "على" only 11 times the name "علي", which stays).
YEH_RATIO = 20
_FINAL_YEH = re.compile(r"\b[\u0621-\u064a]+[\u0649\u064a]\b")
_DIGITS = re.compile(r"\d+(?:[.,:/]\d+)*")  # bidi keeps 1:650 or 12.5 one number


def script_of(code: str) -> str | None:
    """The script a Tesseract language is written in (``SCRIPTS``); None for a code not listed."""
    return next((script for script, codes in SCRIPTS.items() if code in codes), None)


def wordfreq_codes(languages: Iterable[str]) -> tuple[str, ...]:
    """wordfreq's codes of these Tesseract languages, for those wordfreq has."""
    from ocrflow.text import trust

    codes = (WORDFREQ.get(code) for code in languages)
    return tuple(code for code in codes if code and not trust.check_language(code))


def known_words(text: str, languages: Iterable[str]) -> dict[str, int]:
    """Dictionary words (wordfreq) of the text in these Tesseract languages, every occurrence
    counted, by script."""
    from ocrflow.text import trust

    return trust.word_share(text, wordfreq_codes(languages)).known_total_by_script


def final_yeh(text: str) -> str:
    """Arabic words whose final ي/ى is the rarer spelling by far, with the other one."""
    from ocrflow.text import trust

    words = trust.word_frequencies("ar")

    def better(match: re.Match[str]) -> str:
        word = match.group()
        other = word[:-1] + ("\u064a" if word[-1] == "\u0649" else "\u0649")
        seen = words.get(trust.normal_form(word), 0.0)
        return other if words.get(trust.normal_form(other), 0.0) >= YEH_RATIO * max(
            seen, trust.MIN_FREQUENCY / YEH_RATIO) else word

    return _FINAL_YEH.sub(better, text)


def logical(visual: str) -> str:
    """A right-to-left word as Tesseract's word iterator gives it (letters left to right on
    the page) in logical order, as in the page's text: reversed, its numbers read forwards."""
    return _DIGITS.sub(lambda number: number.group()[::-1], visual[::-1])


def word_text(word: Word) -> str:
    """A word as it is in its line's text, which is in logical order (the word iterator's
    right-to-left words are not)."""
    return logical(word.text) if script_of(word.language) in RIGHT_TO_LEFT else word.text


def with_words(line: LineReading, start: int, stop: int, text: str,
               words: list[Word]) -> LineReading | None:
    """A new line: ``line`` with its words ``[start:stop]`` replaced by ``words``, read as
    ``text``. Its text is the line's with those words' text (in logical order, ``word_text``)
    replaced by ``text``, or ``text`` put after the words before them where none is replaced
    (the line's text is Tesseract's, in logical order, which its words cannot rebuild); None
    where the line's text does not hold the words replaced."""
    line_text = BIDI_MARKS.sub("", line.text)
    was = " ".join(word_text(word) for word in line.words[start:stop])
    if was:
        if was not in line_text:
            return None
        new_text = line_text.replace(was, text, 1)
    else:
        before = word_text(line.words[start - 1]) if start else ""
        at = line_text.find(before) + len(before) if before in line_text else 0
        new_text = f"{line_text[:at]} {text} {line_text[at:]}".strip()
    return replace(line, text=new_text, words=[*line.words[:start], *words, *line.words[stop:]])


def doubted_runs(words: list[Word], below: float) -> Iterator[tuple[int, int]]:
    """(start, stop) of each run of consecutive words with letters that Tesseract doubts, read
    by one script's models, touching (``touching``: a table's cells are runs of their own);
    numbers between two of them stay in the run ("من 2 إلى 6" read as Latin junk around two
    sure digits is one run)."""
    start, end = None, 0  # the run so far: words[start:end]
    for i, word in enumerate(words):
        letters = any(c.isalpha() for c in word.text)
        touches = start is not None and touching(words[i - 1], word)
        if not letters and touches:
            continue  # a number: in the run if a doubted word follows
        if letters and word.confidence < below:
            if touches and start is not None and \
                    script_of(word.language) == script_of(words[start].language):
                end = i + 1
                continue
            if start is not None:
                yield start, end
            start, end = i, i + 1
            continue
        if start is not None:
            yield start, end
        start = None
    if start is not None:
        yield start, end


def sure_parts(reading: PageReading, below: float) -> Iterator[tuple[int, int, int, int]]:
    """The boxes of what the page's first reading read surely: its lines without a doubted
    word, and in the others the sure words that touch no doubted one (the end of an Arabic
    word is read surely as "¢" beside the junk of the rest) and touch another such word or
    none (a French name or a number in a table's row; not a number inside an Arabic title,
    whose phrase a blank there would cut in two). With a margin, so that no edge of a letter
    is left as a speck."""
    for line in reading.lines:
        words = line.words
        if not line.doubtful(below) and all(word.confidence >= below for word in words):
            yield line.box
            continue
        touches = [touching(one, other) for one, other in itertools.pairwise(words)]
        neighbours = [[j for j in (i - 1, i + 1) if 0 <= j < len(words) and touches[min(i, j)]]
                      for i in range(len(words))]
        clear = [word.confidence >= below and
                 all(words[j].confidence >= below for j in neighbours[i])
                 for i, word in enumerate(words)]
        painted = [clear[i] and (not neighbours[i] or any(clear[j] for j in neighbours[i]))
                   for i in range(len(words))]
        run: list[Word] = []
        for i, word in enumerate(words):
            if painted[i]:
                run.append(word)
            if run and (i + 1 == len(words) or not (painted[i + 1] and touches[i])):
                left, top, right, bottom = union(word.box for word in run)
                margin = (bottom - top) // 4
                yield (left - margin, max(top - margin, line.box[1]), right + margin,
                       min(bottom + margin, line.box[3]))
                run = []


def with_neighbours(words: list[Word], start: int, stop: int,
                    below: float) -> tuple[int, int]:
    """The run ``words[start:stop]`` with the words beside it that another script's model read,
    and the doubted words of its own script, as far as they touch it: the rest of the phrase
    the run belongs to ("للعموم" read as "gor)" and "م"; "فاطمة الزهراء" as "cl» JI" after
    "بناني"; "من أجل ... للمجموعات" as "ca أجل الجرد. الستوي le gard"), read again with it so
    that its words come out whole and in order. Words come in the line's order, which is not
    the page's where the directions mix ("le gard", left to right, after the Arabic at its
    right): a group of them joins when it touches the run."""
    script = script_of(words[start].language)

    def joins(i: int) -> bool:
        return script_of(words[i].language) != script or words[i].confidence < below

    def groups_touch(group: list[Word], run: list[Word]) -> bool:
        return near(union(w.box for w in group), union(w.box for w in run))

    grew = True
    while grew:
        grew = False
        for end in range(stop + 1, len(words) + 1):
            if not joins(end - 1):
                break
            if groups_touch(words[stop:end], words[start:stop]):
                stop, grew = end, True
                break
        for first in range(start - 1, -1, -1):
            if not joins(first):
                break
            if groups_touch(words[first:start], words[start:stop]):
                start, grew = first, True
                break
    return start, stop


@dataclass(frozen=True)
class MixedScriptPass:
    """The mixed-script pass of an engine reading ``languages``: OSD names one script per page,
    so on a page mixing two the other script's words come out as junk Tesseract doubts (an
    Arabic name as "LL Jl", a French term in an Arabic decree as Arabic letters), or not at all
    (its layout analysis drops 8 of the 14 Arabic lines of a two-column notice at 300 dpi).
    ``read`` reads them again, for the price of the part of the page that is doubted."""

    languages: list[str]  # every language of the engine
    below: float  # engines.tesseract.recheck_below: a word less sure is doubted
    dpi: int
    # the engine's reading of a page: (reader, languages, image, dpi, psm) -> its reading
    recognize: Callable[[PageReader, str, Any, float | None, int | None], PageReading]

    def read(self, reader: PageReader, image: Any, meta: dict[str, Any], languages: str,
             reading: PageReading, own: str) -> tuple[str, PageReading]:
        """(languages, reading) of the page, read with ``languages`` as a page of the script
        ``own``, with the other scripts' words read again:

        - the page is read again at half the resolution, where Tesseract finds the lines it
          lost, with every language (the other scripts' first), without what the first reading
          read surely (``sure_parts``, painted white): as sparse text where the doubted lines
          are mostly a table's rows (its rules cost Tesseract's layout analysis three times as
          much, and its cells come back one by one), else with the engine's layout analysis.
          Its lines are put in the first reading by their place (``merge_lines``);
        - each run of doubted words left, with the other script's words it touches, is read
          again with the other scripts' languages, cut out of its line, and replaced where that
          reading is sure and is words (``reread_words``).

        ``meta`` says what was read again and what was kept: ``half_resolution`` (languages,
        dpi, ``tables``, ``lines_read``, ``parts_taken``, ``lines_added``) and
        ``words_reread``.
        """
        doubtful = [line for line in reading.lines if line.doubtful(self.below)]
        if not doubtful:
            return languages, reading
        others = [code for code in self.languages if code not in languages.split("+")]
        # the other scripts' first: the doubted part is mostly theirs, and Tesseract tries the
        # next languages only on a word the first one does not read well
        every = "+".join([*others, languages])
        dpi = self.dpi / 2
        tables = sum(map(is_table_row, doubtful)) * 2 > len(doubtful)
        halved = self.recognize(reader, every, half(image, blank=sure_parts(reading, self.below)),
                                dpi, PSM_SPARSE_TEXT if tables else None)
        taken, added = self.merge_lines(reading, halved, own)
        meta["half_resolution"] = {"languages": every, "dpi": dpi, "tables": tables,
                                   "lines_read": len(halved.lines), "parts_taken": taken,
                                   "lines_added": added}
        meta["words_reread"] = self.reread_words(reader, image, reading)
        return (every if taken or added else languages), reading

    def other_script_words(self, text: str, own: str) -> int:
        """Dictionary words (wordfreq) of the scripts other than ``own``, the page's, every
        occurrence counted: the words of the script a reading lost are what tell two readings
        of a page apart (Latin junk is easily a word of one of eight Latin languages, Arabic
        junk hardly ever an Arabic word)."""
        return sum(count for script, count in known_words(text, self.languages).items()
                   if script != own)

    def merge_lines(self, reading: PageReading, halved: PageReading, own: str) -> tuple[int, int]:
        """Put the half-resolution reading of the page's doubted part into ``reading``.

        - Each line takes each of the half reading's lines that lie on it (a table's row comes
          back as its cells) in place of the words it covers (doubted words: the sure ones
          were painted out), or among its words where it covers none (ink the first reading
          left out), when it has more dictionary words of the other scripts (``_take``). A
          page Tesseract gave as one block takes them whole, in their order.
        - A line of the half reading where ``reading`` has none is added when it has such
          words, or is sure and has words: above the first line below it in its column, or at
          the end. Beside a table's row (``is_table_row``) is on the row: a cell left out.

        (parts taken, lines added). The words taken or added are the half reading's, in the
        page's pixels, so that those still doubted are read again like the others."""
        boxes = [scaled(line.box, 2) for line in halved.lines]
        on: dict[int, list[int]] = {}  # reading's line -> the half reading's lines on it
        new: list[int] = []
        rows = [j for j, line in enumerate(reading.lines) if is_table_row(line)]
        for i, box in enumerate(boxes):
            same = [j for j, line in enumerate(reading.lines) if same_line(box, line.box)] or \
                [j for j in rows  # a cell beside a table's row
                 if share(box[1], box[3], *reading.lines[j].box[1::2]) > SAME_LINE_SHARE]
            if not same:
                new.append(i)
                continue
            j = max(same, key=lambda j: share(box[1], box[3], *reading.lines[j].box[1::2]))
            line_box = reading.lines[j].box
            # a box taller than the line spans several: a table's column read as one line
            if box[3] - box[1] <= COLUMN_HEIGHTS * (line_box[3] - line_box[1]):
                on.setdefault(j, []).append(i)
        taken = 0
        for j, parts in on.items():
            line = reading.lines[j]
            if line.words:
                for i in parts:
                    if (took := self._take(line, halved.lines[i], boxes[i], own)) is not None:
                        line = reading.lines[j] = took
                        taken += 1
                continue
            # the page as one block (Tesseract's lines not found): the parts in its order
            text = "\n".join(halved.lines[i].text for i in parts)
            if line.doubtful(self.below) and \
                    self.other_script_words(text, own) > self.other_script_words(line.text, own):
                reading.lines[j] = replace(line, text=text)
                taken += 1
        added = 0
        for i in sorted(new, key=lambda i: boxes[i][1]):
            line = halved.lines[i]
            known = known_words(line.text, self.languages)
            if not (sum(count for script, count in known.items() if script != own) or
                    (line.confidence >= self.below and sum(known.values()))):
                continue
            under = [j for j in reading.layout if isinstance(j, int)
                     and share(boxes[i][0], boxes[i][2], *reading.lines[j].box[::2]) > 0
                     and reading.lines[j].box[1] >= boxes[i][1]]
            reading.lines.append(LineReading(line.text, boxes[i], line.confidence, line.lowest,
                                             [scaled_word(word, 2) for word in line.words]))
            index = len(reading.lines) - 1
            if under:  # in the paragraph of the line below it
                at = reading.layout.index(under[0])
                reading.layout[at:at] = [index]
            else:  # a block of its own at the end, with the lines added there before it
                last = reading.layout[-1] if reading.layout else ""
                joins = isinstance(last, int) and last >= len(reading.lines) - added - 1
                reading.layout.extend([index] if joins else ["", index])
            added += 1
        if taken or added:
            reading.recount()
        return taken, added

    def _take(self, line: LineReading, part: LineReading, box: tuple[int, int, int, int],
              own: str) -> LineReading | None:
        """``line`` with ``part`` (a half-resolution line lying on it, ``box`` in the page's
        pixels) in place of the words of ``line`` it covers, or among them where it covers
        none, when it has more dictionary words of the other scripts and is sure, or somewhat
        sure (SURE_RUN) in place of a word the page's model did not know at all (LOST_WORD: a
        French term read as Arabic). Latin junk read for doubted Arabic words, easily a word of
        some Latin language, is neither. None where it is not taken."""
        covered = [k for k, word in enumerate(line.words) if within(middle(word.box), box)]
        rtl = own in RIGHT_TO_LEFT
        if covered:
            start, stop = covered[0], covered[-1] + 1
        else:  # ink the first reading left out: after the words before it in the line's direction
            start = stop = sum((middle(word.box)[0] > middle(box)[0]) == rtl
                               for word in line.words)
        covered_words = line.words[start:stop]
        was = " ".join(word_text(word) for word in covered_words)
        if self.other_script_words(part.text, own) <= self.other_script_words(was, own):
            return None
        if part.confidence < self.below and not (
                part.confidence >= SURE_RUN and
                any(word.confidence < LOST_WORD for word in covered_words)):
            return None  # neither sure, nor in place of a word the model did not know at all
        return with_words(line, start, stop, part.text,
                          [scaled_word(word, 2) for word in part.words])

    def reread_words(self, reader: PageReader, image: Any,
                     reading: PageReading) -> list[dict[str, Any]]:
        """Read each run of doubted words again with the languages of the other scripts, and
        put that reading in its line where it is kept (``_kept_run``). What was read again,
        and whether it was kept. A run read again keeps its words (their boxes and the
        confidence they were read with): only its text is the new reading's."""
        from PIL import Image

        page = Image.frombytes("L", (image.width, image.height), image.data)
        done = []
        for j, line in enumerate(reading.lines):
            read_to = 0  # a run inside the phrase of the one before was read with it
            for start, stop in doubted_runs(line.words, self.below):
                if start < read_to:
                    continue
                run = line.words[start:stop]
                script = script_of(run[0].language)
                languages = "+".join(code for code in self.languages
                                     if script_of(code) != script)
                if script is None or not languages:
                    continue
                first, read_to = with_neighbours(line.words, start, stop, self.below)
                span = line.words[first:read_to]
                box = union(word.box for word in span)
                if box[3] - box[1] < FLAT * (line.box[3] - line.box[1]):
                    continue  # a rule or a dash: no word of any script
                text, confidence = self._read_run(reader, languages, page, box)
                was = " ".join(word_text(word) for word in span)
                mean = sum(word.confidence for word in run) / len(run)
                kept = None
                if confidence >= mean + SURER and \
                        self._kept_run(text, confidence, script, languages):
                    kept = with_words(line, first, read_to, text, span)
                if kept is not None:
                    line = reading.lines[j] = kept
                done.append({"box": list(box), "was": was, "languages": languages,
                             "text": text, "confidence": confidence, "kept": kept is not None})
        return done

    def _kept_run(self, text: str, confidence: float, script: str, languages: str) -> bool:
        """Whether a doubted run of ``script``'s words read with ``languages`` came out as
        words of theirs: MIN_RUN_LETTERS letters of another script or more, read surely, or
        less surely but every word a dictionary word or a number (junk hardly ever is; names
        are often no dictionary words, and are read surely)."""
        from ocrflow.text import trust

        if sum(c.isalpha() and char_script(c) != script for c in text) < MIN_RUN_LETTERS:
            return False
        if confidence >= self.below:
            return True
        codes = wordfreq_codes(languages.split("+"))
        return confidence >= SURE_RUN and bool(codes) and \
            trust.word_share(text, codes).share == 1.0

    def _read_run(self, reader: PageReader, languages: str, page: Any,
                  box: tuple[int, int, int, int]) -> tuple[str, float]:
        """(text, confidence) of the words in ``box`` cut out onto white with a margin and read
        as one line, table rules dropped, at half the resolution: there a table's rules and the
        scan's noise trouble Tesseract least (reading at full resolution too, when unsure,
        doubled the time for the same words on the bilingual corpus)."""
        from PIL import Image

        crop = page.crop(box).reduce(2)
        margin = max(8, crop.height // 2)
        canvas = Image.new("L", (crop.width + 2 * margin, crop.height + 2 * margin), 255)
        canvas.paste(crop, (margin, margin))
        api = reader.api(languages, PSM_SINGLE_LINE)
        api.SetImage(canvas)
        api.SetSourceResolution(int(self.dpi / 2))
        try:
            text = RULES.sub("", clean_text(api.GetUTF8Text()))
            return text, round(api.MeanTextConf() / 100, 4) if text else 0.0
        finally:
            api.Clear()
