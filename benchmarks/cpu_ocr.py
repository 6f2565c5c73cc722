"""The CPU OCR engines side by side with OCRmyPDF: speed and accuracy on real pages.

    python benchmarks/cpu_ocr.py [--ocrmypdf PATH] [--engines rapidocr,tesseract,ocrmypdf]
                                 [--set tesseract.dpi=200 ...] [--ocrmypdf-languages eng]

The pages are real pages whose text layer is their reference (born-digital text, or a good OCR
layer over a real scan): the PDFs with the most text among the OCRmyPDF 17.13.0 and pikepdf
10.17.0 test files (tests/support/real_pdfs.py fetches them: a two-column scanned flyer, government
forms, a scanned recipe, a table of contents), and, where Debian's libtasn1-doc and
shared-mime-info are installed, pages of their manuals (prose, code, a two-column index).
Each page is rendered at 300 dpi in grey and saved as one image-only PDF; then

- ocrflow's engines read it as an OCR job does (``ocrflow.engines.ocr.ShardRun``: pages rendered in
a
  worker process as the engine reads, the engine given the job's cores);
- OCRmyPDF reads it with ``--jobs 2 --force-ocr --output-type pdf --sidecar`` (install it where
  you like, e.g. ``python -m venv /tmp/ocrmypdf && /tmp/ocrmypdf/bin/pip install ocrmypdf``; it
  uses the system's tesseract and ghostscript).

Printed per engine: pages/s (wall clock, model loading included), CPU seconds per page (the
figure to compare when something else shares the cores), word accuracy in reading
order (1 - word-level Levenshtein distance / reference words, over all pages; words case-folded,
punctuation stripped) and bag-of-words F1.
"""

from __future__ import annotations

import argparse
import io
import os
import resource
import shutil
import subprocess
import sys
import tempfile
import time
import unicodedata
from collections import Counter
from pathlib import Path

import yaml
from rapidfuzz.distance import Levenshtein

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from ocrflow import engines  # noqa: E402
from ocrflow.core.store import PageStore  # noqa: E402
from ocrflow.engines import PageInput  # noqa: E402
from ocrflow.engines.ocr import ShardRun  # noqa: E402
from ocrflow.run import config  # noqa: E402
from ocrflow.run.settings import Settings  # noqa: E402
from tests.support import real_pdfs  # noqa: E402

SCAN_DPI = 300
# (folder under the real-PDF cache, or an absolute path; file; pages, 1-based)
SDIST_PAGES = [
    ("pikepdf-10.17.0", "tests/resources/sandwich.pdf", [1]),  # two-column flyer, real scan
    ("pikepdf-10.17.0", "tests/resources/jbig2global.pdf", [1]),  # scanned Dutch recipe
    ("pikepdf-10.17.0", "tests/resources/form_210966.pdf", [1, 2]),
    ("pikepdf-10.17.0", "tests/resources/form_dd0293.pdf", [1, 2, 3, 4]),
    ("pikepdf-10.17.0", "tests/resources/outlines.pdf", [1]),
    ("ocrmypdf-17.13.0", "tests/resources/tagged.pdf", [1]),  # contents with dot leaders, a table
]
SYSTEM_PAGES = [
    ("/usr/share/doc/libtasn1-doc", "libtasn1.pdf", [4, 8, 11, 15, 20, 27, 31, 36]),
    ("/usr/share/doc/shared-mime-info", "shared-mime-info-spec.pdf", [2, 3, 4, 5, 8, 9, 14, 15]),
]


def source_pages() -> list[tuple[Path, int]]:
    root = real_pdfs.fetch()
    pages = [(root / folder / name, n) for folder, name, numbers in SDIST_PAGES for n in numbers]
    for folder, name, numbers in SYSTEM_PAGES:
        if (Path(folder) / name).exists():
            pages += [(Path(folder) / name, n) for n in numbers]
    return pages


def make_scans(pages: list[tuple[Path, int]], out: Path) -> list[str]:
    """One image-only PDF of every page at SCAN_DPI; the pages' text layers, the references."""
    import pypdfium2 as pdfium
    from reportlab.lib.utils import ImageReader
    from reportlab.pdfgen import canvas

    references = []
    pdf = canvas.Canvas(str(out), invariant=1)
    for path, number in pages:
        document = pdfium.PdfDocument(str(path))
        page = document[number - 1]
        references.append(page.get_textpage().get_text_range())
        width, height = page.get_size()
        image = page.render(scale=SCAN_DPI / 72, grayscale=True).to_pil().convert("L")
        data = io.BytesIO()
        image.save(data, format="PNG")
        data.seek(0)
        pdf.setPageSize((width, height))
        pdf.drawImage(ImageReader(data), 0, 0, width, height)
        pdf.showPage()
        document.close()
    pdf.save()
    return references


def words(text: str) -> list[str]:
    """Case-folded words without their punctuation; a token of punctuation only is dropped."""
    kept = ("".join(c for c in token if not unicodedata.category(c).startswith("P"))
            for token in text.casefold().split())
    return [word for word in kept if word]


