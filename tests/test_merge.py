"""How merge decides a page's final state from its two readings."""

from __future__ import annotations

from dataclasses import replace

from ocrflow.core.records import FinalPage, InventoryPage, LayerTrust, Reading, Verdict
from ocrflow.results.merge import document_markdown, resolve_page

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


BILINGUAL = ("Le présent décret sera publié au Bulletin officiel et entrera en vigueur à la date "
             "de sa publication.\n"
             "يُنشر هذا المرسوم في الجريدة الرسمية ويعمل به ابتداء من تاريخ نشره، ويسند تنفيذه "
             "إلى وزير الداخلية ووزير الاقتصاد والمالية.")


def test_a_reading_that_lost_a_script_does_not_replace_one_that_has_it() -> None:
    """The layer is doubted (here: a picture without text covers part of the page), the OCR
    read its French cleanly and its Arabic not at all: a better score on less text."""
    from ocrflow.run import config
    from ocrflow.text import detect
    from ocrflow.text.settings import DetectionSettings, TrustSettings

    settings = config.validate({"input": "x"})
    detection = DetectionSettings.from_config(settings["detection"])
    doubted = replace(PAGE, ink=0.1, has_text_layer=True, text_layer=BILINGUAL,
                      trust=LayerTrust(False, 0.6, "fr", ["45% of the page's ink is picture"]))

    def judged(engine: str, text: str) -> tuple[Reading, Verdict]:
        reading = Reading("doc", "h", 1, engine, text)
        return reading, detect.judge(reading, doubted, detection,
                                     TrustSettings.from_config(settings["trust"]))

    french_only = BILINGUAL.splitlines()[0]
    layer, ocr = judged("textlayer", BILINGUAL), judged("tesseract", french_only)
    assert ocr[1].ok and ocr[1].quality > layer[1].quality and not layer[1].ok
    kept = resolve_page(doubted, layer, ocr)
    assert (kept.status, kept.engine, kept.text) == ("ok", "textlayer", BILINGUAL)
    assert kept.reasons == ["textlayer:untrusted_text_layer", "merge:kept_more_complete"]
    # An OCR reading with both scripts replaces the doubted layer as before.
    both = judged("tesseract", BILINGUAL.replace("publié", "publie"))
    assert resolve_page(doubted, layer, both).status == "recovered"
    # A calendar: numbers and French day names alone do not cover its Arabic day names.
    days = "Lun Mar Mer Jeu Ven Sam Dim\n1 2 3 4 5 6 7\n8 9 10 11 12 13 14\n" \
        "Janvier Février Mars Avril Mai Juin"
    arabic_days = "الاثنين الثلاثاء الأربعاء الخميس الجمعة السبت الأحد يناير فبراير مارس"
    calendar_layer = judged("textlayer", f"{days}\n{arabic_days}")
    assert resolve_page(doubted, calendar_layer, judged("tesseract", days)).engine == "textlayer"
