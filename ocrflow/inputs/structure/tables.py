"""Tables of a born-digital page, from its text layer and its vector drawing.

Ruled tables: pdfplumber's TableFinder ("lines" strategy) turns the page's lines and rectangles
into cell boxes; the grid of their distinct edges gives each cell its row, column and spans.
Unruled tables: rows of text cut at wide gaps (gutters) whose gutters line up across at least
MIN_ROWS consecutive rows; the columns are the x-ranges the cells of the full rows cover.
A cell's text is read from pdfium's characters, as the inventory reads the page, so a cell with
right-to-left letters comes out in logical order by the same code (``text_layer``).

Coordinates: pdfium's page space throughout (x right, y up); pdfplumber's finder gets the
edges with y negated (its y grows downwards) and its boxes are turned back at once.
"""

from __future__ import annotations

import bisect
import html
import itertools
import statistics
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any

from ocrflow.inputs.text_layer import (
    CELL_GAP,
    SAME_BASELINE,
    _Char,
    _glyphs,
    _visual_order,
    fold_presentation_forms,
    is_rtl,
    visual_to_logical,
)

Box = tuple[float, float, float, float]  # left, bottom, right, top (pdfium page space)
SNAP = 3.0  # points: pdfplumber's default snap, join and intersection tolerances
MIN_EDGE = 3.0  # points: pdfplumber's default edge_min_length
MAX_EDGES = 5000  # more edges: hatching or a drawing (the finder's work grows as their square)
MIN_ROWS = 3  # an unruled table: rows whose gutters line up; two rows can line up by chance
MIN_COLUMNS = 2
EDGE_SNAP = 2.0  # points: cell edges closer than this are one grid line (stroke widths)
# Text columns are prose: every column's lines are long. A table has a column of short cells
# (names, numbers, dates), this many characters or fewer in the median.
SHORT_CELL = 30
OVERHANG = 3.0  # font sizes: text this close beside a grid, on its rows, belongs to its rows
MAX_HEADING_ROWS = 3  # rows above the first row of numbers that are headings, at most
RULE_UNDER = 1.0  # font sizes: a rule this close under a heading is its group's
SPLIT_GAP = 0.6  # font sizes: a gap over a gutter this wide parts two cells (a word space: 0.3)
HEADING_LINE_GAP = 0.6  # font sizes: the white between two lines of one heading, at most
OTHER_SIZE = 1.3  # a row this many times larger or smaller than the table's is no row of it
ALIGNED = 0.3  # font sizes: cells whose edges are this close are set on one edge
AGREE = 0.6  # the share of a column's cells that must share an edge (the rest: spanning, notes)
LEADER_DOTS = 4  # dots in a row, at least, that lead the eye across a gutter
RAISED = 0.85  # a superscript's size against its line's
_DOTS = {".", "·", "…", "․"}
GROUP_HEADING_GAP = 0.5  # font sizes: a heading over sub-columns sits right above them
# Rows of one table are close: a vertical gap wider than this many font sizes ends a table.
ROW_REACH = 2.5


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
    chars: list[_Char] = field(default_factory=list, repr=False)


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

    def owns(self, char: _Char) -> bool:
        """A ruled table owns what its box holds; an unruled one the characters of its rows
        (a line inside its box that is no row stays text)."""
        return char.index in self.members if self.members else inside(char, self.box)

    def filled(self) -> int:
        return sum(1 for cell in self.cells if cell.text)


@dataclass
class _Segment:
    """A piece of a visual row between gutters."""

    chars: list[_Char]
    left: float
    right: float
    size: float

    @property
    def text(self) -> str:
        return "".join(c.text for c in self.chars)


@dataclass
class Row:
    """Characters on one baseline across the page, cut at gutters."""

    y: float
    size: float
    segments: list[_Segment] = field(default_factory=list)
    leaders: list[_Char] = field(default_factory=list)  # dot leaders: no cell's text

    @property
    def top(self) -> float:
        return max(c.box[3] for s in self.segments for c in s.chars)

    @property
    def bottom(self) -> float:
        return min(c.box[1] for s in self.segments for c in s.chars)


# --- cell text -----------------------------------------------------------------------------


