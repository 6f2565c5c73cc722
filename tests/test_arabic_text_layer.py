"""Arabic born-digital pages (Amiri, shaped by HarfBuzz through fpdf2): their text layer comes out
in logical order, diacritics kept, and is trusted; a broken font map, glyph codes or a layer read
backwards are not. French pages are left as they are."""

from __future__ import annotations

import functools
import itertools
import re
import shutil
import subprocess
import time
import unicodedata
from pathlib import Path

import pytest

from ocrflow.core.records import InventoryDocument, InventoryPage
from ocrflow.inputs import logical_order, page_glyphs, text_layer
from ocrflow.inputs.inventory import (
    InventoryTask,
    PageWithReadings,
    inventory_document,
    judge_text_layers,
)
from ocrflow.run import config
from ocrflow.text import trust
from ocrflow.text.settings import TrustSettings
from tests.support import pdfs
from tests.support.real_pdfs import DECREE as PROCES_VERBAL

TRUST = TrustSettings.from_config(config.validate({"input": "x"})["trust"])
HABIBI = "حَبيبي habibi حَبيبي"
MIXED = "Le décret n° 2.21.45 du 12 mars 2021 — المرسوم رقم 2.21.45"
PARAGRAPH = ["يُنشر هذا المرسوم في الجريدة الرسمية ويعمل به ابتداء من تاريخ نشره،",
             "ويسند تنفيذه إلى وزير الداخلية ووزير الاقتصاد والمالية."]
DECREE = ["مرسوم رقم 2.21.45 صادر في 12 مارس 2021 بتحديد اختصاصات وتنظيم وزارة الداخلية",
          "بناء على الدستور ولا سيما الفصل 90 منه",
          "وبعد المداولة في مجلس الحكومة المنعقد بتاريخ 4 مارس 2021",
          "المادة الأولى: تحدد بموجب هذا المرسوم اختصاصات وزارة الداخلية وتنظيمها"]
FRENCH = ["Le présent décret sera publié au Bulletin officiel.",
          "Fait à Rabat, le 12 mars 2021 — à l'été, où l'élève déçu reçoit sa lettre."]


def judged(tmp_path: Path, data: bytes) -> InventoryPage:
    """The page as the inventory records it: read in the worker, judged in the parent."""
    path = pdfs.write(tmp_path / "page.pdf", data)
    doc = inventory_document(InventoryTask("doc", str(path), 14400, 36, 20))
    assert doc.error == "" and doc.pages[0].error == ""
    judge_text_layers(doc, TRUST)
    return doc.pages[0]


def logical(lines: list[str], diacritics: bool = True) -> str:
    text = "\n".join(lines)
    if not diacritics:
        text = pdfs._HARAKAT.sub("", text)
    return unicodedata.normalize("NFKC", text)


@pytest.mark.parametrize("diacritics", [True, False])
def test_an_arabic_page_reads_in_logical_order_and_is_trusted(tmp_path, diacritics) -> None:
    lines = [HABIBI, *PARAGRAPH, *DECREE]
    page = judged(tmp_path, pdfs.arabic_pdf(lines, diacritics=diacritics))
    assert page.text_layer == logical(lines, diacritics)
    assert page.trust is not None and page.trust.trusted, page.trust
    assert page.trust.language == "ar" and page.trust.quality > 0.95
    assert type(page) is InventoryPage  # the readings were chosen between, and not kept


def test_a_french_line_with_an_arabic_phrase_keeps_both_in_order(tmp_path) -> None:
    lines = [MIXED, "حبيبي يا نور العين", *FRENCH]  # French lines of the page: as they are
    page = judged(tmp_path, pdfs.arabic_pdf(lines))
    assert page.text_layer == logical(lines)
    assert page.trust is not None and page.trust.trusted and page.trust.quality > 0.95


