"""A table cell's text from pdfium's characters, read as the inventory reads the page, so a
cell with right-to-left letters comes out in logical order by the same code (``logical_order``).
"""

from __future__ import annotations

from ocrflow.inputs.logical_order import visual_to_logical
from ocrflow.inputs.page_glyphs import SAME_BASELINE, Char, line_glyphs, visual_order
from ocrflow.inputs.text_layer import fold_presentation_forms
from ocrflow.text.scripts import is_right_to_left


def baseline_groups(chars: list[Char]) -> list[list[Char]]:
    """Characters grouped by baseline, top to bottom, each group in pdfium's order."""
    groups: list[list[Char]] = []
    for char in sorted(chars, key=lambda c: -c.y):
        if groups and abs(groups[-1][0].y - char.y) <= SAME_BASELINE * max(char.size, 1.0):
            groups[-1].append(char)
        else:
            groups.append([char])
    return [sorted(group, key=lambda c: c.index) for group in groups]


def line_of(chars: list[Char]) -> str:
    """One line's characters in reading (logical) order, spaces where the gaps are; a line
    without right-to-left letters as shown ("2 400" is no right-to-left run)."""
    glyphs = visual_order(line_glyphs(chars))
    if any(is_right_to_left(c.text) for c in chars):
        return visual_to_logical(glyphs)
    return "".join(g.text for g in glyphs).strip()


def cell_text(chars: list[Char]) -> str:
    """A cell's lines, top to bottom, joined by a space (a word broken by pdfium's hyphen
    mark, \\x02, joined back)."""
    text = ""
    for group in baseline_groups([c for c in chars if c.text != "\n"]):
        line = line_of(group)
        if not line:
            continue
        joined = text[:-1] if text.endswith("\x02") else f"{text} " if text else ""
        text = joined + line
    return fold_presentation_forms(text.replace("\x02", "").strip())


def is_numeric(text: str) -> bool:
    """A number as tables print one (a thousands space, a percentage, a range, Arabic
    separators): the first such row ends a table's headings."""
    return bool(text) and all(c.isdigit() or c in " .,%/-+()٫٬" for c in text)
