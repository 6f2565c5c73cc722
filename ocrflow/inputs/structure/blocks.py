"""Headings and lists of a born-digital page, from its text layer's font sizes, weights and
indentation, written as Markdown.

A line clearly larger than the page's body text is a heading, ranked by size (``#`` for the
largest); a short bold line of body size alone is the lowest heading. A line starting with a
bullet or a number is a list item; the indented lines after it continue it.
"""

from __future__ import annotations

import itertools
import re
import statistics
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass

from ocrflow.inputs.page_glyphs import Char

LARGER = 1.2  # a heading's size over the body's: 10 -> 12 pt, clearly more than a rounding
MAX_HEADING_CHARS = 150  # a longer "heading" is a paragraph set large (a lead, a quote)
MAX_BOLD_HEADING_CHARS = 80  # a bold line of body size that long is emphasis, not a title
MAX_LEVEL = 3
INDENT = 0.5  # font sizes: a continuation line starts this close to its item's text
FULL_LINE = 4.0  # font sizes: a line ending this close to the measure's end is full
MARKER_GAP = 0.15  # font sizes: the space after an item's marker
# Bullets as drawn, with the private-use glyphs of Symbol and Wingdings that Word writes; a
# dash or a star only with a space after it ("-757,15" is a number, "**" no item).
_BULLET = re.compile("^(?:[•◦▪▫●○■□►▸‣⁃∙·\uf0b7\uf0a7\uf0d8\uf076\uf0fc]\\s*|[-*–—]\\s+)(?=\\S)")
# "1." "12)" (CommonMark reads both as an ordered list's marker), "a)", "iv." and the Arabic
# "١." "أ-" "ب)": items written as printed, after a "- " when Markdown has no such marker.
_NUMBERED = re.compile(r"^[0-9]{1,2}[.)]\s+(?=\S)")  # ASCII: CommonMark takes no other digits
_LABELLED = re.compile("^(?:[a-z]\\)|[ivx]{1,4}[.)]|[\u0660-\u0669\u06f0-\u06f9]{1,2}\\s*[.)\\-]"
                       "|[\u0621-\u064a]\\s*[.)\\-])\\s*(?=\\S)")
_SENTENCE_END = (".", ",", ";")


@dataclass
class TextLine:
    chars: list[Char]
    text: str  # logical order
    left: float
    right: float
    top: float
    bottom: float
    size: float
    rtl: bool
    bold: bool = False


def text_line(chars: list[Char], text: str, rtl: bool) -> TextLine:
    ink = [c for c in chars if not c.text.isspace()] or chars
    size = statistics.median(c.size for c in ink)
    return TextLine(chars, text, min(c.box[0] for c in ink), max(c.box[2] for c in ink),
                    max(c.box[3] for c in ink), min(c.box[1] for c in ink), size, rtl)


def body_size(lines: list[TextLine]) -> float:
    """The size most of the page's letters are set in."""
    sizes: Counter[float] = Counter()
    for line in lines:
        sizes[round(line.size * 2) / 2] += len(line.text)
    return sizes.most_common(1)[0][0] if sizes else 0.0


def heading_sizes(lines: list[TextLine], body: float) -> list[float]:
    """The sizes of the page's headings, largest first (rank 0: ``#``)."""
    return sorted({round(line.size * 2) / 2 for line in lines
                   if _headline(line) and line.size >= LARGER * body}, reverse=True)


def _headline(line: TextLine) -> bool:
    return 0 < len(line.text) <= MAX_HEADING_CHARS and any(c.isalpha() for c in line.text)


def heading_level(line: TextLine, body: float, sizes: list[float],
                  bold: Callable[[TextLine], bool]) -> int:
    """1..3 for a heading, 0 for any other line."""
    if not _headline(line):
        return 0
    size = round(line.size * 2) / 2
    if size in sizes:
        return min(sizes.index(size) + 1, MAX_LEVEL)
    short = len(line.text) <= MAX_BOLD_HEADING_CHARS and not line.text.endswith(_SENTENCE_END)
    if short and abs(line.size - body) < 0.5 and list_marker(line.text) is None and bold(line):
        return min(len(sizes) + 1, MAX_LEVEL)
    return 0


