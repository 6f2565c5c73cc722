"""The HTML report: one self-contained page (plotly.js inline once, nothing fetched) with plots of
the pages by status, the failure reasons, the recovery success rate, each engine's speed and the
throughput over time, and tables of the worst documents and the unreadable files.

The manifest rule writes it (``build``) with the manifest, report.md and the summary, from the same
summary and tables (manifest.py); ``python -m ocrflow report`` writes it during a run from the
shards merged so far (``command``). This module sits above manifest.py: it imports manifest, never
the other way.
"""

from __future__ import annotations

import datetime as dt
import html
import json
import re
from collections import Counter
from pathlib import Path
from typing import Any

from ocrflow.core import atomic
from ocrflow.core.layout import Layout
from ocrflow.results.cost import stats_files
from ocrflow.results.manifest import (
    GPU_HOURS_TITLE,
    STARTS_TITLE,
    TOKENS_TITLE,
    Table,
    collect_rows,
    gpu_hours_tables,
    markdown_tables,
    report_tables,
    summarize,
    summary_text,
    write_parquet,
)

WORST_LIMIT = 20
STATUS_COLOURS = {"ok": "#2ca02c", "recovered": "#1f77b4", "no_text": "#bcbd22",
                  "failed": "#d62728", "unreadable": "#7f7f7f"}
BUCKET_SECONDS = (1, 2, 5, 10, 15, 30, 60, 120, 300, 600, 900, 1800, 3600, 7200, 21600, 86400)
MAX_BUCKETS = 150  # throughput over time: the narrowest bucket that gives at most this many
PLOT_CONFIG = {"displaylogo": False, "responsive": True}
FIGURE_TITLES = {"status": "Pages by status", "recovery": "Recovery success rate",
                 "reasons": "Failure reasons", "engines": "Engine speed: pages/s and seconds "
                 "per page", "throughput": "Throughput over time"}


def failure_reasons(rows: list[dict[str, Any]]) -> Counter[str]:
    """Pages per ``engine:reason`` among the pages that failed the primary (failed, recovered);
    merge's decisions (``merge:...``) are no failure."""
    return Counter(reason for row in rows if row["status"] in ("failed", "recovered")
                   for reason in dict.fromkeys(row["reasons"]) if not reason.startswith("merge:"))


def engine_speed(engines: Table | None) -> list[tuple[str, float | None, float | None]]:
    """(stage, pages/s, seconds per page) from the report's engine table: the latest jobs'."""
    if engines is None:
        return []
    out = []
    for stage, _read, sent, seconds, _rate in engines.rows:
        out.append((stage, round(sent / seconds, 3) if sent and seconds else None,
                    round(seconds / sent, 4) if sent else None))
    return out


