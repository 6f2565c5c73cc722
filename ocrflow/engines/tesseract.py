"""Tesseract through tesserocr (its C++ API in this process): the CPU engine for Arabic, French
and the other scripts Tesseract has models for.

One Tesseract instance per thread: tesserocr releases the GIL while Tesseract recognises, so
``threads`` pages are read at once on as many cores. The text is Tesseract's own reading order
(its layout analysis finds the columns): blocks and paragraphs separated by blank lines, lines by
newlines, right-to-left lines in logical order.
"""

from __future__ import annotations

import os
import queue
import re
import sys
import unicodedata
from collections import Counter
from collections.abc import Iterable, Iterator
from concurrent.futures import FIRST_COMPLETED, Future, ThreadPoolExecutor, wait
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ocrflow.engines.base import (
    Engine,
    EngineUnavailable,
    JobContext,
    PageInput,
    PageOutput,
    error_line,
)
from ocrflow.records import RenderedPage
from ocrflow.render import RenderSpec

# Where Debian and Ubuntu (tesseract-ocr-<lang> packages) put the models, newest first.
SYSTEM_TESSDATA = ("/usr/share/tesseract-ocr/5/tessdata", "/usr/share/tesseract-ocr/4.00/tessdata",
                   "/usr/share/tessdata", "/usr/local/share/tessdata")
# The script Tesseract's orientation and script detection (OSD) names for each language code,
# for the common codes; a code not listed is read on every page whatever its script.
SCRIPTS = {
    "Latin": {"eng", "fra", "deu", "spa", "ita", "por", "nld", "cat", "ron", "pol", "ces", "slk",
              "hun", "swe", "dan", "nor", "fin", "tur", "vie", "ind", "msa", "lat", "hrv", "slv",
              "est", "lav", "lit", "gle", "isl", "eus", "glg", "afr", "swa", "tgl", "aze"},
    "Arabic": {"ara", "fas", "urd", "pus", "uig", "snd"},
    "Cyrillic": {"rus", "ukr", "bul", "srp", "bel", "mkd", "kaz", "kir", "tgk", "mon"},
    "Greek": {"ell", "grc"},
    "Hebrew": {"heb", "yid"},
    "Han": {"chi_sim", "chi_tra"},
    "Japanese": {"jpn"},
    "Hangul": {"kor"},
    "Devanagari": {"hin", "mar", "nep", "san"},
    "Thai": {"tha"},
}
RTL_SCRIPTS = {"Arabic", "Hebrew"}
# Scripts whose letters' Unicode names start with the script's name ("ARABIC LETTER ALEF")
NAMED_SCRIPTS = {"Latin", "Arabic", "Cyrillic", "Greek", "Hebrew"}
# wordfreq's code of Tesseract's languages, for the common ones
WORDFREQ = {"fra": "fr", "eng": "en", "deu": "de", "spa": "es", "ita": "it", "por": "pt",
            "nld": "nl", "ara": "ar", "fas": "fa", "urd": "ur", "rus": "ru", "ukr": "uk",
            "bul": "bg", "srp": "sr", "mkd": "mk", "ell": "el", "heb": "he", "hin": "hi",
            "mar": "mr", "nep": "ne", "tha": "th", "chi_sim": "zh", "chi_tra": "zh", "jpn": "ja",
            "kor": "ko"}
