"""Chandra (datalab-to/chandra-ocr-2) on vLLM's OpenAI-compatible API.

Chandra's own prompt, image scaling and HTML-to-Markdown parser come from the ``chandra-ocr``
package (envs/chandra.yaml). An answer is streamed and closed as soon as it loops (loops.py). A page
whose output repeats itself is asked again with a rising temperature, as Chandra's own client does
(up to max_retries times), or, where a recovery engine reads the pages Chandra fails, at most
retries_with_recovery times: a page that loops twice goes to the engine that exists to read it.
Each request's tokens are recorded. A failed request is not asked again here: the client has
retried what can pass, and a rejected request stays rejected.
Figures are cropped from the page image, as Chandra's CLI saves them, and kept with the page.
"""

from __future__ import annotations

import io
import math
import re
from collections.abc import Callable
from types import SimpleNamespace
from typing import Any, ClassVar

from ocrflow.engines.base import PageInput, PageOutput
from ocrflow.engines.client import CUT, ChatClient
from ocrflow.engines.serve_options import option_values
from ocrflow.engines.vlm import ServerEngine, data_url, graph_size_bound, prompt_hash
from ocrflow.inputs.render import RenderSpec

# chandra/scripts/vllm.py (chandra-ocr 0.2.0) sizes its vLLM server from the card's memory,
# with an 80 GB H100 as the baseline: 64 sequences, 8192 batched tokens, scaled down below it.
BASELINE_GB, BASELINE_SEQS, BASELINE_BATCHED_TOKENS = 80, 64, 8192


