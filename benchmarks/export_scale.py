"""Cost of the SQL export at corpus scale: a results folder of N documents of P pages each, as
the workflow leaves it for the export, then three exports timed, each in a fresh process
(ocrflow.results.export.export, as the export rule and `python -m ocrflow export` call it):

1. the first export into an empty database;
2. the same again, nothing changed (every document's digest compared, nothing written);
3. after 5 % of the documents changed (as after `retry-failed`: their failed pages recovered,
   some others re-read): those documents replaced, the others left alone.

    python benchmarks/export_scale.py [--documents 2000] [--pages 50] [--url URL] [--keep]

SQLite (<results>/ocrflow.sqlite) always; PostgreSQL too with --url (a SQLAlchemy URL without
its password, e.g. postgresql+psycopg://user@host:5432/dbname; the password is read from
$OCRFLOW_DB_PASSWORD). The PostgreSQL database must not hold ocrflow's tables already (the
benchmark refuses it rather than touch them); the tables it made are dropped at the end unless
--keep, which also keeps the results folder (its path is printed).

The folder: the shard plan (work/shards.tsv, work/shards/<shard>/inputs.tsv, by plan.update on a
folder of placeholder PDFs), each shard's final page rows (pages.jsonl, PageRow records) and
texts (texts.jsonl: doc_id, page, text, in the same order, "" for a failed or no_text page, as
merge writes them), the manifest (manifest.parquet, by the manifest's own writers) and the
recorded config.yaml. Each page has about 1,000 characters of French, English or Arabic words
(a deterministic seed); about 7 % of the pages are recovered, failed or no_text; 1 % of the
documents are copies of the one before (same content hash and text: duplicate_of).

Each export's seconds are the wall time of export() in its process, the modules it imports on
its way (pyarrow, yaml) imported before the clock starts (their cost is printed once: a constant
that would blur small sizes); rows/s are page rows exported (compared, for the documents left
alone) per second; peak RSS is that process's (VmHWM), interpreter and imports included.
"""

from __future__ import annotations

import argparse
import dataclasses
import multiprocessing
import os
import random
import resource
import shutil
import sys
import tempfile
import time
from collections import Counter
from dataclasses import asdict
from pathlib import Path
from typing import Any

import sqlalchemy as sa

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from ocrflow.core import atomic  # noqa: E402
from ocrflow.core.layout import Layout  # noqa: E402
from ocrflow.core.records import PageRow, read_records, write_records  # noqa: E402
from ocrflow.inputs import corpus  # noqa: E402
from ocrflow.results import manifest  # noqa: E402
from ocrflow.results.database import (  # noqa: E402
    ExportError,
    connect_engine,
    db_error,
    documents_table,
    metadata,
    pages_table,
    resolve_target,
)
from ocrflow.results.settings import ExportSettings  # noqa: E402
from ocrflow.run import config, plan  # noqa: E402

SHARD_SIZE = 100
SEED = 20240611
CHANGED = 0.05  # share of the documents changed before the third export
PAGE_CHARS = 1000  # about, per page
COPY_EVERY = 100  # document i is a copy of document i - 1 when i % COPY_EVERY == COPY_EVERY - 1
# the pages' statuses, by cumulative share; the rest are ok
FAILED, NO_TEXT, RECOVERED = 0.015, 0.025, 0.075
LANGUAGES = [("fr", 0.55), ("en", 0.35), ("ar", 0.10)]  # documents' main language
PROVENANCE = {
    "chandra": {"engine": "chandra", "engine_version": "0.1.8", "fingerprint": "3f9a1c07d2e4",
                "model": "datalab-to/chandra", "backend": "vllm",
                "prompt_sha256": "5d0e8c1b" * 8},
    "deepseek": {"engine": "deepseek", "engine_version": "1.0", "fingerprint": "b71e09aa4c3d",
                 "model": "deepseek-ai/DeepSeek-OCR", "backend": "vllm",
                 "prompt_sha256": "9a4f2e6d" * 8},
}



