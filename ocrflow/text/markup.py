"""HTML markup in a page's text: the tags of a table ("<tr><td>", as the text layer's tables and
the VLMs write them) are no words of the page."""

from __future__ import annotations

import re

_TAG = re.compile(r"</?[a-zA-Z][^<>]*>")


def strip_markup(text: str) -> str:
    """The text with each HTML tag replaced by a space: a tag ends a word (a table's cells are
    its words), it is never part of one."""
    return _TAG.sub(" ", text)
