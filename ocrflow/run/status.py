"""Where a run stands, from what its jobs have written: ``python -m ocrflow status``.

Shards and pages by stage, pages/s per engine over the last minutes, time left. It stays fast at
any size (100,000 PDFs: well under a second) because each shard folder and each recovery pool's
folder is listed once and judged by its files' names and modification times (a stage's file
counts when it is at least as new as the one before it, as Snakemake judges it; a pool's recovery
files for a shard when at least as new as that shard's detection counts); only small JSON files
are parsed (each inventoried shard's inventory and detection counts, each pool's recovery counts
once, the progress files of jobs running or ended within the rate window, each once, the member
lists of shards not inventoried yet, and for the GPU hours each finished OCR job's stats file,
through cost.measured, which lists the shard and pool folders once more); no JSONL of pages is
ever opened.

Recovery runs per pool (pools.py: consecutive shards whose failed pages one job reads): each
shard of a pool whose job runs is "recovery running", the engine counts the job once, and its
pages left are the pool's failed pages the job has not read yet."""

from __future__ import annotations

import bisect
import copy
import csv
import json
import os
import socket
import sys
import time
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from ocrflow.core.errors import OcrflowError, report
from ocrflow.core.layout import INVENTORY_COUNTS, MEMBERS, Layout
from ocrflow.core.stages import (
    NO_ENGINE,
    PRIMARY,
    RECOVERY,
    ROLES,
    STAGES,
    TEXT_LAYER_ENGINE,
    Stage,
    of_role,
    stages_of,
)

PENDING = "pending"  # planned: its member list written, not inventoried yet


def _states(stages: tuple[Stage, ...]) -> tuple[str, ...]:
    """A shard's states through ``stages``, in order: each stage's job running (an OCR stage's:
    it writes progress files), then the states its files mark (Stage.states)."""
    states = [PENDING]
    for stage in stages:
        states += [stage.running_state] if stage.running_state else []
        states += [state for _, state in stage.states]
    return tuple(dict.fromkeys(states))


STATES = _states(STAGES)
# a shard's state by the last file of its chain that is there and up to date
STATE_AFTER = {MEMBERS: PENDING,
               **{name: state for stage in STAGES for name, state in stage.states}}
PAGE_STAGES = ("inventoried", "OCR'd by primary", "failed (primary)", "recovered",
               "still failing", "merged")
WINDOW_S = 300.0  # pages/s over the last 5 minutes
STALLED_S = 180.0  # a running job rewrites its progress file every 10 s
PROGRESS = ".progress.json"  # Layout.progress: logs/ocr_<role>/<unit>.progress.json
CLOCKS_S = 300.0  # slack between a job's clock (its "started") and the file server's (mtimes)


class NoPlan(OcrflowError, RuntimeError):
    """The results folder holds no plan yet: nothing to report."""

    exit_status = 2


@dataclass
class Engine:
    """A role's engine: pages/s over the window, jobs running, pages left (None: unknown)."""

    role: str
    name: str
    pages_per_s: float | None = None
    running: int = 0
    pages_left: float | None = 0.0

    def add(self, pages: float) -> None:
        self.pages_left = None if self.pages_left is None else self.pages_left + pages

    @property
    def seconds_left(self) -> float | None:
        if self.pages_left is not None and self.pages_left < 0.5:
            return 0.0
        return self.pages_left / self.pages_per_s if self.pages_left and self.pages_per_s else None


