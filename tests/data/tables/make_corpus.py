"""Remake the born-digital table corpus: sources, PDFs and olmOCR-bench tests, from the tables
defined in corpus_tables.py.

    python tests/data/tables/make_corpus.py [--sources-only] [--tests-only]

Writes src/<name>.html (LibreOffice Writer, headless, turns it into a PDF) or src/<name>.tex
(pdflatex), pdfs/<name>.pdf, and tests.jsonl. The tests are computed from the table definitions
(ground truth by construction: each cell's neighbours on the source's grid), never from an
extractor's reading; the only reading done here is a check that each tested text is on the page
the tests say.

Needs LibreOffice (``soffice``), pdflatex (Debian: texlive-latex-base, texlive-latex-recommended,
texlive-fonts-recommended) and the Amiri font (fonts-hosny-amiri). Tests and CI use the committed
PDFs and need none of them.
"""

from __future__ import annotations

import argparse
import html
import json
import os
import random
import re
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent.parent.parent))  # the repository: ocrflow, and this folder
sys.path.insert(0, str(HERE))

from corpus_tables import DOCUMENTS, Cell, Document, Heading, PageBreak, Paragraph, Table  # noqa: E402

from ocrflow.bench.spec import normalize_text  # noqa: E402
from ocrflow.bench.tables import CellSpec, build_table  # noqa: E402

SOURCES = HERE / "src"
PDFS = HERE / "pdfs"
TESTS = HERE / "tests.jsonl"
TESTS_PER_TABLE = 12
FIXED_DATE = {"SOURCE_DATE_EPOCH": "1735689600", "FORCE_SOURCE_DATE": "1"}  # same bytes again
RELATIONS = ("right", "down", "left", "up", "top_heading", "left_heading")


# --- the grid ------------------------------------------------------------------------------

def placed(table: Table) -> list[list[tuple[str, Cell | None, int]]]:
    """Each row's slots: ("cell", cell, col) where a cell starts, ("above", None, col) under a
    rowspan from an earlier row, in column order (the same placement as olmOCR-bench's)."""
    rows: list[list[tuple[str, Cell | None, int]]] = []
    carried: dict[int, int] = {}  # column -> rows still covered from above
    for cells in table.rows:
        line: list[tuple[str, Cell | None, int]] = []
        queue, col = list(cells), 0
        while queue or any(c >= col for c in carried):
            if carried.get(col):
                line.append(("above", None, col))
                carried[col] -= 1
                if not carried[col]:
                    del carried[col]
                col += 1
                continue
            if not queue:
                break
            cell = queue.pop(0)
            line.append(("cell", cell, col))
            for c in range(col, col + cell.colspan):
                if cell.rowspan > 1:
                    carried[c] = cell.rowspan - 1
            col += cell.colspan
        rows.append(line)
    return rows


def width(table: Table) -> int:
    return max(sum(1 if kind == "above" else cell.colspan  # type: ignore[union-attr]
                   for kind, cell, _ in line) for line in placed(table))


# --- HTML for LibreOffice ------------------------------------------------------------------

CSS = """body { font-family: "Liberation Serif"; font-size: 11pt; }
h1, h2 { font-family: "Liberation Serif"; text-align: center; }
h1 { font-size: 14pt; } h2 { font-size: 12pt; }
.ar { font-family: "Amiri"; font-size: 13pt; }
h1.ar, h2.ar { font-family: "Amiri"; }
td, th { vertical-align: top; }
td.ar, th.ar { text-align: right; }
th { text-align: center; }
"""


_ARABIC_RUN = re.compile(
    r"[\u0600-\u06ff][\u0600-\u06ff\u00a0 .:/()-]*[\u0600-\u06ff]|[\u0600-\u06ff]")


def _has_arabic(text: str) -> bool:
    return bool(_ARABIC_RUN.search(text))


def _esc(text: str, runs: bool = False) -> str:
    """Escaped, "\\n" as <br>; with ``runs``, each Arabic run in Amiri (LibreOffice would
    take a fallback font, and embed it whole)."""
    lines = [html.escape(line, quote=False) for line in text.split("\n")]
    if runs:
        lines = [_ARABIC_RUN.sub(lambda m: f'<span class="ar" lang="ar">{m.group(0)}</span>',
                                 line) for line in lines]
    return "<br>".join(lines)


def _rtl(rtl: bool) -> str:
    return ' class="ar" dir="rtl" lang="ar"' if rtl else ""


