"""Each PDF's page count, for planning shards by pages.

The plan counts the pages of the PDFs it has not seen (or that changed: size or modification
time) and keeps the counts in ``work/pages.tsv``, so a PDF is opened for this once. Opening is
PDFium's, in a child process: a PDF that hangs or crashes the library costs its own count,
which is then 0, and the inventory later says what is wrong with it. Measured here:
0.05 ms a PDF once the library is loaded, so 100,000 new PDFs cost seconds.
"""

from __future__ import annotations

import contextlib
import json
import queue
import subprocess
import sys
import threading
from collections.abc import Iterator
from pathlib import Path

from ocrflow.core import atomic
from ocrflow.inputs import corpus
from ocrflow.inputs.corpus import Document

ONE_TIMEOUT_S = 20.0  # a PDF that takes longer to open counts 0 pages (the inventory judges it)
PROGRESS_EVERY = 20_000


def count_pages(path: str) -> int:
    """Pages of one PDF, 0 when PDFium cannot open it (not a PDF, encrypted, damaged)."""
    import pypdfium2 as pdfium

    try:
        document = pdfium.PdfDocument(path)
    except (pdfium.PdfiumError, OSError, ValueError):
        return 0
    try:
        return len(document)
    finally:
        document.close()


Key = tuple[str, int, int]  # source path, size, mtime_ns: a PDF's count holds while these do


def _key(doc: Document) -> Key:
    return (doc.source_path, doc.size, doc.mtime_ns)


def read_cache(path: Path) -> dict[str, tuple[Key, int]]:
    """doc_id -> (the PDF's key when counted, pages), from ``work/pages.tsv``."""
    if not path.exists():
        return {}
    cache = {}
    for row in corpus.read_tsv(path):
        if len(row) == 5:
            doc_id, source, size, mtime_ns, pages = row
            cache[doc_id] = ((source, int(size), int(mtime_ns)), int(pages))
    return cache


def cache_text(docs: list[Document], pages: dict[str, int]) -> str:
    return corpus.tsv([[d.doc_id, d.source_path, str(d.size), str(d.mtime_ns),
                        str(pages.get(d.doc_id, 0))] for d in docs])


def write_cache(path: Path, docs: list[Document], pages: dict[str, int]) -> None:
    atomic.write_text(path, cache_text(docs, pages))


def _counted(paths: list[str]) -> Iterator[tuple[str, int]]:
    """(path, pages) for each of ``paths``, counted by a child process (``python -m
    ocrflow.inputs.page_counts``: a plain child, since the planning process is Snakemake's own and
    multiprocessing would re-import its main module). A PDF that crashes the child or takes
    longer than ONE_TIMEOUT_S counts 0, and a new child goes on with the next one."""
    left = list(paths)
    while left:
        child = subprocess.Popen([sys.executable, "-m", "ocrflow.inputs.page_counts"],
                                 stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                                 stderr=subprocess.DEVNULL, cwd=Path(__file__).parents[2])
        feeder = threading.Thread(target=_feed, args=(child, left), daemon=True)
        feeder.start()
        answers: queue.Queue[str | None] = queue.Queue()
        threading.Thread(target=_read, args=(child, answers), daemon=True).start()
        done = 0
        try:
            while done < len(left):
                try:
                    line = answers.get(timeout=ONE_TIMEOUT_S)
                except queue.Empty:
                    line = None
                if line is None:  # crashed or stalled on left[done]
                    yield left[done], 0
                    done += 1
                    break
                yield left[done], int(line)
                done += 1
        finally:
            child.kill()
            child.wait()
        left = left[done:]


def _feed(child: subprocess.Popen[bytes], paths: list[str]) -> None:
    assert child.stdin is not None
    with contextlib.suppress(OSError):
        for path in paths:
            child.stdin.write(json.dumps(path).encode() + b"\n")
        child.stdin.close()


def _read(child: subprocess.Popen[bytes], answers: queue.Queue[str | None]) -> None:
    assert child.stdout is not None
    for line in child.stdout:
        answers.put(line.decode().strip())
    answers.put(None)


def pages_of(docs: list[Document], cache: dict[str, tuple[Key, int]]) -> dict[str, int]:
    """doc_id -> pages for every document (0: unreadable as far as counting goes), opening
    only those the cache does not hold as they are now."""
    pages: dict[str, int] = {}
    todo: dict[str, list[str]] = {}  # source path -> doc_ids (a sheet may list a file twice)
    for doc in docs:
        if doc.problem:
            pages[doc.doc_id] = 0
            continue
        cached = cache.get(doc.doc_id)
        if cached and cached[0] == _key(doc):
            pages[doc.doc_id] = cached[1]
        else:
            todo.setdefault(doc.source_path, []).append(doc.doc_id)
    if todo:
        if len(todo) >= PROGRESS_EVERY:
            print(f"ocrflow plan: counting the pages of {len(todo):,} new PDFs", file=sys.stderr)
        for done, (path, count) in enumerate(_counted(list(todo)), 1):
            for doc_id in todo[path]:
                pages[doc_id] = count
            if done % PROGRESS_EVERY == 0:
                print(f"ocrflow plan: {done:,} of {len(todo):,} PDFs counted", file=sys.stderr)
    return pages


def main() -> None:
    """The child: a JSON-encoded path per line in, its page count per line out."""
    for line in sys.stdin:
        print(count_pages(json.loads(line)), flush=True)


if __name__ == "__main__":
    main()
