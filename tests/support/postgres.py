"""A real PostgreSQL server for the tests (Debian's ``postgresql`` package): started in a temp
folder on a free loopback port with password (scram-sha-256) authentication, stopped at the end
whatever happened. Use the ``postgres`` fixture; each test asks it for a database of its own."""

from __future__ import annotations

import contextlib
import os
import pwd
import secrets
import shutil
import socket
import subprocess
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest


def _newest_bin() -> Path:
    """Debian installs each major version under /usr/lib/postgresql/<major>/bin."""
    found = sorted(Path("/usr/lib/postgresql").glob("*/bin/initdb"),
                   key=lambda p: int(p.parent.parent.name) if p.parent.parent.name.isdigit() else 0)
    return found[-1].parent if found else Path("/usr/lib/postgresql/15/bin")


PG_BIN = Path(os.environ.get("OCRFLOW_PG_BIN") or _newest_bin())
ROLE = "ocrflow"


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _as_owner(command: list[str]) -> list[str]:
    """PostgreSQL refuses to run as root: as root, run its tools as the postgres user."""
    if os.geteuid() == 0:
        return ["runuser", "-u", "postgres", "--", *command]
    return command


@dataclass
class Postgres:
    """A running server: ``url(db)`` names a database without the password, which only
    ``password`` holds (the export reads it from the environment)."""

    root: Path
    port: int
    password: str  # the ocrflow role's
    superuser_password: str

    def url(self, database: str) -> str:
        return f"postgresql+psycopg://{ROLE}@127.0.0.1:{self.port}/{database}"

    def create_database(self, name: str) -> str:
        """A new empty database owned by the ocrflow role; its URL."""
        import psycopg
        from psycopg import sql

        with psycopg.connect(host="127.0.0.1", port=self.port, user="postgres",
                             password=self.superuser_password, dbname="postgres",
                             autocommit=True) as conn:
            conn.execute(sql.SQL("CREATE DATABASE {} OWNER {}").format(sql.Identifier(name),
                                                                    sql.Identifier(ROLE)))
        return self.url(name)


def _run(command: list[str], log: Path) -> None:
    result = subprocess.run(_as_owner(command), capture_output=True, text=True, timeout=120)
    if result.returncode != 0:
        server_log = log.read_text(errors="replace")[-3000:] if log.exists() else ""
        raise RuntimeError(f"{' '.join(command)} failed ({result.returncode}):\n"
                           f"{result.stdout[-2000:]}\n{result.stderr[-2000:]}\n{server_log}")


def _start(root: Path, log: Path) -> Postgres:
    superuser_password = secrets.token_hex(12)
    # A password that would break a URL (":", "@", "/") and that no log line has by chance.
    password = f"pw:{secrets.token_hex(10)}@/x"
    pwfile = root / "superuser.pw"
    pwfile.write_text(superuser_password + "\n")
    data = root / "data"
    if os.geteuid() == 0:
        owner = pwd.getpwnam("postgres")
        for path in (root, pwfile):
            os.chown(path, owner.pw_uid, owner.pw_gid)
    _run([str(PG_BIN / "initdb"), "-D", str(data), "-U", "postgres", "-A", "scram-sha-256",
          f"--pwfile={pwfile}", "-E", "UTF8", "--locale=C"], log)
    for attempt in range(3):  # the free port may be taken between choosing and binding it
        port = _free_port()
        options = f"-p {port} -k {root} -c listen_addresses=127.0.0.1 -c fsync=off"
        try:
            _run([str(PG_BIN / "pg_ctl"), "-D", str(data), "-l", str(log), "-o", options,
                  "-w", "-t", "60", "start"], log)
            break
        except RuntimeError:
            if attempt == 2:
                raise
    server = Postgres(root, port, password, superuser_password)
    import psycopg
    from psycopg import sql

    with psycopg.connect(host="127.0.0.1", port=port, user="postgres",
                         password=superuser_password, dbname="postgres",
                         autocommit=True) as conn:
        conn.execute(sql.SQL("CREATE ROLE {} LOGIN PASSWORD {}").format(  # DDL: no parameters
            sql.Identifier(ROLE), sql.Literal(password)))
    return server


def _stop(root: Path, log: Path) -> None:
    if (root / "data" / "postmaster.pid").exists():
        with contextlib.suppress(RuntimeError, subprocess.TimeoutExpired):
            _run([str(PG_BIN / "pg_ctl"), "-D", str(root / "data"), "-m", "immediate", "-w",
                  "stop"], log)


@pytest.fixture(scope="module")
def postgres() -> Iterator[Postgres]:
    """A PostgreSQL server (Debian's, the newest installed) for the module's tests."""
    missing = [name for name in ("initdb", "pg_ctl") if not (PG_BIN / name).exists()]
    if missing:
        pytest.fail(f"PostgreSQL is not installed ({', '.join(missing)} not in {PG_BIN}): "
                    "apt-get install postgresql")
    # Not under pytest's tmp_path: its folders are 0700 root, which the postgres user cannot
    # enter; a short path too (the Unix socket's path must fit in 107 bytes).
    root = Path(tempfile.mkdtemp(prefix="ocrflow-pg-"))
    log = root / "server.log"
    try:
        yield _start(root, log)
    finally:
        _stop(root, log)
        shutil.rmtree(root, ignore_errors=True)
