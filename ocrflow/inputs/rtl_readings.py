"""A text layer with right-to-left text, read in logical order (the order it is typed and read).

PDFs draw glyphs where they appear on the page, left to right; which order the characters come
out in depends on the producer and the extractor. pdfium reverses each right-to-left text
object, which is right for most producers but reads some (the Arabic words of a mixed French
line, a writer that draws glyph by glyph in logical order) backwards; pypdf follows the content
stream and loses spaces. So a page with right-to-left characters gets several readings, and the
trust signals choose between them in the parent process (``inventory.judge_text_layers``):

- ``lines``: pdfium's characters put in the order the page shows them (their pen positions),
  line by line, then turned into logical order (``logical_order``);
- ``pdfium``: pdfium's own text;
- ``pypdf``: pypdf's text.

Pages without right-to-left characters keep pdfium's text and cost nothing more.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from ocrflow.inputs.logical_order import line_text, paragraph_directions
from ocrflow.inputs.page_glyphs import line_glyphs, page_chars, page_lines, visual_order
from ocrflow.inputs.text_layer import LayerReading, fold_presentation_forms, has_rtl

_HYPHEN = "\x02"  # pdfium's mark of a hyphen that ends a line inside a word


def positioned_text(textpage: Any) -> str:
    """pdfium's characters, each line in logical order as its glyphs' positions say; lines
    without right-to-left characters as pdfium gives them."""
    parts = []
    lines = page_lines(page_chars(textpage))
    for line, paragraph in zip(lines, paragraph_directions(lines), strict=True):
        text = "".join(char.text for char in line)
        if has_rtl(text):
            text = line_text(visual_order(line_glyphs(line)), paragraph).replace(_HYPHEN, "")
        # pdfium ends a line hyphenated at its end with its hyphen mark and no line break
        # (the inventory joins the word): a line split off at the baseline keeps that
        parts += [text, _HYPHEN if line[-1].text == _HYPHEN else "\n"]
    return "".join(parts[:-1])


# --- the other readings, and the page's set ---------------------------------------------------


def readings(textpage: Any, pdfium_text: str, pypdf_text: Callable[[], str | None],
             clean: Callable[[str], str]) -> list[LayerReading]:
    """The readings of a page with right-to-left text, best guess first (``lines``: the one a
    tie goes to); ``clean``: the inventory's cleaning of a layer's text."""
    found = [LayerReading("lines", positioned_text(textpage)),
             LayerReading("pdfium", pdfium_text)]
    other = pypdf_text()
    if other is not None:
        found.append(LayerReading("pypdf", other))
    result, seen = [], set()
    for reading in found:
        text = fold_presentation_forms(clean(reading.text))
        if text not in seen:
            seen.add(text)
            result.append(LayerReading(reading.source, text))
    return result
