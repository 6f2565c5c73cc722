"""Recovery pooled across shards (issue 31), through Snakemake with the stand-in server started
by each job as `vllm serve` would be: 20 shards, every other one with a page Chandra loops on,
pools of 5 shards (so 4 recovery jobs), two GPUs (`--resources gpu=2`)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from ocrflow.core.layout import Layout
from ocrflow.engines import pools
from ocrflow.inputs.registry import Registry
from tests.conftest import Workspace, jobs_run
from tests.support import pdfs
from tests.support.stand_in import serve_gpu_engines

pytestmark = pytest.mark.slow

SHARDS = 20
PER_POOL = 5  # pages_per_job 5 / (shard_pages 2 x expected_failure 0.5)


def write_corpus(ws: Workspace, first: int, last: int) -> dict[str, list[str]]:
    """PDFs d<first>..d<last> of one page (tag i + 1: the stand-in tells 40 apart); every
    even one loops in Chandra."""
    plan = {}
    for i in range(first, last):
        pdfs.write(ws.root / "corpus" / f"d{i:02d}.pdf", pdfs.tagged_pdf([i + 1]))
        if i % 2 == 0:
            plan[f"chandra:{i + 1}"] = ["loop"]
    return plan


def started_servers(log: Path) -> list[dict]:
    events = [json.loads(line) for line in Path(f"{log}.servers").read_text().splitlines()]
    return [e for e in events if e["event"] == "start"]


def test_failed_pages_of_many_shards_are_read_by_one_job_per_pool(
        workspace: Workspace, monkeypatch) -> None:
    ws = workspace
    looping = write_corpus(ws, 0, SHARDS) | write_corpus(ws, SHARDS, SHARDS + 2)
    for i in (SHARDS, SHARDS + 1):  # added later
        (ws.root / "corpus" / f"d{i:02d}.pdf").rename(ws.root / f"later{i}.pdf")
    log = serve_gpu_engines(ws, monkeypatch, {"pages": looping}, gpus="0,1",
                            chandra={"retry_backoff_s": 0.1})
    ws.config.update(shard_size=1, shard_pages=2)  # 2 pages a shard, 1 of them expected to fail
    ws.config["recovery"].update(pages_per_job=5, expected_failure=0.5)

    # each GPU job asks 4 cores (a render worker, its own, 2 for its server): 2 left to merge
    planned = ws.snakemake("-n")
    assert jobs_run(planned)["ocr_recovery"] == SHARDS // PER_POOL == 4
    # the cost before the run: 20 one-page shards, 4 pools expecting half their pages to fail
    assert ("ocrflow estimate: 20 pages in 20 shards; ocr_primary (chandra): 20 GPU jobs"
            in planned.stderr)
    assert "ocr_recovery (deepseek): 4 GPU jobs for ~8 failed pages" in planned.stderr
    result = ws.snakemake("--resources", "gpu=2", "--cores", "10")
    ran = jobs_run(result)
    assert ran["ocr_primary"] == SHARDS and ran["ocr_recovery"] <= 4
    assert len(started_servers(log)) == SHARDS + ran["ocr_recovery"]

    # every failed page reached recovery, once
    requests = [json.loads(line) for line in log.read_text().splitlines()]
    recovered = sorted(r["tag"] for r in requests if r["model"] == "deepseek-ocr")
    assert recovered == [i + 1 for i in range(0, SHARDS, 2)]
    rows = {r["doc_id"]: r for r in ws.manifest()}
    assert all(rows[f"d{i:02d}"]["status"] == ("ok", "recovered")[i % 2 == 0]
               for i in range(SHARDS))

    # A shard's merge waits for its own pool's primaries and recovery only: the shards of a
    # pool are merged before the primaries of the pool after next have finished.
    layout = Layout.of(ws.results)
    shards = [f"s{i:06d}" for i in range(SHARDS)]
    by_pool = pools.pools(shards, PER_POOL)
    assert list(by_pool) == ["r000000", "r000001", "r000002", "r000003"]
    merged = {p: max(layout.pages(s).stat().st_mtime for s in members)
              for p, members in by_pool.items()}
    primary_done = {p: min(layout.stats(s, "primary").stat().st_mtime for s in members)
                    for p, members in by_pool.items()}
    pool_ids = list(by_pool)
    for before, after in zip(pool_ids, pool_ids[2:], strict=False):
        assert merged[before] < primary_done[after], (before, after)

    # Two PDFs added: two new shards, in a new pool; nothing else is read again.
    members = {s: layout.members(s).read_text() for s in shards}
    for i in (SHARDS, SHARDS + 1):
        (ws.root / f"later{i}.pdf").rename(ws.root / "corpus" / f"d{i:02d}.pdf")
    again = jobs_run(ws.snakemake("--resources", "gpu=2", "--cores", "10"))
    assert again["ocr_primary"] == 2 and again["ocr_recovery"] == 1 and again["merge"] == 2
    assert {s: layout.members(s).read_text() for s in shards} == members
    registry = Registry.read(layout.registry)
    assert {registry.shards[f"d{i}"] for i in (SHARDS, SHARDS + 1)} == {"s000020", "s000021"}
    recovered = sorted(json.loads(line)["tag"] for line in log.read_text().splitlines()
                       if json.loads(line)["model"] == "deepseek-ocr")
    assert recovered == sorted([i + 1 for i in range(0, SHARDS, 2)] + [SHARDS + 1])
