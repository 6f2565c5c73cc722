"""The workflow owns its outputs: what it writes per document is chosen in the config, indexed
per shard, and removed when the document leaves the corpus."""

from __future__ import annotations

from pathlib import Path

import pytest

from ocrflow.core.layout import Layout
from tests.conftest import Workspace
from tests.support import pdfs

pytestmark = pytest.mark.slow  # every test runs Snakemake, more than once


def born_digital(workspace: Workspace, *names: str) -> None:
    for name in names:
        pdfs.write(workspace.root / "corpus" / f"{name}.pdf",
                   pdfs.text_pdf([f"Minutes of meeting {name}: the harbour board approved the "
                                  "budget of the new quay and the dredging of the channel."]))


def files_under(folder: Path) -> list[Path]:
    return sorted(p for p in folder.rglob("*") if p.is_file()) if folder.exists() else []


def test_a_document_that_left_the_corpus_leaves_its_outputs(workspace: Workspace) -> None:
    born_digital(workspace, "a", "b", "c")
    workspace.config["shard_size"] = 2  # s000000: a, b; s000001: c
    workspace.snakemake()
    layout = Layout.of(workspace.results)
    assert {p.name for p in files_under(layout.markdown)} == {
        f"{d}{suffix}" for d in "abc" for suffix in (".md", ".pages.jsonl")}
    assert layout.documents("s000000").read_text() == \
        "a\ta.md\ta.pages.jsonl\nb\tb.md\tb.pages.jsonl\n"
    (workspace.root / "corpus" / "b.pdf").unlink()  # its shard stays, with a alone
    (workspace.root / "corpus" / "c.pdf").unlink()  # its shard goes
    result = workspace.snakemake()
    assert ("documents that left the input, whose outputs a run removes: 2 (first: 'b')"
            in result.stderr)
    assert "ocrflow: plan" in result.stderr and "2 documents removed, 1 shards retired" \
        in result.stderr
    assert {p.name for p in files_under(layout.markdown)} == {"a.md", "a.pages.jsonl"}
    assert {row["doc_id"] for row in workspace.manifest()} == {"a"}
    assert layout.documents("s000000").read_text() == "a\ta.md\ta.pages.jsonl\n"


def test_a_pdf_read_by_one_engine_costs_two_files(workspace: Workspace) -> None:
    born_digital(workspace, "a", "b", "c", "d")
    workspace.config["outputs"] = ["markdown"]  # the default
    workspace.snakemake()
    layout = Layout.of(workspace.results)
    # Markdown, and the text layer's page-store file (locked in place: no lock file beside it)
    assert len(files_under(layout.markdown)) == 4
    assert len(files_under(layout.page_store)) == 4
    workspace.config["outputs"] = ["markdown", "page_records"]
    workspace.snakemake()
    assert len(files_under(layout.markdown)) == 8
    workspace.config["outputs"] = ["markdown"]
    workspace.snakemake()  # outputs no longer chosen are removed, not left behind
    assert [p.suffix for p in files_under(layout.markdown)] == [".md"] * 4
