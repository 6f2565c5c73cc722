"""`python -m ocrflow status`: on a real run in progress (Snakemake, the stand-in vLLM server
answering slowly), on results folders made by hand (a stalled job, a killed one, pages of
shards not inventoried yet, time left), and for every pair of engines at every stage of a shard,
on folders cut from real runs."""

from __future__ import annotations

import json
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import pytest
import yaml

from ocrflow.core import atomic
from ocrflow.core.layout import Layout
from ocrflow.core.progress import Progress, ProgressFile, Timeline, ended_by
from ocrflow.core.stages import RECOVERY, stages_of
from ocrflow.engines import pools
from ocrflow.run import config, plan, status
from tests.conftest import REPO, Workspace
from tests.support import pdfs
from tests.support.stand_in import serve_gpu_engines


def run_status(results: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "ocrflow", "status", "--results", str(results)],
                          cwd=REPO, capture_output=True, text=True, timeout=60)


def section(text: str, name: str) -> dict[str, int]:
    """The numbers a user reads in the section ``name`` (shards or pages), by line label; its
    first line's, the total, as ``name``."""
    lines = text.splitlines()
    start = next(i for i, line in enumerate(lines) if line.startswith(name + " "))
    block, found = [lines[start]], {}
    for line in lines[start + 1:]:
        if not line.startswith("  "):
            break
        block.append(line[2:])
    for line in block:
        match = re.fullmatch(r"(\S.*?)\s{2,}~?([\d,]+)\b.*", line)
        if match:
            found[match.group(1)] = int(match.group(2).replace(",", ""))
    return found


def count(text: str, label: str, name: str = "shards") -> int:
    """The number a user reads on the line ``label`` of the section ``name``."""
    found = section(text, name)
    assert label in found, f"no line {label!r} under {name!r} in:\n{text}"
    return found[label]


@pytest.mark.slow
def test_status_of_a_run_in_progress(workspace: Workspace, monkeypatch) -> None:
    ws = workspace
    for doc, tags in {"a": [1], "b": [2, 3, 4, 5, 6, 7, 8], "c": [9, 10]}.items():
        pdfs.write(ws.root / "corpus" / f"{doc}.pdf", pdfs.tagged_pdf(tags))
    serve_gpu_engines(ws, monkeypatch, {"delay_s": 1.0}, gpus="0",
                      chandra={"max_in_flight": 1}, startup_s="0")
    ws.config["shard_size"] = 1
    # a recovery job per shard: with DeepSeek's pools (12 shards), merging a waits for every
    # shard's primary (tests below cover pools)
    ws.config["recovery"]["pages_per_job"] = 0
    layout = Layout.of(ws.results)
    # a: merged; then b's primary OCR runs (7 pages, a second each) while c waits
    ws.snakemake("--resources", "gpu=1", "--cores", "1", str(layout.pages("s000000")))
    ws.write_config()
    command = [sys.executable, "-m", "snakemake", str(layout.stats("s000001", "primary")), "-s",
               str(REPO / "Snakefile"), "-d", str(ws.root), "--profile",
               str(REPO / "profiles/local"), "--cores", "1", "--resources", "gpu=1"]
    output = (ws.root / "snakemake.out").open("w")
    process = subprocess.Popen(command, cwd=ws.root, start_new_session=True, stdout=output,
                               stderr=subprocess.STDOUT)
    try:
        deadline, seen = time.monotonic() + 90, ""
        while time.monotonic() < deadline and process.poll() is None:
            seen = run_status(ws.results).stdout
            if "primary running" in seen and count(seen, "primary running") == 1 \
                    and "about" in seen.split("time left:")[-1]:
                break
            time.sleep(0.3)
        assert process.poll() is None, (f"the run ended before status saw it running:\n{seen}\n"
                                        f"{(ws.root / 'snakemake.out').read_text()[-3000:]}")
    finally:
        process.wait(timeout=120)
    print(seen)
    for label, n in {"shards": 3, "pending": 1, "inventoried": 0, "primary running": 1,
                     "detected": 0, "merged": 1}.items():
        assert count(seen, label) == n, label
    assert "(3 PDFs)" in seen
    assert re.search(r"^pages\s+~12\s+\(an estimate: 4 of them in the 1 shard not inventoried "
                     r"yet, at 4\.0 pages per PDF\)", seen, re.MULTILINE), seen
    assert count(seen, "merged", "pages") == 1 and count(seen, "inventoried", "pages") == 8
    rate = re.search(r"^  primary \(chandra\)\s+([\d.]+)\s+1 running, ([\d,]+) pages left, "
                     r"about \d+ (s|min)$", seen, re.MULTILINE)
    assert rate and float(rate.group(1)) > 0, seen
    assert re.search(r"^  recovery \(deepseek\)\s+\S+\s+0 running, 0 pages left, about 0 s$",
                     seen, re.MULTILINE), seen
    assert re.search(r"^time left: about \d+ (s|min), done around \d\d:\d\d$", seen, re.MULTILINE)
    assert "warning" not in seen

    job = json.loads(layout.progress("primary", "s000001").read_text())
    assert job["finished"] and job["error"] is None and job["pages_done"] == 7
    assert (job["shard"], job["role"], job["engine"], job["pages_to_ocr"]) == (
        "s000001", "primary", "chandra", 7)
    stats = json.loads(layout.stats("s000001", "primary").read_text())
    assert stats["timeline"][0][1] == 0 and stats["timeline"][-1][1] == 7
    assert all(isinstance(t, float) and isinstance(n, int) for t, n in stats["timeline"])
    assert stats["started"] <= stats["timeline"][-1][0] <= stats["finished"]

    ws.snakemake("--resources", "gpu=1", "--cores", "1")
    done = run_status(ws.results).stdout
    for label, n in {"shards": 3, "pending": 0, "primary running": 0, "merged": 3}.items():
        assert count(done, label) == n, label
    assert count(done, "inventoried", "pages") == count(done, "merged", "pages") == 10
    assert count(done, "OCR'd by primary", "pages") == 10
    assert "~" not in done and "time left: none, every shard is merged" in done.splitlines()
    counts = json.loads(layout.verdict_counts("s000001", "primary").read_text())
    assert counts == {"pages": 7, "failed": 0, "by_reason": {}}


