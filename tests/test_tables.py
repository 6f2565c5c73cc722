"""The table corpus (tests/data/tables/ and tabula-py's PDFs, tests/support/table_corpus.py)
through the
real pipeline, scored by ``python -m ocrflow eval``'s checks: born-digital tables read from the
text layer pass olmOCR-bench's table tests with the default CPU config and with config/gpu.yaml's
text-layer path, and the corpus's text tests pass too."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import yaml

from ocrflow.core.layout import Layout
from tests.conftest import REPO, Workspace
from tests.support import table_corpus
from tests.support.stand_in import serve_gpu_engines

pytestmark = [pytest.mark.slow, pytest.mark.services]  # tabula-py's PDFs, from PyPI

THRESHOLD = 0.8  # the bar: at least 80% of the table tests


@pytest.fixture(scope="module")
def table_pdfs(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return table_corpus.corpus_folder(tmp_path_factory.mktemp("tables") / "pdfs")


def scores(ws: Workspace, pdfs: Path) -> dict[str, dict[str, tuple[int, int]]]:
    """(passed, total) per test type, for the made corpus and for tabula-py's PDFs."""
    return {name: table_corpus.pipeline_tally(table_corpus.load([tests]), pdfs, ws.results)
            for name, tests in (("made", table_corpus.MADE_TESTS),
                                ("tabula", table_corpus.TABULA_TESTS))}


def share(tally: dict[str, tuple[int, int]], kind: str) -> float:
    passed, total = tally[kind]
    return passed / total


def workspace_on(root: Path, pdfs: Path) -> Workspace:
    ws = Workspace(root)
    ws.config["input"] = str(pdfs)
    return ws


def test_the_cpu_pipeline_reads_the_tables_of_born_digital_pages(tmp_path: Path,
                                                                 table_pdfs: Path) -> None:
    ws = workspace_on(tmp_path, table_pdfs)
    ws.config["outputs"] = ["markdown", "page_records", "json", "dolma"]
    ws.snakemake()
    found = scores(ws, table_pdfs)
    print(json.dumps(found))
    made, tabula = found["made"], found["tabula"]
    passed = made["table"][0] + tabula["table"][0]
    assert passed >= THRESHOLD * (made["table"][1] + tabula["table"][1])
    assert share(made, "table") >= THRESHOLD and share(tabula, "table") >= THRESHOLD
    assert made["present"][0] == made["present"][1] and made["order"][0] == made["order"][1]
    # the same tables in every output that carries the page's text
    markdown = (ws.results / "markdown" / "fr_tarifs_fusion.md").read_text()
    table = markdown[markdown.index("<table>"):markdown.index("</table>") + len("</table>")]
    assert 'colspan="' in table and 'rowspan="' in table
    records = [json.loads(line) for line in
               (ws.results / "markdown" / "fr_tarifs_fusion.pages.jsonl").read_text().splitlines()]
    document = json.loads((ws.results / "markdown" / "fr_tarifs_fusion.json").read_text())
    dolma = {r["id"]: r for r in map(json.loads, (ws.results / "dolma.jsonl").read_text()
                                     .splitlines())}
    assert table in records[0]["text"] and table in document["pages"][0]["text"]
    assert any(table in record["text"] for record in dolma.values())
    arabic = (ws.results / "markdown" / "ar_mizaniya_khutut.md").read_text()
    assert '<table dir="rtl">' in arabic


def test_gpu_config_reads_the_same_tables_from_the_text_layer(
        tmp_path: Path, table_pdfs: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """config/gpu.yaml with the stand-in server for Chandra and DeepSeek-OCR: the born-digital
    pages never reach it, and their tables are the CPU pipeline's."""
    ws = workspace_on(tmp_path, table_pdfs)
    gpu = yaml.safe_load((REPO / "config" / "gpu.yaml").read_text())
    serve_gpu_engines(ws, monkeypatch, {"pages": {}}, gpus="0")
    ws.config["primary"].update(gpu["primary"])
    ws.snakemake("--resources", "gpu=1")
    found = scores(ws, table_pdfs)
    print(json.dumps(found))
    made, tabula = found["made"], found["tabula"]
    assert share(made, "table") >= THRESHOLD and share(tabula, "table") >= THRESHOLD
    layout = Layout.of(ws.results)
    stats = [json.loads(layout.stats(shard.name, "primary").read_text())
             for shard in (ws.results / "work" / "shards").iterdir()]
    sent = sum(s["pages_sent"] for s in stats)
    from_layer = sum(s["pages_from_text_layer"] for s in stats)
    to_engine = sum(s["pages_structure_to_engine"] for s in stats)
    print(f"GPU pages: {sent} ({to_engine} for their structure), from the layer: {from_layer}")
    assert from_layer >= 0.9 * (from_layer + sent)  # born digital: the GPU sees few pages
