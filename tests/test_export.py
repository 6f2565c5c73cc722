"""The SQL export, checked as a user would check it: the database says what the manifest says
(every page, its status, reasons and text, every document with its counts, the unreadable PDFs
with their errors), on SQLite and on a real PostgreSQL server, after one run, twice, after a
rerun that recovered pages, after a PDF left the input, and with two exports at once; and the
database password is never shown."""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import sqlite3
import subprocess
import sys
import time
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass
from itertools import count
from pathlib import Path
from typing import TYPE_CHECKING, Any
from urllib.parse import quote

import pytest
import sqlalchemy as sa
import yaml

from ocrflow.core import atomic
from ocrflow.core.layout import Layout
from ocrflow.core.records import FinalPage
from ocrflow.inputs.corpus import existing_shards
from ocrflow.results import database as sql
from ocrflow.results import export
from ocrflow.results.merge import document_markdown
from ocrflow.results.settings import ExportSettings
from tests.conftest import EXAMPLES, REPO, Workspace

if TYPE_CHECKING:
    from tests.support.postgres import Postgres

pytest_plugins = ["tests.support.postgres"]
pytestmark = [pytest.mark.slow, pytest.mark.services]  # a real PostgreSQL server

PASSWORD_ENV = "OCRFLOW_TEST_DB_PASSWORD"
REMOVED = "scanned/harbour_minutes"  # 3 pages, all failed at first, then recovered
STATUSES = ("ok", "recovered", "no_text", "failed")
# The example corpus, from its ground truth: documents, and pages of the readable ones.
_TRUTH = [json.loads(line) for line in
          (EXAMPLES / "ground_truth.jsonl").read_text(encoding="utf-8").splitlines()]
DOCS = len({line["doc_id"] for line in _TRUTH})
PAGES = sum(1 for line in _TRUTH if line["page"] is not None)


@dataclass
class States:
    """One pipeline run per state of the corpus, each results folder kept as a copy."""

    workspace: Workspace
    first: Path  # the text layer alone: the scanned pages failed
    recovered: Path  # rerun with a recovery engine: those pages recovered
    removed: Path  # rerun after REMOVED left the input


def _snapshot(workspace: Workspace, name: str) -> Path:
    """A copy of the results folder that is a results folder of its own (its recorded config
    names it), for the export to read while the workspace goes on."""
    target = workspace.root / f"results-{name}"
    shutil.copytree(workspace.results, target)
    recorded = Layout.of(target).recorded_config
    config = yaml.safe_load(recorded.read_text())
    config["results"] = str(target)
    recorded.write_text(yaml.safe_dump(config, sort_keys=True))
    return target


@pytest.fixture(scope="module")
def states(tmp_path_factory: pytest.TempPathFactory) -> States:
    root = tmp_path_factory.mktemp("export")
    shutil.copytree(EXAMPLES / "corpus", root / "corpus")
    workspace = Workspace(root)
    workspace.config["outputs"] = ["markdown"]
    workspace.config["recovery"]["engine"] = "none"  # fast: the text layer only
    workspace.snakemake()  # the export is on by default
    first = _snapshot(workspace, "first")
    workspace.config["recovery"]["engine"] = "rapidocr"
    workspace.snakemake()
    recovered = _snapshot(workspace, "recovered")
    (root / "corpus" / f"{REMOVED}.pdf").unlink()
    workspace.snakemake()
    return States(workspace, first, recovered, _snapshot(workspace, "removed"))


@dataclass
class Database:
    url: str  # without the password
    password: str | None
    dialect: str

    def settings(self, batch_size: int = 4) -> ExportSettings:
        # a small batch: several statements per export, as a large corpus has
        return ExportSettings(enabled=True, url=self.url, password_env=PASSWORD_ENV,
                              batch_size=batch_size)

    def engine(self) -> sa.Engine:
        url = sa.make_url(self.url)
        return sa.create_engine(url.set(password=self.password) if self.password else url,
                                poolclass=sa.NullPool)

    def tables(self) -> tuple[dict[str, dict[str, Any]], dict[tuple[str, int], dict[str, Any]],
                              list[dict[str, Any]]]:
        """documents by doc_id, pages by (doc_id, page), runs in order."""
        engine = self.engine()
        with engine.connect() as conn:
            docs = [row._asdict() for row in conn.execute(sa.select(sql.documents_table))]
            pages = [row._asdict() for row in conn.execute(sa.select(sql.pages_table))]
            runs = [row._asdict() for row in conn.execute(
                sa.select(sql.runs_table).order_by(sql.runs_table.c.id))]
        engine.dispose()
        assert len({d["doc_id"] for d in docs}) == len(docs)
        assert len({(p["doc_id"], p["page"]) for p in pages}) == len(pages)
        return ({d["doc_id"]: d for d in docs}, {(p["doc_id"], p["page"]): p for p in pages},
                runs)

    def query(self, sql: str, **params: Any) -> list[tuple[Any, ...]]:
        engine = self.engine()
        with engine.connect() as conn:
            rows = [tuple(row) for row in conn.execute(sa.text(sql), params)]
        engine.dispose()
        return rows