RTL_ATTR = ' dir="rtl"'


def html_table(table: Table) -> str:
    border = ' border="1"' if table.style == "grid" else ' border="0"'
    rows = placed(table)
    last = len(rows) - 1
    out = [f'<table{border} cellpadding="4" cellspacing="0" width="{table.width_pct}%"'
           f'{RTL_ATTR if table.rtl else ""} style="border-collapse: collapse">']
    for r, line in enumerate(rows):
        out.append("<tr>")
        for kind, cell, col in line:
            if kind != "cell" or cell is None:
                continue
            tag = "th" if cell.heading else "td"
            style = []
            if table.style == "rules":  # booktabs: heavy top and bottom rules, a light one below
                if r == 0:
                    style.append("border-top: 2px solid #000")
                if cell.heading and r + cell.rowspan - 1 == table.header_rows - 1:
                    style.append("border-bottom: 1px solid #000")
                if r + cell.rowspan - 1 == last:
                    style.append("border-bottom: 2px solid #000")
            attrs = "".join([
                f' rowspan="{cell.rowspan}"' if cell.rowspan > 1 else "",
                f' colspan="{cell.colspan}"' if cell.colspan > 1 else "",
                ' class="ar"' if table.rtl else (' class="ar" dir="rtl"'
                                                  if _has_arabic(cell.text) else ""),
                f' width="{table.widths[col]}%"' if table.widths and r == 0
                and cell.colspan == 1 else "",
                f' style="{"; ".join(style)}"' if style else "",
                f' align="{cell.align}"' if cell.align else ""])
            out.append(f"<{tag}{attrs}>{_esc(cell.text)}</{tag}>")
        out.append("</tr>")
    out.append("</table>")
    return "\n".join(out)


def html_document(doc: Document) -> str:
    body: list[str] = []
    columns_open = False
    for block in doc.blocks:
        if isinstance(block, Heading):
            tag = f"h{block.level}"
            body.append(f"<{tag}{_rtl(block.rtl)}>{_esc(block.text, not block.rtl)}</{tag}>")
        elif isinstance(block, Paragraph):
            align = ' align="justify"' if block.justify else ""
            body.append(f"<p{_rtl(block.rtl)}{align}>{_esc(block.text, not block.rtl)}</p>")
        elif isinstance(block, PageBreak):
            body.append('<p style="page-break-before: always"></p>')
        elif isinstance(block, Table):
            body.append(html_table(block))
        elif block == "columns":
            body.append('<multicol cols="2" gutter="24">')
            columns_open = True
        elif block == "end columns":
            body.append("</multicol>")
            columns_open = False
    if columns_open:
        body.append("</multicol>")
    lang = "ar" if doc.lang == "ar" else "fr"
    return (f'<!DOCTYPE html>\n<html lang="{lang}"><head><meta charset="utf-8">'
            f"<title>{html.escape(doc.title)}</title>\n<style>\n{CSS}</style></head>\n<body>\n"
            + "\n".join(body) + "\n</body></html>\n")


# --- LaTeX -----------------------------------------------------------------------------------

_TEX = {"&": r"\&", "%": r"\%", "$": r"\$", "#": r"\#", "_": r"\_", "{": r"\{", "}": r"\}",
        "~": r"\textasciitilde{}", "^": r"\textasciicircum{}", "\\": r"\textbackslash{}",
        "\u00a0": "~"}


def tex_escape(text: str) -> str:
    return "".join(_TEX.get(c, c) for c in text)


def _tex_cell(cell: Cell, table: Table, col: int) -> str:
    text = r"\newline ".join(tex_escape(line) for line in cell.text.split("\n"))
    if cell.heading:
        text = r"\textbf{" + text.replace(r"\newline ", r"}\newline \textbf{") + "}"
    if cell.rowspan > 1:
        text = rf"\multirow{{{cell.rowspan}}}{{{table.multirow_width}}}{{{text}}}"
    if cell.colspan > 1 or (cell.heading and table.style != "plain" and "\n" not in cell.text
                           and cell.rowspan == 1):
        bar = "|" if table.style == "grid" else ""
        left = bar if col == 0 else ""
        align = "c" if cell.heading else "l"
        text = rf"\multicolumn{{{cell.colspan}}}{{{left}{align}{bar}}}{{{text}}}"
    return text


