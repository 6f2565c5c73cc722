"""Running heads, running feet and page numbers: the lines a document repeats at the top or the
bottom of most of its pages ("Bulletin officiel n° 7290 – 12 rabii I 1446 (16-9-2024)",
"Page 3 / 12", "- 3 -", "Confidential"), found and removed so that a page's text reads on into
the next one.

Rules (``find_repeated``):

- Only the edges are looked at: the first and the last ``max_lines`` non-blank lines of a page.
  A line further in is never removed, however often it recurs, and removal goes from each edge
  inwards up to the first line that stays: never a line between two kept ones.
- Lines are compared normalised (NFKC, case folded, vowel marks, tatweel and Markdown emphasis
  dropped, whitespace collapsed), with every run of digits (Arabic-Indic too) as one placeholder
  and a "page 3 of 12" phrase dropped, so a running head whose page number or date changes
  still matches. But at most two values (a page number, a date) may change from page to page,
  none in a line without words: a table's rows whose figures change are no running head.
- A line is repeated when it is at the same edge (top or bottom) of at least ``min_share`` of the
  pages and of at least ``min_pages`` pages: a 2-page document is never stripped, and a heading
  that recurs on a few pages (the document's own structure) stays.
- Page numbers ("3", "- 3 -", "Page 3 of 12", "3/12", "iv" (roman up to xxxix), "ص ٣") all
  count as one line. And a number at the start or end of a page's outermost line (or a bare
  page number anywhere in its edge) that is the page's position plus the same offset on enough
  pages is the document's folio: the line carrying it is removed even where its text changes
  ("Chapter 4: Function reference 9", "6052 BULLETIN OFFICIEL ...").
- A line of HTML markup (a table's) is never removed: a table at the top of every page stays whole.
- On the first page, the repeated lines stay, page numbers aside (``keep_first``): a report's
  running head is often its title, which page 1 then shows once; a running head left once costs
  little, a title lost costs the document's name.
- A page whose every line would go is left whole: a page that reads only "Potato" on each page
  is the document's text, and an emptied page would look like a page that could not be read.

``strip_headers_footers`` removes them, keeping every other line byte for byte (line endings
included); the blank lines between a removed line and the text go with it.

Engine-agnostic, pure text in and out. Why only born-digital text (the caller's choice): a text
layer gives every page's edges exactly, while OCR readings of the same running head differ
from page to page and VLMs often drop or tag them already; a mixed document is judged on its
text-layer pages only. Run it on the engine's page text, before ``merge.mark_direction`` wraps
right-to-left paragraphs in ``<div dir="rtl">``: the wrapper would be the page's edge.
"""

from __future__ import annotations

import math
import re
import unicodedata
from collections import Counter, defaultdict
from dataclasses import dataclass

PAGE_NUMBER = "\x00page-number"  # the one key of every page-number line
# a number, a date or a time as one value ("16-9-2024", "12:30", "1.234,5"); str patterns match
# Arabic-Indic and other decimal digits too
_DIGITS = re.compile(r"\d+(?:[-/.,:]\d+)*")
MAX_CHANGING = 2  # values of a running head that may change: its page number and a date
_SPACE = re.compile(r"\s+")
_MARKDOWN = re.compile(r"^(?:#{1,6}\s+|>\s*)+|[*_`]")
_PAGE_WORD = r"(?:pages?|p\.|pp?\.?|pg\.?|seite|pagina|página|الصفحة|صفحة|ص)"
_OF = r"(?:/|of|de|sur|von|di|du|من|\|)"
_NUM = r"(?:\d+|[ivx]+)"
# a line that is a page number and nothing else (on the normalised, case-folded line)
_PAGE_LINE = re.compile(rf"^[\W_]*(?:{_PAGE_WORD}\s*[:.]?\s*)?({_NUM})(?:\s*{_OF}\s*({_NUM}))?"
                        r"[\W_]*$")
