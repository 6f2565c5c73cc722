"""GPU hours: what a run's OCR jobs are expected to take (from the plan's pages and the engines'
assumed speeds), what the finished ones took (from their stats files), and each OCR job's
walltime.

The model, per job: ``server_start_s + pages / (pages_per_second * max(gpus, 1))`` seconds
(``engines.<name>.pages_per_second`` is per GPU; a job of 2 GPUs starts a server on each at once
and reads twice as fast), times its GPUs for GPU hours. The primary is one job per shard with
pages to read; recovery one job per pool of consecutive shards (pools.py), reading
``recovery.expected_failure`` of its shards' primary pages. A role on the CPU (0 GPUs) is counted
in job hours instead.

Measured: each OCR job's stats file (one small JSON: ``seconds``, the job's wall seconds, and
``server_start_s``, before the first server was ready), the primary's per shard under
``work/shards``, recovery's per pool under ``work/pools``.
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ocrflow.core.layout import Layout, stats_name
from ocrflow.core.stages import RULE_OF_ROLE
from ocrflow.engines import engine_settings, job_gpus, pools, resources

RULES = RULE_OF_ROLE  # role -> its OCR rule, as the estimate and the report name a job


@dataclass(frozen=True)
class Speed:
    """What the estimate assumes of one role's engine, from the config."""

    engine: str
    gpus: int  # per job; 0: a CPU job
    pages_per_second: float  # per GPU (per job on the CPU)
    server_start_s: float

    @classmethod
    def of(cls, config: dict[str, Any], role: str) -> Speed:
        engine = config[role]["engine"]
        settings = engine_settings(config, engine)
        return cls(engine, job_gpus(engine, settings),
                   float(settings.get("pages_per_second", 1.0)),
                   float(settings.get("server_start_s", 0.0)))

    def job_seconds(self, pages: int) -> float:
        """A job's expected wall seconds: its start, then its pages (none: nothing starts)."""
        if pages <= 0:
            return 0.0
        return self.server_start_s + pages / (self.pages_per_second * max(self.gpus, 1))

    def hours(self, seconds: float) -> float:
        """GPU hours of a job of ``seconds`` (job hours on the CPU)."""
        return max(self.gpus, 1) * seconds / 3600


@dataclass(frozen=True)
class RoleEstimate:
    role: str  # primary, recovery
    speed: Speed
    unit_pages: dict[str, int]  # shard (primary) or pool (recovery) -> pages its job reads
    unit_hours: dict[str, float]  # -> its GPU hours (job hours on the CPU)
    start_hours: float  # of hours: the part spent starting servers
    job_minutes: tuple[float, float]  # shortest and longest job expected, in minutes
    walltime: tuple[int, int]  # shortest and longest walltime asked, in minutes

    @property
    def jobs(self) -> int:
        return len(self.unit_hours)

    @property
    def pages(self) -> int:
        return sum(self.unit_pages.values())

    @property
    def hours(self) -> float:
        return sum(self.unit_hours.values())

    @property
    def on_gpu(self) -> bool:
        return self.speed.gpus > 0

    @property
    def unit(self) -> str:
        """What ``hours`` counts."""
        return "GPU hours" if self.on_gpu else "job hours"

    @property
    def start_share(self) -> float:
        return self.start_hours / self.hours if self.hours else 0.0


@dataclass(frozen=True)
class Estimate:
    pages: int  # every page of the plan
    shards: int
    to_ocr: int | None  # the pages left for the primary engine, when known
    expected_failure: float
    roles: dict[str, RoleEstimate]

    @property
    def gpu_hours(self) -> float:
        return sum(r.hours for r in self.roles.values() if r.on_gpu)


def _role(config: dict[str, Any], role: str, unit_pages: dict[str, int]) -> RoleEstimate:
    speed = Speed.of(config, role)
    work = {unit: pages for unit, pages in unit_pages.items() if pages > 0}
    seconds = {unit: speed.job_seconds(pages) for unit, pages in work.items()}
    minutes = [s / 60 for s in seconds.values()] or [0.0]
    asks = [walltime_minutes(config, role, pages) for pages in work.values()] or [0]
    return RoleEstimate(role, speed, work,
                        {unit: speed.hours(s) for unit, s in seconds.items()},
                        speed.hours(speed.server_start_s) * len(work),
                        (min(minutes), max(minutes)), (min(asks), max(asks)))


