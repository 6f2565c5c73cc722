"""Real bilingual pages as administrations make them (tests/support/bilingual_corpus.py:
LibreOffice PDFs
of Arabic and French documents written here, and scans of them) through the pipeline with the
default config's engines: every page keeps both scripts, in reading order, at least as well as
poppler's pdftotext reads the same text layer."""

from __future__ import annotations

import json
import shutil
from typing import Any

import pytest

from ocrflow.core.layout import Layout, document_file
from tests.support import bilingual_corpus as corpus

# Snakemake on ten pages; LibreOffice writes them, poppler's pdftotext is the comparison
pytestmark = [pytest.mark.slow, pytest.mark.services]

# Floors tuned on this corpus (tests/support/bilingual_corpus.py: five documents, each a
# born-digital page and its scan), with the default config's engines.
# On the born-digital pages: each script's word recall and the words in order (measured 1.00
# on every page: benchmarks/bilingual.py).
BORN_RECALL = 0.95
# pdftotext's reading of the same layer may beat ocrflow's by this much at most (word accuracy
# on the born-digital pages: measured 1.00 for ocrflow on each, 0.48 to 0.97 for pdftotext;
# docs/languages.md).
PDFTOTEXT_MARGIN = 0.05
# On the scans, read by Tesseract, each script's word recall (the floor). Measured:
# Arabic 1.00 (the dahir), 0.97 (the Arabic decree, the two-column notice), 0.93 (the calendar),
# 0.90 (the table of names: rows whose cells mix scripts); French 0.89 (the table of names) to
# 1.00. docs/languages.md.
SCAN_RECALL = 0.85


@pytest.fixture(scope="module")
def run(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    """Fail, never skip, without LibreOffice or poppler: a skipped test would hide them."""
    if corpus.libreoffice() is None or shutil.which("pdftotext") is None:
        pytest.fail("LibreOffice Writer and poppler-utils are not installed (make test installs "
                    "libreoffice-writer and poppler-utils)")
    pages = corpus.build()
    workdir = tmp_path_factory.mktemp("bilingual")
    texts = corpus.run_pipeline(pages, workdir)
    markdown = Layout.of(workdir / "results").markdown
    records = {page.doc_id: [json.loads(line) for line in document_file(
        markdown, page.doc_id, "page_records").read_text(encoding="utf-8").splitlines()]
        for page in pages}
    return {"pages": pages, "texts": texts, "records": records}


def _pages(run: dict[str, Any], scanned: bool) -> list[corpus.CorpusPage]:
    return [page for page in run["pages"] if page.scanned == scanned]


def test_the_corpus_is_what_it_says(run: dict[str, Any]) -> None:
    """Five documents, each a born-digital PDF with a text layer in both scripts and a scan
    without one; the ground truth has both scripts on every page."""
    born, scans = _pages(run, False), _pages(run, True)
    assert len(born) == len(scans) == 5
    for page in born:
        truth = corpus.words(page.truth)
        assert len(truth["arabic"]) >= 8 and len(truth["latin"]) >= 8, page.doc_id
        assert corpus.words(corpus.pdfium(page.path))["arabic"], page.doc_id
    for page in scans:
        assert corpus.pdfium(page.path).strip() == "", page.doc_id


def test_born_digital_pages_keep_both_scripts_in_reading_order(run: dict[str, Any]) -> None:
    for page in _pages(run, False):
        scores = corpus.score(run["texts"][page.doc_id], page.truth)
        poppler = corpus.score(corpus.pdftotext(page.path), page.truth)
        print(f"{page.doc_id}: recall {scores.recall}, accuracy {scores.word_accuracy:.3f}, "
              f"pdftotext {poppler.word_accuracy:.3f}")
        assert scores.recall["arabic"] >= BORN_RECALL, page.doc_id
        assert scores.recall["latin"] >= BORN_RECALL, page.doc_id
        assert scores.word_accuracy >= BORN_RECALL, page.doc_id
        assert scores.word_accuracy >= poppler.word_accuracy - PDFTOTEXT_MARGIN, page.doc_id


def test_born_digital_pages_are_taken_from_their_trusted_layer(run: dict[str, Any]) -> None:
    """The calendar's repeated day names and numbers are the document's, not a loop."""
    for page in _pages(run, False):
        [record] = run["records"][page.doc_id]
        assert (record["status"], record["engine"]) == ("ok", "textlayer"), record


def test_scanned_pages_keep_both_scripts(run: dict[str, Any]) -> None:
    for page in _pages(run, True):
        scores = corpus.score(run["texts"][page.doc_id], page.truth)
        print(f"{page.doc_id}: recall {scores.recall}, accuracy {scores.word_accuracy:.3f}")
        [record] = run["records"][page.doc_id]
        assert record["status"] == "recovered" and record["engine"] == "tesseract", record
        assert scores.recall["arabic"] >= SCAN_RECALL, page.doc_id
        assert scores.recall["latin"] >= SCAN_RECALL, page.doc_id