_names = count()


@pytest.fixture(params=["sqlite", "postgresql"])
def database(request: pytest.FixtureRequest, tmp_path: Path,
             monkeypatch: pytest.MonkeyPatch) -> Database:
    """An empty database of each dialect; the password in PASSWORD_ENV."""
    if request.param == "sqlite":
        return Database(f"sqlite:///{tmp_path / 'export.sqlite'}", None, "sqlite")
    server: Postgres = request.getfixturevalue("postgres")
    monkeypatch.setenv(PASSWORD_ENV, server.password)
    return Database(server.create_database(f"export_{next(_names)}"), server.password,
                    "postgresql")


def manifest_of(results: Path) -> list[dict[str, Any]]:
    import pyarrow.parquet as pq

    return pq.read_table(Layout.of(results).manifest).to_pylist()


def assert_matches_manifest(database: Database, results: Path) -> list[dict[str, Any]]:
    """The database holds what the results folder says, nothing more: every manifest page row
    is one pages row, every document one documents row; the texts are the Markdown's."""
    documents, pages, runs = database.tables()
    manifest = manifest_of(results)
    page_rows = [row for row in manifest if row["page"] is not None]
    assert len(pages) == len(page_rows)
    for row in page_rows:
        page = pages[(row["doc_id"], row["page"])]
        for key in ("status", "engine", "reasons", "n_chars", "attempts", "language", "error"):
            assert page[key] == row[key], (row["doc_id"], row["page"], key)
        assert page["quality"] == (None if row["quality"] is None
                                   else pytest.approx(row["quality"], abs=1e-6))
        assert page["provenance"] == (json.loads(row["provenance"]) if row["provenance"]
                                      else None)
    layout = Layout.of(results)
    texts = {(line["doc_id"], line["page"]): line["text"] for shard in existing_shards(results)
             for line in atomic.read_jsonl(layout.texts(shard))}
    assert {key: page["text"] for key, page in pages.items()} == texts
    by_doc: dict[str, list[dict[str, Any]]] = {}
    for row in manifest:
        by_doc.setdefault(row["doc_id"], []).append(row)
    assert set(documents) == set(by_doc)
    for doc_id, rows in by_doc.items():
        doc = documents[doc_id]
        unreadable = rows[0]["status"] == "unreadable"
        counts = Counter(row["status"] for row in rows)
        assert doc["unreadable"] == unreadable
        assert doc["error"] == (rows[0]["error"] if unreadable else "")
        assert doc["pages"] == (0 if unreadable else len(rows))
        assert {s: doc[s] for s in STATUSES} == {s: counts.get(s, 0) for s in STATUSES}
        for key in ("source_path", "content_hash", "duplicate_of"):
            assert doc[key] == rows[0][key], (doc_id, key)
        if not unreadable:  # the pages' texts make the document's Markdown again
            finals = [FinalPage(p["page"], p["status"], reasons=p["reasons"], text=p["text"])
                      for key, p in sorted(pages.items()) if key[0] == doc_id]
            markdown = (layout.markdown / f"{doc_id}.md").read_text(encoding="utf-8")
            assert document_markdown(finals) == markdown
    assert any(doc["unreadable"] and doc["error"] for doc in documents.values())
    return runs


