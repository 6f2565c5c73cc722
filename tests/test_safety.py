"""Nothing lost, nothing overwritten: a dry run and a run refused by the lock change nothing, a
vanishing input removes nothing, document ids cannot share an output file, a name too long for
the filesystem still gets its Markdown, one document never fails its shard, special files are
unreadable at once."""

from __future__ import annotations

import hashlib
import json
import os
import re
import signal
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import pytest

from ocrflow.core import atomic
from ocrflow.core.layout import NAME_MAX, Layout, document_file, output_stem
from ocrflow.core.records import InventoryDocument, InventoryPage, PageRow, read_records
from ocrflow.inputs import corpus
from ocrflow.results.merge import merge_shard
from ocrflow.results.settings import MergeFiles, MergeSettings
from ocrflow.run import plan
from ocrflow.run.settings import RemovalSettings
from tests.conftest import REPO, Workspace
from tests.support import pdfs

TEXT = ("Minutes of meeting {}: the harbour board approved the budget of the new quay and the "
        "dredging of the channel.")


def born_digital(folder: Path, *names: str) -> None:
    for name in names:
        pdfs.write(folder / f"{name}.pdf", pdfs.text_pdf([TEXT.format(name)]))


def checksums(folder: Path) -> dict[str, str]:
    """Every file below ``folder`` (and every folder, empty ones too) with its content's hash."""
    found = {}
    for path in sorted(folder.rglob("*")):
        key = path.relative_to(folder).as_posix()
        found[key] = hashlib.sha256(path.read_bytes()).hexdigest() if path.is_file() else "dir"
    return found


@pytest.fixture
def finished(workspace: Workspace) -> Workspace:
    """A small corpus run to the end with the text layer alone: 4 documents in 2 shards."""
    born_digital(workspace.root / "corpus", "a", "b", "sub/c", "sub/d")
    workspace.config.update(shard_size=2, recovery={"engine": "none"})
    workspace.snakemake()
    return workspace


@pytest.mark.slow  # finished: a Snakemake run, then more
def test_a_dry_run_changes_nothing(finished: Workspace) -> None:
    ws = finished
    before = checksums(ws.results)
    corpus_dir = ws.root / "corpus"
    born_digital(corpus_dir, "e")  # a new PDF: the plan would change
    (corpus_dir / "b.pdf").unlink()  # one that left: its outputs would go
    changed = ws.snakemake("-n", "--config", "detection={min_chars: 7}")
    assert ("documents that left the input, whose outputs a run removes: 1 (first: 'b')"
            in changed.stderr)
    mistyped = ws.snakemake("-n", "--config", f"input={ws.root / 'corpsu'}", check=False)
    assert mistyped.returncode != 0
    (ws.root / "empty").mkdir()
    emptied = ws.snakemake("-n", "--config", f"input={ws.root / 'empty'}", check=False)
    assert "4 of the 4 documents known to" in emptied.stderr
    assert checksums(ws.results) == before  # config.yaml, member lists, Markdown: all as they were


@pytest.mark.slow  # finished: a Snakemake run, then more
def test_a_run_refused_by_the_lock_changes_nothing(finished: Workspace) -> None:
    ws = finished
    born_digital(ws.root / "corpus", "e", "f")
    ws.write_config()
    command = [sys.executable, "-m", "snakemake", "-s", str(REPO / "Snakefile"), "-d",
               str(ws.root), "--profile", str(REPO / "profiles/local"), "--cores", "1"]
    running = subprocess.Popen(command, cwd=ws.root, stdout=subprocess.PIPE,
                               stderr=subprocess.STDOUT, text=True, start_new_session=True)
    locks = ws.root / ".snakemake" / "locks"
    deadline = time.monotonic() + 120
    while not (locks.is_dir() and any(locks.iterdir())):  # it holds the lock: freeze it there
        assert running.poll() is None and time.monotonic() < deadline, running.stdout.read()
        time.sleep(0.05)
    os.killpg(running.pid, signal.SIGSTOP)
    try:
        before = checksums(ws.results)
        refused = ws.snakemake("--config", "shard_size=1", check=False)  # another plan entirely
        assert refused.returncode != 0
        assert "LockException" in refused.stdout + refused.stderr
        assert checksums(ws.results) == before
    finally:
        os.killpg(running.pid, signal.SIGCONT)
    out, _ = running.communicate(timeout=600)
    assert running.returncode == 0, out
    assert {row["doc_id"] for row in ws.manifest()} == {"a", "b", "e", "f", "sub/c", "sub/d"}
    status = subprocess.run([sys.executable, "-m", "ocrflow", "status", "--results",
                             str(ws.results)], cwd=REPO, capture_output=True, text=True)
    assert re.search(r"^shards +3 ", status.stdout, re.M), status.stdout
    assert re.search(r"^  merged +3$", status.stdout, re.M), status.stdout


