"""A scanned page's ruled tables come out of the tesseract engine as HTML tables (the GPU
engines' shape): cells where the grid puts them, merged cells as spans, an Arabic table right
to left; the text around them as before."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from PIL import Image, ImageDraw

from ocrflow.bench.spec import make_test
from ocrflow.bench.tables import html_tables, table_test
from ocrflow.engines import PageOutput
from ocrflow.inputs.structure.grid import find_grids
from tests.support import pdfs
from tests.test_tesseract import FRENCH, read, scanned

Cell = tuple[str, int, int]  # text, rowspan, colspan; rows as written (an Arabic one: right first)

FRENCH_TABLE: list[list[Cell]] = [
    [("Grade", 1, 1), ("Échelon", 1, 1), ("Indice", 1, 1), ("Traitement", 1, 1)],
    [("Administrateur", 2, 1), ("premier", 1, 1), ("336", 1, 1), ("4 120,00", 1, 1)],
    [("deuxième", 1, 1), ("353", 1, 1), ("4 380,50", 1, 1)],
    [("Ingénieur d'État", 1, 1), ("troisième", 1, 1), ("402", 1, 1), ("5 215,75", 1, 1)],
    [("Total des traitements", 1, 3), ("13 716,25", 1, 1)],
]
FRENCH_BEFORE = ["Arrêté du ministre de l'économie et des finances fixant les traitements",
                 "des fonctionnaires des administrations publiques pour l'année 2024 :"]
FRENCH_AFTER = ["Le présent arrêté sera publié au Bulletin officiel.",
                "Fait à Rabat, le 12 février 2024."]
ARABIC_TABLE: list[list[Cell]] = [
    [("الإطار", 1, 1), ("الرتبة", 1, 1), ("الرقم الاستدلالي", 1, 1)],
    [("متصرف", 2, 1), ("الأولى", 1, 1), ("336", 1, 1)],
    [("الثانية", 1, 1), ("353", 1, 1)],
    [("مهندس", 1, 1), ("الثالثة", 1, 1), ("402", 1, 1)],
    [("المجموع", 1, 2), ("1091", 1, 1)],
]
ARABIC_BEFORE = ["قرار لوزير الاقتصاد والمالية بتحديد الأرقام الاستدلالية",
                 "لموظفي الإدارات العمومية برسم سنة 2024:"]
ARABIC_AFTER = ["ينشر هذا القرار بالجريدة الرسمية."]


def _slots(rows: list[list[Cell]]) -> list[tuple[Cell, int, int]]:
    """Each cell with the row and column it starts at (spans from above take their slots)."""
    taken: set[tuple[int, int]] = set()
    placed = []
    for r, row in enumerate(rows):
        c = 0
        for cell in row:
            while (r, c) in taken:
                c += 1
            placed.append((cell, r, c))
            taken |= {(r + dr, c + dc) for dr in range(cell[1]) for dc in range(cell[2])}
            c += cell[2]
    return placed


def table_pdf(before: list[str], rows: list[list[Cell]], widths: list[float],
              after: list[str], rtl: bool = False) -> bytes:
    """An A4 page: lines of text, a table ruled around every cell (its columns drawn from the
    right for ``rtl``), lines of text; shaped with HarfBuzz in the Amiri font (fpdf2)."""
    from fpdf import FPDF

    pdf = FPDF(format="A4")
    pdf.set_auto_page_break(False)
    pdf.add_page()
    pdf.add_font("Amiri", fname=str(pdfs.amiri()))
    pdf.set_font("Amiri", size=12)
    if rtl:
        pdf.set_text_shaping(True, direction="rtl", script="arab", language="ara")
    else:
        pdf.set_text_shaping(True)
    align = "R" if rtl else "L"
    y = 25.0
    for line in before:
        pdf.set_xy(20, y)
        pdf.cell(170, 7, line, align=align)
        y += 8
    y += 6
    left, height, edges = 25.0, 10.0, [0.0]
    for width in widths:
        edges.append(edges[-1] + width)
    pdf.set_line_width(0.4)
    for (text, rowspan, colspan), r, c in _slots(rows):
        x0, x1 = edges[c], edges[c + colspan]
        if rtl:
            x0, x1 = edges[-1] - x1, edges[-1] - x0
        top = y + r * height
        pdf.rect(left + x0, top, x1 - x0, rowspan * height)
        pdf.set_xy(left + x0 + 1.5, top)
        pdf.cell(x1 - x0 - 3, rowspan * height, text, align=align)
    y += len(rows) * height + 8
    for line in after:
        pdf.set_xy(20, y)
        pdf.cell(170, 7, line, align=align)
        y += 8
    return bytes(pdf.output())


def check(page: str, cell: str, **relations: str) -> None:
    """olmOCR-bench's table test: the cell is in a table, with these neighbours."""
    test = make_test({"pdf": "x.pdf", "page": 1, "id": "t", "type": "table", "cell": cell,
                      "max_diffs": 1, **relations})
    passed, why = table_test(test, page)
    assert passed, f"{cell}: {why}\n{page}"


@pytest.fixture(scope="module")
def french(tmp_path_factory: pytest.TempPathFactory) -> PageOutput:
    pdf = table_pdf(FRENCH_BEFORE, FRENCH_TABLE, [45, 35, 25, 35], FRENCH_AFTER)
    return read(tmp_path_factory.mktemp("fr"), scanned(pdf, seed=1))


