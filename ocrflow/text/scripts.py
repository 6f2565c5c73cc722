"""Which script a letter is written in, named one way for the whole package.

A script is named as Unicode's character names spell it: the first word of the name (LATIN,
ARABIC, CYRILLIC, GREEK, HEBREW, HANGUL, HIRAGANA...), except the CJK ideographs, whose script
is Han (Unicode names them "CJK UNIFIED IDEOGRAPH-4E2D"). ``trust`` counts words by these names
and the engines compare letters with them; Tesseract's orientation and script detection (OSD)
names a page's script its own way ("Arabic", "Korean"), which ``osd_script`` maps onto them.
"""

from __future__ import annotations

import unicodedata

UNKNOWN = "UNKNOWN"  # a character Unicode gives no name (unassigned, a control)
# First words of Unicode's names that are not the script's own name.
_NAMED_OTHERWISE = {"CJK": "HAN"}
RIGHT_TO_LEFT = frozenset({"ARABIC", "HEBREW", "SYRIAC", "THAANA", "NKO"})
# OSD's names that are no single letter's script: Korean text is Hangul (with some Han),
# Fraktur is Latin letters. "Japanese" (Han with kana) stays itself: no letter is of it.
_OSD_NAMES = {"Korean": "HANGUL", "Fraktur": "LATIN"}


def char_script(char: str) -> str:
    """The script of one character: LATIN, ARABIC, HAN, HANGUL...; UNKNOWN without a name.
    A digit, a space or a sign gets its name's first word too (DIGIT, SPACE): ask of letters."""
    try:
        first = unicodedata.name(char).split(" ", 1)[0]
    except ValueError:
        return UNKNOWN
    return _NAMED_OTHERWISE.get(first, first)


def osd_script(name: str) -> str:
    """Tesseract's OSD name of a script ("Latin", "Arabic", "Han", "Korean") in this module's
    names ("LATIN", "ARABIC", "HAN", "HANGUL")."""
    return _OSD_NAMES.get(name, name.upper())


def is_right_to_left(char: str) -> bool:
    """Whether a letter is written right to left (Unicode's bidirectional class R or AL)."""
    return unicodedata.bidirectional(char) in ("R", "AL")


def is_left_to_right(char: str) -> bool:
    """Whether a character is written left to right (Unicode's bidirectional class L)."""
    return unicodedata.bidirectional(char) == "L"


def mostly_right_to_left(text: str) -> bool:
    """Whether most of the text's letters are written right to left (False without letters):
    which way a table of them reads."""
    letters = [c for c in text if c.isalpha()]
    return sum(map(is_right_to_left, letters)) * 2 > len(letters) > 0