def test_pdfium_alone_reads_the_arabic_phrase_backwards(tmp_path) -> None:
    """Why the page gets several readings: pdfium puts the phrase's words in the order they
    are shown; pypdf leaves the number where it is shown."""
    path = pdfs.write(tmp_path / "page.pdf", pdfs.arabic_pdf([MIXED]))
    page = inventory_document(InventoryTask("doc", str(path), 14400, 36, 20)).pages[0]
    assert isinstance(page, PageWithReadings)
    read = {reading.source: reading.text for reading in page.readings}
    assert read["lines"] == MIXED and page.text_layer == MIXED
    assert read["pdfium"] != MIXED and "رقم المرسوم" in read["pdfium"]


def test_presentation_forms_are_folded_to_letters(tmp_path) -> None:
    page = judged(tmp_path, pdfs.with_presentation_forms(pdfs.arabic_pdf(DECREE)))
    assert page.text_layer == logical(DECREE)
    assert page.trust is not None and page.trust.trusted
    assert text_layer.fold_presentation_forms("\ufefb \ufe91\ufe8e\ufe8f") == "لا باب"


def test_a_font_without_unicode_map_is_not_trusted(tmp_path) -> None:
    page = judged(tmp_path, pdfs.without_unicode_maps(pdfs.arabic_pdf([HABIBI, *DECREE])))
    assert page.trust is not None and not page.trust.trusted
    assert "control" in page.trust.reasons[0]


def test_glyph_codes_mixed_into_a_page_are_not_trusted(tmp_path) -> None:
    """The reported page: the second copy of the word came out as Greek-looking glyph codes."""
    data = pdfs.arabic_pdf(["حَبيبي habibi", "حَبيبي"], font_per_line=True)
    page = judged(tmp_path, pdfs.with_glyph_codes(data, fonts={"/F2"}))
    assert page.text_layer.startswith("حَبيبي habibi\n")
    assert all("\u0370" <= c <= "\u03ff" for c in page.text_layer.split("\n")[1])
    assert page.trust is not None and not page.trust.trusted
    assert any("glyph codes" in reason for reason in page.trust.reasons), page.trust
    whole = judged(tmp_path, pdfs.with_glyph_codes(pdfs.arabic_pdf([*DECREE, *FRENCH])))
    assert whole.trust is not None and not whole.trust.trusted


def test_arabic_glyph_codes_that_are_no_words_are_not_trusted(tmp_path) -> None:
    """A map to the right script but the wrong letters: its words are not words."""
    def shifted(text: str) -> str:
        return "".join(chr(0x628 + (ord(c) - 0x628 + 3) % 19) if "\u0628" <= c <= "\u063a"
                       else c for c in text)
    data = pdfs._rewrite_unicode_maps(pdfs.arabic_pdf(DECREE), shifted, None)
    page = judged(tmp_path, data)
    assert page.trust is not None and not page.trust.trusted
    assert "words are words of" in page.trust.reasons[0]


def test_a_layer_read_backwards_is_not_trusted(tmp_path) -> None:
    page = judged(tmp_path, pdfs.unshaped_pdf([HABIBI, *DECREE]))
    assert "يبيبَح" in page.text_layer or "يبيبح" in page.text_layer
    assert page.trust is not None and not page.trust.trusted
    assert "reversed right-to-left text" in page.trust.reasons[0]


ENGLISH = ["The committee met on Tuesday to review the annual budget of the harbour and the",
           "new quay, and asked the engineers for a report on the cost of dredging the channel",
           "before the winter storms. The chairman thanked the staff for their work during a",
           "difficult year, and the members agreed to publish the decree in both languages.",
           "The minutes of the meeting were approved without amendment by every member present",
           "and the secretary was asked to send a copy to the ministry before the end of March."]