@dataclass
class Status:
    results: Path
    now: float
    shards: Counter[str] = field(default_factory=Counter)  # by state (STATES)
    states: tuple[str, ...] = STATES  # those of the run's stages (_states), in order
    pdfs: int = 0
    pages: Counter[str] = field(default_factory=Counter)  # by stage (PAGE_STAGES)
    estimated_pages: int = 0  # of the shards not inventoried yet
    pages_per_pdf: float | None = None  # of the inventoried shards: the estimate's base
    reasons: Counter[str] = field(default_factory=Counter)  # why primary pages failed
    engines: dict[str, Engine] = field(default_factory=dict)  # by role
    problems: list[str] = field(default_factory=list)
    manifest: bool = False  # written since the last merge
    per_pool: int = 1  # shards whose failed pages one recovery job reads (pools.py)
    pools: int = 0  # recovery pools of the shards planned
    shard_pages: dict[str, int] = field(default_factory=dict)  # counted, or estimated (pending)
    shard_to_ocr: dict[str, int] = field(default_factory=dict)  # of them for the primary engine
    cost: list[str] = field(default_factory=list)  # the estimate against the jobs done (cost.py)

    @property
    def seconds_left(self) -> float | None:
        parts = [e.seconds_left for e in self.engines.values()]
        return None if None in parts else sum(p or 0.0 for p in parts)


def _listing(folder: str, wanted: tuple[str, ...]) -> dict[str, float]:
    """name -> mtime of the files of ``folder`` named in ``wanted`` (all: empty), one listing."""
    try:
        with os.scandir(folder) as entries:
            return {e.name: e.stat().st_mtime for e in entries if not wanted or e.name in wanted}
    except (FileNotFoundError, NotADirectoryError):
        return {}


def _json(path: str) -> dict[str, Any]:
    try:
        with open(path, "rb") as handle:
            return json.loads(handle.read())
    except (OSError, ValueError):
        return {}


def _alive(job: dict[str, Any]) -> bool:
    """False only when the job ran on this machine and its process is gone."""
    if job.get("host") != socket.gethostname() or not job.get("pid"):
        return True
    try:
        os.kill(int(job["pid"]), 0)
    except ProcessLookupError:
        return False
    except OSError:
        pass
    return True


def _done_at(timeline: list[list[float]], t: float) -> float:
    """Pages done by time ``t``, read off a job's timeline (linear between samples)."""
    i = bisect.bisect_right([sample[0] for sample in timeline], t)
    if i == 0:
        return 0.0
    (t0, n0), (t1, n1) = timeline[i - 1], timeline[min(i, len(timeline) - 1)]
    return n0 + (n1 - n0) * (t - t0) / (t1 - t0) if t1 > t0 else n0


def _rate(timelines: list[list[list[float]]], now: float) -> float | None:
    """Pages/s of an engine's jobs over the window (since the first of them started, if later)."""
    timelines = [t for t in timelines if t]
    if not timelines:
        return None
    since = max(now - WINDOW_S, min(t[0][0] for t in timelines))
    pages = sum(_done_at(t, now) - _done_at(t, since) for t in timelines)
    return pages / (now - since) if now - since > 1 else None


def _planning(config: dict[str, Any]) -> dict[str, Any] | None:
    """The recorded config with the keys that pools and the estimate read (pools.py, cost.py);
    one recorded before them gets the schema's defaults (validate, on a copy); None: no config,
    or one the schema refuses now."""
    if not config:
        return None
    try:
        if "shard_pages" in config and "expected_failure" in config["recovery"] \
                and "walltime_margin" in config["resources"] and "dir" in config["models"] \
                and all("pages_per_second" in config["engines"].get(config[role]["engine"], {})
                        for role in ROLES if config[role]["engine"] != NO_ENGINE):
            return config
    except (KeyError, TypeError, AttributeError):
        pass
    try:
        from ocrflow.run import config as configuration

        return configuration.validate(copy.deepcopy(config))
    except Exception:  # an old config the schema refuses now
        return None


def _shards_per_pool(planning: dict[str, Any] | None) -> int:
    """Shards per recovery pool, as the run's jobs compute it (pools.py) from the recorded
    config (_planning's); one shard per pool where it cannot be computed (recovery as it was)."""
    if planning is None:
        return 1
    from ocrflow.engines import pools  # only with a recovery stage: its engine imports

    try:
        return pools.shards_per_pool(planning)
    except (KeyError, TypeError, ValueError):
        return 1


