"""The page store: every finished page attempt, persisted the moment it is done.

One append-only JSON-lines file per (engine settings, PDF content): ``<root>/<engine>-<fingerprint>/
<hash[:2]>/<hash>.jsonl``, and the figures an engine cropped beside it (``<hash>.images/``).
Keyed by content, not by path, so a renamed or duplicated PDF is never
OCR'd twice, and keyed by the engine's fingerprint, so changed settings never reuse stale text.
A line cut short by a kill is ignored on reading, so its page is simply done again.
"""

from __future__ import annotations

import contextlib
import fcntl
import json
import os
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import Any

from ocrflow import atomic


class PageStore:
    def __init__(self, root: str | Path, engine: str, fingerprint: str) -> None:
        self.dir = Path(root) / f"{engine}-{fingerprint}"

    def _path(self, doc_hash: str, suffix: str = ".jsonl") -> Path:
        return self.dir / doc_hash[:2] / f"{doc_hash}{suffix}"

    def load(self, doc_hash: str) -> dict[int, dict[str, Any]]:
        """The latest record of each page; a page invalidated for retry is absent."""
        pages: dict[int, dict[str, Any]] = {}
        try:
            lines = self._path(doc_hash).read_text(encoding="utf-8").splitlines()
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

    def append(self, doc_hash: str, records: Iterable[dict[str, Any]]) -> None:
        path = self._path(doc_hash)
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

    def write_images(self, doc_hash: str, page: int, images: dict[str, bytes]) -> list[str]:
        """Store a page's figure files (before its record, so a record never names a missing
        file); return their paths relative to the store's root."""
        folder = self._path(doc_hash, ".images")
        paths = []
        for name, data in images.items():
            target = folder / f"p{page}-{name}"
            atomic.write_bytes(target, data)
            paths.append(target.relative_to(self.dir.parent).as_posix())
        return paths

    def flag_for_reread(self, doc_hash: str, pages: dict[int, float]) -> None:
        """Ask for pages to be read again: their record stays, marked with the quality they
        must reach (``reread_below``); detection fails them as low_quality until then."""
        stored = self.load(doc_hash)
        self.append(doc_hash, ({**stored[page], "reread_below": below}
                               for page, below in pages.items() if page in stored))

    def invalidate(self, doc_hash: str, pages: Iterable[int]) -> None:
        self.append(doc_hash, ({"page": page, "invalidated": True} for page in pages))

    @contextlib.contextmanager
    def locked(self, doc_hash: str) -> Iterator[None]:
        """Hold the document across jobs, so a PDF present twice in the corpus is OCR'd once."""
        path = self._path(doc_hash, ".lock")
        path.parent.mkdir(parents=True, exist_ok=True)
        with open(path, "a") as handle:
            fcntl.flock(handle, fcntl.LOCK_EX)
            try:
                yield
            finally:
                fcntl.flock(handle, fcntl.LOCK_UN)
