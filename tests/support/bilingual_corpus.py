"""A bilingual corpus made the way administrations make their PDFs, and what a reader checks on it.

The documents are written here in Arabic and French (tests/data/bilingual/*.html: a decree with an
Arabic title and French body, an Arabic decree with French terms and Latin-digit numbers, a table
of names in both scripts, a two-column bilingual notice, a calendar). LibreOffice Writer (Debian's
``libreoffice-writer``, headless) turns each into a PDF; each page is also scanned here (rendered
at 200 dpi, skewed, blurred, noised, saved as JPEG in an image-only PDF). The ground truth of a
page is its source's text in logical order, block by block.

The PDFs are built on first use into a cache folder (``OCRFLOW_PDF_CACHE``, default
``~/.cache/ocrflow/real-pdfs``, under ``bilingual-<hash of the sources>``), never committed.

Measures, per script (Arabic, Latin), on words with letters (numbers apart):
- recall: the share of the truth's words the reading has (as a bag);
- word accuracy: the share of the truth's words the reading has in the truth's order (the longest
  common subsequence per script, so two columns read one after the other cost nothing, but a
  right-to-left line read backwards does);
- dictionary share: the share of the reading's words that are words of the language (wordfreq).
"""

from __future__ import annotations

import difflib
import hashlib
import html.parser
import io
import os
import re
import shutil
import subprocess
import sys
import unicodedata
from collections import Counter
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from ocrflow.text.markup import strip_markup

REPO = Path(__file__).resolve().parents[2]
SOURCES = REPO / "tests" / "data" / "bilingual"
SCAN_DPI = 200
_BLOCKS = {"p", "h1", "h2", "h3", "td", "th", "li", "title"}


class _TextBlocks(html.parser.HTMLParser):
    """The visible text of an HTML page, one block (paragraph, heading, cell) a line."""

    def __init__(self) -> None:
        super().__init__()
        self.blocks: list[str] = []
        self._current: list[str] = []
        self._skip = 0

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag in ("style", "title", "head"):
            self._skip += 1
        elif tag in _BLOCKS:
            self._flush()

    def handle_endtag(self, tag: str) -> None:
        if tag in ("style", "title", "head"):
            self._skip -= 1
        elif tag in _BLOCKS:
            self._flush()

    def handle_data(self, data: str) -> None:
        if not self._skip:
            self._current.append(data)

    def _flush(self) -> None:
        text = " ".join("".join(self._current).split())
        if text:
            self.blocks.append(text)
        self._current = []


def truth(source: Path) -> str:
    parser = _TextBlocks()
    parser.feed(source.read_text(encoding="utf-8"))
    parser.close()
    parser._flush()
    return "\n".join(parser.blocks)


@dataclass(frozen=True)
class CorpusPage:
    doc_id: str  # "born/<name>" or "scan/<name>"
    path: Path
    truth: str

    @property
    def scanned(self) -> bool:
        return self.doc_id.startswith("scan/")


def sources() -> list[Path]:
    return sorted(SOURCES.glob("*.html"))


def _cache_root() -> Path:
    base = Path(os.environ.get("OCRFLOW_PDF_CACHE", Path.home() / ".cache/ocrflow/real-pdfs"))
    digest = hashlib.sha256()
    for source in sources():
        digest.update(source.name.encode() + source.read_bytes())
    digest.update(Path(__file__).read_bytes())  # the scanning recipe
    return base / f"bilingual-{digest.hexdigest()[:12]}"


def libreoffice() -> str | None:
    return shutil.which("soffice") or shutil.which("libreoffice")


def _convert(source: Path, folder: Path) -> Path:
    office = libreoffice()
    if office is None:
        raise RuntimeError("LibreOffice is not installed: apt-get install libreoffice-writer")
    profile = folder / ".lo-profile"  # its own profile: no clash with a running LibreOffice
    subprocess.run([office, f"-env:UserInstallation=file://{profile}", "--headless",
                    "--infilter=HTML (StarWriter)", "--convert-to", "pdf:writer_pdf_Export",
                    "--outdir", str(folder), str(source)],
                   check=True, capture_output=True, timeout=300)
    return folder / f"{source.stem}.pdf"


def scan(pdf: Path, target: Path, seed: int) -> None:
    """An image-only PDF of the page as a scanner gives it: 200 dpi grey, 0.6-1.0 degrees of
    skew, a slight blur, paper noise, JPEG."""
    import numpy as np
    import pypdfium2
    from PIL import Image, ImageFilter

    rng = np.random.default_rng(seed)
    document = pypdfium2.PdfDocument(str(pdf))
    pages = []
    for page in document:
        image = page.render(scale=SCAN_DPI / 72, grayscale=True).to_pil().convert("L")
        angle = float(rng.uniform(0.6, 1.0)) * (1 if seed % 2 else -1)
        image = image.rotate(angle, resample=Image.BICUBIC, expand=True, fillcolor=255)
        image = image.filter(ImageFilter.GaussianBlur(0.6))
        pixels = np.asarray(image, dtype=np.float32) + rng.normal(0, 12, (image.height,
                                                                         image.width))
        noisy = Image.fromarray(np.clip(pixels, 0, 255).astype(np.uint8))
        buffer = io.BytesIO()
        noisy.save(buffer, "JPEG", quality=70)
        pages.append(Image.open(io.BytesIO(buffer.getvalue())))
    document.close()
    tmp = target.with_name(f".{target.name}.tmp")
    pages[0].save(tmp, "PDF", resolution=SCAN_DPI, save_all=True, append_images=pages[1:])
    os.replace(tmp, target)


