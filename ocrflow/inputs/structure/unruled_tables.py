"""Unruled tables of a born-digital page: rows of text cut at wide gaps (gutters) whose
gutters line up across at least MIN_ROWS consecutive rows; the columns are the x-ranges the
cells of the full rows cover. A cell's text: ``cell_text``.
"""

from __future__ import annotations

import itertools
import statistics

from ocrflow.inputs.page_glyphs import Char
from ocrflow.inputs.structure.cell_text import cell_text, is_numeric
from ocrflow.inputs.structure.table_direction import reads_right_to_left
from ocrflow.inputs.structure.tables import Cell, Edge, Table
from ocrflow.inputs.structure.visual_rows import Row, Segment

MIN_ROWS = 3  # an unruled table: rows whose gutters line up; two rows can line up by chance
MIN_COLUMNS = 2
# Text columns are prose: every column's lines are long. A table has a column of short cells
# (names, numbers, dates), this many characters or fewer in the median.
SHORT_CELL = 30
RULE_UNDER = 1.0  # font sizes: a rule this close under a heading is its group's
SPLIT_GAP = 0.6  # font sizes: a gap over a gutter this wide parts two cells (a word space: 0.3)
HEADING_LINE_GAP = 0.6  # font sizes: the white between two lines of one heading, at most
OTHER_SIZE = 1.3  # a row this many times larger or smaller than the table's is no row of it
ALIGNED = 0.3  # font sizes: cells whose edges are this close are set on one edge
AGREE = 0.6  # the share of a column's cells that must share an edge (the rest: spanning, notes)
GROUP_HEADING_GAP = 0.5  # font sizes: a heading over sub-columns sits right above them
# Rows of one table are close: a vertical gap wider than this many font sizes ends a table.
ROW_REACH = 2.5


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


def _hits(segment: Segment, columns: list[tuple[float, float]]) -> list[int]:
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
    start: int | None = None
    last: int | None = None
    for i, row in enumerate(rows):
        if len(row.segments) < MIN_COLUMNS:
            continue
        joined = last is not None and i - last <= 3 and all(
            _close(rows[k], rows[k + 1]) for k in range(last, i))
        if start is None or not joined:
            if start is not None and last is not None:
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
    rtl = reads_right_to_left([[s.chars for s in row.segments]])
    key = {len(columns) - 1 if rtl else 0}  # the column rows are read from
    return above.bottom - row.top <= GROUP_HEADING_GAP * row.size and _aligned(above, columns) \
        and all(len(hits := _hits(s, columns)) > 1 and not key & set(hits)
                for s in above.segments)


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


def _split_at_gutters(segment: Segment, columns: list[tuple[float, float]]) -> list[Segment]:
    """A cell across a gutter whose text has a gap wider than a word space over it is two
    cells (columns set tighter than CELL_GAP: "Under 18  18 years")."""
    gutters = [(a[1], b[0]) for a, b in itertools.pairwise(columns)]
    ink = sorted((c for c in segment.chars if not c.text.isspace()), key=lambda c: c.box[0])
    pieces: list[list[Char]] = [[]]
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
        out.append(Segment(piece + own, left, right, segment.size))
    # a piece left in a gutter alone is no cell: the text stays whole
    return out if all(_hits(piece, columns) for piece in out) else [segment]


GridCell = tuple[int, int, list[Char]]  # first column, columns spanned, characters


def _join_heading_lines(grid: list[list[GridCell]], rules: list[Edge]) -> None:
    """Headings of several lines above the first row of numbers: a line right under another
    whose cells sit in the same columns (none across another's span) continues it."""
    def text(cell: GridCell) -> str:
        return "".join(c.text for c in cell[2]).strip()

    data = next((r for r, cells in enumerate(grid) if any(is_numeric(text(c)) for c in cells)),
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


def _ruled_between(upper: list[Char], lower: list[Char], rules: list[Edge]) -> bool:
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
    rtl = reads_right_to_left([s.chars for s in row.segments] for row in rows)
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
                and not any(is_numeric(s.text) for s in row.segments) and not _ruled_between(
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
        taken: set[int] = set()
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