def test_a_reversed_right_to_left_line_is_judged_on_its_own() -> None:
    """A Latin page with an Arabic title in logical order and one Arabic line backwards (a
    quotation pasted from another writer): over all the page's Arabic words the reversed ones
    are a minority, over their own line they are all of it."""
    backwards = " ".join(word[::-1] for word in DECREE[2].split())
    page = "\n".join([DECREE[0], *ENGLISH, DECREE[3], backwards])
    judged_page = trust.assess(page, TRUST)
    assert trust.reversed_share(trust.word_share(page, TRUST.languages)) < \
        TRUST.min_word_share  # the page-wide signal alone would pass it
    assert not judged_page.trusted
    assert judged_page.reasons[0].startswith("1 right-to-left line (8 words) of 28 are words")
    right = trust.assess("\n".join([DECREE[0], *ENGLISH, DECREE[3], DECREE[2]]), TRUST)
    assert right.trusted, right.reasons


def test_a_french_page_stays_as_it_is(tmp_path) -> None:
    data = pdfs.arabic_pdf(FRENCH)  # the same writer and font, no right-to-left text
    path = pdfs.write(tmp_path / "fr.pdf", data)
    read = inventory_document(InventoryTask("doc", str(path), 14400, 36, 20)).pages[0]
    assert type(read) is InventoryPage  # no other reading was made
    page = judged(tmp_path, data)
    assert page.text_layer == "\n".join(FRENCH)
    assert page.trust is not None and page.trust.trusted and page.trust.language == "fr"


def test_the_arabic_word_list_is_used_as_wordfreq_tokenises() -> None:
    """Vowel marks and the tatweel are dropped before look-up, as wordfreq does."""
    marked = trust.assess("وَزِيرُ الدَّاخِلِيَّة يُـنـشـر المرسوم في الجريدة الرسمية", TRUST)
    assert marked.trusted and marked.word_share == 1.0 and marked.language == "ar"
    numbers = trust.assess("المرسوم رقم ٢٫٢١٫٤٥ بتاريخ ١٢ مارس ٢٠٢١", TRUST)
    assert numbers.word_share == 1.0  # Arabic-Indic digits and separators are numbers


def test_reversed_words_are_named_and_real_words_are_not() -> None:
    text = "\n".join(DECREE)
    backwards = "\n".join(" ".join(word[::-1] for word in line.split())
                          for line in text.splitlines())
    assert not trust.assess(backwards, TRUST).trusted
    assert "reversed right-to-left text" in trust.assess(backwards, TRUST).reasons[0]
    right = trust.assess(text, TRUST)
    assert right.trusted and right.reversed_share == 0.0


def test_a_quoted_greek_word_or_a_japanese_page_is_no_glyph_code() -> None:
    quoted = trust.assess(PROCES_VERBAL + " Le mot grec λόγος.", TRUST)
    assert quoted.trusted and quoted.glyph_codes < trust.MAX_GLYPH_CODE_LETTERS
    assert trust.assess("日本語 テキスト 東京 report", TRUST).trusted
    assert trust.assess("Ἀρχὴ τοῦ εὐαγγελίου", TRUST).trusted  # a page wholly in Greek
    codes = trust.assess("حبيبي habibi ϨϩϪϫ ΣΤΥΦ", TRUST)
    assert not codes.trusted and "glyph codes" in codes.reasons[0]


def test_latin_pages_pay_nothing_for_right_to_left_support(tmp_path) -> None:
    """No other reading is made of a page without right-to-left characters: its inventory
    costs what it did (50 such pages: 0.077 s before and after)."""
    path = pdfs.write(tmp_path / "fr.pdf", pdfs.text_pdf(["\n".join(FRENCH * 20)] * 20))
    started = time.monotonic()
    doc = inventory_document(InventoryTask("doc", str(path), 14400, 36, 20))
    assert all(type(page) is InventoryPage for page in doc.pages)
    assert time.monotonic() - started < 10