def build() -> list[CorpusPage]:
    """Every page of the corpus, born-digital and scanned, built once into the cache."""
    root = _cache_root()
    if not (root / "complete").exists():
        tmp = root.with_name(root.name + ".tmp")
        shutil.rmtree(tmp, ignore_errors=True)
        (tmp / "born").mkdir(parents=True)
        (tmp / "scan").mkdir()
        for seed, source in enumerate(sources()):
            born = _convert(source, tmp / "born")
            scan(born, tmp / "scan" / born.name, seed)
        shutil.rmtree(tmp / "born" / ".lo-profile", ignore_errors=True)
        (tmp / "complete").touch()
        shutil.rmtree(root, ignore_errors=True)
        os.replace(tmp, root)
    return [CorpusPage(f"{kind}/{source.stem}", root / kind / f"{source.stem}.pdf",
                       truth(source))
            for kind in ("born", "scan") for source in sources()]


# --- measures --------------------------------------------------------------------------------

_MARKS = re.compile("[\u0640\u064b-\u065f\u0670\u061c\u200b-\u200f\u202a-\u202e\u2066-\u2069]")
_EDGE = re.compile(r"^[\W_]+|[\W_]+$")
SCRIPTS = ("arabic", "latin")


def script_of(word: str) -> str:
    letter = next((c for c in word if c.isalpha()), "")
    if not letter:
        return "number"
    name = unicodedata.name(letter, "")
    return "arabic" if name.startswith("ARABIC") else "latin" if name.startswith("LATIN") \
        else "other"


def words(text: str) -> dict[str, list[str]]:
    """The text's words by script, normalised (NFKC, case-folded, no vowel marks or tatweel, no
    edge punctuation), in order; an HTML table's markup ends a word (its cells are the words)."""
    found: dict[str, list[str]] = {"arabic": [], "latin": [], "number": [], "other": []}
    text = strip_markup(text)
    for raw in _MARKS.sub("", unicodedata.normalize("NFKC", text)).casefold().split():
        word = _EDGE.sub("", raw)
        if word:
            found[script_of(word)].append(word)
    return found


@dataclass
class Scores:
    truth_words: dict[str, int]
    recall: dict[str, float | None]
    accuracy: dict[str, float | None]
    dictionary: dict[str, float | None]

    @property
    def word_accuracy(self) -> float:
        """Both scripts' words in order, together."""
        total = sum(self.truth_words[s] for s in SCRIPTS)
        return sum((self.accuracy[s] or 0) * self.truth_words[s] for s in SCRIPTS) / total


def _dictionary_share(found: list[str], language: str) -> float | None:
    from ocrflow.text.trust import MIN_FREQUENCY, word_frequencies

    if not found:
        return None
    known = word_frequencies(language)
    return sum(known.get(w, 0) >= MIN_FREQUENCY for w in found) / len(found)


def score(reading: str, truth_text: str) -> Scores:
    got, want = words(reading), words(truth_text)
    counts, recall, accuracy, dictionary = {}, {}, {}, {}
    for script, language in (("arabic", "ar"), ("latin", "fr")):
        counts[script] = len(want[script])
        dictionary[script] = _dictionary_share(got[script], language)
        if not want[script]:
            recall[script] = accuracy[script] = None
            continue
        recall[script] = sum((Counter(got[script]) & Counter(want[script])).values()) \
            / len(want[script])
        matcher = difflib.SequenceMatcher(None, want[script], got[script], autojunk=False)
        accuracy[script] = sum(b.size for b in matcher.get_matching_blocks()) / len(want[script])
    return Scores(counts, recall, accuracy, dictionary)


# --- readers ---------------------------------------------------------------------------------

def pdftotext(pdf: Path) -> str:
    """poppler's reading of the text layer (its default: reading order, no layout)."""
    return subprocess.run(["pdftotext", "-enc", "UTF-8", str(pdf), "-"], check=True,
                          capture_output=True, text=True).stdout


def pdfium(pdf: Path) -> str:
    """pdfium's raw text, in the order the PDF draws it."""
    import pypdfium2

    document = pypdfium2.PdfDocument(str(pdf))
    try:
        return "\n".join(page.get_textpage().get_text_range() for page in document)
    finally:
        document.close()


_MARKUP = re.compile(r"<!--.*?-->|</?div[^>]*>|^> \[ocrflow\].*$", re.MULTILINE)


def markdown_text(markdown: str) -> str:
    return _MARKUP.sub(" ", markdown)


def run_pipeline(pages: list[CorpusPage], workdir: Path, repo: Path = REPO,
                 **config: Any) -> dict[str, str]:
    """The pipeline of ``repo`` (another checkout gives "before" figures) with its default
    config's engines over the corpus: each page's Markdown text (markers and direction blocks
    dropped), by doc_id."""
    sheet = workdir / "corpus.tsv"
    workdir.mkdir(parents=True, exist_ok=True)
    sheet.write_text("doc_id\tpath\n" + "".join(f"{p.doc_id}\t{p.path}\n" for p in pages),
                     encoding="utf-8")
    settings = yaml.safe_load((repo / "config" / "config.yaml").read_text())
    settings.update(input=str(sheet), results=str(workdir / "results"),
                    outputs=["markdown", "page_records"], **config)
    (workdir / "config").mkdir(exist_ok=True)
    (workdir / "config" / "config.yaml").write_text(yaml.safe_dump(settings))
    subprocess.run([sys.executable, "-m", "snakemake", "-s", str(repo / "Snakefile"), "-d",
                    str(workdir), "--profile", str(repo / "profiles" / "local"), "--cores", "2"],
                   check=True, capture_output=True, text=True, timeout=1800)
    from ocrflow.core.layout import Layout, document_file

    markdown = Layout.of(workdir / "results").markdown
    return {p.doc_id: markdown_text(document_file(markdown, p.doc_id, "markdown")
                                    .read_text(encoding="utf-8"))
            for p in pages}