def assert_queries_answer(database: Database, results: Path) -> None:
    """The queries of docs/sql.md (ocrflow.results.database's) give what the manifest says."""
    manifest = manifest_of(results)
    pages = [row for row in manifest if row["page"] is not None]
    assert dict(database.query(sql.QUERIES["pages by status"])) == \
        dict(Counter(row["status"] for row in pages))
    failed = [row for row in pages if row["status"] == "failed"]
    rows = database.query(sql.QUERIES["failed pages with their reasons"])
    assert [(d, p, json.loads(r) if isinstance(r, str) else r, e) for d, p, r, e in rows] == \
        [(row["doc_id"], row["page"], row["reasons"], row["error"]) for row in failed]
    assert database.query(sql.QUERIES["the PDFs that could not be read"]) == [
        (row["doc_id"], row["source_path"], row["error"]) for row in manifest
        if row["status"] == "unreadable"]
    assert dict(database.query(sql.REASON_QUERIES[database.dialect])) == \
        dict(Counter(reason for row in failed for reason in row["reasons"]))
    doc_id = "born_digital/annual_report"
    markdown = (Layout.of(results).markdown / f"{doc_id}.md").read_text(encoding="utf-8")
    text = database.query(sql.QUERIES["the full text of a document, page by page"],
                          doc_id=doc_id)
    assert [page for page, _ in text] == [1, 2]
    assert all(body.strip() and body in markdown for _, body in text)
    for name in ("the documents with the most failed pages", "the exports so far"):
        database.query(sql.QUERIES[name])


def test_the_export_rule_writes_the_results_sqlite_database(states: States) -> None:
    """The default: the workflow's last rule writes <results>/ocrflow.sqlite, and keeps it
    right over reruns (pages recovered, a PDF removed)."""
    for results, runs, changes in (
            (states.first, 1, {"inserted": DOCS, "updated": 0, "deleted": 0}),
            (states.recovered, 2, {"inserted": 0, "updated": 6, "deleted": 0}),
            (states.removed, 3, {"inserted": 0, "updated": 0, "deleted": 1})):
        layout = Layout.of(results)
        database = Database(f"sqlite:///{layout.database}", None, "sqlite")
        assert len(assert_matches_manifest(database, results)) == runs
        receipt = json.loads(layout.export_receipt.read_text())
        assert receipt["url"] == f"sqlite:///{states.workspace.results / 'ocrflow.sqlite'}"
        assert receipt["schema_version"] == sql.SCHEMA_VERSION == 1
        assert {key: receipt[key] for key in changes} == changes
        assert receipt["pages"] == sum(1 for row in manifest_of(results) if row["page"])
    first = Database(f"sqlite:///{Layout.of(states.first).database}", None, "sqlite")
    assert_queries_answer(first, states.first)


def test_exporting_twice_rewrites_nothing(states: States, database: Database) -> None:
    first = export.export(states.first, database.settings())
    assert (first.inserted, first.updated, first.deleted, first.unchanged) == (DOCS, 0, 0, 0)
    assert first.by_status == {"ok": PAGES - 8, "recovered": 0, "no_text": 0, "failed": 8,
                               "unreadable": 1}
    assert_matches_manifest(database, states.first)
    assert_queries_answer(database, states.first)
    # a row edited by hand stays as it is: the second export writes no unchanged row
    engine = database.engine()
    with engine.begin() as conn:
        conn.execute(sa.update(sql.pages_table).values(text="edited by hand")
                     .where(sql.pages_table.c.doc_id == "born_digital/annual_report"))
    second = export.export(states.first, database.settings())
    assert (second.inserted, second.updated, second.deleted, second.unchanged) == (0, 0, 0, DOCS)
    documents, pages, runs = database.tables()
    assert {page["text"] for key, page in pages.items()
            if key[0] == "born_digital/annual_report"} == {"edited by hand"}
    assert {doc["run_id"] for doc in documents.values()} == {runs[0]["id"]}
    with engine.begin() as conn:  # the real texts back: then it is the manifest again
        conn.execute(sa.delete(sql.pages_table))
        conn.execute(sa.delete(sql.documents_table))
    engine.dispose()
    export.export(states.first, database.settings())
    runs = assert_matches_manifest(database, states.first)
    assert [(run["documents"], run["pages"], run["failed"], run["unchanged"]) for run in runs] \
        == [(DOCS, PAGES, 8, 0), (DOCS, PAGES, 8, DOCS), (DOCS, PAGES, 8, 0)]


