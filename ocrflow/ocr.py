"""Run one engine over the pages of a shard, persisting each page as it completes.

Pages already in the page store are not sent again, so a rerun after a kill resumes where it stopped
and a rerun of a finished shard sends nothing. The stage output is written once, atomically, from
the store, when every page of the shard has a final record.

Engine errors: a page whose request could not be answered (server unreachable, timed out, 5xx) is
tried again by the job's next attempt, and its error becomes final only after
``ocr.max_page_attempts`` attempts; a page the server rejected is final at once. When most of the
job's recent pages end in engine errors, the engine itself is failing (a wrong model path, a
server that rejects every request): the job stops, forgets the errors it recorded, and exits
non-zero, so a run with the config fixed reads those pages as if for the first time.
"""

from __future__ import annotations

import collections
import json
import logging
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ocrflow import atomic, engines
from ocrflow.engines.base import Engine, EngineUnavailable, JobContext, PageInput, PageOutput
from ocrflow.engines.textlayer import TextLayerEngine
from ocrflow.isolation import IsolatedPool
from ocrflow.progress import Progress
from ocrflow.records import needs_recovery
from ocrflow.render import RenderTask, render_page
from ocrflow.store import Claim, PageStore, pending

log = logging.getLogger(__name__)
# One line per page sent to an engine (JSON: role, engine, hash, page), for audits and tests:
# entrypoints.py writes it to the file named by OCRFLOW_CALL_LOG.
calls = logging.getLogger("ocrflow.calls")


MIN_FAILING_WINDOW = 5  # fewer pages than this never stop a job: one bad page is just a bad page


class EngineFailing(EngineUnavailable):
    """Most recent pages ended in engine errors: the job stops; the message names the first."""


class PagesToRetry(RuntimeError):
    """Some pages' requests could not be answered; the job's next attempt tries them again."""


@dataclass(frozen=True)
class WorkPage:
    doc_id: str
    doc_hash: str
    path: str
    page: int
    text_layer: str


def primary_work(inventory: list[dict[str, Any]]) -> list[WorkPage]:
    """Every page of every readable PDF, except pages the inventory could not read."""
    return [WorkPage(doc["doc_id"], doc["hash"], doc["path"], page["page"], page["text_layer"])
            for doc in inventory if not doc["error"]
            for page in doc["pages"] if not page["error"]]


def trusted_layer_pages(inventory: list[dict[str, Any]]) -> set[tuple[str, int]]:
    """Pages whose text layer the inventory trusts: born-digital text, read without OCR."""
    return {(doc["doc_id"], page["page"]) for doc in inventory if not doc["error"]
            for page in doc["pages"] if (page.get("trust") or {}).get("trusted")}


def recovery_work(inventory: list[dict[str, Any]],
                  verdicts: list[dict[str, Any]]) -> list[WorkPage]:
    """The pages whose primary output failed detection: nothing else goes to recovery."""
    failed = {(v["doc_id"], v["page"]) for v in verdicts if needs_recovery(v)}
    return [p for p in primary_work(inventory) if (p.doc_id, p.page) in failed]