@pytest.mark.slow  # finished: a Snakemake run, then more
def test_a_vanished_input_stops_before_removing_anything(finished: Workspace) -> None:
    ws = finished
    markdown = Layout.of(ws.results).markdown
    before = checksums(markdown)
    (ws.root / "unmounted").mkdir()
    stopped = ws.snakemake("--config", f"input={ws.root / 'unmounted'}", check=False)
    assert stopped.returncode != 0
    lines = [line for line in stopped.stderr.splitlines() if "ocrflow: stopped" in line]
    assert lines == [f"ocrflow: stopped: 4 of the 4 documents known to {ws.results} are no "
                     "longer in the input (first: 'a'), and a run would remove their outputs; "
                     "nothing was removed. If the input is right, allow it once: --config "
                     "removal='{max_share: 1}' (removal.max_share 0.1, removal.max_count 10)"]
    assert checksums(markdown) == before
    # A few documents leave: that stays automatic.
    (ws.root / "corpus" / "b.pdf").unlink()
    ws.snakemake()
    assert not document_file(markdown, "b", "markdown").exists()
    assert {row["doc_id"] for row in ws.manifest()} == {"a", "sub/c", "sub/d"}
    # The user says the input is right: the allowing key removes them all.
    allowed = ws.snakemake("--config", f"input={ws.root / 'unmounted'}",
                           "removal={max_share: 1}")
    assert "ocrflow: removed" in allowed.stderr
    assert not [p for p in markdown.rglob("*") if p.is_file()]
    assert ws.manifest() == []
    assert not Layout.of(ws.results).shards.exists() or \
        not list(Layout.of(ws.results).shards.iterdir())  # both shards retired


def test_a_share_of_the_corpus_that_leaves_stops_too(tmp_path: Path) -> None:
    folder, results = tmp_path / "in", tmp_path / "results"
    born = [f"doc{i:02d}" for i in range(40)]
    for name in born:
        (folder / f"{name}.pdf").parent.mkdir(parents=True, exist_ok=True)
        (folder / f"{name}.pdf").write_bytes(b"%PDF-1.4 " + name.encode())
    plan.update(str(folder), results, 10)
    for name in born[:12]:  # 12 of 40: over a tenth, and over 10 documents
        (folder / f"{name}.pdf").unlink()
    planned = plan.compute(str(folder), results, 10)
    with pytest.raises(corpus.InputError, match="12 of the 40 documents"):
        planned.check_removals(RemovalSettings(0.1, 10))
    planned.check_removals(RemovalSettings(0.5, 10))  # a larger share allowed
    planned.check_removals(RemovalSettings(0.1, 12))  # or a larger count


@pytest.mark.parametrize(("rows", "message"), [
    ("a/b\tone.pdf\na/./b\ttwo.pdf\n", "sheet.tsv:3: duplicate doc_id 'a/b' ('a/./b' is 'a/b'): "
                                      "line 2 has it already"),
    ("a/b\tone.pdf\na//b\ttwo.pdf\n", "sheet.tsv:3: duplicate doc_id 'a/b'"),
    ("a/b/\tone.pdf\na/b\ttwo.pdf\n", "sheet.tsv:3: duplicate doc_id 'a/b'"),
    ("caf\u00e9\tone.pdf\ncafe\u0301\ttwo.pdf\n", "sheet.tsv:3: duplicate doc_id 'café'"),
    ("a\x00b\tone.pdf\n", r"sheet.tsv:2: doc_id 'a\\x00b': a control character ('\\x00')"),
    ("a\x1bb\tone.pdf\n", r"sheet.tsv:2: doc_id 'a\\x1bb': a control character"),
    ("./.\tone.pdf\n", "sheet.tsv:2: doc_id './.': must be a relative path"),
])
def test_sheet_ids_that_would_share_an_output_are_refused(tmp_path: Path, rows: str,
                                                          message: str) -> None:
    sheet = tmp_path / "sheet.tsv"
    sheet.write_text("doc_id\tpath\n" + rows, encoding="utf-8")
    with pytest.raises(corpus.InputError) as caught:
        plan.compute(str(sheet), tmp_path / "results", 100)
    assert str(caught.value).startswith(str(sheet) + ":")
    assert message.replace("\\\\", "\\") in str(caught.value)
    assert "\n" not in str(caught.value)