def _rule_below(table: Table, rows: list[list[tuple[str, Cell | None, int]]], r: int) -> str:
    """The rule under row r: the full grid's \\hline, or \\cline where a rowspan goes on."""
    if table.style == "rules":
        if r == len(rows) - 1:
            return r"\bottomrule"
        if r == table.header_rows - 1:
            return r"\midrule"
        if r < table.header_rows - 1:  # under a spanning heading: its columns only
            spans = [(col, cell.colspan) for kind, cell, col in rows[r]
                     if kind == "cell" and cell is not None and cell.colspan > 1]
            return "".join(rf"\cmidrule(lr){{{c + 1}-{c + n}}}" for c, n in spans)
        return ""
    if table.style != "grid":
        return ""
    if r == len(rows) - 1:
        return r"\hline"
    below = rows[r + 1]
    open_cols = {col for kind, _, col in below if kind == "above"}
    if not open_cols:
        return r"\hline"
    n = width(table)
    runs, start = [], None
    for c in range(n + 1):
        if c < n and c not in open_cols:
            start = c if start is None else start
        elif start is not None:
            runs.append((start, c - 1))
            start = None
    return "".join(rf"\cline{{{a + 1}-{b + 1}}}" for a, b in runs)


def tex_table(table: Table) -> str:
    rows = placed(table)
    spec = table.tex_columns or ("|" + "l|" * width(table) if table.style == "grid"
                                  else "l" * width(table))
    parts = [table.split_after] if table.split_after else []
    out = []
    start = 0
    for stop in [*parts, len(rows)]:
        out.append(r"\noindent\begin{tabular}{" + spec + "}")
        if table.style == "grid":
            out.append(r"\hline")
        elif table.style == "rules" and start == 0:
            out.append(r"\toprule")
        for r in range(start, stop):
            line = []
            for kind, cell, col in rows[r]:
                if kind == "above" or cell is None:
                    line.append("")
                else:
                    line.append(_tex_cell(cell, table, col))
            rule = _rule_below(table, rows, r) if r < stop - 1 or stop == len(rows) else (
                r"\hline" if table.style == "grid" else "")
            out.append(" & ".join(line) + r" \\" + (" " + rule if rule else ""))
        out.append(r"\end{tabular}")
        if stop != len(rows):
            out.append(r"\newpage")  # in two columns: the next column
        start = stop
    return "\n".join(out)


TEX_PREAMBLE = r"""\documentclass[10pt,a4paper{options}]{{article}}
\usepackage[utf8]{{inputenc}}
\usepackage[T1]{{fontenc}}
\usepackage{{mathptmx}} % Times (URW Nimbus): scalable, one face per weight, small PDFs
\usepackage[margin=2cm]{{geometry}}
\usepackage{{array,booktabs,multirow}}
\pagestyle{{empty}}
\pdftrailerid{{}} % no /ID from the temporary folder's name: the same PDF again
\hyphenpenalty=10000 \exhyphenpenalty=10000 % no word cut at a line end: tests quote words
\renewcommand{{\arraystretch}}{{1.25}}
\setlength{{\parskip}}{{4pt}}
\begin{{document}}
"""


def tex_document(doc: Document) -> str:
    body = []
    for block in doc.blocks:
        if isinstance(block, Heading):
            size = r"\large" if block.level == 1 else ""
            body.append(r"\begin{center}" + size + r"\bfseries " + tex_escape(block.text)
                        + r"\end{center}")
        elif isinstance(block, Paragraph):
            body.append(r"\noindent " + tex_escape(block.text) + "\n")
        elif isinstance(block, PageBreak):
            body.append(r"\newpage")
        elif block == "vfill":
            body.append(r"\vspace*{\fill}")
        elif isinstance(block, Table):
            body.append(r"\par\medskip" + ("" if doc.columns == 2 else r"\begin{center}"))
            body.append(tex_table(block))
            body.append(("" if doc.columns == 2 else r"\end{center}") + r"\par\medskip")
    options = ",twocolumn" if doc.columns == 2 else ""
    return TEX_PREAMBLE.format(options=options) + "\n".join(body) + "\n\\end{document}\n"


# --- building --------------------------------------------------------------------------------

def write_sources() -> None:
    SOURCES.mkdir(exist_ok=True)
    for doc in DOCUMENTS:
        if doc.maker == "office":
            (SOURCES / f"{doc.name}.html").write_text(html_document(doc), encoding="utf-8")
        else:
            (SOURCES / f"{doc.name}.tex").write_text(tex_document(doc), encoding="utf-8")


