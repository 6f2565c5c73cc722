"""The whole workflow, run by Snakemake, on the example corpus and on corpora made here.

Every incremental promise is checked by counting what was sent to the engines (the workflow's
audit log, OCRFLOW_CALL_LOG) and which jobs Snakemake ran.
"""

from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from rapidfuzz.distance import Levenshtein

from ocrflow.core.layout import Layout
from tests.conftest import EXAMPLES, REPO, Workspace, call_counts, jobs_run
from tests.support import pdfs

pytestmark = pytest.mark.slow

CER_PAGE_MAX = 0.05  # tesseract's worst image-only example page (docs/figures.md)
CER_MEAN_MAX = 0.02  # and its mean


def normalized(text: str) -> str:
    return re.sub(r"\s+", " ", text).strip()


def ground_truth() -> list[dict]:
    return [json.loads(line) for line in (EXAMPLES / "ground_truth.jsonl").read_text().splitlines()]


def test_demo_end_to_end_then_rerun_and_threshold_change(example_workspace: Workspace) -> None:
    ws = example_workspace
    ws.config["recovery"]["engine"] = "tesseract"  # as the demo's config: the corpus has Arabic
    result = ws.snakemake()
    truth = ground_truth()
    readable = {t["doc_id"] for t in truth if t["page"] is not None}

    # Markdown per readable PDF, with every page marker in order.
    for doc_id in readable:
        markdown = (ws.results / "markdown" / f"{doc_id}.md").read_text()
        n_pages = sum(1 for t in truth if t["doc_id"] == doc_id)
        assert re.findall(r"<!-- page (\d+) -->", markdown) == [str(n) for n in
                                                                range(1, n_pages + 1)]
        records = [json.loads(x) for x in
                   (ws.results / "markdown" / f"{doc_id}.pages.jsonl").read_text().splitlines()]
        assert [r["page"] for r in records] == list(range(1, n_pages + 1))
    assert not (ws.results / "markdown" / "broken").exists()

    # The manifest: one row per page, one per unreadable PDF, statuses as the page kinds imply,
    # and each page read in one of its languages.
    rows = {(r["doc_id"], r["page"]): r for r in ws.manifest()}
    assert len(rows) == len(truth)
    recovery = ws.config["recovery"]["engine"]
    expected = {"born_digital": ("ok", "textlayer"), "blank": ("ok", "textlayer"),
                "scanned": ("recovered", recovery), "rotated": ("recovered", recovery),
                "stale_ocr_layer": ("recovered", recovery), "unreadable": ("unreadable", None)}
    for t in truth:
        row = rows[(t["doc_id"], t["page"])]
        assert (row["status"], row["engine"]) == expected[t["kind"]], t
        assert row["language"] == (t["languages"][0] if t["languages"] else None) or \
            (len(t["languages"]) > 1 and row["language"] in t["languages"]), (t, row)
        if t["kind"] in ("scanned", "rotated"):
            assert row["reasons"] == ["textlayer:empty_output"]
        if t["kind"] == "stale_ocr_layer":
            assert "textlayer:repetition" in row["reasons"]
    broken = rows[("broken/truncated_download", None)]
    assert broken["error"].startswith("corrupt PDF")
    copy = rows[("born_digital/copies/annual_report_copy", 1)]
    assert copy["duplicate_of"] == "born_digital/annual_report"

    # Accuracy on the image-only pages, as character error rate against the ground truth.
    cers = []
    for t in truth:
        if t["kind"] in ("scanned", "rotated", "stale_ocr_layer"):
            records = (ws.results / "markdown" / f"{t['doc_id']}.pages.jsonl").read_text()
            text = json.loads(records.splitlines()[t["page"] - 1])["text"]
            cers.append(Levenshtein.normalized_distance(normalized(text), normalized(t["text"])))
    print(f"demo CER on the {len(cers)} image-only pages: {sum(cers) / len(cers):.4f} mean, "
          f"{max(cers):.4f} worst")
    assert max(cers) <= CER_PAGE_MAX and sum(cers) / len(cers) <= CER_MEAN_MAX, cers

    # Arabic in logical order: the born-digital decree from its text layer, the scanned
    # bilingual notice from OCR, French first; right-to-left paragraphs marked for Markdown.
    decree = (ws.results / "markdown" / "born_digital/decret_ar.md").read_text()
    arabic = next(t["text"] for t in truth if t["doc_id"] == "born_digital/decret_ar")
    assert normalized(arabic) in normalized(decree) and '<div dir="rtl">' in decree
    notice = (ws.results / "markdown" / "scanned/avis_bilingue.md").read_text()
    assert notice.index("bibliothèque") < notice.index("المكتبة") and '<div dir="rtl">' in notice

    # Engines: the duplicate PDF was OCR'd once; recovery saw only the failed pages.
    calls = call_counts(ws.calls())
    assert all(n == 1 for n in calls.values())
    assert sum(1 for role, *_ in calls if role == "primary") == 17  # 19 pages, 2 duplicated
    recovered = {(r["content_hash"], r["page"]) for r in rows.values()
                 if r["status"] == "recovered"}
    assert {(h, p) for role, h, p in calls if role == "recovery"} == recovered

    out = result.stdout + result.stderr
    assert "ocrflow: 11 documents, 19 pages: 11 ok, 8 recovered, 0 no_text, 0 failed, " \
        "1 unreadable" in out
    assert "unreadable: " in out and "truncated_download.pdf: corrupt PDF" in out

    # A finished corpus: nothing to do, nothing sent.
    ws.reset_calls()
    assert "Nothing to be done" in ws.snakemake("-n").stdout
    ws.snakemake()
    assert ws.calls() == []

    # A detection threshold changed: the OCR jobs judge their readings again and merge reruns;
    # the inventory does not, and no page goes to the primary engine again (the page store).
    ws.config["detection"] = {"min_chars": 300}
    rerun = ws.snakemake()
    jobs = jobs_run(rerun)
    assert jobs["ocr_primary"] == jobs["ocr_recovery"] == jobs["merge"] == 1
    assert "inventory" not in jobs
    new_calls = ws.calls()
    assert new_calls and all(c["role"] == "recovery" for c in new_calls)
    # the recovered pages are in the store already
    assert not {(c["content_hash"], c["page"]) for c in new_calls} & recovered


