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
from collections.abc import Generator, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ocrflow import engines
from ocrflow.core import atomic
from ocrflow.core.errors import OcrflowError
from ocrflow.core.progress import Progress, ProgressFile, ended_by
from ocrflow.core.records import (
    InventoryDocument,
    PageInput,
    Reading,
    Verdict,
    needs_recovery,
    read_records,
    write_records,
)
from ocrflow.core.stages import TEXT_LAYER_ENGINE
from ocrflow.core.store import Claim, PageStore, pending
from ocrflow.engines.base import Engine, EngineUnavailable, JobContext, PageOutput
from ocrflow.engines.settings import OcrSettings
from ocrflow.engines.textlayer import TextLayerEngine
from ocrflow.inputs.isolation import IsolatedPool, MemoryLimit, worker_limit
from ocrflow.inputs.render import RenderTask, preload, render_page
from ocrflow.inputs.settings import RenderSettings

log = logging.getLogger(__name__)
# One line per page sent to an engine (JSON: role, engine, hash, page), for audits and tests:
# entrypoints.py writes it to the file named by OCRFLOW_CALL_LOG.
calls = logging.getLogger("ocrflow.calls")


MIN_FAILING_WINDOW = 5  # fewer pages than this never stop a job: one bad page is just a bad page
# The OCR job's own process, left out of its mem_mb when the render workers' limit is set: it
# holds the engine (measured peaks on the example corpus: tesseract 644 MB, rapidocr 756 MB; a
# vLLM server is a process of its own).
PARENT_RESERVE_MB = 1024


class EngineFailing(EngineUnavailable):
    """Most recent pages ended in engine errors: the job stops; the message names the first."""


class PagesToRetry(OcrflowError, RuntimeError):
    """Some pages' requests could not be answered; the job's next attempt tries them again."""


def primary_work(inventory: list[InventoryDocument]) -> list[PageInput]:
    """Every page of every readable PDF, except pages the inventory could not read."""
    return [PageInput(doc.content_hash or "", page.page, doc.source_path, page.text_layer,
                      doc.doc_id)
            for doc in inventory if not doc.error for page in doc.pages if not page.error]


def trusted_layer_pages(inventory: list[InventoryDocument]) -> set[tuple[str, int]]:
    """Pages whose text layer the inventory trusts: born-digital text, read without OCR."""
    return {(doc.doc_id, page.page) for doc in inventory if not doc.error
            for page in doc.pages if page.trusted_layer}


def recovery_work(inventory: list[InventoryDocument], verdicts: list[Verdict]) -> list[PageInput]:
    """The pages whose primary output failed detection: nothing else goes to recovery."""
    failed = {(v.doc_id, v.page) for v in verdicts if needs_recovery(v)}
    return [p for p in primary_work(inventory) if (p.doc_id, p.page) in failed]