def make_pdfs() -> None:
    PDFS.mkdir(exist_ok=True)
    office = shutil.which("soffice") or shutil.which("libreoffice")
    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp)
        for doc in DOCUMENTS:
            if doc.maker == "office":
                if office is None:
                    raise SystemExit("LibreOffice is not installed (soffice)")
                subprocess.run([office, f"-env:UserInstallation=file://{work / 'profile'}",
                                "--headless", "--infilter=HTML (StarWriter)", "--convert-to",
                                "pdf:writer_pdf_Export", "--outdir", str(work),
                                str(SOURCES / f"{doc.name}.html")],
                               check=True, capture_output=True, timeout=300)
            else:
                for _ in range(2):  # twice: multirow and column widths settle
                    subprocess.run(["pdflatex", "-interaction=nonstopmode", "-halt-on-error",
                                    "-output-directory", str(work),
                                    str(SOURCES / f"{doc.name}.tex")],
                                   check=True, capture_output=True, timeout=300,
                                   env={**os.environ, **FIXED_DATE})
            shutil.move(work / f"{doc.name}.pdf", PDFS / f"{doc.name}.pdf")


# --- tests -----------------------------------------------------------------------------------

def _truth(text: str) -> str:
    return " ".join(text.split())


def _page_cells(doc: Document) -> dict[int, list[str]]:
    texts: dict[int, list[str]] = {}
    for page, table in doc.tables():
        texts.setdefault(page, []).extend(_truth(c.text) for row in table.rows for c in row)
    return texts


def table_tests(doc: Document) -> list[dict[str, object]]:
    tests: list[dict[str, object]] = []
    on_page = _page_cells(doc)
    for page, table in doc.tables():
        specs = [[CellSpec(_truth(c.text), c.rowspan, c.colspan, c.heading) for c in row]
                 for row in table.rows]
        grid = build_table(specs)
        assert grid is not None
        duplicates = {t for t in on_page[page] if on_page[page].count(t) > 1}
        anchors = [slot for slot, text in sorted(grid.text.items())
                   if text and text not in duplicates and len(normalize_text(text)) >= 2]
        rng = random.Random(f"{doc.name}/{table.name}")
        chosen = anchors if len(anchors) <= TESTS_PER_TABLE else sorted(
            rng.sample(anchors, TESTS_PER_TABLE))
        for k, slot in enumerate(chosen):
            relations: dict[str, str] = {}
            order = list(RELATIONS[k % len(RELATIONS):] + RELATIONS[:k % len(RELATIONS)])
            wanted = 2 if k % 3 == 2 else 1
            for relation in order:
                if relation in ("top_heading", "left_heading"):
                    direction = "up" if relation == "top_heading" else "left"
                    found = grid.heading_cells(slot, direction)
                    if relation == "top_heading" and not (found & grid.headings):
                        continue  # no heading above: nothing a heading test would say
                    # the outermost (any one passes): the one a reader finds whether or not
                    # it marks heading cells <th> (unmarked, the walk's end is the heading)
                    axis = 0 if relation == "top_heading" else 1
                    found = {min(found, key=lambda at: (at[axis], at[1 - axis]))} if found \
                        else found
                else:
                    found = grid.near[relation][slot]
                texts = sorted(t for t in (grid.text[n] for n in found) if t)
                if texts:
                    relations[relation] = texts[0]
                if len(relations) == wanted:
                    break
            if not relations:
                continue
            tests.append({"pdf": f"{doc.name}.pdf", "page": page,
                          "id": f"{doc.name}_{table.name}_{k:02d}", "type": "table",
                          "cell": grid.text[slot], **relations})
    return tests


def text_tests(doc: Document) -> list[dict[str, object]]:
    """present: a heading and a paragraph's first words; order: a heading before the paragraph
    that follows the table below it."""
    tests: list[dict[str, object]] = []
    page = 1
    last_heading: str | None = None
    seen_table = False
    for block in doc.blocks:
        if isinstance(block, PageBreak):
            page, last_heading, seen_table = page + 1, None, False
        elif isinstance(block, Table):
            seen_table = True
        elif isinstance(block, Heading | Paragraph):
            text = _truth(block.text)
            if isinstance(block, Paragraph):
                text = " ".join(text.split()[:9])
            n = len(tests)
            if block.test:
                tests.append({"pdf": f"{doc.name}.pdf", "page": page,
                              "id": f"{doc.name}_text_{n:02d}", "type": "present",
                              "text": text})
            if isinstance(block, Heading):
                last_heading = _truth(block.text)
            elif seen_table and last_heading and block.test:
                tests.append({"pdf": f"{doc.name}.pdf", "page": page,
                              "id": f"{doc.name}_order_{n:02d}", "type": "order",
                              "before": last_heading, "after": text})
                seen_table = False
    return tests