def inside(char: _Char, box: Box) -> bool:
    x = (char.box[0] + char.box[2]) / 2
    y = (char.box[1] + char.box[3]) / 2
    return box[0] <= x <= box[2] and box[1] <= y <= box[3]


def baseline_groups(chars: list[_Char]) -> list[list[_Char]]:
    """Characters grouped by baseline, top to bottom, each group in pdfium's order."""
    groups: list[list[_Char]] = []
    for char in sorted(chars, key=lambda c: -c.y):
        if groups and abs(groups[-1][0].y - char.y) <= SAME_BASELINE * max(char.size, 1.0):
            groups[-1].append(char)
        else:
            groups.append([char])
    return [sorted(group, key=lambda c: c.index) for group in groups]


def line_of(chars: list[_Char]) -> str:
    """One line's characters in reading (logical) order, spaces where the gaps are; a line
    without right-to-left letters as shown ("2 400" is no right-to-left run)."""
    glyphs = _visual_order(_glyphs(chars))
    if any(is_rtl(c.text) for c in chars):
        return visual_to_logical(glyphs)
    return "".join(g.text for g in glyphs).strip()


def cell_text(chars: list[_Char]) -> str:
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


def _right_to_left(texts: Iterable[str]) -> bool:
    letters = [c for text in texts for c in text if c.isalpha()]
    return sum(map(is_rtl, letters)) * 2 > len(letters) > 0


def _reads_right_to_left(rows: Iterable[list[list[_Char]]]) -> bool:
    """Which way a table reads (its rows' cells, each a list of characters): the way most of
    its rows are drawn, since producers draw a table in reading order (an Arabic table from its
    right; a French calendar with Arabic day names from its left); where no row says, the
    script most of its letters are in."""
    votes, texts = 0, []
    for row in rows:
        cells = sorted((c for c in row if any(not ch.text.isspace() for ch in c)),
                       key=lambda cell: min(ch.box[0] for ch in cell))
        texts += ["".join(ch.text for ch in cell) for cell in cells]
        if len(cells) > 1:
            first_left = min(ch.index for ch in cells[0])
            first_right = min(ch.index for ch in cells[-1])
            votes += 1 if first_right < first_left else -1
    return votes > 0 if votes else _right_to_left(texts)


def framed_rows(table: Table) -> bool:
    """Whether a cell holds rows of aligned columns: the rules frame an unruled table (or a
    block of them), they do not draw its cells."""
    for cell in table.cells:
        rows = visual_rows(cell.chars)
        if sum(len(row.segments) >= MIN_COLUMNS for row in rows) >= MIN_ROWS:
            return True
    return False


def overhangs(table: Table, chars: list[_Char]) -> bool:
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


def fill(table: Table, chars: list[_Char]) -> Table:
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
        if (cell := owner.get((row, col))) is not None:
            cell.chars.append(char)
    for cell in table.cells:
        cell.text = cell_text(cell.chars)
    rows: dict[int, list[list[_Char]]] = {}
    for cell in table.cells:
        rows.setdefault(cell.row, []).append(cell.chars)
    table.rtl = _reads_right_to_left(rows.values())
    return table


# --- ruled tables (pdfplumber) ---------------------------------------------------------------


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
    cells, taken = [], set()
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
    edges = merge_edges([e.plumber() for e in edges], SNAP, SNAP, SNAP, SNAP)
    edges = [e for e in edges if max(e["width"], e["height"]) >= MIN_EDGE]
    cells = intersections_to_cells(edges_to_intersections(edges, SNAP, SNAP))
    found = []
    for group in cells_to_tables(cells):
        # pdfplumber's boxes are (x0, top, x1, bottom) with y down: top = -y here
        grid = grid_table([(x0, -bottom, x1, -top) for x0, top, x1, bottom in group])
        if grid is not None:
            found.append(grid)
    return found


# --- unruled tables (aligned gutters) --------------------------------------------------------


