"""Tesseract through tesserocr (its C++ API in this process): the CPU engine for Arabic, French
and the other scripts Tesseract has models for.

One Tesseract instance per thread: tesserocr releases the GIL while Tesseract recognises, so
``threads`` pages are read at once on as many cores. The text is Tesseract's own reading order
(its layout analysis finds the columns): blocks and paragraphs separated by blank lines, lines by
newlines, right-to-left lines in logical order. A ruled table (``ocrflow.inputs.structure.grid``
finds
its grid) is read cell by cell and written where it lies as an HTML table, the GPU engines'
shape (``engines.tesseract.tables``).
"""

from __future__ import annotations

import itertools
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
from typing import TYPE_CHECKING, Any, ClassVar

from ocrflow.core.records import RenderedPage
from ocrflow.engines.base import (
    Engine,
    EngineUnavailable,
    JobContext,
    PageInput,
    PageOutput,
    error_line,
)
from ocrflow.inputs.render import RenderSpec

if TYPE_CHECKING:  # numpy and OpenCV load with the first page, not with the engine's module
    from ocrflow.inputs.structure.grid import Box, Grid

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
# wordfreq's code of Tesseract's languages, for the common ones
WORDFREQ = {"fra": "fr", "eng": "en", "deu": "de", "spa": "es", "ita": "it", "por": "pt",
            "nld": "nl", "ara": "ar", "fas": "fa", "urd": "ur", "rus": "ru", "ukr": "uk",
            "bul": "bg", "srp": "sr", "mkd": "mk", "ell": "el", "heb": "he", "hin": "hi",
            "mar": "mr", "nep": "ne", "tha": "th", "chi_sim": "zh", "chi_tra": "zh", "jpn": "ja",
            "kor": "ko"}
