"""A born-digital page read as structure: tables, headings, lists and paragraphs, in the order
the text layer draws them (which is the reading order the layer's own text trusts: columns one
after the other), from pdfium's characters as the inventory reads them.

A page with none of these keeps the inventory's reading of its layer unchanged.
"""

from __future__ import annotations

import atexit
import ctypes
import logging
import math
import os
import re
from dataclasses import dataclass, field
from typing import Any

from ocrflow.inputs.logical_order import line_text
from ocrflow.inputs.page_glyphs import Char, line_glyphs, page_chars, page_lines, visual_order
from ocrflow.inputs.structure.blocks import TextLine, body_size, heading_sizes, markdown, text_line
from ocrflow.inputs.structure.continued_tables import continues, join
from ocrflow.inputs.structure.ruled_tables import fill, framed_rows, overhangs, ruled_tables
from ocrflow.inputs.structure.table_headings import mark_headings
from ocrflow.inputs.structure.tables import Box, Edge, Table, inside, to_html
from ocrflow.inputs.structure.unruled_tables import unruled_tables
from ocrflow.inputs.structure.visual_rows import visual_rows
from ocrflow.inputs.text_layer import clean_text_layer, fold_presentation_forms, has_rtl

log = logging.getLogger(__name__)

RULED_PATHS = 2  # rules each way below this: no ruled table to look for (pdfplumber costs)
FILLED = 0.4  # a ruled grid with fewer cells filled is a drawing (a figure's grid and labels)
GRID_CELLS = 6  # a ruled grid of this many cells that gave no table: its text is not in the layer
LONG = 8.0  # points: a ruling edge this long counts (shorter: a tick, a glyph's stroke)
STRAIGHT = 0.5  # points: a stroke this far off the horizontal or the vertical is straight
MAX_SEGMENTS = 2000  # a path of more is a drawing: its points are not read
PAGE_SEGMENTS = 50_000  # path points read on a page at most (a map, a chart of many paths)
PICTURE_SHARE = 0.25  # a picture covering this share of the page may be a table's picture...
UNDER_PICTURE = 0.2  # ...unless this share of the text lies over it (a scan and its OCR layer)
UPRIGHT_SAMPLE = 100  # letters looked at for the text's direction
UPRIGHT_ANGLE = 0.1  # radians
BOLD_WEIGHT = 600
SMALL_SIZE = 4.0  # points: a font size below this is no text size but a scaled 1 pt font
_BOLD_NAME = re.compile("bold|black|heavy|semibold|demi", re.IGNORECASE)
_BLANK_LINES = re.compile(r"\n{3,}")


@dataclass
class PageStructure:
    markdown: str  # the page: headings, lists, paragraphs, tables as HTML, in reading order
    tables: int = 0  # tables written
    unresolved: str = ""  # why the text layer cannot give this page's structure ("" when it can)


Matrix = tuple[float, float, float, float, float, float]
_IDENTITY: Matrix = (1.0, 0.0, 0.0, 1.0, 0.0, 0.0)


@dataclass
class _Drawing:
    edges: list[Edge] = field(default_factory=list)
    pictures: list[tuple[float, float, float, float]] = field(default_factory=list)

    def count(self, horizontal: bool) -> int:
        return sum(1 for e in self.edges
                   if e.horizontal == horizontal and max(e.x1 - e.x0, e.y1 - e.y0) >= LONG)

    @property
    def ruled(self) -> bool:
        """Rules both ways: cells to look for (pdfplumber's lines strategy needs both)."""
        return min(self.count(True), self.count(False)) >= RULED_PATHS


def _then(inner: Matrix, outer: Matrix) -> Matrix:
    """``inner`` then ``outer`` (PDF matrices, row vectors)."""
    a, b, c, d, e, f = inner
    a2, b2, c2, d2, e2, f2 = outer
    return (a * a2 + b * c2, a * b2 + b * d2, c * a2 + d * c2, c * b2 + d * d2,
            e * a2 + f * c2 + e2, e * b2 + f * d2 + f2)