class ShardRun:
    """One engine over one shard's work pages."""

    def __init__(self, engine: Engine, store: PageStore, role: str, render: RenderSettings,
                 policy: OcrSettings, job: JobContext | None = None,
                 progress_file: Path | None = None, fields: dict[str, Any] | None = None,
                 memory: MemoryLimit | None = None):
        """``progress_file``: where the job's counts are kept while it runs (with ``fields``
        besides them); ``close_progress`` writes it a last time. ``memory``: each render
        worker's memory limit."""
        self.engine, self.store, self.role, self.render = engine, store, role, render
        self.memory = memory
        self.job = job
        self.progress_file, self.fields = progress_file, fields or {}
        self.tracker: ProgressFile | None = None
        self.policy = policy
        self.sent = 0
        self.provenance: dict[str, Any] = {}
        self._tries: dict[tuple[str, int], int] = {}  # engine-error attempts before this job
        self._recent: collections.deque[bool] = collections.deque()
        self._errors: list[tuple[PageInput, str]] = []  # engine errors recorded by this job
        self._claims: dict[str, Claim] = {}

    def execute(self, work: list[PageInput]) -> tuple[list[Reading], dict[str, Any]]:
        started = time.monotonic()
        by_hash: dict[str, dict[int, PageInput]] = {}
        for page in work:
            by_hash.setdefault(page.content_hash, {}).setdefault(page.page, page)
        todo: dict[str, list[int]] = {}
        for content_hash, pages in by_hash.items():
            in_store = self.store.load(content_hash)
            for n in sorted(pages):
                if pending(in_store.get(n)):
                    todo.setdefault(content_hash, []).append(n)
                    self._tries[(content_hash, n)] = \
                        (in_store.get(n) or {}).get("page_attempts", 0)
        n_todo = sum(map(len, todo.values()))
        log.info("%s (%s): %d pages in shard, %d already in the page store, %d to OCR",
                 self.role, self.engine.name, len(work), len(work) - n_todo, n_todo)
        self.progress = Progress(f"{self.role} {self.engine.name}", n_todo)
        if self.progress_file is not None:
            self.tracker = ProgressFile(self.progress_file, self.progress, {
                **self.fields, "role": self.role, "engine": self.engine.name,
                "pages_stored": len(work) - n_todo, "pages_to_ocr": n_todo})
        if n_todo:
            # A shard smaller than the window is judged on all its pages (five at least).
            window = min(self.policy.failing_window, max(n_todo, MIN_FAILING_WINDOW))
            self._recent = collections.deque(maxlen=window)
            try:  # a SIGTERM just after start() returns still stops its servers
                self.engine.start(self.job)
                self.provenance = self.engine.provenance()
                self._ocr(by_hash, todo)
            finally:
                self.engine.close()
                for claim in self._claims.values():
                    claim.release()
            self.progress.done()
        self.progress.finish()
        stored = {h: self.store.load(h) for h in by_hash}
        retry = [(h, n) for h, pages in stored.items() for n, r in pages.items() if pending(r)
                 and n in by_hash[h]]
        if retry:
            first = stored[retry[0][0]][retry[0][1]]["error"]
            raise PagesToRetry(
                f"{len(retry)} pages could not be answered (first: {first}); the job's next "
                f"attempt tries them again (ocr.max_page_attempts "
                f"{self.policy.max_page_attempts})")
        readings = []
        for page in work:
            # never silently missing: a page without a result says so in its reading
            record = stored[page.content_hash].get(page.page) or {
                "error": "no result recorded for this page"}
            readings.append(Reading.from_json({
                **record, "doc_id": page.doc_id, "content_hash": page.content_hash,
                "page": page.page, "engine": self.engine.name}))
        # pages_read comes from the page store: true whichever jobs, runs or working folders
        # did the reading; pages_sent and seconds are this job's own.
        read = sum(1 for page in work if page.page in stored[page.content_hash])
        stats = {"role": self.role, "engine": self.engine.name, "pages": len(work),
                 "pages_read": read, "pages_sent": self.sent,
                 "seconds": round(time.monotonic() - started, 3), **self.progress.times(),
                 # what its model servers' starts cost (none: 0.0 and [])
                 "server_start_s": self.engine.start_seconds(),
                 "server_starts": self.engine.server_starts()}
        return readings, stats

    def close_progress(self, error: str | None = None) -> None:
        """The progress file's last write: the job finished (``error``: the line it failed with)."""
        if self.tracker is not None:
            self.tracker.close(error)

    def _inputs(self, by_hash: dict[str, dict[int, PageInput]],
                todo: dict[str, list[int]]) -> Generator[PageInput, None, None]:
        # Sorted by hash in every job: documents are always claimed in one order, no deadlock.
        for content_hash in sorted(todo):
            claim = self.store.claim(content_hash, todo[content_hash])
            self.progress.advance(len(todo[content_hash]) - len(claim.pages))
            if not claim.pages:
                continue
            self._claims[content_hash] = claim
            for n in claim.pages:
                yield by_hash[content_hash][n]

    def _with_images(self, inputs: Iterator[PageInput]) -> Generator[PageInput, None, None]:
        spec = self.engine.render_spec
        if spec is None:
            yield from inputs
            return
        tasks = (RenderTask(page, spec) for page in inputs)
        with IsolatedPool(render_page, self.render.workers, self.render.timeout_s,
                          memory=self.memory, preload=preload(spec)) as pool:
            for outcome in pool.imap_unordered(tasks, prefetch=self.render.prefetch):
                page: PageInput = outcome.task.page
                if outcome.ok:
                    page.image = outcome.value
                    yield page
                else:  # "too large: ..." as it is: the same words as the inventory's
                    error = (outcome.error if outcome.too_large
                             else f"render failed: {outcome.error}")
                    self._finish(page, PageOutput(error=error))

    def _sent(self, inputs: Iterator[PageInput]) -> Generator[PageInput, None, None]:
        for page in inputs:
            self.sent += 1
            calls.info("%s", json.dumps({"role": self.role, "engine": self.engine.name,
                                         "content_hash": page.content_hash,
                                         "page": page.page}))
            yield page

    def _ocr(self, by_hash: dict[str, dict[int, PageInput]], todo: dict[str, list[int]]) -> None:
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
        window, share = self._recent.maxlen or 0, self.policy.failing_share
        if len(self._recent) == window and sum(self._recent) >= share * window:
            # Forget this job's errors: with the engine fixed, these pages are read afresh.
            for content_hash in {p.content_hash for p, _ in self._errors}:
                self.store.invalidate(content_hash, sorted(
                    {p.page for p, _ in self._errors if p.content_hash == content_hash}))
            raise EngineFailing(
                f"engine {self.engine.name}: {sum(self._recent)} of the last {window} pages "
                f"failed, stopping; first error: {self._errors[0][1]}")

    def _finish(self, page: PageInput, output: PageOutput) -> None:
        # page_attempts: jobs that have sent this page (the earlier ones all ended in errors)
        tries = self._tries.get((page.content_hash, page.page), 0) + 1
        record: dict[str, Any] = {
            "page": page.page, "text": output.text, "error": output.error,
            "finish_reason": output.finish_reason, "attempts": output.attempts,
            "page_attempts": tries, "meta": output.meta, "provenance": self.provenance,
            "requests": output.requests}
        if output.error:
            record["retry"] = output.transient and tries < self.policy.max_page_attempts
        if output.images:
            record["images"] = self.store.write_images(page.content_hash, page.page,
                                                       output.images)
        self.store.append(page.content_hash, [record])
        page.image = None
        self.progress.advance()
        self._claims[page.content_hash].page_done()


