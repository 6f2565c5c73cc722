"""The CPU engines read real pages; a missing engine package is one clear line."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest
import yaml
from rapidfuzz.distance import Levenshtein

from ocrflow import engines
from ocrflow.engines import EngineUnavailable, PageInput
from ocrflow.engines.rapidocr import layout_text
from ocrflow.render import RenderTask, render_page
from tests import pdfs
from tests.conftest import REPO

SETTINGS = yaml.safe_load((REPO / "config/config.yaml").read_text())["engines"]
TEXT = "Le présent arrêté sera publié au Bulletin officiel.\nFait à Rabat, le 12 février 2024."


def test_rapidocr_reads_an_image_only_page(tmp_path: Path) -> None:
    path = pdfs.write(tmp_path / "scan.pdf", pdfs.scanned_pdf([TEXT]))
    engine = engines.create("rapidocr", SETTINGS["rapidocr"])
    page = PageInput("h", 1, str(path))
    page.image = render_page(RenderTask(None, str(path), 1, engine.render_spec))
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
    assert layout_text(boxes) == "left right\nnext\n\nparagraph"