def estimate(config: dict[str, Any], pages_by_shard: dict[str, int],
             to_ocr: dict[str, int] | None = None) -> Estimate:
    """The run's OCR jobs and their hours: ``pages_by_shard`` as the plan counted them;
    ``to_ocr``: per shard, the pages left for the primary engine (after trusted text layers),
    when known."""
    primary = {s: (to_ocr.get(s, 0) if to_ocr is not None else n)
               for s, n in pages_by_shard.items() if n > 0}
    roles = {"primary": _role(config, "primary", primary)}
    failure = float(config["recovery"]["expected_failure"])
    if config["recovery"]["engine"] != "none":
        per_pool = pools.shards_per_pool(config)
        failed = {pool: round(failure * sum(primary.get(s, 0) for s in members))
                  for pool, members in pools.pools(sorted(pages_by_shard), per_pool).items()}
        roles["recovery"] = _role(config, "recovery", failed)
    return Estimate(sum(pages_by_shard.values()), sum(1 for n in pages_by_shard.values() if n),
                    None if to_ocr is None else sum(primary.values()), failure, roles)


def pages_to_ocr(config: dict[str, Any], layout: Layout,
                 pages_by_shard: dict[str, int]) -> dict[str, int] | None:
    """Per shard, the pages its primary job sends to the engine: from its inventory's counts
    where it has been inventoried (readable pages, less trusted text layers when the config
    takes them from there), else all its pages; None while no shard is inventoried."""
    trusted = config["primary"]["trusted_text_layer"]
    out, known = {}, False
    for shard, pages in pages_by_shard.items():
        counts = layout.inventory_counts(shard)
        if counts.exists():
            out[shard], known = resources.primary_pages(counts, trusted), True
        else:
            out[shard] = pages
    return out if known else None


def walltime_minutes(config: dict[str, Any], role: str, pages: int) -> int:
    """The walltime one OCR job of ``role`` reading ``pages`` asks: resources.walltime_margin
    times its expected seconds, at least resources.ocr.runtime."""
    resources = config["resources"]
    seconds = Speed.of(config, role).job_seconds(max(pages, 1))
    return max(int(resources["ocr"]["runtime"]),
               math.ceil(float(resources["walltime_margin"]) * seconds / 60))


def _hours(value: float) -> str:
    return f"{value:,.1f}" if value >= 0.1 or value == 0 else f"{value:.2g}"


def _minutes(low: float, high: float) -> str:
    a, b = round(low), round(high)
    return f"{a} min" if a == b else f"{a}-{b} min"


def describe(est: Estimate) -> list[str]:
    """What a dry run prints: the jobs, their hours and what the figures assume."""
    head = f"{est.pages:,} pages in {est.shards:,} shard{'' if est.shards == 1 else 's'}"
    if est.to_ocr is not None:
        head += f" ({est.to_ocr:,} to OCR by the inventories so far)"
    parts = [f"ocrflow estimate: {head}"]
    for role, r in est.roles.items():
        kind = "GPU" if r.on_gpu else "CPU"
        plural = "" if r.jobs == 1 else "s"
        text = f"{RULES[role]} ({r.speed.engine}): {r.jobs:,} {kind} job{plural}"
        if role == "recovery":
            text += (f" for ~{r.pages:,} failed pages (expected_failure "
                     f"{est.expected_failure:.0%})")
        text += f", {_hours(r.hours)} {r.unit}"
        if r.speed.server_start_s and r.jobs:
            text += f" ({r.start_share:.1%} {'starting servers' if r.on_gpu else 'starting'})"
        if r.jobs:
            text += (f", {_minutes(*r.job_minutes)} each (walltime asked "
                     f"{_minutes(*r.walltime)})")
        parts.append(text)
    on_gpu = [r for r in est.roles.values() if r.on_gpu]
    parts.append(f"total {_hours(est.gpu_hours)} GPU hours" if on_gpu else "no GPU job")
    assumed = "; ".join(
        f"{r.speed.engine} {r.speed.pages_per_second:g} pages/s"
        f"{' per GPU' if r.on_gpu else ''} and {r.speed.server_start_s:g} s to start "
        f"(engines.{r.speed.engine}.pages_per_second, .server_start_s)"
        for r in est.roles.values())
    return ["; ".join(parts), f"  assumed: {assumed}"]


@dataclass(frozen=True)
class Job:
    """One finished OCR job, from its stats file."""

    role: str
    unit: str  # its shard (primary) or pool (recovery)
    engine: str
    gpus: int
    seconds: float
    server_start_s: float
    pages_sent: int
    phases: dict[str, float] = field(default_factory=dict)  # of its slowest server start

    @property
    def hours(self) -> float:
        return max(self.gpus, 1) * self.seconds / 3600

    @property
    def start_hours(self) -> float:
        return max(self.gpus, 1) * self.server_start_s / 3600