def collect(results: Path, now: float | None = None, cost: bool = True) -> Status:
    """What the jobs of the run in ``results`` have written so far; NoPlan when nothing yet.
    ``cost``: with the GPU hours estimated against those measured (their stats files read)."""
    layout, st = Layout.of(results), Status(results, time.time() if now is None else now)
    try:  # the config the run was planned with: its engines
        config = yaml.load(layout.recorded_config.read_text(encoding="utf-8"),
                           Loader=getattr(yaml, "CSafeLoader", yaml.SafeLoader)) or {}
    except OSError:
        config = {}
    planning = _planning(config)  # with the defaults of keys added since it was recorded
    # the stages of this run (none of recovery with recovery.engine: none): a shard's chain of
    # files, and what each role is, come from them alone
    run_stages = stages_of(config)
    ocr_stages = {stage.role: stage for stage in run_stages if stage.role}
    roles = list(ocr_stages)
    st.engines = {r: Engine(r, ocr_stages[r].engine(config) or "?") for r in roles}
    chain = [MEMBERS, *(name for stage in run_stages for name, _ in stage.states)]
    next_job = _next_jobs(run_stages)
    st.states = _states(run_stages)
    primary_read, primary_judged = PRIMARY.file("stats"), PRIMARY.file("counts")
    recovery_judged = RECOVERY.file("counts")  # in no chain without a recovery stage
    layer = (config.get("primary") or {}).get("trusted_text_layer", True) \
        and st.engines["primary"].name != TEXT_LAYER_ENGINE  # trusted layers stay off the engine
    # a pooled stage's files are its pool's (work/pools/<pool>/): each pool folder listed once
    pooled = any(stage.per_pool for stage in run_stages)
    if pooled:
        from ocrflow.engines.pools import pool_of  # its engine imports: only with a pooled stage

        st.per_pool = _shards_per_pool(planning)
    in_pool = tuple(name for stage in run_stages if stage.per_pool for name, _ in stage.states)
    in_shard = tuple(name for name in chain if name not in in_pool)
    pooled_roles = {role for role, stage in ocr_stages.items() if stage.per_pool}
    pool_listings: dict[str, dict[str, float]] = {}
    pools_counted: set[str] = set()  # pools whose recovery counts are in st.pages
    logs = {role: str(layout.progress(role, "-").parent) for role in roles}
    listed = {role: _listing(logs[role], ()) for role in roles}
    jobs: dict[tuple[str, str], dict[str, Any]] = {}  # (role, unit): its progress file
    seen: set[tuple[str, str]] = set()  # (role, unit) whose job is counted (a pool's: once)
    uncounted: list[str] = []  # shards not inventoried yet
    engine_pages = judged = failed = 0
    last_merge = 0.0
    shards = sorted(e.name for e in os.scandir(layout.shards) if e.is_dir()) \
        if layout.shards.is_dir() else []
    for shard in shards:
        folder = f"{layout.shards}/{shard}"  # strings: pathlib costs more than the reads here
        files = _listing(folder, in_shard)
        if MEMBERS not in files:
            continue
        pool = shard
        if pooled:
            pool = pool_of(shard, st.per_pool) if shard[1:].isdigit() else shard
            if pool not in pool_listings:
                pool_listings[pool] = _listing(f"{layout.pools}/{pool}", in_pool)
            files.update(pool_listings[pool])
        done = [MEMBERS]  # the files of the chain reached, in its order
        for name in chain[1:]:
            if files.get(name, -1.0) < files[done[-1]]:
                break  # missing, or older than its input: Snakemake redoes it
            done.append(name)
        last = done[-1]
        newest, state = files[last], STATE_AFTER[last]
        if last == MEMBERS:
            uncounted.append(shard)
            st.shards[state] += 1
            continue
        counts = _json(f"{folder}/{INVENTORY_COUNTS}")
        pages = counts.get("pages", 0)
        readable = pages - counts.get("bad_pages", 0)
        ocr_pages = readable - (counts.get("trusted_text_layer", 0) if layer else 0)
        engine_pages += ocr_pages
        st.shard_pages[shard], st.shard_to_ocr[shard] = pages, ocr_pages
        st.pdfs += counts.get("pdfs", 0)
        st.pages["inventoried"] += pages
        st.pages["OCR'd by primary"] += readable if primary_read in done else 0
        shard_failed = 0
        if primary_judged in done:
            verdicts = _json(f"{folder}/{primary_judged}")
            shard_failed = verdicts.get("failed", 0)
            judged, failed = judged + verdicts.get("pages", 0), failed + shard_failed
            st.pages["failed (primary)"] += shard_failed
            st.reasons.update(verdicts.get("by_reason", {}))
        # never without a recovery stage (not in the chain); a pool's counts cover all its
        # shards: counted once, where the first of them has them up to date
        if recovery_judged in done and pool not in pools_counted:
            pools_counted.add(pool)
            verdicts = _json(f"{layout.pools}/{pool}/{recovery_judged}")
            st.pages["recovered"] += verdicts.get("pages", 0) - verdicts.get("failed", 0)
            st.pages["still failing"] += verdicts.get("failed", 0)
        if state == "merged":
            st.pages["merged"] += pages
            last_merge = max(last_merge, newest)
        role = next_job.get(last)  # whose job is next: the shard's, or its pool's for recovery
        unit = pool if role in pooled_roles else shard
        job: dict[str, Any] = {}
        if role and listed[role].get(unit + PROGRESS, -1.0) >= newest:  # written after it
            if (role, unit) not in jobs:
                jobs[(role, unit)] = _json(f"{logs[role]}/{unit}{PROGRESS}")
            job = jobs[(role, unit)]
            if unit != shard and job.get("started", newest) < newest - CLOCKS_S:
                job = {}  # a shard that joined the pool after its job started: not in it
        first = bool(job) and (role, unit) not in seen  # a pool's job: counted at its first shard
        if role and job:  # a job is only read for a role
            seen.add((role, unit))
        if role and job and not job.get("finished") and _alive(job):
            state = f"{role} running"
            if first:
                st.engines[role].running += 1
                left = job.get("pages_to_ocr", 0) - job.get("pages_done", 0)
                st.engines[role].add(left)
                st.pages["OCR'd by primary"] += job.get("pages", 0) - left \
                    if role == "primary" else 0
                if st.now - job.get("updated", st.now) > STALLED_S:
                    st.problems.append(
                        f"{_unit_name(unit, role, st.per_pool)} ({job.get('engine')}): no update "
                        f"for {_duration(st.now - job['updated'])} (stalled or killed)")
        elif role:
            if first and not job.get("finished"):
                st.problems.append(f"{_unit_name(unit, role, st.per_pool)}: its job (pid "
                                   f"{job.get('pid')}) is gone (killed)")
            elif first and job.get("error"):
                st.problems.append(f"{_unit_name(unit, role, st.per_pool)}: its job ended: "
                                   f"{job['error']}")
            st.engines[role].add(ocr_pages if role == "primary" else shard_failed)
        st.shards[state] += 1
    if not st.shards:
        raise NoPlan(f"ocrflow status: no shard planned in {results} yet (no "
                     f"{layout.members('<shard>')}): snakemake plans them when it starts")
    st.pools = len(pool_listings) if pooled else 0
    st.manifest = os.path.exists(layout.manifest) and layout.manifest.stat().st_mtime >= last_merge
    for role in roles:  # jobs that ended within the window count for the rate too
        for name, mtime in listed[role].items():
            unit = name.removesuffix(PROGRESS)
            if mtime >= st.now - WINDOW_S - 60 and unit != name and (role, unit) not in jobs:
                jobs[(role, unit)] = _json(f"{logs[role]}/{name}")
        st.engines[role].pages_per_s = _rate(
            [job.get("timeline") or [] for (r, _), job in jobs.items() if r == role], st.now)
    _estimate(st, layout, uncounted, engine_pages)
    st.cost = _cost(st, layout, planning) if cost else []
    if "recovery" in st.engines:  # the pages not judged yet fail as often as those judged
        unjudged = st.pages["inventoried"] + st.estimated_pages - judged
        st.engines["recovery"].add(unjudged * failed / judged if judged else 0.0)
        if (unjudged or st.shards["pending"]) and not judged:  # none judged: no share known
            st.engines["recovery"].pages_left = None
    return st


