"""Tesseract reads scanned French and Arabic pages made here, columns one after the other, with
every core the job has; a missing model or package is one line saying what to install."""

from __future__ import annotations

import re
import sys
from pathlib import Path

import numpy as np
import pytest
from PIL import Image, ImageFilter
from rapidfuzz.distance import Levenshtein

from ocrflow import engines
from ocrflow.engines import EngineUnavailable, PageInput, PageOutput
from ocrflow.engines.tesseract import find_tessdata
from ocrflow.engines.tesseract_geometry import LineReading, PageReading, Word, union
from ocrflow.engines.tesseract_scripts import (
    MixedScriptPass,
    doubted_runs,
    final_yeh,
    logical,
    sure_parts,
    with_neighbours,
)
from ocrflow.inputs.render import RenderTask, _close_open_document, render_page
from ocrflow.run import config
from tests.support import pdfs
from tests.support.stand_in import run_job

SETTINGS = config.validate({"input": "x"})["engines"]["tesseract"]
TESSDATA = find_tessdata()
MODELS = ("fra", "eng", "ara", "osd")


@pytest.fixture(autouse=True)
def _models_installed() -> None:
    """Fail, never skip, without the models: a skipped test would hide a broken install."""
    if TESSDATA is None or not all((TESSDATA / f"{m}.traineddata").exists() for m in MODELS):
        pytest.fail("Tesseract's fra, eng, ara and osd models are not installed (make test "
                    "installs tesseract-ocr tesseract-ocr-ara tesseract-ocr-fra)")

FRENCH = ["Royaume du Maroc - Bulletin officiel",
          "Arrêté du ministre de l'économie et des finances du 12 février 2024",
          "fixant les modalités d'application du décret relatif aux marchés publics.",
          "Le ministre de l'économie et des finances,",
          "Vu le dahir portant promulgation de la loi organique relative aux finances ;",
          "Après avis de la commission nationale de la commande publique ;",
          "Article premier. - Le présent arrêté sera publié au Bulletin officiel.",
          "Fait à Rabat, le 12 février 2024. Élaboré à l'intérieur du ministère."]
ARABIC = ["المملكة المغربية",
          "الجريدة الرسمية",
          "قرار لوزير الاقتصاد والمالية صادر في 12 من فبراير 2024",
          "بتحديد شروط تطبيق المرسوم المتعلق بالصفقات العمومية",
          "بناء على الظهير الشريف الصادر في شأن تنظيم المالية العامة؛",
          "وبعد استشارة اللجنة الوطنية للطلبيات العمومية؛",
          "يقرر ما يلي:",
          "المادة الأولى: ينشر هذا القرار بالجريدة الرسمية."]
BILINGUAL = ["Avis aux usagers de la bibliothèque municipale",
             "La bibliothèque sera fermée du 2 au 6 septembre",
             "pour l'inventaire annuel des collections.",
             "ستغلق المكتبة البلدية من 2 إلى 6 شتنبر",
             "من أجل الجرد السنوي للمجموعات."]
# Character error rates the default settings stay under on these scans (measured 0.000, 0.020
# and 0.000 with tesserocr 2.13.0: the printed CER; docs/figures.md).
CER_FRENCH = 0.01
CER_ARABIC = 0.05
CER_BILINGUAL = 0.05


def scanned(pdf: bytes, seed: int = 0) -> bytes:
    """The PDF's first page as a scan: 300 dpi grey, a little skewed, blurred and noisy; no
    text layer."""
    import pypdfium2 as pdfium

    document = pdfium.PdfDocument(pdf)
    image = document[0].render(scale=300 / 72, grayscale=True).to_pil().convert("L")
    document.close()
    image = image.rotate(0.4, resample=Image.Resampling.BICUBIC, fillcolor=255)
    image = image.filter(ImageFilter.GaussianBlur(0.7))
    noise = np.random.default_rng(seed).normal(0, 12, (image.height, image.width))
    pixels = np.clip(np.asarray(image, np.float32) + noise, 0, 255).astype(np.uint8)
    return pdfs.image_pdf([Image.fromarray(pixels)])


