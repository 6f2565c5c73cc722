"""What a new user meets on the first day, each with the file or config that showed it: odd files
in the input folder, results others can read, retry-failed on the run made, command-line
overrides, one-line errors."""

from __future__ import annotations

import json
import os
import stat
import subprocess
import sys
from pathlib import Path
from types import SimpleNamespace

import pytest
import yaml

from ocrflow.core import atomic
from ocrflow.core.layout import Layout
from ocrflow.core.records import FinalPage
from ocrflow.inputs.inventory import InventoryTask, inventory_document, inventory_shard
from ocrflow.inputs.settings import InventorySettings
from ocrflow.results.manifest import summarize, summary_text
from ocrflow.results.merge import document_markdown
from ocrflow.run import entrypoints, plan
from ocrflow.text.settings import TrustSettings
from tests.conftest import REPO, Workspace
from tests.support import pdfs
from tests.support.stand_in import DEFAULTS, run_job


def planned(tmp_path: Path, folder: Path) -> dict[str, dict]:
    """Plan the folder and inventory its one shard, as the workflow's first job does."""
    results = tmp_path / "results"
    (shard,) = plan.update(str(folder), results, 100)
    members = Layout.of(results).members(shard)
    inventory_shard(members, tmp_path / "inventory.jsonl",
                    InventorySettings.from_config(DEFAULTS["inventory"]), workers=1,
                    trust_settings=TrustSettings.from_config(DEFAULTS["trust"]))
    return {r["doc_id"]: r for r in atomic.read_jsonl(tmp_path / "inventory.jsonl")}


def test_symbolic_link_loops_and_dangling_links_are_unreadable_inputs(tmp_path: Path) -> None:
    folder = tmp_path / "corpus"
    pdfs.write(folder / "good.pdf", pdfs.text_pdf(["fine"]))
    (folder / "self.pdf").symlink_to("self.pdf")
    (folder / "ping.pdf").symlink_to("pong.pdf")
    (folder / "pong.pdf").symlink_to("ping.pdf")
    (folder / "gone.pdf").symlink_to("missing.pdf")
    (folder / "sub").mkdir()
    (folder / "sub" / "up").symlink_to("..")  # a folder that contains itself
    (folder / "sub" / "d1").symlink_to("d2")
    (folder / "sub" / "d2").symlink_to("d1")  # a folder link loop
    records = planned(tmp_path, folder)
    errors = {doc_id: record["error"] for doc_id, record in records.items()}
    assert errors == {
        "good": "", "self": "symbolic link loop", "ping": "symbolic link loop",
        "pong": "symbolic link loop", "gone": "dangling symbolic link (to missing.pdf)",
        "sub/up": "symbolic link loop (a folder that contains itself)",
        "sub/d1": "symbolic link loop", "sub/d2": "symbolic link loop"}
    assert len(records["good"]["pages"]) == 1


def test_tabs_and_newlines_in_file_names_are_kept(tmp_path: Path) -> None:
    folder = tmp_path / "corpus"
    for name in ("tab\there.pdf", "new\nline.pdf", 'quote".pdf'):
        pdfs.write(folder / name, pdfs.text_pdf([name]))
    records = planned(tmp_path, folder)
    assert sorted(records) == ["new\nline", 'quote"', "tab\there"]
    assert all(r["error"] == "" and len(r["pages"]) == 1 for r in records.values())
    # planned again: the registry and member lists read back as written, nothing moves
    assert plan.update(str(folder), tmp_path / "results", 100) == ["s000000"]


def test_outputs_get_the_mode_the_umask_gives(tmp_path: Path) -> None:
    for umask, mode in ((0o022, 0o644), (0o027, 0o640), (0o077, 0o600)):
        target = tmp_path / f"out-{umask:o}.txt"
        subprocess.run([sys.executable, "-c", f"import os; os.umask({umask}); "
                        "from ocrflow.core import atomic; import sys; "
                        "atomic.write_text(sys.argv[1], 'x')", str(target)],
                       cwd=REPO, check=True)
        assert stat.S_IMODE(target.stat().st_mode) == mode


def dry_run(ws: Workspace, *args: str) -> subprocess.CompletedProcess[str]:
    return ws.snakemake("-n", *args, check=False, timeout=120)