def list_marker(text: str) -> str | None:
    """The item's Markdown (its marker made a Markdown one), or None for no item."""
    if match := _BULLET.match(text):
        return "- " + text[match.end():]
    if _NUMBERED.match(text):
        return text
    if _LABELLED.match(text):
        return "- " + text
    return None


def _text_start(item: TextLine) -> float:
    """Where an item's text starts after its marker: the first gap from the line's start
    (its right in a right-to-left line)."""
    ink = sorted((c for c in item.chars if not c.text.isspace()), key=lambda c: c.box[0],
                 reverse=item.rtl)
    for before, after in itertools.pairwise(ink):
        gap = before.box[0] - after.box[2] if item.rtl else after.box[0] - before.box[2]
        if gap >= MARKER_GAP * item.size:
            return after.box[2] if item.rtl else after.box[0]
    return item.right if item.rtl else item.left


def _continues(line: TextLine, item: TextLine) -> bool:
    """A line set under its item's text, past the marker (a hanging indent): a paragraph's
    first line is set in too, but not as far as that, or farther."""
    start = _text_start(item)
    edge = line.right if line.rtl else line.left
    return abs(edge - start) <= INDENT * item.size


def _full(line: TextLine, measure: tuple[float, float]) -> bool:
    """A line that runs to the end of the text's measure: its text goes on on the next line
    (a list item's last line stops short)."""
    slack = FULL_LINE * line.size
    return line.left <= measure[0] + slack if line.rtl else line.right >= measure[1] - slack


@dataclass
class Blocks:
    markdown: str
    headings: int = 0
    items: int = 0


def markdown(lines: list[TextLine], body: float, sizes: list[float],
             bold: Callable[[TextLine], bool]) -> Blocks:
    """A run of lines (between tables) as Markdown: plain lines as they are, one per line;
    headings and lists set apart by blank lines."""
    out: list[str] = []
    found = Blocks("")
    item: TextLine | None = None  # the open list item's first line
    last: TextLine | None = None  # the line before
    measure = (min(line.left for line in lines), max(line.right for line in lines)) \
        if lines else (0.0, 0.0)
    heading: tuple[int, TextLine] | None = None
    for line in lines:
        before, last = last, line
        level = heading_level(line, body, sizes, bold)
        if level and heading and heading[0] == level and out and \
                heading[1].bottom - line.top <= line.size:  # a heading on two lines
            out[-1] += " " + line.text
            continue
        if level:
            out.append("")
            out.append("#" * level + " " + line.text)
            out.append("")
            found.headings += 1
            heading, item = (level, line), None
            continue
        heading = None
        marked = list_marker(line.text)
        if marked is not None:
            if item is None:
                out.append("")
            out.append(_nested(line, item, out) + marked)
            item = line
            found.items += 1
            continue
        if item is not None and before is not None and _full(before, measure) and \
                _continues(line, item):
            out[-1] += " " + line.text
            continue
        if item is not None:
            out.append("")
        item = None
        out.append(line.text)
    found.markdown = "\n".join(out)
    return found


def _nested(line: TextLine, item: TextLine | None, out: list[str]) -> str:
    """Two spaces of indent for an item set further in than the one before it, and keeping
    the indent of the item before when at its position."""
    if item is None:
        return ""
    before = out[-1][: len(out[-1]) - len(out[-1].lstrip(" "))]
    deeper = (item.right - line.right if line.rtl else line.left - item.left) >= item.size
    shallower = (line.right - item.right if line.rtl else item.left - line.left) >= item.size
    if deeper:
        return before + "  "
    if shallower:
        return before[:-2]
    return before