PSM_SINGLE_LINE = 7  # tesserocr's PSM.SINGLE_LINE
# A word of this confidence or less (0-1) is one the model did not know at all: a French term
# read with the Arabic model alone scores 0-0.02, a hard Arabic word read with it 0.19 or more.
LOST_WORD = 0.1
# A run of doubted words read again with another script's languages replaces them when it is
# this much surer (0-1), has this many letters of that script, and is read at least recheck_below
# surely, or at least SURE_RUN surely with every word a dictionary word or a number.
SURER = 0.1
MIN_RUN_LETTERS = 3
SURE_RUN = 0.6
# Table rules at the ends of a run cut out of its line, which Tesseract reads as "|".
RULES = re.compile(r"^[|\s]+|[|\s]+$")
# Tesseract wraps left-to-right runs inside right-to-left lines in these marks, for display; in
# logical order they are invisible characters that only split words.
BIDI_MARKS = re.compile("[\u200e\u200f\u202a-\u202e\u2066-\u2069]")
INSTALL = "apt-get install tesseract-ocr-{code} (Debian/Ubuntu), or run with '--sdm conda' " \
          "(envs/tesseract.yaml)"


def find_tessdata() -> Path | None:
    """The folder of *.traineddata: TESSDATA_PREFIX (as Tesseract reads it), the environment's
    own share/tessdata (a conda env), then the system's."""
    candidates = [os.environ.get("TESSDATA_PREFIX", ""), str(Path(sys.prefix, "share", "tessdata")),
                  *SYSTEM_TESSDATA]
    for folder in filter(None, candidates):
        if Path(folder).is_dir() and any(Path(folder).glob("*.traineddata")):
            return Path(folder)
    return None


def script_of(code: str) -> str | None:
    return next((script for script, codes in SCRIPTS.items() if code in codes), None)


def clean_text(text: str) -> str:
    """Tesseract's text without bidi marks and trailing spaces; paragraphs one blank line apart."""
    lines = [line.rstrip() for line in BIDI_MARKS.sub("", text).splitlines()]
    return re.sub(r"\n{3,}", "\n\n", "\n".join(lines)).strip()


class PageReader:
    """One thread's Tesseract instances: one per language set, created when first needed, and
    one for orientation and script detection."""

    def __init__(self, tessdata: Path, psm: int) -> None:
        self.tessdata, self.psm = tessdata, psm
        self._apis: dict[tuple[str, int], Any] = {}

    def api(self, languages: str, psm: int | None = None) -> Any:
        """The instance for these languages, in ``psm`` (default: the engine's)."""
        from tesserocr import PSM, PyTessBaseAPI

        psm = PSM.OSD_ONLY if languages == "osd" else psm or self.psm
        if (languages, psm) not in self._apis:
            # with a trailing separator: older Tesseracts append the file name to it as it is
            self._apis[languages, psm] = PyTessBaseAPI(path=f"{self.tessdata}/",
                                                       lang=languages, psm=psm)
        return self._apis[languages, psm]

    def close(self) -> None:
        for api in self._apis.values():
            api.End()
        self._apis.clear()