def text_corpus(root: Path, names: list[str]) -> None:
    for name in names:
        pdfs.write(root / f"{name}.pdf", pdfs.text_pdf([f"Document {name} first page text.",
                                                         f"Document {name} second page."]))


def test_adding_pdfs_processes_only_the_new_ones(workspace: Workspace) -> None:
    ws = workspace
    ws.config["shard_size"] = 2
    text_corpus(ws.root / "corpus", ["a", "b", "c"])
    ws.snakemake()
    first = ws.calls()
    assert len(first) == 6
    ws.reset_calls()
    text_corpus(ws.root / "corpus", ["aa", "d"])
    pdfs.write(ws.root / "corpus" / "scan.pdf", pdfs.scanned_pdf(["A scanned letter of thanks."]))
    result = ws.snakemake()
    calls = ws.calls()
    old_hashes = {c["content_hash"] for c in first}
    assert calls and not {c["content_hash"] for c in calls} & old_hashes
    assert sorted((c["role"], c["page"]) for c in calls) == [
        ("primary", 1), ("primary", 1), ("primary", 1), ("primary", 2), ("primary", 2),
        ("recovery", 1)]
    # a, b fill shard 0, c and aa shard 1, d and scan shard 2: shard 0 is untouched.
    assert jobs_run(result)["inventory"] == 2
    statuses = {(r["doc_id"], r["page"]): r["status"] for r in ws.manifest()}
    assert statuses[("scan", 1)] == "recovered" and len(statuses) == 11


def stored_pages(results: Path) -> set[tuple[str, int]]:
    """(content hash, page) of every complete record in the page store."""
    found = set()
    for path in (results / "page_store").rglob("*.jsonl"):
        for line in path.read_text().splitlines():
            if line.endswith("}"):
                found.add((path.stem, json.loads(line)["page"]))
    return found


