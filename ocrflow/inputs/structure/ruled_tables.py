"""Ruled tables of a born-digital page: pdfplumber's TableFinder ("lines" strategy) turns the
page's lines and rectangles into cell boxes; the grid of their distinct edges gives each cell
its row, column and spans, and the characters inside a cell's box its text.

Coordinates: pdfium's page space (x right, y up); pdfplumber's finder gets the edges with y
negated (its y grows downwards) and its boxes are turned back at once.
"""

from __future__ import annotations

import bisect
from collections.abc import Iterable

from ocrflow.inputs.page_glyphs import Char
from ocrflow.inputs.structure.cell_text import cell_text
from ocrflow.inputs.structure.table_direction import reads_right_to_left
from ocrflow.inputs.structure.tables import Box, Cell, Edge, Table, inside
from ocrflow.inputs.structure.unruled_tables import MIN_COLUMNS, MIN_ROWS, SHORT_CELL
from ocrflow.inputs.structure.visual_rows import visual_rows

SNAP = 3.0  # points: pdfplumber's default snap, join and intersection tolerances
MIN_EDGE = 3.0  # points: pdfplumber's default edge_min_length
MAX_EDGES = 5000  # more edges: hatching or a drawing (the finder's work grows as their square)
EDGE_SNAP = 2.0  # points: cell edges closer than this are one grid line (stroke widths)
OVERHANG = 3.0  # font sizes: text this close beside a grid, on its rows, belongs to its rows


def _snap(values: Iterable[float]) -> list[float]:
    """Distinct edges, those closer than EDGE_SNAP merged."""
    out: list[float] = []
    for value in sorted(values):
        if out and value - out[-1] <= EDGE_SNAP:
            continue
        out.append(value)
    return out


def _index(edges: list[float], value: float) -> int:
    return min(range(len(edges)), key=lambda i: abs(edges[i] - value))


def grid_table(boxes: list[Box], ruled: bool = True) -> Table | None:
    """A table from its cells' boxes: rows and columns from the distinct edges, spans from how
    many of them a box covers; grid slots no box covers become empty cells (so every row is
    complete and the neighbours come out right)."""
    xs = _snap(v for b in boxes for v in (b[0], b[2]))
    ys = _snap(v for b in boxes for v in (b[1], b[3]))
    ys.reverse()  # top first
    if len(xs) < MIN_COLUMNS + 1 or len(ys) < 3:
        return None
    cells: list[Cell] = []
    taken: set[tuple[int, int]] = set()
    for box in boxes:
        c0, c1 = _index(xs, box[0]), _index(xs, box[2])
        r0, r1 = _index(ys, box[3]), _index(ys, box[1])
        if c1 <= c0 or r1 <= r0 or any((r, c) in taken for r in range(r0, r1)
                                       for c in range(c0, c1)):
            continue
        taken.update((r, c) for r in range(r0, r1) for c in range(c0, c1))
        cells.append(Cell(r0, c0, r1 - r0, c1 - c0, box))
    drawn = len(cells)
    for r in range(len(ys) - 1):
        for c in range(len(xs) - 1):
            if (r, c) not in taken:
                cells.append(Cell(r, c, box=(xs[c], ys[r + 1], xs[c + 1], ys[r])))
    cells.sort(key=lambda cell: (cell.row, cell.col))
    box = (xs[0], ys[-1], xs[-1], ys[0])
    return Table(cells, box, ruled, len(ys) - 1, len(xs) - 1, xs=xs, ys=ys, drawn=drawn)


def ruled_tables(edges: list[Edge]) -> list[Table]:
    """Tables whose cells the page's ruling lines and rectangles draw, found by pdfplumber's
    TableFinder ("lines" strategy, its default tolerances) on the page's edges as pdfium
    gives them (pdfplumber's own page reading, pdfminer, parses the whole document first:
    seconds on a long one). Cells are empty: ``fill`` reads their text."""
    from pdfplumber.table import (
        cells_to_tables,
        edges_to_intersections,
        intersections_to_cells,
        merge_edges,
    )

    if len(edges) > MAX_EDGES:
        return []
    merged = merge_edges([e.plumber() for e in edges], SNAP, SNAP, SNAP, SNAP)
    merged = [e for e in merged if max(e["width"], e["height"]) >= MIN_EDGE]
    cells = intersections_to_cells(edges_to_intersections(merged, SNAP, SNAP))
    found = []
    for group in cells_to_tables(cells):
        # pdfplumber's boxes are (x0, top, x1, bottom) with y down: top = -y here
        grid = grid_table([(x0, -bottom, x1, -top) for x0, top, x1, bottom in group])
        if grid is not None:
            found.append(grid)
    return found

def fill(table: Table, chars: list[Char]) -> Table:
    """Each cell's text from the characters inside its box (found on the grid's lines, not
    cell by cell: a large grid has hundreds of cells); the table's direction from them."""
    owner: dict[tuple[int, int], Cell] = {}
    for cell in table.cells:
        cell.chars = []
        for r in range(cell.row, cell.row + cell.rowspan):
            for c in range(cell.col, cell.col + cell.colspan):
                owner[(r, c)] = cell
    downwards = [-y for y in table.ys]  # the rows' lines, top first: ascending when negated
    for char in chars:
        if not inside(char, table.box):
            continue
        x, y = (char.box[0] + char.box[2]) / 2, (char.box[1] + char.box[3]) / 2
        col = min(max(bisect.bisect_right(table.xs, x) - 1, 0), table.cols - 1)
        row = min(max(bisect.bisect_right(downwards, -y) - 1, 0), table.rows - 1)
        if (owning := owner.get((row, col))) is not None:
            owning.chars.append(char)
    for cell in table.cells:
        cell.text = cell_text(cell.chars)
    rows: dict[int, list[list[Char]]] = {}
    for cell in table.cells:
        rows.setdefault(cell.row, []).append(cell.chars)
    table.rtl = reads_right_to_left(rows.values())
    return table

def framed_rows(table: Table) -> bool:
    """Whether a cell holds rows of aligned columns: the rules frame an unruled table (or a
    block of them), they do not draw its cells."""
    for cell in table.cells:
        rows = visual_rows(cell.chars)
        if sum(len(row.segments) >= MIN_COLUMNS for row in rows) >= MIN_ROWS:
            return True
    return False


def overhangs(table: Table, chars: list[Char]) -> bool:
    """Whether most of the grid's rows go on outside its rules in short cells (rules under
    some columns only): the rules are then no table's outline, the aligned text is. Lines of
    prose beside the grid (the next column of the page) are long."""
    left, bottom, right, top = table.box
    beside = [c for c in chars if bottom <= c.y <= top and (c.box[2] <= left or c.box[0] >= right)]
    touching = 0
    for row in visual_rows(beside):
        reach = OVERHANG * row.size
        touching += any(len(s.text.strip()) <= SHORT_CELL and (
            left - reach <= s.right <= left or right <= s.left <= right + reach)
            for s in row.segments)
    return touching * 2 > table.rows