def test_a_rerun_that_recovered_pages_updates_their_rows(states: States,
                                                         database: Database) -> None:
    export.export(states.first, database.settings())
    result = export.export(states.recovered, database.settings())
    assert (result.inserted, result.updated, result.deleted,
            result.unchanged) == (0, 6, 0, DOCS - 6)
    assert result.by_status["failed"] == 0 and result.by_status["recovered"] == 8
    runs = assert_matches_manifest(database, states.recovered)
    documents, _, _ = database.tables()
    rewritten = {doc_id for doc_id, doc in documents.items() if doc["run_id"] == runs[1]["id"]}
    assert len(rewritten) == 6 and all(documents[d]["recovered"] for d in rewritten)
    assert_queries_answer(database, states.recovered)


def test_a_pdf_removed_from_the_input_leaves_the_database(states: States,
                                                          database: Database) -> None:
    export.export(states.recovered, database.settings())
    result = export.export(states.removed, database.settings())
    assert (result.inserted, result.updated, result.deleted,
            result.unchanged) == (0, 0, 1, DOCS - 1)
    assert_matches_manifest(database, states.removed)
    documents, pages, _ = database.tables()
    assert REMOVED not in documents and not any(key[0] == REMOVED for key in pages)


def _cli(results: Path, *args: str, env: dict[str, str] | None = None,
         wait: bool = True) -> Any:
    command = [sys.executable, "-m", "ocrflow", "export", "--results", str(results), *args]
    if wait:
        return subprocess.run(command, cwd=REPO, env=env, capture_output=True, text=True,
                              timeout=120)
    return subprocess.Popen(command, cwd=REPO, env=env, stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True)


@contextlib.contextmanager
def export_lock_held(database: Database) -> Iterator[None]:
    """Hold the lock every export takes, so that the exports started meanwhile all wait for it
    and then start at the same moment."""
    if database.dialect == "sqlite":
        holder = sqlite3.connect(sa.make_url(database.url).database, isolation_level=None)
        holder.execute("BEGIN IMMEDIATE")
        try:
            yield
        finally:
            holder.execute("ROLLBACK")
            holder.close()
        return
    import psycopg

    url = sa.make_url(database.url)
    with psycopg.connect(host=url.host, port=url.port, user=url.username, dbname=url.database,
                         password=database.password, autocommit=True) as holder:
        holder.execute("SELECT pg_advisory_lock(%s)", (sql.PG_LOCK_KEY,))
        try:
            yield
        finally:
            holder.execute("SELECT pg_advisory_unlock(%s)", (sql.PG_LOCK_KEY,))


def _waiting_on_advisory_lock(database: Database) -> int:
    return database.query("SELECT COUNT(*) FROM pg_locks "
                          "WHERE locktype = 'advisory' AND NOT granted")[0][0]


def test_two_exports_at_once_leave_one_consistent_database(states: States,
                                                           database: Database) -> None:
    env = {**os.environ, "OCRFLOW_DB_PASSWORD": database.password or ""}
    with export_lock_held(database):
        exports = [_cli(states.recovered, "--url", database.url, env=env, wait=False)
                   for _ in range(2)]
        if database.dialect == "postgresql":  # the server says when both wait for the lock
            deadline = time.monotonic() + 60
            while _waiting_on_advisory_lock(database) < 2:
                assert time.monotonic() < deadline, "the two exports never waited for the lock"
                time.sleep(0.1)
        else:  # SQLite does not say: time enough for both to start and ask for the lock
            time.sleep(4)
        assert [process.poll() for process in exports] == [None, None]  # both wait
    outputs = [process.communicate(timeout=120) for process in exports]
    assert [process.returncode for process in exports] == [0, 0], outputs
    runs = assert_matches_manifest(database, states.recovered)
    assert len(runs) == 2
    assert sorted((run["inserted"], run["unchanged"]) for run in runs) == [(0, DOCS), (DOCS, 0)]
    for stdout, stderr in outputs:
        assert stdout.startswith("ocrflow export: ") and stdout.count("\n") == 1
        if database.dialect == "postgresql":
            assert "another export holds the database: waiting" in stderr


def _shown(forms: set[str], *texts: str) -> bool:
    return any(form in text for form in forms for text in texts)


