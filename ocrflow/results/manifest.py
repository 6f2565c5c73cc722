"""The corpus manifest (one row per page, one per unreadable PDF), the report's tables (report.md
as Markdown) and its summary. ``report_html.build`` writes them, with report.html, for the
manifest rule: imports go records -> manifest -> report_html, never back."""

from __future__ import annotations

import html
import json
from collections import Counter
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ocrflow.core import atomic
from ocrflow.core.records import OUTPUT_ERROR, PageRow, read_records

STATUSES = ("ok", "recovered", "no_text", "failed", "unreadable")
REPORT_LIST_LIMIT = 200


def _schema() -> Any:
    import pyarrow as pa

    return pa.schema([
        ("doc_id", pa.string()), ("source_path", pa.string()), ("content_hash", pa.string()),
        ("page", pa.int32()), ("status", pa.string()), ("engine", pa.string()),
        ("reasons", pa.list_(pa.string())), ("n_chars", pa.int64()), ("error", pa.string()),
        ("duplicate_of", pa.string()), ("attempts", pa.int32()), ("provenance", pa.string()),
        ("quality", pa.float32()), ("language", pa.string()), ("tokens", pa.string()),
    ])


def collect_rows(shard_pages: list[Path]) -> list[dict[str, Any]]:
    """The manifest's rows: every shard's final page rows, sorted, each naming the document
    whose copy it is (``duplicate_of``: the first document with the same content)."""
    rows = [row.to_json() for path in shard_pages for row in read_records(path, PageRow)]
    rows.sort(key=lambda r: (r["doc_id"], r["page"] or 0))
    first_with_hash: dict[str, str] = {}
    for row in rows:
        content_hash = row["content_hash"]
        original = (first_with_hash.setdefault(content_hash, row["doc_id"]) if content_hash
                    else None)
        row["duplicate_of"] = original if original not in (None, row["doc_id"]) else None
        for key in ("provenance", "tokens"):  # JSON columns: engines record different keys
            if row.get(key) is not None:
                row[key] = json.dumps(row[key], sort_keys=True)
    return rows


def write_parquet(rows: list[dict[str, Any]], path: Path) -> None:
    import pyarrow as pa
    import pyarrow.parquet as pq

    table = pa.Table.from_pylist(rows, schema=_schema())
    with atomic.atomic_open(path, "wb") as handle:
        pq.write_table(table, handle)


def summarize(rows: list[dict[str, Any]], stats: list[dict[str, Any]]) -> dict[str, Any]:
    by_status = Counter(row["status"] for row in rows)
    totals: dict[str, dict[str, float]] = {}
    for item in stats:
        entry = totals.setdefault(f"{item['role']} ({item['engine']})",
                                   {"pages_read": 0, "pages_sent": 0, "seconds": 0.0,
                                    "from_text_layer": 0})
        entry["pages_read"] += item.get("pages_read", item["pages_sent"])
        entry["from_text_layer"] += item.get("pages_from_text_layer", 0)
        entry["pages_sent"] += item["pages_sent"]
        entry["seconds"] += item["seconds"] if item["pages_sent"] else 0.0
    engines = {name: {**entry, "seconds": round(entry["seconds"], 2),
                      "pages_per_s": round(entry["pages_sent"] / entry["seconds"], 3)
                      if entry["seconds"] else None}
               for name, entry in totals.items()}
    return {
        "documents": len({row["doc_id"] for row in rows}),
        "pages": sum(1 for row in rows if row["page"] is not None),
        "by_status": {status: by_status.get(status, 0) for status in STATUSES},
        "engines": engines,
        "tokens": token_totals(rows),
    }


def token_totals(rows: list[dict[str, Any]]) -> dict[str, dict[str, Any]]:
    """From the manifest's rows (``tokens`` as JSON), per engine: pages it was asked to read,
    requests, prompt and decoded (completion) tokens, decoded tokens per page, and the share
    decoded for readings that were not kept (the page failed, or another engine's was)."""
    totals: dict[str, dict[str, Any]] = {}
    for row in rows:
        for engine, requests in json.loads(row.get("tokens") or "{}").items():
            entry = totals.setdefault(engine, {"pages": 0, "requests": 0, "prompt_tokens": 0,
                                               "completion_tokens": 0, "not_kept": 0})
            decoded = sum(r.get("completion_tokens") or 0 for r in requests)
            entry["pages"] += 1
            entry["requests"] += len(requests)
            entry["prompt_tokens"] += sum(r.get("prompt_tokens") or 0 for r in requests)
            entry["completion_tokens"] += decoded
            if not (row["engine"] == engine and row["status"] in ("ok", "recovered")):
                entry["not_kept"] += decoded
    for entry in totals.values():
        decoded = entry["completion_tokens"]
        entry["per_page"] = round(decoded / entry["pages"], 1)
        entry["share_not_kept"] = round(entry.pop("not_kept") / decoded, 4) if decoded else 0.0
    return totals


