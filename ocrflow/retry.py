"""Retry only the pages still marked failed: forget their stored attempts, then rerun.

Invalidating a page in the page store of the primary and the recovery engine makes the next run
send exactly those pages again; removing the OCR, detection and merge outputs of their shards makes
Snakemake rerun those shards, whose other pages all come back from the page store without any
engine call.
"""

from __future__ import annotations

from collections import defaultdict
from pathlib import Path
from typing import Any

from ocrflow import atomic, corpus, engines
from ocrflow.config import engine_settings
from ocrflow.store import PageStore

UNRETRYABLE = "inventory:bad_page"  # the page itself is broken: no engine can help
# Everything a shard makes after its inventory, and the corpus files made from it: Snakemake does
# not rerun a job for a missing intermediate file while the final outputs are present.
SHARD_OUTPUTS = ("primary.jsonl", "primary.stats.json", "primary_verdicts.jsonl", "recovery.jsonl",
                 "recovery.stats.json", "recovery_verdicts.jsonl", "pages.jsonl")
CORPUS_OUTPUTS = ("manifest.parquet", "report.md", "summary.txt")


def _store(config: dict[str, Any], role: str) -> PageStore | None:
    name = config[role]["engine"]
    if name == "none":
        return None
    engine = engines.create(name, engine_settings(config, name))
    return PageStore(Path(config["results"]) / "page_store", engine.name, engine.fingerprint())


def failed_pages(results: str | Path) -> dict[str, list[dict[str, Any]]]:
    """Per shard, the rows of pages whose final status is failed and an engine could redo."""
    found: dict[str, list[dict[str, Any]]] = defaultdict(list)
    for shard in corpus.existing_shards(results):
        pages = corpus.shard_dir(results, shard) / "pages.jsonl"
        if not pages.exists():
            continue
        for row in atomic.read_jsonl(pages):
            if row["status"] == "failed" and UNRETRYABLE not in row["reasons"]:
                found[shard].append(row)
    return found


def retry_failed(config: dict[str, Any]) -> tuple[int, int]:
    """Mark the failed pages for retry; return (pages, shards)."""
    results = config["results"]
    failed = failed_pages(results)
    stores = [s for s in (_store(config, "primary"), _store(config, "recovery")) if s]
    for shard, rows in failed.items():
        by_hash: dict[str, set[int]] = defaultdict(set)
        for row in rows:
            by_hash[row["hash"]].add(row["page"])
        for doc_hash, pages in by_hash.items():
            for store in stores:
                store.invalidate(doc_hash, sorted(pages))
        for name in SHARD_OUTPUTS:
            (corpus.shard_dir(results, shard) / name).unlink(missing_ok=True)
    if failed:
        for name in CORPUS_OUTPUTS:
            (Path(results) / name).unlink(missing_ok=True)
    return sum(map(len, failed.values())), len(failed)