def test_the_password_is_never_shown(states: States, postgres: Postgres,
                                     monkeypatch: pytest.MonkeyPatch) -> None:
    """Not by the export rule (its log, Snakemake's output and log, the receipt), nor by the
    command, even when it fails; a wrong or missing password says which variable to set."""
    workspace = states.workspace
    database = Database(postgres.create_database("from_the_rule"), postgres.password,
                        "postgresql")
    forms = {postgres.password, quote(postgres.password, safe="")}
    monkeypatch.setenv("OCRFLOW_DB_PASSWORD", postgres.password)
    workspace.config["export"] = {"url": database.url}
    run = workspace.snakemake()
    assert "Rule: export" in run.stderr and "Rule: merge" not in run.stderr  # only the export
    assert_matches_manifest(database, workspace.results)
    receipt = json.loads(Layout.of(workspace.results).export_receipt.read_text())
    assert receipt["url"] == database.url and receipt["inserted"] == DOCS - 1
    written = [path.read_text(errors="replace") for folder in
               (workspace.results / "logs", workspace.root / ".snakemake" / "log")
               for path in folder.rglob("*") if path.is_file()]
    written.append(Layout.of(workspace.results).export_receipt.read_text())
    written.append(Layout.of(workspace.results).recorded_config.read_text())
    assert any(database.url in text for text in written)  # the URL is logged, its password not
    assert not _shown(forms, run.stdout, run.stderr, *written)

    command = _cli(workspace.results)  # the command, with the password in the environment
    assert command.returncode == 0, command.stderr
    assert command.stdout.startswith(f"ocrflow export: {database.url}: {DOCS - 1} documents")
    assert not _shown(forms, command.stdout, command.stderr,
                      Layout.of(workspace.results).export_receipt.read_text())

    wrong = "wrong-" + postgres.password[::-1]
    unreachable = database.url.replace(f":{postgres.port}/", ":1/")
    env = {key: value for key, value in os.environ.items() if key != "OCRFLOW_DB_PASSWORD"}
    for args, password, expected in (
            ((), wrong, "password authentication failed"),
            ((), None, "OCRFLOW_DB_PASSWORD, named by export.password_env; it is not set"),
            (("--url", unreachable), postgres.password, "Connection refused")):
        failed = _cli(workspace.results, *args,
                      env={**env, "OCRFLOW_DB_PASSWORD": password} if password else env)
        assert failed.returncode == 2 and failed.stdout == ""
        line, = failed.stderr.splitlines()
        assert line.startswith("ocrflow: export: cannot connect to ") and expected in line
        assert "OCRFLOW_DB_PASSWORD" in line or args
        assert not _shown(forms | {wrong}, failed.stderr)


@pytest.mark.parametrize("url", ["postgresql+psycopg://ocrflow:hunter2@127.0.0.1:5432/ocrflow",
                                 "postgresql+psycopg://ocrflow@127.0.0.1/ocrflow?password=hunter2",
                                 "postgresql+psycopg://ocrflow:hun%40ter2@127.0.0.1/ocrflow"])
def test_a_url_with_a_password_is_refused(states: States, url: str) -> None:
    for args in (("--url", url), ("--config", f"export={{url: '{url}'}}")):
        refused = _cli(states.first, *args)
        assert refused.returncode == 2 and refused.stdout == ""
        line, = refused.stderr.splitlines()
        assert "export.url" in line and "OCRFLOW_DB_PASSWORD" in line and "***" in line
        assert "hunter2" not in refused.stderr and "ter2" not in refused.stderr


def test_a_database_of_another_schema_or_not_ocrflows_is_refused(states: States,
                                                                 tmp_path: Path) -> None:
    path = tmp_path / "old.sqlite"
    assert _cli(states.first, "--url", f"sqlite:///{path}").returncode == 0
    with sqlite3.connect(path) as conn:
        conn.execute("UPDATE ocrflow_schema SET version = 2")
    refused = _cli(states.first, "--url", f"sqlite:///{path}")
    assert refused.returncode == 2
    line, = refused.stderr.splitlines()
    assert "schema version 2; this ocrflow writes version 1" in line
    other = tmp_path / "other.sqlite"
    with sqlite3.connect(other) as conn:
        conn.execute("CREATE TABLE documents (id INTEGER)")
    refused = _cli(states.first, "--url", f"sqlite:///{other}")
    assert refused.returncode == 2
    assert "tables documents that ocrflow did not make" in refused.stderr
