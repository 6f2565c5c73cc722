"""Generate the example corpus and its ground truth (deterministic: same pages every run).

    python examples/make_corpus.py [OUT_DIR]

Writes OUT_DIR/corpus/**.pdf and OUT_DIR/ground_truth.jsonl (one line per page: doc_id, page,
kind, language, text in logical order with running heads and footers). Kinds: born_digital,
scanned (image only: noise, slight skew), rotated (image only, /Rotate 90), stale_ocr_layer (a
scan whose hidden text layer is a runaway loop), blank. Arabic is set in Amiri (Debian's
fonts-hosny-amiri, or the copy `make tesseract` puts in the environment), shaped by fpdf2.
"""

from __future__ import annotations

import io
import json
import sys
import unicodedata
from pathlib import Path

import numpy as np
import pypdfium2 as pdfium
from PIL import Image
from reportlab.lib.pagesizes import A4
from reportlab.lib.utils import ImageReader
from reportlab.pdfgen import canvas

SCAN_DPI = 150
FONT = "Helvetica"
# Amiri: the system's (Debian's fonts-hosny-amiri), else the environment's, where
# envs/tessdata.sh (`make tesseract`) puts it for a user without root.
AMIRI_PLACES = (Path("/usr/share/fonts/opentype/fonts-hosny-amiri/Amiri-Regular.ttf"),
                Path(sys.prefix, "share", "fonts", "fonts-hosny-amiri", "Amiri-Regular.ttf"))

TEXTS = {
    "report_p1": [
        "Annual Report 2025",
        "",
        "The regional library network served 48,210 readers this year,",
        "an increase of 6.4 percent over the previous year. Opening hours",
        "were extended on Saturdays in all twelve branches.",
        "",
        "Digitisation of the municipal archive reached 1,350 volumes.",
        "Every scanned volume is checked by two members of staff before",
        "it is published in the online catalogue.",
    ],
    "report_p2": [
        "Budget",
        "",
        "Staff costs remained the largest item at 61 percent of spending.",
        "Acquisitions rose to 212,000 euros, mostly for periodicals.",
        "The board approved a new reading room for the central branch,",
        "to open in the spring of 2026.",
    ],
    "arrete": [
        "Arrêté n° 2024-117 du 12 février 2024",
        "",
        "Le ministre de l'Équipement, vu le décret relatif à la sécurité",
        "des bâtiments publics, arrête les dispositions suivantes :",
        "",
        "Article premier. Les écoles élémentaires seront inspectées",
        "avant la rentrée scolaire par une commission départementale.",
        "",
        "Article 2. Le présent arrêté sera publié au Bulletin officiel.",
        "Fait à Rabat, le 12 février 2024.",
    ],
    "minutes_p1": [
        "Minutes of the Harbour Committee",
        "",
        "Meeting held on 3 March 2025 at the port authority office.",
        "Present: the chair, the treasurer and five members.",
        "",
        "The committee reviewed the dredging contract and asked",
        "for a revised estimate before the end of April.",
    ],
    "minutes_p2": [
        "Item 2: mooring fees",
        "",
        "Fees for visiting boats will rise by 3 percent from June.",
        "Residents keep the winter discount of 15 percent.",
        "The treasurer reported a surplus of 18,400 pounds.",
    ],
    "minutes_p3": [
        "Item 3: any other business",
        "",
        "The lighthouse open day is planned for 14 September.",
        "The next meeting will take place on 7 April 2025.",
    ],
    "notice": [
        "PUBLIC NOTICE",
        "",
        "Water supply will be interrupted on Tuesday",
        "between 9 am and 4 pm for maintenance of",
        "the main pipe on Station Road.",
    ],
    "bulletin_p1": [
        "Bulletin municipal de Saint-Éloi",
        "",
        "La fête du village aura lieu le samedi 21 juin.",
        "Le marché de producteurs ouvrira à huit heures.",
        "Les enfants de l'école présenteront une pièce de théâtre.",
    ],
    "bulletin_p2": [
        "Travaux de voirie",
        "",
        "La rue des Érables sera fermée du 2 au 13 juillet.",
        "Une déviation sera mise en place par le chemin du Moulin.",
        "Nous remercions les riverains de leur patience.",
    ],
    # The Arabic edition of the Bulletin officiel: a decree, born-digital.
    "decret_ar": [
        "مرسوم رقم 2.24.117 صادر في 12 فبراير 2024",
        "",
        "بتحديد شروط تفتيش المدارس الابتدائية",
        "",
        "إن رئيس الحكومة،",
        "بناء على الدستور، ولا سيما الفصل 90 منه؛",
        "وبعد المداولة في مجلس الحكومة المنعقد في 8 فبراير 2024،",
        "",
        "يرسم ما يلي:",
        "",
        "المادة الأولى: تخضع المدارس الابتدائية لتفتيش سنوي",
        "تقوم به لجنة إقليمية قبل الدخول المدرسي.",
        "",
        "المادة الثانية: ينشر هذا المرسوم بالجريدة الرسمية.",
        "وحرر بالرباط في 12 فبراير 2024.",
    ],
    # A bilingual notice, French then Arabic, scanned.
    "avis_bilingue": [
        "Avis aux usagers — إعلان للعموم",
        "",
        "La bibliothèque municipale sera fermée du 2 au 6 septembre",
        "pour l'inventaire annuel des collections.",
        "",
        "ستغلق المكتبة البلدية من 2 إلى 6 شتنبر",
        "من أجل الجرد السنوي للمجموعات.",
    ],
    # Four pages of the French edition: a running head and a page footer on every page (what
    # header and footer removal takes off), and a table of figures on page 2.
    "bo_p1": [
        "Décret n° 2.24.512 du 12 septembre 2024",
        "",
        "relatif à l'organisation des bibliothèques municipales.",
        "Le chef du gouvernement, vu la loi n° 12.19 relative aux archives,",
        "décrète les dispositions suivantes, applicables dès leur publication.",
    ],
    "bo_p2": [
        "Article premier",
        "",
        "Les bibliothèques municipales sont réparties comme suit :",
    ],
    "bo_p3": [
        "Article 2",
        "",
        "Chaque bibliothèque ouvre au moins trente heures par semaine.",
        "Les horaires sont affichés à l'entrée et publiés en ligne.",
    ],
    "bo_p4": [
        "Article 3",
        "",
        "Le ministre de la culture est chargé de l'exécution du présent décret.",
        "Fait à Rabat, le 12 septembre 2024.",
    ],
    "stale": [
        "Library opening hours",
        "",
        "Monday to Friday: 9 am to 7 pm.",
        "Saturday: 10 am to 5 pm.",
        "Closed on Sundays and public holidays.",
    ],
}


