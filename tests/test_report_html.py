"""The HTML report (ocrflow/results/report_html.py) as a user sees it: opened in headless Chromium,
offline,
with no console or page error, a screenshot that is not blank, every plot drawn, and the numbers it
shows equal to the manifest's. One real Snakemake run of the example corpus (stopped once after its
first shard, for the report of a run in progress), and hand-made results folders for the edge
cases."""

from __future__ import annotations

import io
import json
import shutil
import subprocess
import sys
import time
from collections import Counter
from pathlib import Path
from typing import Any

import pytest

from ocrflow.core.layout import Layout
from ocrflow.core.records import PageRow, read_records
from ocrflow.results import report_html
from tests.conftest import EXAMPLES, REPO, Workspace
from tests.support.browser import Opened, open_page

pytestmark = pytest.mark.services  # every test opens its report in Chromium

PLOTS = report_html.FIGURE_TITLES  # section id -> the title its plot carries


def figures(opened: Opened) -> dict[str, dict[str, Any]]:
    """The plots plotly drew: section id -> title, data and layout, read from the DOM."""
    return opened.page.evaluate("""() => Object.fromEntries(
        [...document.querySelectorAll('.js-plotly-plot')].map(el => [
            el.closest('section').id,
            {title: el.layout.title.text, data: el.data, layout: el.layout,
             svg: el.querySelectorAll('svg.main-svg').length}]))""")


def colourful(png: bytes) -> tuple[int, float]:
    """Distinct colours in a screenshot, and the share of its pixels that are not white."""
    from PIL import Image

    image = Image.open(io.BytesIO(png)).convert("RGB")
    colours = image.getcolors(maxcolors=1 << 24) or []
    white = sum(n for n, colour in colours if colour == (255, 255, 255))
    return len(colours), 1 - white / (image.width * image.height)


def assert_drawn(opened: Opened, expected: set[str]) -> dict[str, dict[str, Any]]:
    """No error; exactly the ``expected`` plots, titled, each with colours in its screenshot."""
    assert opened.problems() == []
    drawn = figures(opened)
    assert set(drawn) == expected
    for key, figure in drawn.items():
        assert figure["title"] == PLOTS[key] and figure["svg"] > 0
        distinct, inked = colourful(opened.page.locator(f"#plot-{key}").screenshot())
        assert distinct > 20 and inked > 0.03, (key, distinct, inked)
    distinct, inked = colourful(opened.page.screenshot(full_page=True))
    assert distinct > 100 and inked > 0.05
    return drawn


def expected_reasons(rows: list[dict[str, Any]]) -> Counter[str]:
    return Counter(r for row in rows if row["status"] in ("failed", "recovered")
                   for r in set(row["reasons"]) if not r.startswith("merge:"))


def table(opened: Opened, section: str) -> list[list[str]]:
    return opened.page.evaluate(f"""() => [...document.querySelectorAll(
        '#{section} tbody tr')].map(tr => [...tr.cells].map(td => td.textContent))""")


def assert_numbers(drawn: dict[str, dict[str, Any]], rows: list[dict[str, Any]],
                   stats: list[dict[str, Any]]) -> None:
    """The plots show the manifest's numbers (and the stats files' timelines)."""
    by_status = Counter(row["status"] for row in rows)
    status = drawn["status"]["data"][0]
    assert dict(zip(status["x"], status["y"], strict=True)) == {
        s: by_status.get(s, 0) for s in ("ok", "recovered", "no_text", "failed", "unreadable")}
    if "reasons" in drawn:
        bars = drawn["reasons"]["data"][0]
        assert dict(zip(bars["y"], bars["x"], strict=True)) == expected_reasons(rows)
    if "recovery" in drawn:
        rate = 100 * by_status["recovered"] / (by_status["recovered"] + by_status["failed"])
        assert drawn["recovery"]["data"][0]["value"] == pytest.approx(rate, abs=0.05)
    if "throughput" in drawn:
        width = drawn["throughput"]["layout"]["meta"]["bucket_seconds"]
        shown = {t["name"]: sum(t["y"]) * width / 60 for t in drawn["throughput"]["data"]}
        done: Counter[str] = Counter()
        for item in stats:
            if item.get("timeline"):
                done[f"{item['role']} ({item['engine']})"] += item["timeline"][-1][1]
        assert shown == pytest.approx(dict(done), abs=0.01)


