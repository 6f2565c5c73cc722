"""The pure functions that decide shards, manifest rows, the report and which pages are retried,
tested without a Snakemake run (the pipeline tests hold them end to end)."""

from __future__ import annotations

import html
import re
from pathlib import Path

import pytest

from ocrflow.core import atomic
from ocrflow.core.layout import Layout
from ocrflow.core.records import (
    FinalPage,
    InventoryDocument,
    InventoryPage,
    LayerTrust,
    PageRow,
    Reading,
    Verdict,
    read_records,
    write_records,
)
from ocrflow.inputs.corpus import Document
from ocrflow.inputs.registry import Registry
from ocrflow.results.manifest import (
    REPORT_LIST_LIMIT,
    collect_rows,
    markdown_tables,
    report_tables,
    summarize,
)
from ocrflow.results.report_html import build
from ocrflow.run.plan import assign, lists_shards
from ocrflow.run.retry import failed_pages, low_quality_pages


def docs(*ids: str) -> list[Document]:
    return [Document(doc_id, f"/in/{doc_id}.pdf", 1, 1) for doc_id in ids]


def test_shards_keep_their_members_and_fill_up_before_new_ones() -> None:
    def assigned(ids: tuple[str, ...], known: dict[str, str], next_index: int) -> dict[str, str]:
        return assign(docs(*ids), Registry(known, 2, next_index, shard_pages=100), shard_size=2,
                      shard_pages=100, pages=dict.fromkeys(ids, 1))[0]

    first = assigned(("a", "b", "c"), {}, 0)
    assert first == {"a": "s000000", "b": "s000000", "c": "s000001"}
    # b leaves, d and e arrive: a stays, d fills the open shard s000001, e opens s000002
    second = assigned(("a", "c", "d", "e"), first, 2)
    assert second == {"a": "s000000", "c": "s000001", "d": "s000001", "e": "s000002"}
    # a shard whose members all left is not filled again (only the last one is open), and a
    # retired shard's number is never given again (s000003 was made and retired)
    third = assigned(("y", "f", "g"), {"x": "s000001", "y": "s000002"}, 4)
    assert third == {"y": "s000002", "f": "s000002", "g": "s000004"}


def row(doc_id: str, page: int | None, status: str, content_hash: str | None, **extra) -> dict:
    return {"doc_id": doc_id, "source_path": f"/in/{doc_id}.pdf", "content_hash": content_hash,
            "page": page, "status": status, "engine": "textlayer", "reasons": [],
            "n_chars": 10, "error": "", "quality": 1.0, "language": "en", **extra}


def test_only_a_cluster_job_of_one_shard_skips_listing_the_shards() -> None:
    job = ["--target-jobs", "inventory:shard=s000001", "--allowed-rules", "inventory", "--cores"]
    assert not lists_shards(job)
    assert not lists_shards(["--allowed-rules", "ocr_primary", "merge"])  # a group
    assert lists_shards(["--allowed-rules", "ocr_recovery"])  # reads its pool's shards
    assert lists_shards(["--target-jobs", "manifest:", "--allowed-rules", "manifest"])
    assert lists_shards(["--allowed-rules", "inventory", "export"])
    assert lists_shards(["--allowed-rules=inventory"])  # a form not seen: list them
    assert lists_shards(["-n"]) and lists_shards(["--allowed-rules"])


def test_manifest_rows_are_sorted_and_name_the_first_copy(tmp_path: Path) -> None:
    shard_a, shard_b = tmp_path / "a.jsonl", tmp_path / "b.jsonl"
    atomic.write_jsonl(shard_a, [row("z_copy", 2, "ok", "h1"), row("z_copy", 1, "ok", "h1"),
                                 row("broken", None, "unreadable", None)])
    atomic.write_jsonl(shard_b, [row("a_original", 1, "ok", "h1", provenance={"engine": "x"})])
    rows = collect_rows([shard_a, shard_b])
    assert [(r["doc_id"], r["page"]) for r in rows] == [
        ("a_original", 1), ("broken", None), ("z_copy", 1), ("z_copy", 2)]
    by_key = {(r["doc_id"], r["page"]): r for r in rows}
    assert by_key[("z_copy", 1)]["duplicate_of"] == "a_original"
    assert by_key[("a_original", 1)]["duplicate_of"] is None
    assert by_key[("broken", None)]["duplicate_of"] is None  # no content hash: no duplicate
    assert by_key[("a_original", 1)]["provenance"] == '{"engine": "x"}'  # one JSON column
    assert "hash" not in by_key[("z_copy", 1)] and by_key[("z_copy", 1)]["content_hash"] == "h1"


def test_retry_selects_failed_pages_an_engine_can_redo_and_low_scores(tmp_path: Path) -> None:
    layout = Layout.of(tmp_path)
    layout.members("s000000").parent.mkdir(parents=True)
    layout.members("s000000").write_text("")
    atomic.write_jsonl(layout.pages("s000000"), [
        row("a", 1, "failed", "h", reasons=["textlayer:empty_output"]),
        row("a", 2, "failed", "h", reasons=["inventory:bad_page"]),  # no engine can help
        row("a", 3, "ok", "h", quality=0.4),
        row("a", 4, "recovered", "h", quality=0.9),
        row("a", 5, "ok", "h", quality=None),  # a blank page: nothing to score
        row("a", 6, "no_text", "h", quality=None)])
    assert [r.page for r in failed_pages(tmp_path)["s000000"]] == [1]
    assert [r.page for r in low_quality_pages(tmp_path, 0.95)["s000000"]] == [3, 4]
    assert low_quality_pages(tmp_path, 0.1) == {}