def draw_lines(pdf: canvas.Canvas, lines: list[str], width: float, height: float,
               size: float = 13) -> None:
    y = height - 90
    for i, line in enumerate(lines):
        pdf.setFont(f"{FONT}-Bold" if i == 0 else FONT, size + (5 if i == 0 else 0))
        pdf.drawString(70, y, line)
        y -= size * 1.9


def right_to_left(line: str) -> bool:
    """Whether a line starts in a right-to-left script (its first strong character)."""
    for char in line:
        direction = unicodedata.bidirectional(char)
        if direction in ("R", "AL"):
            return True
        if direction == "L":
            return False
    return False


def amiri() -> Path:
    found = next((place for place in AMIRI_PLACES if place.is_file()), None)
    if found is None:
        raise SystemExit(f"Amiri is in none of {', '.join(map(str, AMIRI_PLACES))}: run `make "
                         "tesseract` (no root needed) or install Debian's fonts-hosny-amiri")
    return found


def arabic_pdf(lines: list[str]) -> bytes:
    """A born-digital page in Amiri, shaped with HarfBuzz (fpdf2): Arabic lines set right,
    French lines left, as the Bulletin officiel sets them."""
    from fpdf import FPDF

    pdf = FPDF(format="A4", unit="pt")
    pdf.set_creation_date(__import__("datetime").datetime(2024, 2, 12))  # same bytes every run
    pdf.add_font("Amiri", fname=str(amiri()))
    pdf.set_text_shaping(True)
    pdf.add_page()
    y = 80.0
    for i, line in enumerate(lines):
        size = 19 if i == 0 else 15
        pdf.set_font("Amiri", size=size)
        pdf.set_xy(70, y)
        pdf.cell(w=A4[0] - 140, h=size * 1.4, text=line, align="R" if right_to_left(line) else "L")
        y += size * 1.9
    return bytes(pdf.output())


def scan_image(lines: list[str], seed: int, skew_deg: float,
               pagesize: tuple[float, float] = A4, arabic: bool = False) -> Image.Image:
    """Print the text, then make it look scanned: rasterise, skew, noise, speckles."""
    printed = arabic_pdf(lines) if arabic else born_digital_pdf([lines], pagesize)
    document = pdfium.PdfDocument(printed)
    image = document[0].render(scale=SCAN_DPI / 72, grayscale=True).to_pil().convert("L")
    document.close()
    image = image.rotate(skew_deg, resample=Image.BICUBIC, fillcolor=255)
    rng = np.random.default_rng(seed)
    pixels = np.asarray(image, dtype=np.float32)
    pixels = pixels * 0.92 + 8 + rng.normal(0, 6, pixels.shape)  # grey paper, sensor noise
    speckles = rng.random(pixels.shape) < 0.0008
    pixels[speckles] = rng.uniform(0, 90, int(speckles.sum()))
    return Image.fromarray(np.clip(pixels, 0, 255).astype(np.uint8))


