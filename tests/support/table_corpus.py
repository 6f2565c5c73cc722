"""The table corpus (tests/data/tables/) and how other readers' tables are scored on it.

Two parts, one folder of PDFs for ``python -m ocrflow eval --pdfs``:
- the PDFs made here (tests/data/tables/pdfs/, committed; make_corpus.py remakes them) and their
  tests (tests/data/tables/tests.jsonl: ground truth from the source tables);
- tabula-py's source distribution's PDFs (not made here, not committed: downloaded with pip on
  first use into ``table-pdfs`` beside ``OCRFLOW_PDF_CACHE``, default
  ``~/.cache/ocrflow/table-pdfs``), under ``tabula/`` in that folder, and their hand-written
  tests (tests/data/tables/tabula.jsonl).

Baselines score a library's own table output: each page written as ocrflow writes it (text, and
each table as an HTML ``<table>`` where it stands on the page), then the same checks as
``ocrflow eval`` (olmOCR-bench's ``table``, ``present``, ``order``).
"""

from __future__ import annotations

import html
import os
import shutil
import tarfile
from collections.abc import Callable
from pathlib import Path

from tests.support import real_pdfs

REPO = Path(__file__).resolve().parents[2]
TABLES = REPO / "tests" / "data" / "tables"
MADE_PDFS = TABLES / "pdfs"
MADE_TESTS = TABLES / "tests.jsonl"
TABULA_TESTS = TABLES / "tabula.jsonl"
TABULA = ("tabula-py", "2.10.0")
# the sdist's PDFs (examples/data.pdf is tests/resources/data.pdf again)
TABULA_PDFS = ("12s0324.pdf", "MultiColumn.pdf", "campaign_donors.pdf", "data.pdf",
               "data_dtype.pdf")

Page = dict[int, str]  # page number -> its text, tables as HTML


def cache_dir() -> Path:
    """Beside the real PDFs' cache, not in it: tests walk that folder's PDFs (test_headers)."""
    default = Path.home() / ".cache" / "ocrflow" / "real-pdfs"
    return Path(os.environ.get("OCRFLOW_PDF_CACHE", default)).parent / "table-pdfs"


def fetch_tabula() -> Path:
    """The folder of tabula-py's test PDFs (downloaded with pip the first time). Raises
    RuntimeError when PyPI cannot be reached."""
    name, version = TABULA
    root = cache_dir()
    folder = root / f"tabula_py-{version}-pdfs"
    if all((folder / pdf).is_file() for pdf in TABULA_PDFS):
        return folder
    archive = real_pdfs.download_sdist(name, version, root)
    tmp = root / f".tabula_py-{version}-pdfs.tmp"
    shutil.rmtree(tmp, ignore_errors=True)
    tmp.mkdir(parents=True)
    with tarfile.open(archive) as tar:
        for member in tar.getmembers():
            if member.isfile() and member.name.startswith(f"tabula_py-{version}/tests/resources/") \
                    and member.name.endswith(".pdf"):
                source = tar.extractfile(member)
                assert source is not None
                (tmp / Path(member.name).name).write_bytes(source.read())
    shutil.rmtree(folder, ignore_errors=True)
    os.replace(tmp, folder)
    return folder


def corpus_folder(target: Path, tabula: bool = True) -> Path:
    """One folder for ``--pdfs``: the made PDFs at its root, tabula-py's under ``tabula/``
    (copies: ocrflow's folder mode reads files, not links)."""
    target.mkdir(parents=True, exist_ok=True)
    for pdf in sorted(MADE_PDFS.glob("*.pdf")):
        shutil.copy2(pdf, target / pdf.name)
    if tabula:
        (target / "tabula").mkdir(exist_ok=True)
        source = fetch_tabula()
        for name in TABULA_PDFS:
            shutil.copy2(source / name, target / "tabula" / name)
    return target


# --- writing a library's tables as ocrflow writes them --------------------------------------

def _cell_html(text: str) -> str:
    return "<br>".join(html.escape(line, quote=False) for line in text.splitlines())


def html_table(rows: list[list[str | None]]) -> str:
    """Rows of cell texts (None: a slot covered by a spanning cell, as pdfplumber and camelot
    give it) as an HTML table; a cell's lines joined by <br>."""
    out = ["<table>"]
    for row in rows:
        cells = "".join(f"<td>{_cell_html(cell)}</td>" for cell in row if cell is not None)
        out.append(f"<tr>{cells}</tr>")
    out.append("</table>")
    return "\n".join(out)