def _matrix(obj: Any) -> Matrix:
    import pypdfium2.raw as pdfium_c

    m = pdfium_c.FS_MATRIX()
    if not pdfium_c.FPDFPageObj_GetMatrix(obj.raw, ctypes.byref(m)):
        return _IDENTITY
    return (m.a, m.b, m.c, m.d, m.e, m.f)


def _path_edges(obj: Any, matrix: Matrix) -> list[Edge]:
    """The path's straight horizontal and vertical strokes (a rectangle's four sides, the
    closing side included), in page space; curves are none."""
    import pypdfium2.raw as pdfium_c

    raw, edges = obj.raw, []
    count = pdfium_c.FPDFPath_CountSegments(raw)
    if count > MAX_SEGMENTS:  # a drawing, not rules: not worth reading point by point
        return []
    a, b, c, d, e, f = matrix
    x, y = ctypes.c_float(), ctypes.c_float()
    start = last = None
    for index in range(count):
        segment = pdfium_c.FPDFPath_GetPathSegment(raw, index)
        pdfium_c.FPDFPathSegment_GetPoint(segment, x, y)
        point = (a * x.value + c * y.value + e, b * x.value + d * y.value + f)
        kind = pdfium_c.FPDFPathSegment_GetType(segment)
        if kind == pdfium_c.FPDF_SEGMENT_LINETO and last is not None:
            edges.append((last, point))
        if kind == pdfium_c.FPDF_SEGMENT_MOVETO:
            start = point
        if pdfium_c.FPDFPathSegment_GetClose(segment) and start is not None:
            edges.append((point, start))
        last = point
    found = []
    for (x0, y0), (x1, y1) in edges:
        x0, x1, y0, y1 = min(x0, x1), max(x0, x1), min(y0, y1), max(y0, y1)
        if (y1 - y0 <= STRAIGHT or x1 - x0 <= STRAIGHT) and max(x1 - x0, y1 - y0) >= 1:
            found.append(Edge(x0, y0, x1, y1))
    return found


def _drawing(page: Any) -> _Drawing:
    """The page's ruling edges and its pictures (a picture inside a form with the form's
    bounds, since pdfium gives nested bounds in the form's space)."""
    import pypdfium2.raw as pdfium_c

    drawing = _Drawing()
    forms: dict[int, Matrix] = {}  # level -> the form's matrix to page space
    form, segments = None, 0
    for obj in page.get_objects(max_depth=8):
        outer = forms.get(obj.level - 1, _IDENTITY) if obj.level else _IDENTITY
        if obj.level == 0:
            form = obj if obj.type == pdfium_c.FPDF_PAGEOBJ_FORM else None
        if obj.type == pdfium_c.FPDF_PAGEOBJ_FORM:
            forms[obj.level] = _then(_matrix(obj), outer)
        elif obj.type == pdfium_c.FPDF_PAGEOBJ_PATH:
            if segments < PAGE_SEGMENTS:
                segments += pdfium_c.FPDFPath_CountSegments(obj.raw)
                drawing.edges += _path_edges(obj, _then(_matrix(obj), outer))
        elif obj.type == pdfium_c.FPDF_PAGEOBJ_IMAGE:
            if obj.level == 0:
                drawing.pictures.append(obj.get_bounds())
            elif form is not None:
                drawing.pictures.append(form.get_bounds())
                form = None
    return drawing


def _bold_tests(textpage: Any) -> tuple[Any, Any]:
    """Whether most letters of some characters (of a line) are bold: pdfium's font weight,
    else the font's name (many fonts carry no weight)."""
    import pypdfium2.raw as pdfium_c

    buffer = ctypes.create_string_buffer(128)
    flags = ctypes.c_int()

    def bold_char(char: Char) -> bool:
        if pdfium_c.FPDFText_GetFontWeight(textpage.raw, char.index) >= BOLD_WEIGHT:
            return True
        pdfium_c.FPDFText_GetFontInfo(textpage.raw, char.index, buffer, 128, flags)
        return bool(_BOLD_NAME.search(buffer.value.decode("latin-1")))

    def bold(chars: list[Char]) -> bool:
        letters = [c for c in chars if c.text.isalpha()]
        return bool(letters) and sum(map(bold_char, letters)) * 2 > len(letters)

    return bold, lambda line: bold(line.chars)


