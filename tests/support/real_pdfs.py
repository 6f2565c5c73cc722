"""Real PDFs that no one here made, labelled once by hand (tests/data/real_pdfs/labels.tsv), pages
made here with known garbling (labelled by construction), and the figures a user checks on them:
false failures, missed failures, no_text precision and text-layer trust accuracy, for the CPU
pipeline and for stand-in VLM readings.

The PDFs are the test files of two PyPI source distributions, downloaded on first use into a
cache folder (``OCRFLOW_PDF_CACHE``, default ``~/.cache/ocrflow/real-pdfs``), never committed.
"""

from __future__ import annotations

import csv
import os
import subprocess
import sys
import tarfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

REPO = Path(__file__).resolve().parents[2]
LABELS = REPO / "tests" / "data" / "real_pdfs" / "labels.tsv"
SDISTS = {"ocrmypdf": "17.13.0", "pikepdf": "10.17.0"}
READ = ("ok", "recovered")
NOTHING_TO_READ = ("no_text", "blank")


@dataclass(frozen=True)
class Label:
    sdist: str  # "made" for the pages made here
    path: str  # inside the source distribution, or the made file's name
    page: int | None  # None: the file itself (unreadable)
    content: str  # text, no_text, blank, bad_page, unreadable
    layer: str  # trusted, untrusted, none
    why: str

    @property
    def doc_id(self) -> str:
        return f"{self.sdist}/{Path(self.path).with_suffix('')}".replace(" ", "_")


def labels() -> list[Label]:
    lines = [line for line in LABELS.read_text(encoding="utf-8").splitlines()
             if not line.startswith("#")]
    return [Label(r["sdist"], r["path"], None if r["page"] == "-" else int(r["page"]),
                  r["content"], r["layer"], r["why"])
            for r in csv.DictReader(lines, delimiter="\t")]


MINUTES = """The committee met on Tuesday to review the annual budget of the harbour.
Members agreed that the new quay should be finished before the winter storms,
and asked the engineers for a report on the cost of dredging the channel.
The chairman thanked the staff for their work during a difficult year."""
DECREE = """Le conseil municipal s'est réuni mardi pour examiner le budget annuel du port.
Les membres ont convenu que le nouveau quai devait être achevé avant l'hiver,
et ont demandé aux ingénieurs un rapport sur le coût du dragage du chenal."""


def made_pdfs() -> dict[str, tuple[bytes, str, str, str]]:
    """name -> (PDF, content, layer, why): pages with a known garbling, and pages that look
    suspicious but are right."""
    import json

    from tests.support import pdfs

    noise = "\n".join(" ".join(["1I1", "l1I", "I", "11l", "lI1 1l"]) for _ in range(4))
    filler = ("Lorem ipsum dolor sit amet, consectetur adipiscing elit, sed do eiusmod tempor "
              "incididunt ut labore et dolore magna aliqua.\n") * 14
    outline = "Contents\n" + "\n".join(f"{i} Section {i} {'.' * 50} {i + 1}" for i in range(1, 30))
    listing = json.dumps({"harbour": "north", "berths": list(range(1, 25)), "depth_m": 12.5},
                         indent=1)
    return {
        "shifted.pdf": (pdfs.sandwich_pdf([(MINUTES, pdfs.letter_shift(MINUTES))]), "text",
                        "untrusted", "scan whose OCR layer is letter-shifted"),
        "poor_ocr.pdf": (pdfs.sandwich_pdf([(MINUTES, pdfs.ocr_noise(MINUTES, 0.9))]), "text",
                         "untrusted", "scan with a poor OCR layer (most words mangled)"),
        "noise_layer.pdf": (pdfs.sandwich_pdf([(MINUTES, noise)]), "text", "untrusted",
                            "scan whose OCR layer is 1I1 l noise"),
        "good_ocr.pdf": (pdfs.sandwich_pdf([(MINUTES, MINUTES)]), "text", "trusted",
                         "scan with an exact OCR layer"),
        "slide.pdf": (pdfs.slide_pdf("Harbour works 2024\nNew quay: 120 m\nDredging: 40,000 m3",
                                     "Annual meeting of the harbour board"), "text", "untrusted",
                      "slide: its text is in the picture, a caption is the layer"),
        "filler.pdf": (pdfs.text_pdf([filler]), "text", "trusted", "filler text that repeats"),
        "outline.pdf": (pdfs.text_pdf([outline]), "text", "trusted", "contents with dot leaders"),
        "listing.pdf": (pdfs.text_pdf([listing]), "text", "trusted", "a JSON listing"),
        "decree.pdf": (pdfs.text_pdf([DECREE]), "text", "trusted", "born-digital French"),
        "photo.pdf": (pdfs.noise_pdf(5), "no_text", "none", "blotches, no text"),
        "blank.pdf": (pdfs.text_pdf([""]), "blank", "none", "an empty page"),
    }