def born_digital_pdf(pages: list[list[str]], pagesize: tuple[float, float] = A4) -> bytes:
    out = io.BytesIO()
    pdf = canvas.Canvas(out, pagesize=pagesize, invariant=1)
    for lines in pages:
        draw_lines(pdf, lines, *pagesize)
        pdf.showPage()
    pdf.save()
    return out.getvalue()


BO_HEADER = "BULLETIN OFFICIEL N° 7290 – 16 septembre 2024"
BO_TABLE = [["Province", "Bibliothèques", "Lecteurs"], ["Rabat", "12", "48 210"],
            ["Salé", "7", "21 904"], ["Témara", "4", "9 655"]]
BO_TABLE_COLUMNS = (70, 260, 400)


def gazette_pdf(pages: list[list[str]], table_on: int) -> bytes:
    """Born-digital pages under a running head and over a page footer; a table of figures
    (three columns of text, as a typesetter draws one) below the text of page ``table_on``."""
    out = io.BytesIO()
    width, height = A4
    pdf = canvas.Canvas(out, pagesize=A4, invariant=1)
    for number, lines in enumerate(pages, start=1):
        pdf.setFont(FONT, 9)
        pdf.drawString(70, height - 45, BO_HEADER)
        draw_lines(pdf, lines, width, height)
        if number == table_on:
            y = height - 90 - 13 * 1.9 * (len(lines) + 1)
            for row_index, row in enumerate(BO_TABLE):
                pdf.setFont(f"{FONT}-Bold" if row_index == 0 else FONT, 12)
                for x, cell in zip(BO_TABLE_COLUMNS, row, strict=True):
                    pdf.drawString(x, y, cell)
                y -= 20
        pdf.setFont(FONT, 9)
        pdf.drawCentredString(width / 2, 40, f"Page {number} / {len(pages)}")
        pdf.showPage()
    pdf.save()
    return out.getvalue()


def gazette_truth(key: str, number: int, pages: int, table: bool) -> tuple[str, str, list[str]]:
    body = truth(TEXTS[key])
    if table:
        body += "\n" + "\n".join(" ".join(row) for row in BO_TABLE)
    return "born_digital", f"{BO_HEADER}\n{body}\nPage {number} / {pages}", ["fr"]


def jpeg(image: Image.Image) -> ImageReader:
    data = io.BytesIO()
    image.save(data, format="JPEG", quality=50)
    data.seek(0)
    return ImageReader(data)


class Builder:
    """A PDF of mixed pages: born-digital, scanned, rotated scan, blank, or a stale OCR layer."""

    def __init__(self) -> None:
        self.out = io.BytesIO()
        self.pdf = canvas.Canvas(self.out, pagesize=A4, invariant=1)
        self.rotate_pages: list[int] = []

    def born_digital(self, lines: list[str]) -> None:
        draw_lines(self.pdf, lines, *A4)
        self.pdf.showPage()

    def scanned(self, lines: list[str], seed: int, skew: float, arabic: bool = False) -> None:
        self.pdf.drawImage(jpeg(scan_image(lines, seed, skew, arabic=arabic)), 0, 0, *A4)
        self.pdf.showPage()

    def rotated(self, lines: list[str], seed: int) -> None:
        """A landscape notice scanned sideways; the page's /Rotate 90 shows it upright."""
        landscape = (A4[1], A4[0])
        upright = scan_image(lines, seed, 0.5, pagesize=landscape)
        stored = upright.rotate(90, expand=True)  # what the scanner stored: sideways
        self.pdf.drawImage(jpeg(stored), 0, 0, *A4)
        self.pdf.showPage()
        self.rotate_pages.append(self.pdf.getPageNumber() - 2)

    def stale_ocr_layer(self, lines: list[str], seed: int, loop: str) -> None:
        """A scan carrying an invisible text layer from a bad earlier OCR: a runaway loop."""
        self.pdf.drawImage(jpeg(scan_image(lines, seed, -0.6)), 0, 0, *A4)
        text = self.pdf.beginText(70, A4[1] - 90)
        text.setTextRenderMode(3)  # invisible, as OCR layers are
        text.setFont(FONT, 11)
        for _ in range(30):
            text.textLine(loop * 6)
        self.pdf.drawText(text)
        self.pdf.showPage()

    def blank(self) -> None:
        self.pdf.showPage()

    def bytes(self) -> bytes:
        self.pdf.save()
        if not self.rotate_pages:
            return self.out.getvalue()
        # reportlab swaps the media box of a rotated page; set /Rotate with PDFium instead.
        document = pdfium.PdfDocument(self.out.getvalue())
        for index in self.rotate_pages:
            document[index].set_rotation(90)
        out = io.BytesIO()
        document.save(out)
        document.close()
        return out.getvalue()