@dataclass(frozen=True)
class Measured:
    jobs: list[Job] = field(default_factory=list)

    def of(self, role: str) -> list[Job]:
        return [job for job in self.jobs if job.role == role]

    def hours(self, role: str) -> float:
        return sum(job.hours for job in self.of(role))

    def start_hours(self, role: str) -> float:
        return sum(job.start_hours for job in self.of(role))

    def pages_sent(self, role: str) -> int:
        return sum(job.pages_sent for job in self.of(role))

    def started(self) -> list[Job]:
        """The jobs that started a server, slowest start first."""
        return sorted((j for j in self.jobs if j.server_start_s > 0),
                      key=lambda j: (-j.server_start_s, j.role, j.unit))


def stats_files(layout: Layout) -> list[tuple[str, str, Path]]:
    """(role, unit, path) of every OCR job's stats file present: the primary's per shard,
    recovery's per pool."""
    out = []
    for role, folder in (("primary", layout.shards), ("recovery", layout.pools)):
        if folder.is_dir():
            out += [(role, path.parent.name, path)
                    for path in sorted(folder.glob(f"*/{stats_name(role)}"))]
    return out


def _gpus(config: dict[str, Any], engine: str, cache: dict[str, int]) -> int:
    if engine not in cache:
        cache[engine] = job_gpus(engine, engine_settings(config, engine))
    return cache[engine]


def _phases(starts: Any) -> dict[str, float]:
    """The phases of the slowest of a job's server starts."""
    starts = [s for s in starts if isinstance(s, dict)] if isinstance(starts, list) else []
    slowest: dict[str, Any] = max(starts, key=lambda s: float(s.get("seconds") or 0.0),
                                  default={})
    found = slowest.get("phases") or {}
    return {str(k): float(v) for k, v in found.items() if isinstance(v, int | float)}


def measured(layout: Layout, config: dict[str, Any]) -> Measured:
    """The finished OCR jobs, from their stats files (one small JSON each)."""
    jobs: list[Job] = []
    gpus: dict[str, int] = {}
    for role, unit, path in stats_files(layout):
        try:
            item = json.loads(path.read_text(encoding="utf-8"))
        except (OSError, ValueError):  # gone, or being replaced
            continue
        engine = str(item.get("engine", config[role]["engine"]))
        jobs.append(Job(role, unit, engine, _gpus(config, engine, gpus),
                        float(item.get("seconds", 0.0)),
                        float(item.get("server_start_s") or 0.0),
                        int(item.get("pages_sent", 0)), _phases(item.get("server_starts"))))
    return Measured(jobs)


@dataclass(frozen=True)
class RoleComparison:
    """One role's finished jobs against the estimate."""

    role: str
    engine: str
    unit: str  # GPU hours or job hours
    jobs_done: int
    jobs_planned: int
    hours: float  # measured, the jobs done
    estimated_done: float  # estimated for the same jobs (shards or pools)
    estimated_run: float
    start_share: float  # measured
    start_share_estimated: float
    pages_per_second: float | None  # measured, per GPU on GPUs, server starts left out
    assumed_pages_per_second: float


def comparison(est: Estimate, done: Measured) -> list[RoleComparison]:
    out = []
    for role, r in est.roles.items():
        jobs = done.of(role)
        hours = done.hours(role)
        reading = sum(max(j.gpus, 1) * max(j.seconds - j.server_start_s, 0.0) for j in jobs)
        sent = done.pages_sent(role)
        out.append(RoleComparison(
            role, r.speed.engine, r.unit, len(jobs), r.jobs, hours,
            sum(r.unit_hours.get(job.unit, 0.0) for job in jobs), r.hours,
            done.start_hours(role) / hours if hours else 0.0, r.start_share,
            sent / reading if reading > 0 and sent else None, r.speed.pages_per_second))
    return out


def compare(est: Estimate, done: Measured) -> list[str]:
    """The estimate for the jobs that finished against what they took, per role."""
    lines = [f"GPU hours: estimated {_hours(est.gpu_hours)} for the run"
             if any(r.on_gpu for r in est.roles.values()) else
             "GPU hours: none (no OCR job on a GPU); job hours below"]
    for c in comparison(est, done):
        head = f"  {RULES[c.role]} ({c.engine}): {c.jobs_done:,} of {c.jobs_planned:,} jobs done"
        if not c.jobs_done:
            lines.append(f"{head}; {_hours(c.estimated_run)} {c.unit} estimated")
            continue
        text = (f"{head}: {_hours(c.hours)} {c.unit} measured against "
                f"{_hours(c.estimated_done)} estimated for them (start {c.start_share:.1%} "
                f"measured, {c.start_share_estimated:.1%} estimated)")
        if c.pages_per_second is not None:
            text += (f"; read {c.pages_per_second:.2f} pages/s"
                     f"{' per GPU' if c.unit == 'GPU hours' else ''}, assumed "
                     f"{c.assumed_pages_per_second:g}")
        lines.append(text)
    return lines
