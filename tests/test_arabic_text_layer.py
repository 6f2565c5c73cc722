"""Arabic born-digital pages (Amiri, shaped by HarfBuzz through fpdf2): their text layer comes out
in logical order, diacritics kept, and is trusted; a broken font map, glyph codes or a layer read
backwards are not. French pages are left as they are."""

from __future__ import annotations

import time
import unicodedata
from pathlib import Path

import pytest

from ocrflow import config, text_layer, trust
from ocrflow.inventory import InventoryTask, PageWithReadings, inventory_document, judge_text_layers
from ocrflow.records import InventoryPage
from tests import pdfs
from tests.real_pdfs import DECREE as PROCES_VERBAL

TRUST = config.validate({"input": "x"})["trust"]
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
    assert trust.reversed_share(trust.word_share(page, tuple(TRUST["languages"]))) < \
        TRUST["min_word_share"]  # the page-wide signal alone would pass it
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
