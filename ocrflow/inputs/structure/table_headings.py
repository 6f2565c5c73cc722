"""Which of a table's rows are its headings (written as <th>), and the heading cells that
span the empty ones under them."""

from __future__ import annotations

from collections.abc import Callable

from ocrflow.inputs.page_glyphs import Char
from ocrflow.inputs.structure.cell_text import is_numeric
from ocrflow.inputs.structure.tables import Table

MAX_HEADING_ROWS = 3  # rows above the first row of numbers that are headings, at most


def mark_headings(table: Table, bold: Callable[[list[Char]], bool]) -> Table:
    """Heading rows: those the first row's cells span down (a heading on two levels), or the
    leading rows set in bold (never all rows). In an unruled table, a heading cell takes the
    empty heading cells under it (a heading beside a two-level one spans both levels)."""
    spanned = max((c.rowspan for c in table.cells if c.row == 0), default=1)
    bold_rows = 0
    for r in range(table.rows - 1):
        cells = [c for c in table.cells if c.row == r and c.text]
        if not cells or not all(bold(c.chars) for c in cells):
            break
        bold_rows += 1
    table.heading_rows = max(1, spanned, bold_rows, _above_numbers(table))
    if not table.ruled:
        _span_headings(table)
    return table


def _above_numbers(table: Table) -> int:
    """The rows above an unruled table's first row of numbers, when it has numbers and there
    are few (a heading of several levels): its headings."""
    if table.ruled:
        return 0
    first = min((c.row for c in table.cells if is_numeric(c.text)), default=0)
    return first if first <= MAX_HEADING_ROWS else 0


def _span_headings(table: Table) -> None:
    at = {(c.row, c.col): c for c in table.cells}
    for cell in sorted(table.cells, key=lambda c: c.row):
        if not cell.text or cell.row >= table.heading_rows:
            continue
        below = at.get((cell.row + cell.rowspan, cell.col))
        while below is not None and not below.text and below.colspan == cell.colspan \
                and below.row < table.heading_rows and below in table.cells:
            table.cells.remove(below)
            cell.rowspan += 1
            below = at.get((cell.row + cell.rowspan, cell.col))
