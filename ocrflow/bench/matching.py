"""The text tests, as olmOCR-bench runs them on one page's Markdown.

``present`` / ``absent``: rapidfuzz's ``fuzz.partial_ratio`` (best alignment of the query with a
window of the page) against ``1 - max_diffs / len(text)``, after normalising both and, unless
``case_sensitive``, lower-casing both; ``first_n`` / ``last_n`` cut the normalised page first.
``order``: fuzzysearch's ``find_near_matches`` (Levenshtein distance <= ``max_diffs``) for both
strings; it passes when some match of ``before`` starts before some match of ``after``.
Every check returns (passed, why); ``why`` is "" on a pass.
"""

from __future__ import annotations

import re

from fuzzysearch import find_near_matches
from rapidfuzz import fuzz

from ocrflow.bench.spec import BenchTest, normalize_text

Result = tuple[bool, str]


def _threshold(max_diffs: int, text: str) -> float:
    return 1.0 - max_diffs / (len(text) or 1)


def presence(test: BenchTest, page: str) -> Result:
    query, content = test["text"], normalize_text(page)
    if not test["case_sensitive"]:
        query, content = query.lower(), content.lower()
    first_n, last_n = test["first_n"], test["last_n"]  # 0 means unset, as upstream's truthiness
    if first_n and last_n:
        content = content[:first_n] + content[-last_n:]
    elif first_n:
        content = content[:first_n]
    elif last_n:
        content = content[-last_n:]
    threshold = _threshold(test.max_diffs, query)
    ratio = fuzz.partial_ratio(query, content) / 100.0
    found = ratio >= threshold
    if test.type == "present":
        return (True, "") if found else (
            False, f"expected {query[:60]!r}: best match ratio {ratio:.3f} < {threshold:.3f}")
    return (True, "") if not found else (
        False, f"expected no {query[:60]!r}: best match ratio {ratio:.3f} >= {threshold:.3f}")


def order(test: BenchTest, page: str) -> Result:
    content = normalize_text(page)
    before = find_near_matches(test["before"], content, max_l_dist=test.max_diffs)
    after = find_near_matches(test["after"], content, max_l_dist=test.max_diffs)
    if not before:
        return False, f"before text {test['before'][:60]!r} not found (max_diffs {test.max_diffs})"
    if not after:
        return False, f"after text {test['after'][:60]!r} not found (max_diffs {test.max_diffs})"
    if any(b.start < a.start for b in before for a in after):
        return True, ""
    return False, f"{test['before'][:60]!r} never comes before {test['after'][:60]!r}"


# CJK and emoji: upstream's baseline refuses them on its (Latin-script) pages.
_DISALLOWED = re.compile("[\u4e00-\u9fff\u3040-\u309f\u30a0-\u30ff\U0001f600-\U0001f64f"
                         "\U0001f300-\U0001f5ff\U0001f680-\U0001f6ff\U0001f1e0-\U0001f1ff]")
_IMAGE = re.compile(r"!\[.*?\]\(.*?\)")


def _alnum_count(text: str) -> int:
    return sum(1 for c in text if c.isalnum())


def tail_repeats(text: str, longest: int = 5) -> list[int]:
    """For n = 1..longest: how many times the page's last n characters repeat back to back at
    its end (whitespace runs read as one space), as upstream's RepeatDetector counts."""
    text = re.sub(r"\s+", " ", text)
    counts = []
    for size in range(1, longest + 1):
        if len(text) < size:
            counts.append(0)
            continue
        tail, count, start = text[-size:], 0, len(text) - size
        while start >= 0 and text[start:start + size] == tail:
            count += 1
            start -= size
        counts.append(count)
    return counts


def baseline(test: BenchTest, page: str) -> Result:
    """Not blank (or, with ``max_length``, blank enough), not looping at the end, no CJK or
    emoji. Runs on the raw page, not normalised, as upstream."""
    length = _alnum_count(page)
    if test["max_length"] is not None:
        if test["max_length_skips_image_alt_tags"]:
            length = _alnum_count(_IMAGE.sub("", page))
        if length > test["max_length"]:
            return False, f"{length} characters on a page expected to be blank"
        return True, ""
    if length == 0:
        return False, "the page has no alphanumeric character"
    for size, count in enumerate(tail_repeats(page), 1):
        if count > test["max_repeats"]:
            return False, f"the page ends with {count} repeats of a {size}-character string"
    found = _DISALLOWED.findall(page)
    if test["check_disallowed_characters"] and found:
        return False, f"disallowed characters {''.join(found[:10])!r}"
    return True, ""
