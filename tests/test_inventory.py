"""Inventory of good and bad PDFs: every bad input gets a one-line reason, none stops the rest."""

from __future__ import annotations

from pathlib import Path

import pytest

from ocrflow.core import atomic
from ocrflow.inputs.inventory import InventoryTask, inventory_document, inventory_shard
from ocrflow.inputs.settings import InventorySettings
from ocrflow.text.settings import TrustSettings
from tests.support import pdfs
from tests.support.stand_in import DEFAULTS

SETTINGS = DEFAULTS["inventory"]


def inventory(path: Path) -> dict:
    """The document's inventory record, as the inventory file holds it."""
    return inventory_document(InventoryTask("doc", str(path), SETTINGS["max_page_points"],
                                            SETTINGS["ink_dpi"], SETTINGS["text_layer_min_chars"])
                              ).to_json()


def test_born_digital_and_scanned_pages(tmp_path: Path) -> None:
    text = "A page with a real text layer, long enough to count."
    record = inventory(pdfs.write(tmp_path / "t.pdf", pdfs.text_pdf([text, ""], size=(612, 792))))
    assert record["error"] == "" and len(record["pages"]) == 2 and len(record["content_hash"]) == 32
    first, blank = record["pages"]
    assert (first["width"], first["height"], first["rotation"]) == (612, 792, 0)
    assert first["has_text_layer"] and text in first["text_layer"]
    assert first["ink"] > 0 and blank["ink"] == 0 and not blank["has_text_layer"]
    scan = inventory(pdfs.write(tmp_path / "s.pdf", pdfs.scanned_pdf([text])))
    assert not scan["pages"][0]["has_text_layer"] and scan["pages"][0]["ink"] > 0.001  # one line


@pytest.mark.parametrize(("data", "reason"), [
    (b"", "empty file (0 bytes)"),
    (b"<html>not a pdf</html>", "not a PDF (no %PDF- header)"),
    (pdfs.text_pdf(["x"])[:300], "corrupt PDF:"),
    (pdfs.encrypted_pdf(), "encrypted (a password is required)"),
    (pdfs.garbage_body_pdf(), "corrupt PDF:"),
])
def test_unreadable_pdfs_get_a_one_line_reason(tmp_path: Path, data: bytes, reason: str) -> None:
    record = inventory(pdfs.write(tmp_path / "bad.pdf", data))
    assert record["error"].startswith(reason)
    assert "\n" not in record["error"] and record["pages"] == []


def test_repairable_xref_is_read(tmp_path: Path) -> None:
    record = inventory(pdfs.write(tmp_path / "xref.pdf", pdfs.corrupt_xref_pdf()))
    assert record["error"] == "" and len(record["pages"]) == 1
    assert "broken xref" in record["pages"][0]["text_layer"]


def test_absurd_page_size_is_a_failed_page_not_a_failed_document(tmp_path: Path) -> None:
    data = pdfs.text_pdf(["huge page", "normal page"], size=(595, 842))
    data = data.replace(b"/MediaBox [ 0 0 595 842 ]", b"/MediaBox [ 0 0 595 9000000 ]", 1)
    record = inventory(pdfs.write(tmp_path / "huge.pdf", data))
    assert record["error"] == ""
    errors = sorted(p["error"] for p in record["pages"])
    assert errors[0] == "" and errors[1].startswith("absurd page size 595x")


def test_missing_file(tmp_path: Path) -> None:
    assert inventory(tmp_path / "gone.pdf")["error"].startswith("cannot read file:")


def test_a_pdf_that_hangs_the_library_is_cut_off_and_the_shard_completes(tmp_path: Path) -> None:
    good = pdfs.write(tmp_path / "good.pdf", pdfs.text_pdf(["fine"]))
    slow = pdfs.write(tmp_path / "slow.pdf", pdfs.scanned_pdf(["slow"]) )
    # 1,500 pages, each rendered for the ink estimate: far beyond a 2 s limit.
    slow.write_bytes(pdfs.text_pdf(["many pages"] * 1500))
    members = tmp_path / "inputs.tsv"
    members.write_text(f"slow\t{slow}\t1\t1\ngood\t{good}\t1\t1\n")
    out = tmp_path / "inventory.jsonl"
    inventory_shard(members, out,
                    InventorySettings.from_config({**SETTINGS, "timeout_s": 2, "ink_dpi": 150}),
                    workers=1,
                    trust_settings=TrustSettings.from_config(DEFAULTS["trust"]))
    records = {r["doc_id"]: r for r in atomic.read_jsonl(out)}
    assert records["slow"]["error"] == "PDF library failed: timed out after 2 s"
    assert records["good"]["error"] == "" and len(records["good"]["pages"]) == 1


def test_the_text_layer_joins_words_hyphenated_at_a_line_end(tmp_path: Path) -> None:
    import io

    from reportlab.pdfgen import canvas

    out = io.BytesIO()
    page = canvas.Canvas(out)
    lines = ["The committee asked for a replace-", "ment of the old crane and a re\u00ad",
             "newal of the pier. Costs of 1990-", "1995 were kept."]
    for n, line in enumerate(lines):
        page.drawString(72, 700 - 14 * n, line)
    page.showPage()
    page.save()
    text = inventory(pdfs.write(tmp_path / "h.pdf", out.getvalue()))["pages"][0]["text_layer"]
    assert "a replacement of the old crane and a renewal of the pier" in text
    assert "\x02" not in text and "\u00ad" not in text and "\r" not in text
    assert "1990-\n1995" in text  # a hyphen before a digit is a range, kept with its line break
