"""Small PDFs made inside the tests: good, scanned, inked-but-textless, and every bad input."""

from __future__ import annotations

import io
import re
import sys
from collections.abc import Callable
from pathlib import Path

import numpy as np
from PIL import Image
from reportlab.lib.utils import ImageReader
from reportlab.pdfgen import canvas


def text_pdf(pages: list[str], size: tuple[float, float] = (595, 842), **kwargs) -> bytes:
    out = io.BytesIO()
    pdf = canvas.Canvas(out, pagesize=size, invariant=1, **kwargs)
    for text in pages:
        y = size[1] - 80
        for line in text.splitlines():
            pdf.setFont("Helvetica", 12)
            pdf.drawString(60, y, line)
            y -= 20
        pdf.showPage()
    pdf.save()
    return out.getvalue()


def image_pdf(images: list[Image.Image], size: tuple[float, float] = (595, 842)) -> bytes:
    out = io.BytesIO()
    pdf = canvas.Canvas(out, pagesize=size, invariant=1)
    for image in images:
        data = io.BytesIO()
        image.convert("L").save(data, format="PNG")
        data.seek(0)
        pdf.drawImage(ImageReader(data), 0, 0, *size)
        pdf.showPage()
    pdf.save()
    return out.getvalue()


def scanned_pdf(pages: list[str]) -> bytes:
    """Image-only pages of real text: rendered from a text PDF, the text layer gone."""
    import pypdfium2 as pdfium

    document = pdfium.PdfDocument(text_pdf(pages))
    images = [document[i].render(scale=150 / 72, grayscale=True).to_pil()
              for i in range(len(document))]
    document.close()
    return image_pdf(images)


def noise_pdf(seed: int = 0) -> bytes:
    """A page with ink but no text: blotches no engine can read."""
    rng = np.random.default_rng(seed)
    pixels = np.full((600, 420), 255, np.uint8)
    for _ in range(40):
        y, x = rng.integers(0, 560), rng.integers(0, 380)
        pixels[y:y + 30, x:x + 30] = rng.integers(0, 80)
    return image_pdf([Image.fromarray(pixels)])


def encrypted_pdf() -> bytes:
    return text_pdf(["secret page"], encrypt="a-user-password")


def corrupt_xref_pdf() -> bytes:
    """A valid PDF whose cross-reference offsets all point to the wrong place."""
    data = text_pdf(["page with a broken xref table"])
    return re.sub(rb"\d{10} 00000 n", b"0000000001 00000 n", data)


def garbage_body_pdf() -> bytes:
    """A %PDF- header followed by bytes that are no PDF at all."""
    rng = np.random.default_rng(7)
    return b"%PDF-1.4\n" + rng.integers(0, 256, 4000, dtype=np.uint8).tobytes()


def write(path: Path, data: bytes) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(data)
    return path


def tagged_pdf(tags: list[int | None], size: tuple[float, float] = (595, 842)) -> bytes:
    """Pages that tests/support/fake_vllm.py can tell apart: a black bar ``tag``/40 of the page
    wide;
    ``None`` is a blank page (no ink, no text: the stand-in reads it as tag 0)."""
    out = io.BytesIO()
    pdf = canvas.Canvas(out, pagesize=size, invariant=1)
    width, height = size
    for tag in tags:
        if tag is not None:
            pdf.setFillGray(0)
            pdf.rect(0, height - height * 0.03, tag * width / 40, height * 0.025, stroke=0,
                     fill=1)
            pdf.setFont("Helvetica", 14)
            pdf.drawString(60, height - 120, f"Report page {tag}: the scanned text would be here.")
        pdf.showPage()
    pdf.save()
    return out.getvalue()


def form_pdf(value: str, size: tuple[float, float] = (595, 842)) -> bytes:
    """A page whose only text is a filled AcroForm text field (no text in the page content)."""
    out = io.BytesIO()
    pdf = canvas.Canvas(out, pagesize=size)
    pdf.acroForm.textfield(name="harbour", value=value, x=60, y=size[1] - 200, width=400,
                           height=40, fontName="Helvetica", fontSize=24, borderWidth=0,
                           fillColor=None, forceBorder=False)
    pdf.showPage()
    pdf.save()
    return out.getvalue()


