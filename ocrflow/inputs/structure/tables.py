"""Tables of a page: the model every finder fills (``Table``, its ``Cell``s, the ``Edge``s of
the page's drawing) and the one writer of tables, ``to_html``.

Born-digital pages: ``ruled_tables`` (cells the rules draw) and ``unruled_tables`` (aligned
gutters), their headings marked by ``table_headings``, a table continued in the next column
joined by ``continued_tables``. Scanned pages: ``grid``.

Coordinates: pdfium's page space throughout (x right, y up).
"""

from __future__ import annotations

import html
from dataclasses import dataclass, field
from typing import Any

from ocrflow.inputs.page_glyphs import Char

Box = tuple[float, float, float, float]  # left, bottom, right, top (pdfium page space)


@dataclass(frozen=True)
class Edge:
    """A horizontal or vertical stretch of a ruling line or a rectangle's side."""

    x0: float
    y0: float
    x1: float
    y1: float

    @property
    def horizontal(self) -> bool:
        return self.y1 - self.y0 < self.x1 - self.x0

    def plumber(self) -> dict[str, Any]:
        """As pdfplumber's table finder takes an edge: y down (top = -y)."""
        return {"x0": self.x0, "x1": self.x1, "top": -self.y1, "bottom": -self.y0,
                "width": self.x1 - self.x0, "height": self.y1 - self.y0,
                "orientation": "h" if self.horizontal else "v"}


@dataclass
class Cell:
    row: int
    col: int
    rowspan: int = 1
    colspan: int = 1
    box: Box = (0.0, 0.0, 0.0, 0.0)
    text: str = ""
    chars: list[Char] = field(default_factory=list, repr=False)


@dataclass
class Table:
    cells: list[Cell]
    box: Box
    ruled: bool
    rows: int = 0
    cols: int = 0
    rtl: bool = False
    heading_rows: int = 1  # rows written as <th>
    members: set[int] = field(default_factory=set, repr=False)  # unruled: its characters
    xs: list[float] = field(default_factory=list, repr=False)  # ruled: the grid's lines
    ys: list[float] = field(default_factory=list, repr=False)  # top first
    drawn: int = 0  # ruled: the cells its rules close (others: slots left open between them)

    def owns(self, char: Char) -> bool:
        """A ruled table owns what its box holds; an unruled one the characters of its rows
        (a line inside its box that is no row stays text)."""
        return char.index in self.members if self.members else inside(char, self.box)

    def filled(self) -> int:
        return sum(1 for cell in self.cells if cell.text)


def inside(char: Char, box: Box) -> bool:
    x = (char.box[0] + char.box[2]) / 2
    y = (char.box[1] + char.box[3]) / 2
    return box[0] <= x <= box[2] and box[1] <= y <= box[3]


def _cell_html(cell: Cell, tag: str) -> str:
    """A cell's lines joined by <br> (a scanned cell read as lines keeps them)."""
    spans = "".join(f' {name}="{n}"' for name, n in (("rowspan", cell.rowspan),
                                                        ("colspan", cell.colspan)) if n > 1)
    text = "<br>".join(html.escape(line, quote=False) for line in cell.text.splitlines()
                       if line.strip())
    return f"<{tag}{spans}>{text}</{tag}>"


def to_html(table: Table) -> str:
    """The table as Chandra writes one: a row per <tr>, heading cells <th>; a right-to-left
    table with ``dir="rtl"`` and its columns in reading order (the rightmost first)."""
    cols = max((c.col + c.colspan for c in table.cells), default=0)
    rows: dict[int, list[Cell]] = {}
    for cell in table.cells:
        rows.setdefault(cell.row, []).append(cell)
    out = ['<table dir="rtl">' if table.rtl else "<table>"]
    for r in sorted(rows):
        def order(cell: Cell) -> int:
            return cols - cell.col - cell.colspan if table.rtl else cell.col
        tag = "th" if r < table.heading_rows else "td"
        out.append("<tr>" + "".join(_cell_html(c, tag) for c in sorted(rows[r], key=order))
                   + "</tr>")
    out.append("</table>")
    return "\n".join(out)
