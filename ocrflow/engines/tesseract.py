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
from dataclasses import dataclass
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
# wordfreq's code of Tesseract's non-Latin languages (Latin-script ones are not needed here)
WORDFREQ = {"ara": "ar", "fas": "fa", "urd": "ur", "rus": "ru", "ukr": "uk", "bul": "bg",
            "srp": "sr", "mkd": "mk", "ell": "el", "heb": "he", "hin": "hi", "mar": "mr",
            "nep": "ne", "tha": "th", "chi_sim": "zh", "chi_tra": "zh", "jpn": "ja", "kor": "ko"}
PSM_SINGLE_LINE = 7  # tesserocr's PSM.SINGLE_LINE
# A word of this confidence or less (0-1) is one the model did not know at all: a French term
# read with the Arabic model alone scores 0-0.02, a hard Arabic word read with it 0.19 or more.
LOST_WORD = 0.1
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
        if "ara" in languages.split("+"):
            text = final_yeh(text)
        return PageOutput(text=text, meta=meta)

    def _mixed_page(self, reader: PageReader, image: Any, meta: dict[str, Any],
                    languages: str, reading: PageReading) -> tuple[str, PageReading]:
        """OSD names one script per page: on a page mixing two, the other script's lines, or
        its words inside a line (French terms in an Arabic decree), come out as junk Tesseract
        doubts. (languages, reading) of the page with them read again:

        - a few doubtful lines are read again alone with every language; when most lines are
          doubtful (a table of names in both scripts, a bilingual calendar), or a line read
          alone comes back empty, the whole page is read again with every language, its own
          script's first, and the surer reading kept;
        - a page that has the other script, then, is also read with every language at half the
          resolution, where Tesseract finds Arabic lines it loses at 300 dpi (8 of the 14 of
          a two-column notice), and the reading with more distinct dictionary words of the
          scripts other than Latin is kept: Latin junk is easily a word of one of eight Latin
          languages ("ou", "des"), Arabic junk hardly ever an Arabic word.
        """
        below = self.settings["recheck_below"]
        doubtful = [line for line in reading.lines if line.doubtful(below)]
        if not doubtful:
            return languages, reading
        others = [code for code in self.languages if code not in languages.split("+")]
        every = "+".join([languages, *others])
        reread = []
        if len(doubtful) * 2 <= len(reading.lines):
            reread = self._reread_lines(reader, image, doubtful, self._reread_languages())
            meta["lines_reread"] = reread
        if not reread or any(line["confidence"] == 0 for line in reread):
            meta["rechecked"] = True
            second = self._recognize(reader, every, image)
            if second.line_confidence() > reading.line_confidence():
                languages, reading = every, second
        if not _other_script(reading.text(), meta.get("script")) and \
                not any(line["confidence"] == 0 for line in reread):
            return languages, reading  # doubts of a single-script page (noise), no other script
        dpi = self.settings["dpi"] / 2
        half = self._recognize(reader, every, _half(image), dpi)
        kept = self._non_latin_words(half.text()) > self._non_latin_words(reading.text())
        meta["half_resolution"] = {"languages": every, "dpi": dpi, "kept": kept}
        return (every, half) if kept else (languages, reading)

    def _non_latin_words(self, text: str) -> int:
        """Distinct dictionary words (wordfreq) of the configured non-Latin languages."""
        from ocrflow import trust

        codes = tuple(code for code in (WORDFREQ.get(c) for c in self.languages)
                      if code and not trust.check_language(code))
        return sum(trust.script_words(text, codes).values()) if codes else 0

    def _reread_languages(self) -> str:
        """Every language, those of right-to-left scripts first: Tesseract sets a line's
        direction by its first language, and a Latin-first reading of an Arabic line comes
        out backwards, while an Arabic-first one still reads a French line, or the French words
        of an Arabic line."""
        rtl = [code for code in self.languages if script_of(code) in RTL_SCRIPTS]
        return "+".join([*rtl, *(code for code in self.languages if code not in rtl)])

    def _reread_lines(self, reader: PageReader, image: Any, doubtful: list[LineReading],
                      languages: str) -> list[dict[str, Any]]:
        """Read each of the ``doubtful`` lines again with ``languages`` and keep the surer
        reading of it; what was re-read, where, and whether that reading was kept."""
        from PIL import Image

        if not doubtful:
            return []
        page = Image.frombytes("L", (image.width, image.height), image.data)
        done = []
        for line in doubtful:
            text, confidence = self._read_line(reader, languages, page, line.box, alone=False)
            if not text:  # no line found in its box on the page: alone, it may be
                text, confidence = self._read_line(reader, languages, page, line.box, alone=True)
            kept = bool(text) and confidence > line.confidence
            if kept:
                line.text, line.confidence = text, confidence
            done.append({"box": list(line.box), "languages": languages,
                         "confidence": confidence, "kept": kept})
        return done

    def _read_line(self, reader: PageReader, languages: str, page: Any,
                   box: tuple[int, int, int, int], alone: bool) -> tuple[str, float]:
        """(text, confidence) of one line: in its box on the page, or (``alone``) cut out onto
        white with a margin, where Tesseract finds a line its box on the page may hide."""
        from PIL import Image

        api = reader.api(languages, PSM_SINGLE_LINE)
        if alone:
            crop = page.crop(box)
            margin = max(8, crop.height // 2)
            canvas = Image.new("L", (crop.width + 2 * margin, crop.height + 2 * margin), 255)
            canvas.paste(crop, (margin, margin))
            api.SetImage(canvas)
        else:
            api.SetImage(page)
            api.SetRectangle(box[0], box[1], box[2] - box[0], box[3] - box[1])
        api.SetSourceResolution(int(self.settings["dpi"]))
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

    def line_confidence(self) -> float:
        """The mean of its lines' confidences, lines read again included."""
        return sum(line.confidence for line in self.lines) / len(self.lines) if self.lines \
            else 0.0

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
    counts = Counter(language for _, _, _, language in words)
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
        inside = [confidence for _, confidence, word_box, _ in words
                  if _within(_middle(word_box), box)]
        mean = sum(inside) / len(inside) if inside else 1.0
        layout.append(len(lines))
        lines.append(LineReading(line, box, round(mean, 4), min(inside, default=1.0)))
    return PageReading(lines, layout, confidence, dict(counts.most_common()))


def _middle(box: tuple[int, int, int, int]) -> tuple[float, float]:
    return (box[0] + box[2]) / 2, (box[1] + box[3]) / 2


def _within(point: tuple[float, float], box: tuple[int, int, int, int]) -> bool:
    return box[0] <= point[0] <= box[2] and box[1] <= point[1] <= box[3]


def _words(api: Any) -> list[tuple[str, float, tuple[int, int, int, int], str]]:
    """(text, confidence 0-1, box, language whose model read it) of each word. A block with
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
            found.append((text, word.Confidence(RIL.WORD) / 100, word.BoundingBox(RIL.WORD),
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


def _other_script(text: str, script: str | None) -> bool:
    """Whether the text has letters of a script other than the page's (OSD's name)."""
    own = {"Latin": "LATIN", "Arabic": "ARABIC", "Cyrillic": "CYRILLIC", "Greek": "GREEK",
           "Hebrew": "HEBREW"}.get(script or "")
    if own is None:
        return True
    return any(c.isalpha() and not unicodedata.name(c, "").startswith(own) for c in text)


def _half(image: Any) -> Any:
    """A grey raw page at half its resolution (each 2 x 2 pixels averaged)."""
    from PIL import Image

    from ocrflow.render import RenderedPage

    half = Image.frombytes("L", (image.width, image.height), image.data).reduce(2)
    return RenderedPage(half.width, half.height, "L", "raw", half.tobytes())


def _as_gray_raw(image: Any) -> Any:
    from ocrflow.render import RenderedPage

    pil = image.to_pil().convert("L")
    return RenderedPage(pil.width, pil.height, "L", "raw", pil.tobytes())