# A table's cell with fewer pixels this much darker than its paper holds no text (at 300 dpi
# a full stop is about 40 pixels; a scan's noise darkens single pixels by less).
INK_CONTRAST = 80
MIN_INK_PIXELS = 30
PSM_SINGLE_BLOCK = 6  # tesserocr's PSM.SINGLE_BLOCK: a table's cell, one or more lines
PSM_SINGLE_LINE = 7  # tesserocr's PSM.SINGLE_LINE
PSM_SPARSE_TEXT = 11  # tesserocr's PSM.SPARSE_TEXT: as much text as it finds, in no order
# A word of this confidence or less (0-1) is one the model did not know at all: a French term
# read with the Arabic model alone scores 0-0.02, a hard Arabic word read with it 0.19 or more.
LOST_WORD = 0.1
# A run of doubted words read again with another script's languages replaces them when it is
# this much surer (0-1), has this many letters of that script, and is read at least recheck_below
# surely, or at least SURE_RUN surely with every word a dictionary word or a number.
SURER = 0.1
MIN_RUN_LETTERS = 3
SURE_RUN = 0.6
# A doubted run this much lower than its line, or less, is a rule or a dash, not read again.
FLAT = 0.3
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
    # Its settings, engines.tesseract in the config (JSON schema, defaults and descriptions):
    # ocrflow/run/config.py puts them in the schema the config is validated against.
    OPTIONS: ClassVar[dict[str, Any]] = {
        "description": "Tesseract through tesserocr (CPU); reads Arabic, French and every "
                       "language it has a model for.",
        "properties": {
            "tables": {
                "type": "boolean", "default": True,
                "description": "ruled tables whose grid is found in the page image are read cell "
                               "by cell and written where they lie as HTML tables (<table>, <th> "
                               "first row, rowspan/colspan; dir=\"rtl\" with the rightmost "
                               "column first for a right-to-left table); false: read as lines "
                               "like the rest of the page"},
            "languages": {
                "type": "array", "minItems": 1, "uniqueItems": True,
                "items": {"type": "string", "pattern": "^[a-z][a-z0-9_]*$"},
                "default": ["fra", "eng", "ara"],
                "description": "Tesseract language codes (its model file names: "
                               "fra.traineddata); each needs its model installed"},
            "detect_script": {
                "type": "boolean", "default": True,
                "description": "read each page with only the listed languages of the script "
                               "Tesseract's OSD finds on it (needs osd.traineddata); false: "
                               "every language on every page"},
            "recheck_below": {
                "type": "number", "minimum": 0, "maximum": 1, "default": 0.8,
                "description": "a word read with the page's script's languages whose confidence "
                               "(0-1) is lower is doubted: the doubted part of the page is read "
                               "again with every language at half the resolution, and each run "
                               "of words still doubted with the other scripts' languages, "
                               "replacing them where that reading has more of the other scripts' "
                               "words and is sure (pages mixing scripts); 0: never"},
            "dpi": {
                "type": "number", "exclusiveMinimum": 0, "maximum": 600, "default": 300,
                "description": "rendering resolution, in dots per inch"},
            "max_pixels": {
                "type": "integer", "minimum": 10000, "default": 12000000,
                "description": "pixel cap per rendered page (the resolution is lowered), so a "
                               "poster-sized page cannot exhaust memory"},
            "psm": {
                "enum": [1, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13], "default": 3,
                "description": "Tesseract page segmentation mode; 3: automatic layout, columns "
                               "read one after the other"},
            "threads": {
                "type": "integer", "minimum": 0, "default": 0,
                "description": "pages read at once, one Tesseract per thread; 0: the cores the "
                               "job was given"},
            "timeout_s": {
                "type": "number", "exclusiveMinimum": 0, "default": 120,
                "description": "a page whose recognition takes longer fails (engine_error)"},
            "pages_per_second": {
                "$ref": "#/$defs/pages_per_second", "default": 1.0,
                "description": "pages one job reads per second (per GPU on GPUs), for its "
                               "walltime and the plan's estimate; measured here: 1.16-1.20 "
                               "pages/s on 2 cores (docs/figures.md)"},
            "server_start_s": {"$ref": "#/$defs/server_start_s", "default": 1}},
    }
    version = "2"  # 2: ruled tables as HTML tables (engines.tesseract.tables)
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
        # Ruled tables are read cell by cell, in place of the page's lines inside them, where
        # they keep the text those lines have once the page is read as a whole (its other
        # script's words read again too, ``_mixed_page``).
        from ocrflow.inputs.structure.grid import find_grids

        grids = find_grids(_pixels(image), self.settings["dpi"]) \
            if self.settings.get("tables", True) else []
        tables = self._read_tables(reader, image, grids, languages) if grids else []
        if languages != every_language and self.settings["recheck_below"] > 0:
            languages, reading = self._mixed_page(reader, image, meta, languages, reading)
        tables = [(box, table) for box, table, cells in tables
                  if self._keeps_text(reading, box, cells)]
        if tables:
            _drop_lines(reading, [box for box, _ in tables])
            _place_tables(reading, tables)
        if grids:
            meta["grid_tables"] = len(tables)
        words = sum(reading.word_languages.values())
        meta.update(languages=languages, words=words, mean_confidence=reading.confidence,
                    word_languages=reading.word_languages)
        text = reading.text()
        if "ara" in self.languages:  # a Latin page's Arabic runs were read with it too
            text = final_yeh(text)
        return PageOutput(text=text, meta=meta)

    def _read_tables(self, reader: PageReader, image: RenderedPage, grids: list[Grid],
                     languages: str) -> list[tuple[Box, str, str]]:
        """(box, HTML, its cells' text) of each grid with text, each cell read alone
        (``_read_cells``). A table whose cells are mostly right-to-left letters is written
        right to left."""
        from ocrflow.inputs.structure.grid import to_table
        from ocrflow.inputs.structure.tables import to_html

        page = _pixels(image).copy()
        for grid in grids:
            grid.erase_rules(page)
        found = []
        for grid in grids:
            texts = {cell: self._read_cells(reader, languages, page, cell.box)
                     for cell in grid.cells if _inked(page, cell.box)}
            if any(texts.values()) and not _rules_missed(texts):
                rtl = _right_to_left("".join(texts.values()))
                found.append((grid.box, to_html(to_table(grid, texts, rtl)),
                              "\n".join(texts.values())))
        return found

    def _keeps_text(self, reading: PageReading, box: Box, cells: str) -> bool:
        """Whether a table read cell by cell has most of the dictionary words (per script) the
        page's reading has inside its box: a grid found where some rules are too faint (cells
        merged across rows) reads less than the lines, and the lines are kept."""
        from ocrflow.text import trust

        inside = "\n".join(line.text for line in reading.lines if _inside(line.box, box))
        return trust.covers(self._known_words(cells), self._known_words(inside))

    def _read_cells(self, reader: PageReader, languages: str, page: Any, box: Box) -> str:
        """A cell's text (its rules painted out on ``page``) read with the page's languages;
        where Tesseract doubts it, read again at half the resolution (a short Arabic word
        alone, "متصرف", comes out empty at 300 dpi, and surely at 150), then with the other
        scripts' languages, at both resolutions (an Arabic name in a French table; an empty
        reading is doubted too). Another script's reading is kept where it is surer, sure
        (junk of the wrong script is read unsurely too) and has MIN_RUN_LETTERS letters of
        that script, or is a number the Latin models read on a page of another script where
        its models read a number too (the Arabic model reads a number surely as other
        digits: "5 215,75" as "5 5")."""
        below = self.settings["recheck_below"]
        text, confidence = self._read_cell(reader, languages, page, box)
        if confidence < below:
            half, surer = self._read_cell(reader, languages, page, box, scale=2)
            if surer > confidence:
                text, confidence = half, surer
        others = "+".join(code for code in self.languages if code not in languages.split("+"))
        if confidence >= below or not (self._routes and others):
            return text
        own = script_of(languages.split("+")[0])
        # Latin digits are read well by the Latin models only (the Arabic one reads 402 as 002)
        latin_digits = own != "Latin" and any(script_of(code) == "Latin"
                                              for code in others.split("+"))
        number = not any(c.isalpha() for c in text)  # read as one by the page's models
        for scale in (1, 2):
            other, surer = self._read_cell(reader, others, page, box, scale=scale)
            letters = sum(c.isalpha() and _script_name(c) != own for c in other)
            if surer > confidence and surer >= below and (
                    letters >= MIN_RUN_LETTERS or
                    (number and latin_digits and _NUMBER.fullmatch(other) is not None)):
                return other
        return text

    def _read_cell(self, reader: PageReader, languages: str, page: Any, box: Box,
                   scale: int = 1) -> tuple[str, float]:
        """(text, confidence) of a cell cut out onto white with a margin (Tesseract misreads
        letters touching the image's edge), at 1 / ``scale`` of the page's resolution, its
        lines one per line."""
        import cv2
        import numpy as np

        left, top, right, bottom = box
        crop = page[top:bottom, left:right]
        if scale > 1:
            crop = cv2.resize(crop, None, fx=1 / scale, fy=1 / scale,
                              interpolation=cv2.INTER_AREA)
        margin = 20 // scale
        canvas = np.full((crop.shape[0] + 2 * margin, crop.shape[1] + 2 * margin), 255, np.uint8)
        canvas[margin:-margin, margin:-margin] = crop
        api = reader.api(languages, PSM_SINGLE_BLOCK)
        api.SetImageBytes(canvas.tobytes(), canvas.shape[1], canvas.shape[0], 1, canvas.shape[1])
        api.SetSourceResolution(int(self.settings["dpi"] / scale))
        try:
            text = "\n".join(RULES.sub("", line) for line in
                             clean_text(api.GetUTF8Text() or "").splitlines())
            text = clean_text(text)
            return text, round(api.MeanTextConf() / 100, 4) if text else 0.0
        finally:
            api.Clear()

    def _mixed_page(self, reader: PageReader, image: Any, meta: dict[str, Any],
                    languages: str, reading: PageReading) -> tuple[str, PageReading]:
        """OSD names one script per page: on a page mixing two, the other script's words come
        out as junk Tesseract doubts (an Arabic name as "LL Jl", a French term in an Arabic
        decree as Arabic letters), or not at all (its layout analysis drops 8 of the 14 Arabic
        lines of a two-column notice at 300 dpi). (languages, reading) of the page with them
        read again, for the price of the part of the page that is doubted:

        - the page is read again at half the resolution, where Tesseract finds the lines it
          lost, with every language (the other scripts' first), without what the first reading
          read surely (``_sure_parts``, painted white): as sparse text where the doubted lines
          are mostly a table's rows (its rules cost Tesseract's layout analysis three times as
          much, and its cells come back one by one), else with the engine's layout analysis.
          Its lines are put in the first reading by their place (``_merge_lines``);
        - each run of doubted words left, with the other script's words it touches, is read
          again with the other scripts' languages, cut out of its line, and replaced where that
          reading is sure and is words (``_reread_words``).

        ``meta`` says what was read again and what was kept: ``half_resolution`` (languages,
        dpi, ``tables``, ``lines_read``, ``parts_taken``, ``lines_added``) and
        ``words_reread``.
        """
        below = self.settings["recheck_below"]
        doubtful = [line for line in reading.lines if line.doubtful(below)]
        if not doubtful:
            return languages, reading
        others = [code for code in self.languages if code not in languages.split("+")]
        # the other scripts' first: the doubted part is mostly theirs, and Tesseract tries the
        # next languages only on a word the first one does not read well
        every = "+".join([*others, languages])
        dpi = self.settings["dpi"] / 2
        tables = sum(map(_cells, doubtful)) * 2 > len(doubtful)
        half = self._recognize(reader, every, _half(image, blank=_sure_parts(reading, below)),
                               dpi, PSM_SPARSE_TEXT if tables else None)
        own = (meta.get("script") or "Latin").upper()
        taken, added = self._merge_lines(reading, half, own)
        meta["half_resolution"] = {"languages": every, "dpi": dpi, "tables": tables,
                                   "lines_read": len(half.lines), "parts_taken": taken,
                                   "lines_added": added}
        meta["words_reread"] = self._reread_words(reader, image, reading)
        return (every if taken or added else languages), reading

    def _other_script_words(self, text: str, own: str) -> int:
        """Dictionary words (wordfreq) of the scripts other than ``own``, the page's, every
        occurrence counted: the words of the script a reading lost are what tell two readings
        of a page apart (Latin junk is easily a word of one of eight Latin languages, Arabic
        junk hardly ever an Arabic word)."""
        return sum(count for script, count in self._known_words(text).items() if script != own)

    def _known_words(self, text: str) -> dict[str, int]:
        """Dictionary words (wordfreq) of the text, every occurrence counted, by script."""
        from ocrflow.text import trust

        return trust.word_share(text, _wordfreq_codes(self.languages)).known_total_by_script

    def _merge_lines(self, reading: PageReading, half: PageReading, own: str) -> tuple[int, int]:
        """Put the half-resolution reading of the page's doubted part into ``reading``.

        - Each line takes each of the half reading's lines that lie on it (a table's row comes
          back as its cells) in place of the words it covers (doubted words: the sure ones
          were painted out), or among its words where it covers none (ink the first reading
          left out), when it has more dictionary words of the other scripts (``_take``). A
          page Tesseract gave as one block takes them whole, in their order.
        - A line of the half reading where ``reading`` has none is added when it has such
          words, or is sure and has words: above the first line below it in its column, or at
          the end. Beside a table's row (``_cells``) is on the row: a cell left out.

        (parts taken, lines added). The words taken or added are the half reading's, in the
        page's pixels, so that those still doubted are read again like the others."""
        below = self.settings["recheck_below"]
        boxes = [_scaled(line.box, 2) for line in half.lines]
        on: dict[int, list[int]] = {}  # reading's line -> the half reading's lines on it
        new: list[int] = []
        rows = [j for j, line in enumerate(reading.lines) if _cells(line)]
        for i, box in enumerate(boxes):
            same = [j for j, line in enumerate(reading.lines) if _same_line(box, line.box)] or \
                [j for j in rows  # a cell beside a table's row
                 if _share(box[1], box[3], *reading.lines[j].box[1::2]) > 0.5]
            if not same:
                new.append(i)
                continue
            j = max(same, key=lambda j: _share(box[1], box[3], *reading.lines[j].box[1::2]))
            line_box = reading.lines[j].box
            # a box taller than the line spans several: a table's column read as one line
            if box[3] - box[1] <= 1.5 * (line_box[3] - line_box[1]):
                on.setdefault(j, []).append(i)
        taken = 0
        for j, parts in on.items():
            line = reading.lines[j]
            if line.words:
                taken += sum(self._take(line, half.lines[i], boxes[i], own) for i in parts)
                continue
            # the page as one block (Tesseract's lines not found): the parts in its order
            text = "\n".join(half.lines[i].text for i in parts)
            if line.doubtful(below) and \
                    self._other_script_words(text, own) > self._other_script_words(line.text, own):
                line.text = text
                taken += 1
        added = 0
        for i in sorted(new, key=lambda i: boxes[i][1]):
            line = half.lines[i]
            known = self._known_words(line.text)
            if not (sum(count for script, count in known.items() if script != own) or
                    (line.confidence >= below and sum(known.values()))):
                continue
            under = [j for j in reading.layout if isinstance(j, int)
                     and _share(boxes[i][0], boxes[i][2], *reading.lines[j].box[::2]) > 0
                     and reading.lines[j].box[1] >= boxes[i][1]]
            reading.lines.append(LineReading(line.text, boxes[i], line.confidence, line.lowest,
                                             [_scaled_word(word, 2) for word in line.words]))
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
              own: str) -> bool:
        """Put ``part`` (a half-resolution line lying on ``line``, ``box`` in the page's
        pixels) in place of the words of ``line`` it covers, or among them where it covers
        none, when it has more dictionary words of the other scripts and is sure, or somewhat
        sure (SURE_RUN) in place of a word the page's model did not know at all (LOST_WORD: a
        French term read as Arabic). Latin junk read for doubted Arabic words, easily a word of
        some Latin language, is neither. Whether it was."""
        covered = [k for k, word in enumerate(line.words) if _within(_middle(word.box), box)]
        rtl = own.title() in RTL_SCRIPTS
        if covered:
            start, stop = covered[0], covered[-1] + 1
        else:  # ink the first reading left out: after the words before it in the line's direction
            start = stop = sum((_middle(word.box)[0] > _middle(box)[0]) == rtl
                               for word in line.words)
        covered_words = line.words[start:stop]
        was = " ".join(_word_text(word) for word in covered_words)
        if self._other_script_words(part.text, own) <= self._other_script_words(was, own):
            return False
        if part.confidence < self.settings["recheck_below"] and not (
                part.confidence >= SURE_RUN and
                any(word.confidence < LOST_WORD for word in covered_words)):
            return False  # neither sure, nor in place of a word the model did not know at all
        text = BIDI_MARKS.sub("", line.text)
        if was:
            if was not in text:
                return False
            line.text = text.replace(was, part.text, 1)
        else:
            before = _word_text(line.words[start - 1]) if start else ""
            at = text.find(before) + len(before) if before in text else 0
            line.text = f"{text[:at]} {part.text} {text[at:]}".strip()
        line.words[start:stop] = [_scaled_word(word, 2) for word in part.words]
        return True

    def _reread_words(self, reader: PageReader, image: Any,
                      reading: PageReading) -> list[dict[str, Any]]:
        """Read each run of doubted words again with the languages of the other scripts, and
        put that reading in its line where it is kept (``_kept_run``). What was read again,
        and whether it was kept."""
        from PIL import Image

        page = Image.frombytes("L", (image.width, image.height), image.data)
        done = []
        for line in reading.lines:
            read_to = 0  # a run inside the phrase of the one before was read with it
            for start, stop in _doubted_runs(line.words, self.settings["recheck_below"]):
                if start < read_to:
                    continue
                run = line.words[start:stop]
                script = script_of(run[0].language)
                languages = "+".join(code for code in self.languages
                                     if script_of(code) != script)
                if script is None or not languages:
                    continue
                first, read_to = _with_neighbours(line.words, start, stop,
                                                  self.settings["recheck_below"])
                span = line.words[first:read_to]
                box = _union(word.box for word in span)
                if box[3] - box[1] < FLAT * (line.box[3] - line.box[1]):
                    continue  # a rule or a dash: no word of any script
                text, confidence = self._read_run(reader, languages, page, box)
                was = " ".join(_word_text(word) for word in span)
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
        from ocrflow.text import trust

        if sum(c.isalpha() and _script_name(c) != script for c in text) < MIN_RUN_LETTERS:
            return False
        if confidence >= self.settings["recheck_below"]:
            return True
        codes = _wordfreq_codes(languages.split("+"))
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
        api.SetSourceResolution(int(self.settings["dpi"] / 2))
        try:
            text = RULES.sub("", clean_text(api.GetUTF8Text()))
            return text, round(api.MeanTextConf() / 100, 4) if text else 0.0
        finally:
            api.Clear()

    def _recognize(self, reader: PageReader, languages: str, image: Any,
                   dpi: float | None = None, psm: int | None = None) -> PageReading:
        """The page read with these languages (in ``psm``, default the engine's): its text,
        lines and word confidences."""
        api = reader.api(languages, psm)
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

    def recount(self) -> None:
        """``confidence`` and ``word_languages`` of the words its lines have now."""
        words = [word for line in self.lines for word in line.words]
        if words:
            self.confidence = round(sum(word.confidence for word in words) / len(words), 4)
            self.word_languages = dict(Counter(word.language for word in words).most_common())


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
    placed = [False] * len(words)  # a word in two lines' boxes (they overlap) is the first's
    for line in text_lines:
        if not line.strip():
            layout.append("")
            continue
        box = boxes[len(lines)]
        own = []
        for k, word in enumerate(words):
            if not placed[k] and _within(_middle(word.box), box):
                placed[k] = True
                own.append(word)
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


