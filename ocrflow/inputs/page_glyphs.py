"""pdfium's characters of a page, grouped into lines and glyphs in the order the page shows
them (their pen positions): the geometry that ``logical_order`` reads right-to-left lines from
and ``structure`` reads tables, headings and lists from.
"""

from __future__ import annotations

import ctypes
import unicodedata
from dataclasses import dataclass
from typing import Any

from ocrflow.inputs.text_layer import has_rtl
from ocrflow.text.scripts import is_right_to_left

# Arabic letters that join only the letter before them: none can start a ligature (lam-alef is
# "لا", never "ال"), so a ligature glyph whose letters start with one came out reversed.
RIGHT_JOINING = set("اأإآٱدذرزوؤةژڈڑۀۃۄۅۆۇۈۉۊۋۍۏ")
# A gap between two glyphs of a line this many font sizes wide or more is no word space (a
# quarter em, half an em justified) but a gutter: table cells, or text set at both margins.
CELL_GAP = 1.0
# A gap between two glyphs (from where the pen left one to where it drew the next) wider than
# this share of the font size is a space: letters of a word touch (kerning moves them a few
# hundredths), a space is a quarter em, and less in an Arabic font shrunk by justification
# (Amiri's in XeTeX: 0.15-0.2). Poppler breaks words there too.
WORD_GAP = 0.1
DRAWN_SPACE = 0.05  # a space character this wide or wider is a space the PDF draws
SAME_BASELINE = 0.3  # baselines this share of the font size apart are one line
LINE_REACH = 1.0  # pieces of a line this many font sizes apart or less are one line
# Lines are a font size and more apart; a superscript rises half of one, a subscript less.
LINE_JUMP = 0.7


@dataclass
class Char:
    text: str
    x: float  # pen position (origin): where the glyph is drawn
    y: float  # its baseline
    size: float  # font size, points
    box: tuple[float, float, float, float]  # ink bounds: left, bottom, right, top
    span: tuple[float, float]  # from the pen position to where the pen goes next, and the ink
    index: int = 0  # pdfium's order: the order the PDF draws it in

    @property
    def mark(self) -> bool:
        return unicodedata.category(self.text)[0] == "M"

    @property
    def space(self) -> bool:
        return self.text.isspace()


@dataclass
class Glyph:
    text: str  # a letter and its marks, or a ligature's letters, in logical order
    x: float
    left: float  # span: pen positions and ink
    right: float
    size: float
    order: int = 0  # where pdfium's order has its first character

    @property
    def space(self) -> bool:
        return self.text.isspace()


def page_chars(textpage: Any) -> list[Char]:
    """The characters in pdfium's order; a line break as "\n"."""
    import pypdfium2.raw as pdfium_c

    raw, chars = textpage.raw, []
    x, y = ctypes.c_double(), ctypes.c_double()
    for index in range(textpage.count_chars()):
        code = pdfium_c.FPDFText_GetUnicode(raw, index)
        if not code:
            continue
        pdfium_c.FPDFText_GetCharOrigin(raw, index, x, y)
        text = "\n" if chr(code) in "\r\n" else chr(code)
        loose = textpage.get_charbox(index, loose=True)
        chars.append(Char(text, x.value, y.value, pdfium_c.FPDFText_GetFontSize(raw, index),
                           textpage.get_charbox(index), (loose[0], loose[2]), index))
    return chars


def _split_lines(chars: list[Char]) -> list[list[Char]]:
    """pdfium's lines: it ends each with a line break, but runs a line that ends inside a
    hyphenated word on into the next (its hyphen mark between them), which in a justified
    TeX paragraph is most lines; sorted together, two lines' glyphs interleave. So a letter
    LINE_JUMP font sizes above or below the letter before it starts a line too."""
    lines: list[list[Char]] = [[]]
    last: Char | None = None  # the line's last letter: marks and spaces may sit off it
    for char in chars:
        if char.text == "\n":
            lines.append([])
            last = None
            continue
        if not char.mark and not char.space:
            if last is not None and \
                    abs(char.y - last.y) > LINE_JUMP * max(char.size, last.size, 1.0):
                lines.append(_marks_of_next_line(lines[-1], last, char))
            last = char
        lines[-1].append(char)
    return [line for line in lines if line]


def _marks_of_next_line(line: list[Char], last: Char, first: Char) -> list[Char]:
    """The marks ending ``line`` that lie on the next line's baseline (pdfium puts a mark
    before its letter when it reverses a right-to-left text), taken off ``line``."""
    moved: list[Char] = []
    while line and line[-1].mark and abs(line[-1].y - first.y) < abs(line[-1].y - last.y):
        moved.insert(0, line.pop())
    return moved