def made_labels() -> list[Label]:
    return [Label("made", name, 1, content, layer, why)
            for name, (_, content, layer, why) in made_pdfs().items()]


def cache_dir() -> Path:
    default = Path.home() / ".cache" / "ocrflow" / "real-pdfs"
    return Path(os.environ.get("OCRFLOW_PDF_CACHE", default))


def download_sdist(name: str, version: str, root: Path) -> Path:
    """A source distribution from PyPI into ``root`` (once): its archive. Raises RuntimeError
    when PyPI cannot be reached."""
    archive = root / f"{name.replace('-', '_')}-{version}.tar.gz"  # PEP 625's file name
    if archive.exists():
        return archive
    root.mkdir(parents=True, exist_ok=True)
    result = subprocess.run(
        [sys.executable, "-m", "pip", "download", "--quiet", "--no-binary", ":all:",
         "--no-deps", f"{name}=={version}", "-d", str(root)],
        capture_output=True, text=True, timeout=600)
    if result.returncode != 0 or not archive.exists():
        raise RuntimeError(f"cannot download {name}=={version}: "
                           f"{(result.stderr.strip().splitlines() or ['?'])[-1]}")
    return archive


def fetch() -> Path:
    """The PDFs of both source distributions, unpacked under the cache folder (downloaded with
    pip the first time). Raises RuntimeError when PyPI cannot be reached."""
    root = cache_dir()
    for name, version in SDISTS.items():
        folder = root / f"{name}-{version}"
        if folder.is_dir():
            continue
        archive = download_sdist(name, version, root)
        tmp = root / f".{name}-{version}.tmp"
        with tarfile.open(archive) as tar:
            members = [m for m in tar.getmembers() if m.isfile()
                       and m.name.lower().endswith(".pdf")]
            tar.extractall(tmp, members=members, filter="data")
        os.replace(tmp / f"{name}-{version}", folder)
        tmp.rmdir()
    return root


def write_sheet(root: Path, sheet: Path) -> None:
    """A sample sheet (doc_id, path) of every labelled file, the made ones written beside it."""
    rows = {label.doc_id: root / f"{label.sdist}-{SDISTS[label.sdist]}" / label.path
            for label in labels()}
    made = sheet.parent / "made"
    made.mkdir(parents=True, exist_ok=True)
    for name, (data, *_) in made_pdfs().items():
        (made / name).write_bytes(data)
        rows[Label("made", name, 1, "", "", "").doc_id] = made / name
    sheet.parent.mkdir(parents=True, exist_ok=True)
    sheet.write_text("doc_id\tpath\n" + "".join(f"{d}\t{p}\n" for d, p in rows.items()),
                     encoding="utf-8")