def _next_jobs(run_stages: tuple[Stage, ...]) -> dict[str, str]:
    """The last file of a shard's chain reached -> the role whose job comes next: each OCR
    stage's follows the last file of the stage before it (after the last one, the merge's, which
    writes no progress file)."""
    next_job, reached = {}, MEMBERS
    for stage in run_stages:
        if stage.role:
            next_job[reached] = stage.role
        reached = stage.states[-1][0]
    return next_job


def _unit_name(unit: str, role: str, per_pool: int) -> str:
    """How a warning names a job: its shard, or its pool and the pool's shards for recovery."""
    if not of_role(role).per_pool or per_pool == 1 or not unit[1:].isdigit():
        return f"{unit} {role}"
    first = int(unit[1:]) * per_pool
    return f"{unit} {role} (pool of s{first:06d}-s{first + per_pool - 1:06d})"


def _estimate(st: Status, layout: Layout, uncounted: list[str], engine_pages: int) -> None:
    """PDFs of the shards not inventoried yet, from their member lists; their pages at the mean
    pages per PDF of the inventoried ones (unknown while none is)."""
    members = {}
    for shard in uncounted:
        with open(f"{layout.shards}/{shard}/{MEMBERS}", encoding="utf-8", newline="") as handle:
            members[shard] = sum(1 for row in csv.reader(handle, delimiter="\t") if row)
    pdfs = sum(members.values())
    if st.pdfs:
        st.pages_per_pdf = st.pages["inventoried"] / st.pdfs
        st.estimated_pages = round(pdfs * st.pages_per_pdf)
        inventoried = st.pages["inventoried"]
        st.engines["primary"].add(st.estimated_pages * engine_pages / inventoried
                                  if inventoried else 0.0)
        for shard, n in members.items():  # for the estimate of GPU hours
            st.shard_pages[shard] = round(n * st.pages_per_pdf)
            st.shard_to_ocr[shard] = round(st.shard_pages[shard] * engine_pages / inventoried) \
                if inventoried else 0
    elif pdfs:
        st.engines["primary"].pages_left = None
    st.pdfs += pdfs