def server_sizes(gpu_memory_mib: int | None) -> tuple[int, int]:
    """(--max-num-seqs, --max-num-batched-tokens) for a GPU, as Chandra's launcher picks them;
    capped at the H100 baseline, which is what upstream measured and publishes."""
    if gpu_memory_mib is None:
        return BASELINE_SEQS, BASELINE_BATCHED_TOKENS
    ratio = min(1.0, round(gpu_memory_mib / 1024) / BASELINE_GB)
    tokens = max(1024, 2 ** math.floor(math.log2(max(1.0, BASELINE_BATCHED_TOKENS * ratio))))
    seqs = max(8, int(BASELINE_SEQS * ratio) // 8 * 8)
    return seqs, tokens


class ChandraEngine(ServerEngine):
    name = "chandra"
    # Its settings, engines.chandra in the config (JSON schema, defaults and descriptions):
    # ocrflow/run/config.py puts them in the schema the config is validated against.
    OPTIONS: ClassVar[dict[str, Any]] = {
        "$ref": "#/$defs/vllm", "description": "Chandra, served with vLLM.",
        "properties": {
            "model": {
                "type": "string", "minLength": 1, "default": "datalab-to/chandra-ocr-2",
                "description": "Hugging Face Hub id or local path of the model"},
            "served_model_name": {"default": "chandra"},
            "max_in_flight": {"default": 96},
            "max_num_seqs": {
                "type": ["integer", "null"], "minimum": 1, "default": None,
                "description": "vLLM --max-num-seqs; null: from the GPU's memory, as Chandra's "
                               "launcher"},
            "max_num_batched_tokens": {
                "type": ["integer", "null"], "minimum": 1, "default": None,
                "description": "vLLM --max-num-batched-tokens; null: from the GPU's memory"},
            "server_env": {"default": {}},
            "server_args": {
                "default": ["--max-model-len", "18000", "--gpu-memory-utilization", "0.85",
                            "--dtype", "bfloat16", "--enable-prefix-caching",
                            "--mm-processor-kwargs",
                            '{"min_pixels": 3136, "max_pixels": 6291456}',
                            "--no-enable-log-requests"]},
            "prompt_type": {
                "enum": ["ocr_layout", "ocr"], "default": "ocr_layout",
                "description": "which of Chandra's own prompts is sent"},
            "prompt": {
                "type": "string", "default": "",
                "description": "your own prompt instead of Chandra's; empty: Chandra's "
                               "(prompt_type)"},
            "dpi": {
                "type": "number", "exclusiveMinimum": 0, "default": 192,
                "description": "rendering resolution, in dots per inch, raised until the short "
                               "side has min_short_side pixels"},
            "min_short_side": {
                "type": "integer", "minimum": 0, "default": 1024,
                "description": "pixels the rendered page's short side reaches at least"},
            "max_pixels": {
                "type": "integer", "minimum": 10000, "default": 6291456,
                "description": "pixel cap per rendered page (3072 x 2048)"},
            "max_tokens": {
                "type": "integer", "minimum": 1, "default": 12384,
                "description": "output token limit; output cut there is a failed page "
                               "(truncated)"},
            "temperature": {
                "type": "number", "minimum": 0, "maximum": 2, "default": 0.0,
                "description": "sampling temperature of the first request; a looping answer is "
                               "asked again warmer"},
            "top_p": {
                "type": "number", "exclusiveMinimum": 0, "maximum": 1, "default": 0.1,
                "description": "nucleus sampling share of the first request"},
            "max_retries": {
                "type": "integer", "minimum": 0, "maximum": 20, "default": 6,
                "description": "times a looping answer is asked again (not failed requests: see "
                               "retries)"},
            "retries_with_recovery": {
                "type": "integer", "minimum": 0, "maximum": 20, "default": 1,
                "description": "with a recovery engine configured, times a looping answer is "
                               "asked again before the page goes to recovery (at most "
                               "max_retries); without one, max_retries holds"},
            "headers_footers": {
                "type": "boolean", "default": False,
                "description": "keep page headers and footers in the Markdown"},
            "images": {
                "type": "boolean", "default": True,
                "description": "crop figures into image files the Markdown links to; false: no "
                               "figure and no link"},
            "pages_per_second": {
                "$ref": "#/$defs/pages_per_second", "default": 2.0,
                "description": "pages one job reads per second (per GPU on GPUs), for its "
                               "walltime and the plan's estimate; published: about 2 pages/s on "
                               "one H100 at 96 requests in flight (Chandra 2's README)"},
            "server_start_s": {"$ref": "#/$defs/server_start_s", "default": 120}},
    }
    package = "chandra"

    @property
    def render_spec(self) -> RenderSpec:
        s = self.settings
        # Rendered straight to a 28-px grid under Chandra's pixel cap, so Chandra's own
        # scale_to_fit finds nothing to resample (it costs ~75 ms a page otherwise).
        return RenderSpec(dpi=s["dpi"], min_short_side=s["min_short_side"],
                          max_pixels=s["max_pixels"], encoding=s["image_format"], grid=28,
                          jpeg_quality=s["jpeg_quality"], fit="chandra.model.util:scale_to_fit")

    def server_args(self, gpu_memory_mib: int | None) -> list[str]:
        args = list(self.settings["server_args"])
        given = option_values(args)
        seqs, tokens = server_sizes(gpu_memory_mib)
        for option, key, auto in (("--max-num-seqs", "max_num_seqs", seqs),
                                  ("--max-num-batched-tokens", "max_num_batched_tokens", tokens)):
            if option not in given:  # the user's own server_args win
                args += [option, str(self.settings[key] or auto)]
        return args + graph_size_bound(args, self.settings["max_in_flight"])

    def prompt(self) -> str:
        from chandra.prompts import PROMPT_MAPPING

        return self.settings["prompt"] or PROMPT_MAPPING[self.settings["prompt_type"]]

    def request_settings(self) -> dict[str, Any]:
        s = self.settings
        return {"prompt_sha256": prompt_hash(self.prompt()), "sampling": {
            "max_tokens": s["max_tokens"], "temperature": s["temperature"], "top_p": s["top_p"],
            "max_retries": s["max_retries"]}}

    def re_asks(self) -> int:
        """Times a looping page is asked again: Chandra's schedule, or fewer where a recovery
        engine takes the pages Chandra fails."""
        s = self.settings
        return min(s["max_retries"], s["retries_with_recovery"]) if self.job.handoff \
            else s["max_retries"]

    async def ask(self, client: ChatClient, page: PageInput) -> PageOutput:
        from chandra.model.util import detect_repeat_token

        s = self.settings
        messages = [{"role": "user", "content": [
            {"type": "image_url", "image_url": {"url": data_url(page)}},
            {"type": "text", "text": self.prompt()}]}]
        temperature, top_p = s["temperature"], s["top_p"]
        re_asks, cut, requests = self.re_asks(), self.loop_cut(), []
        for attempt in range(1, re_asks + 2):
            # RequestFailed goes up: the page fails at once (engines/vlm.py records it).
            completion = await client.complete(messages, cut=cut, max_tokens=s["max_tokens"],
                                               temperature=temperature, top_p=top_p)
            requests.append({**completion.usage(), "temperature": temperature})
            raw = completion.text
            # Chandra's own test of a finished answer, besides the cut of one still streaming
            repeats = completion.finish_reason == CUT or detect_repeat_token(raw) or (
                len(raw) > 50 and detect_repeat_token(raw, cut_from_end=50))
            if not repeats:
                break
            if attempt <= re_asks:
                temperature, top_p = min(s["temperature"] + 0.2 * attempt, 0.8), 0.95
        output = self.parse(raw, page, completion.finish_reason, attempt, {})
        output.requests = requests
        return output

    def parse(self, html: str, page: PageInput, finish: str, attempts: int,
              meta: dict[str, Any]) -> PageOutput:
        from chandra.output import parse_chunks, parse_markdown

        images_on = self.settings["images"]
        # parse_chunks only reads the image's size: the pixels are decoded for figures alone.
        size = (page.image.width, page.image.height) if page.image else (1000, 1000)
        blocks = [{"label": c["label"], "bbox": c["bbox"]}
                  for c in parse_chunks(html, SimpleNamespace(size=size))]
        markdown = parse_markdown(html, include_headers_footers=self.settings["headers_footers"],
                                  include_images=images_on)
        figures = figure_crops(html, page.image.to_pil) if images_on and page.image else {}
        # A figure that could not be cropped (no image, a box outside the page) keeps no link.
        markdown = _LINK.sub(lambda m: m.group(0) if m.group(1) in figures else "", markdown)
        return PageOutput(text=markdown, finish_reason=finish, attempts=attempts,
                          meta={**meta, "blocks": blocks}, images=figures)


_LINK = re.compile(r"!\[[^\]]*\]\(([^)\s]+)\)")


def figure_crops(html: str, load_image: Callable[[], Any]) -> dict[str, bytes]:
    """WebP crops of the Image and Figure blocks, under the names chandra's parse_markdown links
    to (chandra.output.get_image_name: the html's hash and the block's place among the page's
    top-level blocks, counted as parse_html counts them). The page image is decoded only for a
    page that has a figure."""
    from bs4 import BeautifulSoup
    from chandra.output import get_image_name

    crops: dict[str, bytes] = {}
    image = None
    divs = BeautifulSoup(html, "html.parser").find_all("div", recursive=False)
    for index, div in enumerate(divs, start=1):
        if div.get("data-label") not in ("Image", "Figure"):
            continue
        image = image or load_image()
        try:
            x0, y0, x1, y1 = (int(v) for v in str(div.get("data-bbox", "")).split())
        except ValueError:
            continue
        box = (max(0, x0 * image.width // 1000), max(0, y0 * image.height // 1000),
               min(image.width, x1 * image.width // 1000),
               min(image.height, y1 * image.height // 1000))
        if box[2] <= box[0] or box[3] <= box[1]:
            continue
        out = io.BytesIO()
        image.crop(box).save(out, format="WEBP", quality=90)
        crops[get_image_name(html, index)] = out.getvalue()
    return crops
