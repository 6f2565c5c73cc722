"""The rules' entry points: unpack Snakemake's job object, log to the rule's log, run one stage.

scripts/<stage>.py only calls the function of the same name here with the ``snakemake`` object.
"""

from __future__ import annotations

import logging
import os
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

from ocrflow.core.errors import OcrflowError, report
from ocrflow.engines.ocr import ShardJob
from ocrflow.engines.settings import OcrSettings
from ocrflow.inputs.settings import InventorySettings, RenderSettings
from ocrflow.run import environment
from ocrflow.text.settings import DetectionSettings, HeadersFootersSettings, TrustSettings

CALL_LOG_ENV = "OCRFLOW_CALL_LOG"  # a file to append one line per page sent to an engine


def _run(job: Any, func: Callable[..., Any], **kwargs: Any) -> None:
    handlers: list[logging.Handler] = [logging.StreamHandler(sys.stderr)]
    if job.log:  # appended: the log of an attempt that failed or was killed stays readable
        handlers.append(logging.FileHandler(job.log[0], mode="a", encoding="utf-8"))
    logging.basicConfig(level=logging.INFO, handlers=handlers, force=True,
                        format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    calls = logging.getLogger("ocrflow.calls")  # ocr.py's audit lines: in their own file only
    calls.propagate = False
    if os.environ.get(CALL_LOG_ENV):
        audit = logging.FileHandler(os.environ[CALL_LOG_ENV], mode="a", encoding="utf-8")
        audit.setFormatter(logging.Formatter("%(message)s"))
        calls.addHandler(audit)
    logging.getLogger("ocrflow").info("==== %s job starts (attempt %s)", job.rule,
                                      getattr(job, "attempt", "?"))
    # The job's own variables, before any engine or server starts: from the config, never from
    # the shell that submitted the job.
    environment.apply(getattr(job, "config", {}).get("environment", {}))
    try:
        func(**kwargs)
    except OcrflowError as error:  # one line in the job's log, saying what to do
        sys.exit(report(error, prefix="", log=logging.getLogger("ocrflow")))
    except Exception:
        logging.getLogger("ocrflow").exception("job failed")
        raise


def _optional(job: Any, name: str) -> Path | None:
    value = job.input.get(name)
    return Path(value) if value else None


def _paths(value: str | list[str]) -> tuple[Path, ...]:
    """A named input as paths: one file (a shard's) or a list (a pool's shards')."""
    return tuple(Path(v) for v in ([value] if isinstance(value, str) else value))


def _shard_job(job: Any) -> ShardJob:
    """The OCR job as rules/ocr.smk declares it: input, output, params, threads, resources, log."""
    verdicts = job.input.get("primary_verdicts")
    return ShardJob(inventories=_paths(job.input.inventory), output=Path(job.output.records),
                    stats=Path(job.output.stats), role=job.params.role,
                    engine_name=job.params.engine, settings=job.params.settings,
                    store_root=Path(job.params.store),
                    render=RenderSettings.from_config(job.params.render),
                    policy=OcrSettings.from_config(job.params.policy), threads=job.threads,
                    verdicts=_paths(verdicts) if verdicts else None, log_path=Path(job.log.log),
                    trusted_text_layer=job.params.trusted_text_layer,
                    structure_to_engine=job.params.text_layer["structure_to_engine"],
                    layer_settings=job.params.text_layer["settings"],
                    progress=Path(job.log.progress),
                    mem_mb=getattr(getattr(job, "resources", None), "mem_mb", None),
                    handoff=job.params.handoff)


def inventory(job: Any) -> None:
    from ocrflow.inputs.inventory import inventory_shard

    # The job's declared memory (resources.mem_mb), shared out as its workers' memory limit.
    mem_mb = getattr(getattr(job, "resources", None), "mem_mb", None)
    _run(job, inventory_shard, members=Path(job.input.members),
         output=Path(job.output.inventory),
         settings=InventorySettings.from_config(job.params.settings), workers=job.threads,
         trust_settings=TrustSettings.from_config(job.params.trust),
         counts=Path(job.output.counts), mem_mb=mem_mb)


def ocr(job: Any) -> None:
    """An OCR stage: the engine reads the shard's pages, then detection judges each reading (in
    the same job: a job per shard and stage is what a large run pays for, in Snakemake's DAG
    and on the scheduler)."""
    from ocrflow.engines.ocr import ocr_shard
    from ocrflow.text.detect import detect_shard

    def read_then_judge() -> None:
        shard = _shard_job(job)  # inside _run: a job it cannot read is logged
        ocr_shard(shard)
        detect_shard(inventories=shard.inventories, records=shard.output,
                     output=Path(job.output.verdicts), counts=Path(job.output.counts),
                     settings=DetectionSettings.from_config(job.params.detection),
                     trust_settings=TrustSettings.from_config(job.params.trust))

    _run(job, read_then_judge)


def merge(job: Any) -> None:
    from ocrflow.results.merge import merge_shard
    from ocrflow.results.settings import MergeFiles, MergeSettings

    def merge_files() -> None:  # inside _run: a job it cannot read is logged
        # The settings from the rule's params, not the whole config: what merge reads is what
        # Snakemake compares to decide whether the shard's merge is out of date.
        settings = MergeSettings(
            outputs=tuple(job.params.outputs), min_agreement=job.params.min_agreement,
            headers_footers=HeadersFootersSettings.from_config(job.params.headers_footers))
        files = MergeFiles(
            inventory=Path(job.input.inventory), primary=Path(job.input.primary),
            primary_verdicts=Path(job.input.primary_verdicts),
            recovery=_optional(job, "recovery"),
            recovery_verdicts=_optional(job, "recovery_verdicts"),
            markdown_dir=Path(job.params.markdown_dir), store_root=Path(job.params.store),
            output=Path(job.output.pages), texts=Path(job.output.texts),
            documents=Path(job.output.documents), dolma=Path(job.params.dolma),
            dolma_merged=Path(job.params.dolma_merged))
        merge_shard(files, settings)

    _run(job, merge_files)


def dolma(job: Any) -> None:
    from ocrflow.results.outputs import concatenate_dolma

    _run(job, concatenate_dolma, shards=[Path(p) for p in job.input.shards],
         target=Path(job.output.merged))


def manifest(job: Any) -> None:
    from ocrflow.results.report_html import build  # the manifest and both reports (report_html.py)

    # The whole config, not typed settings: the GPU hours section (cost.py) reads the engines'
    # pages_per_second and server_start_s, resources, pools and recovery, near all of it.
    _run(job, build, shard_pages=[Path(p) for p in job.input.pages],
         stats=[Path(p) for p in job.input.stats], manifest=Path(job.output.manifest),
         report=Path(job.output.report), report_html=Path(job.output.report_html),
         summary_path=Path(job.output.summary), config=dict(job.config))


def export(job: Any) -> None:
    from ocrflow.results.export import export_job
    from ocrflow.results.settings import ExportSettings

    _run(job, export_job, results=Path(job.params.results),
         settings=ExportSettings.from_config(job.params.settings),
         receipt=Path(job.output.receipt))


def plan(job: Any) -> None:
    from ocrflow.run.plan import write_planned
    from ocrflow.run.settings import PlanSettings, RemovalSettings

    # Typed from the rule's params as they are (what Snakemake compares), not regrouped.
    settings = PlanSettings(shard_size=job.params.shard_size, shard_pages=job.params.shard_pages,
                            removal=RemovalSettings.from_config(job.params.removal))
    _run(job, write_planned, input_path=job.params.input, results=job.config["results"],
         plan_id=job.params.plan_id, settings=settings)
