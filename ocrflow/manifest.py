"""The corpus manifest (one row per page, one per unreadable PDF), the report and its summary."""

from __future__ import annotations

import json
from collections import Counter
from pathlib import Path
from typing import Any

from ocrflow import atomic

STATUSES = ("ok", "recovered", "no_text", "failed", "unreadable")
REPORT_LIST_LIMIT = 200


def _schema() -> Any:
    import pyarrow as pa

    return pa.schema([
        ("doc_id", pa.string()), ("source_path", pa.string()), ("content_hash", pa.string()),
        ("page", pa.int32()), ("status", pa.string()), ("engine", pa.string()),
        ("reasons", pa.list_(pa.string())), ("n_chars", pa.int64()), ("error", pa.string()),
        ("duplicate_of", pa.string()), ("attempts", pa.int32()), ("provenance", pa.string()),
        ("quality", pa.float32()), ("language", pa.string()),
    ])


def collect_rows(shard_pages: list[Path]) -> list[dict[str, Any]]:
    rows = [row for path in shard_pages for row in atomic.read_jsonl(path)]
    rows.sort(key=lambda r: (r["doc_id"], r["page"] or 0))
    first_with_hash: dict[str, str] = {}
    for row in rows:
        doc_hash = row.pop("hash")
        row["content_hash"] = doc_hash
        original = first_with_hash.setdefault(doc_hash, row["doc_id"]) if doc_hash else None
        row["duplicate_of"] = original if original not in (None, row["doc_id"]) else None
        if row.get("provenance") is not None:  # one JSON column: engines record different keys
            row["provenance"] = json.dumps(row["provenance"], sort_keys=True)
    return rows


def write_parquet(rows: list[dict[str, Any]], path: Path) -> None:
    import pyarrow as pa
    import pyarrow.parquet as pq

    table = pa.Table.from_pylist(rows, schema=_schema())
    with atomic.atomic_open(path, "wb") as handle:
        pq.write_table(table, handle)


def summarize(rows: list[dict[str, Any]], stats: list[dict[str, Any]]) -> dict[str, Any]:
    by_status = Counter(row["status"] for row in rows)
    engines: dict[str, dict[str, float]] = {}
    for item in stats:
        entry = engines.setdefault(f"{item['role']} ({item['engine']})",
                                   {"pages_read": 0, "pages_sent": 0, "seconds": 0.0,
                                    "from_text_layer": 0})
        entry["pages_read"] += item.get("pages_read", item["pages_sent"])
        entry["from_text_layer"] += item.get("pages_from_text_layer", 0)
        entry["pages_sent"] += item["pages_sent"]
        entry["seconds"] += item["seconds"] if item["pages_sent"] else 0.0
    for entry in engines.values():
        entry["pages_per_s"] = round(entry["pages_sent"] / entry["seconds"], 3) \
            if entry["seconds"] else None
        entry["seconds"] = round(entry["seconds"], 2)
    return {
        "documents": len({row["doc_id"] for row in rows}),
        "pages": sum(1 for row in rows if row["page"] is not None),
        "by_status": {status: by_status.get(status, 0) for status in STATUSES},
        "engines": engines,
    }


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
    unreadable = [row for row in rows if row["status"] == "unreadable"]
    for row in unreadable[:REPORT_LIST_LIMIT]:
        lines.append(f"  unreadable: {row['source_path']}: {row['error']}")
    if len(unreadable) > REPORT_LIST_LIMIT:
        lines.append(f"  ... and {len(unreadable) - REPORT_LIST_LIMIT} more unreadable PDFs")
    return "\n".join(lines) + "\n"


LOW_QUALITY = 0.5  # the report counts pages read below this score


def quality_table(rows: list[dict[str, Any]]) -> list[str]:
    """Pages read, by language: how many, their mean quality score, how many score low."""
    read = [row for row in rows if row["status"] in ("ok", "recovered")
            and row.get("quality") is not None]
    if not read:
        return []
    by_language: dict[str, list[float]] = {}
    for row in read:
        by_language.setdefault(row.get("language") or "(none)", []).append(row["quality"])
    out = ["| language | pages read | mean quality | below " f"{LOW_QUALITY} |",
           "| --- | --- | --- | --- |"]
    for language, scores in sorted(by_language.items(), key=lambda item: -len(item[1])):
        out.append(f"| {language} | {len(scores)} | {sum(scores) / len(scores):.3f} | "
                   f"{sum(1 for q in scores if q < LOW_QUALITY)} |")
    return [*out, "", f"`python -m ocrflow retry-failed --below {LOW_QUALITY}` re-reads the "
            "low-scoring pages with the recovery engine.", ""]


def report_markdown(summary: dict[str, Any], rows: list[dict[str, Any]]) -> str:
    out = ["# ocrflow report", "", "| status | count |", "| --- | --- |"]
    out += [f"| {status} | {n} |" for status, n in summary["by_status"].items()]
    out += ["", f"{summary['documents']} documents, {summary['pages']} pages.", ""]
    if summary["engines"]:
        out += ["| stage | pages read | sent by the latest jobs | seconds | pages/s |",
                "| --- | --- | --- | --- | --- |"]
        out += [f"| {name} | {e['pages_read']} | {e['pages_sent']} | {e['seconds']} | "
                f"{e['pages_per_s'] or '-'} |" for name, e in summary["engines"].items()]
        out.append("")
    out += quality_table(rows)
    for title, status in (("Unreadable PDFs", "unreadable"), ("Failed pages", "failed")):
        chosen = [row for row in rows if row["status"] == status]
        if not chosen:
            continue
        out += [f"## {title} ({len(chosen)})", ""]
        for row in chosen[:REPORT_LIST_LIMIT]:
            where = row["doc_id"] if row["page"] is None else f"{row['doc_id']} page {row['page']}"
            why = row["error"] or ", ".join(row["reasons"])
            if row["reasons"] and row["error"]:
                why = f"{', '.join(row['reasons'])} ({row['error']})"
            out.append(f"- {where}: {why}")
        if len(chosen) > REPORT_LIST_LIMIT:
            out.append(f"- ... {len(chosen) - REPORT_LIST_LIMIT} more in the manifest")
        out.append("")
    return "\n".join(out)


def build(*, shard_pages: list[Path], stats: list[Path], manifest: Path, report: Path,
          summary_path: Path) -> str:
    rows = collect_rows(shard_pages)
    summary = summarize(rows, [json.loads(Path(p).read_text()) for p in stats])
    write_parquet(rows, manifest)
    atomic.write_text(report, report_markdown(summary, rows))
    text = summary_text(summary, rows)
    atomic.write_text(summary_path, text)
    return text