def _words(text: str) -> list[str]:
    return text.split()


FRENCH = _words("""
le la les des une un du de et à en dans pour sur par avec sans sous entre
archives registre paroisse commune mairie préfecture ministère arrêté décret procès-verbal
séance conseil municipal délibération année mois jour présent rapport budget dépenses recettes
église école hôpital chemin rivière moulin propriétaire fermier cultivateur négociant notaire
témoin acte naissance mariage décès baptême inhumation célébré déclaré soussigné lecture faite
été être avoir fait dit nommé demeurant né fils fille veuve époux épouse sieur dame monsieur
général département arrondissement canton territoire frontière route impôt récolte blé vigne
""")
ENGLISH = _words("""
the of and to in for on by with from at as that this which was were been have
has had report committee meeting minutes council board annual statement account accounts
receipts expenditure parish register county borough district survey estate tenant landlord
harbour railway company shares dividend directors secretary chairman resolved motion seconded
carried letter sir madam obedient servant respectfully submitted enclosed herewith regarding
population census returns schedule inspector school hospital workhouse relief poor rates
""")
ARABIC = _words("""
في من على إلى عن مع هذا هذه التي الذي كان قد وزارة المالية الحكومة الدولة
السنة الشهر اليوم تقرير المجلس البلدي الجلسة القرار المرسوم الميزانية المصاريف الإيرادات
المدرسة المستشفى الطريق النهر الأرض المالك الشاهد عقد الزواج الولادة الوفاة المحكمة القاضي
""")
VOCABULARY = {  # a document's words: its language's, with a few Arabic (or French) ones
    "fr": FRENCH * 19 + ARABIC,
    "en": ENGLISH * 19 + ARABIC,
    "ar": ARABIC * 9 + FRENCH,
}
MEAN_WORD = {lang: sum(map(len, words)) / len(words) + 1 for lang, words in VOCABULARY.items()}


# --- the results folder -------------------------------------------------------------------

def _page_text(rng: random.Random, language: str, page: int) -> str:
    """About PAGE_CHARS characters: lines of words, a running head, a page number."""
    words = rng.choices(VOCABULARY[language],
                        k=round(rng.uniform(0.85, 1.15) * PAGE_CHARS / MEAN_WORD[language]))
    lines = [" ".join(words[i:i + 11]) for i in range(0, len(words), 11)]
    return "\n".join([f"— {page} —", *lines])


def _page(rng: random.Random, doc: corpus.Document, content_hash: str, language: str,
          page: int) -> tuple[PageRow, str]:
    """One page's final row and text, as merge writes them."""
    draw = rng.random()
    if draw < FAILED:
        return PageRow(doc.doc_id, doc.source_path, content_hash, page, "failed", None,
                       ["chandra:repetition", "deepseek:empty_output"], 0, "", 2, None, 0.0,
                       None), ""
    if draw < NO_TEXT:
        return PageRow(doc.doc_id, doc.source_path, content_hash, page, "no_text", None,
                       ["chandra:empty_output", "deepseek:empty_output"], 0, "", 2, None, None,
                       None), ""
    text = _page_text(rng, language, page)
    engine, reasons = (("deepseek", ["chandra:repetition"]) if draw < RECOVERED else
                       ("chandra", ["merge:readings_agree"] if rng.random() < 0.02 else []))
    return PageRow(doc.doc_id, doc.source_path, content_hash, page,
                   "recovered" if engine == "deepseek" else "ok", engine, reasons, len(text), "",
                   1, PROVENANCE[engine], round(rng.uniform(0.7, 0.99), 4), language), text