def letter_shift(text: str, by: int = -1) -> str:
    """The letter-shifted gibberish of a broken font map: "Proceedings" -> "Oqnbddchmfr"."""
    def shifted(c: str) -> str:
        for first in ("a", "A"):
            if first <= c <= chr(ord(first) + 25):
                return chr((ord(c) - ord(first) + by) % 26 + ord(first))
        return c
    return "".join(shifted(c) for c in text)


def ocr_noise(text: str, share: float, seed: int = 0) -> str:
    """An old OCR layer: ``share`` of the words mangled as poor OCR mangles them."""
    import random

    confusions = [("m", "rn"), ("e", "c"), ("l", "1"), ("o", "0"), ("h", "li"), ("a", "u"),
                  ("s", "5"), ("t", "f")]
    rng = random.Random(seed)
    words = text.split(" ")
    for i, word in enumerate(words):
        if word and rng.random() < share:
            for old, new in rng.sample(confusions, 3):
                word = word.replace(old, new)
            words[i] = word + rng.choice(["", "~", "'", ""])
    return " ".join(words)


def _page_image(text: str, size: tuple[float, float], font_size: int = 12) -> Image.Image:
    import pypdfium2 as pdfium

    out = io.BytesIO()
    pdf = canvas.Canvas(out, pagesize=size, invariant=1)
    y = size[1] - 80
    for line in text.splitlines():
        pdf.setFont("Helvetica", font_size)
        pdf.drawString(60, y, line)
        y -= font_size * 1.6
    pdf.showPage()
    pdf.save()
    document = pdfium.PdfDocument(out.getvalue())
    image = document[0].render(scale=150 / 72, grayscale=True).to_pil()
    document.close()
    return image


TWO_COLUMNS_TITLE = "Bulletin of the harbour board, 1907"


def two_column_pdf() -> tuple[bytes, str]:
    """A title over two columns of ten lines, and the text in reading order (the title, the
    left column, then the right one)."""
    left = [f"harbour minutes line {n} west" for n in range(10)]
    right = [f"crane accounts entry {n} east" for n in range(10)]
    out = io.BytesIO()
    page = canvas.Canvas(out, pagesize=(595, 842))
    page.setFont("Helvetica", 16)
    page.drawString(60, 780, TWO_COLUMNS_TITLE)
    page.setFont("Helvetica", 11)
    for n, (a, b) in enumerate(zip(left, right, strict=True)):
        page.drawString(60, 730 - 18 * n, a)
        page.drawString(320, 730 - 18 * n, b)
    page.showPage()
    page.save()
    return out.getvalue(), "\n".join([TWO_COLUMNS_TITLE, *left, *right])


def sandwich_pdf(pages: list[tuple[str, str]], size: tuple[float, float] = (595, 842),
                 font_size: int = 12) -> bytes:
    """Scanned pages with an OCR text layer, as OCR software writes them: each page is the
    picture of ``visible`` text with ``hidden`` drawn invisibly (render mode 3) over it."""
    out = io.BytesIO()
    pdf = canvas.Canvas(out, pagesize=size, invariant=1)
    for visible, hidden in pages:
        data = io.BytesIO()
        _page_image(visible, size, font_size).save(data, format="PNG")
        data.seek(0)
        pdf.drawImage(ImageReader(data), 0, 0, *size)
        text = pdf.beginText(60, size[1] - 80)
        text.setTextRenderMode(3)
        text.setFont("Helvetica", font_size)
        text.setLeading(font_size * 1.6)
        for line in hidden.splitlines():
            text.textLine(line)
        pdf.drawText(text)
        pdf.showPage()
    pdf.save()
    return out.getvalue()


def slide_pdf(picture_text: str, caption: str, size: tuple[float, float] = (842, 595)) -> bytes:
    """A slide: one big picture (of text, in large type) and a short real text line under it."""
    out = io.BytesIO()
    pdf = canvas.Canvas(out, pagesize=size, invariant=1)
    data = io.BytesIO()
    _page_image(picture_text, (size[0], size[1] - 60), font_size=28).save(data, format="PNG")
    data.seek(0)
    pdf.drawImage(ImageReader(data), 0, 60, size[0], size[1] - 60)
    pdf.setFont("Helvetica", 10)
    pdf.drawString(40, 25, caption)
    pdf.showPage()
    pdf.save()
    return out.getvalue()


