"""The olmOCR-bench test format: one JSON object a line, validated as upstream's dataclasses do
(an unknown field, a missing one or an empty search text is an error, not a skipped test), and
the text normalisation every matcher applies to both the test's strings and the page."""

from __future__ import annotations

import json
import re
import unicodedata
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ocrflow.core.errors import OcrflowError


class SpecError(OcrflowError, ValueError):
    """A test line upstream would refuse to load; the message names the file and line."""

    exit_status = 2


# Upstream's order: HTML line breaks, bold, then <b>/<i> tags, bold again and italics, all
# before whitespace is collapsed (so an emphasis never spans a line break), then NFC, then a few
# typographic characters folded to ASCII. Nothing else: no NFKC (ligatures stay), no casefold.
_BREAK = re.compile(r"<br/?>")
_BOLD_STARS = re.compile(r"\*\*(.*?)\*\*")
_BOLD_UNDERSCORES = re.compile(r"__(.*?)__")
_TAGS = (re.compile(r"</?b>"), re.compile(r"</?i>"))
_BOLD = re.compile(r"(\*\*|__)(.*?)\1")
_ITALIC = re.compile(r"(\*|_)(.*?)\1")
_SPACE = re.compile(r"\s+")
_ASCII = str.maketrans({
    "‘": "'", "’": "'", "‚": "'", "“": '"', "”": '"', "„": '"', "＿": "_",
    "–": "-", "—": "-", "‑": "-", "‒": "-", "−": "-",
    "\u00b5": "\u03bc",  # micro sign -> Greek mu
})


def normalize_text(text: str) -> str:
    text = _BREAK.sub(" ", text)
    text = _BOLD_STARS.sub(r"\1", text)
    text = _BOLD_UNDERSCORES.sub(r"\1", text)
    for tag in _TAGS:
        text = tag.sub("", text)
    text = _BOLD.sub(r"\2", text)
    text = _ITALIC.sub(r"\2", text)
    text = _SPACE.sub(" ", text)
    text = unicodedata.normalize("NFC", text)
    return text.translate(_ASCII)


BASE_FIELDS: dict[str, Any] = {"max_diffs": 0, "checked": None, "url": None}
REQUIRED_BASE = ("pdf", "page", "id", "type")
# Per type: the optional fields and their defaults, and the required ones (as upstream's
# dataclasses declare them).
TYPE_FIELDS: dict[str, tuple[tuple[str, ...], dict[str, Any]]] = {
    "present": (("text",), {"case_sensitive": True, "first_n": None, "last_n": None}),
    "absent": (("text",), {"case_sensitive": True, "first_n": None, "last_n": None}),
    "order": (("before", "after"), {}),
    "table": (("cell",), {"up": "", "down": "", "left": "", "right": "", "top_heading": "",
                          "left_heading": "", "ignore_markdown_tables": False}),
    "math": (("math",), {"ignore_dollar_delimited": False}),
    "baseline": ((), {"max_length": None, "max_length_skips_image_alt_tags": False,
                      "max_repeats": 30, "check_disallowed_characters": True}),
    # upstream types ocrflow does not score: loaded (so a file of them is valid), then skipped
    "format": (("text", "format"), {"case_sensitive": True}),
    "footnote": (("marker",), {"appears_before_marker": None, "appears_after_marker": None}),
}
NORMALIZED = ("text", "before", "after", "cell", "up", "down", "left", "right", "top_heading",
              "left_heading")


@dataclass
class BenchTest:
    id: str
    type: str
    pdf: str
    page: int
    max_diffs: int = 0
    group: str = ""  # the JSONL file it came from: upstream averages per file
    fields: dict[str, Any] = field(default_factory=dict)  # the type's own, normalised

    def __getitem__(self, name: str) -> Any:
        return self.fields[name]


def make_test(data: dict[str, Any], group: str = "") -> BenchTest:
    """A test from one decoded JSON line; SpecError where upstream's loader raises."""
    kind = data.get("type")
    if kind not in TYPE_FIELDS:
        raise SpecError(f"unknown test type {kind!r}")
    required, optional = TYPE_FIELDS[kind]
    missing = [name for name in (*REQUIRED_BASE, *required) if name not in data]
    if missing:
        raise SpecError(f"missing field(s) {', '.join(missing)}")
    unknown = set(data) - {*REQUIRED_BASE, *BASE_FIELDS, *required, *optional}
    if unknown:
        raise SpecError(f"unknown field(s) for a {kind} test: {', '.join(sorted(unknown))}")
    if not data["pdf"]:
        raise SpecError("PDF filename cannot be empty")
    if not data["id"]:
        raise SpecError("test id cannot be empty")
    max_diffs = data.get("max_diffs", 0)
    if not isinstance(max_diffs, int) or max_diffs < 0:
        raise SpecError("max_diffs must be an integer >= 0")
    fields = {**optional, **{k: v for k, v in data.items() if k in required or k in optional}}
    for name in NORMALIZED:
        if name in fields and fields[name] is not None:
            fields[name] = normalize_text(fields[name])
    if kind in ("present", "absent", "format") and not fields["text"].strip():
        raise SpecError("text cannot be empty")
    if kind == "order":
        for name in ("before", "after"):
            if not fields[name].strip():
                raise SpecError(f"{name} cannot be empty")
            if max_diffs > len(fields[name]) // 2:
                raise SpecError(f"max_diffs {max_diffs} is more than half of {name}")
    if kind == "math" and not fields["math"].strip():
        raise SpecError("math cannot be empty")
    return BenchTest(str(data["id"]), kind, str(data["pdf"]), int(data["page"]), max_diffs,
                     group, fields)


def load_tests(paths: list[Path]) -> list[BenchTest]:
    """Every test of the JSONL files, in order; ids must be unique across them all."""
    tests: list[BenchTest] = []
    seen: set[str] = set()
    for path in paths:
        for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
            if not line.strip():
                continue
            where = f"{path}:{number}"
            try:
                data = json.loads(line)
            except json.JSONDecodeError as exc:
                raise SpecError(f"{where}: not JSON: {exc}") from exc
            if not isinstance(data, dict):
                raise SpecError(f"{where}: a test is a JSON object")
            try:
                test = make_test(data, path.name)
            except SpecError as exc:
                raise SpecError(f"{where}: {exc}") from exc
            if test.id in seen:
                raise SpecError(f"{where}: duplicate test id {test.id!r}")
            seen.add(test.id)
            tests.append(test)
    return tests
