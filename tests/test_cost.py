"""GPU hours (ocrflow/results/cost.py): the plan's estimate worked out by hand from the config's
values,
each OCR job's walltime, the finished jobs' hours read back from stats files a real OCR job wrote,
and the report's GPU hours section."""

from __future__ import annotations

import json
import math
import shutil
from pathlib import Path
from typing import Any

import pytest

from ocrflow.core.layout import Layout
from ocrflow.inputs import registry
from ocrflow.results import cost, report_html
from ocrflow.run import config as config_module
from tests.support.stand_in import fake_command, run_job, settings

PAGES = {"s000000": 4000, "s000001": 3000, "s000002": 100}


def gpu_config(**changes: Any) -> dict[str, Any]:
    given: dict[str, Any] = {"input": "x", "primary": {"engine": "chandra"},
                             "recovery": {"engine": "deepseek"}}
    for key, value in changes.items():
        given[key] = {**given.get(key, {}), **value}
    return config_module.validate(given)


def speed(config: dict[str, Any], engine: str) -> tuple[float, float]:
    return (config["engines"][engine]["pages_per_second"],
            config["engines"][engine]["server_start_s"])


def test_estimate_of_three_shards_by_hand() -> None:
    config = gpu_config()
    rate, start = speed(config, "chandra")
    ds_rate, ds_start = speed(config, "deepseek")
    failure = config["recovery"]["expected_failure"]
    est = cost.estimate(config, PAGES)

    primary = est.roles["primary"]
    assert (primary.jobs, primary.pages, primary.speed.gpus) == (3, 7100, 1)
    seconds = [start + n / rate for n in PAGES.values()]
    assert primary.hours == pytest.approx(sum(seconds) / 3600)
    assert primary.start_share == pytest.approx(3 * start / sum(seconds))
    assert primary.job_minutes == pytest.approx((min(seconds) / 60, max(seconds) / 60))
    margin = config["resources"]["walltime_margin"]
    assert primary.walltime == (max(config["resources"]["ocr"]["runtime"],
                                    math.ceil(margin * min(seconds) / 60)),
                                math.ceil(margin * max(seconds) / 60))
    # 2500 failed pages a job at 5% of 4000-page shards: 12 shards a pool, so one pool here
    recovery = est.roles["recovery"]
    failed = round(failure * 7100)
    assert (recovery.jobs, recovery.pages, list(recovery.unit_pages)) == (1, failed, ["r000000"])
    assert recovery.hours == pytest.approx((ds_start + failed / ds_rate) / 3600)
    assert est.gpu_hours == pytest.approx(primary.hours + recovery.hours)

    lines = cost.describe(est)
    assert lines[0].startswith("ocrflow estimate: 7,100 pages in 3 shards; ocr_primary "
                               f"(chandra): 3 GPU jobs, {primary.hours:.1f} GPU hours "
                               f"({primary.start_share:.1%} starting servers)")
    assert f"ocr_recovery (deepseek): 1 GPU job for ~{failed} failed pages " \
           "(expected_failure 5%)" in lines[0]
    assert lines[0].endswith(f"total {est.gpu_hours:.1f} GPU hours")
    assert "engines.chandra.pages_per_second" in lines[1]


def test_pages_left_after_text_layers_pools_and_no_recovery() -> None:
    config = gpu_config(recovery={"pages_per_job": 600})  # 2 shards a pool: 600 / (6000 x 5%)
    rate, start = speed(config, "chandra")
    ds_rate, ds_start = speed(config, "deepseek")
    est = cost.estimate(config, PAGES, to_ocr={"s000000": 1000, "s000001": 0, "s000002": 100})
    primary, recovery = est.roles["primary"], est.roles["recovery"]
    assert primary.unit_pages == {"s000000": 1000, "s000002": 100}  # s000001: nothing to send
    assert primary.hours == pytest.approx((2 * start + 1100 / rate) / 3600)
    assert recovery.unit_pages == {"r000000": 50, "r000001": 5}  # 5% of (1000 + 0), of 100
    assert recovery.hours == pytest.approx((2 * ds_start + 55 / ds_rate) / 3600)
    assert "(1,100 to OCR by the inventories so far)" in cost.describe(est)[0]

    alone = cost.estimate(gpu_config(recovery={"engine": "none"}), PAGES)
    assert list(alone.roles) == ["primary"]
    two_gpus = gpu_config(engines={"chandra": {"gpus": 2}})
    assert cost.estimate(two_gpus, PAGES).roles["primary"].hours == pytest.approx(
        2 * sum(start + n / (2 * rate) for n in PAGES.values()) / 3600)


def test_cpu_engines_count_job_hours() -> None:
    config = config_module.validate({"input": "x"})  # textlayer, then tesseract
    est = cost.estimate(config, PAGES)
    assert [r.unit for r in est.roles.values()] == ["job hours", "job hours"]
    assert est.gpu_hours == 0
    assert "3 CPU jobs" in cost.describe(est)[0] and "no GPU job" in cost.describe(est)[0]


def test_walltime_minutes() -> None:
    config = gpu_config()
    rate, start = speed(config, "chandra")
    floor = config["resources"]["ocr"]["runtime"]
    assert cost.walltime_minutes(config, "primary", 1) == floor
    assert cost.walltime_minutes(config, "primary", 4000) == math.ceil(
        config["resources"]["walltime_margin"] * (start + 4000 / rate) / 60)
    wider = gpu_config(resources={"walltime_margin": 3})
    assert cost.walltime_minutes(wider, "primary", 4000) == math.ceil(3 * (start + 4000 / rate)
                                                                      / 60)
    higher = gpu_config(resources={"ocr": {"mem_mb": 8000, "runtime": 600}})
    assert cost.walltime_minutes(higher, "primary", 4000) == 600