def test_a_scanned_french_table_is_an_html_table_with_its_spans(french: PageOutput) -> None:
    text = french.text
    [table] = html_tables(text)
    assert len(table.text) == 17  # 5 rows x 4 columns, less the 3 slots the spans cover
    assert french.meta["grid_tables"] == 1
    check(text, "Indice", left="Échelon", right="Traitement", down="336")
    check(text, "4 120,00", top_heading="Traitement", left="336")
    check(text, "premier", left="Administrateur", top_heading="Échelon")
    check(text, "deuxième", left="Administrateur", up="premier")  # through the rowspan
    check(text, "5 215,75", up="4 380,50", down="13 716,25", left="402")
    check(text, "Total des traitements", right="13 716,25", up="troisième")
    assert '<td rowspan="2">Administrateur</td>' in text
    assert '<td colspan="3">Total des traitements</td>' in text
    assert text.count("<th>") == 4 and "|" not in text


def test_the_text_around_a_table_stays_in_reading_order(french: PageOutput) -> None:
    text = french.text
    at = [text.index(part) for part in ("fixant les traitements", "<table>", "</table>",
                                        "Bulletin officiel", "12 février 2024")]
    assert at == sorted(at), text
    table = text[text.index("<table>"):text.index("</table>")]
    assert not any(word in table for word in ("Arrêté", "Bulletin"))
    # the table's lines of the page's own reading are gone: each cell once
    assert text.count("Administrateur") == 1 and text.count("13 716,25") == 1
    assert "\n\n<table>" in text and "</table>\n\n" in text


def test_an_arabic_table_reads_right_to_left(tmp_path: Path) -> None:
    pdf = table_pdf(ARABIC_BEFORE, ARABIC_TABLE, [40, 35, 45], ARABIC_AFTER, rtl=True)
    output = read(tmp_path, scanned(pdf, seed=2))
    text = output.text
    assert '<table dir="rtl">' in text, text
    [table] = html_tables(text)
    assert len(table.text) == 13
    # columns in reading order: the rightmost (الإطار) first
    assert text.index("الإطار") < text.index("الرتبة") < text.index("الرقم الاستدلالي")
    check(text, "الرتبة", left="الإطار", right="الرقم الاستدلالي")
    check(text, "402", down="1091", top_heading="الرقم الاستدلالي")
    check(text, "الأولى", left="متصرف", right="336", top_heading="الرتبة")  # the merged cell
    check(text, "الثالثة", right="402", top_heading="الرتبة")
    assert 'rowspan="2"' in text and 'colspan="2"' in text
    assert text.index("الاقتصاد") < text.index("<table") < text.index("الجريدة")


MIXED_TABLE: list[list[Cell]] = [
    [("Nom et prénom", 1, 1), ("الاسم الكامل", 1, 1), ("Date de nomination", 1, 1)],
    [("Ahmed Benali", 1, 1), ("أحمد بنعلي", 1, 1), ("12 février 2024", 1, 1)],
    [("Fatima Zahra Alaoui", 1, 1), ("فاطمة الزهراء العلوي", 1, 1), ("3 mars 2024", 1, 1)],
]


def test_arabic_cells_of_a_french_table_are_read_in_arabic(tmp_path: Path) -> None:
    # OSD calls the page Latin: its Arabic cells, junk read with French and English, are
    # read again with the Arabic model
    pdf = table_pdf(["Arrêté portant nomination des membres de la commission nationale :"],
                    MIXED_TABLE, [50, 55, 45],
                    ["Le présent arrêté sera publié au Bulletin officiel."])
    output = read(tmp_path, scanned(pdf, seed=3))
    text = output.text
    assert output.meta["script"] == "Latin" and "<table>" in text, text
    check(text, "فاطمة الزهراء العلوي", left="Fatima Zahra Alaoui", right="3 mars 2024",
          top_heading="الاسم الكامل")
    check(text, "الاسم الكامل", left="Nom et prénom", right="Date de nomination")
    check(text, "12 février 2024", left="", up="Date de nomination", down="3 mars 2024")


def test_tables_off_leaves_the_page_as_lines(tmp_path: Path) -> None:
    pdf = table_pdf(FRENCH_BEFORE, FRENCH_TABLE, [45, 35, 25, 35], FRENCH_AFTER)
    output = read(tmp_path, scanned(pdf, seed=1), tables=False)
    assert "<table" not in output.text and "grid_tables" not in output.meta
    assert "Administrateur" in output.text


def _grid_page(size: tuple[int, int] = (2480, 3508)) -> Image.Image:
    """A 300 dpi page with a 3 x 3 ruled grid, its top row's last two cells merged."""
    image = Image.new("L", size, 255)
    draw = ImageDraw.Draw(image)
    xs, ys = [300, 800, 1300, 1800], [600, 750, 900, 1050]
    for y in ys:
        draw.line([(xs[0], y), (xs[-1], y)], fill=0, width=4)
    for i, x in enumerate(xs):
        draw.line([(x, ys[1] if i == 2 else ys[0]), (x, ys[-1])], fill=0, width=4)
    return image


def test_the_grid_and_its_merged_cells_are_found() -> None:
    [grid] = find_grids(np.asarray(_grid_page()), 300)
    assert (grid.rows, grid.cols) == (3, 3)
    spans = {(c.row, c.col): (c.rowspan, c.colspan) for c in grid.cells}
    assert spans[0, 1] == (1, 2) and len(spans) == 8
    left, top, right, bottom = grid.box
    assert abs(left - 300) < 20 and abs(top - 600) < 20 and abs(right - 1800) < 20
    assert abs(bottom - 1050) < 20


def test_a_page_without_a_table_finds_none() -> None:
    """(benchmarks/tables.py prints what the search costs on such a page.)"""
    import pypdfium2 as pdfium

    document = pdfium.PdfDocument(scanned(pdfs.text_pdf(["\n".join(FRENCH)])))
    page = np.asarray(document[0].render(scale=300 / 72, grayscale=True).to_pil().convert("L"))
    document.close()
    assert find_grids(page, 300) == []