def read(tmp_path: Path, pdf: bytes, **settings: object) -> PageOutput:
    path = pdfs.write(tmp_path / "scan.pdf", pdf)
    engine = engines.create("tesseract", {**SETTINGS, **settings}, threads=2)
    page = PageInput("h", 1, str(path))
    page.image = render_page(RenderTask(page, engine.render_spec))
    _close_open_document()  # render_page keeps its last PDF open in a worker; here, in the test
    engine.start()
    try:
        [(_, output)] = list(engine.run([page]))
    finally:
        engine.close()
    assert output.error == ""
    return output


def cer(text: str, truth: list[str]) -> float:
    return Levenshtein.normalized_distance(" ".join(text.split()), " ".join(truth))


def test_reads_a_scanned_french_page_with_its_accents(tmp_path: Path) -> None:
    output = read(tmp_path, scanned(pdfs.text_pdf(["\n".join(FRENCH)])))
    error = cer(output.text, FRENCH)
    print(f"tesseract CER, French scan: {error:.4f}")
    assert error <= CER_FRENCH, output.text
    words = set(re.findall(r"\w+", output.text))
    for word in ("Arrêté", "économie", "février", "modalités", "décret", "Élaboré", "à"):
        assert word in words, word
    assert output.meta["script"] == "Latin" and output.meta["languages"] == "fra+eng"
    assert 0.8 < output.meta["mean_confidence"] <= 1


def test_reads_a_scanned_arabic_page_in_logical_order(tmp_path: Path) -> None:
    # Shaped with HarfBuzz in the Amiri font (fpdf2), as an Arabic writer sets it: the scan of
    # a page that shows real joined Arabic, whatever the Pillow build here can draw.
    output = read(tmp_path, scanned(pdfs.arabic_pdf(ARABIC, font_size=15), seed=1))
    error = cer(output.text, ARABIC)
    print(f"tesseract CER, Arabic scan: {error:.4f}")
    assert error <= CER_ARABIC, output.text
    lines = output.text.splitlines()
    # Logical order: the first letters typed come first in the text (a visual-order reading
    # would give "ةيبرغملا ةكلمملا"), and the lines go from the top of the page down.
    assert "المملكة المغربية" in lines[0]
    assert "ةكلمملا" not in output.text
    assert output.text.index("الجريدة") < output.text.index("قرار") < output.text.index("المادة")
    assert "12" in output.text.split() and "2024" in output.text.split()
    assert not set(output.text) & {"\u200e", "\u200f"}  # no bidi marks left in the text
    assert output.meta["script"] == "Arabic" and not re.search("[A-Za-z]", output.text)
    # its doubted words were read again with every language; Arabic they stay
    assert output.meta["word_languages"]["ara"] >= 0.95 * output.meta["words"]


def test_a_page_mixing_scripts_reads_only_its_doubted_part_again(tmp_path: Path) -> None:
    # OSD calls the page Latin: French and English alone turn the Arabic lines into junk that
    # Tesseract itself doubts. The page is read again at half the resolution with every
    # language, the French lines it read surely painted out: only the two Arabic lines are
    # read again, and they take the junk's place.
    scan = scanned(pdfs.arabic_pdf(BILINGUAL, font_size=14), seed=4)
    output = read(tmp_path, scan)
    error = cer(output.text, BILINGUAL)
    print(f"tesseract CER, French and Arabic scan: {error:.4f}")
    assert error <= CER_BILINGUAL, output.text
    assert output.meta["script"] == "Latin"
    arabic_lines = [line for line in output.text.splitlines()
                    if re.search("[\u0600-\u06ff]", line)]
    assert len(arabic_lines) == 2
    half = output.meta["half_resolution"]
    assert (half["languages"], half["dpi"], half["tables"]) == ("ara+fra+eng", 150, False)
    assert half["lines_read"] == half["parts_taken"] == len(arabic_lines), half
    assert half["lines_added"] == 0
    for run in output.meta["words_reread"]:  # what is read again lies in the Arabic lines
        assert run["box"][1] > 400, run
    assert output.meta["languages"] == "ara+fra+eng"
    assert output.meta["word_languages"].get("ara", 0) >= 10, output.meta
    assert "bibliothèque" in output.text and "المكتبة البلدية" in output.text
    once = read(tmp_path, scan, recheck_below=0)
    assert once.meta["languages"] == "fra+eng" and "half_resolution" not in once.meta
    assert "المكتبة" not in once.text
    assert cer(once.text, BILINGUAL) > 0.2 and once.meta["mean_confidence"] < 0.8


