"""Which way a table reads: from the order its rows' cells are drawn in, else from the script
most of its letters are in."""

from __future__ import annotations

from collections.abc import Iterable

from ocrflow.inputs.page_glyphs import Char
from ocrflow.text.scripts import mostly_right_to_left


def reads_right_to_left(rows: Iterable[list[list[Char]]]) -> bool:
    """Which way a table reads (its rows' cells, each a list of characters): the way most of
    its rows are drawn, since producers draw a table in reading order (an Arabic table from its
    right; a French calendar with Arabic day names from its left); where no row says, the
    script most of its letters are in."""
    votes, texts = 0, []
    for row in rows:
        cells = sorted((c for c in row if any(not ch.text.isspace() for ch in c)),
                       key=lambda cell: min(ch.box[0] for ch in cell))
        texts += ["".join(ch.text for ch in cell) for cell in cells]
        if len(cells) > 1:
            first_left = min(ch.index for ch in cells[0])
            first_right = min(ch.index for ch in cells[-1])
            votes += 1 if first_right < first_left else -1
    return votes > 0 if votes else mostly_right_to_left("".join(texts))