def _cost(st: Status, layout: Layout, planning: dict[str, Any] | None) -> list[str]:
    """The run's estimated GPU hours, and the finished jobs' measured against their estimate
    (cost.compare), from the pages status counted (the shards not inventoried yet at the mean
    pages per PDF) and each finished job's stats file (cost.measured: one small JSON a job); the
    mean server start per engine. None while no shard is inventoried (no pages known)."""
    if planning is None or st.pages_per_pdf is None:
        return []
    from ocrflow.results import cost

    try:
        est = cost.estimate(planning, st.shard_pages, st.shard_to_ocr)
        done = cost.measured(layout, planning)
        lines = cost.compare(est, done)
    except (KeyError, TypeError, ValueError, ZeroDivisionError):
        return []
    starts = []
    for role, r in est.roles.items():
        seconds = [job.server_start_s for job in done.of(role) if job.server_start_s > 0]
        if seconds:
            starts.append(f"{r.speed.engine} {sum(seconds) / len(seconds):,.0f} s over "
                          f"{len(seconds):,} job{'s' * (len(seconds) != 1)} (assumed "
                          f"{r.speed.server_start_s:g} s)")
    return lines + ([f"  server start, mean: {'; '.join(starts)}"] if starts else [])


def _duration(seconds: float) -> str:
    s = round(seconds)
    if s < 3600:
        return f"{s} s" if s < 60 else f"{s // 60} min"
    return f"{s // 3600} h {s % 3600 // 60} min" if s < 86400 else \
        f"{s // 86400} d {s % 86400 // 3600} h"