# "page 3", "page 3 of 12" inside a longer line: not part of what must match
_PAGE_PHRASE = re.compile(rf"(?<!\w){_PAGE_WORD}\s*[:.]?\s*\d+(?:\s*{_OF}\s*\d+)?(?!\w)")
# front matter's roman page numbers, i to xxxix: "c", "d", "l", "m" alone are more often letters
_ROMAN = re.compile(r"^x{0,3}(?:ix|iv|v?i{0,3})$")
_EDGE_NUMBER = re.compile(r"^\W*(\d+)(?!\w)|(?<!\w)(\d+)\W*$")
MAX_FOLIO_LINE = 120  # characters: a running head is short; a body line is not one
# A line of HTML (a table's markup, as the engines and the text layer's tables write it): never a
# running head, however often a table starts a page; removing it would break the table.
_MARKUP = re.compile(r"^\s*</?[a-zA-Z]")


def _plain(line: str) -> str:
    """A line as compared: NFKC, case folded, no vowel marks, tatweel or Markdown emphasis."""
    text = unicodedata.normalize("NFKC", line).casefold()
    text = "".join(c for c in text if c != "\u0640" and unicodedata.category(c) != "Mn")
    return _SPACE.sub(" ", _MARKDOWN.sub("", text.strip())).strip()


def _page_number(plain: str) -> int | bool | None:
    """The number of a page-number line (None for a roman numeral), False for any other line."""
    match = _PAGE_LINE.match(plain)
    if not match or not all(_ROMAN.match(n) for n in match.groups() if n and not n.isdigit()):
        return False
    first = match.group(1)
    return int(first) if first.isdigit() else None  # int() reads Arabic-Indic digits too


def line_key(line: str) -> str:
    """What a line is compared by: page numbers all alike, other numbers as "#"."""
    plain = _plain(line)
    if _page_number(plain) is not False:
        return PAGE_NUMBER
    return _SPACE.sub(" ", _DIGITS.sub("#", _PAGE_PHRASE.sub(" ", plain))).strip()


def _numbers(line: str) -> tuple[str, ...]:
    """The numbers of a line outside its "page 3 of 12" phrase: those that must not change."""
    return tuple(_DIGITS.findall(_PAGE_PHRASE.sub(" ", _plain(line))))


def _folio(line: str, outermost: bool) -> int | None:
    """The number that may be the page's printed number: a page-number line's, or one at the
    start or end of the page's outermost line."""
    plain = _plain(line)
    number = _page_number(plain)
    if number is not False:
        return number
    if outermost and len(plain) <= MAX_FOLIO_LINE:
        match = _EDGE_NUMBER.search(plain)
        if match:
            return int(match.group(1) or match.group(2))
    return None


def _edges(lines: list[str], max_lines: int) -> tuple[list[int], list[int]]:
    """Indices of a page's first and last ``max_lines`` non-blank lines."""
    filled = [i for i, line in enumerate(lines) if line.strip()]
    return filled[:max_lines], filled[-max_lines:] if max_lines else []


@dataclass(frozen=True)
class Repeated:
    """What a document repeats at its pages' edges."""

    top: frozenset[str]  # line keys (``line_key``) repeated at the top of the pages
    bottom: frozenset[str]
    folio_offset: int | None = None  # printed page number minus page number, when it has one

    def removable(self, line: str, number: int, top: bool, outermost: bool,
                  numbers_only: bool = False) -> bool:
        """Whether an edge line of page ``number`` is a running head, foot or page number
        (``numbers_only``: a page number)."""
        if _MARKUP.match(line):
            return False
        key = line_key(line)
        if key in (self.top if top else self.bottom) and (key == PAGE_NUMBER or not numbers_only):
            return True
        folio = _folio(line, outermost)
        return (self.folio_offset is not None and folio is not None
                and folio - number == self.folio_offset)


