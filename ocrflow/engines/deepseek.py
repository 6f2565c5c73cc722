"""DeepSeek-OCR: on vLLM (>= 0.11.1) with its n-gram repetition guard switched on per request, or
through transformers where a site has no vLLM.

The grounding output ``<|ref|>label<|/ref|><|det|>[[x1, y1, x2, y2]]<|/det|>content`` becomes
clean Markdown; the boxes (0-999 space) stay in the page record. A page whose output did not
finish is a failed page (truncated), never a dropped one.
"""

from __future__ import annotations

import contextlib
import re
import tempfile
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import Any

from ocrflow.client import ChatClient
from ocrflow.engines.base import (
    EngineUnavailable,
    PageInput,
    PageOutput,
    check_model_path,
    error_line,
)
from ocrflow.engines.vlm import ServerEngine, data_url, prompt_hash
from ocrflow.gpus import assign, cuda_index
from ocrflow.render import RenderSpec

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


class DeepSeekEngine(ServerEngine):
    name = "deepseek"
    package = ""  # the vLLM path needs only the server; the transformers path checks its own

    def __init__(self, settings: dict[str, Any], threads: int = 1) -> None:
        super().__init__(settings, threads)
        self._model: Any = None
        self._tokenizer: Any = None

    @property
    def render_spec(self) -> RenderSpec:
        s = self.settings
        return RenderSpec(dpi=s["dpi"], max_pixels=s["max_pixels"], encoding=s["image_format"],
                          jpeg_quality=s["jpeg_quality"])

    def sampling(self) -> dict[str, Any]:
        s = self.settings
        guard = {"ngram_size": s["ngram_size"], "window_size": s["ngram_window"],
                 "whitelist_token_ids": s["ngram_whitelist_token_ids"]}
        # vllm_xargs reaches the NGramPerReqLogitsProcessor; without ngram_size it does nothing.
        params: dict[str, Any] = {"temperature": 0.0, "skip_special_tokens": False,
                                  "vllm_xargs": guard}
        # No max_tokens by default: the model's context is 8192 tokens, and vLLM rejects a
        # request whose prompt plus max_tokens exceeds it; left out, vLLM gives the page all
        # the context its prompt leaves.
        if s["max_tokens"]:
            params["max_tokens"] = s["max_tokens"]
        return params

    def request_settings(self) -> dict[str, Any]:
        return {"backend": self.settings["backend"],
                "prompt_sha256": prompt_hash(self.settings["prompt"]),
                "sampling": {k: v for k, v in self.sampling().items()
                             if k != "skip_special_tokens"}}

    def start(self) -> None:
        if self.settings["backend"] == "transformers":
            self._start_transformers()
        else:
            super().start()

    def close(self) -> None:
        self._model = self._tokenizer = None
        super().close()

    async def ask(self, client: ChatClient, page: PageInput) -> PageOutput:
        messages = [{"role": "user", "content": [
            {"type": "image_url", "image_url": {"url": data_url(page)}},
            {"type": "text", "text": self.settings["prompt"]}]}]
        completion = await client.complete(messages, **self.sampling())
        return self.parse(completion.text, completion.finish_reason,
                          {"completion_tokens": completion.completion_tokens,
                           "http_attempts": completion.attempts})

    @staticmethod
    def parse(raw: str, finish: str, meta: dict[str, Any]) -> PageOutput:
        markdown, blocks = parse_grounding(raw)
        # "length": cut at max_tokens (the repetition guard turns loops into long outputs).
        return PageOutput(text=markdown, finish_reason=finish, meta={**meta, "blocks": blocks})

    # transformers path: one page at a time on this job's GPU, with the model's own infer().
    ENV = "envs/deepseek-transformers.yaml"

    def _start_transformers(self) -> None:
        model_id = self.settings["model"]
        check_model_path(self.name, model_id)
        try:
            import torch
            import torchvision  # noqa: F401  (the model's own code imports it at top level)
            from transformers import AutoModel, AutoTokenizer
        except ImportError as exc:
            raise EngineUnavailable(f"engine deepseek (transformers): cannot import {exc.name}; "
                                    f"run with '--sdm conda' ({self.ENV})") from exc
        if not torch.cuda.is_available():
            raise EngineUnavailable("engine deepseek (transformers): no CUDA GPU visible; run it "
                                    "on a GPU node or use backend: vllm with an endpoint")
        # The model's infer() calls .cuda(): the current device must be this job's own GPU.
        torch.cuda.set_device(cuda_index(assign(1, self.slots)))
        self._tokenizer = AutoTokenizer.from_pretrained(model_id, trust_remote_code=True)
        model = AutoModel.from_pretrained(
            model_id, trust_remote_code=True, use_safetensors=True,
            _attn_implementation=self.settings["attn_implementation"])
        self._model = model.eval().cuda().to(torch.bfloat16)

    def run(self, pages: Iterable[PageInput]) -> Iterator[tuple[PageInput, PageOutput]]:
        if self.settings["backend"] != "transformers":
            yield from super().run(pages)
            return
        for page in pages:
            try:
                output = self._infer_transformers(page)
            except Exception as exc:  # recorded as this page's failure
                output = PageOutput(error=error_line(exc))
            yield page, output

    def _infer_transformers(self, page: PageInput) -> PageOutput:
        assert page.image is not None
        s = self.settings
        with tempfile.TemporaryDirectory() as tmp, capture_generate(self._model) as generated:
            image_file = Path(tmp) / "page.png"
            page.image.to_pil().save(image_file)
            # eval_mode=True is the only mode in which infer() returns the text; it strips the
            # end-of-sentence token, so whether the page finished is read from the token ids.
            raw = self._model.infer(self._tokenizer, prompt=f"<image>\n{s['prompt']}",
                                    image_file=str(image_file), output_path=tmp,
                                    base_size=s["base_size"], image_size=s["image_size"],
                                    crop_mode=s["crop_mode"], eval_mode=True)
        finish = finish_reason(generated, self._tokenizer.eos_token_id)
        return self.parse(raw or "", finish, {"backend": "transformers"})


@contextlib.contextmanager
def capture_generate(model: Any) -> Iterator[list[Any]]:
    """Keep what ``model.generate`` returns while the block runs (infer() calls it once)."""
    outputs: list[Any] = []
    original, own = model.generate, "generate" in vars(model)

    def generate(*args: Any, **kwargs: Any) -> Any:
        result = original(*args, **kwargs)
        outputs.append(result)
        return result

    model.generate = generate
    try:
        yield outputs
    finally:
        if own:
            model.generate = original
        else:
            del model.generate  # the class's method shows through again


def finish_reason(generated: list[Any], eos_token_id: int | None) -> str:
    """"stop" when the last generation ended on the end-of-sentence token, else "length"."""
    if not generated or eos_token_id is None:
        return "stop"
    sequences = getattr(generated[-1], "sequences", generated[-1])
    return "stop" if int(sequences[0, -1]) == eos_token_id else "length"