def test_the_report_says_what_the_rows_say() -> None:
    rows = [row("a", 1, "ok", "h", quality=0.9),
            row("a", 2, "failed", "h", reasons=["chandra:repetition"], error="cut | short"),
            row("b", None, "unreadable", None, error="encrypted (a password is required)"),
            *(row(f"c{n}", 1, "failed", f"h{n}", reasons=["x:empty_output"])
              for n in range(REPORT_LIST_LIMIT))]
    summary = summarize(rows, [])
    tables = {t.title.split(" (")[0]: t for t in report_tables(summary, rows)}
    assert dict(map(tuple, tables["Pages by status"].rows)) == {
        "ok": 1, "recovered": 0, "no_text": 0, "failed": REPORT_LIST_LIMIT + 1, "unreadable": 1}
    assert tables["Unreadable PDFs"].rows == [["b", "", "", "encrypted (a password is required)"]]
    failed = tables["Failed pages"]
    assert failed.rows[0] == ["a", 2, "chandra:repetition", "cut | short"]
    assert len(failed.rows) == REPORT_LIST_LIMIT and failed.note == "... 1 more in the manifest"
    assert tables["Quality of the pages read"].rows == [["en", 1, "0.900", 0]]
    markdown = markdown_tables("ocrflow report", report_tables(summary, rows))
    assert "| a | 2 | chandra:repetition | cut \\| short |" in markdown  # one cell, escaped


HOSTILE_IDS = ["<svg onload=alert(1)>", "a|b", "two\nlines", "bad</script>",
               "الجريدة/مرسوم_٢٠٢١", "x&amp;y"]


def _markdown_cells(line: str) -> list[str]:
    """A Markdown table row's cells as a reader sees them: split at unescaped pipes, then
    ``\\|`` and the HTML entities read back."""
    cells = re.split(r"(?<!\\)\|", line.strip())[1:-1]
    return [html.unescape(cell.strip().replace("\\|", "|")) for cell in cells]


def test_report_md_escapes_ids_and_errors(tmp_path: Path) -> None:
    """Ids and errors come from the corpus: report.md shows them, never as HTML."""
    shard = tmp_path / "pages.jsonl"
    atomic.write_jsonl(shard, [
        *(row(doc_id, 1, "failed", f"h{n}", reasons=["x:empty_output"],
              error=f"<script>alert({n})</script> & more")
          for n, doc_id in enumerate(HOSTILE_IDS)),
        row("<img src=x onerror=alert(2)>", None, "unreadable", None, error="</script>|<b>")])
    report = tmp_path / "report.md"
    build(shard_pages=[shard], stats=[], manifest=tmp_path / "manifest.parquet", report=report,
          summary_path=tmp_path / "summary.txt")
    markdown = report.read_text(encoding="utf-8")
    for raw in ("<svg", "<script", "</script", "<img", "<b>"):
        assert raw not in markdown
    cells = [_markdown_cells(line) for line in markdown.splitlines() if line.startswith("| ")]
    failed = {cells[0]: cells[3] for cells in cells if cells[2:3] == ["x:empty_output"]}
    assert set(failed) == {" ".join(doc_id.split()) for doc_id in HOSTILE_IDS}  # one line each
    assert failed["<svg onload=alert(1)>"] == "<script>alert(0)</script> & more"
    assert ["<img src=x onerror=alert(2)>", "", "", "</script>|<b>"] in cells

    markdown_it = pytest.importorskip("markdown_it")  # rendered with raw HTML let through
    rendered = markdown_it.MarkdownIt("commonmark", {"html": True}).enable("table")
    page = rendered.render(markdown)
    for raw in ("<svg", "<script", "</script", "<img", "<b>"):
        assert raw not in page
    assert "<td>&lt;svg onload=alert(1)&gt;</td>" in page and "<td>a|b</td>" in page
    assert "<td>الجريدة/مرسوم_٢٠٢١</td>" in page and "<td>x&amp;amp;y</td>" in page


def test_records_round_trip_and_read_results_written_before_them(tmp_path: Path) -> None:
    page = InventoryPage(1, 595.0, 842.0, 90, "Texte", True, 0.04, "",
                         {"picture_without_text": 0.1, "text_off_page": 0.0},
                         LayerTrust(True, 0.97, "fr", []))
    made = [InventoryDocument("a", "/in/a.pdf", "h", "", [page]),
            Reading("a", "h", 1, "chandra", "Texte", "", "stop", 2, 1, {"blocks": []},
                    ["chandra-x/h/h.images/p1-0.webp"], {"engine": "chandra"}, 0.5),
            Verdict("a", 1, "chandra", False, ["low_quality"], 0.4, "fr"),
            FinalPage(1, "ok", "chandra", [], "", 0.97, "fr", 1, None, {}, "Texte"),
            PageRow("a", "/in/a.pdf", "h", 1, "ok", "chandra", [], 5, "", 1, {}, 0.97, "fr")]
    for record in made:
        path = tmp_path / f"{type(record).__name__}.jsonl"
        write_records(path, [record])
        assert read_records(path, type(record)) == [record]
    # A results folder from before the records: the former names, a field since dropped.
    old = {"doc_id": "a", "path": "/in/a.pdf", "hash": "h", "error": "", "pages": []}
    assert InventoryDocument.from_json(old) == InventoryDocument("a", "/in/a.pdf", "h")
    assert Verdict.from_json({"doc_id": "a", "page": 1, "engine": "x", "ok": True,
                              "reasons": [], "details": ["gone"]}) == Verdict("a", 1, "x")
