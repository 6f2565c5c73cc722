"""Each failure signal fires on the failure it names and stays quiet on good pages."""

from __future__ import annotations

import copy
import json
from dataclasses import replace

from ocrflow.core.records import InventoryPage, LayerTrust, Reading
from ocrflow.run import config
from ocrflow.text import detect
from ocrflow.text.settings import DetectionSettings, TrustSettings
from tests.conftest import EXAMPLES

_DEFAULTS = config.validate({"input": "x"})
CFG, TRUST = _DEFAULTS["detection"], TrustSettings.from_config(_DEFAULTS["trust"])
SETTINGS = DetectionSettings.from_config(CFG)
INKED = InventoryPage(1, ink=0.05)
BLANK = InventoryPage(1, ink=0.0)
# Four different real pages (the corpus holds the annual report twice, as a duplicate).
_TRUTH = [json.loads(line) for line in (EXAMPLES / "ground_truth.jsonl").read_text().splitlines()]
GOOD = "\n".join(list(dict.fromkeys(t["text"] for t in _TRUTH if t["text"]))[:4])


def reading(text: str, engine: str = "chandra", **fields) -> Reading:
    return Reading("doc", "h", 1, engine, text, **fields)


def reasons(text: str, page: InventoryPage | None = None, cfg: dict | None = None,
            **fields) -> list[str]:
    return detect.judge(reading(text, **fields), page or INKED,
                        DetectionSettings.from_config(cfg) if cfg else SETTINGS, TRUST).reasons


def test_real_pages_pass() -> None:
    assert reasons(GOOD) == []
    assert reasons("", page=BLANK) == []  # a blank page is fine empty


def test_engine_error_and_timeout() -> None:
    assert reasons("", error="ReadTimeout: no answer in 120 s")[:1] == ["engine_error"]


def test_empty_output_on_a_page_with_ink() -> None:
    assert reasons("  \n ") == ["empty_output"]
    assert reasons("p. 3") == ["empty_output"]


def test_runaway_repetition() -> None:
    loop = GOOD[:300] + " the committee reviewed the contract" * 40
    assert "repetition" in reasons(loop)


def test_repeated_tail() -> None:
    assert reasons(GOOD + "\n" + "=" * 500) == ["repeated_tail"]  # one token: no n-grams
    assert "repeated_tail" in reasons(GOOD + "\n" + "| --- " * 60)
    assert reasons(GOOD + "\n" + "| --- " * 10) == []  # a normal table rule


def test_truncated_at_length_limit() -> None:
    assert reasons(GOOD, finish_reason="length") == ["truncated"]


def test_garbage_characters() -> None:
    assert reasons(GOOD[:200] + "\ufffd" * 20 + "\x07\x08" * 5) == ["garbage"]


def test_text_layer_agreement_is_optional() -> None:
    page = replace(INKED, has_text_layer=True, text_layer=GOOD)
    wrong = "Lorem ipsum dolor sit amet " * 3 + "consectetur adipiscing elit sed do eiusmod"
    assert reasons(wrong, page=page) == []
    cfg = copy.deepcopy(CFG)
    cfg["text_layer_agreement"]["enabled"] = True
    assert reasons(wrong, page=page, cfg=cfg) == ["text_layer_disagreement"]
    assert reasons(GOOD, page=page, cfg=cfg) == []


def test_every_threshold_comes_from_config() -> None:
    cfg = copy.deepcopy(CFG)
    cfg["min_chars"] = 10_000
    assert reasons(GOOD, cfg=cfg) == ["empty_output"]
    cfg = copy.deepcopy(CFG)
    cfg["max_repeated_ngram_ratio"] = 0.0
    cfg["min_ngrams"] = 1
    assert reasons("one two three four five one two three four five six") == []
    assert reasons("one two three four five one two three four five six", cfg=cfg) == \
        ["repetition"]


def test_languages_without_spaces_are_measured_by_characters() -> None:
    loop = "東京都の会議" * 80
    assert "repetition" in reasons(loop)


def test_prose_on_a_page_without_ink_or_text_layer_is_a_hallucination() -> None:
    prose = GOOD[:400]
    assert reasons(prose, page=BLANK) == ["hallucination"]
    assert reasons(prose[:80], page=BLANK) == []  # a few characters (a stray mark read) pass
    hidden_text = replace(BLANK, has_text_layer=True, text_layer=prose)
    assert reasons(prose, page=hidden_text) == []  # an invisible text layer is real text
    assert reasons(prose, page=INKED) == []