class ShardRun:
    """One engine over one shard's work pages."""

    def __init__(self, engine: Engine, store: PageStore, role: str, render: dict[str, Any],
                 policy: dict[str, Any], job: JobContext | None = None):
        self.engine, self.store, self.role, self.render = engine, store, role, render
        self.job = job
        self.policy = policy  # the config's `ocr` section
        self.sent = 0
        self.provenance: dict[str, Any] = {}
        self._tries: dict[tuple[str, int], int] = {}  # engine-error attempts before this job
        self._recent: collections.deque[bool] = collections.deque()
        self._errors: list[tuple[PageInput, str]] = []  # engine errors recorded by this job
        self._claims: dict[str, Claim] = {}

    def execute(self, work: list[WorkPage]) -> tuple[list[dict[str, Any]], dict[str, Any]]:
        started = time.monotonic()
        by_hash: dict[str, dict[int, WorkPage]] = {}
        for page in work:
            by_hash.setdefault(page.doc_hash, {}).setdefault(page.page, page)
        todo: dict[str, list[int]] = {}
        for doc_hash, pages in by_hash.items():
            stored = self.store.load(doc_hash)
            for n in sorted(pages):
                if pending(stored.get(n)):
                    todo.setdefault(doc_hash, []).append(n)
                    self._tries[(doc_hash, n)] = (stored.get(n) or {}).get("page_attempts", 0)
        n_todo = sum(map(len, todo.values()))
        log.info("%s (%s): %d pages in shard, %d already in the page store, %d to OCR",
                 self.role, self.engine.name, len(work), len(work) - n_todo, n_todo)
        self.progress = Progress(f"{self.role} {self.engine.name}", n_todo)
        if n_todo:
            # A shard smaller than the window is judged on all its pages (five at least).
            window = min(self.policy["failing_window"], max(n_todo, MIN_FAILING_WINDOW))
            self._recent = collections.deque(maxlen=window)
            self.engine.start(self.job)
            try:
                self.provenance = self.engine.provenance()
                self._ocr(by_hash, todo)
            finally:
                self.engine.close()
                for claim in self._claims.values():
                    claim.release()
            self.progress.done()
        stored = {h: self.store.load(h) for h in by_hash}
        retry = [(h, n) for h, pages in stored.items() for n, r in pages.items() if pending(r)
                 and n in by_hash[h]]
        if retry:
            first = stored[retry[0][0]][retry[0][1]]["error"]
            raise PagesToRetry(
                f"{len(retry)} pages could not be answered (first: {first}); the job's next "
                f"attempt tries them again (ocr.max_page_attempts "
                f"{self.policy['max_page_attempts']})")
        records = []
        for page in work:
            record = stored[page.doc_hash].get(page.page)
            if record is None:  # never silently missing: say so in the record
                record = {"text": "", "error": "no result recorded for this page",
                          "finish_reason": "", "attempts": 0, "meta": {}}
            records.append({"doc_id": page.doc_id, "hash": page.doc_hash, "page": page.page,
                            "engine": self.engine.name, **_result_fields(record)})
        # pages_read comes from the page store: true whichever jobs, runs or working folders
        # did the reading; pages_sent and seconds are this job's own.
        read = sum(1 for page in work if page.page in stored[page.doc_hash])
        stats = {"role": self.role, "engine": self.engine.name, "pages": len(work),
                 "pages_read": read, "pages_sent": self.sent,
                 "seconds": round(time.monotonic() - started, 3)}
        return records, stats

    def _inputs(self, by_hash: dict[str, dict[int, WorkPage]],
                todo: dict[str, list[int]]) -> Iterator[PageInput]:
        # Sorted by hash in every job: documents are always claimed in one order, no deadlock.
        for doc_hash in sorted(todo):
            claim = self.store.claim(doc_hash, todo[doc_hash])
            self.progress.advance(len(todo[doc_hash]) - len(claim.pages))
            if not claim.pages:
                continue
            self._claims[doc_hash] = claim
            for n in claim.pages:
                page = by_hash[doc_hash][n]
                yield PageInput(doc_hash, n, page.path, text_layer=page.text_layer)

    def _with_images(self, inputs: Iterator[PageInput]) -> Iterator[PageInput]:
        spec = self.engine.render_spec
        if spec is None:
            yield from inputs
            return
        tasks = (RenderTask(key=p, path=p.path, page=p.page, spec=spec) for p in inputs)
        with IsolatedPool(render_page, self.render["workers"], self.render["timeout_s"]) as pool:
            for outcome in pool.imap_unordered(tasks, prefetch=self.render["prefetch"]):
                page: PageInput = outcome.task.key
                if outcome.ok:
                    page.image = outcome.value
                    yield page
                else:
                    self._finish(page, PageOutput(error=f"render failed: {outcome.error}"))

    def _sent(self, inputs: Iterator[PageInput]) -> Iterator[PageInput]:
        for page in inputs:
            self.sent += 1
            calls.info("%s", json.dumps({"role": self.role, "engine": self.engine.name,
                                         "hash": page.doc_hash, "page": page.page}))
            yield page

    def _ocr(self, by_hash: dict[str, dict[int, WorkPage]], todo: dict[str, list[int]]) -> None:
        stream = self._sent(self._with_images(self._inputs(by_hash, todo)))
        results = self.engine.run(stream)
        try:
            for page, output in results:
                self._finish(page, output)
                self._watch(page, output)
        finally:
            results.close()  # stops a concurrent engine's feed before the stream is closed
            stream.close()

    def _watch(self, page: PageInput, output: PageOutput) -> None:
        """Stop a job whose engine fails most pages, before it spends its GPUs on errors."""
        self._recent.append(bool(output.error))
        if output.error:
            self._errors.append((page, output.error))
        window, share = self._recent.maxlen or 0, self.policy["failing_share"]
        if len(self._recent) == window and sum(self._recent) >= share * window:
            # Forget this job's errors: with the engine fixed, these pages are read afresh.
            for doc_hash in {p.doc_hash for p, _ in self._errors}:
                self.store.invalidate(doc_hash, sorted(
                    {p.page for p, _ in self._errors if p.doc_hash == doc_hash}))
            raise EngineFailing(
                f"engine {self.engine.name}: {sum(self._recent)} of the last {window} pages "
                f"failed, stopping; first error: {self._errors[0][1]}")

    def _finish(self, page: PageInput, output: PageOutput) -> None:
        # page_attempts: jobs that have sent this page (the earlier ones all ended in errors)
        tries = self._tries.get((page.doc_hash, page.page), 0) + 1
        record: dict[str, Any] = {
            "page": page.page, "text": output.text, "error": output.error,
            "finish_reason": output.finish_reason, "attempts": output.attempts,
            "page_attempts": tries, "meta": output.meta, "provenance": self.provenance}
        if output.error:
            record["retry"] = output.transient and tries < self.policy["max_page_attempts"]
        if output.images:
            record["images"] = self.store.write_images(page.doc_hash, page.page, output.images)
        self.store.append(page.doc_hash, [record])
        page.image = None
        self.progress.advance()
        self._claims[page.doc_hash].page_done()