def find_repeated(pages: list[str], *, min_share: float = 0.5, max_lines: int = 3,
                  min_pages: int = 3, numbers: list[int] | None = None) -> Repeated:
    """The lines at the top and bottom of at least ``min_share`` (and ``min_pages``) of a
    document's ``pages`` (their texts, in order); ``numbers``: the pages' 1-based numbers in
    the document when ``pages`` are not all of them (default 1, 2, ...)."""
    numbers = numbers or list(range(1, len(pages) + 1))
    need = max(min_pages, math.ceil(min_share * len(pages)))
    if len(pages) < need:
        return Repeated(frozenset(), frozenset())
    seen: dict[bool, Counter[str]] = {True: Counter(), False: Counter()}
    values: dict[str, set[tuple[str, ...]]] = defaultdict(set)
    offsets: Counter[int] = Counter()
    for text, number in zip(pages, numbers, strict=True):
        lines = text.split("\n")
        page_offsets = set()
        for top, edge in zip((True, False), _edges(lines, max_lines), strict=True):
            keys = set()
            for i in edge:
                key = line_key(lines[i])
                keys.add(key)
                values[key].add(_numbers(lines[i]))
                folio = _folio(lines[i], i == edge[0 if top else -1])
                if folio is not None:
                    page_offsets.add(folio - number)
            seen[top].update(keys)  # once per page and edge
        offsets.update(page_offsets)

    def repeated(key: str, count: int) -> bool:
        if count < need or not key:
            return False
        if key == PAGE_NUMBER:
            return True
        # a page number and a date may change; more is a table's row (a total on every page),
        # and a line of figures with no words must not change at all
        changing = sum(len(set(column)) > 1 for column in zip(*values[key], strict=False))
        return changing <= (MAX_CHANGING if any(c.isalpha() for c in key) else 0)

    offset, count = offsets.most_common(1)[0] if offsets else (None, 0)
    return Repeated(frozenset(k for k, c in seen[True].items() if repeated(k, c)),
                    frozenset(k for k, c in seen[False].items() if repeated(k, c)),
                    offset if count >= need else None)


def _strip_page(text: str, number: int, found: Repeated, max_lines: int,
                numbers_only: bool) -> tuple[str, list[str]]:
    lines = text.split("\n")
    top, bottom = _edges(lines, max_lines)
    gone: set[int] = set()
    # from each edge inwards, up to the first line that stays: never a line between two kept
    for edge, is_top in ((top, True), (bottom[::-1], False)):
        for i in edge:
            if i in gone or not found.removable(lines[i], number, is_top, i == edge[0],
                                                numbers_only):
                break
            gone.add(i)
    body = [i for i, line in enumerate(lines) if line.strip() and i not in gone]
    if not gone or not body:
        return text, []  # nothing to remove, or the whole page: left whole
    kept: list[str] = []
    after_removed = False
    for i, line in enumerate(lines):
        if i in gone:
            after_removed = True
        elif line.strip():
            after_removed = False
            kept.append(line)
        elif not (after_removed and (not kept or not kept[-1].strip())):
            kept.append(line)  # the blank lines between a removed line and the text go with it
    if max(gone) > body[-1]:  # a foot removed: no blank tail, the page's final line break kept
        while kept and not kept[-1].strip():
            kept.pop()
        if text.endswith("\n"):
            kept.append("")
    return "\n".join(kept), [lines[i] for i in sorted(gone)]


def strip_headers_footers(pages: list[str], *, min_share: float = 0.5, max_lines: int = 3,
                          min_pages: int = 3, numbers: list[int] | None = None,
                          keep_first: bool = True) -> tuple[list[str], list[list[str]]]:
    """A document's page texts without their running heads, feet and page numbers, and for
    each page the lines removed (as they were, in page order). ``numbers``: the pages'
    1-based numbers in the document (default 1, 2, ...); ``keep_first``: the first page keeps
    its repeated lines other than page numbers."""
    numbers = numbers or list(range(1, len(pages) + 1))
    found = find_repeated(pages, min_share=min_share, max_lines=max_lines, min_pages=min_pages,
                          numbers=numbers)
    if not (found.top or found.bottom or found.folio_offset is not None):
        return list(pages), [[] for _ in pages]
    results = [_strip_page(text, number, found, max_lines, keep_first and at == 0)
               for at, (text, number) in enumerate(zip(pages, numbers, strict=True))]
    return [text for text, _ in results], [removed for _, removed in results]
