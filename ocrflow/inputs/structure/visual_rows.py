"""A page's characters as visual rows: those on one baseline across the page, cut into
segments at gutters (gaps wider than any word space), superscripts joined to their line and dot
leaders set apart. Unruled tables are found among these rows.
"""

from __future__ import annotations

import bisect
import statistics
from dataclasses import dataclass, field

from ocrflow.inputs.page_glyphs import CELL_GAP, SAME_BASELINE, Char
from ocrflow.inputs.structure.cell_text import baseline_groups

LEADER_DOTS = 4  # dots in a row, at least, that lead the eye across a gutter
RAISED = 0.85  # a superscript's size against its line's
_DOTS = {".", "·", "…", "․"}


@dataclass
class Segment:
    """A piece of a visual row between gutters."""

    chars: list[Char]
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
    segments: list[Segment] = field(default_factory=list)
    leaders: list[Char] = field(default_factory=list)  # dot leaders: no cell's text

    @property
    def top(self) -> float:
        return max(c.box[3] for s in self.segments for c in s.chars)

    @property
    def bottom(self) -> float:
        return min(c.box[1] for s in self.segments for c in s.chars)


def _with_raised(groups: list[list[Char]]) -> list[list[Char]]:
    """Superscripts and subscripts (a smaller size, on a baseline of their own) joined to the
    line their ink overlaps: a footnote mark is no row."""
    def size(group: list[Char]) -> float:
        return statistics.median(c.size for c in group)

    def overlap(a: list[Char], b: list[Char]) -> bool:
        return min(c.box[1] for c in a) < max(c.box[3] for c in b) and \
            min(c.box[1] for c in b) < max(c.box[3] for c in a)

    out: list[list[Char]] = []
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


def _leaders(group: list[Char]) -> list[bool]:
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


def visual_rows(chars: list[Char]) -> list[Row]:
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
                row.segments.append(Segment([char], char.box[0], char.box[2], char.size))
            else:
                last.chars.append(char)
                last.right = max(last.right, char.box[2])
        if row.segments:  # not a row of leader dots alone
            rows.append(row)
    _add_spaces(rows, [c for c in chars if c.text == " "])
    return rows


def _add_spaces(rows: list[Row], spaces: list[Char]) -> None:
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
