"""Born-digital pages read as structure (ocrflow.inputs.structure): tables as HTML, headings and
lists
as Markdown, from PDFs made here; tables checked as olmOCR-bench's table tests read them."""

from __future__ import annotations

import io
from pathlib import Path

import pytest
from PIL import Image
from reportlab.lib.utils import ImageReader
from reportlab.pdfgen import canvas

from ocrflow.bench.spec import make_test
from ocrflow.bench.tables import html_tables, table_test
from ocrflow.inputs.structure import PageStructure, read_page
from ocrflow.inputs.structure.tables import Cell, Table, to_html
from tests.support.pdfs import amiri, arabic_pdf, text_pdf

A4 = (595.0, 842.0)


def _canvas(size: tuple[float, float] = A4) -> tuple[io.BytesIO, canvas.Canvas]:
    out = io.BytesIO()
    return out, canvas.Canvas(out, pagesize=size, invariant=1)


def _grid(pdf: canvas.Canvas, xs: list[float], ys: list[float],
          skip_v: set[tuple[int, int]] = frozenset(),
          skip_h: set[tuple[int, int]] = frozenset()) -> None:
    """Ruling lines of a grid; skip_v (row, x index) / skip_h (y index, col) leave a segment out
    (a spanning cell)."""
    for k, x in enumerate(xs):
        for r in range(len(ys) - 1):
            if (r, k) not in skip_v:
                pdf.line(x, ys[r], x, ys[r + 1])
    for k, y in enumerate(ys):
        for c in range(len(xs) - 1):
            if (k, c) not in skip_h:
                pdf.line(xs[c], y, xs[c + 1], y)


def ruled_pdf(size: tuple[float, float] = A4, origin: tuple[float, float] = (0, 0)) -> bytes:
    """A title, a paragraph, a ruled table (a heading spanning two columns, a cell spanning two
    rows, a cell of two lines), a paragraph after it."""
    out, pdf = _canvas(size)
    ox, oy = origin
    pdf.setFont("Helvetica-Bold", 18)
    pdf.drawString(ox + 60, oy + 780, "Liste des nominations")
    pdf.setFont("Helvetica", 10)
    pdf.drawString(ox + 60, oy + 750,
                   "Par arrete du ministre, sont nommes les fonctionnaires suivants.")
    xs = [ox + x for x in (60, 180, 300, 420, 540)]
    ys = [oy + y for y in (720, 700, 680, 660, 640, 610)]
    _grid(pdf, xs, ys, skip_v={(0, 2)}, skip_h={(3, 1)})  # colspan in row 0, rowspan
    # row 0: "Nom" | "Affectation" (2 columns) | "Date"
    cells = {(0, 0): ["Nom"], (0, 1): ["Affectation"], (0, 3): ["Date"],
             (1, 0): ["Alami"], (1, 1): ["Rabat"], (1, 2): ["Direction"], (1, 3): ["2021"],
             (2, 0): ["Bennani"], (2, 1): ["Fes"], (2, 2): ["Tresor"], (2, 3): ["2022"],
             (3, 0): ["Chraibi"], (3, 2): ["Budget"], (3, 3): ["2023"],
             (4, 0): ["El Idrissi"], (4, 1): ["Tanger"], (4, 2): ["Service des", "marches"],
             (4, 3): ["2024"]}
    for (r, c), lines in cells.items():
        for k, text in enumerate(lines):
            pdf.drawString(xs[c] + 4, ys[r] - 14 - 11 * k, text)
    # "Fes" spans rows 2 and 3 of column 1: its bottom rule is skipped above
    pdf.drawString(ox + 60, oy + 580, "Le present arrete sera publie au Bulletin officiel.")
    pdf.showPage()
    pdf.save()
    return out.getvalue()


def unruled_pdf() -> bytes:
    """Prose, a table of aligned columns (no rules; numbers set right), prose."""
    out, pdf = _canvas()
    pdf.setFont("Helvetica", 10)
    pdf.drawString(60, 780, "Les tarifs suivants sont applicables a compter du premier janvier.")
    pdf.drawString(60, 766, "Ils remplacent ceux fixes par l'arrete precedent.")
    rows = [("Prestation", "Unite", "Tarif"), ("Analyse de sol", "echantillon", "350,00"),
            ("Analyse d'eau", "litre", "120,50"), ("Expertise", "jour", "2 400,00"),
            ("Certificat", "piece", "75,00")]
    for r, (a, b, c) in enumerate(rows):
        y = 730 - 16 * r
        pdf.drawString(60, y, a)
        pdf.drawString(220, y, b)
        pdf.drawRightString(420, y, c)
    pdf.drawString(60, 630, "Les recettes sont versees au Tresor.")
    pdf.showPage()
    pdf.save()
    return out.getvalue()


