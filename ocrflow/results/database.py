"""The SQL database of the export: where it is (a URL and a password from the environment), how
to connect and lock it, and its versioned tables. SQLAlchemy Core: one code path for SQLite and
PostgreSQL.

Tables (schema version ``SCHEMA_VERSION``, kept in ``ocrflow_schema``):

- ``documents``: one row per PDF: ``doc_id`` (key), ``source_path``, ``content_hash``, ``pages``,
  a count per page status (``ok``, ``recovered``, ``no_text``, ``failed``), ``unreadable``,
  ``duplicate_of``, ``error``, ``digest`` (of everything exported about the document: an
  unchanged document is not rewritten) and ``run_id`` (the export that last wrote it).
- ``pages``: one row per page of a readable PDF, key (``doc_id``, ``page``): ``status``,
  ``engine``, ``reasons`` (JSON list), ``text``, ``n_chars``, ``attempts``, ``quality``,
  ``language``, ``provenance`` (JSON), ``error``.
- ``runs``: one row per export: ``exported_at``, ``config_hash`` (sha256 of the run's recorded
  ``config.yaml``), ``engines``, documents, pages, counts by status, documents ``inserted``,
  ``updated``, ``deleted``, ``unchanged``, ``schema_version``.

The queries users run (docs/sql.md) are ``QUERIES`` and ``REASON_QUERIES``.
"""

from __future__ import annotations

import logging
import os
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import quote

import sqlalchemy as sa
from sqlalchemy.engine import URL, Connection, Engine, make_url

from ocrflow.core.errors import OcrflowError
from ocrflow.core.layout import Layout
from ocrflow.results import dburl
from ocrflow.results.settings import ExportSettings

SCHEMA_VERSION = 1
PAGE_STATUSES = ("ok", "recovered", "no_text", "failed")
# Any fixed 64-bit number: the key of PostgreSQL's advisory lock that serialises exports.
PG_LOCK_KEY = 0x6F6372666C6F77  # "ocrflow"
# SQLite's busy timeout: a second export waits this long for the first one's lock.
SQLITE_LOCK_WAIT_S = 3600.0
PG_CONNECT_TIMEOUT_S = 10
log = logging.getLogger("ocrflow.results.export")

# The queries users run (docs/sql.md); the same SQL on SQLite and PostgreSQL, but
# for unnesting the JSON list of reasons, which each dialect does its own way.
QUERIES = {
    "pages by status":
        "SELECT status, COUNT(*) AS pages FROM pages GROUP BY status ORDER BY status",
    "failed pages with their reasons":
        "SELECT doc_id, page, reasons, error FROM pages WHERE status = 'failed' "
        "ORDER BY doc_id, page",
    "the PDFs that could not be read":
        "SELECT doc_id, source_path, error FROM documents WHERE unreadable ORDER BY doc_id",
    "the full text of a document, page by page":
        "SELECT page, text FROM pages WHERE doc_id = :doc_id ORDER BY page",
    "the documents with the most failed pages":
        "SELECT doc_id, pages, failed FROM documents WHERE failed > 0 "
        "ORDER BY failed DESC, doc_id LIMIT 20",
    "the exports so far":
        "SELECT id, exported_at, documents, pages, ok, recovered, no_text, failed, unreadable, "
        "inserted, updated, deleted FROM runs ORDER BY id",
}
REASON_QUERIES = {  # failed pages by reason
    "sqlite": "SELECT reason.value AS reason, COUNT(*) AS pages "
              "FROM pages, json_each(pages.reasons) AS reason WHERE status = 'failed' "
              "GROUP BY reason.value ORDER BY pages DESC, reason",
    "postgresql": "SELECT reason, COUNT(*) AS pages "
                  "FROM pages, json_array_elements_text(pages.reasons) AS reason "
                  "WHERE status = 'failed' GROUP BY reason ORDER BY pages DESC, reason",
}

metadata = sa.MetaData()
schema_table = sa.Table("ocrflow_schema", metadata,
                        sa.Column("version", sa.Integer, primary_key=True, autoincrement=False))
