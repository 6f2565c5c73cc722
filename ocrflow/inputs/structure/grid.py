"""Ruled tables in a page image: the grid of their rules, its cells with their spans.

A scanned page has no text layer to tell a table's cells apart; its rules do. The ink (darker
than the paper around it) is searched at about 150 dpi; its long thin runs are the rules (a
morphological opening with a long horizontal, then vertical kernel keeps them and drops the
letters). A page whose rules never cross has no table (most pages: that look is all they cost).
Otherwise the page is straightened (its skew measured on its long horizontal runs) and searched
again; each set of crossing rules, closed at its outer edge (LaTeX tables have no side rules),
is a table whose cells are the blank regions it closes. The rows and columns are the cells'
edges, gathered: a cell covering two of them spans them (a merged cell). A set of boxes that
leaves part of its grid uncovered (a form's panels) is no table.

``to_table`` gives a table read this way to ``tables.to_html``, the one writer of tables.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field

import numpy as np

from ocrflow.inputs.structure.tables import Cell, Table

Box = tuple[int, int, int, int]  # left, top, right, bottom, in pixels (right, bottom excluded)

WORK_DPI = 150  # the resolution the rules are looked for at
# In inches (scaled to the page's dpi): a rule is at least RULE long (letters, even a long
# Arabic stroke, are shorter; a table's narrowest column wider); a break of up to GAP in a
# rule (a scan's dropout) is bridged; a cell is at least CELL wide and high (the space between
# a double rule is no cell); a row's or column's edges lie within EDGE of each other (a slight
# skew, the rules' own thickness).
RULE = 0.35
GAP = 0.04
CELL = 0.08
EDGE = 0.05
MIN_SKEW = 0.1  # degrees: a page skewed less is searched as it is
NEIGHBOURHOOD = 0.2  # inches: the paper's grey is the mean around a pixel over this square
INK = 15  # grey levels darker than the paper: ink


@dataclass(frozen=True)
class GridCell:
    row: int
    col: int
    rowspan: int
    colspan: int
    box: Box  # the blank inside its rules, in the page's pixels


@dataclass
class Grid:
    """One ruled table: ``rows`` x ``cols`` slots, each covered by exactly one cell."""

    box: Box  # the table's outer edge
    rows: int
    cols: int
    cells: list[GridCell]
    rules: np.ndarray = field(repr=False)  # bool mask of its rules over ``box``

    def erase_rules(self, page: np.ndarray) -> None:
        """Paint the rules white on the page (grey, uint8) in place: read alone, a cell's
        border comes out as "|" or "_"."""
        left, top, right, bottom = self.box
        page[top:bottom, left:right][self.rules] = 255


def find_grids(gray: np.ndarray, dpi: float) -> list[Grid]:
    """The ruled tables of a grey page (uint8, 0 black), top to bottom: grids of at least two
    rows and two columns whose rules close their cells on every side."""
    import cv2

    scale = min(1.0, WORK_DPI / dpi)
    small = gray if scale == 1.0 else cv2.resize(gray, None, fx=scale, fy=scale,
                                                 interpolation=cv2.INTER_AREA)
    work_dpi = dpi * scale
    ink = _ink(small, work_dpi)
    least = RULE * work_dpi
    rules = _rules(ink, work_dpi)
    count, labels, stats, _ = cv2.connectedComponentsWithStats(rules, connectivity=8)
    if not any(w >= 2 * least and h >= 2 * least for _, _, w, h, _ in stats[1:]):
        return []  # no rules that cross: most pages, at the cost of this look only
    # A skewed scan's rules are neither horizontal nor vertical: straightened first (its
    # rows' and columns' edges would drift apart along them).
    height, width = ink.shape
    turn = None
    if abs(angle := _skew(ink, work_dpi)) >= MIN_SKEW:
        turn = cv2.getRotationMatrix2D((width / 2, height / 2), angle, 1.0)
        # the grey page turned, not its ink: a thin rule's turned staircase has gaps
        small = cv2.warpAffine(small, turn, (width, height), flags=cv2.INTER_LINEAR,
                               borderMode=cv2.BORDER_REPLICATE)
        ink = _ink(small, work_dpi)
        rules = _rules(ink, work_dpi)
        count, labels, stats, _ = cv2.connectedComponentsWithStats(rules, connectivity=8)
    grids = []
    for label in range(1, count):
        x, y, w, h = stats[label, :4]
        if w < 2 * least or h < 2 * least:
            continue  # too small to hold two rows and two columns of cells
        mask = labels[y:y + h, x:x + w] == label
        # Closed at its outer edge: a table ruled between its columns and under its rows but
        # without side borders (LaTeX's) has its first and last columns too. As wide as a
        # table's rules may end short of it.
        edge = max(2, round(EDGE * work_dpi))
        mask[:edge, :] = mask[-edge:, :] = mask[:, :edge] = mask[:, -edge:] = True
        cells = _cells(mask, work_dpi)
        if (grid := _grid(cells, (int(x), int(y)), work_dpi, mask)) is not None:
            back = None if turn is None else cv2.invertAffineTransform(turn)
            grids.append(_on_page(grid, back, 1 / scale, (height, width), gray.shape))
    return sorted(grids, key=lambda grid: (grid.box[1], grid.box[0]))


def _ink(gray: np.ndarray, dpi: float) -> np.ndarray:
    """The page's ink (uint8, 255): what is darker than the paper around it by INK grey
    levels. A thin rule, grey once the page is made smaller, is lost to Otsu's threshold
    over the whole page (a third of the grids of 0.15 mm rules on noisy scans); the specks
    of a noisy scan kept are no rules."""
    import cv2

    block = 2 * round(NEIGHBOURHOOD * dpi / 2) + 1
    return cv2.adaptiveThreshold(gray, 255, cv2.ADAPTIVE_THRESH_MEAN_C, cv2.THRESH_BINARY_INV,
                                 block, INK)


def _skew(ink: np.ndarray, dpi: float) -> float:
    """The page's skew in degrees (OpenCV's: counter-clockwise), from its long horizontal
    runs of ink (rules, underlines, a line's baseline): the median slope, longest first, of
    those at least twice RULE long. 0 without any."""
    import cv2

    # a thin rule skewed is a staircase; taller by two pixels, its steps join
    tall = cv2.dilate(ink, np.ones((3, 1), np.uint8))
    kernel = cv2.getStructuringElement(cv2.MORPH_RECT, (max(8, round(RULE * dpi)), 1))
    runs = cv2.morphologyEx(tall, cv2.MORPH_OPEN, kernel)
    count, labels, stats, _ = cv2.connectedComponentsWithStats(runs, connectivity=8)
    slopes = []
    for label in range(1, count):
        x, y, w, h = stats[label, :4]
        if w < 2 * RULE * dpi:
            continue
        ys, xs = np.nonzero(labels[y:y + h, x:x + w] == label)
        slopes.append((float(np.polyfit(xs, ys, 1)[0]), int(w)))
    if not slopes:
        return 0.0
    slopes.sort()
    half, seen = sum(w for _, w in slopes) / 2, 0
    for slope, w in slopes:  # the median weighted by length
        seen += w
        if seen >= half:
            return float(np.degrees(np.arctan(slope)))
    return 0.0


def _rules(ink: np.ndarray, dpi: float) -> np.ndarray:
    """The mask (uint8, 255) of the page's horizontal and vertical rules, their breaks bridged,
    each a little longer at both ends so that rules stopping just short of a crossing one meet
    it."""
    import cv2

    length, gap = max(8, round(RULE * dpi)), max(2, round(GAP * dpi))
    found = []
    for shape in ((length, 1), (1, length)):
        kernel = cv2.getStructuringElement(cv2.MORPH_RECT, shape)
        lines = cv2.morphologyEx(ink, cv2.MORPH_OPEN, kernel)
        along = (gap, 1) if shape[1] == 1 else (1, gap)
        lines = cv2.dilate(lines, cv2.getStructuringElement(cv2.MORPH_RECT, along))
        found.append(lines)
    return cv2.dilate(cv2.bitwise_or(found[0], found[1]), np.ones((3, 3), np.uint8))


def _cells(mask: np.ndarray, dpi: float) -> list[Box]:
    """The blank regions the rules (``mask``) close on every side, big enough to be cells, in
    the mask's pixels."""
    import cv2

    blank = (~mask).astype(np.uint8)
    _, _, stats, _ = cv2.connectedComponentsWithStats(blank, connectivity=4)
    height, width = mask.shape
    least = CELL * dpi
    cells = []
    for x, y, w, h, _area in stats[1:]:
        if x == 0 or y == 0 or x + w >= width or y + h >= height:
            continue  # open to the outside: around the table, not in it
        if w >= least and h >= least:
            cells.append((int(x), int(y), int(x + w), int(y + h)))
    return cells


def _edges(values: Iterable[int], within: float) -> list[float]:
    """Values within ``within`` of the previous one gathered: the mean of each group."""
    groups: list[list[int]] = []
    for value in sorted(values):
        if groups and value - groups[-1][-1] <= within:
            groups[-1].append(value)
        else:
            groups.append([value])
    return [sum(group) / len(group) for group in groups]


def _nearest(edges: Sequence[float], value: float) -> int:
    return min(range(len(edges)), key=lambda i: abs(edges[i] - value))


def _grid(cells: list[Box], at: tuple[int, int], dpi: float, mask: np.ndarray) -> Grid | None:
    """The cells as rows and columns: the edges between two cells (a left and the right of
    the cell before it, a rule apart) are one; a cell spans the slots between its own. None
    unless two rows and two columns."""
    if len(cells) < 2:
        return None
    within = EDGE * dpi + 3  # a rule's width (2 px here) and a little skew
    columns = _edges([c[0] for c in cells] + [c[2] for c in cells], within)
    rows = _edges([c[1] for c in cells] + [c[3] for c in cells], within)
    if len(columns) < 3 or len(rows) < 3:
        return None
    placed: list[GridCell] = []
    taken: set[tuple[int, int]] = set()
    for left, top, right, bottom in cells:
        col, end_col = _nearest(columns, left), _nearest(columns, right)
        row, end_row = _nearest(rows, top), _nearest(rows, bottom)
        if end_col <= col or end_row <= row:
            continue
        slots = {(r, c) for r in range(row, end_row) for c in range(col, end_col)}
        if slots & taken:
            continue  # overlapping cells: a cell inside a cell (a box drawn in it)
        taken |= slots
        box = (left + at[0], top + at[1], right + at[0], bottom + at[1])
        placed.append(GridCell(row, col, end_row - row, end_col - col, box))
    n_rows, n_cols = len(rows) - 1, len(columns) - 1
    if n_rows < 2 or n_cols < 2 or len(taken) < n_rows * n_cols:
        # a slot no cell covers: no table's grid, but boxes side by side (a form's panels,
        # drawn apart and joined by the frame closed around them)
        return None
    height, width = mask.shape
    box = (at[0], at[1], at[0] + width, at[1] + height)
    return Grid(box, n_rows, n_cols, sorted(placed, key=lambda cell: (cell.row, cell.col)), mask)


def _on_page(grid: Grid, back: np.ndarray | None, factor: float, work: tuple[int, int],
             shape: tuple[int, ...]) -> Grid:
    """The grid in the page's pixels: found straightened (``back`` turns it back) at
    ``1 / factor`` of them."""
    import cv2

    height, width = shape[:2]

    def box(b: Box) -> Box:
        corners = np.array([[b[0], b[1]], [b[2], b[1]], [b[0], b[3]], [b[2], b[3]]], np.float64)
        if back is not None:
            corners = corners @ back[:, :2].T + back[:, 2]
        corners *= factor
        return (max(0, int(corners[:, 0].min())), max(0, int(corners[:, 1].min())),
                min(width, round(corners[:, 0].max())), min(height, round(corners[:, 1].max())))

    rules: np.ndarray = np.zeros(work, np.uint8)
    left, top, right, bottom = grid.box
    rules[top:bottom, left:right] = grid.rules
    if back is not None:
        rules = cv2.warpAffine(rules, back, (work[1], work[0]), flags=cv2.INTER_NEAREST)
    outer = box(grid.box)
    crop: np.ndarray = rules[int(outer[1] / factor):int(np.ceil(outer[3] / factor)),
                 int(outer[0] / factor):int(np.ceil(outer[2] / factor))]
    size = (outer[2] - outer[0], outer[3] - outer[1])
    if factor != 1.0 or crop.shape[::-1] != size:
        crop = cv2.resize(crop, size, interpolation=cv2.INTER_NEAREST)
        # a rule's blurred edge, grey at the page's resolution, is the next pixel or two
        crop = cv2.dilate(crop, np.ones((3, 3), np.uint8))
    cells = [GridCell(c.row, c.col, c.rowspan, c.colspan, box(c.box)) for c in grid.cells]
    return Grid(outer, grid.rows, grid.cols, cells, crop.astype(bool))


def to_table(grid: Grid, texts: dict[GridCell, str], rtl: bool) -> Table:
    """The grid with its cells' texts as a table (``tables.to_html`` writes it as the text
    layer's tables are written: ``<th>`` first row, spans, a right-to-left table's columns in
    reading order)."""
    cells = [Cell(c.row, c.col, c.rowspan, c.colspan, text=texts.get(c, "")) for c in grid.cells]
    left, top, right, bottom = grid.box
    return Table(cells, (float(left), float(top), float(right), float(bottom)), ruled=True,
                 rows=grid.rows, cols=grid.cols, rtl=rtl)