def _with_raised(groups: list[list[_Char]]) -> list[list[_Char]]:
    """Superscripts and subscripts (a smaller size, on a baseline of their own) joined to the
    line their ink overlaps: a footnote mark is no row."""
    def size(group: list[_Char]) -> float:
        return statistics.median(c.size for c in group)

    def overlap(a: list[_Char], b: list[_Char]) -> bool:
        return min(c.box[1] for c in a) < max(c.box[3] for c in b) and \
            min(c.box[1] for c in b) < max(c.box[3] for c in a)

    out: list[list[_Char]] = []
    for k, group in enumerate(groups):
        near = [g for g in (out[-1] if out else None,
                            groups[k + 1] if k + 1 < len(groups) else None) if g]
        host = next((g for g in near if size(group) < RAISED * size(g) and overlap(g, group)),
                    None)
        if host is not None:
            host.extend(group)
            host.sort(key=lambda c: c.index)
        else:
            out.append(group)
    return out


def _leaders(group: list[_Char]) -> list[bool]:
    """Which characters of a row (left to right) are a dot leader's: runs of LEADER_DOTS or
    more dots; a leader leads the eye to the next cell and is no text of either."""
    flags = [False] * len(group)
    start = 0
    for i in range(len(group) + 1):
        if i < len(group) and group[i].text in _DOTS:
            continue
        if i - start >= LEADER_DOTS:
            flags[start:i] = [True] * (i - start)
        start = i + 1
    return flags


def visual_rows(chars: list[_Char]) -> list[Row]:
    """The page's characters on each baseline, top to bottom, cut where the gap between two
    glyphs is a gutter (CELL_GAP font sizes or more: wider than any word space)."""
    rows = []
    for group in _with_raised(baseline_groups([c for c in chars if not c.text.isspace()])):
        group.sort(key=lambda c: c.box[0])
        size = statistics.median(max(c.size, 1.0) for c in group)
        row = Row(group[0].y, size)
        leaders = _leaders(group)
        row.leaders = [c for c, leader in zip(group, leaders, strict=True) if leader]
        for char in (c for c, leader in zip(group, leaders, strict=True) if not leader):
            last = row.segments[-1] if row.segments else None
            if last is None or char.box[0] - last.right >= CELL_GAP * size:
                row.segments.append(_Segment([char], char.box[0], char.box[2], char.size))
            else:
                last.chars.append(char)
                last.right = max(last.right, char.box[2])
        if row.segments:  # not a row of leader dots alone
            rows.append(row)
    _add_spaces(rows, [c for c in chars if c.text == " "])
    return rows


def _add_spaces(rows: list[Row], spaces: list[_Char]) -> None:
    """The PDF's spaces into the cells they lie in: a cell's words keep the spaces drawn
    between them (narrower than a word gap in some fonts)."""
    downwards = [-row.y for row in rows]  # rows are top to bottom
    for space in spaces:
        x = (space.box[0] + space.box[2]) / 2
        at = bisect.bisect_left(downwards, -space.y)
        for row in rows[max(at - 1, 0):at + 1]:
            if abs(row.y - space.y) > SAME_BASELINE * row.size:
                continue
            segment = next((s for s in row.segments if s.left < x < s.right), None)
            if segment is not None:
                segment.chars.append(space)
            break


def _columns(rows: list[Row]) -> list[tuple[float, float]]:
    """Column x-ranges: the union of the cells of the rows with the most cells (the full rows;
    a row with a spanning cell would close a gutter)."""
    most = max(len(row.segments) for row in rows)
    full = [row for row in rows if len(row.segments) == most]
    spans = sorted((s.left, s.right) for row in full for s in row.segments)
    merged: list[list[float]] = []
    for left, right in spans:
        if merged and left <= merged[-1][1]:
            merged[-1][1] = max(merged[-1][1], right)
        else:
            merged.append([left, right])
    return [(a, b) for a, b in merged]


def _hits(segment: _Segment, columns: list[tuple[float, float]]) -> list[int]:
    return [i for i, (a, b) in enumerate(columns) if segment.left < b and segment.right > a]


def _aligned(row: Row, columns: list[tuple[float, float]]) -> bool:
    """Each of the row's cells lies in a column or spans whole ones, inside the table's width
    (a line of prose reaches past it or lies in a gutter)."""
    reach = ROW_REACH * row.size
    return all(_hits(s, columns) and s.left >= columns[0][0] - reach
               and s.right <= columns[-1][1] + reach for s in row.segments)