def _spanned_table(table: object) -> str:
    """A pdfplumber table with its merged cells as row and column spans (from the cells'
    boxes: a cell covers every column edge and row edge inside it)."""
    texts = table.extract()  # type: ignore[attr-defined]
    rows = table.rows  # type: ignore[attr-defined]
    boxes = [(r, c, box) for r, row in enumerate(rows) for c, box in enumerate(row.cells)
             if box is not None]
    xs = sorted({round(b[0], 1) for _, _, b in boxes})
    ys = sorted({round(b[1], 1) for _, _, b in boxes})
    out = ["<table>"]
    for r, row in enumerate(rows):
        cells = []
        for c, box in enumerate(row.cells):
            if box is None or texts[r][c] is None:
                continue
            colspan = sum(box[0] - 0.5 <= x < box[2] - 0.5 for x in xs)
            rowspan = sum(box[1] - 0.5 <= y < box[3] - 0.5 for y in ys)
            attrs = (f' rowspan="{rowspan}"' if rowspan > 1 else "") + \
                (f' colspan="{colspan}"' if colspan > 1 else "")
            cells.append(f"<td{attrs}>{_cell_html(texts[r][c])}</td>")
        out.append(f"<tr>{''.join(cells)}</tr>")
    out.append("</table>")
    return "\n".join(out)


def pdfplumber_pages(pdf: Path) -> Page:
    """pdfplumber's own reading: ``page.find_tables()`` (its default settings: ruling lines) as
    HTML tables, placed among the page's other text lines by their top."""
    import pdfplumber

    pages: Page = {}
    with pdfplumber.open(pdf) as document:
        for number, page in enumerate(document.pages, 1):
            tables = page.find_tables()
            boxes = [t.bbox for t in tables]

            def outside(obj: dict[str, object], boxes: list[tuple[float, ...]] = boxes) -> bool:
                x = (float(obj["x0"]) + float(obj["x1"])) / 2  # type: ignore[arg-type]
                y = (float(obj["top"]) + float(obj["bottom"])) / 2  # type: ignore[arg-type]
                return not any(b[0] <= x <= b[2] and b[1] <= y <= b[3] for b in boxes)

            rest = page.filter(outside)
            blocks = [(float(line["top"]), str(line["text"]))
                      for line in rest.extract_text_lines()]
            blocks += [(float(t.bbox[1]), "\n" + _spanned_table(t) + "\n") for t in tables]
            pages[number] = "\n".join(text for _, text in sorted(blocks, key=lambda b: b[0]))
    return pages


def camelot_pages(pdf: Path) -> Page | None:
    """camelot's own reading (lattice: ruling lines; stream where a page has none), or None
    where camelot is not installed."""
    try:
        import camelot
        import pdfplumber
    except ImportError:
        return None
    pages: Page = {}
    with pdfplumber.open(pdf) as document:
        count = len(document.pages)
        texts = {n: p.extract_text() or "" for n, p in enumerate(document.pages, 1)}
    for number in range(1, count + 1):
        found = []
        for flavor in ("lattice", "stream"):
            try:
                tables = camelot.read_pdf(str(pdf), pages=str(number), flavor=flavor)
            except Exception:  # a page camelot cannot read scores no table
                tables = []
            found = [t.df.values.tolist() for t in tables]
            if found:
                break
        pages[number] = texts[number] + "\n\n" + "\n\n".join(html_table(t) for t in found)
    return pages


# --- scoring -----------------------------------------------------------------------------------

def load(paths: list[Path]) -> list:  # type: ignore[type-arg]
    from ocrflow.bench.spec import load_tests

    return load_tests([p for p in paths if p.exists()])


def score(tests: list, read: Callable[[Path], Page | None],  # type: ignore[type-arg]
          pdfs: Path) -> dict[str, tuple[int, int]] | None:
    """(passed, total) per test type (and "all") of a reader's pages; None where the reader
    does not run here."""
    from ocrflow.bench.scoring import CHECKS

    read_once: dict[str, Page | None] = {}
    tally: dict[str, list[int]] = {}
    for test in tests:
        if test.type not in CHECKS or test.type == "baseline":
            continue
        if test.pdf not in read_once:
            read_once[test.pdf] = read(pdfs / test.pdf)
            if read_once[test.pdf] is None:
                return None
        page = (read_once[test.pdf] or {}).get(test.page, "")
        passed, _ = CHECKS[test.type](test, page)
        for key in (test.type, "all"):
            tally.setdefault(key, [0, 0])
            tally[key][0] += passed
            tally[key][1] += 1
    return {k: (v[0], v[1]) for k, v in tally.items()}


def pipeline_tally(tests: list, pdfs: Path, results: Path,  # type: ignore[type-arg]
                   failed: set[str] | None = None) -> dict[str, tuple[int, int]]:
    """(passed, total) per test type (and "all") of a results folder, each test scored as
    ``ocrflow eval`` scores it; the failed tests' ids added to ``failed``."""
    from ocrflow.bench.scoring import Results, run_test

    read = Results(results, pdfs)
    tally: dict[str, list[int]] = {}
    for test in tests:
        outcome = run_test(test, read)
        if outcome.status == "skip":
            continue
        if outcome.status == "fail" and failed is not None:
            failed.add(test.id)
        for key in (test.type, "all"):
            tally.setdefault(key, [0, 0])
            tally[key][0] += outcome.status == "pass"
            tally[key][1] += 1
    return {k: (v[0], v[1]) for k, v in tally.items()}