def _cells(line: LineReading) -> bool:
    """Whether the line is a table's row: two of its words further apart than ``_touching``."""
    return any(not _touching(one, other) for one, other in itertools.pairwise(line.words))


def _sure_parts(reading: PageReading, below: float) -> Iterator[tuple[int, int, int, int]]:
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
        touches = [_touching(one, other) for one, other in itertools.pairwise(words)]
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
                left, top, right, bottom = _union(word.box for word in run)
                margin = (bottom - top) // 4
                yield (left - margin, max(top - margin, line.box[1]), right + margin,
                       min(bottom + margin, line.box[3]))
                run = []


def _with_neighbours(words: list[Word], start: int, stop: int,
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

    def touching(group: list[Word], run: list[Word]) -> bool:
        return _near(_union(w.box for w in group), _union(w.box for w in run))

    grew = True
    while grew:
        grew = False
        for end in range(stop + 1, len(words) + 1):
            if not joins(end - 1):
                break
            if touching(words[stop:end], words[start:stop]):
                stop, grew = end, True
                break
        for first in range(start - 1, -1, -1):
            if not joins(first):
                break
            if touching(words[first:start], words[start:stop]):
                start, grew = first, True
                break
    return start, stop


def _scaled(box: tuple[int, int, int, int], scale: int) -> tuple[int, int, int, int]:
    left, top, right, bottom = box
    return left * scale, top * scale, right * scale, bottom * scale


def _scaled_word(word: Word, scale: int) -> Word:
    return Word(word.text, word.confidence, _scaled(word.box, scale), word.language)


def _same_line(one: tuple[int, int, int, int], other: tuple[int, int, int, int]) -> bool:
    """Whether two line boxes overlap over most of the smaller one's height and width."""
    return _share(one[1], one[3], other[1], other[3]) > 0.5 and \
        _share(one[0], one[2], other[0], other[2]) > 0.5


def _share(a: int, b: int, c: int, d: int) -> float:
    """How much of the shorter of the spans [a, b] and [c, d] the other covers, 0-1."""
    return max(0, min(b, d) - max(a, c)) / max(1, min(b - a, d - c))


def _touching(one: Word, other: Word) -> bool:
    """Whether two words of a line are neighbours in a phrase (``_near``)."""
    return _near(one.box, other.box)


def _near(one: tuple[int, int, int, int], other: tuple[int, int, int, int]) -> bool:
    """Whether two boxes of a line are no further apart than once and a half the taller one's
    height (a table's cells, a page's columns are further)."""
    return _gap(one, other) <= 1.5 * max(one[3] - one[1], other[3] - other[1])


def _gap(one: tuple[int, int, int, int], other: tuple[int, int, int, int]) -> int:
    """The blank between two boxes of a line, whichever comes first."""
    return max(other[0] - one[2], one[0] - other[2], 0)


_DIGITS = re.compile(r"\d+(?:[.,:/]\d+)*")  # bidi keeps 1:650 or 12.5 one number
_NUMBER = re.compile(r"[\d\s.,:/%+-]*\d[\d\s.,:/%+-]*")  # a cell's number: 13 716,25


def _logical(visual: str) -> str:
    """A right-to-left word as Tesseract's word iterator gives it (letters left to right on
    the page) in logical order, as in the page's text: reversed, its numbers read forwards."""
    return _DIGITS.sub(lambda number: number.group()[::-1], visual[::-1])


def _word_text(word: Word) -> str:
    """A word as it is in its line's text, which is in logical order (the word iterator's
    right-to-left words are not)."""
    return _logical(word.text) if script_of(word.language) in RTL_SCRIPTS else word.text


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
    from ocrflow.text import trust

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
    from ocrflow.text import trust

    codes = (WORDFREQ.get(code) for code in languages)
    return tuple(code for code in codes if code and not trust.check_language(code))


def _script_name(char: str) -> str | None:
    """OSD's name of a letter's script, for the scripts SCRIPTS names."""
    name = unicodedata.name(char, "")
    return next((script for script in SCRIPTS if name.startswith(script.upper())), None)


def _half(image: RenderedPage, blank: Iterable[tuple[int, int, int, int]] = ()) -> RenderedPage:
    """A grey raw page at half its resolution (each 2 x 2 pixels averaged), with the boxes
    ``blank`` (in its own pixels) painted white."""
    from PIL import Image, ImageDraw

    half = Image.frombytes("L", (image.width, image.height), image.data).reduce(2)
    draw = ImageDraw.Draw(half)
    for left, top, right, bottom in blank:
        draw.rectangle((left // 2, top // 2, (right + 1) // 2, (bottom + 1) // 2), fill=255)
    return RenderedPage(half.width, half.height, "L", "raw", half.tobytes())


def _pixels(image: RenderedPage) -> Any:
    """A grey raw page's pixels as a (height, width) uint8 array (read-only)."""
    import numpy as np

    return np.frombuffer(image.data, np.uint8).reshape(image.height, image.width)


def _rules_missed(texts: dict[Any, str]) -> bool:
    """Whether a cell over several rows holds a line of text for each of them: rows whose rules
    were too faint to find, merged (a scan's light rules), not a merged cell (whose text sits
    once in it); such a grid is not read as a table."""
    return any(cell.rowspan > 1 and len([line for line in text.splitlines() if line.strip()])
               >= cell.rowspan for cell, text in texts.items())


def _inked(page: Any, box: Box) -> bool:
    """Whether a cell (its rules painted out) holds ink: pixels much darker than its paper,
    more than a speck's worth."""
    import numpy as np

    left, top, right, bottom = box
    crop = page[top:bottom, left:right]
    if crop.size == 0:
        return False
    dark = crop < int(np.median(crop)) - INK_CONTRAST
    return int(dark.sum()) >= MIN_INK_PIXELS


def _right_to_left(text: str) -> bool:
    """Whether most of the text's letters are of a right-to-left script."""
    letters = [_script_name(c) for c in text if c.isalpha()]
    return sum(script in RTL_SCRIPTS for script in letters) * 2 > len(letters)


def _drop_lines(reading: PageReading, boxes: list[Box]) -> None:
    """Take the lines mostly inside these boxes (a table's, read cell by cell) out of the
    page's reading: no lines of its text, nor read again, nor counted."""
    kept = [i for i, line in enumerate(reading.lines)
            if not any(_inside(line.box, box) for box in boxes)]
    if len(kept) == len(reading.lines):
        return
    new = {old: i for i, old in enumerate(kept)}
    reading.lines = [reading.lines[old] for old in kept]
    reading.layout = [new[part] if isinstance(part, int) else part
                      for part in reading.layout if not isinstance(part, int) or part in new]
    reading.recount()


def _place_tables(reading: PageReading, tables: list[tuple[Box, str]]) -> None:
    """Put each table in the page's text where it lies in reading order: before the first
    line, in reading order, below its top in its column (beside none of it), else at the
    end. A block of its own."""
    for box, table in sorted(tables, key=lambda found: found[0][1]):
        at = next((i for i, part in enumerate(reading.layout) if isinstance(part, int)
                   and reading.lines[part].box[1] >= box[1]
                   and _share(box[0], box[2], *reading.lines[part].box[::2]) > 0),
                  len(reading.layout))
        reading.layout[at:at] = ["", table, ""]


def _inside(line: Box, box: Box) -> bool:
    """Whether most of a line's box is inside ``box`` (not a page read as one line)."""
    width = max(0, min(line[2], box[2]) - max(line[0], box[0]))
    height = max(0, min(line[3], box[3]) - max(line[1], box[1]))
    area = max(1, (line[2] - line[0]) * (line[3] - line[1]))
    return width * height > area / 2


def _as_gray_raw(image: RenderedPage) -> RenderedPage:
    pil = image.to_pil().convert("L")
    return RenderedPage(pil.width, pil.height, "L", "raw", pil.tobytes())