def scores(texts: list[str], references: list[str]) -> tuple[float, float]:
    """(word accuracy in reading order, bag-of-words F1), over all pages together."""
    distance = found = common = expected = 0
    for text, reference in zip(texts, references, strict=True):
        got, want = words(text), words(reference)
        distance += Levenshtein.distance(got, want)
        common += sum((Counter(got) & Counter(want)).values())
        found += len(got)
        expected += len(want)
    precision, recall = common / max(found, 1), common / max(expected, 1)
    f1 = 2 * precision * recall / (precision + recall) if precision + recall else 0.0
    return 1 - distance / expected, f1


def run_engine(name: str, settings: dict, scans: Path, n_pages: int, work: Path,
               threads: int) -> tuple[list[str], float]:
    defaults = config.validate({"input": "x"})
    engine = engines.create(name, {**defaults["engines"][name], **settings}, threads)
    store = PageStore(work / "store", engine.name, engine.fingerprint())
    shutil.rmtree(store.dir, ignore_errors=True)  # read every page, every time
    pages = [PageInput("scans", n, str(scans), doc_id="scans") for n in range(1, n_pages + 1)]
    started = time.perf_counter()
    typed = Settings.from_config(defaults)
    readings, _ = ShardRun(engine, store, "benchmark", typed.render, typed.ocr).execute(pages)
    seconds = time.perf_counter() - started
    errors = [r.error for r in readings if r.error]
    if errors:
        print(f"  {name}: {len(errors)} pages failed, first: {errors[0]}")
    return [r.text for r in sorted(readings, key=lambda r: r.page)], seconds


def run_ocrmypdf(program: str, scans: Path, n_pages: int, work: Path, languages: str,
                 jobs: int) -> tuple[list[str], float]:
    sidecar = work / "ocrmypdf.txt"
    started = time.perf_counter()
    subprocess.run([program, "--jobs", str(jobs), "--force-ocr", "--output-type", "pdf",
                    "-l", languages, "--sidecar", str(sidecar), "--quiet", str(scans),
                    str(work / "ocrmypdf.pdf")], check=True)
    seconds = time.perf_counter() - started
    texts = sidecar.read_text(encoding="utf-8").split("\f")  # a form feed between pages
    return texts[:n_pages], seconds


def cpu_seconds() -> float:
    """CPU time of this process and of its finished children (render workers, OCRmyPDF)."""
    own, children = (resource.getrusage(who) for who in
                     (resource.RUSAGE_SELF, resource.RUSAGE_CHILDREN))
    return own.ru_utime + own.ru_stime + children.ru_utime + children.ru_stime


def parse_sets(items: list[str]) -> dict[str, dict]:
    changes: dict[str, dict] = {}
    for item in items:
        key, _, value = item.partition("=")
        engine, _, setting = key.partition(".")
        changes.setdefault(engine, {})[setting] = yaml.safe_load(value)
    return changes


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--engines", default="rapidocr,tesseract,ocrmypdf")
    parser.add_argument("--set", action="append", default=[], metavar="ENGINE.KEY=VALUE",
                        help="an engine setting, e.g. tesseract.dpi=200 (repeatable)")
    parser.add_argument("--ocrmypdf", default=shutil.which("ocrmypdf") or
                        "/tmp/ocrmypdf-venv/bin/ocrmypdf", help="the ocrmypdf program")
    parser.add_argument("--ocrmypdf-languages", default="eng", help="its -l (default: eng, "
                        "OCRmyPDF's own default)")
    parser.add_argument("--threads", type=int, default=os.cpu_count() or 1,
                        help="cores for each engine (OCRmyPDF --jobs)")
    args = parser.parse_args()
    sets = parse_sets(args.set)
    pages = source_pages()
    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp)
        scans = work / "scans.pdf"
        references = make_scans(pages, scans)
        print(f"{len(pages)} pages ({sum(map(len, map(words, references)))} reference words), "
              f"image-only at {SCAN_DPI} dpi, {args.threads} cores")
        for name in args.engines.split(","):
            cpu = cpu_seconds()
            if name == "ocrmypdf":
                if not Path(args.ocrmypdf).exists():
                    print(f"ocrmypdf: {args.ocrmypdf} not found, skipped (--ocrmypdf PATH)")
                    continue
                texts, seconds = run_ocrmypdf(args.ocrmypdf, scans, len(pages), work,
                                              args.ocrmypdf_languages, args.threads)
                label = f"ocrmypdf -l {args.ocrmypdf_languages}"
            else:
                texts, seconds = run_engine(name, sets.get(name, {}), scans, len(pages), work,
                                            args.threads)
                label = f"{name} {sets[name]}" if name in sets else name
            cpu = cpu_seconds() - cpu
            ordered, f1 = scores(texts, references)
            print(f"{label}: {len(pages) / seconds:.2f} pages/s ({seconds:.1f} s, "
                  f"{cpu / len(pages):.2f} CPU s/page), word accuracy in reading order "
                  f"{ordered:.3f}, bag-of-words F1 {f1:.3f}")


if __name__ == "__main__":
    main()
