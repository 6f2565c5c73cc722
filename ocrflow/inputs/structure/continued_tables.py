"""A table continued in the next column of the page: whether a table is one's next part, and
the two parts joined into one table."""

from __future__ import annotations

from ocrflow.inputs.structure.tables import Cell, Table


def continues(first: Table, second: Table) -> bool:
    """A table's part in the next column: as many columns, and set beside it in the order
    columns are read (a right-to-left page's next column is to the left)."""
    beside = second.box[2] <= first.box[0] if first.rtl else second.box[0] >= first.box[2]
    return first.cols == second.cols and first.rtl == second.rtl and beside


def join(first: Table, second: Table) -> Table:
    """The second part's rows after the first's; its heading dropped when it repeats the
    first's."""
    def texts(table: Table, row: int) -> list[str]:
        return [c.text for c in sorted(table.cells, key=lambda c: c.col) if c.row == row]

    skip = second.heading_rows if all(
        texts(first, r) == texts(second, r) for r in range(first.heading_rows)) else 0
    cells = [*first.cells]
    for cell in second.cells:
        if cell.row >= skip:
            cells.append(Cell(cell.row - skip + first.rows, cell.col, cell.rowspan,
                              cell.colspan, cell.box, cell.text, cell.chars))
    return Table(cells, first.box, first.ruled, first.rows + second.rows - skip, first.cols,
                 first.rtl, first.heading_rows, first.members | second.members)
