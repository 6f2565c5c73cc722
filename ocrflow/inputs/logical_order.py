"""Glyphs in visual order (left to right, as the page shows them) turned into logical order
(the order a line is typed and read): Unicode's bidi resolution as right-to-left and mixed lines
need it, with numbers, punctuation and brackets placed as the producers of French and Arabic
documents set them; and which way each line's paragraph reads.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from ocrflow.inputs.page_glyphs import CELL_GAP, Char, Glyph, baseline, extent
from ocrflow.text.scripts import is_left_to_right, is_right_to_left

_MIRRORED = dict(zip("()[]{}<>«»‹›", ")(][}{><»«›‹", strict=True))
_NUMBER_SEPARATORS = set(".,:/-٫٬")
_TRAILING_PUNCTUATION = set(",.;:!?،؛؟")
_ARABIC_DIGITS = re.compile("[\u0660-\u0669\u06f0-\u06f9]")


@dataclass
class _Atom:
    text: str
    kind: str  # "R", "L": a letter; "N": a number; "O": space or punctuation
    direction: str = ""  # resolved: "R" or "L"


def _atoms(glyphs: list[Glyph]) -> list[_Atom]:
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
        kind = "R" if is_right_to_left(first) else "L" if is_left_to_right(first) else "O"
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


def _first_strong(glyphs: list[Glyph]) -> str:
    """The direction of the letter the PDF draws first ("" when none): Unicode's bidi takes a
    paragraph's direction from its first letter, and producers draw in reading order, but for
    the letters of a right-to-left object pdfium reverses (so a letter of either direction)."""
    strong = [g for g in glyphs if is_right_to_left(g.text[0]) or is_left_to_right(g.text[0])]
    if not strong:
        return ""
    return "R" if is_right_to_left(min(strong, key=lambda g: g.order).text[0]) else "L"


def visual_to_logical(glyphs: list[Glyph], paragraph: str = "") -> str:
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


def _cells(glyphs: list[Glyph]) -> list[list[Glyph]]:
    """A line cut at its gutters (gaps of CELL_GAP font sizes or more): a table row's cells."""
    cells: list[list[Glyph]] = [[]]
    last: Glyph | None = None  # the last glyph with ink
    for glyph in glyphs:
        if glyph.space:
            cells[-1].append(glyph)
            continue
        if last is not None and glyph.left - last.right >= CELL_GAP * glyph.size:
            cells.append([])
        cells[-1].append(glyph)
        last = glyph
    return [cell for cell in cells if any(not g.space for g in cell)]


def line_text(glyphs: list[Glyph], paragraph: str = "") -> str:
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


def _word_directions(line: list[Char]) -> tuple[int, int]:
    """(right-to-left, left-to-right) words of a line, by their first letter."""
    rtl = ltr = 0
    for word in "".join(char.text for char in line).split():
        letter = next((c for c in word if c.isalpha()), "")
        rtl += bool(letter) and is_right_to_left(letter)
        ltr += bool(letter) and is_left_to_right(letter)
    return rtl, ltr


def _same_paragraph(a: list[Char], b: list[Char]) -> bool:
    """Lines one above the other, close, in one font size, over the same width."""
    (y_a, size_a), (y_b, size_b) = baseline(a), baseline(b)
    (left_a, right_a), (left_b, right_b) = extent(a), extent(b)
    shared = min(right_a, right_b) - max(left_a, left_b)
    narrower = min(right_a - left_a, right_b - left_b)
    return 0 < abs(y_a - y_b) <= PARAGRAPH_LEADING * size_a and \
        abs(size_a - size_b) <= 0.2 * size_a and shared > 0.5 * narrower


def paragraph_directions(lines: list[list[Char]]) -> list[str]:
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