# --- results folders made by hand ---------------------------------------------------------

NOW = 1_800_000_000.0


def make_run(tmp: Path, shards: int, pdfs: int, recovery: str = "none") -> Layout:
    """A planned run of ``shards`` shards of ``pdfs`` PDFs (a sample sheet), config recorded."""
    rows = [f"d{i:04d}\t/x/d{i:04d}.pdf" for i in range(shards * pdfs)]
    sheet = tmp / "sheet.tsv"
    sheet.write_text("doc_id\tpath\n" + "\n".join(rows) + "\n")
    cfg = config.validate({"input": str(sheet), "results": str(tmp / "results"),
                           "shard_size": pdfs, "primary": {"engine": "chandra"},
                           "recovery": {"engine": recovery}})
    assert len(plan.update(str(sheet), cfg["results"], cfg["shard_size"])) == shards
    config.record(cfg)
    return Layout.of(cfg["results"])


def inventoried(layout: Layout, shard: str, pdfs: int, pages: int) -> None:
    for path in (layout.inventory(shard), layout.inventory_counts(shard)):
        atomic.write_text(path, json.dumps({"pdfs": pdfs, "unreadable": 0, "pages": pages,
                                            "bad_pages": 0, "trusted_text_layer": 0,
                                            "untrusted_text_layer": 0,
                                            "no_text_layer": pages}) + "\n")


def running(layout: Layout, shard: str, to_ocr: int, timeline: list[list[float]],
            updated: float, host: str = "node7", pid: int = 1) -> None:
    atomic.write_text(layout.progress("primary", shard), json.dumps({
        "shard": shard, "role": "primary", "engine": "chandra", "pages": to_ocr,
        "pages_from_text_layer": 0, "pages_stored": 0, "pages_to_ocr": to_ocr,
        "pages_done": timeline[-1][1], "started": timeline[0][0], "updated": updated,
        "finished": False, "error": None, "host": host, "pid": pid, "timeline": timeline}))


@pytest.mark.parametrize("recovery", ["none", "deepseek"])
def test_status_walks_the_stages_of_the_run(tmp_path: Path, recovery: str) -> None:
    """A shard through each stage of its run in turn (ocrflow/core/stages.py), each stage's files
    written after the last: status says the state the stage's last file marks, and knows no
    stage of another run (with recovery: none, a shard judged by the primary once raised
    KeyError 'recovery')."""
    layout = make_run(tmp_path, 1, 2, recovery)
    recorded = yaml.safe_load(layout.recorded_config.read_text())
    run_stages = stages_of(recorded)
    assert (RECOVERY in run_stages) == (recovery != "none")
    pool = pools.pool_of("s000000", pools.shards_per_pool(recorded))
    t = NOW - 100
    for stage in run_stages:
        for path in stage.paths(layout, pool if stage.per_pool else "s000000"):
            t += 1
            at(path, t, json.dumps({"pdfs": 2, "pages": 4}))
        st = status.collect(layout.root, now=NOW, cost=False)
        assert st.shards == {stage.states[-1][1]: 1}, (stage.rule, st.shards)
        text = status.render(st)
        assert ("recovery" in text) == (recovery != "none"), text
    assert [s for s in status.STATES if s not in st.states] == (
        [] if recovery != "none" else ["recovery running", "recovered"])


