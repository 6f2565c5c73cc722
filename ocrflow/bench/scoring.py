"""A results folder scored on the tests: each test reads one page of its PDF's Markdown.

The page: ``pdf`` (relative to ``--pdfs``) -> the doc_id ocrflow's folder mode gives it -> the
document's ``markdown/<doc_id>.md`` -> the text after its ``<!-- page N -->`` marker. A missing
PDF, document or page, or a page ocrflow could not recognise (its placeholder), fails the test
with the reason; a ``no_text`` page reads as empty.

Scores, as olmOCR-bench computes them (benchmark.py): a test scores 1 or 0 (one reading, no
repeats); a type's score is the mean over its tests; the overall score is the mean of the
per-file pass rates (each JSONL file, and the baseline tests added per PDF, is one group).
Skipped tests (math without a renderer, types ocrflow does not score) count in none of them.
"""

from __future__ import annotations

import json
import os
import re
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path, PurePosixPath

from ocrflow.bench import matching, tables
from ocrflow.bench.spec import BenchTest, make_test
from ocrflow.core.layout import Layout, document_file
from ocrflow.inputs.corpus import discover

_MARKER = re.compile(r"^<!-- page (\d+) -->$", re.MULTILINE)
_FAILED = re.compile(r"^> \*\*\[ocrflow\] page \d+ could not be recognised\*\* \((.*)\)$")
_NO_TEXT = re.compile(r"^> \[ocrflow\] page \d+: no text \(a picture or drawing\)$")
# merge.mark_direction's wrapper around right-to-left paragraphs: ocrflow's, not the engine's
_RTL_DIV = re.compile(r'^<div dir="rtl">\n\n|\n\n</div>$|^</div>$', re.MULTILINE)

CHECKS: dict[str, Callable[[BenchTest, str], tuple[bool, str]]] = {
    "present": matching.presence, "absent": matching.presence, "order": matching.order,
    "baseline": matching.baseline, "table": tables.table_test,
}
SKIPPED = {
    "math": "no equation renderer: olmOCR-bench compares KaTeX renderings, ocrflow has none",
    "format": "format tests are not scored by ocrflow eval",
    "footnote": "footnote tests are not scored by ocrflow eval",
}


@dataclass
class Outcome:
    test: BenchTest
    status: str  # "pass", "fail" or "skip"
    why: str = ""

    def failure(self) -> dict[str, object]:
        return {"id": self.test.id, "type": self.test.type, "pdf": self.test.pdf,
                "page": self.test.page, "why": self.why}


def split_pages(markdown: str) -> dict[int, str]:
    """Page number -> that page's Markdown, from a document written by merge.py."""
    marks = list(_MARKER.finditer(markdown))
    pages = {}
    for mark, following in zip(marks, [*marks[1:], None], strict=True):
        end = following.start() if following else len(markdown)
        pages[int(mark.group(1))] = markdown[mark.end():end].strip()
    return pages


class Results:
    """The pages of a results folder, each document read once."""

    def __init__(self, results: Path, pdfs: Path):
        self.markdown = Layout.of(results).markdown
        self.pdfs = pdfs
        # the doc_ids of ocrflow's folder mode (a.pdf beside a.PDF: one keeps its suffix)
        self.doc_ids = {PurePosixPath(os.path.relpath(d.source_path, pdfs)).as_posix(): d.doc_id
                        for d in discover(str(pdfs))}
        self.documents: dict[str, dict[int, str] | None] = {}

    def page(self, pdf: str) -> tuple[dict[int, str] | None, str]:
        """A document's pages, or None and why."""
        key = PurePosixPath(pdf).as_posix()
        if key not in self.doc_ids:
            return None, f"{pdf} is not a PDF under {self.pdfs}"
        doc_id = self.doc_ids[key]
        if doc_id not in self.documents:
            path = document_file(self.markdown, doc_id, "markdown")
            self.documents[doc_id] = (split_pages(path.read_text(encoding="utf-8"))
                                      if path.is_file() else None)
        if self.documents[doc_id] is None:
            return None, f"no Markdown for document {doc_id!r} (markdown/{doc_id}.md)"
        return self.documents[doc_id], ""


