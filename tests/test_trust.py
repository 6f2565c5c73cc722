"""Which text to trust: each trust signal on text and on PDFs made here, and what the pipeline
then does with the page (OCR for a bad layer, the layer kept when it was right)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from dataclasses import replace

import pytest

from ocrflow.core.layout import Layout
from ocrflow.inputs.inventory import InventoryTask, inventory_document, judge_text_layers
from ocrflow.run import config
from ocrflow.text import trust
from ocrflow.text.settings import TrustSettings
from tests.conftest import REPO, Workspace, call_counts
from tests.support import pdfs
from tests.support.real_pdfs import DECREE as PROCES_VERBAL
from tests.support.real_pdfs import MINUTES

TRUST = TrustSettings.from_config(config.validate({"input": "x"})["trust"])
SLIDE = "Harbour works 2024\nNew quay: 120 m\nDredging: 40,000 m3\nOpening in May"


def assessed(text: str, **changes: object) -> trust.Assessment:
    return trust.assess(text, replace(TRUST, **changes))


def test_real_text_is_trusted_with_its_language() -> None:
    english, french = assessed(MINUTES), assessed(PROCES_VERBAL)
    assert english.trusted and english.language == "en" and english.quality > 0.95
    assert french.trusted and french.language == "fr" and french.quality > 0.95


def test_letter_shifted_gibberish_is_not_trusted() -> None:
    shifted = pdfs.letter_shift("Proceedings of the")
    assert shifted == "Oqnbddchmfr ne sgd"
    result = assessed(pdfs.letter_shift(MINUTES))
    assert not result.trusted and result.quality < 0.5
    assert "words are words of" in result.reasons[0]


def test_ocr_noise_and_a_poor_ocr_layer_are_not_trusted() -> None:
    noise = "1I1 I l1I 1l 11I lI1 I1l l 1I1l"
    assert not assessed(noise).trusted
    poor = assessed(pdfs.ocr_noise(MINUTES, 0.9))
    assert not poor.trusted and poor.quality < 0.7
    # A fair OCR layer (a tenth of the words wrong) is trusted, its score says how fair.
    fair = assessed(pdfs.ocr_noise(MINUTES, 0.1))
    assert fair.trusted and 0.8 < fair.quality < 1


def test_mis_decoded_characters_are_not_trusted() -> None:
    swapped = "Multicolor Black".encode("utf-16-le").decode("utf-16-be")  # "䴀甀氀..."
    assert not assessed(swapped).trusted
    assert not assessed("\ue000\ue001\ue002 \ue003").trusted  # private-use glyph codes
    assert not assessed("Ã©tÃ© Ã  la plage, cafÃ© crÃ¨me, Ã©lÃ¨ve").trusted  # mojibake
    assert not assessed('"7+%- ;/.$" 3(+%').trusted  # glyph codes read as ASCII


def test_what_really_repeats_or_has_no_words_is_trusted() -> None:
    toc = "Contents\n" + "\n".join(f"{i} Chapter {i} {'.' * 40} {i * 7}" for i in range(1, 20))
    assert assessed(toc).trusted
    assert assessed(json.dumps({"items": list(range(40)), "total": 780}, indent=1)).trusted
    assert assessed("12.5 17.25 1,250 3/4 45% 2024-01-31 +3.5 -7").trusted  # a table of figures
    # No configured language is written in Japanese script: its words are not judged.
    japanese = assessed("日本語 テキスト")
    assert japanese.trusted and japanese.language is None


def test_an_unknown_language_is_a_config_error_naming_the_key() -> None:
    with pytest.raises(config.ConfigError, match=r"trust\.languages\.1: no word list .*'xx'"):
        config.validate({"input": "x", "trust": {"languages": ["fr", "xx"]}})


def layer_trust(tmp_path, data: bytes) -> dict:
    path = pdfs.write(tmp_path / "doc.pdf", data)
    doc = inventory_document(InventoryTask("doc", str(path), 14400, 36, 20))
    judge_text_layers(doc, TRUST)
    return doc.pages[0].to_json()


def test_inventory_judges_layers_of_made_pdfs(tmp_path) -> None:
    born = layer_trust(tmp_path, pdfs.text_pdf([MINUTES]))
    assert born["trust"]["trusted"] and born["trust"]["language"] == "en"
    good_scan = layer_trust(tmp_path, pdfs.sandwich_pdf([(MINUTES, MINUTES)]))
    assert good_scan["trust"]["trusted"]
    assert good_scan["layout"]["picture_without_text"] < 0.1  # the hidden text covers the scan
    shifted = layer_trust(tmp_path, pdfs.sandwich_pdf([(MINUTES, pdfs.letter_shift(MINUTES))]))
    assert not shifted["trust"]["trusted"]
    # A slide: one big picture whose text is in the image, a caption as its only text layer.
    slide = layer_trust(tmp_path, pdfs.slide_pdf(SLIDE, "Annual meeting of the harbour board"))
    assert slide["layout"]["picture_without_text"] > 0.5
    assert not slide["trust"]["trusted"] and "picture" in slide["trust"]["reasons"][0]
    scan = layer_trust(tmp_path, pdfs.scanned_pdf(["A scanned line of text"]))
    assert scan["trust"] is None  # no text layer: nothing to trust


@pytest.fixture(scope="module")
def trust_run(tmp_path_factory) -> Workspace:
    """The CPU pipeline over pages whose text layer is good, garbled, thin or right to repeat."""
    workspace = Workspace(tmp_path_factory.mktemp("trust"))
    corpus = workspace.root / "corpus"
    filler = ("Lorem ipsum dolor sit amet, consectetur adipiscing elit, sed do eiusmod "
              "tempor incididunt ut labore et dolore magna aliqua.\n") * 14
    outline = "\n".join(f"{i} Section {i} {'.' * 50} {i + 1}" for i in range(1, 30))
    made = {"born": pdfs.text_pdf([MINUTES, PROCES_VERBAL]),
            "shifted": pdfs.sandwich_pdf([(MINUTES, pdfs.letter_shift(MINUTES))]),
            "poor_ocr": pdfs.sandwich_pdf([(MINUTES, pdfs.ocr_noise(MINUTES, 0.9))]),
            "slide": pdfs.slide_pdf(SLIDE, "Annual meeting of the harbour board"),
            "filler": pdfs.text_pdf([filler]), "outline": pdfs.text_pdf([outline]),
            "photo": pdfs.noise_pdf(3)}
    for name, data in made.items():
        pdfs.write(corpus / f"{name}.pdf", data)
    workspace.snakemake()
    return workspace


def page_rows(workspace: Workspace) -> dict[tuple[str, int], dict]:
    return {(row["doc_id"], row["page"]): row for row in workspace.manifest()}


@pytest.mark.slow  # trust_run: Snakemake on made PDFs
def test_a_bad_layer_goes_to_ocr_and_its_reading_is_kept(trust_run: Workspace) -> None:
    rows = page_rows(trust_run)
    for doc in ("shifted", "poor_ocr"):
        row = rows[(doc, 1)]
        assert (row["status"], row["engine"]) == ("recovered", "tesseract"), doc
        assert "textlayer:untrusted_text_layer" in row["reasons"]
        text = (trust_run.results / "markdown" / f"{doc}.md").read_text()
        assert "harbour" in text and "engineers" in text  # Tesseract's reading, not the layer's
        assert row["language"] == "en" and row["quality"] > 0.8
    slide = rows[("slide", 1)]
    assert slide["status"] == "recovered" and "Dredging" in (
        trust_run.results / "markdown" / "slide.md").read_text()


@pytest.mark.slow  # trust_run: Snakemake on made PDFs
def test_a_good_layer_stays_and_real_repetition_is_not_a_failure(trust_run: Workspace) -> None:
    rows = page_rows(trust_run)
    assert rows[("born", 1)]["status"] == "ok" and rows[("born", 1)]["engine"] == "textlayer"
    assert rows[("born", 1)]["language"] == "en" and rows[("born", 2)]["language"] == "fr"
    for doc in ("filler", "outline"):  # flagged as repeating, settled by the OCR's agreement
        assert rows[(doc, 1)]["status"] == "ok" and rows[(doc, 1)]["engine"] == "textlayer", doc
    assert rows[("photo", 1)]["status"] == "no_text"
    assert "no_text" in (trust_run.results / "summary.txt").read_text()
    assert all(0 <= row["quality"] <= 1 for row in rows.values() if row["quality"] is not None)


@pytest.mark.slow  # trust_run: Snakemake on made PDFs
def test_retry_below_a_score_rereads_only_those_pages(trust_run: Workspace) -> None:
    rows = page_rows(trust_run)
    low = {key for key, row in rows.items() if row["status"] in ("ok", "recovered")
           and row["quality"] is not None and row["quality"] < 0.99}
    assert low and len(low) < len(rows)  # some pages score lower than others
    trust_run.reset_calls()
    result = subprocess.run([sys.executable, "-m", "ocrflow", "retry-failed", "--results",
                             str(trust_run.results), "--below", "0.99"], cwd=trust_run.root,
                            capture_output=True, text=True, check=True,
                            env={**os.environ, "PYTHONPATH": str(REPO)})
    assert f"{len(low)} failed pages or below 0.99" in result.stdout
    trust_run.snakemake()
    sent = call_counts(trust_run.calls())
    assert {role for role, _, _ in sent} == {"recovery"}  # the primary's readings are reused
    by_hash = {row["content_hash"]: row["doc_id"] for row in trust_run.manifest()}
    assert {(by_hash[h], page) for _, h, page in sent} == low
    after = page_rows(trust_run)
    for key in low:  # read again; the better of the two readings is kept
        assert after[key]["status"] in ("ok", "recovered")
        assert after[key]["quality"] >= rows[key]["quality"] - 1e-6


@pytest.mark.slow  # Snakemake runs
def test_born_digital_pages_stay_off_the_primary_engine(workspace: Workspace) -> None:
    """config/gpu.yaml's switch, with RapidOCR standing in for Chandra as the primary engine."""
    corpus = workspace.root / "corpus"
    pdfs.write(corpus / "born.pdf", pdfs.text_pdf([MINUTES, PROCES_VERBAL]))
    pdfs.write(corpus / "scan.pdf", pdfs.scanned_pdf([MINUTES]))
    workspace.config.update(primary={"engine": "rapidocr", "trusted_text_layer": True},
                            recovery={"engine": "none"})
    first = workspace.snakemake("-n")
    assert "ocrflow plan: 1 shard, none inventoried yet" in first.stderr
    workspace.snakemake()
    sent = call_counts(c for c in workspace.calls() if c["engine"] == "rapidocr")
    rows = page_rows(workspace)
    scan_hash = rows[("scan", 1)]["content_hash"]
    assert set(sent) == {("primary", scan_hash, 1)}  # only the scanned page reached the engine
    assert rows[("born", 1)]["engine"] == rows[("born", 2)]["engine"] == "textlayer"
    assert rows[("born", 1)]["status"] == "ok" and rows[("scan", 1)]["engine"] == "rapidocr"
    plan = workspace.snakemake("-n").stderr
    assert ("text layer trusted on 2, untrusted on 0, absent on 1; primary: 2 pages from their "
            "text layer, 1 to rapidocr") in plan
    stats = json.loads(Layout.of(workspace.results).stats("s000000", "primary").read_text())
    assert stats["pages_sent"] == 1 and stats["pages_from_text_layer"] == 2
    assert "2 pages taken from their trusted text layer" in (
        workspace.results / "summary.txt").read_text()