def _result_fields(record: dict[str, Any]) -> dict[str, Any]:
    keys = ("text", "error", "finish_reason", "attempts", "page_attempts", "meta", "images",
            "provenance", "reread_below")
    return {key: record.get(key) for key in keys}


def ocr_shard(*, inventory: Path, output: Path, stats: Path, role: str, engine_name: str,
              settings: dict[str, Any], store_root: Path, render: dict[str, Any],
              threads: int = 1, verdicts: Path | None = None,
              policy: dict[str, Any], log_path: Path | None = None,
              trusted_text_layer: bool = False) -> None:
    """``trusted_text_layer``: pages whose text layer is trusted are read from it, and only the
    others are sent to the engine (born-digital pages stay off the GPU)."""
    docs = list(atomic.read_jsonl(inventory))
    from_layer: list[WorkPage] = []
    if verdicts is None:
        work = primary_work(docs)
        if trusted_text_layer and engine_name != TextLayerEngine.name:
            trusted = trusted_layer_pages(docs)
            from_layer = [p for p in work if (p.doc_id, p.page) in trusted]
            work = [p for p in work if (p.doc_id, p.page) not in trusted]
    else:
        work = recovery_work(docs, list(atomic.read_jsonl(verdicts)))
    order = {(p.doc_id, p.page): i for i, p in enumerate([*from_layer, *work])}
    records: list[dict[str, Any]] = []
    if from_layer:
        layer = TextLayerEngine({})
        layer_store = PageStore(store_root, layer.name, layer.fingerprint())
        records += ShardRun(layer, layer_store, role, render, policy).execute(from_layer)[0]
        log.info("%s: %d pages read from their trusted text layer, %d sent to %s", role,
                 len(from_layer), len(work), engine_name)
    engine = engines.create(engine_name, settings, threads)
    store = PageStore(store_root, engine.name, engine.fingerprint())
    job = JobContext(log_path=log_path)  # a model server's log goes beside the rule's
    engine_records, run_stats = ShardRun(engine, store, role, render, policy, job).execute(work)
    run_stats["pages_from_text_layer"] = len(from_layer)
    records += engine_records
    records.sort(key=lambda r: order[(r["doc_id"], r["page"])])
    atomic.write_jsonl(output, records)
    atomic.write_text(stats, json.dumps(run_stats, indent=1) + "\n")