def _true_sizes(textpage: Any, chars: list[Char]) -> None:
    """Font sizes as set on the page: a producer that sets a 1 pt font and scales it by the
    text matrix leaves pdfium's size at 1 (every gap would look like a gutter)."""
    import pypdfium2.raw as pdfium_c

    matrix = pdfium_c.FS_MATRIX()
    for char in chars:
        if char.size < SMALL_SIZE and \
                pdfium_c.FPDFText_GetMatrix(textpage.raw, char.index, ctypes.byref(matrix)):
            char.size *= abs(matrix.a * matrix.d - matrix.b * matrix.c) ** 0.5 or 1.0


def _upright(textpage: Any, chars: list[Char]) -> bool:
    """Whether most of the text reads horizontally: rows, columns and indents are measured
    so (a page turned on its side keeps its layer's reading)."""
    import pypdfium2.raw as pdfium_c

    letters = [c for c in chars if c.text.isalnum()]
    sample = letters[:: max(1, len(letters) // UPRIGHT_SAMPLE)]
    level = 0
    for char in sample:
        angle = pdfium_c.FPDFText_GetCharAngle(textpage.raw, char.index)
        level += min(angle, 2 * math.pi - angle) < UPRIGHT_ANGLE
    return level * 2 > len(sample)


def _picture_problem(drawing: _Drawing, chars: list[Char], area: float) -> str:
    ink = [c for c in chars if not c.text.isspace()]
    for left, bottom, right, top in drawing.pictures:
        if (right - left) * (top - bottom) < PICTURE_SHARE * area:
            continue
        over = sum(1 for c in ink if inside(c, (left, bottom, right, top)))
        if over <= UNDER_PICTURE * len(ink):
            return "picture on a text page"
    return ""


def _tables(chars: list[Char], drawing: _Drawing) -> tuple[list[Table], str]:
    """The page's tables, and why a ruled grid gave none ("" when every grid did)."""
    grids = [fill(t, chars) for t in ruled_tables(drawing.edges)] \
        if drawing.ruled else []
    found = [t for t in grids if t.filled() >= max(2, FILLED * len(t.cells))
             and not framed_rows(t) and not overhangs(t, chars)]
    rest = [c for c in chars if not any(inside(c, t.box) for t in found)]
    rules = [e for e in _joined(e for e in drawing.edges if e.horizontal) if e.x1 - e.x0 >= LONG]
    found += unruled_tables(visual_rows(rest), rules)
    unresolved = any(t.drawn >= GRID_CELLS and not any(_overlap(t.box, f.box)
                                                               for f in found)
                     for t in grids)
    return found, "ruled grid without cells" if unresolved else ""


def _joined(edges: Any) -> list[Edge]:
    """Horizontal edges end to end on one line as one rule (a rule drawn cell by cell)."""
    out: list[Edge] = []
    for edge in sorted(edges, key=lambda e: (round(e.y0), e.x0)):
        last = out[-1] if out else None
        if last is not None and round(last.y0) == round(edge.y0) and edge.x0 <= last.x1 + 1:
            out[-1] = Edge(last.x0, last.y0, max(last.x1, edge.x1), last.y1)
        else:
            out.append(edge)
    return out


def _overlap(a: Box, b: Box) -> bool:
    return a[0] < b[2] and b[0] < a[2] and a[1] < b[3] and b[1] < a[3]


def _line_text(chars: list[Char]) -> str:
    text = "".join(c.text for c in chars)
    if has_rtl(text):  # as positioned_text reads it
        text = line_text(visual_order(line_glyphs(chars)))
    return text.strip()


def _compose(chars: list[Char], tables: list[Table], bold: Any) -> tuple[str, int]:
    """The page in pdfium's order: its lines, each table where its first character comes."""
    items: list[TextLine | Table] = []
    written: set[int] = set()
    for line in page_lines(chars):
        rest = []
        for char in line:
            # spaces stay with the text: pdfium's own have no real box
            owner = None if char.text.isspace() else next(
                (i for i, t in enumerate(tables) if t.owns(char)), None)
            if owner is None:
                rest.append(char)
            elif owner not in written:
                written.add(owner)
                items.append(tables[owner])
        text = _line_text(rest)
        if text:
            items.append(text_line(rest, text, has_rtl(text) and _mostly_rtl(text)))
    items += [t for i, t in enumerate(tables) if i not in written]
    for k in range(len(items) - 1, 0, -1):  # a table across a column break: one table
        first, second = items[k - 1], items[k]
        if isinstance(first, Table) and isinstance(second, Table) and \
                continues(first, second):
            items[k - 1:k + 1] = [join(first, second)]
    lines = [item for item in items if isinstance(item, TextLine)]
    body = body_size(lines)
    sizes = heading_sizes(lines, body)
    parts: list[str] = []
    run: list[TextLine] = []
    structured = 0

    def flush() -> None:
        nonlocal structured
        if run:
            blocks = markdown(run, body, sizes, bold)
            structured += blocks.headings + blocks.items
            parts.append(blocks.markdown)
            run.clear()

    for item in items:
        if isinstance(item, TextLine):
            run.append(item)
            continue
        flush()
        parts.append("\n" + to_html(item) + "\n")
    flush()
    return "\n".join(parts), structured + len(tables)


def _mostly_rtl(text: str) -> bool:
    letters = [c for c in text if c.isalpha()]
    return sum(1 for c in letters if has_rtl(c)) * 2 > len(letters)


def read_page(pdf_path: str, page: int, layer_text: str) -> PageStructure:
    """Page ``page`` (1-based) of a born-digital PDF as Markdown with its structure;
    ``layer_text`` (the inventory's reading of the layer) when it has none, or when the page
    cannot be read as structure (pdfium and pdfplumber raise anything from a broken PDF)."""
    try:
        return _read_page(pdf_path, page, layer_text)
    except Exception as exc:
        log.warning("%s page %d: structure not read (%s: %s)", pdf_path, page,
                    type(exc).__name__, exc)
        return PageStructure(layer_text)


class _Documents:
    """The last document read stays open: pages come document by document, and opening a
    long PDF for each of its pages costs more than reading a page."""

    def __init__(self) -> None:
        self.key: tuple[str, float, int] | None = None
        self.pdf: Any = None

    def open(self, path: str) -> Any:
        import pypdfium2 as pdfium

        stat = os.stat(path)
        key = (path, stat.st_mtime, stat.st_size)
        if key != self.key:
            self.close()
            self.pdf, self.key = pdfium.PdfDocument(path), key
        return self.pdf

    def close(self) -> None:
        if self.pdf is not None:
            self.pdf.close()
        self.pdf = self.key = None


_documents = _Documents()
atexit.register(_documents.close)  # pdfium warns of a document left open at exit


def _read_page(pdf_path: str, page: int, layer_text: str) -> PageStructure:
    try:
        pdf_page = _documents.open(pdf_path)[page - 1]
    except Exception:
        _documents.close()  # never keep a document that failed
        raise
    textpage = pdf_page.get_textpage()
    try:
        chars = page_chars(textpage)
        _true_sizes(textpage, chars)
        if not any(not c.text.isspace() for c in chars) or not _upright(textpage, chars):
            return PageStructure(layer_text)
        drawing = _drawing(pdf_page)
        width, height = pdf_page.get_size()
        bold_chars, bold_line = _bold_tests(textpage)
        tables, no_cells = _tables(chars, drawing)
        tables = [mark_headings(t, bold_chars) for t in tables]
        unresolved = _picture_problem(drawing, chars, width * height) or no_cells
        text, structured = _compose(chars, tables, bold_line)
    finally:
        textpage.close()
        pdf_page.close()
    if not structured:
        return PageStructure(layer_text, 0, unresolved)
    # a word hyphenated at a line's end reads on into the next line, as pdfium's own text has it
    text = fold_presentation_forms(clean_text_layer(text.replace("\x02\n", "")))
    text = _BLANK_LINES.sub("\n\n", "\n".join(line.rstrip() for line in text.split("\n")))
    return PageStructure(text.strip(), len(tables), unresolved)
