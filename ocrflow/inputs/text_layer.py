"""A text layer's text as a reader sees it: pdfium's hyphen marks and soft hyphens joined,
presentation forms folded to letters; and which characters are right-to-left.

How a page with right-to-left text is read in logical order: ``rtl_readings``.
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass

# Hebrew to NKo and Samaritan..Arabic Extended-A, Hebrew and Arabic presentation forms, and the
# right-to-left blocks of the supplementary planes (Imperial Aramaic..., Adlam, Arabic math).
_RTL = re.compile("[\u0590-\u08ff\ufb1d-\ufdff\ufe70-\ufefc\U00010800-\U00010fff"
                  "\U0001e800-\U0001efff]")
# Presentation forms are how a shaped glyph looks, not a letter: word lists and search want
# the base letters (NFKC: U+FEDF "ﻟ" -> U+0644 "ل", the lam-alef ligature -> two letters).
_PRESENTATION_FORMS = re.compile("[\ufb1d-\ufdff\ufe70-\ufefe]+")

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


