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
from collections import Counter
from collections.abc import Iterable, Iterator
from concurrent.futures import FIRST_COMPLETED, Future, ThreadPoolExecutor, wait
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
        self._apis: dict[str, Any] = {}

    def api(self, languages: str) -> Any:
        from tesserocr import PSM, PyTessBaseAPI

        if languages not in self._apis:
            psm = PSM.OSD_ONLY if languages == "osd" else self.psm
            # with a trailing separator: older Tesseracts append the file name to it as it is
            self._apis[languages] = PyTessBaseAPI(path=f"{self.tessdata}/", lang=languages,
                                                  psm=psm)
        return self._apis[languages]

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
        text, confidence, word_languages = self._recognize(reader, languages, image)
        if languages != every_language and confidence < self.settings["recheck_below"]:
            # OSD names one script per page: on a page mixing two (a French and Arabic
            # notice) the other script's words come out as junk of low confidence. Read it
            # with every language as well and keep the reading Tesseract is surer of.
            meta["rechecked"] = True
            second = self._recognize(reader, every_language, image)
            if second[1] > confidence:
                languages, (text, confidence, word_languages) = every_language, second
        meta.update(languages=languages, words=sum(word_languages.values()),
                    mean_confidence=confidence, word_languages=word_languages)
        return PageOutput(text=text, meta=meta)

    def _recognize(self, reader: PageReader, languages: str,
                   image: Any) -> tuple[str, float, dict[str, int]]:
        """(text, mean word confidence 0-1, words per language) of the page read with these
        languages."""
        api = reader.api(languages)
        api.SetImageBytes(image.data, image.width, image.height, 1, image.width)
        # The resolution asked for (lower only on a page over max_pixels): Tesseract's size
        # limits for noise and text are in these units.
        api.SetSourceResolution(int(self.settings["dpi"]))
        try:
            if not api.Recognize(timeout=int(self.settings["timeout_s"] * 1000)):
                raise TimeoutError(f"recognition took more than {self.settings['timeout_s']} s "
                                   "(engines.tesseract.timeout_s)")
            text = clean_text(api.GetUTF8Text())
            confidence = round(api.MeanTextConf() / 100, 4) if text else 0.0
            return text, confidence, _word_languages(api)
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


def _word_languages(api: Any) -> dict[str, int]:
    """How many words each language's model read (Tesseract keeps the best model per word)."""
    from tesserocr import RIL, iterate_level

    counts: Counter[str] = Counter()
    iterator = api.GetIterator()
    if iterator is None:
        return {}
    for word in iterate_level(iterator, RIL.WORD):
        if (word.GetUTF8Text(RIL.WORD) or "").strip():
            counts[word.WordRecognitionLanguage() or "?"] += 1
    return dict(counts.most_common())


def _as_gray_raw(image: Any) -> Any:
    from ocrflow.render import RenderedPage

    pil = image.to_pil().convert("L")
    return RenderedPage(pil.width, pil.height, "L", "raw", pil.tobytes())
