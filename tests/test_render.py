"""Rendering respects the pixel cap, whatever the page size."""

from __future__ import annotations

from pathlib import Path

from ocrflow.core.records import PageInput
from ocrflow.inputs.render import RenderSpec, RenderTask, render_page, render_scale
from tests.support import pdfs


def test_scale_is_capped() -> None:
    assert render_scale(595, 842, 144, 10**9) == 2.0
    scale = render_scale(14000, 14000, 150, 12_000_000)
    assert (14000 * scale) ** 2 <= 12_000_000 * 1.0001


def test_big_page_renders_under_the_cap(tmp_path: Path) -> None:
    path = pdfs.write(tmp_path / "big.pdf", pdfs.text_pdf(["poster"], size=(14000, 14000)))
    spec = RenderSpec(dpi=150, max_pixels=4_000_000, grayscale=True)
    page = render_page(RenderTask(PageInput("h", 1, str(path)), spec))
    assert page.width * page.height <= 4_000_000
    assert page.to_pil().size == (page.width, page.height)


def test_png_encoding_round_trips(tmp_path: Path) -> None:
    path = pdfs.write(tmp_path / "a.pdf", pdfs.text_pdf(["hello"]))
    page = render_page(RenderTask(PageInput("h", 1, str(path)),
                                    RenderSpec(72, 10**7, encoding="png")))
    assert page.data[:4] == b"\x89PNG" and page.to_pil().size == (595, 842)