def _word(text: str, confidence: float, left: int, language: str = "fra", top: int = 100,
          width: int = 60) -> Word:
    return Word(text, confidence, (left, top, left + width, top + 40), language)


def _line(words: list[Word]) -> LineReading:
    box = union(word.box for word in words)
    mean = sum(word.confidence for word in words) / len(words)
    text = " ".join(logical(w.text) if w.language == "ara" else w.text for w in words)
    return LineReading(text, box, mean, min(word.confidence for word in words), list(words))


def test_the_half_reading_is_put_back_in_its_place() -> None:
    """A line read at half the resolution (its boxes in half pixels) takes the place of the
    doubted words it covers when it has more Arabic words; a cell the first reading left out
    beside a table's row goes into the row; a line found where the first reading found none
    goes above the first line below it in its column, or at the end as a block of its own;
    Latin junk read for Arabic changes nothing."""
    def unread(*_: object) -> PageReading:
        raise AssertionError("merging lines reads nothing")

    mixed = MixedScriptPass(list(SETTINGS["languages"]), SETTINGS["recheck_below"],
                            SETTINGS["dpi"], unread)
    row = _line([_word("1", 0.95, 0), _word("Alaoui", 0.93, 100), _word("Mohammed", 0.92, 170),
                 _word("LL", 0.40, 500), _word("Jl", 0.10, 562), _word("A123456", 0.91, 800)])
    below = _line([_word("Fait", 0.95, 0, top=300), _word("à", 0.95, 70, top=300),
                   _word("Rabat", 0.95, 140, top=300)])
    reading = PageReading([row, below], [0, 1], 0.8, {"fra": 9})

    def half_line(text: str, box: tuple[int, int, int, int], confidence: float = 0.92
                  ) -> LineReading:
        words = [Word(text, confidence, box, "ara")]
        return LineReading(text, box, confidence, confidence, words)

    half = PageReading([half_line("العلوي محمد", (250, 50, 315, 70)),  # on "LL Jl"
                        half_line("الرباط", (475, 50, 520, 70)),  # a cell left out, beside
                        half_line("Lo Il", (0, 50, 40, 70), 0.5),  # junk on "1 Alaoui"
                        half_line("فاس", (0, 100, 60, 120)),  # a line left out, above "Fait"
                        half_line("ولا", (900, 900, 930, 920))],  # below all: at the end
                       [0, 1, 2, 3, 4], 0.9, {"ara": 5})
    taken, added = mixed.merge_lines(reading, half, "LATIN")
    assert (taken, added) == (2, 2)
    assert reading.lines[0].text == "1 Alaoui Mohammed العلوي محمد A123456 الرباط"
    assert reading.text().splitlines() == ["1 Alaoui Mohammed العلوي محمد A123456 الرباط",
                                           "فاس", "Fait à Rabat", "", "ولا"]
    assert [w.text for w in reading.lines[0].words][3:] == ["العلوي محمد", "A123456", "الرباط"]
    assert reading.lines[0].words[3].box == (500, 100, 630, 140)  # in the page's pixels
    assert reading.word_languages == {"fra": 7, "ara": 4}
    # a page Tesseract gave as one block, its lines not found: doubted, it takes them whole
    block = LineReading("LL Jl\nwht MS)", (0, 0, 2000, 2000), 0.3, 0.3)
    reading = PageReading([block], [0], 0.3, {"fra": 4})
    assert list(sure_parts(reading, 0.8)) == []  # nothing of it painted out
    assert mixed.merge_lines(reading, half, "LATIN") == (1, 0)
    assert reading.text() == "العلوي محمد\nالرباط\nLo Il\nفاس\nولا"