def throughput(stats: list[dict[str, Any]]) -> tuple[float, float, dict[str, list[float]]]:
    """Pages per minute over time from the jobs' timelines, per ``role (engine)``, summed over
    jobs: (start, bucket width in seconds, pages per minute per bucket). Empty: no timeline."""
    timelines: dict[str, list[list[tuple[float, int]]]] = {}
    for item in stats:
        points = item.get("timeline")
        if isinstance(points, list) and points:
            timelines.setdefault(f"{item['role']} ({item['engine']})", []).append(
                sorted((float(t), int(n)) for t, n in points))
    if not timelines:
        return 0.0, 0.0, {}
    times = [t for jobs in timelines.values() for job in jobs for t, _ in job]
    start, span = min(times), max(times) - min(times)
    width = next((w for w in BUCKET_SECONDS if span / w < MAX_BUCKETS), BUCKET_SECONDS[-1])
    n_buckets = int(span // width) + 1
    series = {}
    for name, jobs in sorted(timelines.items()):
        pages = [0.0] * n_buckets
        for job in jobs:
            # the pages done between two points are spread evenly over the time between them
            before, done = job[0][0], 0
            for t, cumulative in job:
                _spread(pages, (before - start) / width, (t - start) / width, cumulative - done)
                before, done = t, cumulative
        series[name] = [round(n * 60 / width, 3) for n in pages]
    return start, float(width), series


def _spread(buckets: list[float], first: float, last: float, amount: float) -> None:
    """Add ``amount`` to ``buckets`` over [first, last] (in bucket units), by overlap."""
    if last - first <= 0:
        buckets[min(int(last), len(buckets) - 1)] += amount
        return
    for i in range(int(first), min(int(last), len(buckets) - 1) + 1):
        overlap = min(last, i + 1) - max(first, i)
        buckets[i] += amount * max(overlap, 0.0) / (last - first)


def worst_documents(rows: list[dict[str, Any]], limit: int = WORST_LIMIT) -> list[dict[str, Any]]:
    """Readable documents by failed pages, then lowest mean quality: the first ``limit``."""
    docs: dict[str, dict[str, Any]] = {}
    for row in rows:
        if row["page"] is None:
            continue
        doc = docs.setdefault(row["doc_id"], {"document": row["doc_id"], "pages": 0,
                                              "failed": 0, "recovered": 0, "no_text": 0,
                                              "scores": [], "reasons": Counter()})
        doc["pages"] += 1
        if row["status"] in ("failed", "recovered", "no_text"):
            doc[row["status"]] += 1
        if row.get("quality") is not None:
            doc["scores"].append(row["quality"])
        if row["status"] in ("failed", "recovered"):
            doc["reasons"].update(r for r in row["reasons"] if not r.startswith("merge:"))
    for doc in docs.values():
        scores = doc.pop("scores")
        doc["mean_quality"] = round(sum(scores) / len(scores), 3) if scores else None
        doc["reasons"] = ", ".join(r for r, _ in doc["reasons"].most_common(3))
    ranked = sorted(docs.values(), key=lambda d: (
        -d["failed"], d["mean_quality"] if d["mean_quality"] is not None else 2.0, d["document"]))
    return ranked[:limit]


def _find(tables: list[Table], title: str) -> Table | None:
    return next((t for t in tables if t.title.split(" (")[0] == title), None)


def _figures(summary: dict[str, Any], tables: list[Table], rows: list[dict[str, Any]],
             stats: list[dict[str, Any]]) -> dict[str, Any]:
    """Section id -> a plotly figure, or a note (HTML) where there is nothing to plot."""
    import plotly.graph_objects as go
    from plotly.subplots import make_subplots

    def titled(fig: Any, title: str, height: int = 380) -> Any:
        return fig.update_layout(title={"text": title}, template="plotly_white", height=height,
                                 margin={"l": 60, "r": 30, "t": 60, "b": 50})

    by_status = dict(status_table.rows) if (status_table := _find(tables, "Pages by status")) \
        else summary["by_status"]
    out: dict[str, Any] = {"status": titled(go.Figure(go.Bar(
        x=list(by_status), y=list(by_status.values()), text=list(by_status.values()),
        marker_color=[STATUS_COLOURS.get(s, "#333") for s in by_status])), FIGURE_TITLES["status"])}
    reasons = sorted(failure_reasons(rows).items(), key=lambda i: (i[1], i[0]))
    out["reasons"] = titled(go.Figure(go.Bar(
        y=[r for r, _ in reasons], x=[n for _, n in reasons], orientation="h",
        text=[n for _, n in reasons], marker_color="#d62728")), FIGURE_TITLES["reasons"],
        max(300, 120 + 28 * len(reasons))).update_xaxes(title="pages") if reasons \
        else "No page failed the primary engine: no failure reason to show."
    recovered, failed = by_status.get("recovered", 0), by_status.get("failed", 0)
    out["recovery"] = titled(go.Figure(go.Indicator(
        mode="gauge+number", value=round(100 * recovered / (recovered + failed), 1),
        number={"suffix": "%"}, gauge={"axis": {"range": [0, 100]}, "bar": {"color": "#1f77b4"}},
        )), FIGURE_TITLES["recovery"], 320) if recovered + failed \
        else "No page failed the primary engine: nothing to recover."
    speed = engine_speed(_find(tables, "Engines"))
    if any(rate for _, rate, _ in speed):
        fig = make_subplots(rows=1, cols=2, subplot_titles=("pages/s", "seconds per page"))
        names = [name for name, _, _ in speed]
        fig.add_trace(go.Bar(x=names, y=[r for _, r, _ in speed], name="pages/s",
                             text=[r for _, r, _ in speed], marker_color="#17becf"), 1, 1)
        fig.add_trace(go.Bar(x=names, y=[s for _, _, s in speed], name="seconds per page",
                             text=[s for _, _, s in speed], marker_color="#ff7f0e"), 1, 2)
        out["engines"] = titled(fig, FIGURE_TITLES["engines"]).update_layout(showlegend=False)
    else:
        out["engines"] = "No engine has read a page yet (or every page came from the store)."
    start, width, series = throughput(stats)
    if series:
        zone = dt.datetime.fromtimestamp(start).astimezone().strftime("UTC%z")
        times = [dt.datetime.fromtimestamp(start + i * width).isoformat(sep=" ")
                 for i in range(len(next(iter(series.values()))))]
        # one panel per engine, each on its own scale (a text layer reads 1000 times faster)
        fig = make_subplots(rows=len(series), cols=1, shared_xaxes=True, vertical_spacing=0.08,
                            subplot_titles=list(series))
        for i, (name, y) in enumerate(series.items(), 1):
            fig.add_trace(go.Scatter(x=times, y=y, name=name, mode="lines", line_shape="hv",
                                     fill="tozeroy"), i, 1)
            fig.update_yaxes(title_text="pages/min", row=i, col=1)
        fig.update_xaxes(title_text=f"time ({zone}; {width:g} s buckets)", row=len(series))
        out["throughput"] = titled(fig, FIGURE_TITLES["throughput"], 140 + 200 * len(series)
                                   ).update_layout(meta={"bucket_seconds": width})
    else:
        out["throughput"] = ("No timeline recorded: the OCR jobs' stats files have no "
                             "<code>timeline</code> yet.")
    return out


def _table(columns: list[str], rows: list[list[Any]], note: str = "") -> str:
    head = "".join(f"<th>{html.escape(c)}</th>" for c in columns)
    body = "".join("<tr>" + "".join(
        f'<td dir="auto"{" class=num" if isinstance(v, int | float) else ""}>'
        f"{html.escape('' if v is None else str(v))}</td>" for v in row) + "</tr>"
        for row in rows)
    return (f"<table><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>"
            + (f'<p class="note" dir="auto">{_inline_code(note)}</p>' if note else ""))


def _inline_code(note: str) -> str:
    """A table's note, written for Markdown (report.md), with its `code` spans as HTML."""
    return re.sub(r"`([^`]+)`", r"<code>\1</code>", html.escape(note))


def _tables(tables: list[Table], rows: list[dict[str, Any]]) -> dict[str, tuple[str, str]]:
    """Section id -> (title, HTML) of the tables: worst documents, unreadable files, ..."""
    worst = worst_documents(rows)
    n_docs = len({row["doc_id"] for row in rows if row["page"] is not None})
    out = {"worst": (f"Worst documents (the first {len(worst)} of {n_docs})", _table(
        ["document", "pages", "failed", "recovered", "no text", "mean quality", "reasons"],
        [[d["document"], d["pages"], d["failed"], d["recovered"], d["no_text"],
          d["mean_quality"], d["reasons"]] for d in worst],
        "By failed pages, then lowest mean quality.") if worst
        else '<p class="note">No readable document yet.</p>')}
    unreadable = _find(tables, "Unreadable PDFs")
    paths = {row["doc_id"]: row["source_path"] for row in rows if row["status"] == "unreadable"}
    out["unreadable"] = (unreadable.title if unreadable else "Unreadable files", _table(
        ["document", "file", "reasons", "error"],
        [[doc, paths.get(doc, ""), reasons, error] for doc, _, reasons, error in unreadable.rows],
        unreadable.note) if unreadable else '<p class="note">No unreadable file.</p>')
    for key, title in (("quality", "Quality of the pages read"), ("failed", "Failed pages"),
                       ("tokens", TOKENS_TITLE), ("gpu_hours", GPU_HOURS_TITLE),
                       ("starts", STARTS_TITLE)):
        if table := _find(tables, title):
            out[key] = (table.title, _table(table.columns, table.rows, table.note))
    return out


ORDER = ("status", "recovery", "reasons", "engines", "tokens", "throughput", "gpu_hours",
         "starts", "worst", "unreadable", "quality", "failed")
HALF = {"status", "recovery"}  # side by side on a wide screen; the others span the page
STYLE = """
body{font-family:"DejaVu Sans",Arial,"Amiri",sans-serif;margin:24px;color:#222;background:#fff}
h1{margin:0 0 4px}.meta{color:#555;margin:0 0 16px}
main{display:grid;grid-template-columns:repeat(auto-fit,minmax(520px,1fr));gap:16px}
section{border:1px solid #ddd;border-radius:6px;padding:12px;min-width:0;overflow-x:auto}
section.wide{grid-column:1/-1}h2{font-size:1.1em;margin:0 0 8px}
table{border-collapse:collapse;font-size:.9em;width:100%}
th,td{border-bottom:1px solid #eee;padding:4px 8px;text-align:start;vertical-align:top}
td.num{text-align:end;font-variant-numeric:tabular-nums}th{background:#f6f6f6}
.note{color:#555;font-style:italic}.plot{min-height:300px}
"""


def render(summary: dict[str, Any], tables: list[Table], rows: list[dict[str, Any]],
           stats: list[dict[str, Any]], scope: str = "") -> str:
    """The report as one HTML page."""
    from plotly.io import to_json
    from plotly.offline import get_plotlyjs

    figures, sections, data = _figures(summary, tables, rows, stats), [], {}
    recovered, failed = summary["by_status"]["recovered"], summary["by_status"]["failed"]
    captions = {
        "recovery": f"{recovered} of the {recovered + failed} pages that failed the primary "
                    f"engine were recovered; {failed} failed both (or could not be read).",
        "engines": "Each shard's latest OCR job: the pages it sent over its seconds.",
        "throughput": "Pages done per minute by the jobs of each engine, from their timelines."}
    parts = {**{k: (FIGURE_TITLES[k], v) for k, v in figures.items()}, **_tables(tables, rows)}
    for key in (k for k in ORDER if k in parts):
        title, body = parts[key]
        if not isinstance(body, str):  # a figure (titled): drawn by the script at the end
            data[f"plot-{key}"] = json.loads(to_json(body, validate=False))
            body = f'<div id="plot-{key}" class="plot"></div>' + (
                f'<p class="note">{html.escape(captions[key])}</p>' if key in captions else "")
        else:
            body = f"<h2>{html.escape(title)}</h2>" + (
                f'<p class="note">{body}</p>' if key in figures else body)
        sections.append(f'<section id="{key}"{"" if key in HALF else " class=wide"}>'
                        f"{body}</section>")
    counts = ", ".join(f"{n} {s}" for s, n in summary["by_status"].items())
    # "<" escaped inside the script: no string (a document id) can close the script element.
    script = json.dumps({"figures": data, "config": PLOT_CONFIG}).replace("<", "\\u003c")
    return f"""<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>ocrflow report</title><style>{STYLE}</style>
<script>{get_plotlyjs()}</script></head>
<body><h1>ocrflow report</h1>
<p class="meta">{summary['documents']} documents, {summary['pages']} pages: {counts}.
Written {dt.datetime.now().astimezone().strftime("%Y-%m-%d %H:%M:%S %Z")}.
{html.escape(scope)}</p>
<main>{"".join(sections)}</main>
<script>
const report = {script};
Promise.all(Object.entries(report.figures).map(([id, fig]) =>
  Plotly.newPlot(id, fig.data, fig.layout, report.config)))
  .then(() => {{ document.body.dataset.rendered = "yes"; }});
</script></body></html>
"""


def write(path: Path, summary: dict[str, Any], tables: list[Table], rows: list[dict[str, Any]],
          stats: list[dict[str, Any]], scope: str = "") -> None:
    atomic.write_text(path, render(summary, tables, rows, stats, scope))


def build(*, shard_pages: list[Path], stats: list[Path], manifest: Path, report: Path,
          summary_path: Path, report_html: Path | None = None,
          config: dict[str, Any] | None = None) -> str:
    """The manifest rule: the manifest, report.md, report.html (when asked for) and the summary
    it returns, all from one reading of the shards' rows and the OCR jobs' stats; with the
    run's ``config``, the GPU hours section too."""
    rows = collect_rows(shard_pages)
    job_stats = [json.loads(Path(p).read_text()) for p in stats]
    summary = summarize(rows, job_stats)
    write_parquet(rows, manifest)
    tables = report_tables(summary, rows) + _gpu_hours(config)
    atomic.write_text(report, markdown_tables("ocrflow report", tables))
    if report_html is not None:
        write(report_html, summary, tables, rows, job_stats)
    text = summary_text(summary, rows)
    atomic.write_text(summary_path, text)
    return text


def _gpu_hours(config: dict[str, Any] | None) -> list[Table]:
    """The GPU hours section, where the config is a run's (validated) config."""
    return gpu_hours_tables(config) if config and "primary" in config else []


def _read_stats(paths: list[Path]) -> list[dict[str, Any]]:
    out = []
    for path in paths:
        try:
            out.append(json.loads(path.read_text(encoding="utf-8")))
        except (OSError, ValueError):  # gone, or a job's file from before atomic writes
            continue
    return out


def command(config: dict[str, Any], output: Path | None) -> int:
    """``python -m ocrflow report``: the report of the shards merged so far (a merged shard
    whose member list is newer than its rows is being redone, and left out)."""
    from ocrflow.inputs.corpus import existing_shards

    layout = Layout.of(config["results"])
    shards = existing_shards(layout.root)
    merged = [s for s in shards if layout.pages(s).exists()
              and layout.pages(s).stat().st_mtime >= layout.members(s).stat().st_mtime]
    stats = _read_stats([path for _, _, path in stats_files(layout)])
    rows = collect_rows([layout.pages(s) for s in merged])
    summary = summarize(rows, stats)
    scope = ("" if len(merged) == len(shards) else
             f"A run in progress: {len(merged)} of {len(shards)} shards merged so far; the "
             "pages and documents are theirs, the engine figures every finished OCR job's.")
    target = output or layout.report_html
    write(target, summary, report_tables(summary, rows) + _gpu_hours(config), rows, stats,
          scope)
    print(f"ocrflow: report of {len(merged)} of {len(shards)} shards ({summary['pages']} pages) "
          f"written to {target}")
    return 0