# --- right-to-left runs inside Latin lines ----------------------------------------------------
# PDFs that mix the scripts inside a line, made as the TeX documentation of Arabic packages is
# (tests/data/mixed_lines: XeLaTeX with polyglossia and with bidi, LuaLaTeX with arabluatex,
# committed with their sources since CI has no TeX), with LibreOffice and with ReportLab. What a
# reader checks: the Arabic words (those of wordfreq's Arabic list one way only) read forwards,
# none backwards, and the words of each Arabic phrase in the order they are typed.

MIXED_LINES = Path(__file__).parent / "data" / "mixed_lines"
_ARABIC_WORD = re.compile("[\u0621-\u064a]+")
_NOT_A_LETTER = re.compile("[\u064b-\u065f\u0670\u0640\u200b-\u200f\u202a-\u202e\u2066-\u2069]")


@functools.cache
def _arabic_words() -> frozenset[str]:
    from wordfreq import get_frequency_dict

    return frozenset(word for word, frequency in get_frequency_dict("ar", "large").items()
                     if frequency >= trust.MIN_FREQUENCY)


def _tokens(text: str) -> list[list[str]]:
    """Each line's Arabic words, letters only (no vowel marks, bidi controls, punctuation)."""
    plain = _NOT_A_LETTER.sub("", unicodedata.normalize("NFKC", text))
    return [[m.group() for m in re.finditer(r"\S+", line) if _ARABIC_WORD.fullmatch(
        m.group().strip(".,;:!?()«»“”\"'،؛؟"))] for line in plain.splitlines()]


def word_directions(text: str) -> tuple[int, int]:
    """(Arabic words read forwards, read backwards): words of the Arabic list one way only."""
    words, forwards, backwards = _arabic_words(), 0, 0
    for line in _tokens(text):
        for token in (t.strip(".,;:!?()«»“”\"'،؛؟") for t in line):
            ahead, back = token in words, token[::-1] in words
            forwards += ahead and not back
            backwards += back and not ahead
    return forwards, backwards


def phrase_order(text: str, source: str) -> tuple[int, int]:
    """(pairs of Arabic words in the source's order, in the reverse order) in ``text``: each
    pair two words side by side in one of the source's Arabic phrases."""
    pairs = {pair for phrase in re.findall("[\u0621-\u064a]+(?: [\u0621-\u064a]+)*", source)
             for pair in itertools.pairwise(phrase.split())}
    ahead = back = 0
    for line in _tokens(text):
        for pair in itertools.pairwise(t.strip(".,;:!?()«»“”\"'،؛؟") for t in line):
            ahead += pair in pairs and pair[::-1] not in pairs
            back += pair[::-1] in pairs and pair not in pairs
    return ahead, back


def pdftotext(path: Path) -> str:
    """poppler's reading, its bidi controls as the spaces they stand beside."""
    if shutil.which("pdftotext") is None:
        pytest.fail("poppler-utils is not installed (make test installs it)")
    text = subprocess.run(["pdftotext", str(path), "-"], capture_output=True, text=True,
                          check=True).stdout
    return re.sub("[\u202a-\u202e]", " ", text)


# (PDF, Arabic words forwards at least, phrases that must be read whole). Measured: 13, 277,
# 31 and 33 forwards and none backwards (pdftotext, counting the pieces it splits some words
# into: 11, 288, 30, 33). Before lines were told apart by their baselines: 1 forwards and 7
# backwards on the first (pdfium's reading chosen), 51 and 102 on the second, 6 of 22 pairs of
# words reversed on the third.
TEX_PAGES = [
    ("lualatex_arabluatex", 12, ["الكتاب المفيد", "الجريدة الرسمية", "سنة ١٩٥٥", "صحيفة ١٢"]),
    ("lualatex_paragraphs", 270, ["الجريدة الرسمية Administrative correspondence, مجلس النواب",
                                  "وزارة الداخلية", "السلام عليكم", "الخط العربي"]),
    ("xelatex_bidi", 30, ["السلام عليكم", "شكرا جزيلا", "المرسوم رقم 45", "وزارة الداخلية",
                          "في وسط السطر، ثم يستمر النص العربي"]),
    ("xelatex_polyglossia", 33, ["السلام عليكم", "وعليكم السلام", "بسم الله الرحمن الرحيم",
                                 "القاهرة, دمشق and بغداد", "الحروف العربية",
                                 "يستخدم برنامج XeLaTeX لكتابة النصوص العربية"]),
]


