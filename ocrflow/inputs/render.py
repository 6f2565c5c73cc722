"""Page rendering in memory with pypdfium2, pixel-capped, for the engines' image inputs.

``render_page`` runs inside an isolated worker (see isolation.py): a page that hangs or crashes
PDFium, or needs more memory than the worker may use, costs only that page.
"""

from __future__ import annotations

import atexit
import contextlib
import importlib
import io
import math
from dataclasses import dataclass
from typing import Any

from ocrflow.core.records import PageInput, RenderedPage  # data below: records never imports render
from ocrflow.inputs.isolation import MemoryLimit, TooLarge, current_limit


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


# Share of a worker's memory limit one decoded image may take: the rest is the worker's own
# (~40 MB) and the rendering (measured: a 1.5 GB image peaked 35 MB above its decoded size).
IMAGE_SHARE = 0.8


def _px_size(image: Any) -> tuple[int, int]:
    return image.get_px_size() if hasattr(image, "get_px_size") else image.get_size()  # v4


def _bits_per_pixel(image: Any) -> int:
    import pypdfium2 as pdfium

    try:
        return int(image.get_metadata().bits_per_pixel) or 8
    except pdfium.PdfiumError:
        return 32  # unknown: the most a decoded pixel takes


def oversized_image(page: Any, max_pixels: int | None, limit: MemoryLimit | None) -> str:
    """Why an image of the page must not be decoded ('' when none is too large): more pixels
    than ``max_pixels``, or too big once decoded for the worker's memory ``limit``. Read from the
    images' headers, nothing decoded. PDFium decodes a whole image to draw it, even at 36 dpi
    (measured: 40000 x 40000 grey, 1.5 GB, 6-14 s); under a limit it skips an image that does
    not fit and draws the page without it, silently."""
    import pypdfium2.raw as pdfium_c

    for image in page.get_objects(filter=(pdfium_c.FPDF_PAGEOBJ_IMAGE,), max_depth=8):
        width, height = _px_size(image)
        if max_pixels and width * height > max_pixels:
            return (f"too large: an image of {width} x {height} pixels "
                    f"(inventory.max_image_pixels {max_pixels})")
        if limit is not None:
            decoded_mb = width * height * _bits_per_pixel(image) / 8 / 2**20
            if decoded_mb > IMAGE_SHARE * limit.worker_mb:
                return (f"too large: an image of {width} x {height} pixels takes "
                        f"{decoded_mb:.0f} MB decoded; a worker may use {limit.describe()}")
    return ""


def preload(spec: RenderSpec) -> tuple[str, ...]:
    """What a render worker imports before its memory limit applies (see isolation.py)."""
    fit = (spec.fit.split(":")[0],) if spec.fit else ()
    return ("numpy", "pypdfium2", "PIL.Image", *fit)


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
        problem = oversized_image(page, None, current_limit())
        if problem:
            raise TooLarge(problem)
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