def table_picture_pdf(text: str, rows: list[list[str]], size: tuple[float, float] = (595, 842)
                      ) -> bytes:
    """A born-digital page: ``text`` as real text above a picture of a ruled table (a scanned
    annex pasted in), a third of the page, with no text layer over it."""
    from PIL import ImageDraw

    cell_w, cell_h = 300, 70
    image = Image.new("L", (cell_w * len(rows[0]) + 2, cell_h * len(rows) + 2), 255)
    draw = ImageDraw.Draw(image)
    for r, row in enumerate(rows):
        for c, cell in enumerate(row):
            box = (c * cell_w, r * cell_h, (c + 1) * cell_w, (r + 1) * cell_h)
            draw.rectangle(box, outline=0, width=1)
            draw.text((box[0] + 12, box[1] + 24), cell, fill=0)
    out = io.BytesIO()
    pdf = canvas.Canvas(out, pagesize=size, invariant=1)
    y = size[1] - 80
    for line in text.splitlines():
        pdf.setFont("Helvetica", 11)
        pdf.drawString(60, y, line)
        y -= 17
    data = io.BytesIO()
    image.save(data, format="PNG")
    data.seek(0)
    width = size[0] - 120
    pdf.drawImage(ImageReader(data), 60, 80, width, width * image.height / image.width)
    pdf.showPage()
    pdf.save()
    return out.getvalue()


# --- Arabic born-digital pages, shaped with a real Arabic font (fpdf2 + HarfBuzz) ---------------

# Where Amiri is looked for, in this order: the system's (Debian's fonts-hosny-amiri, as root),
# then the environment's, where envs/tessdata.sh (`make tesseract`) puts it for any other user.
AMIRI_PLACES = (Path("/usr/share/fonts/opentype/fonts-hosny-amiri/Amiri-Regular.ttf"),
                Path(sys.prefix, "share", "fonts", "fonts-hosny-amiri", "Amiri-Regular.ttf"))
_ARABIC = "\u0600-\u06ff"
# An Arabic phrase inside a Latin line, with the numbers that end it: one right-to-left run.
_ARABIC_RUN = re.compile(f"[{_ARABIC}](?:[{_ARABIC}\\s\\d.,:/]*[{_ARABIC}\\d])?")
_HARAKAT = re.compile("[\u064b-\u065f\u0670]")


def amiri() -> Path:
    found = next((place for place in AMIRI_PLACES if place.is_file()), None)
    if found is None:  # the tests need it: never a silent skip
        raise FileNotFoundError(
            f"Amiri is in none of {', '.join(map(str, AMIRI_PLACES))}: run `make tesseract` "
            "(Debian, Ubuntu: no root needed) or install the Debian package fonts-hosny-amiri")
    return found


def _arabic_first(line: str) -> bool:
    """Unicode's paragraph direction: that of the first letter."""
    first = next((c for c in line if c.isalpha()), "")
    return bool(first) and "\u0600" <= first <= "\u06ff"


def _line_runs(line: str) -> list[tuple[str, str]]:
    """A Latin line as runs in reading order, each Arabic phrase a right-to-left one."""
    runs, at = [], 0
    for match in _ARABIC_RUN.finditer(line):
        if match.start() > at:
            runs.append((line[at:match.start()], "ltr"))
        runs.append((match.group(), "rtl"))
        at = match.end()
    if at < len(line):
        runs.append((line[at:], "ltr"))
    return runs


