"""How merge decides a page's final state from its two readings."""

from __future__ import annotations

from ocrflow.merge import resolve_page

PAGE = {"page": 1, "error": ""}
KEY = ("doc", 1)
FILLER = "Lorem ipsum dolor sit amet, consectetur adipiscing elit. " * 10


def final(primary: tuple[str, list[str]], recovery: tuple[str, list[str]] | None) -> dict:
    def stage(engine: str, text: str) -> dict:
        return {"engine": engine, "text": text, "error": "", "meta": {}}

    def verdict(engine: str, reasons: list[str]) -> dict:
        return {"engine": engine, "ok": not reasons, "reasons": reasons}

    stages = {"primary": {KEY: stage("textlayer", primary[0])},
              "primary_verdicts": {KEY: verdict("textlayer", primary[1])},
              "recovery": {}, "recovery_verdicts": {}}
    if recovery is not None:
        stages["recovery"][KEY] = stage("rapidocr", recovery[0])
        stages["recovery_verdicts"][KEY] = verdict("rapidocr", recovery[1])
    return resolve_page(PAGE, KEY, stages, min_agreement=0.8)


def test_two_empty_readings_of_an_inked_page_are_no_text() -> None:
    assert final(("", ["empty_output"]), ("", ["empty_output"]))["status"] == "no_text"
    assert final(("", ["empty_output"]), None)["status"] == "failed"  # one reading proves nothing
    assert final(("", ["empty_output"]), ("x" * 400, ["repetition"]))["status"] == "failed"


def test_agreeing_readings_overrule_the_repetition_flags() -> None:
    agreed = final((FILLER, ["repetition"]), (FILLER.replace("elit", "elít"), ["repeated_tail"]))
    assert (agreed["status"], agreed["engine"], agreed["text"]) == ("ok", "textlayer", FILLER)
    assert agreed["reasons"] == ["textlayer:repetition", "rapidocr:repeated_tail",
                                 "merge:readings_agree"]
    other = "The same words again. " * 40
    assert final((FILLER, ["repetition"]), (other, ["repetition"]))["status"] == "failed"
    assert final((FILLER, ["repetition", "garbage"]), (FILLER, ["repetition"]))["status"] \
        == "failed"  # agreement answers repetition, not other failures