def _document(doc: corpus.Document, original: str, pages: int) -> tuple[list[PageRow], list[str]]:
    """A document's page rows and texts; a copy (``original`` another doc_id) has its
    original's content hash and text."""
    rng = random.Random(f"{SEED}/{original}")
    content_hash = rng.randbytes(16).hex()
    language = rng.choices([lang for lang, _ in LANGUAGES], [w for _, w in LANGUAGES])[0]
    made = [_page(rng, doc, content_hash, language, page) for page in range(1, pages + 1)]
    return [row for row, _ in made], [text for _, text in made]


def _write_shard(layout: Layout, shard: str, rows: list[PageRow], texts: list[str]) -> None:
    write_records(layout.pages(shard), rows)
    atomic.write_jsonl(layout.texts(shard), ({"doc_id": row.doc_id, "page": row.page,
                                              "text": text} for row, text in zip(rows, texts,
                                                                                  strict=True)))


def write_manifest(results: Path) -> None:
    """The manifest, as the report rule writes it from every shard's page rows."""
    layout = Layout.of(results)
    shards = corpus.existing_shards(results)
    manifest.write_parquet(manifest.collect_rows([layout.pages(s) for s in shards]),
                           layout.manifest)


def make_results(root: Path, documents: int, pages: int) -> tuple[Path, dict[str, Any]]:
    """The results folder (<root>/results) and its validated config."""
    pdfs, results = root / "pdfs", root / "results"
    for i in range(documents):  # placeholders: the plan lists and stats them, never opens them
        folder = pdfs / f"fonds{i // 500:03d}"
        if i % 500 == 0:
            folder.mkdir(parents=True)
        (folder / f"doc{i:06d}.pdf").write_bytes(b"%PDF-1.4\n")
    cfg = config.validate({"input": str(pdfs), "results": str(results),
                           "primary": {"engine": "chandra"}, "recovery": {"engine": "deepseek"},
                           "shard_size": SHARD_SIZE})
    shards = plan.update(str(pdfs), results, cfg["shard_size"])
    config.record(cfg)
    layout = Layout.of(results)
    previous = ""
    for shard in shards:
        rows: list[PageRow] = []
        texts: list[str] = []
        for doc in corpus.read_members(layout.members(shard)):
            index = int(doc.doc_id[-6:])
            copy = index % COPY_EVERY == COPY_EVERY - 1 and previous
            doc_rows, doc_texts = _document(doc, previous if copy else doc.doc_id, pages)
            rows += doc_rows
            texts += doc_texts
            previous = doc.doc_id
        _write_shard(layout, shard, rows, texts)
    write_manifest(results)
    return results, cfg


def change_documents(results: Path, share: float) -> tuple[list[str], tuple[str, int, str]]:
    """Change ``share`` of the documents as a retry-failed would: each one's failed pages
    recovered, a tenth of its other pages re-read (at least one page), its shard's pages.jsonl
    and texts.jsonl rewritten, then the manifest. Returns the documents changed and one page
    changed (doc_id, page, its new text: to check the database against)."""
    layout = Layout.of(results)
    shards = corpus.existing_shards(results)
    members = {doc.doc_id: shard for shard in shards
               for doc in corpus.read_members(layout.members(shard))}
    chosen = sorted(random.Random(SEED + 1).sample(sorted(members),
                                                   max(1, round(len(members) * share))))
    sample: tuple[str, int, str] = ("", 0, "")
    for shard in sorted({members[doc_id] for doc_id in chosen}):
        rows = read_records(layout.pages(shard), PageRow)
        texts = [line["text"] for line in atomic.read_jsonl(layout.texts(shard))]
        for doc_id in chosen:
            if members[doc_id] != shard:
                continue
            rng = random.Random(f"{SEED}/changed/{doc_id}")
            at = [i for i, row in enumerate(rows) if row.doc_id == doc_id]
            again = {i for i in at if rows[i].status == "failed" or rng.random() < 0.1}
            again = again or {rng.choice(at)}
            for i in sorted(again):
                row = rows[i]
                language = row.language or "fr"
                texts[i] = _page_text(rng, language, row.page or 0)
                rows[i] = PageRow(row.doc_id, row.source_path, row.content_hash, row.page,
                                  "ok" if row.status == "ok" else "recovered",
                                  "chandra" if row.status == "ok" else "deepseek",
                                  [*row.reasons, "retry:reread"], len(texts[i]), "",
                                  (row.attempts or 1) + 1,
                                  PROVENANCE["chandra" if row.status == "ok" else "deepseek"],
                                  round(rng.uniform(0.7, 0.99), 4), language)
                sample = (row.doc_id, row.page or 0, texts[i])
        _write_shard(layout, shard, rows, texts)
    write_manifest(results)
    return chosen, sample