def _edges_agree(rows: list[Row], columns: list[tuple[float, float]]) -> bool:
    """Each column's cells share their left edge, their right edge or their centre (set
    left, right or centred): text that merely has wide gaps (typewriter text, a form) does
    not."""
    for k in range(len(columns)):
        own = [s for row in rows for s in row.segments if _hits(s, columns) == [k]]
        if len(own) < MIN_ROWS:
            continue
        tolerance = ALIGNED * statistics.median(s.size for s in own)
        for edge in (lambda s: s.left, lambda s: s.right, lambda s: (s.left + s.right) / 2):
            values = sorted(edge(s) for s in own)
            middle = statistics.median(values)
            if sum(abs(v - middle) <= tolerance for v in values) >= AGREE * len(values):
                break
        else:
            return False
    return True


def _is_prose(rows: list[Row], columns: list[tuple[float, float]]) -> bool:
    """Text columns, not a table: no column has short cells."""
    for a, b in columns:
        lengths = [len(s.text) for row in rows for s in row.segments if s.left < b and s.right > a]
        if lengths and statistics.median(lengths) <= SHORT_CELL:
            return False
    return True


def _close(upper: Row, lower: Row) -> bool:
    return upper.bottom - lower.top <= ROW_REACH * lower.size


def _cores(rows: list[Row]) -> list[tuple[int, int]]:
    """Index ranges of rows where rows of several cells follow each other closely, at most
    two rows of one cell between them (a wrapped cell's lines)."""
    cores: list[tuple[int, int]] = []
    start = last = None
    for i, row in enumerate(rows):
        if len(row.segments) < MIN_COLUMNS:
            continue
        joined = last is not None and i - last <= 3 and all(
            _close(rows[k], rows[k + 1]) for k in range(last, i))
        if start is None or not joined:
            if start is not None:
                cores.append((start, last))
            start = i
        last = i
    if start is not None and last is not None:
        cores.append((start, last))
    return cores


def _table_rows(rows: list[Row], first: int, last: int) -> list[list[Row]]:
    """The core's rows, cut where one does not align; each piece with a heading row above it
    that spans some of its columns (a grouped heading over sub-columns) taken in."""
    found = []
    core = rows[first:last + 1]
    if sum(len(row.segments) >= MIN_COLUMNS for row in core) < MIN_ROWS:
        return []
    columns = _columns(core)
    size = statistics.median(row.size for row in core)
    piece: list[Row] = []
    for row in [*core, None]:
        # a row in another size is none of the table's (a title above a list, say)
        if row is not None and _aligned(row, columns) and \
                1 / OTHER_SIZE < row.size / size < OTHER_SIZE:
            piece.append(row)
            continue
        while piece and len(piece[-1].segments) < MIN_COLUMNS:
            piece.pop()  # a lone line under a table is a note or prose, not a row
        if sum(len(r.segments) >= MIN_COLUMNS for r in piece) >= MIN_ROWS:
            found.append(piece)
        piece = []
    if found and found[0][0] is rows[first] and first > 0:
        above = rows[first - 1]
        if _group_heading(above, rows[first], columns):
            found[0].insert(0, above)
    return found


def _group_heading(above: Row, row: Row, columns: list[tuple[float, float]]) -> bool:
    """A heading over some of the columns right above a table's first row (a caption or a
    line of prose starts at the table's first column, or is farther)."""
    rtl = _reads_right_to_left([[s.chars for s in row.segments]])
    key = {len(columns) - 1 if rtl else 0}  # the column rows are read from
    return above.bottom - row.top <= GROUP_HEADING_GAP * row.size and _aligned(above, columns) \
        and all(len(hits := _hits(s, columns)) > 1 and not key & set(hits)
                for s in above.segments)


def _numeric(text: str) -> bool:
    return bool(text) and all(c.isdigit() or c in " .,%/-+()٫٬" for c in text)


def _merge_centred(rows: list[Row], columns: list[tuple[float, float]]) -> list[Row]:
    """Rows whose ink overlaps and whose cells are in different columns are one: a cell
    centred on two rows' height (a multirow heading) sits between their baselines."""
    merged: list[Row] = []
    for row in rows:
        if merged and merged[-1].bottom < row.top:
            used = {c for s in merged[-1].segments for c in _hits(s, columns)}
            if not used & {c for s in row.segments for c in _hits(s, columns)}:
                last = merged[-1]
                segments = sorted([*last.segments, *row.segments], key=lambda s: s.left)
                merged[-1] = Row(last.y, last.size, segments)
                continue
        merged.append(row)
    return merged