documents_table = sa.Table(
    "documents", metadata,
    sa.Column("doc_id", sa.String, primary_key=True),
    sa.Column("source_path", sa.Text, nullable=False),
    sa.Column("content_hash", sa.String(64)),
    sa.Column("pages", sa.Integer, nullable=False),
    *(sa.Column(status, sa.Integer, nullable=False) for status in PAGE_STATUSES),
    sa.Column("unreadable", sa.Boolean, nullable=False),
    sa.Column("duplicate_of", sa.String),
    sa.Column("error", sa.Text, nullable=False),
    sa.Column("digest", sa.String(64), nullable=False),
    sa.Column("run_id", sa.Integer, nullable=False),
)
pages_table = sa.Table(
    "pages", metadata,
    sa.Column("doc_id", sa.String, sa.ForeignKey("documents.doc_id"), primary_key=True),
    sa.Column("page", sa.Integer, primary_key=True, autoincrement=False),
    sa.Column("status", sa.String(16), nullable=False, index=True),
    sa.Column("engine", sa.String(64)),
    sa.Column("reasons", sa.JSON, nullable=False),
    sa.Column("text", sa.Text, nullable=False),
    sa.Column("n_chars", sa.Integer, nullable=False),
    sa.Column("attempts", sa.Integer),
    sa.Column("quality", sa.Float),
    sa.Column("language", sa.String(16)),
    sa.Column("provenance", sa.JSON(none_as_null=True)),  # None: SQL NULL, not JSON null
    sa.Column("error", sa.Text, nullable=False),
)
runs_table = sa.Table(
    "runs", metadata,
    sa.Column("id", sa.Integer, primary_key=True),
    sa.Column("exported_at", sa.DateTime(timezone=True), nullable=False),
    sa.Column("config_hash", sa.String(64)),
    sa.Column("engines", sa.JSON(none_as_null=True)),
    *(sa.Column(name, sa.Integer) for name in (
        "documents", "pages", *PAGE_STATUSES, "unreadable",
        "inserted", "updated", "deleted", "unchanged")),
    sa.Column("schema_version", sa.Integer, nullable=False),
)



class ExportError(OcrflowError):
    """One line for the user: what is wrong, naming the config key or variable to change."""

    exit_status = 2



@dataclass
class Target:
    url: URL  # with the password, to connect with
    shown: str  # without it or any secret query parameter: what is printed, logged, written
    password: str | None
    password_env: str | None
    url_key: str  # what the user changes: export.url or --url


def resolve_target(settings: ExportSettings, results: Path, url_key: str = "export.url",
                   environ: dict[str, str] | None = None) -> Target:
    """The database to write: ``settings.url``, or SQLite in the results folder. A password
    written in the URL (user-info or query) is refused (it would end up in configs, logs and
    receipts); it comes from the variable ``settings.password_env`` names."""
    environ = dict(os.environ if environ is None else environ)
    env_name = settings.password_env or None
    raw = settings.url
    if raw and (problem := dburl.refusal(str(raw), url_key, env_name)):
        raise ExportError(problem)  # before parsing: no error of SQLAlchemy's quotes the URL
    if not raw:
        url = URL.create("sqlite", database=str(Layout.of(results).database.resolve()))
    else:
        try:
            url = make_url(raw)
            url.get_dialect()  # an unknown dialect or missing driver fails here, not mid-way
        except (sa.exc.ArgumentError, sa.exc.NoSuchModuleError) as exc:
            shown = dburl.mask(str(raw))
            raise ExportError(f"config error: {url_key}: {shown!r} is not a database URL "
                              "SQLAlchemy can use (sqlite:///path.db or "
                              f"postgresql+psycopg://user@host:5432/dbname): "
                              f"{_first_line(exc)}") from None
    if url.password is not None:  # should SQLAlchemy ever read a password dburl did not see
        raise ExportError(f"config error: {url_key}: remove the password from the URL and put "
                          f"it in the environment variable "
                          f"{env_name or dburl.DEFAULT_PASSWORD_ENV} (export.password_env): a "
                          "URL is printed and recorded, the variable is not")
    shown = dburl.mask(url.render_as_string(hide_password=True))
    password = environ.get(env_name) if env_name and url.get_backend_name() != "sqlite" else None
    if password:
        url = url.set(password=password)
    return Target(url, shown, password or None, env_name, url_key)


