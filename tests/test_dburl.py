"""A database password written in a URL: found wherever SQLAlchemy or a driver would read it,
masked wherever the URL is shown, and refused by the export as by the config check."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from ocrflow.results import dburl
from ocrflow.results.database import ExportError, resolve_target
from ocrflow.results.settings import ExportSettings
from tests.conftest import REPO


def _settings(url: str, password_env: str = dburl.DEFAULT_PASSWORD_ENV) -> ExportSettings:
    return ExportSettings(enabled=True, url=url, password_env=password_env, batch_size=5000)


@pytest.mark.parametrize(("url", "masked", "places"), [
    ("postgresql+psycopg://u:pw@h:5432/db", "postgresql+psycopg://u:***@h:5432/db",
     ["in its user-info"]),
    ("postgresql://u:p%40ss@h/db", "postgresql://u:***@h/db", ["in its user-info"]),
    ("postgresql://:pw@h/db", "postgresql://:***@h/db", ["in its user-info"]),
    ("postgresql://u:p@ss@h/db", "postgresql://u:***@h/db", ["in its user-info"]),  # not ss@h
    ("postgresql://u:p/w?x#y@h/db", "postgresql://u:***@h/db", ["in its user-info"]),
    ("postgresql://u@h/db?password=pw", "postgresql://u@h/db?password=***",
     ["in its query parameter 'password'"]),
    ("postgresql://u@h/db?a=1&SSLPassword=pw&b=2", "postgresql://u@h/db?a=1&SSLPassword=***&b=2",
     ["in its query parameter 'SSLPassword'"]),
    ("postgresql://u@h/db?pass%77ord=pw#x", "postgresql://u@h/db?pass%77ord=***",
     ["in its query parameter 'password'"]),
    ("postgresql://u:pw@h/db?secret_key=s;auth_token=t",
     "postgresql://u:***@h/db?secret_key=***;auth_token=***",
     ["in its user-info", "in its query parameter 'secret_key'",
      "in its query parameter 'auth_token'"]),
])
def test_a_password_is_found_and_masked(url: str, masked: str, places: list[str]) -> None:
    assert dburl.mask(url) == masked
    assert dburl.password_places(url) == places
    assert dburl.mask(masked) == masked


@pytest.mark.parametrize("url", [
    "sqlite:///results/ocrflow.sqlite",
    "sqlite:////data/a:b@c/ocrflow.sqlite",  # ':' and '@' in a path are no user-info
    "postgresql+psycopg://ocrflow@db.example:5432/corpus",
    "postgresql://u@[::1]:5432/db?sslmode=require&passfile=/home/u/.pgpass",
    "postgresql://u@h/db?options=-csearch_path%3Dx&application_name=a@b",
])
def test_a_url_without_a_password_is_shown_as_written(url: str) -> None:
    assert dburl.password_places(url) == [] and dburl.mask(url) == url


@pytest.mark.parametrize("key", ["password", "PASSWORD", "sslpassword", "passwd", "pwd",
                                 "client_secret", "token", "access-token", "pass%77ord",
                                 "pass%2577ord", "pass"])
def test_secret_query_keys(key: str) -> None:
    assert dburl.is_secret_key(key)


@pytest.mark.parametrize("key", ["sslmode", "passfile", "sslkey", "user", "host", "options"])
def test_plain_query_keys(key: str) -> None:
    assert not dburl.is_secret_key(key)


@pytest.mark.parametrize("url", ["postgresql+psycopg://u:hunter2@h/db",
                                 "postgresql+psycopg://u@h/db?password=hunter2",
                                 "postgresql+psycopg://u:hun%40ter2@h/db",
                                 "nosuchdb://u:hunter2@h/db"])
def test_the_export_refuses_a_password_in_its_url(url: str, tmp_path: Path) -> None:
    with pytest.raises(ExportError) as error:
        resolve_target(_settings(url, "DB_PW"), tmp_path, "--url (export.url)")
    message = str(error.value)
    assert message.startswith("config error: --url (export.url): ") and "DB_PW" in message
    assert "***" in message and "ter2" not in message and "\n" not in message


def test_the_export_shows_its_url_masked(tmp_path: Path) -> None:
    target = resolve_target(_settings("postgresql+psycopg://u@h/db?sslmode=require"), tmp_path)
    assert target.shown == "postgresql+psycopg://u@h/db?sslmode=require"
    broken = "postgresql+psycopg://u@h:port/db?password=hunter2&x=1"
    with pytest.raises(ExportError) as error:  # refused before SQLAlchemy quotes it
        resolve_target(_settings(broken), tmp_path)
    assert "hunter2" not in str(error.value) and "password=***&x=1" in str(error.value)


def test_the_export_command_refuses_a_query_password(tmp_path: Path) -> None:
    """``python -m ocrflow export --url``: one line on stderr, naming the variable."""
    config = tmp_path / "config.yaml"
    config.write_text(f"input: {tmp_path}\nresults: {tmp_path / 'results'}\n")
    done = subprocess.run(
        [sys.executable, "-m", "ocrflow", "export", "--configfile", str(config),
         "--url", "postgresql+psycopg://u@h/db?password=hunter2"],
        cwd=tmp_path, capture_output=True, text=True, timeout=60,
        env={"PATH": "/usr/bin:/bin", "PYTHONPATH": str(REPO)})
    assert done.returncode == 2 and done.stdout == ""
    line, = done.stderr.splitlines()
    assert line.startswith("ocrflow: config error: --url (export.url): "
                           "'postgresql+psycopg://u@h/db?password=***' holds a password")
    assert "OCRFLOW_DB_PASSWORD" in line and "hunter2" not in done.stderr