def wrapped_cells_pdf() -> bytes:
    """An unruled table whose middle column wraps onto a second line, a total row with its
    first column empty, and a table of contents with dot leaders after it."""
    out, pdf = _canvas()
    pdf.setFont("Helvetica", 10)
    rows = [("N°", ["Objet du marche"], "Montant"),
            ("1", ["Travaux d'entretien des routes"], "120 000"),
            ("2", ["Construction d'un centre de sante", "et de ses logements de fonction"],
             "2 450 000"),
            ("3", ["Fourniture de materiel"], "87 500"),
            ("", ["Total"], "2 657 500")]
    y = 760.0
    for number, lines, amount in rows:
        pdf.drawString(60, y, number)
        pdf.drawRightString(480, y, amount)
        for k, line in enumerate(lines):
            pdf.drawString(110, y - 14 * k, line)
        y -= 14 * len(lines) + 4
    y -= 30
    for title, page in (("Introduction", "3"), ("Les marches publics", "7"),
                        ("Les delais de paiement", "12")):
        pdf.drawString(60, y, title)
        pdf.drawString(60 + pdf.stringWidth(title, "Helvetica", 10) + 4, y, " ." * 40)
        pdf.drawRightString(480, y, page)
        y -= 14
    pdf.showPage()
    pdf.save()
    return out.getvalue()


def two_column_table_pdf() -> bytes:
    """Two columns of prose; a ruled table ends the left column and goes on at the top of the
    right one (its heading row repeated)."""
    out, pdf = _canvas()
    pdf.setFont("Helvetica", 9)
    words = ["le", "conseil", "a", "examine", "le", "projet", "de", "budget", "et", "les",
             "comptes", "de", "l'exercice"]
    prose = [" ".join(words[(i % 5):(i % 5) + 8]) for i in range(14)]
    for k, line in enumerate(prose):
        pdf.drawString(50, 790 - 12 * k, line)
    xs = [50, 150, 270]
    left_rows = [("Region", "Montant"), ("Casablanca", "1 200"), ("Rabat", "950"),
                 ("Fes", "610")]
    right_rows = [("Region", "Montant"), ("Tanger", "580"), ("Agadir", "430"),
                  ("Oujda", "300")]
    for x0, rows, top in ((0, left_rows, 600), (260, right_rows, 800)):
        ys = [top - 20 * r for r in range(len(rows) + 1)]
        _grid(pdf, [x0 + x for x in xs], ys)
        for r, row in enumerate(rows):
            for c, text in enumerate(row):
                pdf.drawString(x0 + xs[c] + 4, ys[r] - 14, text)
    for k, line in enumerate(prose):
        pdf.drawString(310, 700 - 12 * k, line)
    pdf.showPage()
    pdf.save()
    return out.getvalue()


def headings_lists_pdf() -> bytes:
    out, pdf = _canvas()
    y = 790

    def put(font: str, size: float, text: str, x: float = 60, step: float = 16) -> None:
        nonlocal y
        pdf.setFont(font, size)
        pdf.drawString(x, y, text)
        y -= step

    put("Helvetica-Bold", 20, "Rapport annuel", step=30)
    put("Helvetica", 10, "Le present rapport decrit l'activite de l'annee ecoulee.")
    put("Helvetica-Bold", 14, "Objectifs", step=22)
    put("Helvetica", 10, "• reduire les delais de traitement des dossiers")
    put("Helvetica", 10, "• ameliorer l'accueil des usagers dans les bureaux d'accueil et les",
        x=60)
    put("Helvetica", 10, "services regionaux et provinciaux", x=68)
    put("Helvetica", 10, "• publier les indicateurs chaque trimestre", step=24)
    put("Helvetica-Bold", 10, "Calendrier", step=18)
    put("Helvetica", 10, "1. Consultation des services")
    put("Helvetica", 10, "2. Redaction du projet")
    put("Helvetica", 10, "3. Adoption par le conseil", step=24)
    put("Helvetica", 10, "Le rapport est adopte a l'unanimite des membres presents.")
    pdf.showPage()
    pdf.save()
    return out.getvalue()


