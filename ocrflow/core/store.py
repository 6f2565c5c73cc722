"""The page store: every finished page attempt, persisted the moment it is done.

One append-only JSON-lines file per (engine settings, PDF content): ``<root>/<engine>-<fingerprint>/
<hash[:2]>/<hash>.jsonl``, locked while a job reads the document, and the figures an engine
cropped beside it (``<hash>.images/``).
Keyed by content, not by path, so a renamed or duplicated PDF is never
OCR'd twice, and keyed by the engine's fingerprint, so changed settings never reuse stale text.
A line cut short by a kill is ignored on reading, so its page is simply done again.
"""

from __future__ import annotations

import fcntl
import json
import os
import threading
from collections.abc import Iterable
from pathlib import Path
from typing import IO, Any

from ocrflow.core import atomic


class PageStore:
    def __init__(self, root: str | Path, engine: str, fingerprint: str) -> None:
        self.dir = Path(root) / f"{engine}-{fingerprint}"

    def _path(self, content_hash: str, suffix: str = ".jsonl") -> Path:
        return self.dir / content_hash[:2] / f"{content_hash}{suffix}"

    def load(self, content_hash: str) -> dict[int, dict[str, Any]]:
        """The latest record of each page; a page invalidated for retry is absent."""
        pages: dict[int, dict[str, Any]] = {}
        try:
            lines = self._path(content_hash).read_text(encoding="utf-8").splitlines()
        except FileNotFoundError:
            return pages
        for line in lines:
            try:
                record = json.loads(line)
            except json.JSONDecodeError:
                continue  # the tail of a write interrupted by a kill
            if record.get("invalidated"):
                pages.pop(record["page"], None)
            else:
                pages[record["page"]] = record
        return pages

    def append(self, content_hash: str, records: Iterable[dict[str, Any]]) -> None:
        path = self._path(content_hash)
        path.parent.mkdir(parents=True, exist_ok=True)
        with open(path, "a+b") as handle:
            if handle.tell() > 0:
                handle.seek(-1, os.SEEK_END)
                if handle.read(1) != b"\n":  # finish a line a killed writer left open
                    handle.write(b"\n")
            for record in records:
                handle.write(json.dumps(record, ensure_ascii=False).encode() + b"\n")
            handle.flush()
            os.fsync(handle.fileno())

    def write_images(self, content_hash: str, page: int, images: dict[str, bytes]) -> list[str]:
        """Store a page's figure files (before its record, so a record never names a missing
        file); return their paths relative to the store's root."""
        folder = self._path(content_hash, ".images")
        paths = []
        for name, data in images.items():
            target = folder / f"p{page}-{name}"
            atomic.write_bytes(target, data)
            paths.append(target.relative_to(self.dir.parent).as_posix())
        return paths

    def flag_for_reread(self, content_hash: str, pages: dict[int, float]) -> None:
        """Ask for pages to be read again: their record stays, marked with the quality they
        must reach (``reread_below``); detection fails them as low_quality until then."""
        stored = self.load(content_hash)
        self.append(content_hash, ({**stored[page], "reread_below": below}
                               for page, below in pages.items() if page in stored))

    def invalidate(self, content_hash: str, pages: Iterable[int]) -> None:
        self.append(content_hash, ({"page": page, "invalidated": True} for page in pages))

    def claim(self, content_hash: str, wanted: Iterable[int]) -> Claim:
        """Hold a document across jobs (so a PDF present twice in the corpus is read once) for
        the pages of ``wanted`` still pending once it is held: another job may have read them
        meanwhile. The lock is taken on the document's own file (no lock file beside it: one
        file per document and engine, however large the corpus)."""
        path = self._path(content_hash)
        path.parent.mkdir(parents=True, exist_ok=True)
        handle = open(path, "a")  # noqa: SIM115  (closed by Claim.release)
        fcntl.flock(handle, fcntl.LOCK_EX)
        stored = self.load(content_hash)
        claim = Claim(handle, [n for n in wanted if pending(stored.get(n))])
        if not claim.pages:
            claim.release()
        return claim


def pending(record: dict[str, Any] | None) -> bool:
    """A page still to read: no record, or an engine error that a later attempt may pass."""
    return record is None or bool(record.get("error") and record.get("retry"))


class Claim:
    """A document held by this job until each of its claimed pages has been recorded."""

    def __init__(self, handle: IO[str], pages: list[int]) -> None:
        self.pages = pages
        self._handle: IO[str] | None = handle
        self._open = len(pages)
        self._mutex = threading.Lock()  # pages finish in another thread than they are sent

    def page_done(self) -> None:
        with self._mutex:
            self._open -= 1
            if self._open <= 0:
                self._release()

    def release(self) -> None:
        with self._mutex:
            self._release()

    def _release(self) -> None:
        if self._handle is not None:
            fcntl.flock(self._handle, fcntl.LOCK_UN)
            self._handle.close()
            self._handle = None
