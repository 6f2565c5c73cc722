"""A text layer with right-to-left text, read in logical order (the order it is typed and read).

PDFs draw glyphs where they appear on the page, left to right; which order the characters come
out in depends on the producer and the extractor. pdfium reverses each right-to-left text
object, which is right for most producers but reads some (the Arabic words of a mixed French
line, a writer that draws glyph by glyph in logical order) backwards; pypdf follows the content
stream and loses spaces. So a page with right-to-left characters gets several readings, and the
trust signals choose between them in the parent process (``inventory.judge_text_layers``):

- ``lines``: pdfium's characters put in the order the page shows them (their pen positions),
  line by line, then turned into logical order (``visual_to_logical``);
- ``pdfium``: pdfium's own text;
- ``pypdf``: pypdf's text.

Pages without right-to-left characters keep pdfium's text and cost nothing more.
"""

from __future__ import annotations

import ctypes
import re
import unicodedata
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

# Hebrew to NKo and Samaritan..Arabic Extended-A, Hebrew and Arabic presentation forms, and the
# right-to-left blocks of the supplementary planes (Imperial Aramaic..., Adlam, Arabic math).
_RTL = re.compile("[\u0590-\u08ff\ufb1d-\ufdff\ufe70-\ufefc\U00010800-\U00010fff"
                  "\U0001e800-\U0001efff]")
# Presentation forms are how a shaped glyph looks, not a letter: word lists and search want
# the base letters (NFKC: U+FEDF "ﻟ" -> U+0644 "ل", the lam-alef ligature -> two letters).
_PRESENTATION_FORMS = re.compile("[\ufb1d-\ufdff\ufe70-\ufefe]+")
_MIRRORED = dict(zip("()[]{}<>«»‹›", ")(][}{><»«›‹", strict=True))
# Arabic letters that join only the letter before them: none can start a ligature (lam-alef is
# "لا", never "ال"), so a ligature glyph whose letters start with one came out reversed.
_RIGHT_JOINING = set("اأإآٱدذرزوؤةژڈڑۀۃۄۅۆۇۈۉۊۋۍۏ")
# A gap between two glyphs of a line this many font sizes wide or more is no word space (a
# quarter em, half an em justified) but a gutter: table cells, or text set at both margins.
CELL_GAP = 1.0
_NUMBER_SEPARATORS = set(".,:/-٫٬")
_TRAILING_PUNCTUATION = set(",.;:!?،؛؟")
_ARABIC_DIGITS = re.compile("[\u0660-\u0669\u06f0-\u06f9]")
_HYPHEN = "\x02"  # pdfium's mark of a hyphen that ends a line inside a word

@dataclass(frozen=True)
class LayerReading:
    """One extractor's text of a page's layer."""

    source: str  # "lines", "pdfium" or "pypdf"
    text: str
    usable: bool = False  # enough characters, few junk (inventory.usable_text)


def clean_text_layer(text: str) -> str:
    """pdfium's text as a reader sees it: a word hyphenated at a line end (pdfium marks the
    hyphen \x02) or split by a soft hyphen is joined, line breaks are "\n"."""
    text = text.replace("\r\n", "\n").replace("\r", "\n")
    return _SOFT_HYPHEN.sub("", text.replace("\x02", ""))


_SOFT_HYPHEN = re.compile("\u00ad\n?")


def has_rtl(text: str) -> bool:
    return _RTL.search(text) is not None


def fold_presentation_forms(text: str) -> str:
    return _PRESENTATION_FORMS.sub(lambda m: unicodedata.normalize("NFKC", m.group()), text)


def is_rtl(char: str) -> bool:
    return unicodedata.bidirectional(char) in ("R", "AL")


def _is_ltr(char: str) -> bool:
    return unicodedata.bidirectional(char) == "L"


# --- from pdfium's characters to glyphs in the order the page shows them ---------------------


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
class _Char:
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
class _Glyph:
    text: str  # a letter and its marks, or a ligature's letters, in logical order
    x: float
    left: float  # span: pen positions and ink
    right: float
    size: float
    order: int = 0  # where pdfium's order has its first character

    @property
    def space(self) -> bool:
        return self.text.isspace()


def _page_chars(textpage: Any) -> list[_Char]:
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
        chars.append(_Char(text, x.value, y.value, pdfium_c.FPDFText_GetFontSize(raw, index),
                           textpage.get_charbox(index), (loose[0], loose[2]), index))
    return chars


