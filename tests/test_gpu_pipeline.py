"""Chandra as primary and DeepSeek-OCR as recovery, through Snakemake on the local profile of a
box with two GPUs and no scheduler (`--resources gpu=2`): each OCR job starts its own model server
(tests/support/fake_vllm.py standing in for `vllm serve`) on a GPU no other running job holds."""

from __future__ import annotations

import json
from itertools import combinations
from pathlib import Path

import pytest

from tests.conftest import Workspace, jobs_run
from tests.support import pdfs
from tests.support.stand_in import serve_gpu_engines

pytestmark = pytest.mark.slow


def test_two_gpu_box_chandra_then_deepseek(workspace: Workspace, monkeypatch) -> None:
    ws = workspace
    for doc, tags in {"a": [1, 2], "b": [3, 4], "c": [5, 6], "d": [7, 8]}.items():
        pdfs.write(ws.root / "corpus" / f"{doc}.pdf", pdfs.tagged_pdf(tags))
    log = serve_gpu_engines(ws, monkeypatch, {"pages": {"chandra:4": ["loop"],
                                                        "chandra:1": ["figure"]},
                                              "delay_s": 0.5},
                            gpus="0,1", chandra={"retry_backoff_s": 0.1})
    ws.config["shard_size"] = 1
    # each GPU job asks for 4 cores: a render worker, its own, 2 for its server
    result = ws.snakemake("--resources", "gpu=2", "--cores", "8")
    assert jobs_run(result)["ocr_primary"] == 4

    rows = {(r["doc_id"], r["page"]): r for r in ws.manifest()}
    assert rows[("b", 2)]["status"] == "recovered" and rows[("b", 2)]["engine"] == "deepseek"
    assert "chandra:repetition" in rows[("b", 2)]["reasons"]
    # What each page cost: the looping page two Chandra requests (recovery is configured: one
    # re-ask), both cut as loops, then one DeepSeek-OCR request.
    tokens = json.loads(rows[("b", 2)]["tokens"])
    assert [r["finish_reason"] for r in tokens["chandra"]] == ["repetition"] * 2
    assert [r["finish_reason"] for r in tokens["deepseek"]] == ["stop"]
    assert all(r["prompt_tokens"] > 0 and r["completion_tokens"] > 0
               for requests in tokens.values() for r in requests)
    report = (ws.results / "report.md").read_text()
    decoded_row = next(line for line in report.splitlines() if line.startswith("| chandra |"))
    assert decoded_row.startswith("| chandra | 8 | 9 |")  # 8 pages, 9 requests
    others = [r for key, r in rows.items() if key != ("b", 2)]
    assert {(r["status"], r["engine"]) for r in others} == {("ok", "chandra")}
    markdown = (ws.results / "markdown" / "b.md").read_text()
    assert "<!-- page 1 -->\n# Report page 3\n\nText of page 3 with **bold** words" in markdown
    assert "<!-- page 2 -->\n# Report page 4\n\nText of page 4 recovered." in markdown
    records = [json.loads(x) for x in (ws.results / "markdown" / "b.pages.jsonl").read_text()
               .splitlines()]
    assert [b["label"] for b in records[0]["blocks"]] == [
        "Section-Header", "Text", "Table", "Page-Footer"]  # Chandra's layout blocks
    assert records[1]["blocks"][0] == {"label": "title", "bbox": [50, 40, 950, 90],
                                       "boxes": [[50, 40, 950, 90]]}  # DeepSeek's boxes
    assert records[0]["attempts"] == 1
    provenance = json.loads(rows[("b", 1)]["provenance"])
    assert (provenance["engine"], provenance["server_version"]) == ("chandra", "0.32.0")
    assert json.loads(rows[("b", 2)]["provenance"])["engine"] == "deepseek"
    figure = (ws.results / "markdown" / "a.md").read_text().split("](a_images/")[1].split(")")[0]
    assert (ws.results / "markdown" / "a_images" / figure).stat().st_size > 0

    requests = [json.loads(line) for line in log.read_text().splitlines()]
    lived: dict[int, dict] = {}
    for event in map(json.loads, Path(f"{log}.servers").read_text().splitlines()):
        lived.setdefault(event["pid"], {"gpu": event["gpu"]})[event["event"]] = event["t"]
    assert len(lived) == 5  # a server per OCR job: 4 primary, 1 recovery (3 shards had none)
    assert all({"start", "stop"} <= set(span) for span in lived.values())  # all stopped
    assert {span["gpu"] for span in lived.values()} <= {"0", "1"}
    overlapping = [(a, b) for a, b in combinations(lived.values(), 2)
                   if a["start"] < b["stop"] and b["start"] < a["stop"]]
    assert overlapping, "two GPU jobs should have run at once"
    assert all(a["gpu"] != b["gpu"] for a, b in overlapping)  # never one GPU for two at once
    recovery = [r for r in requests if r["model"] == "deepseek-ocr"]
    assert [r["tag"] for r in recovery] == [4]
    for pid in lived:  # no server outlived its job
        assert not Path(f"/proc/{pid}").exists(), f"server {pid} outlived its job"