def arabic_table_pdf() -> bytes:
    """A ruled Arabic table as an Arabic-aware writer makes one (shaped with HarfBuzz, read
    right to left: its first column at the right), numbers in Arabic-Indic digits."""
    from fpdf import FPDF

    pdf = FPDF(format="A4")
    pdf.add_page()
    pdf.add_font("Amiri", fname=str(amiri()))
    pdf.set_font("Amiri", size=14)
    pdf.set_text_shaping(True, direction="rtl", script="arab", language="ara")
    pdf.set_xy(20, 20)
    pdf.cell(170, 10, "جدول التعيينات", align="R")
    rows = [["الاسم", "المدينة", "السنة"], ["محمد العلمي", "الرباط", "٢٠٢١"],
            ["فاطمة بناني", "فاس", "٢٠٢٢"], ["يوسف الإدريسي", "طنجة", "٢٠٢٣"]]
    widths = [60, 50, 40]
    right = 190
    for r, row in enumerate(rows):
        x = right
        for width, text in zip(widths, row, strict=True):
            x -= width
            pdf.set_xy(x, 40 + 12 * r)
            pdf.cell(width, 12, text, border=1, align="R")
    return bytes(pdf.output())


def picture_pdf() -> bytes:
    """A page of text with a picture over half of it (a scanned table pasted in)."""
    out, pdf = _canvas()
    pdf.setFont("Helvetica", 10)
    for k in range(6):
        pdf.drawString(60, 790 - 14 * k, f"Ligne {k + 1} du texte qui precede le tableau scanne.")
    picture = io.BytesIO()
    Image.new("L", (400, 300), 200).save(picture, format="PNG")
    picture.seek(0)
    pdf.drawImage(ImageReader(picture), 60, 200, 470, 480)
    pdf.showPage()
    pdf.save()
    return out.getvalue()


def empty_grid_pdf() -> bytes:
    """Ruling lines of a grid whose cells hold no text (its text drawn as curves, say)."""
    out, pdf = _canvas()
    pdf.setFont("Helvetica", 10)
    pdf.drawString(60, 790, "Le tableau ci-dessous est reproduit en annexe.")
    _grid(pdf, [60, 160, 260, 360, 460], [740, 720, 700, 680, 660, 640])
    pdf.showPage()
    pdf.save()
    return out.getvalue()


def _read(tmp_path: Path, data: bytes, layer: str = "layer text") -> PageStructure:
    path = tmp_path / "page.pdf"
    path.write_bytes(data)
    return read_page(str(path), 1, layer)


def _check(page: str, cell: str, **relations: str) -> None:
    """An olmOCR-bench table test on the page, as a user writes one."""
    test = make_test({"pdf": "page.pdf", "page": 1, "id": cell, "type": "table", "cell": cell,
                      **relations})
    passed, why = table_test(test, page)
    assert passed, why


def test_ruled_table_with_spanning_cells(tmp_path: Path) -> None:
    page = _read(tmp_path, ruled_pdf())
    assert page.tables == 1 and not page.unresolved
    assert page.markdown.startswith("# Liste des nominations")
    _check(page.markdown, "Affectation", left="Nom", right="Date", down="Rabat")
    _check(page.markdown, "Direction", up="Affectation", left="Rabat", top_heading="Affectation")
    _check(page.markdown, "Fes", left="Bennani", down="Tanger", right="Tresor")
    _check(page.markdown, "Budget", left="Fes", up="Tresor", right="2023")  # under a rowspan
    _check(page.markdown, "Service des marches", left="Tanger", right="2024")  # two lines
    _check(page.markdown, "2024", top_heading="Date", left_heading="El Idrissi")
    # the paragraphs around the table keep their places
    assert page.markdown.index("sont nommes") < page.markdown.index("<table>") < \
        page.markdown.index("sera publie")


def test_page_box_not_at_origin(tmp_path: Path) -> None:
    """pdfplumber measures from the MediaBox's corner, pdfium in the page's own space."""
    pypdf = pytest.importorskip("pypdf")
    from pypdf.generic import RectangleObject

    writer = pypdf.PdfWriter(clone_from=io.BytesIO(ruled_pdf(origin=(40, 60))))
    writer.pages[0].mediabox = RectangleObject([40, 60, 635, 902])
    data = io.BytesIO()
    writer.write(data)
    page = _read(tmp_path, data.getvalue())
    assert page.tables == 1
    _check(page.markdown, "Bennani", up="Alami", right="Fes", down="Chraibi")


def test_unruled_table(tmp_path: Path) -> None:
    page = _read(tmp_path, unruled_pdf())
    assert page.tables == 1
    _check(page.markdown, "Analyse d'eau", up="Analyse de sol", right="litre",
           top_heading="Prestation")
    _check(page.markdown, "2 400,00", left="jour", top_heading="Tarif")  # digits as printed
    before, _, after = page.markdown.partition("<table>")
    assert "premier janvier" in before and "Tresor" in after.split("</table>")[1]


