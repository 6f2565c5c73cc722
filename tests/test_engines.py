"""The CPU engines read real pages; a missing engine package is one clear line."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest
from rapidfuzz.distance import Levenshtein

from ocrflow import engines
from ocrflow.engines import EngineUnavailable, PageInput
from ocrflow.engines.reading_order import Line, from_quads, reading_order
from ocrflow.inputs.render import RenderTask, _close_open_document, render_page
from ocrflow.run import config
from tests.support import pdfs

SETTINGS = config.validate({"input": "x"})["engines"]
TEXT = "Le présent arrêté sera publié au Bulletin officiel.\nFait à Rabat, le 12 février 2024."


def test_rapidocr_reads_an_image_only_page(tmp_path: Path) -> None:
    path = pdfs.write(tmp_path / "scan.pdf", pdfs.scanned_pdf([TEXT]))
    engine = engines.create("rapidocr", SETTINGS["rapidocr"])
    page = PageInput("h", 1, str(path))
    page.image = render_page(RenderTask(page, engine.render_spec))
    engine.start()
    output = engine.recognize(page)
    engine.close()
    assert output.error == ""
    assert Levenshtein.normalized_distance(output.text, TEXT) < 0.03
    assert output.meta["boxes"] == 2


def test_textlayer_engine_returns_the_layer() -> None:
    engine = engines.create("textlayer", {})
    assert engine.render_spec is None
    assert engine.recognize(PageInput("h", 1, "x.pdf", text_layer="a  \r\nb\n")).text == "a\nb"


def test_fingerprint_follows_output_settings_only() -> None:
    base = dict(SETTINGS["rapidocr"])
    fp = engines.create("rapidocr", base).fingerprint()
    assert engines.create("rapidocr", {**base, "threads": 7}).fingerprint() == fp
    assert engines.create("rapidocr", {**base, "dpi": 200}).fingerprint() != fp


def test_missing_package_says_what_to_install(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "rapidocr", None)  # import fails as if not installed
    with pytest.raises(EngineUnavailable, match="pip install rapidocr onnxruntime"):
        engines.create("rapidocr", SETTINGS["rapidocr"]).start()


def test_layout_orders_rows_and_keeps_paragraph_gaps() -> None:
    def box(x: float, y: float, w: float = 50, h: float = 20) -> list[list[float]]:
        return [[x, y], [x + w, y], [x + w, y + h], [x, y + h]]

    boxes = [(box(200, 100), "right", 0.9), (box(10, 102), "left", 0.9),
             (box(10, 130), "next", 0.9), (box(10, 220), "paragraph", 0.9)]
    assert reading_order(from_quads(boxes)) == "left right\nnext\n\nparagraph"


def test_columns_are_read_one_after_the_other() -> None:
    def line(x: float, y: float, text: str, w: float = 250) -> Line:
        return Line(x, y, x + w, y + 18, text)

    title = [line(60, 40, "Harbour report 1907", w = 520)]
    left = [line(60, 100 + 24 * n, f"left{n}") for n in range(8)]
    right = [line(340, 100 + 24 * n, f"right{n}") for n in range(8)]
    footer = [line(60, 400, "A note across the page at the bottom", w=520)]
    lines = [*right, *footer, *left, *title]  # the engine's order is no reading order
    text = reading_order(lines)
    words = text.split()
    assert words[:3] == ["Harbour", "report", "1907"]
    assert words[3:11] == [f"left{n}" for n in range(8)]
    assert words[11:19] == [f"right{n}" for n in range(8)]
    assert text.endswith("A note across the page at the bottom")
    # A table's two short columns on few rows, or one column, stay rows.
    assert reading_order([line(60, 100, "Name"), line(340, 100, "Value"),
                          line(60, 124, "Crane"), line(340, 124, "4")]) == "Name Value\nCrane 4"


def test_rapidocr_reads_a_two_column_scan_column_by_column(tmp_path: Path) -> None:

    import pypdfium2 as pdfium

    data, expected = pdfs.two_column_pdf()
    rendered = pdfium.PdfDocument(data)[0].render(scale=150 / 72, grayscale=True)
    path = pdfs.write(tmp_path / "columns.pdf", pdfs.image_pdf([rendered.to_pil()]))
    engine = engines.create("rapidocr", SETTINGS["rapidocr"])
    scan = PageInput("h", 1, str(path))
    scan.image = render_page(RenderTask(scan, engine.render_spec))
    _close_open_document()  # render_page keeps its last PDF open in a worker; here, in the test
    engine.start()
    text = engine.recognize(scan).text
    engine.close()
    assert Levenshtein.normalized_distance(" ".join(text.split()),
                                           " ".join(expected.split())) < 0.05, text