def test_what_was_read_surely_is_painted_out() -> None:
    """The half reading does not read again a sure line, a run of sure words, or a sure word
    alone in its cell; a sure number inside a doubted phrase stays, so the phrase stays whole."""
    sure = _line([_word("Fait", 0.95, 0, top=300), _word("à", 0.95, 70, top=300)])
    title = _line([_word("Slaiall", 0.3, 0), _word("12.20", 0.96, 70), _word("5,", 0.4, 140)])
    row = _line([_word("Alaoui", 0.93, 0), _word("Mohammed", 0.92, 70), _word("LL", 0.4, 400),
                 _word("A123456", 0.91, 700)])
    reading = PageReading([sure, title, row], [0, 1, 2], 0.7, {"fra": 9})
    painted = list(sure_parts(reading, 0.8))
    assert painted == [sure.box, (-10, 100, 140, 140), (690, 100, 770, 140)]


def test_a_doubted_run_is_cut_at_a_table_gutter_and_found_in_logical_order() -> None:
    """The pieces of reading a doubted run again: a run of doubted words stops at a gap wider
    than once and a half the line's height (a table's next cell) and at a word of another
    script, and keeps the numbers between its words; it takes in
    the words of another script that touch it (the rest of its phrase: "للعموم" read as "gor)"
    and "م"); an Arabic word from Tesseract's word iterator (letters in page order) is found in
    the page's text (logical order), numbers read forwards."""
    def word(text: str, confidence: float, left: int, language: str = "fra") -> Word:
        return Word(text, confidence, (left, 100, left + 60, 140), language)

    line = [word("Alaoui", 0.93, 0), word("LL", 0.65, 300), word("Jl", 0.10, 362),
            word("A123456", 0.91, 500), word("ab", 0.41, 700), word("lol", 0.35, 830),
            word("ييلع", 0.3, 900, "ara"), word("م", 0.96, 970, "ara")]
    runs = list(doubted_runs(line, 0.8))
    assert [[w.text for w in line[start:stop]] for start, stop in runs] == \
        [["LL", "Jl"], ["ab"], ["lol"], ["ييلع"]]
    numbers = [word("wht", 0.25, 0), word("6", 0.89, 70), word("MS)", 0.3, 140),
               word("2", 0.95, 210), word("La", 0.97, 280)]
    assert list(doubted_runs(numbers, 0.8)) == [(0, 3)]  # a number between doubts stays in
    assert with_neighbours(line, 1, 3, 0.8) == (1, 3)  # Latin on both sides: nothing to take in
    assert with_neighbours(line, 5, 6, 0.8) == (5, 8)  # "lol" and the Arabic words touching it
    assert with_neighbours(line, 4, 5, 0.8) == (4, 5)  # "ab": the next word is a cell away
    assert logical("ءاتب") == "بتاء"
    assert logical("80ال310106(") == "(310106لا80"
    assert logical(")1:650:ع16") == "16ع:1:650)"  # as the page's text had it: one number


def test_a_drawing_is_read_as_no_text_not_an_error(tmp_path: Path) -> None:
    """Tesseract finds blocks in a line drawing with no word in them: tesserocr raises "No text
    returned" for such a word, which is a page with no text, not a failed engine."""
    rng = np.random.default_rng(1)
    drawing = Image.new("L", (1000, 1300), 255)
    from PIL import ImageDraw

    pen = ImageDraw.Draw(drawing)
    for _ in range(40):
        pen.line([tuple(rng.integers(0, 1000, 2)), tuple(rng.integers(0, 1300, 2))], fill=0,
                 width=int(rng.integers(1, 6)))
    output = read(tmp_path, pdfs.image_pdf([drawing]))
    assert output.text == "" and output.meta["words"] == 0


def test_reads_two_columns_one_after_the_other(tmp_path: Path) -> None:
    data, expected = pdfs.two_column_pdf()
    text = read(tmp_path, scanned(data, seed=2)).text
    assert Levenshtein.normalized_distance(" ".join(text.split()),
                                           " ".join(expected.split())) < 0.05, text
    assert "\n\n" in text  # the title, and each column, a block of its own