def test_time_left_from_the_rate_over_the_last_minutes(tmp_path: Path) -> None:
    layout = make_run(tmp_path, 2, 2)
    inventoried(layout, "s000000", 2, 300)
    inventoried(layout, "s000001", 2, 100)
    # 100 pages in the last 100 s (the 50 pages an hour before are out of the window)
    running(layout, "s000000", 300, [[NOW - 3700, 0], [NOW - 3600, 50], [NOW - 100, 50],
                                     [NOW - 50, 100], [NOW, 150]], updated=NOW)
    text = status.render(status.collect(layout.root, now=NOW))
    assert count(text, "primary running") == 1 and count(text, "inventoried") == 1
    assert count(text, "OCR'd by primary", "pages") == 150
    # the rate is over 5 min: 100 pages / 300 s; left: 150 of s000000, 100 of s000001
    assert re.search(r"^  primary \(chandra\)\s+0\.33\s+1 running, 250 pages left, about 12 min$",
                     text, re.MULTILINE), text
    assert re.search(r"^time left: about 12 min, done around \d\d:\d\d$", text, re.MULTILINE)
    assert "warning" not in text


def test_pages_of_shards_not_inventoried_are_an_estimate(tmp_path: Path) -> None:
    layout = make_run(tmp_path, 4, 2)
    inventoried(layout, "s000000", 2, 10)
    inventoried(layout, "s000001", 2, 6)  # 4 pages per PDF so far: 4 PDFs to come, 16 pages
    text = status.render(status.collect(layout.root, now=NOW))
    assert "(8 PDFs)" in text and count(text, "pending") == 2
    assert re.search(r"^pages\s+~32\s+\(an estimate: 16 of them in the 2 shards not inventoried "
                     r"yet, at 4\.0 pages per PDF\)$", text, re.MULTILINE), text
    assert count(text, "inventoried") == 2
    assert re.search(r"^  inventoried\s+16\s+50\.0%$", text, re.MULTILINE)
    # nothing read yet: no rate, so no time left
    assert re.search(r"^  primary \(chandra\)\s+-\s+0 running, 32 pages left, time unknown$",
                     text, re.MULTILINE), text
    assert "time left: unknown (no pages/s yet for primary)" in text


def test_nothing_inventoried_yet_says_so(tmp_path: Path) -> None:
    layout = make_run(tmp_path, 2, 2)
    text = status.render(status.collect(layout.root, now=NOW))
    assert count(text, "pending") == 2 and "(4 PDFs)" in text
    assert "(no shard inventoried yet: their pages are not known)" in text
    assert "primary (chandra)" in text and "unknown pages left" in text
    assert "GPU hours" not in text  # no page known: no estimate


def test_a_stalled_job_and_a_killed_one_are_named(tmp_path: Path) -> None:
    layout = make_run(tmp_path, 2, 1)
    for shard in ("s000000", "s000001"):
        inventoried(layout, shard, 1, 10)
    running(layout, "s000000", 10, [[NOW - 1500, 0], [NOW - 1200, 4]], updated=NOW - 1200)
    gone = subprocess.Popen(["true"])
    gone.wait()  # a pid no process has now
    running(layout, "s000001", 10, [[NOW - 60, 0], [NOW - 30, 2]], updated=NOW - 30,
            host=socket.gethostname(), pid=gone.pid)
    text = status.render(status.collect(layout.root, now=NOW))
    assert count(text, "primary running") == 1 and count(text, "inventoried") == 1
    assert "warning: s000000 primary (chandra): no update for 20 min (stalled or killed)" in text
    assert f"warning: s000001 primary: its job (pid {gone.pid}) is gone (killed)" in text


def test_an_output_older_than_its_input_does_not_count(tmp_path: Path) -> None:
    layout = make_run(tmp_path, 1, 1)
    inventoried(layout, "s000000", 1, 3)
    os.utime(layout.members("s000000"))  # a PDF of the shard changed after its inventory
    past = layout.members("s000000").stat().st_mtime - 60
    os.utime(layout.inventory_counts("s000000"), (past, past))
    text = status.render(status.collect(layout.root, now=NOW))
    assert count(text, "pending") == 1 and count(text, "inventoried") == 0


def test_no_plan_is_one_line_and_exit_2(tmp_path: Path, capsys) -> None:
    assert status.command(tmp_path / "results", None) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "no shard planned in" in err[0]