def run_test(test: BenchTest, results: Results) -> Outcome:
    if test.type in SKIPPED:
        return Outcome(test, "skip", SKIPPED[test.type])
    pages, why = results.page(test.pdf)
    if pages is None:
        return Outcome(test, "fail", why)
    if test.page not in pages:
        return Outcome(test, "fail", f"page {test.page} missing from the Markdown "
                                     f"({len(pages)} page(s))")
    text = pages[test.page]
    if failed := _FAILED.match(text):
        return Outcome(test, "fail", f"page {test.page} could not be recognised "
                                     f"({failed.group(1)})")
    text = "" if _NO_TEXT.match(text) else _RTL_DIV.sub("", text)
    passed, why = CHECKS[test.type](test, text)
    return Outcome(test, "pass" if passed else "fail", why)


def with_baselines(tests: list[BenchTest]) -> list[BenchTest]:
    """Upstream adds a default baseline test (page 1: not blank, not looping, no CJK) for every
    PDF the tests name that has none, in a group of its own."""
    have = {t.pdf for t in tests if t.type == "baseline"}
    added = [make_test({"pdf": pdf, "page": 1, "id": f"{pdf}_baseline", "type": "baseline"},
                       "baseline")
             for pdf in dict.fromkeys(t.pdf for t in tests) if pdf not in have]
    return [*tests, *added]


@dataclass
class Score:
    passed: int
    total: int

    @property
    def rate(self) -> float:
        return self.passed / self.total if self.total else 0.0


def _tally(outcomes: Iterable[Outcome], key: Callable[[Outcome], str]) -> dict[str, Score]:
    scores: dict[str, Score] = {}
    for o in outcomes:
        if o.status != "skip":
            score = scores.setdefault(key(o), Score(0, 0))
            score.total += 1
            score.passed += o.status == "pass"
    return dict(sorted(scores.items()))


@dataclass
class Summary:
    by_type: dict[str, Score]
    by_group: dict[str, Score]
    tests: Score
    overall: float  # mean of the per-group rates (olmOCR-bench's "Average Score")
    skipped: dict[str, int]


def summarize(outcomes: list[Outcome]) -> Summary:
    by_group = _tally(outcomes, lambda o: o.test.group)
    skipped: dict[str, int] = {}
    for o in outcomes:
        if o.status == "skip":
            skipped[o.test.type] = skipped.get(o.test.type, 0) + 1
    scored = [o for o in outcomes if o.status != "skip"]
    overall = sum(s.rate for s in by_group.values()) / len(by_group) if by_group else 0.0
    return Summary(_tally(outcomes, lambda o: o.test.type), by_group,
                   Score(sum(o.status == "pass" for o in scored), len(scored)), overall,
                   dict(sorted(skipped.items())))


def report(summary: Summary) -> str:
    lines = ["by test type (mean over tests):"]
    for kind, score in summary.by_type.items():
        lines.append(f"  {kind:9s} {score.rate * 100:5.1f}%  ({score.passed}/{score.total})")
    for kind, count in summary.skipped.items():
        lines.append(f"  {kind:9s} skipped ({count} test{'s' * (count != 1)}): {SKIPPED[kind]}")
    lines.append("by file (mean over tests):")
    for group, score in summary.by_group.items():
        lines.append(f"  {group:20s} {score.rate * 100:5.1f}%  ({score.passed}/{score.total})")
    lines.append(f"overall: {summary.overall * 100:.1f}% (mean of the per-file scores, as "
                 f"olmOCR-bench); {summary.tests.passed}/{summary.tests.total} tests passed "
                 f"({summary.tests.rate * 100:.1f}%)")
    return "\n".join(lines)


def write_failures(outcomes: list[Outcome], path: Path) -> int:
    failures = [o.failure() for o in outcomes if o.status == "fail"]
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("".join(json.dumps(f, ensure_ascii=False) + "\n" for f in failures),
                    encoding="utf-8")
    return len(failures)