def _split_at_gutters(segment: _Segment, columns: list[tuple[float, float]]) -> list[_Segment]:
    """A cell across a gutter whose text has a gap wider than a word space over it is two
    cells (columns set tighter than CELL_GAP: "Under 18  18 years")."""
    gutters = [(a[1], b[0]) for a, b in itertools.pairwise(columns)]
    ink = sorted((c for c in segment.chars if not c.text.isspace()), key=lambda c: c.box[0])
    pieces: list[list[_Char]] = [[]]
    for before, char in zip([None, *ink], ink, strict=False):
        if before is not None and char.box[0] - before.box[2] >= SPLIT_GAP * char.size and any(
                before.box[2] < right and char.box[0] > left for left, right in gutters):
            pieces.append([])
        pieces[-1].append(char)
    if len(pieces) == 1:
        return [segment]
    spaces = [c for c in segment.chars if c.text.isspace()]
    out = []
    for piece in pieces:
        left, right = piece[0].box[0], max(c.box[2] for c in piece)
        own = [c for c in spaces if left < (c.box[0] + c.box[2]) / 2 < right]
        out.append(_Segment(piece + own, left, right, segment.size))
    # a piece left in a gutter alone is no cell: the text stays whole
    return out if all(_hits(piece, columns) for piece in out) else [segment]


GridCell = tuple[int, int, list[_Char]]  # first column, columns spanned, characters


def _join_heading_lines(grid: list[list[GridCell]], rules: list[Edge]) -> None:
    """Headings of several lines above the first row of numbers: a line right under another
    whose cells sit in the same columns (none across another's span) continues it."""
    def text(cell: GridCell) -> str:
        return "".join(c.text for c in cell[2]).strip()

    data = next((r for r, cells in enumerate(grid) if any(_numeric(text(c)) for c in cells)),
                0)
    r = 0
    while r + 1 < data:
        upper, lower = grid[r], grid[r + 1]
        size = statistics.median(c.size for cell in upper for c in cell[2])
        gap = min(c.box[1] for cell in upper for c in cell[2]) - \
            max(c.box[3] for cell in lower for c in cell[2])
        same = {(c, span) for c, span, _ in upper}
        crossing = any((c, span) not in same and any(
            uc < c + span and c < uc + uspan for uc, uspan, _ in upper) for c, span, _ in lower)
        if gap > HEADING_LINE_GAP * size or crossing or not same & {(c, n) for c, n, _ in lower} \
                or _ruled_between([c for g in upper for c in g[2]],
                                  [c for g in lower for c in g[2]], rules):
            r += 1
            continue
        for c, span, chars in lower:
            match = next((cell for cell in upper if cell[:2] == (c, span)), None)
            if match is None:
                upper.append((c, span, chars))
            else:
                match[2].extend(chars)
        upper.sort(key=lambda cell: cell[0])
        del grid[r + 1]
        data -= 1


def _ruled_between(upper: list[_Char], lower: list[_Char], rules: list[Edge]) -> bool:
    """A horizontal rule between two lines' ink, under some of them."""
    bottom = min(c.box[1] for c in upper)
    top = max(c.box[3] for c in lower)
    left = min(c.box[0] for c in [*upper, *lower])
    right = max(c.box[2] for c in [*upper, *lower])
    return any(top <= rule.y0 <= bottom and rule.x0 < right and rule.x1 > left
               for rule in rules)