def test_sheet_ids_are_normalised(tmp_path: Path) -> None:
    sheet = tmp_path / "sheet.tsv"
    sheet.write_text("doc_id\tpath\n a//b/./c/ \tone.pdf\ncafe\u0301\ttwo.pdf\n", encoding="utf-8")
    assert [d.doc_id for d in corpus.discover(str(sheet))] == ["a/b/c", "caf\u00e9"]


def test_a_case_only_pair_cannot_clobber_each_other(tmp_path: Path) -> None:
    folder = tmp_path / "in"
    born_digital(folder, "Report", "report", "x", "x_images/y")
    planned = plan.compute(str(folder), tmp_path / "results", 100)
    problems = {d.doc_id: d.problem for d in planned.members["s000000"]}
    assert problems["Report"] == "" and problems["x_images/y"] == ""
    assert problems["report"] == corpus.name_taken("Report")
    assert problems["x"] == corpus.name_taken("x_images/y")
    # A document that already has its names keeps them when the other arrives later.
    (folder / "Report.pdf").rename(tmp_path / "Report.pdf")
    plan.update(str(folder), tmp_path / "results", 100)
    (tmp_path / "Report.pdf").rename(folder / "Report.pdf")
    again = plan.compute(str(folder), tmp_path / "results", 100)
    problems = {d.doc_id: d.problem for d in again.members["s000000"]}
    assert problems["report"] == "" and problems["Report"] == corpus.name_taken("report")
    sheet = tmp_path / "sheet.tsv"
    sheet.write_text(f"doc_id\tpath\nBO/7290\t{folder}/x.pdf\nbo/7290\t{folder}/x.pdf\n")
    with pytest.raises(corpus.InputError, match="doc_id 'bo/7290' and doc_id 'BO/7290'"):
        plan.compute(str(sheet), tmp_path / "results2", 100)


def test_special_files_are_unreadable_at_once(tmp_path: Path) -> None:
    folder = tmp_path / "in"
    born_digital(folder, "fine")
    os.mkfifo(folder / "pipe.pdf")
    sheet = tmp_path / "sheet.tsv"
    sheet.write_text(f"doc_id\tpath\nzero\t/dev/zero\npipe\t{folder / 'pipe.pdf'}\n")
    for source, ids in ((folder, {"pipe"}), (sheet, {"pipe", "zero"})):
        started = time.monotonic()
        docs = corpus.discover(str(source))
        assert time.monotonic() - started < 1
        problems = {d.doc_id: d.problem for d in docs if d.problem}
        assert set(problems) == ids
        assert problems["pipe"] == "not a regular file: a FIFO (named pipe)"
        if "zero" in problems:
            assert problems["zero"] == "not a regular file: a character device"


def test_long_names_fit_the_filesystem_and_ids_stay_whole() -> None:
    arabic = "ب" * 125 + "x"  # 251 bytes; with ".pdf" the longest name a folder can hold
    stem = output_stem(f"الجريدة/{arabic}")
    assert stem.startswith("الجريدة/ب") and stem != f"الجريدة/{arabic}"
    name = stem.rsplit("/", 1)[1]
    assert len((name + ".pages.jsonl").encode()) <= NAME_MAX
    assert output_stem(f"الجريدة/{arabic[:-1]}y") != stem  # two long names never meet
    assert output_stem("plain/id") == "plain/id"
    from ocrflow.core.atomic import _temp_prefix
    assert len((_temp_prefix(name + ".pages.jsonl") + "abcdefgh.tmp").encode()) <= NAME_MAX


