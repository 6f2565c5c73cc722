"""Page rendering in memory with pypdfium2, pixel-capped, for the engines' image inputs.

``render_page`` runs inside an isolated worker (see isolation.py): a page that hangs or crashes
PDFium costs only that page.
"""

from __future__ import annotations

import atexit
import contextlib
import importlib
import io
import math
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from ocrflow.records import PageInput


@dataclass(frozen=True)
class RenderSpec:
    """How an engine wants its pages: resolution, a pixel cap, colour, and encoding."""

    dpi: float
    max_pixels: int
    grayscale: bool = False
    encoding: str = "raw"  # "raw" (pixel buffer), "png" or "jpeg"
    min_short_side: int = 0  # raise the resolution until the page's short side has this many px
    grid: int = 0  # pad with white to a multiple of this many px (keeps `fit` from resampling)
    fit: str = ""  # "module:function" applied to the PIL image last (an engine's own resizing)
    jpeg_quality: int = 95


@dataclass(frozen=True)
class RenderTask:
    page: PageInput
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

        if self.encoding in ("png", "jpeg"):
            return Image.open(io.BytesIO(self.data))
        size = (self.width, self.height)
        return Image.frombuffer(self.mode, size, self.data, "raw", self.mode, 0, 1)


def render_scale(width_pt: float, height_pt: float, dpi: float, max_pixels: int,
                 min_short_side: int = 0) -> float:
    """PDF points to pixels: ``dpi`` (raised to reach ``min_short_side``), lowered so that the
    page never exceeds ``max_pixels``."""
    scale = dpi / 72
    if min_short_side and min(width_pt, height_pt) > 0:
        scale = max(scale, min_short_side / min(width_pt, height_pt))
    pixels = width_pt * scale * height_pt * scale
    if pixels > max_pixels:
        scale *= math.sqrt(max_pixels / pixels)
    return scale


def pad_to_grid(image: Any, grid: int) -> Any:
    """White margins up to the next multiple of ``grid``: far cheaper than resampling."""
    from PIL import Image

    width = -(-image.width // grid) * grid
    height = -(-image.height // grid) * grid
    if (width, height) == image.size:
        return image
    padded = Image.new(image.mode, (width, height), 255 if image.mode == "L" else "white")
    padded.paste(image, (0, 0))
    return padded


_open: dict[str, Any] = {}


@atexit.register
def _close_open_document() -> None:
    for document in _open.values():
        document.close()
    _open.clear()


def _document(path: str) -> Any:
    """The worker keeps its last PDF open: consecutive pages of one document are the norm."""
    import pypdfium2 as pdfium

    if path not in _open:
        for old in _open.values():
            old.close()
        _open.clear()
        document = pdfium.PdfDocument(path)
        with contextlib.suppress(pdfium.PdfiumError):  # forms that cannot load: pages still can
            document.init_forms()  # filled form fields are drawn only once forms are initialised
        _open[path] = document
    return _open[path]


def render_page(task: RenderTask) -> RenderedPage:
    pdf = _document(task.page.source_path)
    page = pdf[task.page.page - 1]
    try:
        width, height = page.get_size()
        grid = task.spec.grid
        # Room for the padding to the grid, so the padded page stays under the pixel cap.
        budget = task.spec.max_pixels
        if grid:
            budget = int(budget * (1 - 2 * grid / math.sqrt(max(budget, 1))))
        scale = render_scale(width, height, task.spec.dpi, budget, task.spec.min_short_side)
        bitmap = page.render(scale=scale, grayscale=task.spec.grayscale)
        image = bitmap.to_pil()
    finally:
        page.close()
    image = image.convert("L" if task.spec.grayscale else "RGB")
    if task.spec.grid:
        image = pad_to_grid(image, task.spec.grid)
    if task.spec.fit:
        module, function = task.spec.fit.split(":")
        image = getattr(importlib.import_module(module), function)(image)
    if task.spec.encoding in ("png", "jpeg"):
        out = io.BytesIO()
        if task.spec.encoding == "png":
            image.save(out, format="PNG", compress_level=1)
        else:
            image.save(out, format="JPEG", quality=task.spec.jpeg_quality)
        return RenderedPage(image.width, image.height, image.mode, task.spec.encoding,
                            out.getvalue())
    return RenderedPage(image.width, image.height, image.mode, "raw", image.tobytes())