@pytest.mark.services  # poppler's pdftotext, a Debian package
@pytest.mark.parametrize(("name", "forwards", "phrases"), TEX_PAGES)
def test_arabic_words_of_tex_lines_read_in_order(name, forwards, phrases) -> None:
    """TeX's mixed paragraphs are justified and hyphenated: pdfium runs a line that ends inside
    a hyphenated word on into the next one, and the two lines' glyphs must not be sorted
    together."""
    path = MIXED_LINES / f"{name}.pdf"
    doc = inventory_document(InventoryTask("doc", str(path), 14400, 36, 20))
    judge_text_layers(doc, TRUST)
    assert all(page.trust is not None and page.trust.trusted for page in doc.pages)
    text = _NOT_A_LETTER.sub("", "\n".join(page.text_layer for page in doc.pages))
    poppler = pdftotext(path)
    assert word_directions(text)[0] >= forwards and word_directions(text)[1] == 0
    assert word_directions(poppler)[1] == 0  # what pdftotext reads in order, ocrflow too
    source = (MIXED_LINES / f"{name}.tex").read_text(encoding="utf-8")
    ahead, back = phrase_order(text, source)
    assert back == 0 and ahead >= phrase_order(poppler, source)[0]
    for phrase in phrases:
        assert phrase in " ".join(text.split()), (phrase, text)


def test_pdfium_reads_the_luatex_words_backwards(tmp_path) -> None:
    """Why the page gets the ``lines`` reading: pdfium and pypdf read LuaTeX's Arabic words in
    the order they are shown."""
    path = MIXED_LINES / "lualatex_arabluatex.pdf"
    page = inventory_document(InventoryTask("doc", str(path), 14400, 36, 20)).pages[0]
    assert isinstance(page, PageWithReadings)
    read = {reading.source: word_directions(reading.text) for reading in page.readings}
    assert read["pdfium"][1] > read["pdfium"][0] and read["pypdf"][1] > read["pypdf"][0]
    assert read["lines"][1] == 0


MIXED_HTML = """<html><head><meta charset="utf-8"><style>body {{ font-family: 'Liberation Serif';
font-size: 12pt }} .ar {{ font-family: 'Amiri' }}</style></head><body>{}</body></html>"""
LIBREOFFICE_LINES = [
    'Le mot <span class="ar">كتاب</span> signifie livre, et le mot <span class="ar">مدرسة</span> '
    'signifie école.',
    'En arabe on écrit <span class="ar">السلام عليكم</span> pour saluer, et on répond '
    '<span class="ar">وعليكم السلام</span> le plus souvent.',
    'Le décret n° 2.21.45 du 12 mars 2021 fixe les attributions du <span class="ar">وزير '
    'الداخلية</span>, publiées dans la <span class="ar">الجريدة الرسمية</span> chaque semaine.',
    'This long English paragraph names the capitals <span class="ar">القاهرة</span>, '
    '<span class="ar">دمشق</span> and <span class="ar">بغداد</span>, so that the text wraps '
    'across lines, which is how a document looks when it explains <span class="ar">الخط '
    'العربي</span> with examples.',
    '<span class="ar">يستخدم برنامج</span> LibreOffice <span class="ar">لكتابة النصوص العربية في '
    'الوثائق.</span>',
]