def test_an_untrusted_text_layer_fails_its_reading_and_only_its_reading() -> None:
    untrusted = replace(INKED, has_text_layer=True, text_layer="Gdd bnllhssdd lds nm",
                        trust=LayerTrust(False, 0.2, "en", ["20% of 4 words are words of en"]))
    verdict = detect.judge(reading("Gdd bnllhssdd lds nm", "textlayer"), untrusted, SETTINGS, TRUST)
    assert verdict.reasons == ["untrusted_text_layer"] and verdict.quality == 0.2
    # An OCR reading is never failed for disagreeing with a layer that is not trusted ...
    cfg = copy.deepcopy(CFG)
    cfg["text_layer_agreement"].update(enabled=True, min_text_layer_chars=5)
    assert reasons(GOOD, page=untrusted, cfg=cfg, engine="rapidocr") == []
    # ... and the layer's own reading is not compared with itself.
    trusted = replace(untrusted, text_layer=GOOD, trust=None)
    assert reasons(GOOD, page=trusted, cfg=cfg, engine="textlayer") == []


def test_each_reading_gets_a_quality_and_a_language() -> None:
    verdict = detect.judge(reading(GOOD, "rapidocr"), INKED, SETTINGS, TRUST)
    assert verdict.quality > 0.9 and verdict.language in ("en", "fr")  # the example pages
    noise = detect.judge(reading("1I1 l1I 11l I1 lI1 1l1 I11 l1 I1I", "rapidocr"), INKED, SETTINGS,
                         TRUST)
    assert noise.quality < 0.3
    assert reasons(GOOD, reread_below=0.5) == []  # retry-failed --below 0.5 flagged it
    assert reasons("1I1 l1I 11l I1 lI1 1l1 I11 l1 I1I", reread_below=0.5) == ["low_quality"]


def test_a_picture_only_answer_is_empty() -> None:
    assert reasons("![](p1-0.webp)\n\n<img src='p1-1.webp' alt='a harbour'>") == \
        ["empty_output"]
    assert reasons("![](p1-0.webp)", page=BLANK) == []  # nothing on the page: fine


def test_a_trusted_layers_own_repetition_is_no_loop() -> None:
    """A year's calendar repeats its day names and numbers twelve times: drawn in a trusted
    text layer, that is the document; from an untrusted layer or a model, it is judged."""
    import calendar

    year = "\n\n".join(calendar.TextCalendar().formatmonth(2026, month) for month in range(1, 13))
    leaders = "\n".join(f"Article {n} {'.' * 60} {n + 2}" for n in range(1, 40))
    layer = replace(INKED, has_text_layer=True, text_layer=year,
                    trust=LayerTrust(True, 0.97, "en", []))
    for text in (year, leaders):
        assert reasons(text, page=replace(layer, text_layer=text), engine="textlayer") == []
    # A trusted layer that loops a sentence (a stale OCR layer) is still a loop.
    stale = "\n".join(["The committee reviewed the contract for the harbour works."] * 30)
    assert reasons(stale, page=replace(layer, text_layer=stale), engine="textlayer") == \
        ["repetition", "repeated_tail"]
    untrusted = replace(layer, trust=LayerTrust(False, 0.4, "en", ["glyph codes"]))
    assert reasons(year, page=untrusted, engine="textlayer") == ["untrusted_text_layer",
                                                                "repetition"]
    assert "repetition" in reasons(year)  # a VLM's answer: a loop looks the same


def test_a_table_of_short_cells_is_no_loop() -> None:
    """An HTML table of figures (as the text layer's tables and Chandra write them) has few
    spaces: its markup is no text, its cells are; a model that repeats a row is still caught."""
    rows = [f"<tr><td>{name}</td><td>{21 + n % 7}.{n % 10}</td><td>{n % 3 * 2 + 4}</td>"
            f"<td>{160 + 7 * n}.0</td><td>{3 + n % 2}</td></tr>"
            for n, name in enumerate(["Mazda RX4", "Datsun 710", "Hornet 4 Drive", "Valiant",
                                      "Duster 360", "Merc 240D", "Merc 230", "Merc 280",
                                      "Fiat 128", "Honda Civic", "Toyota Corolla", "Camaro Z28",
                                      "Pontiac Firebird", "Porsche 914-2", "Lotus Europa"])]
    table = "<table>\n" + "\n".join(rows) + "\n</table>"
    layer = replace(INKED, has_text_layer=True, text_layer=table,
                    trust=LayerTrust(True, 0.9, "en", []))
    assert reasons(table, page=layer, engine="textlayer") == []
    assert reasons(GOOD + "\n\n" + table) == []
    looping = GOOD + "\n<table>\n" + "\n".join([rows[0]] * 60)
    assert "repetition" in reasons(looping)
