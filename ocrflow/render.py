"""Page rendering in memory with pypdfium2, pixel-capped, for the engines' image inputs.

``render_page`` runs inside an isolated worker (see isolation.py): a page that hangs or crashes
PDFium costs only that page.
"""

from __future__ import annotations

import io
import math
from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True)
class RenderSpec:
    """How an engine wants its pages: resolution, a pixel cap, colour, and encoding."""

    dpi: float
    max_pixels: int
    grayscale: bool = False
    encoding: str = "raw"  # "raw" (pixel buffer) or "png"


@dataclass(frozen=True)
class RenderTask:
    key: Any
    path: str
    page: int  # 1-based
    spec: RenderSpec


@dataclass(frozen=True)
class RenderedPage:
    width: int
    height: int
    mode: str  # PIL mode of the pixels: "L" or "RGB"
    encoding: str
    data: bytes

    def to_pil(self) -> Any:
        from PIL import Image

        if self.encoding == "png":
            return Image.open(io.BytesIO(self.data))
        size = (self.width, self.height)
        return Image.frombuffer(self.mode, size, self.data, "raw", self.mode, 0, 1)


def render_scale(width_pt: float, height_pt: float, dpi: float, max_pixels: int) -> float:
    """PDF points to pixels: ``dpi``, lowered so that the page never exceeds ``max_pixels``."""
    scale = dpi / 72
    pixels = width_pt * scale * height_pt * scale
    if pixels > max_pixels:
        scale *= math.sqrt(max_pixels / pixels)
    return scale


_open: dict[str, Any] = {}


def _document(path: str) -> Any:
    """The worker keeps its last PDF open: consecutive pages of one document are the norm."""
    import pypdfium2 as pdfium

    if path not in _open:
        for old in _open.values():
            old.close()
        _open.clear()
        _open[path] = pdfium.PdfDocument(path)
    return _open[path]


def render_page(task: RenderTask) -> RenderedPage:
    pdf = _document(task.path)
    page = pdf[task.page - 1]
    try:
        width, height = page.get_size()
        scale = render_scale(width, height, task.spec.dpi, task.spec.max_pixels)
        bitmap = page.render(scale=scale, grayscale=task.spec.grayscale)
        image = bitmap.to_pil()
    finally:
        page.close()
    image = image.convert("L" if task.spec.grayscale else "RGB")
    if task.spec.encoding == "png":
        out = io.BytesIO()
        image.save(out, format="PNG", compress_level=1)
        return RenderedPage(image.width, image.height, image.mode, "png", out.getvalue())
    return RenderedPage(image.width, image.height, image.mode, "raw", image.tobytes())
