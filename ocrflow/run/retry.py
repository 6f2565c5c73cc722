"""Retry only the pages still marked failed (or scoring low): forget their stored attempts,
then rerun.

Invalidating a page in the page store of the primary and the recovery engine makes the next run
send exactly those pages again; removing the OCR, detection and merge outputs of their shards makes
Snakemake rerun those shards, whose other pages all come back from the page store without any
engine call. A page whose quality is below ``--below`` keeps the reading it was taken from,
flagged so that detection fails it as low_quality: it goes to recovery, which reads it afresh.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable
from pathlib import Path
from typing import Any

from ocrflow import engines
from ocrflow.core import stages
from ocrflow.core.layout import Layout
from ocrflow.core.records import BAD_PAGE, TOO_LARGE, PageRow, read_records
from ocrflow.core.store import PageStore
from ocrflow.engines import engine_settings, pools
from ocrflow.inputs import corpus

UNRETRYABLE = {BAD_PAGE, TOO_LARGE}  # the page itself cannot be read: no engine can help


def _store(config: dict[str, Any], name: str) -> PageStore | None:
    if name == "none":
        return None
    engine = engines.create(name, engine_settings(config, name))
    return PageStore(Layout.of(config["results"]).page_store, engine.name, engine.fingerprint())


def _rows_where(results: str | Path,
                chosen: Callable[[PageRow], bool]) -> dict[str, list[PageRow]]:
    """Per shard, the final page rows (merge's pages.jsonl) that ``chosen`` picks."""
    found: dict[str, list[PageRow]] = defaultdict(list)
    layout = Layout.of(results)
    for shard in corpus.existing_shards(results):
        if layout.pages(shard).exists():
            found[shard] += [row for row in read_records(layout.pages(shard), PageRow)
                             if chosen(row)]
    return {shard: rows for shard, rows in found.items() if rows}


def low_quality_pages(results: str | Path, below: float) -> dict[str, list[PageRow]]:
    """Per shard, the rows of pages that were read (ok, recovered) with a quality below
    (a quality of None: no text to score, a blank page)."""
    return _rows_where(results, lambda row: row.status in ("ok", "recovered")
                       and row.quality is not None and row.quality < below)


def failed_pages(results: str | Path) -> dict[str, list[PageRow]]:
    """Per shard, the rows of pages whose final status is failed and an engine could redo."""
    return _rows_where(results, lambda row: row.status == "failed"
                       and not UNRETRYABLE & set(row.reasons))


def retry_failed(config: dict[str, Any], below: float | None = None) -> tuple[int, int]:
    """Mark the failed pages, and those read with a quality below ``below``, for retry; return
    (pages, shards)."""
    results = config["results"]
    failed = failed_pages(results)
    low = low_quality_pages(results, below) if below is not None else {}
    primary = _store(config, config["primary"]["engine"])
    recovery = _store(config, config["recovery"]["engine"])
    for rows in failed.values():
        for content_hash, pages in _by_hash(rows).items():
            for store in (primary, recovery):
                if store is not None:
                    store.invalidate(content_hash, pages)
    # The reading each ok page was taken from (the primary's, or the text layer's) is flagged,
    # one store and one read of each document's file per engine; recovered pages' primary
    # readings failed already.
    taken_from: dict[str, list[PageRow]] = defaultdict(list)
    for rows in low.values():
        for row in rows:
            if row.status == "ok" and row.engine:
                taken_from[row.engine].append(row)
        if recovery is not None:  # recovery reads each one afresh
            for content_hash, pages in _by_hash(rows).items():
                recovery.invalidate(content_hash, pages)
    for engine, rows in taken_from.items():
        store = _store(config, engine)
        assert store is not None and below is not None
        for content_hash, pages in _by_hash(rows).items():
            store.flag_for_reread(content_hash, dict.fromkeys(pages, below))
    shards = set(failed) | set(low)
    layout = Layout.of(results)
    per_pool = pools.shards_per_pool(config)
    for shard in shards:
        for path in stages.outputs_after(stages.INVENTORY_STAGE, layout, shard,
                                         pools.pool_of(shard, per_pool)):
            path.unlink(missing_ok=True)
    if shards:
        for path in layout.corpus_files():
            path.unlink(missing_ok=True)
    return sum(map(len, failed.values())) + sum(map(len, low.values())), len(shards)


def _by_hash(rows: list[PageRow]) -> dict[str, list[int]]:
    pages: dict[str, set[int]] = defaultdict(set)
    for row in rows:
        if row.content_hash and row.page is not None:
            pages[row.content_hash].add(row.page)
    return {content_hash: sorted(numbers) for content_hash, numbers in pages.items()}
