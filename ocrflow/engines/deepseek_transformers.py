"""DeepSeek-OCR through transformers, for sites without vLLM: one page at a time on this job's
GPU, with the model's own ``infer()`` (its code comes with the weights: trust_remote_code)."""

from __future__ import annotations

import contextlib
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from ocrflow.engines import deepseek, models
from ocrflow.engines.base import (
    Engine,
    EngineUnavailable,
    JobContext,
    PageInput,
    PageOutput,
    check_model_path,
)
from ocrflow.engines.gpus import assign, cuda_index
from ocrflow.engines.vlm import prompt_hash
from ocrflow.inputs.render import RenderSpec

ENV = "envs/deepseek-transformers.yaml"


class DeepSeekTransformersEngine(Engine):
    name = "deepseek"  # the same engine as on vLLM; its backend setting keeps the stores apart
    OPERATIONAL = deepseek.DeepSeekEngine.OPERATIONAL

    def __init__(self, settings: dict[str, Any], threads: int = 1) -> None:
        super().__init__(settings, threads)
        self._model: Any = None
        self._tokenizer: Any = None

    @property
    def render_spec(self) -> RenderSpec:
        return deepseek.render_spec(self.settings)

    def provenance(self) -> dict[str, Any]:
        return {**super().provenance(), **models.provenance(self.settings),
                "backend": "transformers", "prompt_sha256": prompt_hash(self.settings["prompt"])}

    def start(self, job: JobContext | None = None) -> None:
        super().start(job)
        check_model_path(self.name, self.settings)
        try:
            import torch
            import torchvision  # noqa: F401  (the model's own code imports it at top level)
            from transformers import AutoModel, AutoTokenizer
        except ImportError as exc:
            raise EngineUnavailable(f"engine deepseek (transformers): cannot import {exc.name}; "
                                    f"run with '--sdm conda' ({ENV})") from exc
        if not torch.cuda.is_available():
            raise EngineUnavailable("engine deepseek (transformers): no CUDA GPU visible; run it "
                                    "on a GPU node or use backend: vllm with an endpoint")
        # The model's infer() calls .cuda(): the current device must be this job's own GPU.
        torch.cuda.set_device(cuda_index(assign(1, self.job.slots)))
        model_id = models.loader_argument(self.settings)
        source = models.loader_options(self.settings)
        self._tokenizer = AutoTokenizer.from_pretrained(model_id, trust_remote_code=True, **source)
        model = AutoModel.from_pretrained(
            model_id, trust_remote_code=True, use_safetensors=True,
            _attn_implementation=self.settings["attn_implementation"], **source)
        self._model = model.eval().cuda().to(torch.bfloat16)

    def close(self) -> None:
        self._model = self._tokenizer = None
        super().close()

    def recognize(self, page: PageInput) -> PageOutput:
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
        return deepseek.parse(raw or "", finish, {"backend": "transformers"})


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