def test_wrapped_cells_and_leaders(tmp_path: Path) -> None:
    page = _read(tmp_path, wrapped_cells_pdf())
    _check(page.markdown, "Construction d'un centre de sante et de ses logements de fonction",
           left="2", right="2 450 000", up="Travaux d'entretien des routes")
    _check(page.markdown, "Total", right="2 657 500", up="Fourniture de materiel")
    _check(page.markdown, "Les marches publics", right="7", up="Introduction")  # no dots
    assert " . ." not in page.markdown


def test_table_across_a_column_break(tmp_path: Path) -> None:
    page = _read(tmp_path, two_column_table_pdf())
    tables = html_tables(page.markdown)
    assert tables and all(len({c for _, c in t.text}) == 2 for t in tables)
    _check(page.markdown, "Casablanca", right="1 200", top_heading="Region")
    _check(page.markdown, "Tanger", right="580", top_heading="Region")
    _check(page.markdown, "Tanger", up="Fes")  # joined into one table, its heading once
    assert page.markdown.count("<table>") == 1
    left_prose = page.markdown.index("le conseil")
    assert left_prose < page.markdown.index("<table>")


def test_arabic_table_reads_right_to_left(tmp_path: Path) -> None:
    page = _read(tmp_path, arabic_table_pdf())
    assert page.tables == 1
    assert '<table dir="rtl">' in page.markdown
    first_row = page.markdown.split("<tr>")[1]
    assert first_row.index("الاسم") < first_row.index("المدينة") < first_row.index("السنة")
    _check(page.markdown, "فاطمة بناني", right="فاس", up="محمد العلمي",
           top_heading="الاسم")
    _check(page.markdown, "٢٠٢٣", left="طنجة", top_heading="السنة")  # Arabic-Indic kept
    assert page.markdown.index("جدول التعيينات") < page.markdown.index("<table")


def test_headings_and_lists(tmp_path: Path) -> None:
    page = _read(tmp_path, headings_lists_pdf())
    lines = page.markdown.split("\n")
    assert "# Rapport annuel" in lines
    assert "## Objectifs" in lines
    assert "### Calendrier" in lines
    assert "- ameliorer l'accueil des usagers dans les bureaux d'accueil et les services " \
        "regionaux et provinciaux" in lines
    numbered = [line for line in lines if line[:1].isdigit()]
    assert numbered == ["1. Consultation des services", "2. Redaction du projet",
                        "3. Adoption par le conseil"]
    assert page.tables == 0 and lines[-1].startswith("Le rapport est adopte")


def test_arabic_lists(tmp_path: Path) -> None:
    """Items numbered in Arabic-Indic digits or Arabic letters: Markdown numbers lists in
    ASCII digits only, so they are bullet items that keep their numbers as printed."""
    page = _read(tmp_path, arabic_pdf(["تتضمن الخطة ما يلي:", "١. تحديث الإدارة",
                                       "٢. تبسيط المساطر", "أ- الرقمنة",
                                       "وتنفذ الخطة خلال سنة."], diacritics=False))
    assert page.markdown.split("\n\n")[1].split("\n") == [
        "- ١. تحديث الإدارة", "- ٢. تبسيط المساطر", "- أ- الرقمنة"]


def test_plain_page_keeps_its_layer_text(tmp_path: Path) -> None:
    layer = "Un texte courant.\nSur deux lignes."
    page = _read(tmp_path, text_pdf(["Un texte courant.\nSur deux lignes, sans plus."]), layer)
    assert page == PageStructure(layer)


def test_picture_on_a_text_page_is_unresolved(tmp_path: Path) -> None:
    page = _read(tmp_path, picture_pdf())
    assert page.unresolved == "picture on a text page"
    assert page.markdown == "layer text"


def test_ruled_grid_without_cells_is_unresolved(tmp_path: Path) -> None:
    page = _read(tmp_path, empty_grid_pdf())
    assert page.unresolved == "ruled grid without cells" and page.tables == 0


def test_html_spans_and_escaping() -> None:
    table = Table([Cell(0, 0, 1, 2, text="A & B"), Cell(1, 0, text="<x>"), Cell(1, 1, text="2")],
                  (0, 0, 1, 1), True, 2, 2)
    assert to_html(table) == ('<table>\n<tr><th colspan="2">A &amp; B</th></tr>\n'
                              "<tr><td>&lt;x&gt;</td><td>2</td></tr>\n</table>")
    table.rtl = True
    assert to_html(table).split("\n")[2] == "<tr><td>2</td><td>&lt;x&gt;</td></tr>"


def test_a_broken_file_gives_the_layer_text(tmp_path: Path) -> None:
    path = tmp_path / "broken.pdf"
    path.write_bytes(b"%PDF-1.4 nothing else")
    assert read_page(str(path), 1, "kept") == PageStructure("kept")