# --- the exports ------------------------------------------------------------------------------

def _peak_rss() -> int:
    """This process's peak resident memory, in bytes. On Linux from /proc (VmHWM): getrusage's
    ru_maxrss of a spawned process starts at its parent's resident size at the fork (the kernel
    keeps the pre-exec high-water mark), here the generated corpus's."""
    try:
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) * 1024
    except OSError:
        pass
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return peak if sys.platform == "darwin" else peak * 1024


def _timed_export(results: str, settings: ExportSettings) -> dict[str, Any]:
    """In a fresh process: one export, its wall time and the process's peak memory."""
    from ocrflow.results.export import export

    _imports()
    started = time.perf_counter()
    result = export(Path(results), settings)
    return {**asdict(result), "wall": time.perf_counter() - started, "peak_rss": _peak_rss()}


def _imports() -> float:
    """What an export imports on its way (pyarrow for the manifest, yaml for the recorded
    config), imported before the clock starts: a constant that would blur small sizes."""
    started = time.perf_counter()
    import pyarrow.compute
    import pyarrow.parquet  # noqa: F401
    import yaml  # noqa: F401

    import ocrflow.results.export  # noqa: F401

    return time.perf_counter() - started


def _baseline() -> tuple[float, int]:
    """In a fresh process: the imports' seconds, and the peak memory after them."""
    return _imports(), _peak_rss()


def in_fresh_process(function: Any, *args: Any) -> Any:
    with multiprocessing.get_context("spawn").Pool(1) as pool:
        return pool.apply(function, args)


def _database(settings: ExportSettings, results: Path,
              sample: tuple[str, int, str] | None = None) -> dict[str, Any]:
    """What the database holds: documents, pages, its size in bytes, a page's text."""
    target = resolve_target(settings, results)
    engine = connect_engine(target)
    try:
        with engine.connect() as conn:
            facts: dict[str, Any] = {
                "documents": conn.execute(sa.select(sa.func.count())
                                          .select_from(documents_table)).scalar(),
                "pages": conn.execute(sa.select(sa.func.count())
                                      .select_from(pages_table)).scalar(),
                "copies": conn.execute(sa.select(sa.func.count()).select_from(documents_table)
                                       .where(documents_table.c.duplicate_of.is_not(None))
                                       ).scalar()}
            if sample:
                facts["sample"] = sample[2]
                facts["text"] = conn.execute(sa.select(pages_table.c.text).where(
                    pages_table.c.doc_id == sample[0], pages_table.c.page == sample[1])).scalar()
            if conn.dialect.name == "postgresql":
                sizes = " + ".join(f"pg_total_relation_size('{table.name}')"
                                   for table in metadata.sorted_tables)
                facts["size"] = conn.execute(sa.text(f"SELECT {sizes}")).scalar()
            else:
                database = Path(target.url.database or "")
                facts["size"] = sum(path.stat().st_size for path in (
                    database, database.with_name(database.name + "-journal"),
                    database.with_name(database.name + "-wal")) if path.exists())
    except sa.exc.SQLAlchemyError as exc:
        raise db_error(exc, target, "cannot read") from None
    finally:
        engine.dispose()
    return facts