def test_killed_run_resumes_without_redoing_finished_pages(workspace: Workspace) -> None:
    ws = workspace
    ws.config["primary"]["engine"] = "rapidocr"
    ws.config["recovery"]["engine"] = "textlayer"
    lines = [f"Page {n}: the harbour committee met on the {n}th of March." for n in range(1, 9)]
    pdfs.write(ws.root / "corpus" / "long.pdf", pdfs.scanned_pdf(lines))
    ws.write_config()
    command = [sys.executable, "-m", "snakemake", "-s", str(REPO / "Snakefile"), "-d",
               str(ws.root), "--profile", str(REPO / "profiles/local"), "--cores", "2"]
    env = {**os.environ, "OCRFLOW_CALL_LOG": str(ws.call_log)}
    process = subprocess.Popen(command, cwd=ws.root, env=env, start_new_session=True,
                               stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.monotonic() + 300
    while len(stored_pages(ws.results)) < 2 and time.monotonic() < deadline:
        time.sleep(0.2)
    os.killpg(process.pid, signal.SIGKILL)
    process.wait()
    done_before = stored_pages(ws.results)
    assert 2 <= len(done_before) < 8
    # no half-written output under its name
    assert not Layout.of(ws.results).records("s000000", "primary").exists()
    ws.reset_calls()

    ws.snakemake("--unlock")  # a killed Snakemake leaves its lock, as documented
    ws.snakemake()
    resent = [(c["content_hash"], c["page"]) for c in ws.calls() if c["role"] == "primary"]
    assert len(resent) == len(set(resent)) == 8 - len(done_before)
    assert not set(resent) & done_before
    rows = ws.manifest()
    assert [r["page"] for r in rows] == list(range(1, 9))
    assert all(r["status"] == "ok" for r in rows)


def test_retry_failed_sends_only_the_failed_pages(workspace: Workspace) -> None:
    ws = workspace
    text_corpus(ws.root / "corpus", ["good"])
    pdfs.write(ws.root / "corpus" / "smudge.pdf", pdfs.noise_pdf())
    filler = "\n".join(["Lorem ipsum dolor sit amet, consectetur adipiscing elit."] * 12)
    pdfs.write(ws.root / "corpus" / "filler.pdf", pdfs.text_pdf([filler]))
    looping = "\n".join(["the same words again and again"] * 14)
    pdfs.write(ws.root / "corpus" / "loop.pdf", pdfs.scanned_pdf([looping]))
    ws.snakemake()
    rows = {r["doc_id"]: r for r in ws.manifest()}
    # Both readings found nothing on a page with ink: a picture, not a failure.
    assert rows["smudge"]["status"] == "no_text"
    recovery = ws.config["recovery"]["engine"]
    assert rows["smudge"]["reasons"] == ["textlayer:empty_output", f"{recovery}:empty_output"]
    assert (ws.results / "markdown" / "smudge.md").read_text() == \
        "<!-- page 1 -->\n> [ocrflow] page 1: no text (a picture or drawing)\n"
    # Filler text that really repeats: both readings agree, the text layer's text is kept.
    assert (rows["filler"]["status"], rows["filler"]["engine"]) == ("ok", "textlayer")
    assert rows["filler"]["reasons"][-1] == "merge:readings_agree"
    failed = [r for r in ws.manifest() if r["status"] == "failed"]
    assert [(r["doc_id"], r["page"]) for r in failed] == [("loop", 1)]
    assert failed[0]["reasons"][:2] == ["textlayer:empty_output", f"{recovery}:repetition"]
    markdown = (ws.results / "markdown" / "loop.md").read_text()
    assert f"page 1 could not be recognised** (textlayer:empty_output; {recovery}:repetition" \
        in markdown
    assert "ocrflow: 4 documents, 5 pages: 3 ok, 0 recovered, 1 no_text, 1 failed" in \
        (ws.results / "summary.txt").read_text()
    ws.reset_calls()

    retry = subprocess.run([sys.executable, "-m", "ocrflow", "retry-failed", "--configfile",
                            str(ws.root / "config" / "config.yaml")], cwd=REPO,
                           capture_output=True, text=True, check=True)
    assert retry.stdout.startswith("1 failed pages in 1 shards")
    ws.snakemake()
    loop_hash = failed[0]["content_hash"]
    assert sorted(call_counts(ws.calls())) == [("primary", loop_hash, 1),
                                               ("recovery", loop_hash, 1)]


def test_bad_inputs_are_recorded_and_the_rest_completes(workspace: Workspace) -> None:
    ws = workspace
    corpus = ws.root / "corpus"
    text_corpus(corpus, ["good"])
    pdfs.write(corpus / "empty.pdf", b"")
    pdfs.write(corpus / "notes.pdf", b"These are my notes, saved with the wrong name.\n")
    pdfs.write(corpus / "truncated.pdf", pdfs.text_pdf(["cut short"])[:350])
    pdfs.write(corpus / "locked.pdf", pdfs.encrypted_pdf())
    pdfs.write(corpus / "garbage.pdf", pdfs.garbage_body_pdf())
    pdfs.write(corpus / "xref.pdf", pdfs.corrupt_xref_pdf())
    huge = pdfs.text_pdf(["huge page", "normal page"])  # the first /MediaBox is page 1's
    pdfs.write(corpus / "huge.pdf", huge.replace(b"/MediaBox [ 0 0 595 842 ]",
                                                  b"/MediaBox [ 0 0 595 9000000 ]", 1))
    result = ws.snakemake()
    rows = {(r["doc_id"], r["page"]): r for r in ws.manifest()}
    expected_errors = {"empty": "empty file (0 bytes)", "notes": "not a PDF (no %PDF- header)",
                       "truncated": "corrupt PDF:", "locked": "encrypted (a password is required)",
                       "garbage": "corrupt PDF:"}
    for doc_id, reason in expected_errors.items():
        row = rows[(doc_id, None)]
        assert row["status"] == "unreadable" and row["error"].startswith(reason)
        assert f"{doc_id}.pdf: {reason}" in result.stdout + result.stderr
    assert rows[("good", 1)]["status"] == rows[("good", 2)]["status"] == "ok"
    assert rows[("xref", 1)]["status"] == "ok"
    huge_pages = sorted((r["page"], r["status"]) for k, r in rows.items() if k[0] == "huge")
    assert huge_pages == [(1, "failed"), (2, "ok")]
    assert rows[("huge", 1)]["error"].startswith("absurd page size")
    assert "<!-- page 1 -->\n> **[ocrflow] page 1 could not be recognised** (inventory:bad_page)" \
        in (ws.results / "markdown" / "huge.md").read_text()


def test_dry_run_plans_jobs_per_shard_not_per_page(workspace: Workspace) -> None:
    ws = workspace
    corpus = ws.root / "corpus"
    for i in range(1000):
        pdfs.write(corpus / f"batch{i % 7}" / f"doc{i:04d}.pdf", b"%PDF-1.4 placeholder")
    ws.config["shard_size"] = 50
    result = ws.snakemake("-n")
    assert jobs_run(result) == {"plan": 1, "inventory": 20, "ocr_primary": 20,
                                "ocr_recovery": 20, "merge": 20, "manifest": 1, "export": 1,
                                "all": 1}
    ws.config["shard_size"] = 250
    assert sum(jobs_run(ws.snakemake("-n")).values()) == 4 * 4 + 4
    assert not ws.results.exists()  # a dry run writes nothing


def test_sample_sheet_input_and_no_recovery_engine(workspace: Workspace) -> None:
    ws = workspace
    files = ws.root / "files"
    pdfs.write(files / "one.pdf", pdfs.text_pdf(["Sheet document one."]))
    pdfs.write(files / "two.pdf", pdfs.scanned_pdf(["Sheet document two, scanned."]))
    sheet = ws.root / "sheet.tsv"
    sheet.write_text("doc_id\tpath\ngazette/001\tfiles/one.pdf\ngazette/002\tfiles/two.pdf\n"
                     "gazette/003\tfiles/missing.pdf\n")
    ws.config["input"] = str(sheet)
    ws.config["recovery"]["engine"] = "none"
    result = ws.snakemake()
    assert "ocr_recovery" not in jobs_run(result)
    rows = {(r["doc_id"], r["page"]): r for r in ws.manifest()}
    assert rows[("gazette/001", 1)]["status"] == "ok"
    assert rows[("gazette/002", 1)]["status"] == "failed"
    assert rows[("gazette/002", 1)]["reasons"] == ["textlayer:empty_output"]
    assert rows[("gazette/003", None)]["error"].startswith("cannot read file:")
    assert (ws.results / "markdown" / "gazette" / "001.md").exists()
    assert {c["role"] for c in ws.calls()} == {"primary"}