@pytest.mark.slow  # Snakemake runs
def test_a_picture_of_a_table_on_a_born_digital_page_goes_to_the_engine(
        workspace: Workspace) -> None:
    """config/gpu.yaml's primary.structure_to_engine: a trusted page whose table is a picture
    (its layer holds the text around it, not the table) is read by the engine that writes
    tables; with the switch off, from its layer like any trusted page."""
    corpus = workspace.root / "corpus"
    rows = [["Province", "Lecteurs"], ["Rabat", "48 210"], ["Sale", "21 904"],
            ["Temara", "9 655"], ["Fes", "30 112"]]
    # text enough that the picture is less than half the page's ink: the layer is trusted
    text = "\n".join([MINUTES, PROCES_VERBAL, MINUTES])
    pdfs.write(corpus / "annex.pdf", pdfs.table_picture_pdf(text, rows))
    pdfs.write(corpus / "born.pdf", pdfs.text_pdf([MINUTES, PROCES_VERBAL]))
    workspace.config.update(primary={"engine": "rapidocr", "trusted_text_layer": True,
                                     "structure_to_engine": True}, recovery={"engine": "none"})
    workspace.snakemake()
    rows_by_page = page_rows(workspace)
    annex_hash = rows_by_page[("annex", 1)]["content_hash"]
    sent = call_counts(c for c in workspace.calls() if c["engine"] == "rapidocr")
    assert set(sent) == {("primary", annex_hash, 1)}  # the other pages' layers hold all
    assert rows_by_page[("annex", 1)]["engine"] == "rapidocr"
    assert rows_by_page[("born", 1)]["engine"] == rows_by_page[("born", 2)]["engine"] == "textlayer"
    stats = json.loads(Layout.of(workspace.results).stats("s000000", "primary").read_text())
    assert stats["pages_structure_to_engine"] == 1 and stats["pages_from_text_layer"] == 2
    assert "Rabat" in (workspace.results / "markdown" / "annex.md").read_text()

    workspace.reset_calls()
    workspace.config["primary"]["structure_to_engine"] = False
    workspace.snakemake()
    assert not workspace.calls()  # the layer was read before: the page store answers
    assert page_rows(workspace)[("annex", 1)]["engine"] == "textlayer"


def test_the_language_check_agrees_with_wordfreq_without_importing_it() -> None:
    from wordfreq import available_languages

    known = set(available_languages("best"))
    assert {"ar", "fr", "en"} <= known
    for language in [*sorted(known), "xx", "fr-FR", "arabic", ""]:
        assert (trust.check_language(language) == "") == (language in known), language