def _ocrflow_tables(settings: ExportSettings, results: Path) -> list[str]:
    """ocrflow's tables already in the database (after checking that it can be reached)."""
    target = resolve_target(settings, results, "--url")
    engine = connect_engine(target)
    try:
        with engine.connect() as conn:
            present = set(sa.inspect(conn).get_table_names())
    except sa.exc.SQLAlchemyError as exc:
        raise db_error(exc, target, "cannot connect to") from None
    finally:
        engine.dispose()
    return sorted(present & {table.name for table in metadata.sorted_tables})


def _drop_tables(settings: ExportSettings, results: Path) -> None:
    target = resolve_target(settings, results, "--url")
    engine = connect_engine(target)
    try:
        with engine.connect() as conn, conn.begin():
            metadata.drop_all(conn)
    finally:
        engine.dispose()


# --- the report -------------------------------------------------------------------------------

COLUMNS = (("database", 10, "<"), ("export", 12, "<"), ("seconds", 8, ">"), ("rows/s", 9, ">"),
           ("documents written", 28, "<"), ("db pages", 9, ">"), ("db size", 9, ">"),
           ("peak RSS", 9, ">"))


def _mb(n: float) -> str:
    return f"{n / 1e6:,.1f} MB" if n >= 1e5 else f"{n / 1e3:,.1f} KB"


def _line(cells: list[str]) -> str:
    return "  ".join(f"{cell:{align}{width}}" for cell, (_, width, align) in zip(
        cells, COLUMNS, strict=True)).rstrip()


def _row(database: str, label: str, out: dict[str, Any], facts: dict[str, Any]) -> str:
    written = ", ".join(f"{out[kind]:,} {kind}" for kind in ("inserted", "updated", "deleted")
                        if out[kind]) or "none"
    return _line([database, label, f"{out['wall']:.2f}", f"{out['pages'] / out['wall']:,.0f}",
                  f"{written} ({out['unchanged']:,} unchanged)", f"{facts['pages']:,}",
                  _mb(facts["size"]), _mb(out["peak_rss"])])


def _check(out: dict[str, Any], facts: dict[str, Any], expected: dict[str, int],
           copies: int) -> None:
    """The export did what it should: its counts, and what the database holds."""
    wrong = [f"{key} {out[key]} (expected {n})" for key, n in expected.items() if out[key] != n]
    if facts["copies"] != copies:
        wrong.append(f"{facts['copies']} documents have a duplicate_of (expected {copies})")
    if facts["documents"] != out["documents"] or facts["pages"] != out["pages"]:
        wrong.append(f"the database holds {facts['documents']} documents, {facts['pages']} "
                     f"pages; the export says {out['documents']}, {out['pages']}")
    if "sample" in facts and facts["text"] != facts["sample"]:
        wrong.append("a changed page's text is not the new one")
    if wrong:
        raise SystemExit(f"export_scale: the export is wrong: {'; '.join(wrong)}")