def summary_text(summary: dict[str, Any], rows: list[dict[str, Any]]) -> str:
    counts = ", ".join(f"{n} {status}" for status, n in summary["by_status"].items())
    lines = [f"ocrflow: {summary['documents']} documents, {summary['pages']} pages: {counts}"]
    for name, entry in summary["engines"].items():
        rate = entry["pages_per_s"]
        rate_text = f"{rate:.2f} pages/s" if rate else "nothing to do"
        lines.append(f"  {name}: {entry['pages_read']} pages read (page store); the latest job "
                     f"of each shard sent {entry['pages_sent']} in {entry['seconds']} s "
                     f"({rate_text})" + (f"; {entry['from_text_layer']} pages taken from their "
                                         "trusted text layer instead"
                                         if entry["from_text_layer"] else ""))
    for engine, entry in summary["tokens"].items():
        lines.append(f"  {engine}: {entry['completion_tokens']} tokens decoded for "
                     f"{entry['pages']} pages ({entry['per_page']} a page, "
                     f"{entry['requests']} requests), {entry['share_not_kept']:.1%} of them for "
                     "readings not kept")
    unreadable = [row for row in rows if row["status"] == "unreadable"]
    for row in unreadable[:REPORT_LIST_LIMIT]:
        lines.append(f"  unreadable: {row['source_path']}: {row['error']}")
    if len(unreadable) > REPORT_LIST_LIMIT:
        lines.append(f"  ... and {len(unreadable) - REPORT_LIST_LIMIT} more unreadable PDFs")
    unwritten = {row["doc_id"]: row["error"] for row in rows if OUTPUT_ERROR in row["reasons"]}
    for doc_id, error in list(unwritten.items())[:REPORT_LIST_LIMIT]:
        lines.append(f"  not written: {doc_id}: {error}")
    if len(unwritten) > REPORT_LIST_LIMIT:
        lines.append(f"  ... and {len(unwritten) - REPORT_LIST_LIMIT} more documents not written")
    return "\n".join(lines) + "\n"


LOW_QUALITY = 0.5  # the report counts pages read below this score
TOKENS_TITLE = "Tokens decoded"


@dataclass
class Table:
    """One part of the report: a title, columns, rows, and a line said after the rows."""

    title: str
    columns: list[str]
    rows: list[list[Any]]
    note: str = ""


def quality_by_language(rows: list[dict[str, Any]]) -> Table | None:
    """Pages read, by language: how many, their mean quality score, how many score low."""
    by_language: dict[str, list[float]] = {}
    for row in rows:
        if row["status"] in ("ok", "recovered") and row.get("quality") is not None:
            by_language.setdefault(row.get("language") or "(none)", []).append(row["quality"])
    if not by_language:
        return None
    return Table("Quality of the pages read", ["language", "pages read", "mean quality",
                                                f"below {LOW_QUALITY}"],
                 [[language, len(scores), f"{sum(scores) / len(scores):.3f}",
                   sum(1 for q in scores if q < LOW_QUALITY)]
                  for language, scores in sorted(by_language.items(), key=lambda i: -len(i[1]))],
                 f"`python -m ocrflow retry-failed --below {LOW_QUALITY}` re-reads the "
                 "low-scoring pages with the recovery engine.")


def problems(rows: list[dict[str, Any]], status: str, title: str) -> Table | None:
    """The rows of one status (unreadable PDFs, failed pages) with why, the first
    REPORT_LIST_LIMIT of them."""
    chosen = [row for row in rows if row["status"] == status]
    if not chosen:
        return None
    more = len(chosen) - REPORT_LIST_LIMIT
    return Table(f"{title} ({len(chosen)})", ["document", "page", "reasons", "error"],
                 [[row["doc_id"], row["page"] or "", ", ".join(row["reasons"]), row["error"]]
                  for row in chosen[:REPORT_LIST_LIMIT]],
                 f"... {more} more in the manifest" if more > 0 else "")


