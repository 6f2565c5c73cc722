"""Reading order of the text lines an OCR engine detected, from their boxes alone: columns are
found from the white gutters between them, and read one after the other; lines that span a
gutter (titles, full-width paragraphs) cut the page into bands read top to bottom; within a
column, lines on one row are joined left to right and a wide vertical gap is a paragraph break.
"""

from __future__ import annotations

import statistics
from dataclasses import dataclass

MIN_COLUMN_LINES = 3  # lines each side of a gutter, so that two words on one row are no columns
NARROW = 0.6  # a line narrower than this share of the text's width may sit in a column
BINS = 400


@dataclass(frozen=True)
class Line:
    x0: float
    y0: float
    x1: float
    y1: float
    text: str


def from_quads(boxes: list[tuple[list[list[float]], str, float]]) -> list[Line]:
    """Lines from an engine's quadrilaterals (four corner points each), text and score."""
    lines = []
    for quad, text, _ in boxes:
        xs, ys = [p[0] for p in quad], [p[1] for p in quad]
        lines.append(Line(min(xs), min(ys), max(xs), max(ys), text))
    return lines


def gutters(lines: list[Line]) -> list[float]:
    """x positions of the white gaps that separate columns: few narrow lines cross them, at
    least MIN_COLUMN_LINES lie wholly on each side."""
    left, right = min(line.x0 for line in lines), max(line.x1 for line in lines)
    width = right - left
    narrow = [line for line in lines if line.x1 - line.x0 < NARROW * width]
    if width <= 0 or len(narrow) < 2 * MIN_COLUMN_LINES:
        return []
    cover = [0] * BINS
    for line in narrow:
        first = int((line.x0 - left) / width * (BINS - 1))
        last = int((line.x1 - left) / width * (BINS - 1))
        for index in range(first, last + 1):
            cover[index] += 1
    crossing = max(1, len(narrow) // 20)  # a stray line across a gutter does not close it
    height = statistics.median(line.y1 - line.y0 for line in lines)
    min_gap_bins = max(2, int(max(0.015 * width, 0.5 * height) / width * BINS))
    found, start = [], None
    for index, count in enumerate([*cover, crossing]):
        if count < crossing and start is None:
            start = index
        elif count >= crossing and start is not None:
            if index - start >= min_gap_bins and start > 0 and index < BINS:
                found.append(left + (start + index) / 2 / (BINS - 1) * width)
            start = None
    return [g for g in found
            if sum(line.x1 <= g for line in narrow) >= MIN_COLUMN_LINES
            and sum(line.x0 >= g for line in narrow) >= MIN_COLUMN_LINES]


def _rows(lines: list[Line]) -> list[list[Line]]:
    """Lines grouped into rows by vertical overlap, top to bottom."""
    rows: list[list[Line]] = []
    for line in sorted(lines, key=lambda item: (item.y0 + item.y1) / 2):
        if rows:
            top, bottom = min(i.y0 for i in rows[-1]), max(i.y1 for i in rows[-1])
            overlap = min(bottom, line.y1) - max(top, line.y0)
            if overlap > 0.5 * min(bottom - top, line.y1 - line.y0):
                rows[-1].append(line)
                continue
        rows.append([line])
    return rows


def _block(lines: list[Line], line_height: float) -> str:
    out: list[str] = []
    previous_bottom = None
    for row in _rows(lines):
        top = min(i.y0 for i in row)
        if previous_bottom is not None and top - previous_bottom > 1.2 * line_height:
            out.append("")
        out.append(" ".join(i.text for i in sorted(row, key=lambda i: i.x0)))
        previous_bottom = max(i.y1 for i in row)
    return "\n".join(out)


def reading_order(lines: list[Line]) -> str:
    if not lines:
        return ""
    line_height = statistics.median(max(1.0, line.y1 - line.y0) for line in lines)
    cuts = gutters(lines)
    if not cuts:
        return _block(lines, line_height)
    bounds = [float("-inf"), *cuts, float("inf")]

    def column(line: Line) -> int | None:  # None: the line spans a gutter
        for index in range(len(bounds) - 1):
            if bounds[index] <= line.x0 and line.x1 <= bounds[index + 1]:
                return index
        return None

    blocks: list[str] = []
    band: list[list[Line]] = [[] for _ in range(len(cuts) + 1)]
    spanning: list[Line] = []

    def flush_band() -> None:
        blocks.extend(_block(col, line_height) for col in band if col)
        for col in band:
            col.clear()

    for line in sorted(lines, key=lambda item: item.y0):
        where = column(line)
        if where is None:
            flush_band()
            spanning.append(line)
            continue
        if spanning:
            blocks.append(_block(spanning, line_height))
            spanning = []
        band[where].append(line)
    flush_band()
    if spanning:
        blocks.append(_block(spanning, line_height))
    return "\n\n".join(blocks)