def run(root: Path, documents: int, pages: int, url: str | None) -> None:
    started = time.perf_counter()
    results, cfg = make_results(root, documents, pages)
    layout = Layout.of(results)
    shards = corpus.existing_shards(results)
    text_bytes = sum(layout.texts(s).stat().st_size for s in shards)
    rows_bytes = sum(layout.pages(s).stat().st_size for s in shards)
    rows = [row for s in shards for row in read_records(layout.pages(s), PageRow)]
    chars = sum(row.n_chars for row in rows if row.status in ("ok", "recovered"))
    read = sum(row.status in ("ok", "recovered") for row in rows)
    statuses = Counter(row.status for row in rows)
    total = documents * pages
    print(f"{documents:,} documents x {pages} pages = {total:,} pages in {len(shards)} shards "
          f"of {SHARD_SIZE}, written in {time.perf_counter() - started:.1f} s")
    print(f"  pages: {', '.join(f'{n:,} {status}' for status, n in statuses.most_common())}; "
          f"{chars / max(read, 1):,.0f} characters per page read; "
          f"{documents // COPY_EVERY:,} documents are copies of another")
    print(f"  texts.jsonl {_mb(text_bytes)}, pages.jsonl {_mb(rows_bytes)}, manifest.parquet "
          f"{_mb(layout.manifest.stat().st_size)}")
    del rows
    seconds, rss = in_fresh_process(_baseline)
    print(f"  each export runs in a fresh process; its imports (pyarrow, yaml, SQLAlchemy, "
          f"ocrflow) take {seconds:.2f} s before the clock starts, and {_mb(rss)} of RSS\n",
          flush=True)
    databases = {"sqlite": ExportSettings.from_config(cfg["export"])}
    if url:
        databases["postgresql"] = dataclasses.replace(databases["sqlite"], url=url)
    header = _line([name for name, _, _ in COLUMNS])
    print(header + "\n" + "-" * len(header), flush=True)

    def timed(name: str, label: str, expected: dict[str, int],
              sample: tuple[str, int, str] | None = None) -> None:
        out = in_fresh_process(_timed_export, str(results), databases[name])
        facts = _database(databases[name], results, sample)
        _check(out, facts, {"documents": documents, "pages": total, **expected},
               documents // COPY_EVERY)
        print(_row(name, label, out, facts), flush=True)

    for name in databases:
        timed(name, "first", {"inserted": documents, "updated": 0, "unchanged": 0})
        timed(name, "unchanged", {"inserted": 0, "updated": 0, "unchanged": documents})
    started = time.perf_counter()
    changed, sample = change_documents(results, CHANGED)
    print(f"{'':10}  ({len(changed):,} documents changed: their shards and the manifest "
          f"rewritten in {time.perf_counter() - started:.1f} s)", flush=True)
    for name in databases:
        timed(name, f"{CHANGED:.0%} changed", {"inserted": 0, "updated": len(changed),
                                               "deleted": 0,
                                               "unchanged": documents - len(changed)}, sample)
    print("\nrows/s: page rows exported (compared, for the documents left unchanged) per "
          "second; db size: the SQLite file, or PostgreSQL's four tables with their indexes "
          "(and dead rows, until a VACUUM); peak RSS: the export's process.")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--documents", type=int, default=2000, help="default: 2000")
    parser.add_argument("--pages", type=int, default=50, help="per document; default: 50")
    parser.add_argument("--url", help="a PostgreSQL URL without its password (that is read "
                        "from $OCRFLOW_DB_PASSWORD), to time PostgreSQL too")
    parser.add_argument("--keep", action="store_true", help="keep the results folder (and "
                        "the tables made in the --url database)")
    args = parser.parse_args(argv)
    if args.documents < 1 or args.pages < 1:
        parser.error("--documents and --pages must be at least 1")
    root = Path(tempfile.mkdtemp(prefix="ocrflow-export-scale-"))
    pg = ExportSettings(enabled=True, url=args.url, password_env="OCRFLOW_DB_PASSWORD",
                        batch_size=5000) if args.url else None
    made_tables = False
    try:
        if pg:
            if not os.environ.get("OCRFLOW_DB_PASSWORD"):
                print("export_scale: note: $OCRFLOW_DB_PASSWORD is not set: connecting "
                      "without a password", file=sys.stderr)
            present = _ocrflow_tables(pg, root / "results")
            if present:
                print(f"export_scale: {args.url} already holds ocrflow's tables "
                      f"({', '.join(present)}): point --url at an empty database (the benchmark "
                      "does not touch tables it did not make)", file=sys.stderr)
                return 2
            made_tables = True
        run(root, args.documents, args.pages, args.url)
    except ExportError as exc:
        print(f"export_scale: {exc}", file=sys.stderr)
        return 2
    finally:
        if args.keep and (root / "results").exists():
            print(f"\nkept: {root / 'results'}" + (f" and ocrflow's tables in {args.url}"
                                                   if made_tables else ""))
        else:
            if pg and made_tables:
                _drop_tables(pg, root / "results")
            shutil.rmtree(root, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