class TesseractEngine(Engine):
    name = "tesseract"
    OPERATIONAL = frozenset({"threads", "timeout_s"})

    def __init__(self, settings: dict[str, Any], threads: int = 1) -> None:
        super().__init__(settings, threads)
        self._readers: queue.Queue[PageReader] = queue.Queue()
        self._all_readers: list[PageReader] = []
        self.tessdata: Path | None = None
        self.version_string = ""  # Tesseract's, once started
        self._routes: dict[str, str] = {}

    @property
    def render_spec(self) -> RenderSpec:
        # Tesseract binarises the page itself: grey levels are all it needs, a third of RGB.
        return RenderSpec(dpi=self.settings["dpi"], max_pixels=self.settings["max_pixels"],
                          grayscale=True)

    @property
    def workers(self) -> int:
        return self.settings["threads"] or self.threads

    @property
    def languages(self) -> list[str]:
        return list(self.settings["languages"])

    def routes(self) -> dict[str, str]:
        """Script OSD may find -> the languages a page of it is read with (Tesseract's
        "fra+eng" form). Empty when every language is read on every page."""
        if not self.settings["detect_script"]:
            return {}
        unknown = [code for code in self.languages if script_of(code) is None]
        by_script: dict[str, list[str]] = {}
        for code in self.languages:
            if (script := script_of(code)) is not None:
                by_script.setdefault(script, []).append(code)
        if len(by_script) < 2:
            return {}  # one script: nothing to choose
        return {script: "+".join([*codes, *unknown]) for script, codes in by_script.items()}

    def start(self, job: JobContext | None = None) -> None:
        super().start(job)
        # Tesseract built with OpenMP (Debian's, some conda builds) would spread each page over
        # every core, on top of our one page per thread: oversubscribed, slower. Read by libgomp
        # when it loads, so before the import. (The PyPI wheel is built without OpenMP.)
        os.environ.setdefault("OMP_THREAD_LIMIT", "1")
        try:
            import tesserocr
        except ImportError as exc:
            raise EngineUnavailable(
                f"engine tesseract: cannot import {exc.name or 'tesserocr'}; install it with "
                "'pip install tesserocr' or run with '--sdm conda' (envs/tesseract.yaml)"
            ) from exc
        self.tessdata = find_tessdata()
        if self.tessdata is None:
            raise EngineUnavailable(
                "engine tesseract: no tessdata folder with *.traineddata found (TESSDATA_PREFIX, "
                f"{', '.join(SYSTEM_TESSDATA)}); " + INSTALL.format(code=self.languages[0]))
        self._routes = self.routes()
        for code in [*self.languages, *(["osd"] if self._routes else [])]:
            if not (self.tessdata / f"{code}.traineddata").is_file():
                key = "detect_script needs it" if code == "osd" else "languages"
                raise EngineUnavailable(
                    f"engine tesseract: no model for language {code!r} in {self.tessdata} "
                    f"(engines.tesseract.{key}); " + INSTALL.format(code=code.replace("_", "-")))
        self.version_string = tesserocr.tesseract_version().split()[1]
        for _ in range(self.workers):
            reader = PageReader(self.tessdata, self.settings["psm"])
            self._all_readers.append(reader)
            self._readers.put(reader)
        try:  # load every model once now: a model Tesseract refuses fails the job, not each page
            for languages in {"+".join(self.languages), *self._routes.values()}:
                self._all_readers[0].api(languages)
        except RuntimeError as exc:
            raise EngineUnavailable(f"engine tesseract: {error_line(exc)}") from exc

    def close(self) -> None:
        for reader in self._all_readers:
            reader.close()
        self._all_readers.clear()
        self._readers = queue.Queue()
        super().close()

    def provenance(self) -> dict[str, Any]:
        return {**super().provenance(), "tesseract": self.version_string,
                "languages": "+".join(self.languages)}

    def recognize(self, page: PageInput) -> PageOutput:
        reader = self._readers.get()
        try:
            return self.read(reader, page)
        finally:
            self._readers.put(reader)

    def run(self, pages: Iterable[PageInput]) -> Iterator[tuple[PageInput, PageOutput]]:
        """Keep ``threads`` pages in recognition, one per reader thread; hand each back as it
        is done. Closing the generator waits for the pages being read and drops their text."""
        in_flight: dict[Future[PageOutput], PageInput] = {}
        with ThreadPoolExecutor(self.workers, thread_name_prefix="tesseract") as pool:
            try:
                for page in pages:
                    in_flight[pool.submit(self._read_safely, page)] = page
                    while len(in_flight) >= self.workers:
                        yield from self._finished(in_flight)
                while in_flight:
                    yield from self._finished(in_flight)
            finally:
                for future in in_flight:
                    future.cancel()

    @staticmethod
    def _finished(in_flight: dict[Future[PageOutput], PageInput]
                  ) -> Iterator[tuple[PageInput, PageOutput]]:
        done, _ = wait(in_flight, return_when=FIRST_COMPLETED)
        for future in done:
            yield in_flight.pop(future), future.result()

    def _read_safely(self, page: PageInput) -> PageOutput:
        try:
            return self.recognize(page)
        except Exception as exc:  # a page's failure is recorded; the shard goes on
            return PageOutput(error=error_line(exc))

    def read(self, reader: PageReader, page: PageInput) -> PageOutput:
        if page.image is None:
            raise ValueError("tesseract needs a rendered page")
        image = page.image
        if image.encoding != "raw" or image.mode != "L":
            image = _as_gray_raw(image)
        every_language = "+".join(self.languages)
        meta: dict[str, Any] = {}
        languages = every_language
        if self._routes:
            meta["script"] = self._script(reader, image)
            languages = self._routes.get(meta["script"] or "", every_language)
        reading = self._recognize(reader, languages, image)
        if languages != every_language and self.settings["recheck_below"] > 0:
            languages, reading = self._mixed_page(reader, image, meta, languages, reading)
        words = sum(reading.word_languages.values())
        meta.update(languages=languages, words=words, mean_confidence=reading.confidence,
                    word_languages=reading.word_languages)
        text = reading.text()
        if "ara" in self.languages:  # a Latin page's Arabic runs were read with it too
            text = final_yeh(text)
        return PageOutput(text=text, meta=meta)

    def _mixed_page(self, reader: PageReader, image: Any, meta: dict[str, Any],
                    languages: str, reading: PageReading) -> tuple[str, PageReading]:
        """OSD names one script per page: on a page mixing two, the other script's words come
        out as junk Tesseract doubts (an Arabic name as "LL Jl", a French term in an Arabic
        decree as Arabic letters). (languages, reading) of the page with them read again:

        - each run of doubted words, with the other script's words it touches, is read again
          with the other scripts' languages, cut out of its line, and replaced where that
          reading is sure and is words;
        - a page that then has the other script, or whose lines are mostly doubted, is also
          read with every language at half the resolution, where Tesseract finds Arabic lines
          it loses at 300 dpi (8 of the 14 of a two-column notice), and kept if it has as many
          dictionary words of the other scripts or more (its doubted runs read again too);
          either way, each line of the reading kept takes the other reading's line at the same
          place when that one has more of those words.

        ``meta`` says what was read again and what was kept: ``words_reread`` (of the first
        reading) and ``half_resolution`` (with its own ``words_reread`` when kept, and
        ``lines_taken`` from the other reading).
        """
        below = self.settings["recheck_below"]
        doubtful = [line for line in reading.lines if line.doubtful(below)]
        if not doubtful:
            return languages, reading
        meta["words_reread"] = self._reread_words(reader, image, reading, 1)
        if not _other_script(reading.text(), meta.get("script")) and \
                len(doubtful) * 2 <= len(reading.lines):
            return languages, reading  # doubts of a single-script page (noise)
        others = [code for code in self.languages if code not in languages.split("+")]
        every = "+".join([languages, *others])
        dpi = self.settings["dpi"] / 2
        half = self._recognize(reader, every, _half(image), dpi)
        own = (meta.get("script") or "Latin").upper()
        kept = self._other_script_words(half.text(), own) >= \
            self._other_script_words(reading.text(), own)
        meta["half_resolution"] = done = {"languages": every, "dpi": dpi, "kept": kept}
        if kept:
            done["words_reread"] = self._reread_words(reader, image, half, 2)
            done["lines_taken"] = self._take_better_lines(half, 2, reading, 1, own)
            return every, half
        done["lines_taken"] = self._take_better_lines(reading, 1, half, 2, own)
        return languages, reading

    def _other_script_words(self, text: str, own: str) -> int:
        """Dictionary words (wordfreq) of the scripts other than ``own``, the page's: the
        words of the script a reading lost are what tell two readings of a page apart (Latin
        junk is easily a word of one of eight Latin languages, Arabic junk hardly ever an
        Arabic word)."""
        from ocrflow import trust

        words = trust.word_share(text, _wordfreq_codes(self.languages)).known_total_by_script
        return sum(count for script, count in words.items() if script != own)

    def _take_better_lines(self, reading: PageReading, scale: int, other: PageReading,
                           other_scale: int, own: str) -> int:
        """Put in ``reading`` each line of ``other`` that lies where one of its lines lies and
        has more words of the other scripts (``_other_script_words``); how many were. Each
        reading gets some lines right that the other does not (the half-resolution one finds
        lines, the first one's re-read words are surer in others). ``scale``, ``other_scale``:
        full-resolution pixels per pixel of each."""
        taken = 0
        for line in reading.lines:
            box = _scaled(line.box, scale)
            same = [o for o in other.lines if _same_line(box, _scaled(o.box, other_scale))]
            if len(same) == 1 and self._other_script_words(same[0].text, own) > \
                    self._other_script_words(line.text, own):
                line.text = same[0].text
                taken += 1
        return taken

    def _reread_words(self, reader: PageReader, image: Any, reading: PageReading,
                      scale: int) -> list[dict[str, Any]]:
        """Read each run of doubted words again with the languages of the other scripts, and
        put that reading in its line where it is kept (``_kept_run``); ``scale``: ``image``'s
        pixels per pixel of the reading. What was read again, and whether it was kept."""
        from PIL import Image

        page = Image.frombytes("L", (image.width, image.height), image.data)
        done = []
        for line in reading.lines:
            for start, stop in _doubted_runs(line.words, self.settings["recheck_below"]):
                run = line.words[start:stop]
                script = script_of(run[0].language)
                languages = "+".join(code for code in self.languages
                                     if script_of(code) != script)
                if script is None or not languages:
                    continue
                span = line.words[slice(*_with_neighbours(line.words, start, stop))]
                box = _scaled(_union(word.box for word in span), scale)
                text, confidence = self._read_run(reader, languages, page, box)
                # the line's text is in logical order; the word iterator's Arabic is not
                was = " ".join(_logical(word.text) if script_of(word.language) in RTL_SCRIPTS
                               else word.text for word in span)
                line_text = BIDI_MARKS.sub("", line.text)
                mean = sum(word.confidence for word in run) / len(run)
                kept = confidence >= mean + SURER and was in line_text and \
                    self._kept_run(text, confidence, script, languages)
                if kept:
                    line.text = line_text.replace(was, text, 1)
                done.append({"box": list(box), "was": was, "languages": languages,
                             "text": text, "confidence": confidence, "kept": kept})
        return done

    def _kept_run(self, text: str, confidence: float, script: str, languages: str) -> bool:
        """Whether a doubted run of ``script``'s words read with ``languages`` came out as
        words of theirs: MIN_RUN_LETTERS letters of another script or more, read surely, or
        less surely but every word a dictionary word or a number (junk hardly ever is; names
        are often no dictionary words, and are read surely)."""
        from ocrflow import trust

        if sum(c.isalpha() and _script_name(c) != script for c in text) < MIN_RUN_LETTERS:
            return False
        if confidence >= self.settings["recheck_below"]:
            return True
        codes = _wordfreq_codes(languages.split("+"))
        return confidence >= SURE_RUN and bool(codes) and \
            trust.word_share(text, codes).share == 1.0

    def _read_run(self, reader: PageReader, languages: str, page: Any,
                  box: tuple[int, int, int, int]) -> tuple[str, float]:
        """The words in ``box`` cut out onto white and read as one line, at half the
        resolution (where a table's rules and the scan's noise trouble Tesseract least), then,
        unless that is sure, at full resolution: the surer reading, table rules dropped."""
        best = ("", 0.0)
        for half in (True, False):
            text, confidence = self._read_cut(reader, languages, page, box, half)
            text = RULES.sub("", text)
            if text and confidence > best[1]:
                best = (text, confidence)
            if best[1] >= self.settings["recheck_below"]:
                break
        return best

    def _read_cut(self, reader: PageReader, languages: str, page: Any,
                  box: tuple[int, int, int, int], half: bool) -> tuple[str, float]:
        """(text, confidence) of ``box`` cut out onto white with a margin, as one line (at half
        the resolution if ``half``)."""
        from PIL import Image

        crop = page.crop(box)
        dpi = self.settings["dpi"]
        if half:
            crop, dpi = crop.reduce(2), dpi / 2
        margin = max(8, crop.height // 2)
        canvas = Image.new("L", (crop.width + 2 * margin, crop.height + 2 * margin), 255)
        canvas.paste(crop, (margin, margin))
        api = reader.api(languages, PSM_SINGLE_LINE)
        api.SetImage(canvas)
        api.SetSourceResolution(int(dpi))
        try:
            text = clean_text(api.GetUTF8Text())
            return text, round(api.MeanTextConf() / 100, 4) if text else 0.0
        finally:
            api.Clear()

    def _recognize(self, reader: PageReader, languages: str, image: Any,
                   dpi: float | None = None) -> PageReading:
        """The page read with these languages: its text, lines and word confidences."""
        api = reader.api(languages)
        api.SetImageBytes(image.data, image.width, image.height, 1, image.width)
        # The resolution asked for (lower only on a page over max_pixels): Tesseract's size
        # limits for noise and text are in these units.
        api.SetSourceResolution(int(dpi or self.settings["dpi"]))
        try:
            if not api.Recognize(timeout=int(self.settings["timeout_s"] * 1000)):
                raise TimeoutError(f"recognition took more than {self.settings['timeout_s']} s "
                                   "(engines.tesseract.timeout_s)")
            return _page_reading(api, (image.width, image.height))
        finally:
            api.Clear()

    @staticmethod
    def _script(reader: PageReader, image: Any) -> str | None:
        """The page's script by Tesseract's OSD; None when it finds too little text to say."""
        osd = reader.api("osd")
        osd.SetImageBytes(image.data, image.width, image.height, 1, image.width)
        try:
            found = osd.DetectOrientationScript()
        except RuntimeError:
            found = None
        osd.Clear()
        return (found or {}).get("script_name") or None


@dataclass
class LineReading:
    text: str
    box: tuple[int, int, int, int]  # left, top, right, bottom, in pixels
    confidence: float  # mean of its words', 0-1
    lowest: float  # its least sure word's
    words: list[Word] = field(default_factory=list)

    def doubtful(self, below: float) -> bool:
        """Junk of the wrong script: a low mean, or a word the model did not know at all (a
        French term inside an Arabic line)."""
        return self.confidence < below or self.lowest < LOST_WORD


@dataclass
class PageReading:
    lines: list[LineReading]
    layout: list[str | int]  # the text's lines: a blank line as "", a line as its index
    confidence: float  # mean word confidence, 0-1
    word_languages: dict[str, int]

    def text(self) -> str:
        return clean_text("\n".join(self.lines[part].text if isinstance(part, int) else part
                                     for part in self.layout))


def _page_reading(api: Any, size: tuple[int, int]) -> PageReading:
    """Tesseract's text split into its lines, each with its box and its words' confidences.
    Its text and its line boxes come in one order (a line's text from the iterator over words
    would lose the right-to-left order Tesseract gives the page's text)."""
    from tesserocr import RIL

    raw = api.GetUTF8Text() or ""
    text_lines = raw.splitlines()
    boxes = [(b["x"], b["y"], b["x"] + b["w"], b["y"] + b["h"])
             for _, b, *_ in api.GetComponentImages(RIL.TEXTLINE, True)]
    words = _words(api)
    counts = Counter(word.language for word in words)
    confidence = round(api.MeanTextConf() / 100, 4) if raw.strip() else 0.0
    filled = [i for i, line in enumerate(text_lines) if line.strip()]
    if len(filled) != len(boxes):
        # not one text line per box: the page is one line, doubted as a whole (read again
        # whole when Tesseract doubts it)
        whole = LineReading(raw, (0, 0, *size), confidence, confidence)
        return PageReading([whole], [0], confidence, dict(counts.most_common()))
    lines, layout = [], []
    for line in text_lines:
        if not line.strip():
            layout.append("")
            continue
        box = boxes[len(lines)]
        own = [word for word in words if _within(_middle(word.box), box)]
        inside = [word.confidence for word in own]
        mean = sum(inside) / len(inside) if inside else 1.0
        layout.append(len(lines))
        lines.append(LineReading(line, box, round(mean, 4), min(inside, default=1.0), own))
    return PageReading(lines, layout, confidence, dict(counts.most_common()))


def _doubted_runs(words: list[Word], below: float) -> Iterator[tuple[int, int]]:
    """(start, stop) of each run of consecutive words with letters that Tesseract doubts, read
    by one script's models, touching (``_touching``: a table's cells are runs of their own);
    numbers between two of them stay in the run ("من 2 إلى 6" read as Latin junk around two
    sure digits is one run)."""
    start, end = None, 0  # the run so far: words[start:end]
    for i, word in enumerate(words):
        letters = any(c.isalpha() for c in word.text)
        touching = start is not None and _touching(words[i - 1], word)
        if not letters and touching:
            continue  # a number: in the run if a doubted word follows
        if letters and word.confidence < below:
            if touching and script_of(word.language) == script_of(words[start].language):
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


def _with_neighbours(words: list[Word], start: int, stop: int) -> tuple[int, int]:
    """The run ``words[start:stop]`` with the words beside it that another script's model read,
    as far as they touch: the rest of the phrase the run belongs to ("للعموم" read as "gor)"
    and "م"; "فاطمة الزهراء" as "cl» JI" after "بناني"), read again with it so that its words
    come out whole and in order."""
    script = script_of(words[start].language)

    def joins(i: int, neighbour: int) -> bool:
        return script_of(words[i].language) != script and _touching(words[i], words[neighbour])

    while start > 0 and joins(start - 1, start):
        start -= 1
    while stop < len(words) and joins(stop, stop - 1):
        stop += 1
    return start, stop


def _scaled(box: tuple[int, int, int, int], scale: int) -> tuple[int, int, int, int]:
    left, top, right, bottom = box
    return left * scale, top * scale, right * scale, bottom * scale


def _same_line(one: tuple[int, int, int, int], other: tuple[int, int, int, int]) -> bool:
    """Whether two line boxes overlap over most of the smaller one's height and width."""
    def overlap(a: int, b: int, c: int, d: int) -> float:
        return max(0, min(b, d) - max(a, c)) / max(1, min(b - a, d - c))

    return overlap(one[1], one[3], other[1], other[3]) > 0.5 and \
        overlap(one[0], one[2], other[0], other[2]) > 0.5


def _touching(one: Word, other: Word) -> bool:
    """Whether two words of a line are neighbours in a phrase: no further apart than once and
    a half the taller one's height (a table's cells, a page's columns are further)."""
    height = max(one.box[3] - one.box[1], other.box[3] - other.box[1])
    return _gap(one.box, other.box) <= 1.5 * height


def _gap(one: tuple[int, int, int, int], other: tuple[int, int, int, int]) -> int:
    """The blank between two boxes of a line, whichever comes first."""
    return max(other[0] - one[2], one[0] - other[2], 0)


_DIGITS = re.compile(r"\d+(?:[.,:/]\d+)*")  # bidi keeps 1:650 or 12.5 one number


def _logical(visual: str) -> str:
    """A right-to-left word as Tesseract's word iterator gives it (letters left to right on
    the page) in logical order, as in the page's text: reversed, its numbers read forwards."""
    return _DIGITS.sub(lambda number: number.group()[::-1], visual[::-1])


def _union(boxes: Iterable[tuple[int, int, int, int]]) -> tuple[int, int, int, int]:
    lefts, tops, rights, bottoms = zip(*boxes, strict=True)
    return min(lefts), min(tops), max(rights), max(bottoms)


def _middle(box: tuple[int, int, int, int]) -> tuple[float, float]:
    return (box[0] + box[2]) / 2, (box[1] + box[3]) / 2


def _within(point: tuple[float, float], box: tuple[int, int, int, int]) -> bool:
    return box[0] <= point[0] <= box[2] and box[1] <= point[1] <= box[3]


@dataclass(frozen=True)
class Word:
    text: str
    confidence: float  # 0-1
    box: tuple[int, int, int, int]
    language: str  # the code of the model that read it


def _words(api: Any) -> list[Word]:
    """Each word Tesseract read, with the model that read it. A block with
    no text (a drawing) has words without text: tesserocr raises "No text returned" for
    them, and they are no words."""
    from tesserocr import RIL, iterate_level

    found = []
    iterator = api.GetIterator()
    if iterator is None:
        return []
    for word in iterate_level(iterator, RIL.WORD):
        try:
            text = (word.GetUTF8Text(RIL.WORD) or "").strip()
        except RuntimeError:
            continue
        if text:
            found.append(Word(text, word.Confidence(RIL.WORD) / 100, word.BoundingBox(RIL.WORD),
                              word.WordRecognitionLanguage() or "?"))
    return found


_FINAL_YEH = re.compile(r"\b[\u0621-\u064a]+[\u0649\u064a]\b")
# Tesseract's Arabic model writes a final ya as alif maqsura ("فى" for "في", "العلوى" for
# "العلوي"), as Egyptian print does. A word is put right when the other spelling is this many
# times as frequent in wordfreq's Arabic list: "في" is 26 times "فى", but "على" only 11 times
# the name "علي", which stays.
YEH_RATIO = 20


def final_yeh(text: str) -> str:
    """Arabic words whose final ي/ى is the rarer spelling by far, with the other one."""
    from ocrflow import trust

    words = trust._words("ar")

    def better(match: re.Match[str]) -> str:
        word = match.group()
        other = word[:-1] + ("\u064a" if word[-1] == "\u0649" else "\u0649")
        seen = words.get(trust._normal(word), 0.0)
        return other if words.get(trust._normal(other), 0.0) >= YEH_RATIO * max(
            seen, trust.MIN_FREQUENCY / YEH_RATIO) else word

    return _FINAL_YEH.sub(better, text)


def _wordfreq_codes(languages: Iterable[str]) -> tuple[str, ...]:
    """wordfreq's codes of these Tesseract languages, for those wordfreq has."""
    from ocrflow import trust

    codes = (WORDFREQ.get(code) for code in languages)
    return tuple(code for code in codes if code and not trust.check_language(code))


def _script_name(char: str) -> str | None:
    """OSD's name of a letter's script, for the scripts SCRIPTS names."""
    name = unicodedata.name(char, "")
    return next((script for script in SCRIPTS if name.startswith(script.upper())), None)


def _other_script(text: str, script: str | None) -> bool:
    """Whether the text has letters of a script other than the page's (OSD's name); always, for
    a page whose script the letters' names do not tell."""
    if script not in NAMED_SCRIPTS:
        return True
    return any(c.isalpha() and _script_name(c) != script for c in text)


def _half(image: RenderedPage) -> RenderedPage:
    """A grey raw page at half its resolution (each 2 x 2 pixels averaged)."""
    from PIL import Image

    half = Image.frombytes("L", (image.width, image.height), image.data).reduce(2)
    return RenderedPage(half.width, half.height, "L", "raw", half.tobytes())


def _as_gray_raw(image: RenderedPage) -> RenderedPage:
    pil = image.to_pil().convert("L")
    return RenderedPage(pil.width, pil.height, "L", "raw", pil.tobytes())