@pytest.fixture(scope="module")
def real_stats(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    """A primary job's stats file as ocr.py writes it: Chandra's job starting its own server
    (the stand-in, 1 s to start) and reading 3 pages."""
    tmp = tmp_path_factory.mktemp("job")
    patch = pytest.MonkeyPatch()
    try:
        patch.setenv("FAKE_VLLM_PLAN", str(tmp / "plan.json"))
        (tmp / "plan.json").write_text("{}")
        patch.setenv("FAKE_VLLM_STARTUP_S", "1")
        patch.setenv("CUDA_VISIBLE_DEVICES", "0")
        patch.setenv("OCRFLOW_GPU_LOCK_DIR", str(tmp / "locks"))
        for name in ("SLURM_JOB_ID", "PBS_JOBID"):
            patch.delenv(name, raising=False)
        run_job(tmp, "chandra", settings("chandra", server_command=fake_command()), [1, 2, 3])
    finally:
        patch.undo()
    return json.loads((tmp / "primary.stats.json").read_text())


def results_with(root: Path, config: dict[str, Any], stats: dict[str, Any],
                 pages: dict[str, int]) -> Layout:
    """A results folder whose plan has ``pages``, s000000's primary job finished with
    ``stats`` and pool r000000's recovery job with a hand-written stats file."""
    layout = Layout.of(root)
    config["results"] = str(root)
    layout.shard_dir("s000000").mkdir(parents=True)
    layout.stats("s000000", "primary").write_text(json.dumps(stats))
    layout.pool_dir("r000000").mkdir(parents=True)
    layout.stats("r000000", "recovery").write_text(json.dumps(
        {"role": "recovery", "engine": "deepseek", "pages": 20, "pages_read": 20,
         "pages_sent": 20, "seconds": 40.0, "server_start_s": 30.0,
         "server_starts": [{"seconds": 30.0, "phases": {"weights_s": 12.5}}]}))
    layout.work.mkdir(parents=True, exist_ok=True)
    return layout


def test_measured_and_compared_from_stats_files(tmp_path: Path, real_stats: dict[str, Any],
                                                monkeypatch: pytest.MonkeyPatch) -> None:
    assert real_stats["server_start_s"] >= 1.0 and real_stats["pages_sent"] == 3
    config = gpu_config()
    layout = results_with(tmp_path / "results", config, real_stats, PAGES)
    done = cost.measured(layout, config)
    assert [(j.role, j.unit, j.engine, j.gpus) for j in done.jobs] == [
        ("primary", "s000000", "chandra", 1), ("recovery", "r000000", "deepseek", 1)]
    assert done.hours("primary") == pytest.approx(real_stats["seconds"] / 3600)
    assert done.start_hours("recovery") == pytest.approx(30 / 3600)
    assert [j.unit for j in done.started()] == ["r000000", "s000000"]  # slowest start first
    assert done.started()[0].phases == {"weights_s": 12.5}

    est = cost.estimate(config, PAGES)
    lines = cost.compare(est, done)
    assert lines[0] == f"GPU hours: estimated {est.gpu_hours:.1f} for the run"
    planned = est.roles["primary"].unit_hours["s000000"]
    assert lines[1].startswith(
        f"  ocr_primary (chandra): 1 of 3 jobs done: {done.hours('primary'):.2g} GPU hours "
        f"measured against {planned:.1f} estimated for them (start "
        f"{real_stats['server_start_s'] / real_stats['seconds']:.1%} measured")
    assert "read 2.00 pages/s per GPU, assumed 2.3" in lines[2]  # 20 pages in 40 - 30 s


def test_the_report_has_the_gpu_hours_section(tmp_path: Path, real_stats: dict[str, Any],
                                              monkeypatch: pytest.MonkeyPatch) -> None:
    config = gpu_config()
    layout = results_with(tmp_path / "results", config, real_stats, PAGES)
    monkeypatch.setattr(registry, "pages_by_shard", lambda _layout: dict(PAGES))
    report_md = tmp_path / "report.md"
    build = dict(shard_pages=[], stats=[layout.stats("s000000", "primary")],
                 manifest=tmp_path / "manifest.parquet", report=report_md,
                 summary_path=tmp_path / "summary.txt", report_html=tmp_path / "report.html")
    report_html.build(**build, config=config)
    text = report_md.read_text()
    assert "## GPU hours" in text and "## Server starts" in text
    assert "| ocr_primary (chandra) | GPU hours | 1 of 3 |" in text
    assert "| ocr_recovery | r000000 | deepseek | 30.0 | 40.0 | 75.0% | weights 12.5 s |" in text
    page = (tmp_path / "report.html").read_text()
    assert '<section id="gpu_hours"' in page and '<section id="starts"' in page

    assert report_html.command(config, tmp_path / "during.html") == 0  # ocrflow report
    assert '<section id="starts"' in (tmp_path / "during.html").read_text()

    report_html.build(**build)  # without the run's config: no section
    assert "GPU hours" not in report_md.read_text()


def test_a_cpu_run_has_no_gpu_section(tmp_path: Path) -> None:
    config = config_module.validate({"input": "x"})
    layout = Layout.of(tmp_path / "results")
    config["results"] = str(layout.root)
    layout.shard_dir("s000000").mkdir(parents=True)
    layout.stats("s000000", "primary").write_text(json.dumps(
        {"role": "primary", "engine": "textlayer", "pages": 3, "pages_sent": 3,
         "seconds": 0.5}))
    assert report_html.gpu_hours_tables(config) == []
    shutil.rmtree(layout.root)