def read_stats(results: Path) -> list[dict[str, Any]]:
    """Every OCR job's stats: the primary's per shard, recovery's per pool."""
    work = results / "work"
    return [json.loads(p.read_text()) for p in sorted([*work.glob("shards/*/*.stats.json"),
                                                       *work.glob("pools/*/*.stats.json")])]


@pytest.fixture(scope="module")
def example_run(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    """The example corpus in two shards: `ocrflow report` once the first is merged, then the
    whole run (the manifest rule writes report.html)."""
    root = tmp_path_factory.mktemp("example")
    shutil.copytree(EXAMPLES / "corpus", root / "corpus")
    workspace = Workspace(root)
    workspace.config["shard_size"] = 6  # two shards
    layout = Layout.of(workspace.results)
    workspace.snakemake(str(layout.pages("s000000")))
    partial = root / "partial.html"
    started = time.monotonic()
    report = subprocess.run([sys.executable, "-m", "ocrflow", "report", "--results",
                             str(workspace.results), "--output", str(partial)],
                            cwd=REPO, capture_output=True, text=True, timeout=120)
    seconds = time.monotonic() - started
    partial_stats = read_stats(workspace.results)
    workspace.snakemake()
    return {"workspace": workspace, "partial": partial, "report": report, "seconds": seconds,
            "partial_stats": partial_stats,
            "first_shard": [r.to_json() for r in read_records(layout.pages("s000000"), PageRow)]}


@pytest.mark.slow  # example_run: Snakemake on the example corpus
def test_the_report_of_a_run_shows_the_manifest(example_run: dict[str, Any]) -> None:
    workspace: Workspace = example_run["workspace"]
    rows, stats = workspace.manifest(), read_stats(workspace.results)
    page = Layout.of(workspace.results).report_html
    text = page.read_text(encoding="utf-8")
    # one file, plotly.js inline once, nothing fetched
    assert text.count("<script") == 2 and " src=" not in text.split("</head>")[1]
    assert "cdn." not in text.split("</head>")[1] and text.count("plotly.js v") == 1
    assert page.stat().st_size < 8_000_000
    with open_page(page) as opened:
        expected = set(PLOTS) if any(s.get("timeline") for s in stats) else set(PLOTS) - {
            "throughput"}
        drawn = assert_drawn(opened, expected)
        assert_numbers(drawn, rows, stats)
        assert set(drawn["engines"]["data"][0]["x"]) == {
            f"{s['role']} ({s['engine']})" for s in stats}
        unreadable = [r for r in rows if r["status"] == "unreadable"]
        assert table(opened, "unreadable") == [
            [r["doc_id"], r["source_path"], ", ".join(r["reasons"]), r["error"]]
            for r in unreadable]
        worst = table(opened, "worst")
        documents = {r["doc_id"] for r in rows if r["page"] is not None}
        assert len(worst) == min(20, len(documents)) and {w[0] for w in worst} <= documents
        if "throughput" not in drawn:  # the stats files have no timeline yet
            assert "No timeline recorded" in opened.page.inner_text("#throughput")


@pytest.mark.slow  # example_run
def test_the_report_during_a_run_covers_the_shards_merged(example_run: dict[str, Any]) -> None:
    report = example_run["report"]
    assert report.returncode == 0, report.stderr
    assert "report of 1 of 2 shards" in report.stdout
    assert example_run["seconds"] < 30
    rows = example_run["first_shard"]
    assert 0 < len(rows) < len(example_run["workspace"].manifest())
    with open_page(example_run["partial"]) as opened:
        assert "1 of 2 shards merged so far" in opened.page.inner_text(".meta")
        drawn = figures(opened)
        assert opened.problems() == [] and {"status", "engines"} <= set(drawn)
        assert_numbers(drawn, rows, example_run["partial_stats"])


def hand_made(results: Path, rows: list[dict[str, Any]], stats: list[dict[str, Any]]) -> None:
    """A results folder as the jobs would have left it: the rows in shard s000000, each job's
    stats in a shard of its own (s000000, s000001, ...; a recovery job's in the pool of the same
    number), every shard merged."""
    layout = Layout.of(results)
    for i, item in enumerate(stats or [{}]):
        shard, members = f"s{i:06d}", rows if i == 0 else []
        layout.shard_dir(shard).mkdir(parents=True)
        layout.members(shard).write_text("".join(f"{r['doc_id']}\t{r['source_path']}\t1\t1\n"
                                                 for r in members) or "x\t/in/x.pdf\t1\t1\n")
        layout.pages(shard).write_text("".join(json.dumps(r) + "\n" for r in members),
                                       encoding="utf-8")
        if item:  # a recovery job's in a pool of its own (r000001, ...)
            path = layout.stats(f"r{i:06d}" if item["role"] == "recovery" else shard,
                                item["role"])
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text(json.dumps(item))


def page_row(doc_id: str, page: int | None, status: str, reasons: tuple[str, ...] = (),
             quality: float | None = 1.0, error: str = "") -> dict[str, Any]:
    return PageRow(doc_id, f"/in/{doc_id}.pdf", None if page is None else "hash-" + doc_id, page,
                   status, "textlayer", list(reasons), 10, error, 1, None, quality,
                   "fr").to_json()


def job(role: str, engine: str, pages: int, seconds: float,
        timeline: list[list[float]] | None = None) -> dict[str, Any]:
    item: dict[str, Any] = {"role": role, "engine": engine, "pages": pages, "pages_read": pages,
                            "pages_sent": pages, "seconds": seconds}
    if timeline is not None:
        now = time.time()
        item |= {"started": now + timeline[0][0], "finished": now + timeline[-1][0],
                 "timeline": [[now + t, n] for t, n in timeline]}
    return item


def write_report(tmp_path: Path, rows: list[dict[str, Any]],
                 stats: list[dict[str, Any]]) -> Path:
    hand_made(tmp_path / "results", rows, stats)
    output = tmp_path / "report.html"
    assert report_html.command({"results": str(tmp_path / "results")}, output) == 0
    return output


def test_nothing_failed_nothing_unreadable_no_timeline(tmp_path: Path) -> None:
    rows = [page_row("a", 1, "ok"), page_row("a", 2, "ok"), page_row("b", 1, "no_text",
                                                                          quality=None)]
    stats = [job("primary", "textlayer", 3, 0.2)]
    with open_page(write_report(tmp_path, rows, stats)) as opened:
        drawn = assert_drawn(opened, {"status", "engines"})
        assert_numbers(drawn, rows, stats)
        for section, note in (("reasons", "No page failed"), ("recovery", "nothing to recover"),
                              ("throughput", "No timeline recorded"),
                              ("unreadable", "No unreadable file")):
            assert note in opened.page.inner_text(f"#{section}")


def test_failures_timelines_arabic_and_markup_in_names(tmp_path: Path) -> None:
    arabic = "الجريدة/مرسوم_٢٠٢١"
    markup = '<img src=x onerror="window.pwned=1">'
    rows = [page_row(arabic, 1, "recovered", ("textlayer:empty_output",), 0.8),
            page_row(arabic, 2, "failed", ("textlayer:garbage", "rapidocr:empty_output"), 0.0),
            page_row("b", 1, "recovered", ("textlayer:garbage", "merge:readings_agree")),
            page_row("b", 2, "ok", quality=0.6),
            page_row("bad</script>", None, "unreadable", quality=None, error=markup)]
    stats = [job("primary", "textlayer", 4, 0.5, [[-300, 0], [-299, 4]]),
             job("recovery", "rapidocr", 2, 30, [[-290, 0], [-280, 1], [-260, 3]]),
             job("recovery", "rapidocr", 1, 5, [[-100, 0], [-95.5, 1]])]
    with open_page(write_report(tmp_path, rows, stats)) as opened:
        drawn = assert_drawn(opened, set(PLOTS))
        assert_numbers(drawn, rows, stats)
        assert drawn["recovery"]["data"][0]["value"] == pytest.approx(66.7)
        assert opened.page.evaluate("() => window.pwned") is None
        assert table(opened, "unreadable") == [["bad</script>", "/in/bad</script>.pdf", "",
                                                markup]]
        worst = table(opened, "worst")
        assert [w[:3] for w in worst] == [[arabic, "2", "1"], ["b", "2", "0"]]
        cell = opened.page.locator("#worst tbody td").first
        assert cell.get_attribute("dir") == "auto" and cell.text_content() == arabic


def test_a_run_with_nothing_merged_yet(tmp_path: Path) -> None:
    layout = Layout.of(tmp_path / "results")
    layout.members("s000000").parent.mkdir(parents=True)
    layout.members("s000000").write_text("a\t/in/a.pdf\t1\t1\n")
    output = tmp_path / "report.html"
    assert report_html.command({"results": str(layout.root)}, output) == 0
    with open_page(output) as opened:
        drawn = figures(opened)
        assert opened.problems() == [] and set(drawn) == {"status"}
        assert "0 of 1 shards merged so far" in opened.page.inner_text(".meta")
