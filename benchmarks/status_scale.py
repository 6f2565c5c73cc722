"""Cost of `python -m ocrflow status` at corpus scale: a results folder of N PDFs in the default
shard size, in a mix of states, written by the jobs' own writers, then status timed in-process
(collect + render) and as the command line.

    python benchmarks/status_scale.py [N ...]        (default: 100000)

The folder is what a run of days looks like midway: 60 % of the shards merged, some recovered,
detected or done, 4 % with their primary OCR running (progress files with full timelines, as
after hours), some with recovery running, the others inventoried or not yet. Recovery's files are
per pool (pools.py: the default config's pools, 12 shards each), so the shares of the states up
to "recovery running" are rounded to whole pools. Pages per PDF vary (1-24); the page files are
small (status never opens them, it only looks at their mtimes). Shards of 100 PDFs (1,000 at
100,000 PDFs), as the figures before shards had a page target.
"""

from __future__ import annotations

import json
import random
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from ocrflow.core import atomic  # noqa: E402
from ocrflow.core.layout import Layout  # noqa: E402
from ocrflow.core.progress import Progress, Timeline, progress_record  # noqa: E402
from ocrflow.core.records import (  # noqa: E402
    InventoryDocument,
    InventoryPage,
    LayerTrust,
    PageRow,
    Reading,
    Verdict,
    write_records,
)
from ocrflow.engines import pools  # noqa: E402
from ocrflow.inputs import corpus  # noqa: E402
from ocrflow.inputs.inventory import layer_counts  # noqa: E402
from ocrflow.run import config, plan, status  # noqa: E402
from ocrflow.text.detect import verdict_counts  # noqa: E402

SHARD_SIZE = 100
# share of shards per state, in the order a shard goes through them
MIX = [("merged", 0.60), ("recovered", 0.01), ("recovery running", 0.01), ("detected", 0.02),
       ("primary done", 0.01), ("primary running", 0.04), ("inventoried", 0.11),
       ("pending", 0.20)]
ORDER = [state for state, _ in MIX][::-1]
ENGINES = {"primary": "chandra", "recovery": "deepseek"}


def _timeline(started: float, now: float, pages: int) -> list[list[float | int]]:
    """A job's timeline from ``started`` to ``now``, thinned as a job's own is."""
    line, t, step = Timeline(), started, 10.0
    while t < now:
        line.add(t, int(pages * (t - started) / max(now - started, 1)))
        t += step
    line.add(now, pages, force=True)
    return line.samples


def _progress(layout: Layout, role: str, unit: str, pages: int, done: int, started: float,
              now: float, finished: bool) -> None:
    progress = Progress(f"{role} {ENGINES[role]}", pages)
    progress.count, progress.started = done, started
    progress.timeline.samples = _timeline(started, now, done)
    fields = {"pool" if role == "recovery" else "shard": unit, "role": role,
              "engine": ENGINES[role], "pages": pages,
              "pages_from_text_layer": 0, "pages_stored": 0, "pages_to_ocr": pages}
    record = {**progress_record(progress, fields, finished), "host": "node042", "pid": 4242,
              "updated": round(now - 4, 2)}
    atomic.write_text(layout.progress(role, unit), json.dumps(record) + "\n")


def _stats(layout: Layout, role: str, unit: str, pages: int, started: float,
           now: float) -> None:
    stats = {"role": role, "engine": ENGINES[role], "pages": pages, "pages_read": pages,
             "pages_sent": pages, "seconds": round(now - started, 3),
             "started": round(started, 2), "finished": round(now, 2),
             "timeline": _timeline(started, now, pages), "pages_from_text_layer": 0}
    atomic.write_text(layout.stats(unit, role), json.dumps(stats, indent=1) + "\n")