def _widen_over_rules(cells: list[GridCell], columns: list[tuple[float, float]],
                      rules: list[Edge]) -> None:
    """A heading over a rule that runs under several columns (a group's heading, booktabs'
    cmidrule) spans those columns, where the row has nothing else over them."""
    for k, (col, span, chars) in enumerate(cells):
        ink = [c for c in chars if not c.text.isspace()]
        if not ink:
            continue
        bottom, size = min(c.box[1] for c in ink), statistics.median(c.size for c in ink)
        left, right = min(c.box[0] for c in ink), max(c.box[2] for c in ink)
        rule = next((r for r in rules if bottom - RULE_UNDER * size <= r.y0 <= bottom
                     and r.x0 <= left and r.x1 >= right), None)
        if rule is None:
            continue
        under = [i for i, (a, b) in enumerate(columns)
                 if a >= rule.x0 - size and b <= rule.x1 + size]
        others = {c for i, (c, n, _) in enumerate(cells) if i != k for c in range(c, c + n)}
        if under and under[0] <= col and col + span - 1 <= under[-1] and not others & set(under):
            cells[k] = (under[0], under[-1] - under[0] + 1, chars)


def _rows_table(rows: list[Row], columns: list[tuple[float, float]],
                rules: list[Edge]) -> Table:
    """Cells of aligned rows: a row's cell covers the columns it overlaps (colspan). A row
    without the column rows are read from, no number in it and its cells under cells of the
    row above, continues that row: a cell of several lines (a wrapped cell's next line)."""
    rtl = _reads_right_to_left([s.chars for s in row.segments] for row in rows)
    key = len(columns) - 1 if rtl else 0  # the column a row is read from
    rows = [Row(row.y, row.size, [p for s in row.segments for p in _split_at_gutters(s, columns)],
                row.leaders) for row in rows]
    grid: list[list[GridCell]] = []  # per row: (first col, span, chars)
    for row in _merge_centred(rows, columns):
        cells = []
        for segment in row.segments:
            hit = _hits(segment, columns)
            cells.append((hit[0], hit[-1] - hit[0] + 1, list(segment.chars)))
        starts = {c for c, _, _ in cells}
        if grid and key not in starts and all(c in {g[0] for g in grid[-1]} for c in starts) \
                and not any(_numeric(s.text) for s in row.segments) and not _ruled_between(
                    [c for g in grid[-1] for c in g[2]], [c for g in cells for c in g[2]], rules):
            for c, _, chars in cells:
                next(g for g in grid[-1] if g[0] == c)[2].extend(chars)
            continue
        grid.append(cells)
    _join_heading_lines(grid, rules)
    for cells in grid:
        _widen_over_rules(cells, columns, rules)
    table_cells: list[Cell] = []
    for r, cells in enumerate(grid):
        taken = set()
        for c, span, chars in cells:
            box = (min(ch.box[0] for ch in chars), min(ch.box[1] for ch in chars),
                   max(ch.box[2] for ch in chars), max(ch.box[3] for ch in chars))
            table_cells.append(Cell(r, c, 1, span, box, cell_text(chars), chars))
            taken.update(range(c, c + span))
        table_cells += [Cell(r, c) for c in range(len(columns)) if c not in taken]
    table_cells.sort(key=lambda cell: (cell.row, cell.col))
    chars = [ch for row in rows for s in row.segments for ch in s.chars]
    box = (min(c.box[0] for c in chars), min(c.box[1] for c in chars),
           max(c.box[2] for c in chars), max(c.box[3] for c in chars))
    members = {c.index for c in chars} | {c.index for row in rows for c in row.leaders}
    return Table(table_cells, box, False, len(grid), len(columns), rtl, members=members)


def unruled_tables(rows: list[Row], rules: list[Edge] | None = None) -> list[Table]:
    """Tables of aligned gutters among the page's visual rows; ``rules``: the page's
    horizontal rules (a rule between two lines parts them: no cell goes on across it)."""
    found = []
    for first, last in _cores(rows):
        core = _columns(rows[first:last + 1])
        for piece in _table_rows(rows, first, last):
            # the core's columns that the piece's cells touch
            columns = [col for k, col in enumerate(core)
                       if any(k in _hits(s, core) for row in piece for s in row.segments)]
            if len(columns) >= MIN_COLUMNS and not _is_prose(piece, columns) and \
                    _edges_agree(piece, columns):
                found.append(_rows_table(piece, columns, rules or []))
    return found


# --- headings and tables across a column break ----------------------------------------------


def mark_headings(table: Table, bold: Callable[[list[_Char]], bool]) -> Table:
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
    first = min((c.row for c in table.cells if _numeric(c.text)), default=0)
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


# --- HTML ----------------------------------------------------------------------------------


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