def report_tables(summary: dict[str, Any], rows: list[dict[str, Any]]) -> list[Table]:
    """The report as data: what each part says, before any rendering."""
    tables = [Table("Pages by status", ["status", "count"],
                    [[status, n] for status, n in summary["by_status"].items()],
                    f"{summary['documents']} documents, {summary['pages']} pages.")]
    if summary["engines"]:
        tables.append(Table("Engines", ["stage", "pages read", "sent by the latest jobs",
                                        "seconds", "pages/s"],
                            [[name, e["pages_read"], e["pages_sent"], e["seconds"],
                              e["pages_per_s"] or "-"]
                             for name, e in summary["engines"].items()]))
    if summary["tokens"]:
        tables.append(Table(TOKENS_TITLE, ["engine", "pages", "requests", "prompt tokens",
                                           "decoded tokens", "decoded a page",
                                           "decoded for readings not kept"],
                            [[engine, e["pages"], e["requests"], e["prompt_tokens"],
                              e["completion_tokens"], e["per_page"],
                              f"{e['share_not_kept']:.1%}"]
                             for engine, e in summary["tokens"].items()],
                            "What the model servers decoded: a GPU's time goes with these. "
                            "Not kept: the reading failed, or another engine's was taken."))
    optional = [quality_by_language(rows), problems(rows, "unreadable", "Unreadable PDFs"),
                problems(rows, "failed", "Failed pages")]
    return tables + [table for table in optional if table is not None]


GPU_HOURS_TITLE = "GPU hours"
STARTS_TITLE = "Server starts"
SLOWEST_STARTS = 10  # the server starts the report lists, slowest first


def gpu_hours_tables(config: dict[str, Any]) -> list[Table]:
    """The GPU hours section (cost.py): the plan's estimate against the OCR jobs that finished,
    and the slowest of their server starts, from their stats files. Nothing for a run with no
    OCR job on a GPU and no server start."""
    from ocrflow.core.layout import Layout
    from ocrflow.inputs import registry
    from ocrflow.results import cost

    layout = Layout.of(config["results"])
    done = cost.measured(layout, config)
    planned = registry.pages_by_shard(layout)
    est = cost.estimate(config, planned) if planned else None
    started = done.started()
    if not started and not (est and any(r.on_gpu for r in est.roles.values())):
        return []
    tables = []
    if est is not None:
        rows = [[f"{cost.RULES[c.role]} ({c.engine})", c.unit, f"{c.jobs_done} of {c.jobs_planned}",
                 round(c.hours, 2), round(c.estimated_done, 2), round(c.estimated_run, 2),
                 f"{c.start_share:.1%}" if c.jobs_done else "-", f"{c.start_share_estimated:.1%}",
                 "-" if c.pages_per_second is None else round(c.pages_per_second, 2),
                 c.assumed_pages_per_second]
                for c in cost.comparison(est, done)]
        tables.append(Table(GPU_HOURS_TITLE, [
            "stage", "counted in", "jobs done", "measured", "estimated for them",
            "estimated for the run", "starting (measured)", "starting (estimated)",
            "pages/s measured", "pages/s assumed"], rows,
            f"{cost.compare(est, done)[0]}. The estimate: the plan's pages at each engine's "
            "`pages_per_second` (per GPU) after `server_start_s`, recovery reading "
            f"`expected_failure` ({est.expected_failure:.0%}) of the primary's pages; measured: "
            "each finished job's wall seconds times its GPUs (its stats file). Pages/s measured: "
            "the pages sent over the time after the servers started."))
    if started:
        means = "; ".join(
            f"{cost.RULES[role]}: {sum(j.server_start_s for j in jobs) / len(jobs):.1f} s "
            f"over {len(jobs)} jobs"
            for role in cost.RULES if (jobs := [j for j in started if j.role == role]))
        tables.append(Table(STARTS_TITLE, [
            "stage", "shard or pool", "engine", "start s", "job s", "share of the job",
            "phases (slowest server)"],
            [[cost.RULES[j.role], j.unit, j.engine, round(j.server_start_s, 1),
              round(j.seconds, 1), f"{j.server_start_s / j.seconds:.1%}" if j.seconds else "-",
              ", ".join(f"{k.removesuffix('_s')} {v:g} s" for k, v in j.phases.items())]
             for j in started[:SLOWEST_STARTS]],
            f"The slowest {min(len(started), SLOWEST_STARTS)} of {len(started)} jobs that "
            f"started a model server: seconds before the first was ready. Mean: {means}."))
    return tables


def _text(value: Any) -> str:
    """Text ocrflow did not write (ids, paths, errors) as Markdown shows it: one line, and
    &, <, > as entities, since Markdown passes raw HTML through (``<svg onload=...>``)."""
    return html.escape(" ".join(str(value).split()), quote=False)


def _cell(value: Any) -> str:
    """A value as a Markdown table cell: text escaped, pipes too (they would end the cell)."""
    return _text(value).replace("|", "\\|")


def markdown_tables(title: str, tables: list[Table]) -> str:
    out = [f"# {_text(title)}", ""]
    for table in tables:
        out += [f"## {_text(table.title)}", "",
                "| " + " | ".join(_cell(column) for column in table.columns) + " |",
                "|" + " --- |" * len(table.columns)]
        out += ["| " + " | ".join(_cell(value) for value in row) + " |" for row in table.rows]
        out += ["", table.note, ""] if table.note else [""]
    return "\n".join(out)