@dataclass(frozen=True, kw_only=True)
class ShardJob:
    """One OCR job: a shard's pages through one engine (ocr_primary), or the failed pages of a
    pool of shards (ocr_recovery). The entry point builds it once from Snakemake's job
    (``entrypoints.ocr``); tests build it directly."""

    inventories: tuple[Path, ...]  # the shards' inventories: their documents and pages
    output: Path  # the readings, one per page, written once every page has a final record
    stats: Path  # the job's figures (pages read and sent, seconds, timeline) for the report
    role: str  # "primary" or "recovery"
    engine_name: str
    settings: dict[str, Any]  # the engine's settings (config.engine_settings)
    store_root: Path  # the page store: a page already read there is not sent again
    render: RenderSettings
    policy: OcrSettings  # how the job treats engine errors
    threads: int = 1
    # Recovery: the primary's verdicts of the same shards; only the pages they fail are read.
    # None: every page.
    verdicts: tuple[Path, ...] | None = None
    log_path: Path | None = None  # the rule's log: a model server's log goes beside it
    # Pages whose text layer is trusted are read from it, and only the others are sent to the
    # engine (born-digital pages stay off the GPU).
    trusted_text_layer: bool = False
    # ... and of those, the pages whose structure the layer cannot give (a table its geometry
    # does not resolve) are sent to the engine after all (primary.structure_to_engine).
    structure_to_engine: bool = False
    layer_settings: dict[str, Any] = field(default_factory=dict)  # engines.textlayer
    # The file the job keeps its counts in while it runs (progress.ProgressFile), for
    # ``ocrflow status``.
    progress: Path | None = None
    mem_mb: int | None = None  # the job's declared memory, shared out as the render workers' limit
    handoff: bool = False  # a recovery engine reads the pages this one fails (JobContext.handoff)


