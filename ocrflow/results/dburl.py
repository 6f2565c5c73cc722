"""A database URL's secrets: where a password sits in it and the URL with it masked. The config
check of every run (and job) start imports this, so it imports no more than the standard library:
the URL is read as SQLAlchemy reads it, without SQLAlchemy."""

from __future__ import annotations

import re
from urllib.parse import unquote_plus

DEFAULT_PASSWORD_ENV = "OCRFLOW_DB_PASSWORD"
MASK = "***"
# A query key holding one of these (case, '_', '-' and percent-encoding aside) holds a secret:
# libpq's password and sslpassword, and the names drivers and proxies give tokens and keys.
SECRET_KEY_PARTS = ("password", "passwd", "passphrase", "pwd", "secret", "token", "credential",
                    "apikey", "accesskey", "privatekey")
SECRET_KEYS = ("pass",)  # too short to look for inside longer keys (passfile is a path)

_SCHEME = re.compile(r"[\w+]+://")
# SQLAlchemy's reading of the user-info (sqlalchemy.engine.url._parse_url): a user name without
# ':' or '/', then ':' and a password up to the first '@', which may hold '/', '?' or '#'.
_SA_USER_INFO = re.compile(r"[^:/]*(?::(?P<password>[^@]*))?@")
_QUERY_SEPARATOR = re.compile(r"([&;])")  # ';' too: a key after it is still shown


def _fully_unquoted(text: str) -> str:
    # Until stable: a key encoded twice is still the same key to a reader of the log.
    for _ in range(5):
        decoded = unquote_plus(text)
        if decoded == text:
            break
        text = decoded
    return text


def is_secret_key(key: str) -> bool:
    """Whether a query parameter named ``key`` (as written in the URL) holds a secret."""
    name = re.sub(r"[^a-z0-9]", "", _fully_unquoted(key).lower())
    return name in SECRET_KEYS or any(part in name for part in SECRET_KEY_PARTS)


def _password_span(url: str) -> tuple[int, int] | None:
    """Where the user-info password is, as SQLAlchemy reads it or as a URL parser does
    (the user-info ends at the last '@' before the first '/', '?' or '#'), whichever is
    wider: ``u:p@ss@host`` is a password of ``p@ss`` to the one, of ``p`` to the other."""
    scheme = _SCHEME.match(url)
    start = scheme.end() if scheme else 0
    spans = []
    if (match := _SA_USER_INFO.match(url, start)) and match.group("password") is not None:
        spans.append(match.span("password"))
    authority = re.split(r"[/?#]", url[start:], maxsplit=1)[0]
    user_info = authority.rpartition("@")[0]
    if ":" in user_info:
        spans.append((start + user_info.index(":") + 1, start + len(user_info)))
    if not spans:
        return None
    return min(span[0] for span in spans), max(span[1] for span in spans)


def _query_start(url: str) -> int | None:
    """Where the query begins (after its '?'): the first '?' after the user-info."""
    span = _password_span(url)
    scheme = _SCHEME.match(url)
    after = span[1] if span else (scheme.end() if scheme else 0)
    mark = url.find("?", after)
    return None if mark < 0 else mark + 1


def _secret_keys(query: str) -> list[str]:
    pieces = _QUERY_SEPARATOR.split(query)[::2]
    return [_fully_unquoted(piece.partition("=")[0]) for piece in pieces
            if is_secret_key(piece.partition("=")[0])]


def password_places(url: str) -> list[str]:
    """Where ``url`` holds a password, in words; empty when it holds none."""
    places = []
    if _password_span(url) is not None:
        places.append("in its user-info")
    start = _query_start(url)
    keys = _secret_keys(url[start:]) if start is not None else []
    places += [f"in its query parameter {key!r}" for key in keys]
    return places


def _masked_query(query: str) -> str:
    parts = _QUERY_SEPARATOR.split(query)
    for index in range(0, len(parts), 2):
        key, sep, _value = parts[index].partition("=")
        if sep and is_secret_key(key):
            parts[index] = f"{key}={MASK}"
    return "".join(parts)


def mask(url: str) -> str:
    """``url`` as it may be printed, logged and recorded: the user-info password and the value
    of every query parameter holding a secret replaced by ``***``."""
    span = _password_span(url)
    if span is not None:
        url = url[:span[0]] + MASK + url[span[1]:]
    start = _query_start(url)
    return url if start is None else url[:start] + _masked_query(url[start:])


def refusal(url: str, url_key: str, password_env: str | None) -> str | None:
    """The one line refusing ``url`` when it holds a password, naming where it goes instead;
    None when it holds none."""
    places = password_places(url)
    if not places:
        return None
    variable = password_env or DEFAULT_PASSWORD_ENV
    return (f"config error: {url_key}: {mask(url)!r} holds a password ({', '.join(places)}): "
            f"remove it and put the password in the environment variable {variable} "
            "(named by export.password_env) instead: a URL is printed and recorded, "
            "the variable is not")