def _split_lines(chars: list[_Char]) -> list[list[_Char]]:
    """pdfium's lines: it ends each with a line break, but runs a line that ends inside a
    hyphenated word on into the next (its hyphen mark between them), which in a justified
    TeX paragraph is most lines; sorted together, two lines' glyphs interleave. So a letter
    LINE_JUMP font sizes above or below the letter before it starts a line too."""
    lines: list[list[_Char]] = [[]]
    last: _Char | None = None  # the line's last letter: marks and spaces may sit off it
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


def _marks_of_next_line(line: list[_Char], last: _Char, first: _Char) -> list[_Char]:
    """The marks ending ``line`` that lie on the next line's baseline (pdfium puts a mark
    before its letter when it reverses a right-to-left text), taken off ``line``."""
    moved: list[_Char] = []
    while line and line[-1].mark and abs(line[-1].y - first.y) < abs(line[-1].y - last.y):
        moved.insert(0, line.pop())
    return moved


def _baseline(line: list[_Char]) -> tuple[float, float]:
    """(baseline, font size) of a line: those of most of its letters (marks may be raised)."""
    letters = sorted((c for c in line if not c.mark and not c.space), key=lambda c: c.y) or line
    middle = letters[len(letters) // 2]
    return middle.y, max(middle.size, 1.0)


def _extent(line: list[_Char]) -> tuple[float, float]:
    return min(c.box[0] for c in line), max(c.box[2] for c in line)


def _same_line(a: list[_Char], b: list[_Char]) -> bool:
    (y_a, size), (y_b, _) = _baseline(a), _baseline(b)
    (left_a, right_a), (left_b, right_b) = _extent(a), _extent(b)
    gap = max(left_a, left_b) - min(right_a, right_b)
    return abs(y_a - y_b) <= SAME_BASELINE * size and gap <= LINE_REACH * size


def _lines(chars: list[_Char]) -> list[list[_Char]]:
    """pdfium's lines, with the pieces it split off a right-to-left line joined back: a writer
    that draws such a line piece by piece may draw its first word last, and pdfium then starts
    a new line with it. Lines side by side but far apart (columns) stay apart; lines without
    right-to-left text stay as pdfium made them."""
    lines: list[list[_Char]] = []
    for piece in _split_lines(chars):
        line = None
        if has_rtl("".join(c.text for c in piece)):
            line = next((line for line in lines if _same_line(line, piece)), None)
        if line is None:
            lines.append(piece)
        else:
            line.extend(piece)
    return lines


def _overlap(a: _Char, b: _Char) -> float:
    return min(a.box[2], b.box[2]) - max(a.box[0], b.box[0])


MARK_REACH = 3  # characters from a mark, in pdfium's order, where its letter may be


def _letter(char: _Char) -> bool:
    return not char.mark and not char.space


def _letter_beside(line: list[_Char], i: int, step: int) -> int | None:
    """The nearest letter before (step -1) or after (1) a mark, past other marks (a shadda and
    a fatha on one letter): a space is no mark's letter."""
    j = i + step
    while 0 <= j < len(line) and line[j].mark:
        j += step
    return j if 0 <= j < len(line) and _letter(line[j]) else None


def _owners(line: list[_Char]) -> list[int]:
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


def _glyphs(line: list[_Char]) -> list[_Glyph]:
    members: dict[int, list[int]] = {}
    for i, base in enumerate(_owners(line)):
        members.setdefault(base, []).append(i)
    glyphs = []
    for base, group in members.items():
        chars = [line[i] for i in group if not line[i].mark] + \
                [line[i] for i in group if line[i].mark]
        letters = "".join(c.text for c in chars if not c.mark)
        if len(letters) > 1 and letters[0] in _RIGHT_JOINING and is_rtl(letters[-1]):
            # pdfium reversed the text object, the ligature's letters with it
            chars = [*reversed([c for c in chars if not c.mark]), *(c for c in chars if c.mark)]
        glyphs.append(_Glyph("".join(c.text for c in chars), line[base].x,
                             min(c.span[0] for c in chars), max(c.span[1] for c in chars),
                             line[base].size, min(c.index for c in chars)))
    return glyphs


def _visual_order(glyphs: list[_Glyph]) -> list[_Glyph]:
    """The glyphs left to right, one space between words: where the PDF draws a space, or
    where a gap is as wide as one (pdfium's own spaces can land inside a word: "و يعمل").
    A space drawn where a letter is drawn moves no pen and lies at that letter's left edge (a
    zero-width non-joiner inside a Persian word, "می‌شود", which pdfium reads as a space)."""
    ordered: list[_Glyph] = []
    # stable: pdfium's order breaks a tie between letters
    for glyph in sorted(glyphs, key=lambda g: (g.x, not g.space)):
        if glyph.space:
            drawn = glyph.right - glyph.left > DRAWN_SPACE * glyph.size
            if drawn and ordered and not ordered[-1].space:
                ordered.append(glyph)
            continue
        if ordered and not ordered[-1].space and \
                glyph.left - ordered[-1].right > WORD_GAP * glyph.size:
            ordered.append(_Glyph(" ", glyph.left, glyph.left, glyph.left, glyph.size))
        ordered.append(glyph)
    while ordered and ordered[-1].space:
        ordered.pop()
    return ordered


# --- visual order to logical order -------------------------------------------------------------


@dataclass
class _Atom:
    text: str
    kind: str  # "R", "L": a letter; "N": a number; "O": space or punctuation
    direction: str = ""  # resolved: "R" or "L"


def _atoms(glyphs: list[_Glyph]) -> list[_Atom]:
    """Glyphs in visual order as letters, numbers (digits and the separators between them,
    which read left to right in every script) and neutrals."""
    atoms: list[_Atom] = []
    i = 0
    while i < len(glyphs):
        first = glyphs[i].text[0]
        if first.isdigit():
            j = i + 1
            while j < len(glyphs) and (glyphs[j].text[0].isdigit() or (
                    glyphs[j].text in _NUMBER_SEPARATORS and j + 1 < len(glyphs)
                    and glyphs[j + 1].text[0].isdigit())):
                j += 1
            atoms.append(_Atom("".join(g.text for g in glyphs[i:j]), "N"))
            i = j
            continue
        kind = "R" if is_rtl(first) else "L" if _is_ltr(first) else "O"
        atoms.append(_Atom(glyphs[i].text, kind))
        i += 1
    return atoms


def _words_starting(atoms: list[_Atom], kind: str) -> int:
    """Words (runs of letters) of one direction."""
    return sum(1 for i, atom in enumerate(atoms)
               if atom.kind == kind and (i == 0 or atoms[i - 1].kind != kind))


def _nearest(atoms: list[_Atom], start: int, step: int, kinds: str) -> int | None:
    """Index of the nearest atom of one of ``kinds`` from ``start`` (excluded) going ``step``."""
    i = start + step
    while 0 <= i < len(atoms):
        if atoms[i].kind in kinds and not atoms[i].text.isspace():
            return i
        i += step
    return None


def _kind_at(atoms: list[_Atom], index: int | None) -> str:
    return "" if index is None else atoms[index].kind


def _resolve_number(atoms: list[_Atom], i: int, base: str) -> str:
    """Which run a number belongs to. Digits always read left to right; the question is
    whether the number is read with the Arabic beside it. A number that is one word with Latin
    letters ("A123456") is Latin. In an Arabic line it is, unless Latin words enclose it or it
    lies between a Latin word and the line's end ("Janvier 2026"). In a Latin line, a number
    just left of an Arabic phrase ends that phrase (Unicode's bidi shows "المرسوم رقم 2.21.45"
    so), unless a Latin word or a number is right before it ("12 mars 2021")."""
    left = _kind_at(atoms, _nearest(atoms, i, -1, "RL"))
    right = _kind_at(atoms, _nearest(atoms, i, 1, "RL"))
    if "L" in (_kind_at(atoms, i - 1 if i else None),
               _kind_at(atoms, i + 1 if i + 1 < len(atoms) else None)):
        return "L"
    if _ARABIC_DIGITS.search(atoms[i].text) and "R" in (left, right):
        return "R"  # Arabic-Indic digits go with the Arabic beside them: "سنة ١٩٥٥"
    if base == "R":  # "Janvier 2026" at a line's end reads as one Latin phrase
        return "L" if {left, right} <= {"L", ""} and "L" in (left, right) else "R"
    if right != "R":
        return "L"
    before = _nearest(atoms, i, -1, "RLNO")
    if before is not None and atoms[before].kind in "LN" and atoms[before].direction != "R":
        return "L"
    return "R"


def _resolve(atoms: list[_Atom], base: str) -> None:
    for atom in atoms:
        if atom.kind in "RL":
            atom.direction = atom.kind
    for i, atom in enumerate(atoms):
        if atom.kind == "N":
            atom.direction = _resolve_number(atoms, i, base)
    anchored: set[int] = set()
    for i, atom in enumerate(atoms):
        if atom.kind == "O" and atom.text in _TRAILING_PUNCTUATION:
            atom.direction = _punctuation_side(atoms, i)
            if atom.direction:
                anchored.add(i)
    for i, atom in enumerate(atoms):
        if atom.kind == "O" and i not in anchored:
            # a neutral between two runs of one direction takes it
            sides = {atoms[j].direction if j is not None else base
                     for j in (_nearest_anchor(atoms, i, -1, anchored),
                               _nearest_anchor(atoms, i, 1, anchored))}
            atom.direction = sides.pop() if len(sides) == 1 else base


def _punctuation_side(atoms: list[_Atom], i: int) -> str:
    """A comma or a full stop ends the word before it in reading order, so it touches that
    word and has a space on its other side: touching the word on its left it reads left to
    right after it ("القاهرة, دمشق" as TeX sets two Arabic words in a French line), on its
    right, right to left ("دمشق ,القاهرة", the same words as Unicode's bidi shows them).
    "" when it touches both sides or neither."""
    def touches(j: int) -> bool:
        return 0 <= j < len(atoms) and not atoms[j].text.isspace()

    left, right = touches(i - 1), touches(i + 1)
    if left == right:
        return ""
    return "L" if left else "R"


def _nearest_anchor(atoms: list[_Atom], start: int, step: int, anchored: set[int]) -> int | None:
    """The nearest letter, number or punctuation with a known side from ``start``."""
    i = start + step
    while 0 <= i < len(atoms):
        if (atoms[i].kind in "RLN" or i in anchored) and not atoms[i].text.isspace():
            return i
        i += step
    return None


def _runs(atoms: list[_Atom]) -> list[list[_Atom]]:
    runs: list[list[_Atom]] = []
    for atom in atoms:
        if runs and runs[-1][0].direction == atom.direction:
            runs[-1].append(atom)
        else:
            runs.append([atom])
    return runs


def _logical_run(run: list[_Atom]) -> str:
    if run[0].direction == "L":
        return "".join(atom.text for atom in run)
    # Shown right to left: read from the right. A bracket shown as "(" closes a phrase there.
    return "".join(_MIRRORED.get(atom.text, atom.text) for atom in reversed(run))


def _first_strong(glyphs: list[_Glyph]) -> str:
    """The direction of the letter the PDF draws first ("" when none): Unicode's bidi takes a
    paragraph's direction from its first letter, and producers draw in reading order, but for
    the letters of a right-to-left object pdfium reverses (so a letter of either direction)."""
    strong = [g for g in glyphs if is_rtl(g.text[0]) or _is_ltr(g.text[0])]
    if not strong:
        return ""
    return "R" if is_rtl(min(strong, key=lambda g: g.order).text[0]) else "L"


def visual_to_logical(glyphs: list[_Glyph], paragraph: str = "") -> str:
    """One line (or table cell), glyphs left to right as shown, in the order it is read. It is
    read right to left when most of its words are right-to-left ones, left to right when most
    are left-to-right ones (its first word in reading order would say, but which word that is
    depends on the answer); a tie goes to the letter the PDF draws first. ``paragraph``: the
    direction of the paragraph the line is part of ("R", "L"; "" when not known), which a
    line with words of both directions takes (a French line's two Arabic phrases outnumber its
    French words, and it still reads left to right)."""
    atoms = _atoms(glyphs)
    rtl, ltr = _words_starting(atoms, "R"), _words_starting(atoms, "L")
    if rtl and ltr and paragraph:
        base = paragraph
    else:
        base = "R" if rtl > ltr else "L" if ltr > rtl else (_first_strong(glyphs) or "R")
    _resolve(atoms, base)
    runs = _runs(atoms)
    if base == "R":
        runs.reverse()
    return "".join(_logical_run(run) for run in runs).strip()


def _cells(glyphs: list[_Glyph]) -> list[list[_Glyph]]:
    """A line cut at its gutters (gaps of CELL_GAP font sizes or more): a table row's cells."""
    cells: list[list[_Glyph]] = [[]]
    last: _Glyph | None = None  # the last glyph with ink
    for glyph in glyphs:
        if glyph.space:
            cells[-1].append(glyph)
            continue
        if last is not None and glyph.left - last.right >= CELL_GAP * glyph.size:
            cells.append([])
        cells[-1].append(glyph)
        last = glyph
    return [cell for cell in cells if any(not g.space for g in cell)]


def line_text(glyphs: list[_Glyph], paragraph: str = "") -> str:
    """A line in logical order. Each cell is its own paragraph, and the cells are read in the
    order the PDF draws them (a French table with an Arabic column left to right, an Arabic
    one right to left): which way a table reads is not in its glyphs. ``paragraph``: the
    direction of the paragraph a line of one cell is part of (see visual_to_logical)."""
    cells = sorted(_cells(glyphs), key=lambda cell: min(g.order for g in cell))
    if len(cells) > 1:
        paragraph = ""
    return " ".join(filter(None, (visual_to_logical(cell, paragraph) for cell in cells)))


# Baselines of one paragraph's lines are this many font sizes apart or less.
PARAGRAPH_LEADING = 2.0


def _word_directions(line: list[_Char]) -> tuple[int, int]:
    """(right-to-left, left-to-right) words of a line, by their first letter."""
    rtl = ltr = 0
    for word in "".join(char.text for char in line).split():
        letter = next((c for c in word if c.isalpha()), "")
        rtl += bool(letter) and is_rtl(letter)
        ltr += bool(letter) and _is_ltr(letter)
    return rtl, ltr


def _same_paragraph(a: list[_Char], b: list[_Char]) -> bool:
    """Lines one above the other, close, in one font size, over the same width."""
    (y_a, size_a), (y_b, size_b) = _baseline(a), _baseline(b)
    (left_a, right_a), (left_b, right_b) = _extent(a), _extent(b)
    shared = min(right_a, right_b) - max(left_a, left_b)
    narrower = min(right_a - left_a, right_b - left_b)
    return 0 < abs(y_a - y_b) <= PARAGRAPH_LEADING * size_a and \
        abs(size_a - size_b) <= 0.2 * size_a and shared > 0.5 * narrower


def _paragraph_directions(lines: list[list[_Char]]) -> list[str]:
    """Each line's paragraph direction (Unicode's bidi takes it from the paragraph, not the
    line): that of most of the line's words, unless the line is nearly as much of one
    direction as of the other (a French line with two Arabic phrases), which then takes the
    direction of the line above it in its paragraph; "" when none says."""
    directions: list[str] = []
    for i, line in enumerate(lines):
        rtl, ltr = _word_directions(line)
        direction = "R" if rtl > ltr else "L" if ltr > rtl else ""
        if 2 * min(rtl, ltr) >= max(rtl, ltr) > 0 and i and _same_paragraph(lines[i - 1], line):
            direction = directions[i - 1] or direction
        directions.append(direction)
    return directions


def positioned_text(textpage: Any) -> str:
    """pdfium's characters, each line in logical order as its glyphs' positions say; lines
    without right-to-left characters as pdfium gives them."""
    parts = []
    lines = _lines(_page_chars(textpage))
    for line, paragraph in zip(lines, _paragraph_directions(lines), strict=True):
        text = "".join(char.text for char in line)
        if has_rtl(text):
            text = line_text(_visual_order(_glyphs(line)), paragraph).replace(_HYPHEN, "")
        # pdfium ends a line hyphenated at its end with its hyphen mark and no line break
        # (the inventory joins the word): a line split off at the baseline keeps that
        parts += [text, _HYPHEN if line[-1].text == _HYPHEN else "\n"]
    return "".join(parts[:-1])


# --- the other readings, and the page's set ---------------------------------------------------


def readings(textpage: Any, pdfium_text: str, pypdf_text: Callable[[], str | None],
             clean: Callable[[str], str]) -> list[LayerReading]:
    """The readings of a page with right-to-left text, best guess first (``lines``: the one a
    tie goes to); ``clean``: the inventory's cleaning of a layer's text."""
    found = [LayerReading("lines", positioned_text(textpage)),
             LayerReading("pdfium", pdfium_text)]
    other = pypdf_text()
    if other is not None:
        found.append(LayerReading("pypdf", other))
    result, seen = [], set()
    for reading in found:
        text = fold_presentation_forms(clean(reading.text))
        if text not in seen:
            seen.add(text)
            result.append(LayerReading(reading.source, text))
    return result
