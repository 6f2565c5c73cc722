"""DeepSeek-OCR on vLLM (>= 0.11.1) with its n-gram repetition guard switched on per request
(deepseek_transformers.py runs it through transformers where a site has no vLLM).

The grounding output ``<|ref|>label<|/ref|><|det|>[[x1, y1, x2, y2]]<|/det|>content`` becomes
clean Markdown; the boxes (0-999 space) stay in the page record. A page whose output did not
finish is a failed page (truncated), never a dropped one.
"""

from __future__ import annotations

import re
from typing import Any, ClassVar

from ocrflow.engines.base import PageInput, PageOutput
from ocrflow.engines.client import ChatClient
from ocrflow.engines.vlm import ServerEngine, data_url, graph_size_bound, prompt_hash
from ocrflow.inputs.render import RenderSpec

END_OF_SENTENCE = "<｜end▁of▁sentence｜>"
_BLOCK = re.compile(r"<\|ref\|>(.*?)<\|/ref\|><\|det\|>(.*?)<\|/det\|>", re.DOTALL)
_BOX = re.compile(r"\[\s*(\d+)\s*,\s*(\d+)\s*,\s*(\d+)\s*,\s*(\d+)\s*\]")
IMAGE_LABELS = {"image", "figure"}


def parse_grounding(raw: str) -> tuple[str, list[dict[str, Any]]]:
    """Markdown and layout blocks from DeepSeek-OCR's grounding output."""
    text = raw.replace(END_OF_SENTENCE, "")
    matches = list(_BLOCK.finditer(text))
    if not matches:
        return text.strip(), []
    blocks, parts = [], []
    lead = text[:matches[0].start()].strip()
    if lead:
        parts.append(lead)
    for index, match in enumerate(matches):
        end = matches[index + 1].start() if index + 1 < len(matches) else len(text)
        content = text[match.end():end].strip()
        label = match.group(1).strip()
        boxes = [list(map(int, b)) for b in _BOX.findall(match.group(2))]
        blocks.append({"label": label, "bbox": boxes[0] if boxes else None, "boxes": boxes})
        if label.lower() not in IMAGE_LABELS and content:
            parts.append(content)
    return "\n\n".join(parts), blocks


def render_spec(settings: dict[str, Any]) -> RenderSpec:
    """The page image DeepSeek-OCR reads, on either backend."""
    return RenderSpec(dpi=settings["dpi"], max_pixels=settings["max_pixels"],
                      encoding=settings["image_format"], jpeg_quality=settings["jpeg_quality"])


def parse(raw: str, finish: str, meta: dict[str, Any]) -> PageOutput:
    """A page's answer, on either backend: "length" means cut at max_tokens (the repetition
    guard turns loops into long outputs)."""
    markdown, blocks = parse_grounding(raw)
    return PageOutput(text=markdown, finish_reason=finish, meta={**meta, "blocks": blocks})


