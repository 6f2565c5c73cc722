"""Per-page speed: render+encode milliseconds, and the CPU engine's pages per second.

    python benchmarks/page_speed.py

Uses the example corpus's image-only pages. Rendering is timed in this process (the workflow runs
the same function in isolated workers); rapidocr with all cores.
"""

from __future__ import annotations

import json
import statistics
import time
from pathlib import Path

import yaml

from ocrflow import engines
from ocrflow.engines import PageInput
from ocrflow.inputs.render import RenderSpec, RenderTask, render_page

REPO = Path(__file__).resolve().parent.parent
SCANNED_KINDS = {"scanned", "rotated", "stale_ocr_layer"}


def example_pages() -> list[tuple[str, int]]:
    truth = (REPO / "examples/ground_truth.jsonl").read_text().splitlines()
    pages = []
    for record in map(json.loads, truth):
        if record["kind"] in SCANNED_KINDS:
            suffix = ".PDF" if record["doc_id"].startswith("Mixed/Stale") else ".pdf"
            pages.append((str(REPO / "examples/corpus" / f"{record['doc_id']}{suffix}"),
                          record["page"]))
    return pages


def time_render(pages: list[tuple[str, int]], spec: RenderSpec, rounds: int = 5) -> float:
    times = []
    for _ in range(rounds):
        for path, page in pages:
            started = time.perf_counter()
            render_page(RenderTask(PageInput("h", page, path), spec))
            times.append(time.perf_counter() - started)
    return statistics.median(times) * 1000


def main() -> None:
    pages = example_pages()
    settings = yaml.safe_load((REPO / "config/config.yaml").read_text())["engines"]["rapidocr"]
    engine = engines.create("rapidocr", settings)
    specs = {
        "rapidocr input (150 dpi, raw RGB)": engine.render_spec,
        "VLM input (192 dpi, PNG)": RenderSpec(dpi=192, max_pixels=3072 * 2048, encoding="png"),
    }
    for label, spec in specs.items():
        print(f"render+encode, {label}: {time_render(pages, spec):.1f} ms/page (median)")
    images = [render_page(RenderTask(PageInput("h", n, p), engine.render_spec)) for p, n in pages]
    engine.start()
    engine.recognize(PageInput("warm-up", 1, pages[0][0], image=images[0]))
    started = time.perf_counter()
    for (path, number), image in zip(pages, images, strict=True):
        engine.recognize(PageInput("h", number, path, image=image))
    seconds = time.perf_counter() - started
    print(f"rapidocr: {len(pages)} image-only pages in {seconds:.1f} s: "
          f"{len(pages) / seconds:.2f} pages/s")


if __name__ == "__main__":
    main()
