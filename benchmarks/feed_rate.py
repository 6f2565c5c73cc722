"""How well one job feeds a GPU engine: Chandra's client path against a loopback server.

    python benchmarks/feed_rate.py [--pages 300] [--delay-mean 6] [--delay-pages 600]

1. An instantly answering server: pages per second one job renders, encodes and sends at
   Chandra's image size (render workers = cores), as PNG (the default) and as JPEG.
2. A server answering after a random delay (exponential, --delay-mean seconds; Chandra's published
   benchmark implies about 60 s per page at 96 concurrent sequences): requests in flight over
   time, and throughput as a fraction of the ideal (96 slots always busy).

The server is tests/support/fake_vllm.py, started with the command line the Chandra engine builds;
the
pages are the example corpus's scans, repeated.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from ocrflow import engines  # noqa: E402
from ocrflow.core.records import PageInput  # noqa: E402
from ocrflow.core.store import PageStore  # noqa: E402
from ocrflow.engines.ocr import ShardRun  # noqa: E402
from ocrflow.engines.server import ModelServer, free_port  # noqa: E402
from ocrflow.inputs.settings import RenderSettings  # noqa: E402
from ocrflow.run import config  # noqa: E402
from ocrflow.run.settings import Settings  # noqa: E402
from tests.support.stand_in import served_command  # noqa: E402

SCANS = ["scanned/arrete_fr.pdf", "scanned/harbour_minutes.pdf", "Mixed/Stale_OCR_Layer.PDF"]


def corpus(folder: Path, n_pages: int) -> Path:
    import pypdfium2 as pdfium

    out = pdfium.PdfDocument.new()
    sources = [pdfium.PdfDocument(REPO / "examples/corpus" / s) for s in SCANS]
    while len(out) < n_pages:
        for source in sources:
            out.import_pages(source)
    path = folder / "scans.pdf"
    out.save(path)
    return path


def serve(folder: Path, plan: dict) -> tuple[subprocess.Popen[bytes], str, Path]:
    (folder / "plan.json").write_text(json.dumps(plan))
    log = folder / "requests.jsonl"
    port = free_port()
    env = {**os.environ, "FAKE_VLLM_PLAN": str(folder / "plan.json"), "FAKE_VLLM_LOG": str(log),
           "FAKE_VLLM_STARTUP_S": "0"}
    process = subprocess.Popen([*served_command("chandra"), "--port", str(port)], env=env)
    probe = ModelServer(["x"], [], folder / "probe.log", port=port)
    while not probe.ready():
        time.sleep(0.1)
    return process, probe.base_url, log


def feed(folder: Path, pdf: Path, n_pages: int, url: str, workers: int,
         image_format: str = "png") -> float:
    settings = {**config.validate({"input": "x"})["engines"]["chandra"], "endpoint": url,
                "image_format": image_format}
    engine = engines.create("chandra", settings)
    store = PageStore(folder / f"store-{time.monotonic_ns()}", engine.name, engine.fingerprint())
    render = RenderSettings(workers=workers, prefetch=2 * workers, timeout_s=60)
    work = [PageInput("f" * 32, number, str(pdf), doc_id="scans")  # the big PDF's own pages
            for number in range(1, n_pages + 1)]
    started = time.monotonic()
    policy = Settings.from_config(config.validate({"input": "x"})).ocr
    _, stats = ShardRun(engine, store, "primary", render, policy).execute(work)
    assert stats["pages_sent"] == n_pages
    return time.monotonic() - started


def in_flight_profile(log: Path, slots: int) -> tuple[list[tuple[float, int]], float, float]:
    """(second, requests in flight) samples, mean in flight until the last page was sent,
    and that as a share of the slots."""
    events = []
    for line in Path(f"{log}.timing").read_text().splitlines():
        start, delay = map(float, line.split())
        events.append((start, start + delay))
    first, last_start = min(s for s, _ in events), max(s for s, _ in events)
    samples = []
    t = first
    while t <= max(e for _, e in events):
        samples.append((t - first, sum(1 for s, e in events if s <= t < e)))
        t += 1.0
    steady = [n for second, n in samples if second <= last_start - first]
    mean = sum(steady) / max(1, len(steady))
    return samples, mean, mean / slots


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--pages", type=int, default=300)
    parser.add_argument("--delay-mean", type=float, default=6.0)
    parser.add_argument("--delay-pages", type=int, default=600)
    parser.add_argument("--workers", type=int, default=os.cpu_count() or 2)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        pdf = corpus(folder, max(args.pages, args.delay_pages))
        (folder / "instant").mkdir()
        server, url, _ = serve(folder / "instant", {"skip_decode": True})
        try:
            for image_format in ("png", "jpeg"):
                seconds = feed(folder, pdf, args.pages, url, args.workers, image_format)
                print(f"instant server: {args.pages} pages in {seconds:.1f} s = "
                      f"{args.pages / seconds:.1f} pages/s fed by one job ({args.workers} "
                      f"render workers, Chandra's image size, {image_format.upper()})")
        finally:
            server.kill()
        (folder / "slow").mkdir()
        plan = {"skip_decode": True, "delay_mean_s": args.delay_mean, "log_timing": True}
        server, url, log = serve(folder / "slow", plan)
        try:
            seconds = feed(folder, pdf, args.delay_pages, url, args.workers)
        finally:
            server.kill()
        samples, mean, share = in_flight_profile(log, 96)
        ideal = 96 / args.delay_mean
        print(f"server answering in {args.delay_mean:g} s on average (exponential), 96 slots: "
              f"{args.delay_pages} pages in {seconds:.0f} s")
        step = max(1, len(samples) // 12)
        print("  in flight over time: " + ", ".join(f"{s:.0f}s:{n}" for s, n in
                                                     samples[::step]))
        print(f"  mean in flight until the last page was sent: {mean:.1f} of 96 "
              f"({share:.1%} of the ideal {ideal:.2f} pages/s)")


if __name__ == "__main__":
    main()