def baseline(line: list[Char]) -> tuple[float, float]:
    """(baseline, font size) of a line: those of most of its letters (marks may be raised)."""
    letters = sorted((c for c in line if not c.mark and not c.space), key=lambda c: c.y) or line
    middle = letters[len(letters) // 2]
    return middle.y, max(middle.size, 1.0)


def extent(line: list[Char]) -> tuple[float, float]:
    return min(c.box[0] for c in line), max(c.box[2] for c in line)


def _same_line(a: list[Char], b: list[Char]) -> bool:
    (y_a, size), (y_b, _) = baseline(a), baseline(b)
    (left_a, right_a), (left_b, right_b) = extent(a), extent(b)
    gap = max(left_a, left_b) - min(right_a, right_b)
    return abs(y_a - y_b) <= SAME_BASELINE * size and gap <= LINE_REACH * size


def page_lines(chars: list[Char]) -> list[list[Char]]:
    """pdfium's lines, with the pieces it split off a right-to-left line joined back: a writer
    that draws such a line piece by piece may draw its first word last, and pdfium then starts
    a new line with it. Lines side by side but far apart (columns) stay apart; lines without
    right-to-left text stay as pdfium made them."""
    lines: list[list[Char]] = []
    for piece in _split_lines(chars):
        line = None
        if has_rtl("".join(c.text for c in piece)):
            line = next((line for line in lines if _same_line(line, piece)), None)
        if line is None:
            lines.append(piece)
        else:
            line.extend(piece)
    return lines


def _overlap(a: Char, b: Char) -> float:
    return min(a.box[2], b.box[2]) - max(a.box[0], b.box[0])


MARK_REACH = 3  # characters from a mark, in pdfium's order, where its letter may be


def _letter(char: Char) -> bool:
    return not char.mark and not char.space


def _letter_beside(line: list[Char], i: int, step: int) -> int | None:
    """The nearest letter before (step -1) or after (1) a mark, past other marks (a shadda and
    a fatha on one letter): a space is no mark's letter."""
    j = i + step
    while 0 <= j < len(line) and line[j].mark:
        j += step
    return j if 0 <= j < len(line) and _letter(line[j]) else None


def _owners(line: list[Char]) -> list[int]:
    """Which character each belongs to: a mark to the letter beside it (in pdfium's order) that
    it lies over, since pdfium puts a mark before its letter when it reversed the text, after
    it otherwise; letters drawn at one position with one box to the first (a ligature mapped
    to several letters); any other character to itself."""
    owner = list(range(len(line)))
    for i, char in enumerate(line):
        if not char.mark:
            continue
        near = [j for j in (_letter_beside(line, i, -1), _letter_beside(line, i, 1))
                if j is not None]
        if not any(_overlap(char, line[j]) > 0 for j in near):
            # LuaTeX's marks may come a few characters from their letter in pdfium's order
            # (ش ل َ ّ س for "الشَّمْس"): the letter nearby that the mark lies over
            near += [j for j in range(max(0, i - MARK_REACH), min(len(line), i + MARK_REACH + 1))
                     if _letter(line[j]) and _overlap(char, line[j]) > 0]
        if near:
            owner[i] = max(near, key=lambda j: (_overlap(char, line[j]), -abs(j - i), -j))
    for i in range(1, len(line)):
        same = (line[i].x, line[i].box) == (line[i - 1].x, line[i - 1].box)
        if same and not line[i].mark and not line[i].space:
            owner[i] = owner[i - 1]
    return owner


def line_glyphs(line: list[Char]) -> list[Glyph]:
    members: dict[int, list[int]] = {}
    for i, base in enumerate(_owners(line)):
        members.setdefault(base, []).append(i)
    glyphs = []
    for base, group in members.items():
        chars = [line[i] for i in group if not line[i].mark] + \
                [line[i] for i in group if line[i].mark]
        letters = "".join(c.text for c in chars if not c.mark)
        if len(letters) > 1 and letters[0] in RIGHT_JOINING and is_right_to_left(letters[-1]):
            # pdfium reversed the text object, the ligature's letters with it
            chars = [*reversed([c for c in chars if not c.mark]), *(c for c in chars if c.mark)]
        glyphs.append(Glyph("".join(c.text for c in chars), line[base].x,
                             min(c.span[0] for c in chars), max(c.span[1] for c in chars),
                             line[base].size, min(c.index for c in chars)))
    return glyphs


def visual_order(glyphs: list[Glyph]) -> list[Glyph]:
    """The glyphs left to right, one space between words: where the PDF draws a space, or
    where a gap is as wide as one (pdfium's own spaces can land inside a word: "و يعمل").
    A space drawn where a letter is drawn moves no pen and lies at that letter's left edge (a
    zero-width non-joiner inside a Persian word, "می‌شود", which pdfium reads as a space)."""
    ordered: list[Glyph] = []
    # stable: pdfium's order breaks a tie between letters
    for glyph in sorted(glyphs, key=lambda g: (g.x, not g.space)):
        if glyph.space:
            drawn = glyph.right - glyph.left > DRAWN_SPACE * glyph.size
            if drawn and ordered and not ordered[-1].space:
                ordered.append(glyph)
            continue
        if ordered and not ordered[-1].space and \
                glyph.left - ordered[-1].right > WORD_GAP * glyph.size:
            ordered.append(Glyph(" ", glyph.left, glyph.left, glyph.left, glyph.size))
        ordered.append(glyph)
    while ordered and ordered[-1].space:
        ordered.pop()
    return ordered
