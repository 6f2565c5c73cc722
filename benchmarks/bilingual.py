"""Mixed Arabic and French pages: what ocrflow reads of each script, against poppler's
``pdftotext`` and pdfium's raw text, on the bilingual corpus (tests/support/bilingual_corpus.py:
PDFs made
by LibreOffice from documents written here, and scans of them).

    python benchmarks/bilingual.py [--repo PATH]

Runs the pipeline with the default config's engines (the text layer, then Tesseract for the
pages that fail; of the checkout at PATH, for "before" figures), then prints per page and in
total: Arabic and French word recall against the ground truth, word accuracy (in order), and the
dictionary share of the words read. A scan has no text layer: pdftotext and pdfium read nothing
there.

Then, for each scan, what Tesseract's reading of a page mixing scripts costs (this checkout's
default settings): its CPU time against the same page read once (script detection and one
reading: ``recheck_below: 0``), the best of three of each, one thread.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from tests.support import bilingual_corpus as corpus

REPEATS = 3


def _cell(value: float | None) -> str:
    return "   -" if value is None else f"{value:4.2f}"


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--repo", type=Path, default=corpus.REPO)
    args = parser.parse_args()
    pages = corpus.build()
    with tempfile.TemporaryDirectory() as tmp:
        started = time.monotonic()
        ocrflow = corpus.run_pipeline(pages, Path(tmp), repo=args.repo.resolve())
        seconds = time.monotonic() - started
    readers = {"ocrflow": lambda p: ocrflow[p.doc_id], "pdftotext": lambda p: corpus.pdftotext(
        p.path), "pdfium": lambda p: corpus.pdfium(p.path)}
    print(f"{'page':26} {'reader':9}  ar recall  fr recall  accuracy  ar dict  fr dict")
    totals: dict[str, dict[str, list[float]]] = {}
    for page in pages:
        for name, read in readers.items():
            scores = corpus.score(read(page), page.truth)
            recall, dictionary = scores.recall, scores.dictionary
            print(f"{page.doc_id:26} {name:9}  {_cell(recall['arabic']):>9}  "
                  f"{_cell(recall['latin']):>9}  {scores.word_accuracy:8.2f}  "
                  f"{_cell(dictionary['arabic']):>7}  {_cell(dictionary['latin']):>7}")
            kind = "scan" if page.scanned else "born"
            bucket = totals.setdefault(f"{kind} {name}", {"ar": [], "fr": [], "acc": []})
            for key, script in (("ar", "arabic"), ("fr", "latin")):
                if scores.recall[script] is not None:
                    bucket[key].append(scores.recall[script])
            bucket["acc"].append(scores.word_accuracy)
    print()
    print(f"{'pages, reader':26}  ar recall (min)   fr recall (min)   accuracy (min)")
    for name, bucket in totals.items():
        row = [f"{sum(v) / len(v):.3f} ({min(v):.2f})" for v in bucket.values()]
        print(f"{name:26}  {row[0]:>15}   {row[1]:>15}   {row[2]:>14}")
    print(f"\npipeline run on {len(pages)} pages: {seconds:.0f} s")
    print("\nTesseract's CPU time on each scan against one reading (recheck_below: 0)")
    costs = [(page.doc_id, *seconds) for page, seconds in
             zip([p for p in pages if p.scanned], reading_costs([p for p in pages if p.scanned]),
                 strict=True)]
    for doc_id, once, mixed in costs:
        print(f"{doc_id:26} {once:5.2f} s  {mixed:5.2f} s  {mixed / once:4.2f}x")
    print(f"{'highest':26} {'':15} {max(mixed / once for _, once, mixed in costs):4.2f}x")


def reading_costs(pages: list[corpus.CorpusPage]) -> list[tuple[float, float]]:
    """CPU seconds of each page read once and read as the default settings read it."""
    import yaml

    from ocrflow.core.records import PageInput
    from ocrflow.engines.tesseract import TesseractEngine
    from ocrflow.inputs.render import RenderTask, render_page
    from ocrflow.run.config import validate

    config = yaml.safe_load((corpus.REPO / "config" / "config.yaml").read_text())
    settings = validate({**config, "input": "-", "results": "-"})["engines"]["tesseract"]
    seconds: list[list[float]] = [[] for _ in pages]
    for recheck_below in (0, settings["recheck_below"]):
        engine = TesseractEngine({**settings, "recheck_below": recheck_below, "threads": 1})
        engine.start()
        try:
            for page, spent in zip(pages, seconds, strict=True):
                image = render_page(RenderTask(PageInput(page.doc_id, 1, str(page.path)),
                                               engine.render_spec))
                rendered = PageInput(page.doc_id, 1, str(page.path), image=image)
                engine.recognize(rendered)  # the models and the dictionaries loaded
                times = []
                for _ in range(REPEATS):
                    started = time.thread_time()
                    engine.recognize(rendered)
                    times.append(time.thread_time() - started)
                spent.append(min(times))
        finally:
            engine.close()
    return [(once, mixed) for once, mixed in seconds]


if __name__ == "__main__":
    main()