@pytest.mark.services  # LibreOffice Writer and pdftotext, Debian packages
def test_arabic_words_of_libreoffice_lines_read_in_order(tmp_path) -> None:
    """Writer shows each paragraph with Unicode's bidi: "القاهرة, دمشق" is shown "دمشق ,القاهرة"
    (the comma touches the word it follows), where TeX shows it as typed."""
    from tests.support import bilingual_corpus

    office = bilingual_corpus.libreoffice()
    if office is None:
        pytest.fail("LibreOffice Writer is not installed (make test installs libreoffice-writer)")
    body = "".join(f'<p{" dir=rtl" if line.startswith("<span") else ""}>{line}</p>'
                   for line in LIBREOFFICE_LINES)
    source = tmp_path / "mixed.html"
    source.write_text(MIXED_HTML.format(body), encoding="utf-8")
    subprocess.run([office, f"-env:UserInstallation=file://{tmp_path / 'profile'}", "--headless",
                    "--infilter=HTML (StarWriter)", "--convert-to", "pdf:writer_pdf_Export",
                    "--outdir", str(tmp_path), str(source)],
                   check=True, capture_output=True, timeout=300)
    path = tmp_path / "mixed.pdf"
    page = judged(tmp_path, path.read_bytes())
    text = " ".join(page.text_layer.split())
    truth = bilingual_corpus.truth(source)
    assert word_directions(text) == (word_directions(truth)[0], 0)
    assert phrase_order(text, truth) == (phrase_order(truth, truth)[0], 0)
    assert word_directions(text) >= word_directions(pdftotext(path))
    for phrase in ["السلام عليكم", "الجريدة الرسمية", "القاهرة, دمشق and بغداد",
                   "يستخدم برنامج LibreOffice لكتابة النصوص العربية في الوثائق."]:
        assert phrase in text, (phrase, text)


_SHAPES = {(chr(int(code, 16)), tag[1:-1]): chr(form) for form in range(0xFE70, 0xFEFD)
           for tag, _, code in [unicodedata.decomposition(chr(form)).partition(" ")]
           if tag in ("<isolated>", "<final>", "<initial>", "<medial>") and " " not in code}


def _shown(word: str) -> str:
    """An Arabic word as presentation forms, joined as Amiri shows it, left to right: what a
    writer gets from a reshaper and a bidi reordering before it draws with ReportLab."""
    def joins_next(letter: str) -> bool:
        return "\u0626" <= letter <= "\u064a" and letter not in page_glyphs.RIGHT_JOINING \
            and letter != "\u0621"

    forms = []
    for i, letter in enumerate(word):
        before = i > 0 and joins_next(word[i - 1])
        after = i + 1 < len(word) and joins_next(letter)
        form = "medial" if before and after else "final" if before else \
            "initial" if after else "isolated"
        forms.append(_SHAPES.get((letter, form), _SHAPES.get((letter, "isolated"), letter)))
    return "".join(forms)[::-1]


def reportlab_pdf(lines: list[str], size: float = 13) -> bytes:
    """Each line one string in the order it is shown, Arabic as presentation forms (a Latin
    line's Arabic phrases, words right to left; an Arabic line's Latin words left to right)."""
    import io

    from reportlab.pdfbase import pdfmetrics
    from reportlab.pdfbase.ttfonts import TTFont
    from reportlab.pdfgen import canvas

    pdfmetrics.registerFont(TTFont("Amiri", str(pdfs.amiri())))
    out = io.BytesIO()
    pdf = canvas.Canvas(out, pagesize=(595, 842), invariant=1)
    pdf.setFont("Amiri", size)
    for number, line in enumerate(lines):
        runs = pdfs._line_runs(line)
        shown = [" ".join(_shown(word) for word in reversed(text.split(" ")))
                 if direction == "rtl" else text for text, direction in runs]
        if pdfs._arabic_first(line):
            shown.reverse()
        pdf.drawString(50, 780 - number * size * 1.8, "".join(shown))
    pdf.showPage()
    pdf.save()
    return out.getvalue()


