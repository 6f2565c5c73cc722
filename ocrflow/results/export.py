"""The page results in SQL (database.py: where, and the tables): each shard's final page rows and
texts, document by document, written in one transaction under an exclusive lock, so a reader sees
the previous export or this one, never a mix, and two exports at once run one after the other.
Idempotent: an unchanged document is not rewritten, a changed one is replaced, one that left the
corpus is deleted with its pages.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import logging
import sys
import time
from collections import Counter
from collections.abc import Iterator
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from itertools import groupby
from pathlib import Path
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from ocrflow.core import atomic
from ocrflow.core.layout import Layout
from ocrflow.core.records import PageRow
from ocrflow.results.database import (
    PAGE_STATUSES,
    SCHEMA_VERSION,
    ExportError,
    Target,
    connect_engine,
    db_error,
    documents_table,
    lock,
    pages_table,
    prepare_schema,
    resolve_target,
    runs_table,
)
from ocrflow.results.settings import ExportSettings

PROGRESS_EVERY_S = 10.0
DELETE_CHUNK = 500  # doc ids per DELETE ... IN (...): below every dialect's parameter limit
log = logging.getLogger("ocrflow.results.export")


@dataclass
class ExportResult:
    url: str  # without its password
    schema_version: int
    run_id: int
    documents: int = 0
    pages: int = 0
    by_status: dict[str, int] = field(default_factory=dict)
    inserted: int = 0  # documents, as are the next three
    updated: int = 0
    deleted: int = 0
    unchanged: int = 0
    seconds: float = 0.0
    when: str = ""

    def line(self) -> str:
        counts = ", ".join(f"{n} {status}" for status, n in self.by_status.items())
        return (f"ocrflow export: {self.url}: {self.documents} documents, {self.pages} pages "
                f"({counts}); documents {self.inserted} inserted, {self.updated} updated, "
                f"{self.deleted} deleted, {self.unchanged} unchanged in {self.seconds:.2f} s")


# --- what to write: the shards' rows and texts, document by document --------------------------

@dataclass
class Document:
    row: dict[str, Any]  # a documents row, without run_id
    pages: list[dict[str, Any]]  # its pages rows


def _clean(text: str) -> str:
    # PostgreSQL text cannot hold NUL; a text layer may. The same on every dialect.
    return text.replace("\x00", "\ufffd")


def _digest(row: dict[str, Any], pages: list[dict[str, Any]]) -> str:
    data = json.dumps([row, pages], sort_keys=True, ensure_ascii=False, default=str)
    return hashlib.sha256(data.encode("utf-8")).hexdigest()


def shard_documents(pages_path: Path, texts_path: Path,
                    duplicates: dict[str, str]) -> Iterator[Document]:
    """A shard's documents, one at a time (only one document's texts in memory): its final
    page rows (merge's pages.jsonl) joined with their texts (texts.jsonl, same order)."""
    texts = groupby(atomic.read_jsonl(texts_path), key=lambda line: line["doc_id"])
    rows = (PageRow.from_json(line) for line in atomic.read_jsonl(pages_path))
    for doc_id, group in groupby(rows, key=lambda row: row.doc_id):
        page_rows = list(group)
        first = page_rows[0]
        unreadable = first.page is None
        text_of: dict[int | None, str] = {}
        if not unreadable:
            text_doc, lines = next(texts, (None, iter(())))
            text_of = {line["page"]: line["text"] for line in lines}
            if text_doc != doc_id or set(text_of) != {row.page for row in page_rows}:
                raise ExportError(f"export: {texts_path} does not match {pages_path} at "
                                  f"document {doc_id!r}: run snakemake again (its merge)")
        pages = [] if unreadable else [{
            "doc_id": doc_id, "page": row.page, "status": row.status, "engine": row.engine,
            "reasons": list(row.reasons), "text": _clean(text_of[row.page]),
            "n_chars": row.n_chars, "attempts": row.attempts, "quality": row.quality,
            "language": row.language, "provenance": row.provenance,
            "error": _clean(row.error or "")} for row in page_rows]
        counts = Counter(row.status for row in page_rows)
        row = {"doc_id": doc_id, "source_path": first.source_path,
               "content_hash": first.content_hash, "pages": len(pages),
               **{status: counts.get(status, 0) for status in PAGE_STATUSES},
               "unreadable": unreadable, "duplicate_of": duplicates.get(doc_id),
               "error": _clean(first.error or "") if unreadable else ""}
        row["digest"] = _digest(row, pages)
        yield Document(row, pages)


def _duplicates(manifest: Path) -> tuple[dict[str, str], int]:
    """The manifest's ``duplicate_of`` of each copy, and its number of rows (to check the
    shards' rows against it). Only two columns are read: the texts are not in the manifest."""
    import pyarrow.compute as pc
    import pyarrow.parquet as pq

    if not manifest.exists():
        raise ExportError(f"export: {manifest} is missing: run snakemake first")
    table = pq.read_table(manifest, columns=["doc_id", "duplicate_of"])
    copies = table.filter(pc.is_valid(table["duplicate_of"]))
    return dict(zip(copies["doc_id"].to_pylist(), copies["duplicate_of"].to_pylist(),
                    strict=True)), table.num_rows


# --- the export ---------------------------------------------------------------------------

class _Writer:
    """Batched writes of one export's documents: a changed document's old rows are deleted and
    its new ones inserted (its pages may have changed in number); documents before pages."""

    def __init__(self, conn: Connection, batch_size: int, run_id: int) -> None:
        self.conn, self.batch_size, self.run_id = conn, batch_size, run_id
        self.replaced: list[str] = []
        self.documents: list[dict[str, Any]] = []
        self.pages: list[dict[str, Any]] = []

    def add(self, doc: Document, existed: bool) -> None:
        if existed:
            self.replaced.append(doc.row["doc_id"])
        self.documents.append({**doc.row, "run_id": self.run_id})
        self.pages += doc.pages
        if len(self.pages) >= self.batch_size or len(self.documents) >= self.batch_size:
            self.flush()

    def delete(self, doc_ids: list[str]) -> None:
        for start in range(0, len(doc_ids), DELETE_CHUNK):
            chunk = doc_ids[start:start + DELETE_CHUNK]
            self.conn.execute(sa.delete(pages_table).where(pages_table.c.doc_id.in_(chunk)))
            self.conn.execute(sa.delete(documents_table)
                              .where(documents_table.c.doc_id.in_(chunk)))

    def flush(self) -> None:
        self.delete(self.replaced)
        for table, rows in ((documents_table, self.documents), (pages_table, self.pages)):
            for start in range(0, len(rows), self.batch_size):
                self.conn.execute(sa.insert(table), rows[start:start + self.batch_size])
        self.replaced, self.documents, self.pages = [], [], []


def _recorded_run(results: Path) -> tuple[str | None, dict[str, Any] | None]:
    """The hash of the config the results folder was run with, and its engines."""
    import yaml

    path = Layout.of(results).recorded_config
    if not path.exists():
        return None, None
    data = path.read_bytes()
    config = yaml.safe_load(data) or {}
    engines = {role: (config.get(role) or {}).get("engine") for role in ("primary", "recovery")}
    return hashlib.sha256(data).hexdigest(), engines


def export(results: Path, settings: ExportSettings, url_key: str = "export.url") -> ExportResult:
    """Write the results folder's page results into the database ``settings`` name, in one
    transaction; return what was written."""
    started = time.monotonic()
    when = datetime.now(UTC)
    target = resolve_target(settings, results, url_key)
    layout = Layout.of(results)
    from ocrflow.inputs.corpus import existing_shards

    shards = existing_shards(results)
    for shard in shards:
        for path in (layout.pages(shard), layout.texts(shard)):
            if not path.exists():
                raise ExportError(f"export: {path} is missing: the run is not finished "
                                  "(run snakemake first)")
    duplicates, manifest_rows = _duplicates(layout.manifest)
    config_hash, engines = _recorded_run(results)
    engine = connect_engine(target)
    try:
        try:
            conn = engine.connect()
        except sa.exc.SQLAlchemyError as exc:
            raise db_error(exc, target, "cannot connect to") from None
        with conn:
            try:
                with conn.begin():
                    result = _export_in_transaction(
                        conn, target, layout, shards, duplicates, manifest_rows,
                        settings.batch_size, config_hash, engines, when, started)
            except sa.exc.SQLAlchemyError as exc:
                raise db_error(exc, target, "could not write to") from None
    finally:
        engine.dispose()
    result.seconds = round(time.monotonic() - started, 3)
    return result


def _export_in_transaction(conn: Connection, target: Target, layout: Layout, shards: list[str],
                           duplicates: dict[str, str], manifest_rows: int, batch_size: int,
                           config_hash: str | None, engines: dict[str, Any] | None,
                           when: datetime, started: float) -> ExportResult:
    lock(conn)
    prepare_schema(conn, target)
    log.info("export to %s: %d shards", target.shown, len(shards))
    inserted = conn.execute(sa.insert(runs_table).values(
        exported_at=when, config_hash=config_hash, engines=engines,
        schema_version=SCHEMA_VERSION)).inserted_primary_key
    assert inserted is not None  # an INSERT of one row always has its key
    run_id = inserted[0]
    # What the database holds: enough to tell an unchanged document without reading its rows.
    digests: dict[str, str] = {doc_id: digest for doc_id, digest in conn.execute(
        sa.select(documents_table.c.doc_id, documents_table.c.digest)).all()}
    result = ExportResult(target.shown, SCHEMA_VERSION, run_id, when=when.isoformat())
    by_status: Counter[str] = Counter()
    writer = _Writer(conn, batch_size, run_id)
    seen: set[str] = set()
    rows = 0
    last_log = time.monotonic()
    for number, shard in enumerate(shards, 1):
        for doc in shard_documents(layout.pages(shard), layout.texts(shard), duplicates):
            doc_id = doc.row["doc_id"]
            if doc_id in seen:
                raise ExportError(f"export: document {doc_id!r} is in two shards: run "
                                  "snakemake again")
            seen.add(doc_id)
            rows += len(doc.pages) or 1  # an unreadable PDF is one manifest row
            result.pages += len(doc.pages)
            by_status.update(page["status"] for page in doc.pages)
            by_status["unreadable"] += doc.row["unreadable"]
            old = digests.get(doc_id)
            if old == doc.row["digest"]:
                result.unchanged += 1
                continue
            result.updated += old is not None
            result.inserted += old is None
            writer.add(doc, existed=old is not None)
        if time.monotonic() - last_log >= PROGRESS_EVERY_S:
            last_log = time.monotonic()
            elapsed = last_log - started
            log.info("export: %d/%d shards, %d pages, %.0f s, about %.0f s left", number,
                     len(shards), result.pages, elapsed, elapsed / number * (len(shards) - number))
    writer.flush()
    if rows != manifest_rows:  # a stale manifest: the rollback keeps the previous export
        raise ExportError(f"export: the shards have {rows} page rows but "
                          f"{layout.manifest} has {manifest_rows}: run snakemake first")
    gone = sorted(set(digests) - seen)  # documents that left the corpus, with their pages
    writer.delete(gone)
    result.deleted = len(gone)
    result.documents = len(seen)
    result.by_status = {status: by_status.get(status, 0)
                        for status in (*PAGE_STATUSES, "unreadable")}
    conn.execute(sa.update(runs_table).where(runs_table.c.id == run_id).values(
        documents=result.documents, pages=result.pages, **result.by_status,
        inserted=result.inserted, updated=result.updated, deleted=result.deleted,
        unchanged=result.unchanged))
    return result


def write_receipt(result: ExportResult, receipt: Path) -> None:
    atomic.write_text(receipt, json.dumps(asdict(result), indent=2) + "\n")


def export_job(*, results: Path, settings: ExportSettings, receipt: Path) -> None:
    """The export rule: export, then write the receipt (the rule's output)."""
    result = export(results, settings)  # an ExportError: one line in the job's log (entrypoints)
    write_receipt(result, receipt)
    log.info("%s", result.line())


def command(config: dict[str, Any], url: str | None) -> int:
    """``python -m ocrflow export [--url URL]``: export the config's results folder; print one
    summary line (0); an ExportError says what to change (python -m ocrflow reports it)."""
    settings = ExportSettings.from_config(config["export"])
    if url:
        settings = dataclasses.replace(settings, url=url)
    if not logging.getLogger().handlers:  # progress of a long export, on stderr
        logging.basicConfig(level=logging.INFO, stream=sys.stderr,
                            format="%(asctime)s %(name)s: %(message)s")
    results = Path(config["results"])
    result = export(results, settings, "--url (export.url)" if url else "export.url")
    write_receipt(result, Layout.of(results).export_receipt)
    print(result.line())
    return 0