class DeepSeekEngine(ServerEngine):
    name = "deepseek"
    # Its settings, engines.deepseek in the config (JSON schema, defaults and descriptions):
    # ocrflow/run/config.py puts them in the schema the config is validated against.
    OPTIONS: ClassVar[dict[str, Any]] = {
        "$ref": "#/$defs/vllm",
        "description": "DeepSeek-OCR, served with vLLM or run with transformers.",
        "properties": {
            "model": {
                "type": "string", "minLength": 1, "default": "deepseek-ai/DeepSeek-OCR",
                "description": "Hugging Face Hub id or local path of the model"},
            "backend": {
                "enum": ["vllm", "transformers"], "default": "vllm",
                "description": "vllm: a server; transformers: the model's own infer() on a GPU "
                               "the job holds"},
            "served_model_name": {"default": "deepseek-ocr"},
            "max_in_flight": {"default": 64},
            # vLLM 0.32.0 on CUDA picks its V2 model runner, which refuses this V1 logits
            # processor (docs/engines.md, "vLLM on CUDA and on the CPU"): the V1 runner loads it.
            "server_env": {"default": {"VLLM_USE_V2_MODEL_RUNNER": "0"}},
            "server_args": {
                "default": ["--logits_processors",
                            "vllm.model_executor.models.deepseek_ocr:NGramPerReqLogitsProcessor",
                            "--no-enable-prefix-caching", "--mm-processor-cache-gb", "0",
                            "--no-enable-log-requests"]},
            "prompt": {
                "type": "string", "minLength": 1,
                "default": "<|grounding|>Convert the document to markdown.",
                "description": "prompt sent with every page"},
            "dpi": {
                "type": "number", "exclusiveMinimum": 0, "default": 144,
                "description": "rendering resolution, in dots per inch"},
            "max_pixels": {
                "type": "integer", "minimum": 10000, "default": 6291456,
                "description": "pixel cap per rendered page"},
            "max_tokens": {
                "type": ["integer", "null"], "minimum": 1, "default": None,
                "description": "output token limit; null: what the 8192-token context leaves "
                               "after the prompt"},
            "ngram_size": {
                "type": "integer", "minimum": 1, "default": 30,
                "description": "n-gram size, in tokens, of DeepSeek-OCR's repetition guard"},
            "ngram_window": {
                "type": "integer", "minimum": 1, "default": 90,
                "description": "tokens the repetition guard looks back over"},
            "ngram_whitelist_token_ids": {
                "type": "array", "items": {"type": "integer"}, "default": [128821, 128822],
                "description": "token ids the repetition guard lets repeat (table cell tags)"},
            "base_size": {
                "type": "integer", "minimum": 64, "default": 1024,
                "description": "transformers backend: global view size, in pixels"},
            "image_size": {
                "type": "integer", "minimum": 64, "default": 640,
                "description": "transformers backend: tile size, in pixels"},
            "crop_mode": {
                "type": "boolean", "default": True,
                "description": "transformers backend: tile the page (Gundam mode)"},
            "attn_implementation": {
                "enum": ["flash_attention_2", "sdpa", "eager"], "default": "flash_attention_2",
                "description": "transformers backend only: attention kernel"},
            "pages_per_second": {
                "$ref": "#/$defs/pages_per_second", "default": 2.3,
                "description": "pages one job reads per second (per GPU on GPUs), for its "
                               "walltime and the plan's estimate; published: about 200,000 pages "
                               "a day on one A100-40G (DeepSeek-OCR's README)"},
            "server_start_s": {"$ref": "#/$defs/server_start_s", "default": 120}},
    }
    package = ""  # the vLLM path needs only the server

    @property
    def render_spec(self) -> RenderSpec:
        return render_spec(self.settings)

    def server_args(self, gpu_memory_mib: int | None) -> list[str]:
        args = list(self.settings["server_args"])
        return args + graph_size_bound(args, self.settings["max_in_flight"])

    def sampling(self) -> dict[str, Any]:
        s = self.settings
        guard = {"ngram_size": s["ngram_size"], "window_size": s["ngram_window"],
                 "whitelist_token_ids": s["ngram_whitelist_token_ids"]}
        # vllm_xargs reaches the NGramPerReqLogitsProcessor; without ngram_size it does nothing.
        params: dict[str, Any] = {"temperature": 0.0, "skip_special_tokens": False,
                                  "vllm_xargs": guard}
        # No max_tokens by default: left out, vLLM gives the page all the context (8192 tokens)
        # its prompt leaves; a max_tokens above the context itself is rejected (HTTP 400).
        if s["max_tokens"]:
            params["max_tokens"] = s["max_tokens"]
        return params

    def request_settings(self) -> dict[str, Any]:
        return {"backend": self.settings["backend"],
                "prompt_sha256": prompt_hash(self.settings["prompt"]),
                "sampling": {k: v for k, v in self.sampling().items()
                             if k != "skip_special_tokens"}}

    async def ask(self, client: ChatClient, page: PageInput) -> PageOutput:
        messages = [{"role": "user", "content": [
            {"type": "image_url", "image_url": {"url": data_url(page)}},
            {"type": "text", "text": self.settings["prompt"]}]}]
        completion = await client.complete(messages, cut=self.loop_cut(), **self.sampling())
        output = parse(completion.text, completion.finish_reason,
                       {"http_attempts": completion.attempts})
        output.requests = [completion.usage()]
        return output