@pytest.mark.slow  # a Snakemake run
def test_a_255_byte_arabic_file_name_is_read_end_to_end(workspace: Workspace) -> None:
    ws = workspace
    name = "محضر اجتماع مجلس الميناء " * 6
    name = name.encode()[:251].decode("utf-8", "ignore").strip()
    while len(name.encode()) < 251:
        name += "x"
    assert len((name + ".pdf").encode()) == 255
    pdfs.write(ws.root / "corpus" / f"{name}.pdf", pdfs.text_pdf([TEXT.format("long")]))
    born_digital(ws.root / "corpus", "short")
    ws.config.update(recovery={"engine": "none"},
                     outputs=["markdown", "page_records", "json", "text", "dolma"])
    ws.snakemake()
    markdown = Layout.of(ws.results).markdown
    files = {p.name for p in markdown.iterdir()}
    stem = output_stem(name)
    assert {f"{stem}{s}" for s in (".md", ".pages.jsonl", ".json", ".txt")} <= files
    assert "harbour board" in (markdown / f"{stem}.md").read_text()
    assert json.loads((markdown / f"{stem}.json").read_text())["doc_id"] == name
    assert {row["doc_id"] for row in ws.manifest()} == {name, "short"}
    assert {row["status"] for row in ws.manifest()} == {"ok"}
    dolma = [json.loads(line) for line in (ws.results / "dolma.jsonl").read_text().splitlines()]
    assert {record["id"] for record in dolma} == {name, "short"}
    with sqlite3.connect(ws.results / "ocrflow.sqlite") as db:
        assert {row[0] for row in db.execute("SELECT doc_id FROM documents")} == {name, "short"}


@pytest.mark.slow  # a Snakemake run
def test_one_document_whose_outputs_cannot_be_written_keeps_the_others(
        workspace: Workspace) -> None:
    ws = workspace
    born_digital(ws.root / "corpus", "a", "blocked", "c")
    ws.config.update(recovery={"engine": "none"})
    markdown = Layout.of(ws.results).markdown
    (markdown / "blocked.md").mkdir(parents=True)  # a folder where its Markdown must go
    (markdown / "blocked.md" / "keep").write_text("the user's")
    ws.snakemake()
    rows = {row["doc_id"]: row for row in ws.manifest()}
    assert rows["a"]["status"] == rows["c"]["status"] == "ok"
    assert rows["blocked"]["status"] == "failed"
    assert rows["blocked"]["reasons"] == ["merge:output_error"]
    assert rows["blocked"]["error"].startswith("cannot write its outputs: IsADirectoryError")
    assert "\n" not in rows["blocked"]["error"]
    assert (markdown / "a.md").exists() and (markdown / "c.md").exists()
    assert (markdown / "blocked.md" / "keep").read_text() == "the user's"
    summary = (ws.results / "summary.txt").read_text()
    assert "blocked: cannot write its outputs: IsADirectoryError" in summary


def test_a_page_or_pdf_too_large_for_memory_says_so_in_its_reasons(tmp_path: Path) -> None:
    limit = "too large: needed more than 1232 MB (limit from the job's mem_mb 2000)"
    page_error = "too large: text layer of 300000 characters (inventory.max_page_chars 200000)"
    docs = [InventoryDocument("bomb", "/in/bomb.pdf", "h1", error=limit),
            InventoryDocument("dense", "/in/dense.pdf", "h2",
                              pages=[InventoryPage(1, error=page_error)])]
    inventory = tmp_path / "inventory.jsonl"
    atomic.write_jsonl(inventory, (d.to_json() for d in docs))
    empty = tmp_path / "empty.jsonl"
    empty.write_text("")
    merge_shard(MergeFiles(inventory=inventory, primary=empty, primary_verdicts=empty,
                           recovery=None, recovery_verdicts=None, markdown_dir=tmp_path / "md",
                           store_root=tmp_path, output=tmp_path / "pages.jsonl",
                           documents=tmp_path / "documents.tsv"),
                MergeSettings(("markdown",), min_agreement=0.8, headers_footers=None))
    rows = {r.doc_id: r for r in read_records(tmp_path / "pages.jsonl", PageRow)}
    assert (rows["bomb"].status, rows["bomb"].reasons) == ("unreadable", ["inventory:too_large"])
    assert (rows["dense"].status, rows["dense"].reasons, rows["dense"].error) == (
        "failed", ["inventory:too_large"], page_error)