def test_every_language_on_every_page_when_asked(tmp_path: Path) -> None:
    output = read(tmp_path, scanned(pdfs.text_pdf(["\n".join(FRENCH)])), detect_script=False)
    assert output.meta["languages"] == "fra+eng+ara" and "script" not in output.meta
    assert cer(output.text, FRENCH) <= CER_FRENCH


def test_pages_are_read_on_every_thread_and_a_bad_page_fails_alone(tmp_path: Path) -> None:
    path = pdfs.write(tmp_path / "scan.pdf", pdfs.scanned_pdf(["Page one of the minutes.",
                                                               "Page two of the minutes."]))
    engine = engines.create("tesseract", SETTINGS, threads=2)
    pages = []
    for n in (1, 2, 1, 2):
        page = PageInput("h", n, str(path), doc_id=str(len(pages)))
        page.image = render_page(RenderTask(page, engine.render_spec))
        pages.append(page)
    _close_open_document()
    pages.append(PageInput("h", 3, str(path), doc_id="no image"))  # as if rendering lost it
    pulled = []

    def feed():
        for page in pages:
            pulled.append(page)
            yield page

    engine.start()
    try:
        outputs = {}
        for page, output in engine.run(feed()):
            if not outputs:  # the first answer came with one page per thread in flight
                assert len(pulled) == 2
            outputs[page.doc_id] = output
    finally:
        engine.close()
    assert set(outputs) == {"0", "1", "2", "3", "no image"}
    assert "needs a rendered page" in outputs["no image"].error
    assert [outputs[d].text for d in "0123"] == ["Page one of the minutes.",
                                                 "Page two of the minutes."] * 2


def test_through_an_ocr_job(tmp_path: Path) -> None:
    pages = run_job(tmp_path, "tesseract", SETTINGS, [3, 7])
    for page, tag in ((1, 3), (2, 7)):
        record, verdict = pages[page]
        assert f"Report page {tag}: the scanned text would be here." in record["text"]
        assert verdict["ok"] and record["provenance"]["engine"] == "tesseract"


def test_fingerprint_follows_output_settings_only() -> None:
    fp = engines.create("tesseract", SETTINGS).fingerprint()
    assert engines.create("tesseract", {**SETTINGS, "threads": 7, "timeout_s": 5}
                          ).fingerprint() == fp
    assert engines.create("tesseract", {**SETTINGS, "languages": ["fra"]}).fingerprint() != fp
    assert engines.create("tesseract", {**SETTINGS, "dpi": 200}).fingerprint() != fp


def test_a_missing_language_says_what_to_install(tmp_path: Path,
                                                 monkeypatch: pytest.MonkeyPatch) -> None:
    assert TESSDATA is not None
    for model in ("fra", "eng", "osd"):  # no ara
        (tmp_path / f"{model}.traineddata").symlink_to(TESSDATA / f"{model}.traineddata")
    monkeypatch.setenv("TESSDATA_PREFIX", str(tmp_path))
    with pytest.raises(EngineUnavailable, match=r"no model for language 'ara' in .*"
                       r"apt-get install tesseract-ocr-ara"):
        engines.create("tesseract", SETTINGS).start()


def test_a_missing_package_says_what_to_install(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "tesserocr", None)  # import fails as if not installed
    with pytest.raises(EngineUnavailable, match="pip install tesserocr"):
        engines.create("tesseract", SETTINGS).start()


def test_a_final_ya_read_as_alif_maqsura_is_put_right() -> None:
    """Tesseract's Arabic model writes "فى" for "في" and "العلوى" for "العلوي"; the spelling
    twenty times rarer in the word list is replaced, and only that: "على" (the preposition) and
    "علي" (the name) both stay, as do right spellings with a final alif maqsura."""
    read = "العلوى محمد فى الرباط، على يد علي إلي مستوى الكتانى. Mustafa مصطفى موسى"
    assert final_yeh(read) == \
        "العلوي محمد في الرباط، على يد علي إلى مستوى الكتاني. Mustafa مصطفى موسى"