@pytest.mark.slow  # a Snakemake run
def test_retry_failed_acts_on_the_run_the_user_made(workspace: Workspace) -> None:
    ws = workspace
    pdfs.write(ws.root / "elsewhere" / "a.pdf", pdfs.text_pdf(["fine"]))
    out = ws.root / "out"
    ws.config["recovery"] = {"engine": "none"}
    args = ("--config", f"input={ws.root / 'elsewhere'}", f"results={out}",
            "detection={min_chars: 7}")
    assert dry_run(ws, *args).returncode == 0
    assert not out.exists()  # a dry run records nothing: the run is recorded when it runs
    ws.snakemake(*args)
    recorded = yaml.safe_load((out / "config.yaml").read_text())
    assert recorded["input"] == str(ws.root / "elsewhere")
    assert recorded["detection"]["min_chars"] == 7  # a nested value, coerced to an integer

    def retry(*args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run([sys.executable, "-m", "ocrflow", "retry-failed", *args],
                              cwd=ws.root, capture_output=True, text=True,
                              env={**os.environ, "PYTHONPATH": str(REPO)})

    for args in (["--results", str(out)], ["--config", f"results={out}"],
                 ["--configfile", str(ws.root / "config" / "config.yaml"), "--config",
                  f"input={ws.root / 'elsewhere'}", f"results={out}"]):
        done = retry(*args)
        assert done.returncode == 0 and done.stdout.startswith("0 failed pages"), done.stderr
    missing = retry("--results", str(ws.root / "nothing-here"))
    assert missing.returncode == 2
    assert missing.stderr.strip().splitlines() == [
        f"ocrflow: config error: results: no run recorded in {ws.root / 'nothing-here'} "
        "(config.yaml is missing)"]


@pytest.mark.slow  # Snakemake dry runs
def test_nested_config_values_from_the_command_line_take_the_schema_types(
        workspace: Workspace) -> None:
    ws = workspace
    pdfs.write(ws.root / "corpus" / "a.pdf", pdfs.text_pdf(["fine"]))
    ok = dry_run(ws, "--config", "detection={min_chars: 5, text_layer_agreement: "
                 "{enabled: true}}", "render={workers: 3}")
    assert ok.returncode == 0, ok.stderr
    bad = dry_run(ws, "--config", "detection={min_chars: five}")
    assert bad.returncode != 0
    assert "detection.min_chars: 'five' is not of type 'integer'" in bad.stderr


@pytest.mark.slow  # Snakemake dry runs
def test_a_results_folder_that_cannot_be_written_is_one_line(workspace: Workspace) -> None:
    ws = workspace
    pdfs.write(ws.root / "corpus" / "a.pdf", pdfs.text_pdf(["fine"]))
    (ws.root / "a-file").write_text("not a folder")
    for results, why in ((ws.root / "a-file", "Not a directory"),
                         (Path("/proc/ocrflow-results"), "")):
        result = dry_run(ws, "--config", f"results={results}")
        assert result.returncode != 0
        lines = [line for line in result.stderr.splitlines() if "config error" in line]
        assert lines and lines[0].startswith(f"config error: results: cannot write to {results}:")
        assert why in lines[0] and "Traceback" not in result.stderr


def test_a_pdf_with_no_pages_says_so(tmp_path: Path) -> None:
    import pypdfium2 as pdfium

    path = tmp_path / "empty-book.pdf"
    pdfium.PdfDocument.new().save(path)
    record = inventory_document(InventoryTask("empty-book", str(path), 14400, 36, 20))
    assert record.error == "PDF has no pages"
    corrupt = pdfs.write(tmp_path / "corrupt.pdf", pdfs.garbage_body_pdf())
    assert inventory_document(InventoryTask("c", str(corrupt), 14400, 36, 20)).error \
        .startswith("corrupt PDF")


def test_a_page_marker_inside_page_text_is_escaped() -> None:
    pages = [FinalPage(1, "ok", text="See <!-- page 7 --> below"),
             FinalPage(2, "ok", text="Second")]
    markdown = document_markdown(pages)
    markers = [line for line in markdown.splitlines() if line.startswith("<!-- page")]
    assert markers == ["<!-- page 1 -->", "<!-- page 2 -->"]
    assert "See &lt;!-- page 7 --&gt; below" in markdown


def test_counts_come_from_the_page_store_and_logs_are_kept(tmp_path: Path,
                                                          monkeypatch) -> None:
    first, second = tmp_path / "first", tmp_path / "second"
    for workdir in (first, second):
        workdir.mkdir()
    # one page store shared by two working folders
    Layout.of(first).page_store.mkdir()
    Layout.of(second).page_store.symlink_to(Layout.of(first).page_store)
    run_job(first, "textlayer", {}, [1, 2, 3])
    run_job(second, "textlayer", {}, [1, 2, 3])
    stats = json.loads((second / "primary.stats.json").read_text())
    assert (stats["pages_sent"], stats["pages_read"]) == (0, 3)
    summary = summarize([], [stats])
    assert "primary (textlayer): 3 pages read (page store); the latest job of each shard sent 0" \
        in summary_text(summary, [])
    log = tmp_path / "job.log"
    for attempt in (1, 2):
        job = SimpleNamespace(log=[str(log)], rule="ocr_primary", attempt=attempt)
        entrypoints._run(job, lambda: None)
    text = log.read_text()
    assert "ocr_primary job starts (attempt 1)" in text
    assert "ocr_primary job starts (attempt 2)" in text


@pytest.mark.slow  # Snakemake dry runs
def test_an_empty_input_folder_warns(workspace: Workspace) -> None:
    ws = workspace
    (ws.root / "corpus").mkdir()
    result = dry_run(ws)
    assert result.returncode == 0
    assert f"ocrflow: warning: input folder {ws.root / 'corpus'} holds no PDF" in result.stderr