def run_pipeline(workdir: Path, repo: Path = REPO, **config: Any) -> Path:
    """The CPU pipeline (``repo``'s Snakefile, default config) over every labelled file; the
    results folder."""
    sheet = workdir / "labelled.tsv"
    write_sheet(fetch(), sheet)
    # The tests' own CPU config; an older checkout (--repo) has none: its default config.
    own = repo / ".test" / "config" / "cpu.yaml"
    settings = yaml.safe_load((own if own.exists() else repo / "config" / "config.yaml")
                              .read_text())
    settings.update(input=str(sheet), results=str(workdir / "results"), **config)
    if "page_records" in (repo / "config" / "schema.yaml").read_text():
        settings["outputs"] = ["markdown", "page_records"]  # the stand-in VLM reads them
    (workdir / "config").mkdir(parents=True, exist_ok=True)
    (workdir / "config" / "config.yaml").write_text(yaml.safe_dump(settings))
    subprocess.run([sys.executable, "-m", "snakemake", "-s", str(repo / "Snakefile"), "-d",
                    str(workdir), "--profile", str(repo / "profiles" / "local"), "--cores", "2"],
                   check=True, capture_output=True, text=True, timeout=3000)
    return workdir / "results"


def _read_jsonl(path: Path) -> list[dict[str, Any]]:
    import json

    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line]


def outcomes(results: Path) -> tuple[dict[tuple[str, int | None], dict[str, Any]],
                                     dict[tuple[str, int], dict[str, Any]]]:
    """(final page rows, inventory pages), keyed by (doc_id, page)."""
    from ocrflow.core.layout import Layout
    from ocrflow.inputs import corpus

    layout, shards = Layout.of(results), corpus.existing_shards(results)
    rows = {(r["doc_id"], r["page"]): r for s in shards for r in _read_jsonl(layout.pages(s))}
    pages = {(d["doc_id"], p["page"]): p for s in shards
             for d in _read_jsonl(layout.inventory(s)) for p in d["pages"]}
    return rows, pages


def layer_trusted(page: dict[str, Any]) -> bool:
    """Whether the pipeline took the layer as good (before trust existed: any usable layer)."""
    if "trust" in page:
        return bool(page["trust"] and page["trust"]["trusted"])
    return bool(page.get("has_text_layer"))


def pipeline_figures(results: Path, chosen: list[Label]) -> dict[str, Any]:
    """What a user checks on the ``chosen`` labelled pages after a CPU run."""
    rows, pages = outcomes(results)
    false_failures, missed, trust_right, trust_total, true_failures = [], [], 0, 0, []
    trust_wrong: list[str] = []
    no_text_right, no_text_total, read_text = 0, 0, 0
    text_pages = [label for label in chosen if label.content == "text"]
    for label in chosen:
        row = rows.get((label.doc_id, label.page))
        assert row is not None, f"no final row for {label.doc_id} page {label.page}"
        where = f"{label.doc_id} p{label.page}"
        if label.content == "unreadable":
            if row["status"] != "unreadable":
                missed.append(f"{where}: {row['status']}, labelled unreadable")
            continue
        page = pages[(label.doc_id, label.page)]
        if label.layer != "none":
            trust_total += 1
            if layer_trusted(page) == (label.layer == "trusted"):
                trust_right += 1
            else:
                trust_wrong.append(f"{where}: layer labelled {label.layer}, judged otherwise "
                                   f"({'; '.join((page.get('trust') or {}).get('reasons', []))})")
        status = row["status"]
        if status == "no_text":
            no_text_total += 1
            no_text_right += label.content in NOTHING_TO_READ
        if status == "failed" and (label.content in NOTHING_TO_READ or label.layer == "trusted"):
            false_failures.append(f"{where}: failed ({', '.join(row['reasons'])}), "
                                  f"labelled {label.content}/{label.layer}")
        if label.content == "text":
            if status in READ and row["n_chars"] > 0:
                read_text += 1
                if row["engine"] == "textlayer" and label.layer == "untrusted":
                    missed.append(f"{where}: {status} from an untrusted text layer")
            elif status == "failed":
                true_failures.append(where)
            else:
                missed.append(f"{where}: {status} with {row['n_chars']} chars, labelled text")
    return {"pages": len([lb for lb in chosen if lb.page is not None]),
            "false_failures": len(false_failures), "missed_failures": len(missed),
            "no_text_precision": round(no_text_right / no_text_total, 3) if no_text_total
            else None, "no_text_pages": no_text_total,
            "trust_accuracy": round(trust_right / trust_total, 3), "trust_pages": trust_total,
            "text_pages_read": read_text, "text_pages": len(text_pages),
            "text_pages_failed": len(true_failures),
            "details": {"false": false_failures, "missed": missed, "failed": true_failures,
                        "trust": trust_wrong}}


