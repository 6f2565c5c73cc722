"""Telling a looping answer from a page's own repetition, while the answer is generated.

A model that loops repeats one stretch of text until it reaches ``max_tokens`` (Chandra: 12,384
tokens, ten normal pages' worth). A page repeats itself too, but boundedly: a row of dot leaders
is one line long, a table's empty cells one row, its identical rows one page at most. So a loop
is told by how much text one pattern covers at the end of the answer, not by how often it
recurs: the last ``min_chars`` characters (and at least ``min_copies`` copies) are one pattern
of up to ``max_period`` characters. Chandra's own check (``detect_repeat_token``: from 5 copies
of 13 characters) is right on a finished answer, whose end is not a table's middle; on an answer
still being written it would cut every dot leader and every row of empty cells.
"""

from __future__ import annotations

from dataclasses import dataclass

# The end of the answer that is searched for earlier copies of itself: short enough to recur
# inside a short pattern, long enough that a chance recurrence is rare.
PROBE_CHARS = 24


@dataclass(frozen=True)
class LoopCut:
    """Whether an answer being generated has started looping (``cut(text)``)."""

    min_chars: int = 2000  # the repeated stretch at the end: at least this many characters
    min_copies: int = 3
    max_period: int = 2000  # longest pattern looked for, in characters
    max_candidates: int = 16  # earlier copies of the probe checked, nearest first

    def __call__(self, text: str) -> bool:
        return self.period(text) > 0

    def period(self, text: str) -> int:
        """The length of the pattern the end of ``text`` repeats, or 0 where it does not loop."""
        n = len(text)
        if not self.min_chars or n < self.min_chars + PROBE_CHARS:
            return 0
        probe = text[n - PROBE_CHARS:]
        start = max(0, n - PROBE_CHARS - self.max_period)
        # Each earlier copy of the last characters proposes a period; the nearest is the
        # shortest, and a loop of period p also has copies at 2p, 3p...
        end = n - 1
        for _ in range(self.max_candidates):
            found = text.rfind(probe, start, end)
            if found < 0:
                return 0
            period = n - PROBE_CHARS - found
            # the last `region` characters are `period`-periodic: each equals the one `period`
            # before it
            region = max(self.min_chars, self.min_copies * period)
            if region <= n and text[n - region + period:] == text[n - region:n - period]:
                return period
            end = found + PROBE_CHARS - 1
        return 0