_BIDI_MARKS = dict.fromkeys([*range(0x200E, 0x2010), *range(0x202A, 0x202F),
                             *range(0x2066, 0x206A)])


def _squeezed(text: str) -> str:
    return "".join(normalize_text(text).translate(_BIDI_MARKS).split())


def check_placement(tests: list[dict[str, object]]) -> list[str]:
    """Each tested text on its page of the PDF (poppler's reading, spaces ignored): that the
    page numbers are right, not what a reader must find."""
    problems = []
    pages: dict[tuple[str, int], str] = {}
    for test in tests:
        key = (str(test["pdf"]), int(test["page"]))  # type: ignore[call-overload]
        if key not in pages:
            pages[key] = _squeezed(subprocess.run(
                ["pdftotext", "-f", str(key[1]), "-l", str(key[1]), str(PDFS / key[0]), "-"],
                capture_output=True, text=True, check=True).stdout)
        text = str(test.get("cell") or test.get("text") or test.get("after"))
        if _squeezed(text) not in pages[key]:
            problems.append(f"{test['id']}: {text!r} not on {key[0]} page {key[1]}")
    return problems


def oracle_pages(doc: Document) -> dict[int, str]:
    """The pages as a perfect reader would write them (text, tables as the design's HTML)."""
    pages: dict[int, list[str]] = {1: []}
    page = 1
    for block in doc.blocks:
        if isinstance(block, PageBreak):
            page += 1
            pages[page] = []
        elif isinstance(block, Heading | Paragraph):
            pages[page].append(_truth(block.text))
        elif isinstance(block, Table):
            rows = []
            for cells in block.rows:
                tags = []
                for c in cells:
                    tag = "th" if c.heading else "td"
                    spans = (f' rowspan="{c.rowspan}"' if c.rowspan > 1 else "") + (
                        f' colspan="{c.colspan}"' if c.colspan > 1 else "")
                    tags.append(f"<{tag}{spans}>{_esc(c.text)}</{tag}>")
                rows.append(f"<tr>{''.join(tags)}</tr>")
            direction = RTL_ATTR if block.rtl else ""
            pages[page].append(f"<table{direction}>" + "".join(rows) + "</table>")
    return {n: "\n\n".join(blocks) for n, blocks in pages.items()}


def check_oracle(tests: list[dict[str, object]]) -> list[str]:
    """Every test passes on the oracle's pages: the tests can be passed, and say what the
    sources say."""
    from ocrflow.bench.scoring import CHECKS
    from ocrflow.bench.spec import make_test

    pages = {f"{doc.name}.pdf": oracle_pages(doc) for doc in DOCUMENTS}
    failed = []
    for data in tests:
        test = make_test(data)
        ok, why = CHECKS[test.type](test, pages[test.pdf].get(test.page, ""))
        if not ok:
            failed.append(f"{test.id}: {why}")
    return failed


def write_tests() -> list[dict[str, object]]:
    tests = [t for doc in DOCUMENTS for t in (*table_tests(doc), *text_tests(doc))]
    TESTS.write_text("".join(json.dumps(t, ensure_ascii=False) + "\n" for t in tests),
                     encoding="utf-8")
    return tests


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--sources-only", action="store_true")
    parser.add_argument("--tests-only", action="store_true")
    args = parser.parse_args()
    if not args.tests_only:
        write_sources()
        if not args.sources_only:
            make_pdfs()
    tests = write_tests()
    kinds: dict[str, int] = {}
    for test in tests:
        kinds[str(test["type"])] = kinds.get(str(test["type"]), 0) + 1
    print(f"{len(DOCUMENTS)} documents, {len(tests)} tests: {kinds}")
    failed = check_oracle(tests)
    print(f"the sources' own pages pass {len(tests) - len(failed)}/{len(tests)} tests")
    for failure in failed:
        print("oracle:", failure)
    if PDFS.is_dir() and shutil.which("pdftotext"):
        for problem in check_placement(tests):
            print("placement:", problem)


if __name__ == "__main__":
    main()