# Stand-in VLM readings, from the failure modes in engines.md: a good reading, a generation
# loop, prose written on an empty page, and a page answered with a picture block only.
def _loop(text: str) -> str:
    sentence = (text.strip().splitlines() or ["the the"])[-1][:80] or "the the"
    return text + ("\n" + sentence) * max(60, 6000 // (len(sentence) + 1))


PROSE = ("The document describes the annual results of the company and the outlook for the "
         "coming year, with a summary of the main figures and the opinion of the auditors. ") * 3
PICTURE = "![](p1-0.webp)"


def vlm_figures(results: Path, chosen: list[Label]) -> dict[str, Any]:
    """Detection and merge on stand-in VLM readings of the ``chosen`` labelled pages."""
    # ImportError in a checkout older than the typed records: trust_labels.py says so
    from ocrflow.core.records import InventoryPage, Reading, Verdict
    from ocrflow.results.merge import resolve_page
    from ocrflow.run import config
    from ocrflow.text import detect
    from ocrflow.text.settings import DetectionSettings, TrustSettings

    defaults = config.validate({"input": "x"})
    detection = DetectionSettings.from_config(defaults["detection"])
    trust_settings = TrustSettings.from_config(defaults["trust"])
    rows, pages = outcomes(results)
    false_failures, missed, no_text_right, no_text_total, no_text_expected = [], [], 0, 0, 0

    def judged(engine: str, text: str, page: InventoryPage) -> tuple[Reading, Verdict]:
        reading = Reading("doc", "h", 1, engine, text)
        return reading, detect.judge(reading, page, detection, trust_settings)

    for label in chosen:
        if label.page is None or label.content == "bad_page":
            continue
        page, row = pages[(label.doc_id, label.page)], rows[(label.doc_id, label.page)]
        inventoried = InventoryPage.from_json(page)
        where = f"{label.doc_id} p{label.page}"
        if label.content == "text" and row["status"] in READ and row["n_chars"] >= 20:
            good = _page_text(results, label.doc_id, label.page)
            # Chandra and DeepSeek-OCR both read the page right (what really repeats is
            # flagged by each, and settled by their agreement): it must not end failed.
            if resolve_page(inventoried, judged("chandra", good, inventoried),
                            judged("deepseek", good, inventoried)).status == "failed":
                false_failures.append(f"{where}: a good reading failed")
            if judged("chandra", _loop(good), inventoried)[1].ok:
                missed.append(f"{where}: a generation loop passed")
        empty = page["ink"] < defaults["detection"]["min_ink"] and not page["has_text_layer"]
        if label.content == "blank" and empty and judged("chandra", PROSE, inventoried)[1].ok:
            missed.append(f"{where}: prose on an empty page passed")
        if label.content in NOTHING_TO_READ or page["text_layer"].strip():
            # Chandra answers a picture block, DeepSeek-OCR (recovery) answers nothing.
            final = resolve_page(inventoried, judged("chandra", PICTURE, inventoried),
                                 judged("deepseek", "", inventoried)).status
            if label.content == "no_text":
                no_text_expected += 1
            if final == "no_text":
                no_text_total += 1
                no_text_right += label.content in NOTHING_TO_READ
            elif label.content == "no_text":
                false_failures.append(f"{where}: a picture-only page ended {final}")
    return {"false_failures": len(false_failures), "missed_failures": len(missed),
            "no_text_precision": round(no_text_right / no_text_total, 3) if no_text_total
            else None, "no_text_recall": round(no_text_right / max(1, no_text_expected), 3),
            "details": {"false": false_failures, "missed": missed}}


def _page_text(results: Path, doc_id: str, page: int) -> str:
    for record in _read_jsonl(results / "markdown" / f"{doc_id}.pages.jsonl"):
        if record["page"] == page:
            return record["text"]
    return ""
