"""A page as Tesseract read it, and where: its words and lines with their boxes (``Word``,
``LineReading``, ``PageReading``, made from tesserocr's API by ``page_reading``), the box
arithmetic that places them, and the page's pixels as the engine hands them to Tesseract.

Boxes are (left, top, right, bottom) in the pixels of the image read.
"""

from __future__ import annotations

import itertools
import re
from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from ocrflow.core.records import RenderedPage

if TYPE_CHECKING:  # numpy and OpenCV load with the first page, not with the engine's module
    from ocrflow.inputs.structure.grid import Box

# A word of this confidence or less (0-1) is one the model did not know at all. Tuned on the
# bilingual corpus's scans (tests/support/bilingual_corpus.py): a French term read with the
# Arabic model alone scores 0-0.02, a hard Arabic word read with it 0.19 or more.
LOST_WORD = 0.1
# Two words or boxes of a line are neighbours in a phrase when the blank between them is at most
# this many times the taller one's height: a table's cells and a page's columns are further.
# Tuned on the bilingual corpus's scans (commit f95a572: each keeps >= 0.89 of each script).
NEAR_HEIGHTS = 1.5
# Two line boxes are one line when they overlap over more than this share of the smaller one's
# height and width (a half-resolution line on the first reading's): tuned on the bilingual
# corpus's scans (commit f35f857: its table of names keeps 0.88 of its Arabic words, was 0.76).
SAME_LINE_SHARE = 0.5
# Tesseract wraps left-to-right runs inside right-to-left lines in these marks, for display; in
# logical order they are invisible characters that only split words.
BIDI_MARKS = re.compile("[\u200e\u200f\u202a-\u202e\u2066-\u2069]")
# Table rules at the ends of a run cut out of its line, which Tesseract reads as "|".
RULES = re.compile(r"^[|\s]+|[|\s]+$")


def clean_text(text: str) -> str:
    """Tesseract's text without bidi marks and trailing spaces; paragraphs one blank line apart."""
    lines = [line.rstrip() for line in BIDI_MARKS.sub("", text).splitlines()]
    return re.sub(r"\n{3,}", "\n\n", "\n".join(lines)).strip()


@dataclass(frozen=True)
class Word:
    text: str
    confidence: float  # 0-1
    box: tuple[int, int, int, int]
    language: str  # the code of the model that read it


@dataclass
class LineReading:
    text: str
    box: tuple[int, int, int, int]  # left, top, right, bottom, in pixels
    confidence: float  # mean of its words', 0-1
    lowest: float  # its least sure word's
    words: list[Word] = field(default_factory=list)

    def doubtful(self, below: float) -> bool:
        """Junk of the wrong script: a low mean, or a word the model did not know at all (a
        French term inside an Arabic line)."""
        return self.confidence < below or self.lowest < LOST_WORD


@dataclass
class PageReading:
    lines: list[LineReading]
    layout: list[str | int]  # the text's lines: a blank line as "", a line as its index
    confidence: float  # mean word confidence, 0-1
    word_languages: dict[str, int]

    def text(self) -> str:
        return clean_text("\n".join(self.lines[part].text if isinstance(part, int) else part
                                     for part in self.layout))

    def recount(self) -> None:
        """``confidence`` and ``word_languages`` of the words its lines have now."""
        words = [word for line in self.lines for word in line.words]
        if words:
            self.confidence = round(sum(word.confidence for word in words) / len(words), 4)
            self.word_languages = dict(Counter(word.language for word in words).most_common())


def page_reading(api: Any, size: tuple[int, int]) -> PageReading:
    """Tesseract's text split into its lines, each with its box and its words' confidences.
    Its text and its line boxes come in one order (a line's text from the iterator over words
    would lose the right-to-left order Tesseract gives the page's text)."""
    from tesserocr import RIL

    raw = api.GetUTF8Text() or ""
    text_lines = raw.splitlines()
    boxes = [(b["x"], b["y"], b["x"] + b["w"], b["y"] + b["h"])
             for _, b, *_ in api.GetComponentImages(RIL.TEXTLINE, True)]
    words = read_words(api)
    counts = Counter(word.language for word in words)
    confidence = round(api.MeanTextConf() / 100, 4) if raw.strip() else 0.0
    filled = [i for i, line in enumerate(text_lines) if line.strip()]
    if len(filled) != len(boxes):
        # not one text line per box: the page is one line, doubted as a whole (read again
        # whole when Tesseract doubts it)
        whole = LineReading(raw, (0, 0, *size), confidence, confidence)
        return PageReading([whole], [0], confidence, dict(counts.most_common()))
    lines: list[LineReading] = []
    layout: list[str | int] = []
    placed = [False] * len(words)  # a word in two lines' boxes (they overlap) is the first's
    for line in text_lines:
        if not line.strip():
            layout.append("")
            continue
        box = boxes[len(lines)]
        own = []
        for k, word in enumerate(words):
            if not placed[k] and within(middle(word.box), box):
                placed[k] = True
                own.append(word)
        confidences = [word.confidence for word in own]
        mean = sum(confidences) / len(confidences) if confidences else 1.0
        layout.append(len(lines))
        lines.append(LineReading(line, box, round(mean, 4), min(confidences, default=1.0), own))
    return PageReading(lines, layout, confidence, dict(counts.most_common()))