def _first_line(exc: BaseException) -> str:
    return (str(exc).strip().splitlines() or [type(exc).__name__])[0]


def db_error(exc: BaseException, target: Target, doing: str) -> ExportError:
    """A driver's error as one line that cannot carry the password: the DBAPI's own message
    (not SQLAlchemy's, which appends statements), with the password masked should a driver
    ever echo it."""
    message = _first_line(getattr(exc, "orig", None) or exc)
    if target.password:
        for form in {target.password, quote(target.password, safe="")}:
            message = message.replace(form, "***")
    hint = ""
    if (target.url.get_backend_name() != "sqlite"
            and re.search(r"password|authentication", message, re.IGNORECASE)):
        variable = target.password_env or "(none: export.password_env is empty)"
        hint = (f" (the password is read from the environment variable {variable}, named "
                f"by export.password_env; it is {'set' if target.password else 'not set'})")
    return ExportError(f"export: {doing} {target.shown} ({target.url_key}): {message}{hint}")


def connect_engine(target: Target) -> Engine:
    # hide_parameters: an error never quotes page texts; NullPool: one connection, closed after
    if target.url.get_backend_name() == "sqlite":
        engine = sa.create_engine(target.url, hide_parameters=True, poolclass=sa.NullPool,
                                  connect_args={"timeout": SQLITE_LOCK_WAIT_S})

        # SQLAlchemy's documented pysqlite recipe: the driver emits no BEGIN of its own, we
        # emit BEGIN IMMEDIATE, which takes the write lock at once (waiting up to the busy
        # timeout): two exports never interleave, and DDL is inside the transaction.
        @sa.event.listens_for(engine, "connect")
        def _no_driver_begin(dbapi_connection: Any, _record: Any) -> None:
            dbapi_connection.isolation_level = None

        @sa.event.listens_for(engine, "begin")
        def _begin_immediate(conn: Connection) -> None:
            conn.exec_driver_sql("BEGIN IMMEDIATE")

        return engine
    connect_args: dict[str, Any] = {}
    if target.url.get_backend_name() == "postgresql":
        connect_args = {"connect_timeout": PG_CONNECT_TIMEOUT_S,
                        "application_name": "ocrflow export"}
    return sa.create_engine(target.url, hide_parameters=True, poolclass=sa.NullPool,
                            connect_args=connect_args)


def lock(conn: Connection) -> None:
    """The exclusive lock of an export, held until its transaction ends (SQLite: taken by
    BEGIN IMMEDIATE). On PostgreSQL it is taken before the tables are made: CREATE TABLE is
    transactional there, and two exports creating them at once would otherwise collide."""
    if conn.dialect.name != "postgresql":
        return
    if not conn.execute(sa.select(sa.func.pg_try_advisory_xact_lock(PG_LOCK_KEY))).scalar():
        log.info("another export holds the database: waiting for it to finish")
        conn.execute(sa.select(sa.func.pg_advisory_xact_lock(PG_LOCK_KEY)))


def prepare_schema(conn: Connection, target: Target) -> None:
    """Make the tables in an empty database; refuse one of another schema version, or one
    whose tables of the same names ocrflow did not make."""
    present = set(sa.inspect(conn).get_table_names())
    if schema_table.name in present:
        version = conn.execute(sa.select(sa.func.max(schema_table.c.version))).scalar()
        if version != SCHEMA_VERSION:
            raise ExportError(
                f"export: {target.shown} ({target.url_key}) holds ocrflow's tables at schema "
                f"version {version}; this ocrflow writes version {SCHEMA_VERSION}: export to "
                "a new database, or drop its tables documents, pages, runs and ocrflow_schema")
        return
    clash = sorted(present & {table.name for table in metadata.sorted_tables})
    if clash:
        raise ExportError(f"export: {target.shown} ({target.url_key}) already has tables "
                          f"{', '.join(clash)} that ocrflow did not make (no ocrflow_schema "
                          "table): export to another database")
    metadata.create_all(conn)
    conn.execute(sa.insert(schema_table).values(version=SCHEMA_VERSION))
