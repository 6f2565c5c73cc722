"""How merge decides a page's final state from its two readings."""

from __future__ import annotations

from dataclasses import replace

from ocrflow.merge import document_markdown, resolve_page
from ocrflow.records import FinalPage, InventoryPage, Reading, Verdict

PAGE = InventoryPage(1)
FILLER = "Lorem ipsum dolor sit amet, consectetur adipiscing elit. " * 10


def final(primary: tuple[str, list[str]], recovery: tuple[str, list[str]] | None,
          quality: tuple[float, float] = (1.0, 1.0),
          page: InventoryPage | None = None) -> FinalPage:
    def judged(engine: str, text: str, reasons: list[str],
               score: float) -> tuple[Reading, Verdict]:
        return (Reading("doc", "h", 1, engine, text),
                Verdict("doc", 1, engine, not reasons, reasons, score, "en"))

    second = None if recovery is None else judged("rapidocr", *recovery, quality[1])
    return resolve_page(page or PAGE, judged("textlayer", *primary, quality[0]), second,
                        min_agreement=0.8)


def test_two_empty_readings_of_an_inked_page_are_no_text() -> None:
    assert final(("", ["empty_output"]), ("", ["empty_output"])).status == "no_text"
    assert final(("", ["empty_output"]), None).status == "failed"  # one reading proves nothing
    assert final(("", ["empty_output"]), ("x" * 400, ["repetition"])).status == "failed"


def test_agreeing_readings_overrule_the_repetition_flags() -> None:
    agreed = final((FILLER, ["repetition"]), (FILLER.replace("elit", "elít"), ["repeated_tail"]))
    assert (agreed.status, agreed.engine, agreed.text) == ("ok", "textlayer", FILLER)
    assert agreed.reasons == ["textlayer:repetition", "rapidocr:repeated_tail",
                                 "merge:readings_agree"]
    other = "The same words again. " * 40
    assert final((FILLER, ["repetition"]), (other, ["repetition"])).status == "failed"
    assert final((FILLER, ["repetition", "garbage"]), (FILLER, ["repetition"])).status \
        == "failed"  # agreement answers repetition, not other failures


def test_a_page_with_a_text_layer_is_not_no_text() -> None:
    layered = replace(PAGE, text_layer="1I1 lI1")
    assert final(("", ["empty_output"]), ("", ["empty_output"]), page=layered).status == \
        "failed"


LETTER = ("The committee met on Tuesday to review the annual budget of the harbour and the "
          "new quay. ") * 3


def test_an_untrusted_layer_gives_way_to_ocr_unless_the_ocr_agrees() -> None:
    recovered = final(("Gdd bnllhssdd lds nm Sttdrczx", ["untrusted_text_layer"]), (LETTER, []),
                      quality=(0.3, 0.98))
    assert (recovered.status, recovered.engine, recovered.text) == \
        ("recovered", "rapidocr", LETTER)
    assert recovered.quality == 0.98 and recovered.language == "en"
    # The OCR reads what the layer says (a drawing with a caption): the exact layer is kept.
    near = LETTER.replace("quay", "guay")
    kept = final((LETTER, ["untrusted_text_layer"]), (near, []), quality=(1.0, 0.97))
    assert (kept.status, kept.engine, kept.text) == ("ok", "textlayer", LETTER)
    assert kept.reasons[-1] == "merge:readings_agree"
    # ... unless the OCR's reading scores higher: then it is the one kept.
    better = final((near, ["untrusted_text_layer"]), (LETTER, []), quality=(0.9, 1.0))
    assert (better.status, better.text) == ("recovered", LETTER)


def test_a_reading_re_read_for_its_low_score_keeps_the_better() -> None:
    worse = "Tlie c0mmittee rnet 0n Tuesduy"
    kept = final((LETTER, ["low_quality"]), (worse, []), quality=(0.6, 0.4))
    assert (kept.status, kept.text) == ("ok", LETTER)
    assert kept.reasons[-1] == "merge:kept_better_reading"
    assert final((worse, ["low_quality"]), (LETTER, []), quality=(0.4, 0.9)).status == \
        "recovered"


def test_right_to_left_paragraphs_are_marked_for_markdown() -> None:
    french = "Avis aux usagers\nLa bibliothèque sera fermée du 2 au 6 septembre."
    arabic = ["ستغلق المكتبة البلدية من 2 إلى 6 شتنبر", "من أجل الجرد السنوي للمجموعات."]
    page = FinalPage(1, "ok", "tesseract", text="\n\n".join([french, *arabic]))
    markdown = document_markdown([page])
    assert markdown == ("<!-- page 1 -->\n" + french + '\n\n<div dir="rtl">\n\n'
                        + "\n\n".join(arabic) + "\n\n</div>\n")
    latin = FinalPage(2, "ok", "textlayer", text="Le décret n° 2.24.117\n\n\nArticle 2.")
    assert document_markdown([latin]) == "<!-- page 2 -->\n" + latin.text + "\n"  # as it was