def read_from_layer(job: ShardJob, pages: list[PageInput]
                    ) -> tuple[list[Reading], list[PageInput], list[PageInput]]:
    """The trusted pages read from their text layer: (their readings, the pages read, the pages
    whose structure the layer cannot give, left to the engine when primary.structure_to_engine
    says so)."""
    layer = TextLayerEngine(job.layer_settings)
    store = PageStore(job.store_root, layer.name, layer.fingerprint())
    readings = ShardRun(layer, store, job.role, job.render, job.policy).execute(pages)[0]
    if not job.structure_to_engine:
        return readings, pages, []
    unresolved = {(r.doc_id, r.page) for r in readings if r.meta.get("unresolved")}
    if unresolved:
        log.info("%s: %d trusted pages sent to %s for the structure their layer cannot give",
                 job.role, len(unresolved), job.engine_name)
    return ([r for r in readings if (r.doc_id, r.page) not in unresolved],
            [p for p in pages if (p.doc_id, p.page) not in unresolved],
            [p for p in pages if (p.doc_id, p.page) in unresolved])


def ocr_shard(job: ShardJob) -> None:
    """The job's engine reads the shard's pages (recovery: the pages the primary failed) into
    the page store, then the readings and the job's stats are written."""
    docs = [doc for path in job.inventories for doc in read_records(path, InventoryDocument)]
    from_layer: list[PageInput] = []
    beyond_layer: list[PageInput] = []  # trusted pages sent to the engine for their structure
    if job.verdicts is None:
        work = primary_work(docs)
        if job.trusted_text_layer and job.engine_name != TEXT_LAYER_ENGINE:
            trusted = trusted_layer_pages(docs)
            from_layer = [p for p in work if (p.doc_id, p.page) in trusted]
            work = [p for p in work if (p.doc_id, p.page) not in trusted]
    else:
        verdicts = [v for path in job.verdicts for v in read_records(path, Verdict)]
        work = recovery_work(docs, verdicts)
    order = {(p.doc_id, p.page): i for i, p in enumerate([*from_layer, *work])}
    readings: list[Reading] = []
    if from_layer:
        readings, from_layer, beyond_layer = read_from_layer(job, from_layer)
        work += beyond_layer
        log.info("%s: %d pages read from their trusted text layer, %d sent to %s", job.role,
                 len(from_layer), len(work), job.engine_name)
    engine = engines.create(job.engine_name, job.settings, job.threads)
    store = PageStore(job.store_root, engine.name, engine.fingerprint())
    context = JobContext(log_path=job.log_path, handoff=job.handoff)
    unit = "pool" if job.verdicts is not None else "shard"  # the folder's name is its id
    fields = {unit: job.output.parent.name, "pages": len(from_layer) + len(work),
              "pages_from_text_layer": len(from_layer)}
    memory = worker_limit(job.mem_mb, job.render.workers, PARENT_RESERVE_MB)
    if memory is not None:
        log.info("each render worker may use %s", memory.describe())
    run = ShardRun(engine, store, job.role, job.render, job.policy, context, job.progress, fields,
                   memory)
    try:
        engine_readings, run_stats = run.execute(work)
        run_stats["pages_from_text_layer"] = len(from_layer)
        run_stats["pages_structure_to_engine"] = len(beyond_layer)
        readings += engine_readings
        readings.sort(key=lambda r: order[(r.doc_id, r.page)])
        write_records(job.output, readings)
        atomic.write_text(job.stats, json.dumps(run_stats, indent=1) + "\n")
    except BaseException as exc:
        run.close_progress(ended_by(exc))
        raise
    run.close_progress()