def render(st: Status) -> str:
    """The status as aligned plain text: what a user reads."""
    when = time.strftime("%Y-%m-%d %H:%M:%S", time.localtime(st.now))
    out = [f"ocrflow status of {st.results} at {when}",
           f"{'shards':<20}{sum(st.shards.values()):>10,}   ({st.pdfs:,} PDFs)"]
    out += [f"  {state:<18}{st.shards[state]:>10,}" for state in st.states]
    pages, pending = st.pages["inventoried"] + st.estimated_pages, st.shards["pending"]
    note = "" if not pending else (
        f"   (an estimate: {st.estimated_pages:,} of them in the {pending:,} "
        f"shard{'s' * (pending != 1)} not inventoried yet, at {st.pages_per_pdf:.1f} pages per "
        "PDF)" if st.pages_per_pdf else "   (no shard inventoried yet: their pages are not known)")
    out.append(f"{'pages':<20}{'~' * bool(pending) + format(pages, ','):>10}{note}")
    for stage in PAGE_STAGES:
        if "recovery" in st.engines or stage not in ("recovered", "still failing"):
            share = f"{100 * st.pages[stage] / pages:7.1f}%" if pages else ""
            out.append(f"  {stage:<18}{st.pages[stage]:>10,}{share}")
    if st.reasons:
        out.append("  why primary failed: " + ", ".join(
            f"{reason} {n:,}" for reason, n in st.reasons.most_common(4)))
    out.append(f"pages/s over the last {_duration(WINDOW_S)}:")
    for e in st.engines.values():
        rate = "-" if e.pages_per_s is None else f"{e.pages_per_s:.2f}"
        pages_left = "unknown" if e.pages_left is None else format(round(e.pages_left), ",")
        eta = "time unknown" if e.seconds_left is None else f"about {_duration(e.seconds_left)}"
        out.append(f"  {e.role + ' (' + e.name + ')':<22}{rate:>6}   {e.running} running, "
                   f"{pages_left} pages left, {eta}")
    if "recovery" in st.engines and st.per_pool > 1:
        out.append(f"  (recovery: one job per pool of {st.per_pool} shards, {st.pools:,} "
                   f"pool{'s' * (st.pools != 1)})")
    left = st.seconds_left
    if st.shards["merged"] == sum(st.shards.values()):
        out.append("time left: none, every shard is merged" + (
            "" if st.manifest else " (the manifest is next)"))
    elif left is None:
        why = [f"no pages/s yet for {e.role}" if not e.pages_per_s else
               f"pages left unknown for {e.role}" for e in st.engines.values()
               if e.seconds_left is None]
        out.append(f"time left: unknown ({'; '.join(why)})")
    else:
        until = time.strftime("%H:%M", time.localtime(st.now + left))
        out.append(f"time left: about {_duration(left)}, done around {until}")
    out += st.cost
    out += [f"warning: {p}" for p in st.problems[:10]]
    out += [f"warning: and {len(st.problems) - 10} more"] if len(st.problems) > 10 else []
    return "\n".join(out)


def command(results: Path, watch: float | None) -> int:
    """Print the status once, or every ``watch`` seconds (clearing the screen) until Ctrl-C."""
    try:
        while True:
            try:
                text = render(collect(results))
            except NoPlan as error:  # its line names the command already
                return report(error, prefix="")
            if watch is None:
                print(text)
                return 0
            print(("\033[H\033[2J" if sys.stdout.isatty() else "\n") + text, flush=True)
            time.sleep(watch)
    except KeyboardInterrupt:
        return 0