REPORTLAB_LINES = ["Le mot كتاب signifie livre, et le mot مدرسة signifie école.",
                   "En arabe on écrit السلام عليكم pour saluer, et on répond وعليكم السلام.",
                   "The ministry publishes الجريدة الرسمية every week, on page 12.",
                   "The phrase بسم الله الرحمن الرحيم is printed at the top.",
                   "يستخدم برنامج ReportLab لكتابة النصوص العربية في الوثائق"]


def test_arabic_words_of_reportlab_lines_read_in_order(tmp_path) -> None:
    page = judged(tmp_path, reportlab_pdf(REPORTLAB_LINES))
    assert page.text_layer == "\n".join(REPORTLAB_LINES)
    truth = "\n".join(REPORTLAB_LINES)
    assert word_directions(page.text_layer) == (word_directions(truth)[0], 0)


def _shown_glyphs(shown: str) -> list[page_glyphs.Glyph]:
    """A line as glyphs left to right, 5 points each, spaces drawn."""
    return [page_glyphs.Glyph(c, 5.0 * i, 5.0 * i, 5.0 * i + 5, 10.0, i)
            for i, c in enumerate(shown)]


@pytest.mark.parametrize(("shown", "read"), [
    # TeX sets two Arabic words of a Latin line apart, the comma in the Latin text
    ("as ةرهاقلا, قشمد and", "as القاهرة, دمشق and"),
    # Unicode's bidi shows the same words as one right-to-left run
    ("as قشمد ,ةرهاقلا and", "as القاهرة, دمشق and"),
    # Arabic-Indic digits go with the Arabic word beside them
    ("as in ١٩٥٥ ةنس the year", "as in سنة ١٩٥٥ the year"),
    # an Arabic line's Latin words, as TeX sets them and as Unicode's bidi shows them
    ("ةريثك اهريغو ConTeXt ،LaTeX غيصلا", "الصيغ LaTeX، ConTeXt وغيرها كثيرة"),
    ("ةريثك اهريغو LaTeX، ConTeXt غيصلا", "الصيغ LaTeX، ConTeXt وغيرها كثيرة"),
])
def test_punctuation_and_digits_go_with_their_words(shown, read) -> None:
    assert logical_order.visual_to_logical(_shown_glyphs(shown)) == read


def test_a_latin_line_with_more_arabic_words_reads_as_its_paragraph() -> None:
    """Two Arabic phrases outnumber the words of an English line of a hyphenated paragraph:
    the line still reads left to right, as the lines of its paragraph."""
    shown = "ةيمسرلا ةديرجلا Administrative correspondence, باونلا سلجم internationaliza"
    read = "الجريدة الرسمية Administrative correspondence, مجلس النواب internationaliza"
    assert logical_order.visual_to_logical(_shown_glyphs(shown), "L") == read
    assert logical_order.line_text(_shown_glyphs(shown), "L") == read
    assert logical_order.visual_to_logical(_shown_glyphs(shown)) != read  # the line alone


def test_a_reading_with_the_arabic_words_forwards_wins_over_a_better_score() -> None:
    """A few Arabic words weigh less in a Latin page's score than a Latin word one reading
    lost: the reading with them backwards must still lose."""
    latin = " ".join(ENGLISH)
    forwards = f"{latin} الجريدة الرسمية"
    for word in ("committee", "engineers", "chairman", "secretary"):  # split by a wide kern
        forwards = forwards.replace(word, f"{word[:4]} {word[4:]}")
    backwards = f"{latin} ةديرجلا ةيمسرلا"
    page = PageWithReadings(page=1, readings=[
        text_layer.LayerReading("pdfium", backwards, True),
        text_layer.LayerReading("lines", forwards, True)])
    assert trust.assess(backwards, TRUST).quality > trust.assess(forwards, TRUST).quality
    doc = InventoryDocument("doc", "doc.pdf", pages=[page])
    judge_text_layers(doc, TRUST)
    assert doc.pages[0].text_layer == forwards