def test_watch_redraws_until_interrupted(tmp_path: Path, monkeypatch, capsys) -> None:
    layout = make_run(tmp_path, 1, 1)
    sleeps: list[float] = []

    def sleep(seconds: float) -> None:
        sleeps.append(seconds)
        if len(sleeps) == 2:
            raise KeyboardInterrupt

    monkeypatch.setattr(status.time, "sleep", sleep)
    assert status.command(layout.root, 3.0) == 0
    assert sleeps == [3.0, 3.0]
    assert capsys.readouterr().out.count("ocrflow status of") == 2


def test_cli_with_a_results_folder_without_a_run(tmp_path: Path) -> None:
    result = run_status(tmp_path)
    assert result.returncode == 2 and len(result.stderr.strip().splitlines()) == 1


def test_timeline_stays_short_for_a_job_of_days() -> None:
    line = Timeline(every_s=10)
    for step in range(3 * 86400 // 5):  # a page every 5 s for three days
        line.add(NOW + 5 * step, step)
    line.add(NOW + 3 * 86400, 99999, force=True)
    assert 200 < len(line.samples) < 500
    assert line.samples[0] == [NOW, 0] and line.samples[-1] == [NOW + 3 * 86400, 99999]
    times = [t for t, _ in line.samples]
    assert times == sorted(times)



def test_a_job_that_ended_with_an_error_is_named(tmp_path: Path) -> None:
    layout = make_run(tmp_path, 1, 1)
    inventoried(layout, "s000000", 1, 10)
    running(layout, "s000000", 10, [[NOW - 60, 0], [NOW - 30, 2]], updated=NOW - 30)
    job = json.loads(layout.progress("primary", "s000000").read_text())
    job.update(finished=True, error="stopped by SIGTERM")
    atomic.write_text(layout.progress("primary", "s000000"), json.dumps(job))
    text = status.render(status.collect(layout.root, now=NOW))
    assert count(text, "inventoried") == 1 and count(text, "primary running") == 0
    assert "warning: s000000 primary: its job ended: stopped by SIGTERM" in text


def test_progress_file_is_rewritten_while_the_job_runs(tmp_path: Path) -> None:
    progress, path = Progress("primary chandra", 5, every_s=0.05), tmp_path / "p.json"
    tracker = ProgressFile(path, progress, {"role": "primary", "pages_to_ocr": 5},
                           every_s=0.05)
    first = json.loads(path.read_text())
    assert (first["finished"], first["pages_done"], first["pages_to_ocr"]) == (False, 0, 5)
    progress.advance(3)
    time.sleep(0.3)  # no page for a while: the heartbeat still writes
    beat = json.loads(path.read_text())
    assert beat["pages_done"] == 3 and beat["updated"] > first["updated"]
    assert len(beat["timeline"]) >= 3 and beat["timeline"][0] == [first["started"], 0]
    tracker.close(ended_by(SystemExit(128 + signal.SIGTERM)))
    last = json.loads(path.read_text())
    assert last["finished"] and last["error"] == "stopped by SIGTERM"
    assert last["timeline"][-1][1] == 3 and last["pid"] == os.getpid()
    time.sleep(0.15)
    assert json.loads(path.read_text()) == last  # the heartbeat has stopped


# --- recovery pools: one job reads the failed pages of consecutive shards --------------------

# shards of 100 pages, 5 of them expected to fail: 15 failed pages a job make pools of 3 shards
POOLED = {"shard_pages": 100, "recovery": {"engine": "deepseek", "pages_per_job": 15,
                                           "expected_failure": 0.05}}


def pooled_run(tmp: Path, shards: int) -> tuple[Layout, float]:
    """A run of ``shards`` shards of one PDF in pools of 3, each shard inventoried (10 pages),
    read and judged by the primary (2 pages failed) a few minutes ago; and the time then."""
    rows = [f"d{i:04d}\t/x/d{i:04d}.pdf" for i in range(shards)]
    sheet = tmp / "sheet.tsv"
    sheet.write_text("doc_id\tpath\n" + "\n".join(rows) + "\n")
    cfg = config.validate({"input": str(sheet), "results": str(tmp / "results"),
                           "shard_size": 1, "primary": {"engine": "chandra"}, **POOLED})
    assert pools.shards_per_pool(cfg) == 3
    assert len(plan.update(str(sheet), cfg["results"], 1, cfg["shard_pages"])) == shards
    config.record(cfg)
    layout, now = Layout.of(cfg["results"]), time.time()
    for shard in sorted(os.listdir(layout.shards)):
        detected(layout, shard, now - 600)
    return layout, now


def at(path: Path, t: float, text: str = "{}") -> None:
    """``path`` written with ``text``, its mtime ``t``."""
    atomic.write_text(path, text)
    os.utime(path, (t, t))


def detected(layout: Layout, shard: str, t: float, failed: int = 2) -> None:
    """The shard inventoried (10 pages), read and judged by the primary by time ``t``."""
    os.utime(layout.members(shard), (t - 30, t - 30))
    inventoried(layout, shard, 1, 10)
    for path in (layout.inventory(shard), layout.inventory_counts(shard)):
        os.utime(path, (t - 20, t - 20))
    at(layout.stats(shard, "primary"), t - 10, json.dumps({"engine": "chandra", "pages": 10}))
    at(layout.verdict_counts(shard, "primary"), t,
       json.dumps({"pages": 10, "failed": failed, "by_reason": {"repetition": failed}}))


def pool_job(layout: Layout, pool: str, to_ocr: int, done: int, started: float,
             updated: float, finished: bool = False, host: str = "node7", pid: int = 1) -> None:
    """The progress file of ``pool``'s recovery job, last written at ``updated``."""
    at(layout.progress("recovery", pool), updated, json.dumps({
        "pool": pool, "role": "recovery", "engine": "deepseek", "pages": to_ocr,
        "pages_from_text_layer": 0, "pages_stored": 0, "pages_to_ocr": to_ocr,
        "pages_done": done, "started": started, "updated": updated, "finished": finished,
        "error": None, "host": host, "pid": pid,
        "timeline": [[started, 0], [updated, done]]}))


def pool_recovered(layout: Layout, pool: str, t: float, pages: int, failing: int) -> None:
    """``pool``'s recovery job done at ``t``: its stats, its verdicts' counts."""
    at(layout.stats(pool, "recovery"), t - 5, json.dumps({"engine": "deepseek", "pages": pages}))
    at(layout.verdict_counts(pool, "recovery"), t, json.dumps({
        "pages": pages, "failed": failing, "by_reason": {"repetition": failing}}))


def engine_line(text: str, role: str) -> str:
    match = re.search(rf"^  {role} \(\w+\)\s+(.*)$", text, re.MULTILINE)
    assert match, text
    return match.group(1)


def test_a_pool_whose_recovery_job_runs(tmp_path: Path) -> None:
    """Three shards, one pool: each shard is "recovery running", the engine runs one job, and
    the pages left are the pool's failed pages the job has not read."""
    layout, now = pooled_run(tmp_path, 3)
    pool_job(layout, "r000000", to_ocr=6, done=2, started=now - 300, updated=now - 5)
    st = status.collect(layout.root, now=now)
    assert st.per_pool == 3 and st.pools == 1
    text = status.render(st)
    assert count(text, "recovery running") == 3 and count(text, "detected") == 0
    assert count(text, "failed (primary)", "pages") == 6
    assert count(text, "recovered", "pages") == 0
    assert re.fullmatch(r"\d+\.\d\d   1 running, 4 pages left, about \d+ (s|min)",
                        engine_line(text, "recovery")), text
    assert "  (recovery: one job per pool of 3 shards, 1 pool)" in text.splitlines(), text
    assert "warning" not in text


def test_a_pool_whose_job_stalled_is_named_once(tmp_path: Path) -> None:
    layout, now = pooled_run(tmp_path, 3)
    pool_job(layout, "r000000", to_ocr=6, done=2, started=now - 500, updated=now - 400)
    at(layout.progress("recovery", "r000000"), now - 400,
       layout.progress("recovery", "r000000").read_text())
    text = status.render(status.collect(layout.root, now=now + 1000))
    warnings = [line for line in text.splitlines() if line.startswith("warning")]
    assert warnings == ["warning: r000000 recovery (pool of s000000-s000002) (deepseek): no "
                        "update for 23 min (stalled or killed)"], text
    assert count(text, "recovery running") == 3 and "1 running, 4 pages left" in text


def test_a_pool_whose_job_is_gone_is_named_once(tmp_path: Path) -> None:
    layout, now = pooled_run(tmp_path, 3)
    gone = subprocess.Popen(["true"])
    gone.wait()
    pool_job(layout, "r000000", to_ocr=6, done=2, started=now - 300, updated=now - 5,
             host=socket.gethostname(), pid=gone.pid)
    text = status.render(status.collect(layout.root, now=now))
    warnings = [line for line in text.splitlines() if line.startswith("warning")]
    assert warnings == [f"warning: r000000 recovery (pool of s000000-s000002): its job (pid "
                        f"{gone.pid}) is gone (killed)"], text
    assert count(text, "detected") == 3 and count(text, "recovery running") == 0
    assert "0 running, 6 pages left" in engine_line(text, "recovery")


def test_a_finished_pool_counts_its_pages_once(tmp_path: Path) -> None:
    layout, now = pooled_run(tmp_path, 4)  # pools r000000 (3 shards) and r000001 (1)
    pool_job(layout, "r000000", to_ocr=6, done=6, started=now - 300, updated=now - 60,
             finished=True)
    pool_recovered(layout, "r000000", now - 60, pages=6, failing=1)
    text = status.render(status.collect(layout.root, now=now))
    assert count(text, "recovered") == 3 and count(text, "detected") == 1
    assert count(text, "recovered", "pages") == 5 and count(text, "still failing", "pages") == 1
    # s000003's pool has not run: its 2 failed pages are left
    assert re.fullmatch(r"\d+\.\d\d   0 running, 2 pages left, .*",
                        engine_line(text, "recovery")), text
    for shard in ("s000000", "s000001", "s000002"):  # merged, after their pool's recovery
        at(layout.pages(shard), now - 30)
    text = status.render(status.collect(layout.root, now=now))
    assert count(text, "merged") == 3 and count(text, "recovered") == 0
    assert count(text, "recovered", "pages") == 5 and count(text, "still failing", "pages") == 1
    assert count(text, "merged", "pages") == 30
    assert "  (recovery: one job per pool of 3 shards, 2 pools)" in text.splitlines(), text
    assert "warning" not in text


def test_a_shard_that_joined_its_pool_after_recovery_is_detected(tmp_path: Path) -> None:
    """s000002 came into the run (or was read again) after its pool's recovery ran: the pool's
    files are older than its detection, so its job runs again for it; s000000 and s000001 keep
    what the job recovered for them."""
    layout, now = pooled_run(tmp_path, 2)
    pool_job(layout, "r000000", to_ocr=4, done=4, started=now - 300, updated=now - 60,
             finished=True)
    pool_recovered(layout, "r000000", now - 60, pages=4, failing=1)
    rows = layout.members("s000001").read_text()  # a third shard, planned and judged since
    layout.shard_dir("s000002").mkdir()
    layout.members("s000002").write_text(rows.replace("d0001", "d0002"))
    detected(layout, "s000002", now - 10, failed=3)
    text = status.render(status.collect(layout.root, now=now))
    assert count(text, "recovered") == 2 and count(text, "detected") == 1, text
    assert count(text, "recovered", "pages") == 3 and count(text, "still failing", "pages") == 1
    assert count(text, "failed (primary)", "pages") == 7
    assert re.fullmatch(r"\d+\.\d\d   0 running, 3 pages left, .*",
                        engine_line(text, "recovery")), text
    # its pool's job runs again, reading s000002's pages: the job is not s000000's any more
    # (Snakemake removed the pool's files before it started), all three are "recovery running"
    for path in RECOVERY.paths(layout, "r000000"):
        path.unlink(missing_ok=True)
    pool_job(layout, "r000000", to_ocr=7, done=1, started=now - 5, updated=now)
    text = status.render(status.collect(layout.root, now=now))
    assert count(text, "recovery running") == 3, text
    assert "1 running, 6 pages left" in engine_line(text, "recovery")


def test_a_job_started_before_a_shard_joined_its_pool_is_not_that_shards(tmp_path: Path) -> None:
    layout, now = pooled_run(tmp_path, 2)
    pool_job(layout, "r000000", to_ocr=4, done=1, started=now - 500, updated=now)
    layout.shard_dir("s000002").mkdir()
    layout.members("s000002").write_text(layout.members("s000001").read_text())
    detected(layout, "s000002", now - 10, failed=3)
    text = status.render(status.collect(layout.root, now=now))
    assert count(text, "recovery running") == 2 and count(text, "detected") == 1, text
    assert "1 running, 6 pages left" in engine_line(text, "recovery")  # 3 of the job, 3 of s000002


def test_the_estimate_against_the_jobs_done(tmp_path: Path) -> None:
    """The run's GPU hours as cost.py estimates them from the pages status counted, the jobs
    done measured against their estimate, the mean server start per engine."""
    layout, now = pooled_run(tmp_path, 4)
    for shard in ("s000000", "s000001", "s000002", "s000003"):
        at(layout.stats(shard, "primary"), now - 610, json.dumps({
            "engine": "chandra", "pages": 10, "pages_sent": 10, "seconds": 100.0,
            "server_start_s": 90.0}))
    pool_recovered(layout, "r000000", now - 60, pages=6, failing=1)
    at(layout.stats("r000000", "recovery"), now - 65, json.dumps({
        "engine": "deepseek", "pages": 6, "pages_sent": 6, "seconds": 200.0,
        "server_start_s": 110.0}))
    lines = status.render(status.collect(layout.root, now=now)).splitlines()
    cost = lines[next(i for i, line in enumerate(lines) if line.startswith("GPU hours")):]
    # chandra: 120 s to start, 2 pages/s: 125 s a shard; deepseek: 120 s and 2 of 30 pages (5%)
    assert re.fullmatch(r"GPU hours: estimated 0\.2 for the run", cost[0]), cost
    assert cost[1] == ("  ocr_primary (chandra): 4 of 4 jobs done: 0.1 GPU hours measured "
                       "against 0.1 estimated for them (start 90.0% measured, 96.0% estimated); "
                       "read 1.00 pages/s per GPU, assumed 2"), cost
    assert cost[2].startswith("  ocr_recovery (deepseek): 1 of 1 jobs done: 0.056 GPU hours "
                              "measured against 0.034 estimated for them"), cost
    assert cost[3] == ("  server start, mean: chandra 90 s over 4 jobs (assumed 120 s); deepseek "
                       "110 s over 1 job (assumed 120 s)"), cost


def test_a_config_recorded_before_pools_gets_the_default_pools(tmp_path: Path) -> None:
    cfg = config.validate({"input": "x.tsv", "results": str(tmp_path / "r"),
                           "primary": {"engine": "chandra"}, "recovery": {"engine": "deepseek"}})
    old = {k: v for k, v in cfg.items() if k != "shard_pages"}
    old["recovery"] = {"engine": "deepseek"}
    filled = status._planning(old)
    assert filled is not None and filled["recovery"]["expected_failure"] == 0.05
    assert status._shards_per_pool(filled) == pools.shards_per_pool(cfg) > 1
    assert status._planning(cfg) is cfg  # a config recorded since: as it is, not validated
    assert status._planning({**old, "primary": {"engine": "unknown"}}) is None  # refused now
    assert status._shards_per_pool(None) == 1 and status._planning({}) is None


# --- every engine pair, at every stage a shard goes through --------------------------------

SCHEMA = config.schema()["properties"]  # the engines registered, as config.yaml may name them
PRIMARIES = SCHEMA["primary"]["properties"]["engine"]["enum"]
RECOVERIES = SCHEMA["recovery"]["properties"]["engine"]["enum"]  # with none: no recovery stage
STAGES = ("planned", "inventoried", "primary", "recovery", "merged", "manifest")
# the corpus of the runs: a.pdf, two pages of trusted text layer; scan.pdf, one page scanned,
# which the text layer reads empty (failed, empty_output) and Tesseract recovers
PAGES, PDFS, TRUSTED = 3, 2, 2


def stage_files(layout: Layout, shard: str, pool: str) -> dict[str, list[Path]]:
    """What each stage adds to a results folder, of what status reads: the shard's files (all
    of them), its OCR jobs' files and progress files (recovery's: its pool's), the corpus files
    the manifest job writes."""
    def job(role: str) -> list[Path]:
        unit = pool if role == "recovery" else shard
        return [layout.records(unit, role), layout.stats(unit, role),
                layout.verdicts(unit, role), layout.verdict_counts(unit, role),
                layout.progress(role, unit)]

    return {"planned": [layout.members(shard)],
            "inventoried": [layout.inventory(shard), layout.inventory_counts(shard)],
            "primary": job("primary"), "recovery": job("recovery"),
            "merged": [layout.pages(shard), layout.texts(shard), layout.documents(shard)],
            "manifest": layout.corpus_files()}


@pytest.fixture(scope="module")
def stage_folders(tmp_path_factory) -> dict[tuple[bool, str], tuple[Path, dict[str, Any]]]:
    """(with recovery, stage) -> a results folder as the workflow left it after that stage, and
    the config the run recorded: one real run to the end per shape (the text layer, then
    Tesseract or no recovery), each stage's folder a copy of it without the files of the stages
    after it (their mtimes kept)."""
    runs = {}
    for recovery in ("tesseract", "none"):
        ws = Workspace(tmp_path_factory.mktemp(f"run-{recovery}"))
        ws.config["recovery"]["engine"] = recovery
        pdfs.write(ws.root / "corpus" / "a.pdf", pdfs.text_pdf([
            "The committee met on Monday to discuss the harbour.",
            "Second page of the minutes of the meeting."]))
        pdfs.write(ws.root / "corpus" / "scan.pdf", pdfs.scanned_pdf(["A letter of thanks."]))
        ws.write_config()
        runs[recovery != "none"] = ws
    with ThreadPoolExecutor(len(runs)) as pool:  # two Snakemake starts at once
        list(pool.map(Workspace.snakemake, runs.values()))
    folders = {}
    for with_recovery, ws in runs.items():
        layout = Layout.of(ws.results)
        recorded = yaml.safe_load(layout.recorded_config.read_text())
        (shard,) = os.listdir(layout.shards)
        pool = pools.pool_of(shard, pools.shards_per_pool(recorded))
        added = stage_files(layout, shard, pool)
        stages = [s for s in STAGES if with_recovery or s != "recovery"]
        made = {path for s in stages for path in added[s]}
        assert all(path.exists() for path in made)  # the run made every file a stage adds
        assert set(layout.shard_dir(shard).iterdir()) <= made  # and none in the shard unknown
        if with_recovery:  # nor in its pool's folder
            assert set(layout.pool_dir(pool).iterdir()) <= made
        for i, stage in enumerate(stages):
            root = ws.root / "stages" / stage
            shutil.copytree(ws.results, root)
            for later in stages[i + 1:]:
                for path in added[later]:
                    (root / path.relative_to(ws.results)).unlink()
            folders[(with_recovery, stage)] = root, recorded
    return folders


def expected(primary: str, recovery: str, trusted: bool, stage: str) -> dict[str, Any]:
    """What status says of the one shard at ``stage``: its state, the pages by stage, the pages
    each engine has left (None: unknown)."""
    past = {s: STAGES.index(stage) >= STAGES.index(s) for s in STAGES}
    state = {"planned": "pending", "inventoried": "inventoried", "primary": "detected",
             "recovery": "recovered"}.get(stage, "merged")
    states = [s for s in status.STATES
              if recovery != "none" or s not in ("recovery running", "recovered")]
    pages = {"pages": PAGES * past["inventoried"], "inventoried": PAGES * past["inventoried"],
             "OCR'd by primary": PAGES * past["primary"], "failed (primary)": past["primary"],
             "recovered": past["recovery"], "still failing": 0, "merged": PAGES * past["merged"]}
    if recovery == "none":
        del pages["recovered"], pages["still failing"]
    ocr = PAGES - (TRUSTED if trusted and primary != "textlayer" else 0)
    left: dict[str, Any] = {
        "primary": None if stage == "planned" else ocr if stage == "inventoried" else 0}
    if recovery != "none":  # the failed pages: unknown until some are judged
        left["recovery"] = {"planned": None, "inventoried": None, "primary": 1}.get(stage, 0)
    return {"shards": {"shards": 1, **{s: int(s == state) for s in states}}, "pages": pages,
            "left": left}


CASES = [(p, r, trusted, stage) for p in PRIMARIES for r in RECOVERIES if r != p
         for trusted in (False, True)
         for stage in STAGES if r != "none" or stage != "recovery"]


@pytest.mark.parametrize(("primary", "recovery", "trusted", "stage"), CASES)
def test_status_of_every_engine_pair_at_every_stage(stage_folders, capsys, primary: str,
                                                    recovery: str, trusted: bool,
                                                    stage: str) -> None:
    results, recorded = stage_folders[(recovery != "none", stage)]
    config.record({**recorded, "results": str(results),  # what status reads the engines from
                   "primary": {"engine": primary, "trusted_text_layer": trusted},
                   "recovery": {**recorded["recovery"], "engine": recovery}})
    assert status.command(results, None) == 0
    text = capsys.readouterr().out
    want = expected(primary, recovery, trusted, stage)
    assert section(text, "shards") == want["shards"], text
    assert section(text, "pages") == want["pages"], text
    assert f"({PDFS} PDFs)" in text
    assert ("why primary failed: empty_output 1" in text) == (stage not in STAGES[:2]), text
    engines = {role: (name, line) for role, name, line in re.findall(
        r"^  (\w+) \((\w+)\)\s+(.*)$", text.split("pages/s over the last")[1], re.MULTILINE)}
    assert engines.keys() == want["left"].keys(), text
    for role, left in want["left"].items():
        name, line = engines[role]
        assert name == {"primary": primary, "recovery": recovery}[role], text
        pages = "unknown" if left is None else str(left)
        eta = "about 0 s" if left == 0 else "time unknown"
        assert re.fullmatch(rf"(-|\d+\.\d\d)   0 running, {pages} pages left, {eta}", line), text
    if stage in ("merged", "manifest"):
        assert ("time left: none, every shard is merged" + " (the manifest is next)" * (
            stage == "merged")) in text.splitlines(), text
    assert "warning" not in text, text


def test_cli_status_without_recovery_after_the_primary(stage_folders) -> None:
    """`python -m ocrflow status` where the primary has read and judged the shard, with no
    recovery stage: the merge is next."""
    result = run_status(stage_folders[(False, "primary")][0])
    assert result.returncode == 0, result.stderr
    assert count(result.stdout, "detected") == 1 and "recovery" not in result.stdout