def make_results(root: Path, n: int, seed: int = 7) -> dict[str, int]:
    """A results folder of ``n`` PDFs; returns how many shards it has in each state."""
    rng = random.Random(seed)
    results = root / "results"
    sheet = root / "sheet.tsv"
    sheet.write_text("doc_id\tpath\n" + "".join(f"d/{i:06d}\t/data/d/{i:06d}.pdf\n"
                                                  for i in range(n)))
    cfg = config.validate({"input": str(sheet), "results": str(results), "shard_size": SHARD_SIZE,
                           "primary": {"engine": "chandra"}, "recovery": {"engine": "deepseek"}})
    shards = plan.update(str(sheet), results, cfg["shard_size"], cfg["shard_pages"])
    config.record(cfg)
    now = time.time()  # after the plan, which opens (here: fails to open) every PDF
    layout, made = Layout.of(results), {state: 0 for state, _ in MIX}
    per_pool = pools.shards_per_pool(cfg)
    cut = [round(len(shards) * sum(share for _, share in MIX[:i + 1])) for i in range(len(MIX))]
    for i in range(len(MIX) - ORDER.index("recovery running")):  # whole pools, up to recovery
        cut[i] = min(len(shards), round(cut[i] / per_pool) * per_pool)
    failing: dict[str, list[Verdict]] = {}  # pool -> the failed pages of its shards
    running: dict[str, int] = {}  # pool whose recovery runs -> its failed pages
    merges: dict[str, list[Reading]] = {}  # merged after their pool's recovery
    for index, shard in enumerate(shards):
        state = MIX[next(i for i, c in enumerate(cut) if index < c)][0]
        made[state] += 1
        stage = ORDER.index(state)
        if stage < ORDER.index("inventoried"):
            continue
        docs = [InventoryDocument(m.doc_id, m.source_path, f"{index:08x}{i:024x}", pages=[
            InventoryPage(p, 612, 792, ink=0.05, text_layer="", trust=None if p % 3 else
                          LayerTrust(p % 2 == 0, 0.9, "fr")) for p in range(1, rng.randint(2, 25))])
            for i, m in enumerate(corpus.read_members(layout.members(shard)))]
        write_records(layout.inventory(shard), docs)
        counts = layer_counts(docs)
        atomic.write_text(layout.inventory_counts(shard), json.dumps(counts) + "\n")
        pages = counts["pages"] - counts["trusted_text_layer"]
        started = now - rng.uniform(600, 20 * 3600)
        if state == "primary running":
            _progress(layout, "primary", shard, pages, rng.randint(0, pages), started, now,
                      False)
            continue
        if stage < ORDER.index("primary done"):
            continue
        readings = [Reading(d.doc_id, d.content_hash or "", p.page, "chandra", "text " * 50)
                    for d in docs for p in d.pages]
        write_records(layout.records(shard, "primary"), readings)
        _stats(layout, "primary", shard, pages, started, started + pages / 2)
        _progress(layout, "primary", shard, pages, pages, started, started + pages / 2, True)
        if stage < ORDER.index("detected"):
            continue
        verdicts = [Verdict(r.doc_id, r.page, r.engine) for r in readings]
        for v in verdicts:
            v.ok = rng.random() > 0.05
            v.reasons = [] if v.ok else [rng.choice(["repetition", "empty_output"])]
        write_records(layout.verdicts(shard, "primary"), verdicts)
        counts_p = verdict_counts(verdicts)
        atomic.write_text(layout.verdict_counts(shard, "primary"), json.dumps(counts_p) + "\n")
        pool = pools.pool_of(shard, per_pool)
        if state == "recovery running":
            running[pool] = running.get(pool, 0) + counts_p["failed"]
            continue
        if stage < ORDER.index("recovered"):
            continue
        failing.setdefault(pool, []).extend(v for v in verdicts if not v.ok)
        if state == "merged":
            merges[shard] = readings
    for pool, failed in running.items():  # started (by this clock) after its shards' detection
        at = time.time()
        _progress(layout, "recovery", pool, failed, failed // 2, at - 120, at, False)
    for pool, pages in failing.items():  # after every shard's detection, as in a run
        write_records(layout.records(pool, "recovery"),
                      [Reading(v.doc_id, "h", v.page, "deepseek", "text") for v in pages])
        _stats(layout, "recovery", pool, len(pages), now - 900, now - 800)
        again = [Verdict(v.doc_id, v.page, "deepseek", ok=rng.random() > 0.1) for v in pages]
        write_records(layout.verdicts(pool, "recovery"), again)
        atomic.write_text(layout.verdict_counts(pool, "recovery"),
                          json.dumps(verdict_counts(again)) + "\n")
    for shard, readings in merges.items():  # after its pool's recovery
        write_records(layout.pages(shard), [PageRow(r.doc_id, "/x", r.content_hash, r.page,
                                                    "ok", "chandra") for r in readings])
    return made


def timed_in_process(results: Path, runs: int, cost: bool = True) -> list[float]:
    times = []
    for _ in range(runs):
        started = time.perf_counter()
        status.render(status.collect(results, cost=cost))
        times.append(time.perf_counter() - started)
    return times


def timed_cli(results: Path, runs: int) -> tuple[list[float], str]:
    times, out = [], ""
    for _ in range(runs):
        started = time.perf_counter()
        done = subprocess.run([sys.executable, "-m", "ocrflow", "status", "--results",
                               str(results)], cwd=REPO, capture_output=True, text=True,
                              check=True)
        times.append(time.perf_counter() - started)
        out = done.stdout
    return times, out


def main(sizes: list[int]) -> None:
    for n in sizes:
        with tempfile.TemporaryDirectory() as tmp:
            started = time.perf_counter()
            made = make_results(Path(tmp), n)
            print(f"{n:,} PDFs, {sum(made.values()):,} shards written in "
                  f"{time.perf_counter() - started:.0f} s: "
                  + ", ".join(f"{k} {v}" for k, v in made.items()), flush=True)
            results = Path(tmp) / "results"
            cli, text = timed_cli(results, 5)
            inproc = timed_in_process(results, 5)
            without = timed_in_process(results, 5, cost=False)
            print(text)
            for label, times in (("CLI (python -m ocrflow status)", cli),
                                 ("in-process (collect + render)", inproc),
                                 ("in-process, no GPU hours", without)):
                print(f"{label:<32} first {times[0]:.3f} s, then median "
                      f"{statistics.median(times[1:]):.3f} s, max {max(times[1:]):.3f} s")


if __name__ == "__main__":
    main([int(a) for a in sys.argv[1:]] or [100_000])
