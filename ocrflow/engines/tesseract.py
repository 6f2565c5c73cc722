"""Tesseract through tesserocr (its C++ API in this process): the CPU engine for Arabic, French
and the other scripts Tesseract has models for.

One Tesseract instance per thread: tesserocr releases the GIL while Tesseract recognises, so
``threads`` pages are read at once on as many cores. The text is Tesseract's own reading order
(its layout analysis finds the columns): blocks and paragraphs separated by blank lines, lines by
newlines, right-to-left lines in logical order. A ruled table (``ocrflow.inputs.structure.grid``
finds its grid) is read cell by cell and written where it lies as an HTML table, the GPU
engines' shape (``engines.tesseract.tables``).

A page whose script OSD names is read with that script's languages; where it holds words of
another, the mixed-script pass reads them again (``ocrflow.engines.tesseract_scripts``). What
Tesseract read, with its boxes, is a ``PageReading`` (``ocrflow.engines.tesseract_geometry``).
"""

from __future__ import annotations

import os
import queue
import re
import sys
from collections.abc import Iterable, Iterator
from concurrent.futures import FIRST_COMPLETED, Future, ThreadPoolExecutor, wait
from pathlib import Path
from typing import TYPE_CHECKING, Any, ClassVar

from ocrflow.core.records import RenderedPage
from ocrflow.engines.base import (
    Engine,
    EngineUnavailable,
    JobContext,
    PageInput,
    PageOutput,
    Readings,
    error_line,
)
from ocrflow.engines.tesseract_geometry import (
    RULES,
    PageReading,
    as_gray_raw,
    clean_text,
    drop_lines,
    inside,
    page_reading,
    pixels,
    place_tables,
)
from ocrflow.engines.tesseract_scripts import (
    MIN_RUN_LETTERS,
    MixedScriptPass,
    final_yeh,
    known_words,
    script_of,
)
from ocrflow.inputs.render import RenderSpec
from ocrflow.text.scripts import char_script, mostly_right_to_left, osd_script

if TYPE_CHECKING:  # numpy and OpenCV load with the first page, not with the engine's module
    from ocrflow.inputs.structure.grid import Box, Grid

# Where Debian and Ubuntu (tesseract-ocr-<lang> packages) put the models, newest first.
SYSTEM_TESSDATA = ("/usr/share/tesseract-ocr/5/tessdata", "/usr/share/tesseract-ocr/4.00/tessdata",
                   "/usr/share/tessdata", "/usr/local/share/tessdata")
# A table's cell with fewer pixels this much darker than its paper holds no text: at 300 dpi
# a full stop is about 40 pixels; a scan's noise darkens single pixels by less. Set with the
# scanned tables of tests/test_scanned_tables.py and the table corpus (commit 2b5b6d4).
INK_CONTRAST = 80
MIN_INK_PIXELS = 30
PSM_SINGLE_BLOCK = 6  # tesserocr's PSM.SINGLE_BLOCK: a table's cell, one or more lines
_NUMBER = re.compile(r"[\d\s.,:/%+-]*\d[\d\s.,:/%+-]*")  # a cell's number: 13 716,25
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
        """Script (``ocrflow.text.scripts``' name: OSD's through ``osd_script``) -> the
        languages a page of it is read with (Tesseract's "fra+eng" form). Empty when every
        language is read on every page."""
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

    def run(self, pages: Iterable[PageInput]) -> Readings:
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
            image = as_gray_raw(image)
        every_language = "+".join(self.languages)
        meta: dict[str, Any] = {}
        languages = every_language
        if self._routes:
            meta["script"] = self._script(reader, image)  # OSD's name of it, as OSD gives it
            script = osd_script(meta["script"]) if meta["script"] else ""
            languages = self._routes.get(script, every_language)
        reading = self._recognize(reader, languages, image)
        # Ruled tables are read cell by cell, in place of the page's lines inside them, where
        # they keep the text those lines have once the page is read as a whole (its other
        # script's words read again too, ``MixedScriptPass``).
        from ocrflow.inputs.structure.grid import find_grids

        grids = find_grids(pixels(image), self.settings["dpi"]) \
            if self.settings.get("tables", True) else []
        tables = self._read_tables(reader, image, grids, languages) if grids else []
        if languages != every_language and self.settings["recheck_below"] > 0:
            mixed = MixedScriptPass(self.languages, self.settings["recheck_below"],
                                    self.settings["dpi"], self._recognize)
            own = osd_script(meta.get("script") or "Latin")
            languages, reading = mixed.read(reader, image, meta, languages, reading, own)
        kept = [(box, table) for box, table, cells in tables
                if self._keeps_text(reading, box, cells)]
        if kept:
            drop_lines(reading, [box for box, _ in kept])
            place_tables(reading, kept)
        if grids:
            meta["grid_tables"] = len(kept)
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

        page = pixels(image).copy()
        for grid in grids:
            grid.erase_rules(page)
        found = []
        for grid in grids:
            texts = {cell: self._read_cells(reader, languages, page, cell.box)
                     for cell in grid.cells if _inked(page, cell.box)}
            if any(texts.values()) and not _rules_missed(texts):
                rtl = mostly_right_to_left("".join(texts.values()))
                found.append((grid.box, to_html(to_table(grid, texts, rtl)),
                              "\n".join(texts.values())))
        return found

    def _keeps_text(self, reading: PageReading, box: Box, cells: str) -> bool:
        """Whether a table read cell by cell has most of the dictionary words (per script) the
        page's reading has inside its box: a grid found where some rules are too faint (cells
        merged across rows) reads less than the lines, and the lines are kept."""
        from ocrflow.text import trust

        lines = "\n".join(line.text for line in reading.lines if inside(line.box, box))
        return trust.covers(known_words(cells, self.languages), known_words(lines, self.languages))

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
        latin_digits = own != "LATIN" and any(script_of(code) == "LATIN"
                                              for code in others.split("+"))
        number = not any(c.isalpha() for c in text)  # read as one by the page's models
        for scale in (1, 2):
            other, surer = self._read_cell(reader, others, page, box, scale=scale)
            letters = sum(c.isalpha() and char_script(c) != own for c in other)
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
            return page_reading(api, (image.width, image.height))
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