def arabic_pdf(lines: list[str], diacritics: bool = True, font_size: float = 16,
               font_per_line: bool = False) -> bytes:
    """One A4 page, a line each, as an Arabic-aware writer makes it: shaped with HarfBuzz in
    the Amiri font, glyphs in the order they are shown (an Arabic line right-aligned and read
    right to left; an Arabic phrase inside a Latin line shown right to left in its place), and
    a ToUnicode map. ``diacritics=False`` drops the vowel marks (حَبيبي -> حبيبي);
    ``font_per_line``: each line in its own copy of the font (F1, F2...), as a page made of
    pieces has them."""
    from fpdf import FPDF

    pdf = FPDF(format="A4")
    pdf.set_auto_page_break(False)
    pdf.add_page()
    for number, line in enumerate(lines, 1):
        family = f"Amiri{number}" if font_per_line else "Amiri"
        if family.lower() not in pdf.fonts:  # fpdf2 keys its fonts in lower case
            pdf.add_font(family, fname=str(amiri()))
        pdf.set_font(family, size=font_size)
        text = line if diacritics else _HARAKAT.sub("", line)
        pdf.set_xy(20, 20 + (number - 1) * font_size * 0.6)
        if _arabic_first(text):
            pdf.set_text_shaping(True, direction="rtl", script="arab", language="ara")
            pdf.cell(0, font_size * 0.5, text, align="R")
            continue
        for run, direction in _line_runs(text):
            pdf.set_text_shaping(True, direction=direction)
            pdf.cell(pdf.get_string_width(run), font_size * 0.5, run)
    return bytes(pdf.output())


def unshaped_pdf(lines: list[str], font_size: float = 16) -> bytes:
    """A writer that knows nothing of right-to-left scripts: letters drawn left to right in
    the order they are typed, unjoined. The page shows the Arabic words backwards, and every
    reader of its text layer gets them reversed ("يبيبح" for "حبيبي")."""
    from fpdf import FPDF

    pdf = FPDF(format="A4")
    pdf.add_page()
    pdf.add_font("Amiri", fname=str(amiri()))
    pdf.set_font("Amiri", size=font_size)
    for number, line in enumerate(lines):
        pdf.text(60, 80 + number * font_size * 1.6, line)
    return bytes(pdf.output())


_UNICODE_PAIR = re.compile(rb"(<[0-9A-Fa-f]+>\s*)<([0-9A-Fa-f]+)>")


def _rewrite_unicode_maps(data: bytes, target: Callable[[str], str] | None,
                          fonts: set[str] | None) -> bytes:
    """Each ToUnicode map of the page's fonts (or of ``fonts``, resource names like "/F2")
    with every target text passed through ``target`` (None: the map removed)."""
    import pikepdf

    pdf = pikepdf.open(io.BytesIO(data))
    for name, font in pdf.pages[0].Resources.Font.items():
        if fonts is not None and name not in fonts:
            continue
        if target is None:
            del font["/ToUnicode"]
            continue

        def mapped(match: re.Match[bytes]) -> bytes:
            text = bytes.fromhex(match.group(2).decode()).decode("utf-16-be")
            return match.group(1) + b"<" + target(text).encode("utf-16-be").hex().encode() + b">"

        font.ToUnicode.write(_UNICODE_PAIR.sub(mapped, font.ToUnicode.read_bytes()))
    out = io.BytesIO()
    pdf.save(out)
    return out.getvalue()


def without_unicode_maps(data: bytes, fonts: set[str] | None = None) -> bytes:
    """The page with its fonts' ToUnicode maps removed: readers get glyph numbers."""
    return _rewrite_unicode_maps(data, None, fonts)


def with_glyph_codes(data: bytes, fonts: set[str] | None = None) -> bytes:
    """Broken maps that give each Arabic glyph a Greek letter, as a reader taking a font's
    glyph numbers for characters does (glyph 0x3B1 read as "α")."""
    def greek(text: str) -> str:
        return "".join(chr(0x3B1 + (ord(c) - 0x621) % 25) if "\u0621" <= c <= "\u06ff" else c
                       for c in text)
    return _rewrite_unicode_maps(data, greek, fonts)


def _presentation_forms() -> dict[str, str]:
    """Each Arabic letter's first presentation form (U+FE70-U+FEFC)."""
    import unicodedata

    forms: dict[str, str] = {}
    for code in range(0xFE70, 0xFEFD):
        base = unicodedata.normalize("NFKC", chr(code))
        if len(base) == 1 and "\u0621" <= base <= "\u064a":
            forms.setdefault(base, chr(code))
    return forms


def with_presentation_forms(data: bytes) -> bytes:
    """Maps that give the shaped glyphs' presentation forms (U+FExx) instead of letters, as
    some writers do."""
    forms = _presentation_forms()
    return _rewrite_unicode_maps(data, lambda text: "".join(forms.get(c, c) for c in text), None)