def read_words(api: Any) -> list[Word]:
    """Each word Tesseract read, with the model that read it. A block with
    no text (a drawing) has words without text: tesserocr raises "No text returned" for
    them, and they are no words."""
    from tesserocr import RIL, iterate_level

    found = []
    iterator = api.GetIterator()
    if iterator is None:
        return []
    for word in iterate_level(iterator, RIL.WORD):
        try:
            text = (word.GetUTF8Text(RIL.WORD) or "").strip()
        except RuntimeError:
            continue
        if text:
            found.append(Word(text, word.Confidence(RIL.WORD) / 100, word.BoundingBox(RIL.WORD),
                              word.WordRecognitionLanguage() or "?"))
    return found


def is_table_row(line: LineReading) -> bool:
    """Whether the line is a table's row: two of its words further apart than ``touching``."""
    return any(not touching(one, other) for one, other in itertools.pairwise(line.words))


def scaled(box: tuple[int, int, int, int], scale: int) -> tuple[int, int, int, int]:
    left, top, right, bottom = box
    return left * scale, top * scale, right * scale, bottom * scale


def scaled_word(word: Word, scale: int) -> Word:
    return Word(word.text, word.confidence, scaled(word.box, scale), word.language)


def same_line(one: tuple[int, int, int, int], other: tuple[int, int, int, int]) -> bool:
    """Whether two line boxes overlap over most of the smaller one's height and width."""
    return share(one[1], one[3], other[1], other[3]) > SAME_LINE_SHARE and \
        share(one[0], one[2], other[0], other[2]) > SAME_LINE_SHARE


def share(a: int, b: int, c: int, d: int) -> float:
    """How much of the shorter of the spans [a, b] and [c, d] the other covers, 0-1."""
    return max(0, min(b, d) - max(a, c)) / max(1, min(b - a, d - c))


def touching(one: Word, other: Word) -> bool:
    """Whether two words of a line are neighbours in a phrase (``near``)."""
    return near(one.box, other.box)


def near(one: tuple[int, int, int, int], other: tuple[int, int, int, int]) -> bool:
    """Whether two boxes of a line are no further apart than NEAR_HEIGHTS times the taller
    one's height (a table's cells, a page's columns are further)."""
    return gap(one, other) <= NEAR_HEIGHTS * max(one[3] - one[1], other[3] - other[1])


def gap(one: tuple[int, int, int, int], other: tuple[int, int, int, int]) -> int:
    """The blank between two boxes of a line, whichever comes first."""
    return max(other[0] - one[2], one[0] - other[2], 0)


def union(boxes: Iterable[tuple[int, int, int, int]]) -> tuple[int, int, int, int]:
    lefts, tops, rights, bottoms = zip(*boxes, strict=True)
    return min(lefts), min(tops), max(rights), max(bottoms)


def middle(box: tuple[int, int, int, int]) -> tuple[float, float]:
    return (box[0] + box[2]) / 2, (box[1] + box[3]) / 2


def within(point: tuple[float, float], box: tuple[int, int, int, int]) -> bool:
    return box[0] <= point[0] <= box[2] and box[1] <= point[1] <= box[3]


def inside(line: Box, box: Box) -> bool:
    """Whether most of a line's box is inside ``box`` (not a page read as one line)."""
    width = max(0, min(line[2], box[2]) - max(line[0], box[0]))
    height = max(0, min(line[3], box[3]) - max(line[1], box[1]))
    area = max(1, (line[2] - line[0]) * (line[3] - line[1]))
    return width * height > area / 2


def drop_lines(reading: PageReading, boxes: list[Box]) -> None:
    """Take the lines mostly inside these boxes (a table's, read cell by cell) out of the
    page's reading: no lines of its text, nor read again, nor counted."""
    kept = [i for i, line in enumerate(reading.lines)
            if not any(inside(line.box, box) for box in boxes)]
    if len(kept) == len(reading.lines):
        return
    new = {old: i for i, old in enumerate(kept)}
    reading.lines = [reading.lines[old] for old in kept]
    reading.layout = [new[part] if isinstance(part, int) else part
                      for part in reading.layout if not isinstance(part, int) or part in new]
    reading.recount()


def place_tables(reading: PageReading, tables: list[tuple[Box, str]]) -> None:
    """Put each table in the page's text where it lies in reading order: before the first
    line, in reading order, below its top in its column (beside none of it), else at the
    end. A block of its own."""
    for box, table in sorted(tables, key=lambda found: found[0][1]):
        at = next((i for i, part in enumerate(reading.layout) if isinstance(part, int)
                   and reading.lines[part].box[1] >= box[1]
                   and share(box[0], box[2], *reading.lines[part].box[::2]) > 0),
                  len(reading.layout))
        reading.layout[at:at] = ["", table, ""]


def half(image: RenderedPage, blank: Iterable[tuple[int, int, int, int]] = ()) -> RenderedPage:
    """A grey raw page at half its resolution (each 2 x 2 pixels averaged), with the boxes
    ``blank`` (in its own pixels) painted white."""
    from PIL import Image, ImageDraw

    halved = Image.frombytes("L", (image.width, image.height), image.data).reduce(2)
    draw = ImageDraw.Draw(halved)
    for left, top, right, bottom in blank:
        draw.rectangle((left // 2, top // 2, (right + 1) // 2, (bottom + 1) // 2), fill=255)
    return RenderedPage(halved.width, halved.height, "L", "raw", halved.tobytes())


def pixels(image: RenderedPage) -> Any:
    """A grey raw page's pixels as a (height, width) uint8 array (read-only)."""
    import numpy as np

    return np.frombuffer(image.data, np.uint8).reshape(image.height, image.width)


def as_gray_raw(image: RenderedPage) -> RenderedPage:
    """A rendered page as the grey raw pixels Tesseract is handed."""
    pil = image.to_pil().convert("L")
    return RenderedPage(pil.width, pil.height, "L", "raw", pil.tobytes())
