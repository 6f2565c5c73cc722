"""What the stages write about pages, and the predicates every stage reads them by."""

from __future__ import annotations

from typing import Any


def needs_recovery(verdict: dict[str, Any]) -> bool:
    """The one "page failed" predicate: its reading failed detection, recovery reads it."""
    return not verdict["ok"]


def error_line(exc: BaseException, limit: int = 500) -> str:
    """An exception as the one line a page record or a log keeps."""
    return (f"{type(exc).__name__}: {exc}".splitlines() or [""])[0][:limit]
