"""``python -m ocrflow eval``: olmOCR-bench's rules (olmocr 0.4.27) on hand-made results folders.

The contract data (tests/data/olmocr-bench-0.4.27/) was checked against upstream's own code; the
cases below pin each rule: normalisation, max_diffs edges, case, first_n/last_n, tables, order,
baseline, math skipped, the scores, the failures file and the command line.
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from ocrflow.__main__ import main
from ocrflow.bench import matching, tables
from ocrflow.bench.scoring import (
    Outcome,
    Results,
    run_test,
    split_pages,
    summarize,
    with_baselines,
)
from ocrflow.bench.spec import SpecError, load_tests, make_test, normalize_text
from ocrflow.core.records import FinalPage
from ocrflow.results.merge import document_markdown

DATA = Path(__file__).parent / "data" / "olmocr-bench-0.4.27"


def bench(kind: str, **fields) -> object:
    return make_test({"pdf": "doc.pdf", "page": 1, "id": "t", "type": kind, **fields})


def passes(page: str, kind: str, **fields) -> bool:
    test = bench(kind, **fields)
    check = {"present": matching.presence, "absent": matching.presence,
             "order": matching.order, "baseline": matching.baseline,
             "table": tables.table_test}[kind]
    return check(test, page)[0]


def corpus(tmp_path: Path, docs: dict[str, list[FinalPage] | None]) -> tuple[Path, Path]:
    """A --pdfs folder (empty files: eval never opens them) and a results folder whose Markdown
    merge.py writes; a document given None has a PDF but no Markdown."""
    pdfs, results = tmp_path / "pdfs", tmp_path / "results"
    for doc_id, pages in docs.items():
        pdf = pdfs / f"{doc_id}.pdf"
        pdf.parent.mkdir(parents=True, exist_ok=True)
        pdf.write_bytes(b"%PDF-1.4\n")
        if pages is not None:
            md = results / "markdown" / f"{doc_id}.md"
            md.parent.mkdir(parents=True, exist_ok=True)
            md.write_text(document_markdown(pages), encoding="utf-8")
    results.mkdir(exist_ok=True)
    return pdfs, results


def ok(page: int, text: str) -> FinalPage:
    return FinalPage(page, "ok", "tesseract", text=text)


def write_tests(path: Path, *tests: dict) -> Path:
    path.write_text("".join(json.dumps(t, ensure_ascii=False) + "\n" for t in tests),
                    encoding="utf-8")
    return path


# -- normalisation -------------------------------------------------------------------------------

def test_normalisation_follows_upstream():
    assert normalize_text("e\u0301te\u0301") == "été"  # NFD -> NFC
    assert normalize_text("‘a’ “b” „c‚ x–y—z−1 5\u00b5m") == "'a' \"b\" \"c' x-y-z-1 5μm"
    assert normalize_text("**bold** __b2__ *it* _i2_ <b>B</b><i>I</i>") == "bold b2 it i2 BI"
    assert normalize_text("one<br>two<br/>three\n\n\tfour") == "one two three four"
    assert normalize_text("ﬁn") == "ﬁn"  # NFC, not NFKC: ligatures are not unfolded
    assert normalize_text("*not\nitalic*") == "*not italic*"  # emphasis never spans lines


def test_unicode_forms_match():
    assert passes("Le cafe\u0301 est ouvert", "present", text="café")  # NFD page, NFC test
    assert passes("Le café est ouvert", "present", text="cafe\u0301")
    # Arabic: alef + combining hamza above composes to U+0623 under NFC
    assert passes("قال \u0627\u0654حمد", "present", text="قال \u0623حمد")
    assert passes("rue de l’Église", "present", text="rue de l'Église")
    assert not passes("ﬁnance", "present", text="finance")  # a ligature is one difference
    assert passes("ﬁnance", "present", text="finance", max_diffs=1)


# -- present / absent ----------------------------------------------------------------------------

def test_present_max_diffs_edges():
    text = "abcdefghij"
    assert passes(f"xx {text} yy", "present", text=text)
    assert not passes("xx abcdeXghij yy", "present", text=text)
    assert passes("xx abcdeXghij yy", "present", text=text, max_diffs=1)  # exactly max_diffs
    assert not passes("xx abXdeYghij yy", "present", text=text, max_diffs=1)  # one more
    assert passes("xx abXdeYghij yy", "present", text=text, max_diffs=2)


def test_absent_max_diffs_edges():
    text = "abcdefghij"
    assert not passes(f"xx {text} yy", "absent", text=text)
    assert not passes("xx abcdeXghij yy", "absent", text=text, max_diffs=1)  # near enough: found
    assert passes("xx abXdeYghij yy", "absent", text=text, max_diffs=1)
    assert passes("nothing like it", "absent", text=text)


def test_case_sensitivity():
    assert not passes("ARRÊTÉ DU MAIRE", "present", text="Arrêté du maire")
    assert passes("ARRÊTÉ DU MAIRE", "present", text="Arrêté du maire", case_sensitive=False)
    assert passes("ARRÊTÉ DU MAIRE", "absent", text="Arrêté du maire")
    assert not passes("ARRÊTÉ DU MAIRE", "absent", text="Arrêté du maire", case_sensitive=False)


def test_first_n_and_last_n():
    page = "HEADER line\n" + "body " * 40 + "\nFOOTER 12"
    assert passes(page, "present", text="HEADER", first_n=20)
    assert not passes(page, "present", text="FOOTER", first_n=20)
    assert passes(page, "present", text="FOOTER 12", last_n=20)
    assert not passes(page, "present", text="HEADER", last_n=20)
    assert passes(page, "present", text="FOOTER", first_n=20, last_n=20)  # both ends
    assert passes(page, "absent", text="HEADER", last_n=20)
    assert passes(page, "present", text="FOOTER", first_n=0)  # 0 is unset, as upstream


# -- order ---------------------------------------------------------------------------------------

def test_order():
    page = "Article one. Some text.\n\nArticle two. More."
    assert passes(page, "order", before="Article one", after="Article two")
    assert not passes(page, "order", before="Article two", after="Article one")
    assert not passes(page, "order", before="Article one", after="Article three")
    assert passes(page.replace("one", "onX"), "order", before="Article one",
                  after="Article two", max_diffs=1)  # exactly max_diffs
    assert not passes(page.replace("one", "oXX"), "order", before="Article one",
                      after="Article two", max_diffs=1)  # max_diffs + 1


# -- tables --------------------------------------------------------------------------------------

MD_TABLE = """Intro text
| Name | 2023 | 2024 |
|------|-----:|:----:|
| Lyon | 1.5 | 1.7 |
| Nice | 2.0 | 2.2 |
After."""

# as Chandra emits: <thead>, th, rowspan / colspan, <br/> inside a cell
HTML_TABLE = """<table><thead><tr><th rowspan="2">Ville</th><th colspan="2">Population</th></tr>
<tr><th>2023</th><th>2024</th></tr></thead>
<tbody><tr><td>Lyon</td><td>522 250</td><td>524<br/>000</td></tr>
<tr><td>Nice</td><td>342 000</td><td>343 500</td></tr></tbody></table>"""


def test_markdown_table_neighbours_and_headings():
    assert passes(MD_TABLE, "table", cell="1.7", left="1.5", down="2.2", up="2024",
                  top_heading="2024", left_heading="Lyon")
    assert passes(MD_TABLE, "table", cell="Nice", up="Lyon", right="2.0", top_heading="Name")
    assert not passes(MD_TABLE, "table", cell="1.7", left="2.0")
    assert not passes(MD_TABLE, "table", cell="9.9")
    assert not passes("no table here", "table", cell="1.7")
    assert not passes(MD_TABLE, "table", cell="1.7", ignore_markdown_tables=True)


def test_html_table_spans_and_headings():
    assert passes(HTML_TABLE, "table", cell="2023", up="Population", top_heading="Population")
    assert passes(HTML_TABLE, "table", cell="Lyon", up="Ville", right="522 250")
    assert passes(HTML_TABLE, "table", cell="342 000", top_heading="2023", left_heading="Nice")
    assert passes(HTML_TABLE, "table", cell="524 000", left="522 250")  # <br> is whitespace
    assert passes(HTML_TABLE, "table", cell="Population", down="2024")  # a span: both below
    assert not passes(HTML_TABLE, "table", cell="343 500", top_heading="2023")
    assert not passes(HTML_TABLE, "table", cell="Lyon", up="Population")


def test_table_max_diffs():
    # fuzz.ratio with a floor of 0.5: "522 25O" is one substitution off "522 250"
    assert not passes(HTML_TABLE, "table", cell="522 25O", right="524 000")
    assert passes(HTML_TABLE, "table", cell="522 25O", right="524 000", max_diffs=1)


def test_table_grid():
    (table,) = tables.html_tables(HTML_TABLE)
    assert table.text[(0, 1)] == "Population"
    assert table.near["down"][(0, 1)] == {(1, 1), (1, 2)}
    assert table.near["up"][(2, 0)] == {(0, 0)}  # Ville spans rows 0-1
    assert table.headings >= {(0, 0), (0, 1), (1, 1), (1, 2)}
    (md,) = tables.markdown_tables(MD_TABLE)
    assert md.text[(0, 0)] == "Name" and (1, 0) in md.headings and (1, 1) not in md.headings


# -- baseline, math ------------------------------------------------------------------------------

def test_baseline():
    assert passes("Some text.", "baseline")
    assert not passes("  \n ", "baseline")
    assert not passes("Text " + "ab" * 31, "baseline")  # 31 repeats > max_repeats 30
    assert passes("Text " + "ab" * 30, "baseline")
    assert not passes("Le texte 中文", "baseline")
    assert passes("Le texte 中文", "baseline", check_disallowed_characters=False)
    assert passes("ab", "baseline", max_length=2)
    assert not passes("abc", "baseline", max_length=2)
    assert passes("![figure](x.png)", "baseline", max_length=0,
                  max_length_skips_image_alt_tags=True)


def test_math_is_skipped_never_passed(tmp_path):
    pdfs, results = corpus(tmp_path, {"doc": [ok(1, "$x^2$")]})
    test = make_test({"pdf": "doc.pdf", "page": 1, "id": "m", "type": "math", "math": "x^2"})
    outcome = run_test(test, Results(results, pdfs))
    assert outcome.status == "skip"
    summary = summarize([outcome])
    assert summary.by_type == {} and summary.skipped == {"math": 1}
    assert summary.tests.total == 0


# -- pages of a results folder -------------------------------------------------------------------

def test_split_pages_reads_merge_output():
    markdown = document_markdown([ok(1, "one"), FinalPage(2, "failed", reasons=["x:y"]),
                                  FinalPage(3, "no_text"), ok(4, "has <!-- page 9 --> in it")])
    pages = split_pages(markdown)
    assert sorted(pages) == [1, 2, 3, 4]
    assert pages[1] == "one"


def test_missing_document_page_and_failed_pages(tmp_path):
    pdfs, results = corpus(tmp_path, {
        "a/doc": [ok(1, "Bonjour"), FinalPage(2, "failed", reasons=["tesseract:garbage"]),
                  FinalPage(3, "no_text")],
        "nomd": None,
    })
    found = Results(results, pdfs)

    def outcome(pdf: str, page: int, kind: str = "present", text: str = "Bonjour") -> Outcome:
        return run_test(make_test({"pdf": pdf, "page": page, "id": "t", "type": kind,
                                   "text": text}), found)

    assert outcome("a/doc.pdf", 1).status == "pass"
    assert "page 5 missing" in outcome("a/doc.pdf", 5).why
    failed = outcome("a/doc.pdf", 2, "absent", "Marseille")
    assert failed.status == "fail" and "tesseract:garbage" in failed.why
    assert outcome("a/doc.pdf", 3, "absent").status == "pass"  # no_text reads as empty
    assert outcome("a/doc.pdf", 3).status == "fail"
    assert "no Markdown" in outcome("nomd.pdf", 1).why
    assert "not a PDF under" in outcome("other.pdf", 1).why


def test_right_to_left_wrapper_is_ocrflows_not_the_pages(tmp_path):
    pdfs, results = corpus(tmp_path, {"ar": [ok(1, "مرحبا بالعالم\n\nسطر ثان")]})
    assert '<div dir="rtl">' in (results / "markdown" / "ar.md").read_text(encoding="utf-8")
    test = make_test({"pdf": "ar.pdf", "page": 1, "id": "t", "type": "present",
                      "text": "مرحبا بالعالم سطر ثان", "first_n": 21})
    assert run_test(test, Results(results, pdfs)).status == "pass"


# -- loading -------------------------------------------------------------------------------------

@pytest.mark.parametrize("line, message", [
    ({"type": "present", "text": "x", "colour": "red"}, "unknown field"),
    ({"type": "present"}, "missing field"),
    ({"type": "present", "text": "** **"}, "text cannot be empty"),
    ({"type": "order", "before": "abcd", "after": "efgh", "max_diffs": 3}, "more than half"),
    ({"type": "present", "text": "x", "max_diffs": -1}, "max_diffs"),
    ({"type": "shape"}, "unknown test type"),
])
def test_invalid_tests_are_refused(tmp_path, line, message):
    path = write_tests(tmp_path / "t.jsonl", {"pdf": "a.pdf", "page": 1, "id": "x", **line})
    with pytest.raises(SpecError, match=message):
        load_tests([path])


def test_duplicate_ids_are_refused(tmp_path):
    line = {"pdf": "a.pdf", "page": 1, "id": "x", "type": "present", "text": "a"}
    with pytest.raises(SpecError, match="duplicate"):
        load_tests([write_tests(tmp_path / "t.jsonl", line, line)])


# -- scores --------------------------------------------------------------------------------------

def test_scores_per_type_and_overall_per_file():
    def outcome(group: str, kind: str, status: str) -> Outcome:
        return Outcome(make_test(_fields(kind), group), status)

    outcomes = [outcome("a.jsonl", "present", "pass"), outcome("a.jsonl", "present", "fail"),
                outcome("a.jsonl", "absent", "pass"), outcome("a.jsonl", "absent", "pass"),
                outcome("b.jsonl", "present", "fail"), outcome("b.jsonl", "math", "skip")]
    summary = summarize(outcomes)
    assert summary.by_type["present"].rate == pytest.approx(1 / 3)
    assert summary.by_type["absent"].rate == 1.0
    assert summary.by_group["a.jsonl"].rate == 0.75 and summary.by_group["b.jsonl"].rate == 0.0
    assert summary.overall == pytest.approx(0.375)  # mean of the files, not of the tests
    assert (summary.tests.passed, summary.tests.total) == (3, 5)


def _fields(kind: str) -> dict:
    extra = {"present": {"text": "a"}, "absent": {"text": "a"}, "math": {"math": "x"}}[kind]
    return {"pdf": "a.pdf", "page": 1, "id": "x", "type": kind, **extra}


def test_a_baseline_is_added_per_pdf_without_one():
    tests = [make_test(_fields("present") | {"pdf": p, "id": p}) for p in ("a.pdf", "b.pdf")]
    tests.append(make_test({"pdf": "b.pdf", "page": 2, "id": "bb", "type": "baseline"}))
    added = with_baselines(tests)[3:]
    assert [(t.id, t.pdf, t.page, t.group) for t in added] == [
        ("a.pdf_baseline", "a.pdf", 1, "baseline")]


# -- the contract data and the command line ------------------------------------------------------

def _contract_folders(tmp_path: Path) -> tuple[Path, Path]:
    pdfs, results = tmp_path / "pdfs", tmp_path / "results"
    for pdf in ("scanned/arrete_fr.pdf", "facture.pdf"):
        (pdfs / pdf).parent.mkdir(parents=True, exist_ok=True)
        (pdfs / pdf).write_bytes(b"%PDF-1.4\n")
    shutil.copytree(DATA / "markdown", results / "markdown")
    return pdfs, results


def test_contract_data(tmp_path):
    pdfs, results = _contract_folders(tmp_path)
    found = Results(results, pdfs)
    outcomes = {t.id: run_test(t, found).status
                for t in with_baselines(load_tests([DATA / "tests.jsonl"]))}
    lines = (DATA / "expected.jsonl").read_text(encoding="utf-8").splitlines()
    expected = {e["id"]: e["status"] for e in map(json.loads, lines)}
    assert outcomes == expected


def test_command_line(tmp_path, capsys):
    pdfs, results = _contract_folders(tmp_path)
    failures = tmp_path / "out" / "failures.jsonl"
    code = main(["eval", str(DATA / "tests.jsonl"), "--pdfs", str(pdfs), "--results",
                 str(results), "--failures", str(failures)])
    out = " ".join(capsys.readouterr().out.split())
    assert code == 1
    assert "present 50.0% (4/8)" in out and "table 66.7% (2/3)" in out
    assert "math skipped (1 test)" in out
    assert "tests.jsonl 50.0% (8/16)" in out and "baseline 66.7% (2/3)" in out
    assert "overall: 58.3%" in out and "10/19 tests passed" in out
    lines = [json.loads(line) for line in failures.read_text(encoding="utf-8").splitlines()]
    assert len(lines) == 9 and set(lines[0]) == {"id", "type", "pdf", "page", "why"}
    assert {"id": "arrete_missing_page", "type": "present", "pdf": "scanned/arrete_fr.pdf",
            "page": 4, "why": "page 4 missing from the Markdown (3 page(s))"} in lines
    assert "facture_math" not in {line["id"] for line in lines}


def test_command_line_all_pass_and_errors(tmp_path, capsys):
    pdfs, results = corpus(tmp_path, {"doc": [ok(1, "Bonjour le monde")]})
    tests = write_tests(tmp_path / "t.jsonl", {"pdf": "doc.pdf", "page": 1, "id": "a",
                                               "type": "present", "text": "Bonjour"})
    assert main(["eval", str(tests), "--pdfs", str(pdfs), "--results", str(results)]) == 0
    assert "overall: 100.0%" in capsys.readouterr().out
    assert main(["eval", str(tests), "--pdfs", str(tmp_path / "nope"),
                 "--results", str(results)]) == 2
    bad = write_tests(tmp_path / "bad.jsonl", {"pdf": "doc.pdf", "page": 1, "id": "a",
                                               "type": "present"})
    assert main(["eval", str(bad), "--pdfs", str(pdfs), "--results", str(results)]) == 2
    assert "missing field" in capsys.readouterr().err