def truth(lines: list[str]) -> str:
    return "\n".join(line for line in lines if line)


# The languages of each text (ISO 639-1), most of its words first.
LANGUAGES = {"report_p1": ["en"], "report_p2": ["en"], "arrete": ["fr"], "minutes_p1": ["en"],
             "minutes_p2": ["en"], "minutes_p3": ["en"], "notice": ["en"], "bulletin_p1": ["fr"],
             "bulletin_p2": ["fr"], "decret_ar": ["ar"], "avis_bilingue": ["fr", "ar"],
             "stale": ["en"], "bo_p1": ["fr"], "bo_p2": ["fr"], "bo_p3": ["fr"],
             "bo_p4": ["fr"]}


def page(kind: str, key: str) -> tuple[str, str, list[str]]:
    """A page's ground truth: its kind, its text in logical order, its languages."""
    return kind, truth(TEXTS[key]), LANGUAGES[key]


def build(root: Path) -> None:
    corpus = root / "corpus"
    docs: list[tuple[str, bytes, list[tuple[str, str, list[str]]]]] = []

    report = born_digital_pdf([TEXTS["report_p1"], TEXTS["report_p2"]])
    report_truth = [page("born_digital", "report_p1"),
                    page("born_digital", "report_p2")]
    docs.append(("born_digital/annual_report", report, report_truth))
    # The same bytes under another name: detected by content hash and OCR'd once.
    docs.append(("born_digital/copies/annual_report_copy", report, report_truth))

    b = Builder()
    b.scanned(TEXTS["arrete"], seed=1, skew=0.8)
    docs.append(("scanned/arrete_fr", b.bytes(), [page("scanned", "arrete")]))

    b = Builder()
    for i, key in enumerate(("minutes_p1", "minutes_p2", "minutes_p3")):
        b.scanned(TEXTS[key], seed=10 + i, skew=(-0.7, 0.4, 1.0)[i])
    docs.append(("scanned/harbour_minutes", b.bytes(),
                 [page("scanned", k)
                  for k in ("minutes_p1", "minutes_p2", "minutes_p3")]))

    b = Builder()
    b.rotated(TEXTS["notice"], seed=20)
    docs.append(("scanned/rotated_notice", b.bytes(), [page("rotated", "notice")]))

    b = Builder()
    b.stale_ocr_layer(TEXTS["stale"], seed=30, loop="opening hours ")
    docs.append(("Mixed/Stale_OCR_Layer", b.bytes(), [page("stale_ocr_layer", "stale")]))

    b = Builder()
    b.born_digital(TEXTS["bulletin_p1"])
    b.scanned(TEXTS["bulletin_p2"], seed=40, skew=-0.5)
    b.blank()
    docs.append(("Mixed/bulletin_saint_eloi", b.bytes(),
                 [page("born_digital", "bulletin_p1"),
                  page("scanned", "bulletin_p2"), ("blank", "", [])]))

    docs.append(("born_digital/decret_ar", arabic_pdf(TEXTS["decret_ar"]),
                 [page("born_digital", "decret_ar")]))

    keys = ("bo_p1", "bo_p2", "bo_p3", "bo_p4")
    docs.append(("born_digital/bulletin_officiel_7290",
                 gazette_pdf([TEXTS[key] for key in keys], table_on=2),
                 [gazette_truth(key, n, len(keys), table=n == 2)
                  for n, key in enumerate(keys, start=1)]))

    b = Builder()
    b.scanned(TEXTS["avis_bilingue"], seed=50, skew=0.4, arabic=True)
    docs.append(("scanned/avis_bilingue", b.bytes(),
                 [page("scanned", "avis_bilingue")]))

    records = []
    for doc_id, data, pages in docs:
        # One upper-case extension: input matching is case-insensitive.
        suffix = ".PDF" if doc_id.startswith("Mixed/Stale") else ".pdf"
        path = corpus / f"{doc_id}{suffix}"
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(data)
        for number, (kind, text, languages) in enumerate(pages, start=1):
            records.append({"doc_id": doc_id, "page": number, "kind": kind,
                            "languages": languages, "text": text})
    # A broken file: a PDF cut off after its first 400 bytes (a failed download).
    (corpus / "broken").mkdir(exist_ok=True)
    (corpus / "broken" / "truncated_download.pdf").write_bytes(report[:400])
    records.append({"doc_id": "broken/truncated_download", "page": None, "kind": "unreadable",
                    "languages": [], "text": ""})
    with open(root / "ground_truth.jsonl", "w", encoding="utf-8") as handle:
        for record in records:
            handle.write(json.dumps(record, ensure_ascii=False) + "\n")


if __name__ == "__main__":
    build(Path(sys.argv[1]) if len(sys.argv) > 1 else Path(__file__).resolve().parent)
