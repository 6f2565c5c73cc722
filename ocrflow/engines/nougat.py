"""Nougat (facebook/nougat-small, -base) through transformers: NougatProcessor and
VisionEncoderDecoderModel, pages generated in batches on this job's GPU.

Nougat's own failure handling is kept as statuses: generation that falls into a loop is stopped
(the confidence of the chosen tokens goes flat, as in Nougat's stopping criterion) and the page
is reported with finish_reason "repetition" (Nougat's [MISSING_PAGE_FAIL]); an empty result is an
empty page (Nougat's [MISSING_PAGE_EMPTY]), which detection judges against the page's ink.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from typing import Any

from ocrflow.engines.base import Engine, EngineUnavailable, PageInput, PageOutput, check_model_path
from ocrflow.gpus import GpuSlots, assign, visible_gpus
from ocrflow.render import RenderSpec

OPERATIONAL = {"batch_size", "device", "gpus"}


class FlatConfidenceStop:
    """A stopping criterion: a sequence whose chosen-token confidence has had a variance below
    ``threshold`` over the last ``window`` steps is looping; it is stopped and remembered."""

    def __init__(self, batch_size: int, window: int, threshold: float) -> None:
        self.window, self.threshold = window, threshold
        self.history: list[Any] = []
        self.stopped = [False] * batch_size

    def __call__(self, input_ids: Any, scores: Any, **kwargs: Any) -> Any:
        import torch

        if isinstance(scores, (tuple, list)):  # generate() hands over every step's scores
            scores = scores[-1]
        done = torch.zeros(input_ids.shape[0], dtype=torch.bool, device=input_ids.device)
        if scores is None:
            return done
        self.history.append(scores.softmax(-1).max(-1).values.detach().float().cpu())
        if len(self.history) >= self.window:
            recent = torch.stack(self.history[-self.window:], dim=1)
            flat = recent.var(dim=1) < self.threshold
            for index in torch.nonzero(flat).flatten().tolist():
                self.stopped[index] = True
            done |= flat.to(input_ids.device)
        return done


class NougatEngine(Engine):
    name = "nougat"

    def __init__(self, settings: dict[str, Any], threads: int = 1) -> None:
        super().__init__(settings, threads)
        self.slots = GpuSlots()
        self.processor: Any = None
        self.model: Any = None
        self.device = "cpu"

    @property
    def render_spec(self) -> RenderSpec:
        # Nougat reads pages rendered at 96 dpi and resizes them to 896x672 itself.
        return RenderSpec(dpi=self.settings["dpi"], max_pixels=self.settings["max_pixels"])

    def output_settings(self) -> dict[str, Any]:
        return {k: v for k, v in self.settings.items() if k not in OPERATIONAL}

    def start(self) -> None:
        model_id = self.settings["model"]
        check_model_path(self.name, model_id)
        try:
            import torch
            from transformers import NougatProcessor, VisionEncoderDecoderModel
        except ImportError as exc:
            raise EngineUnavailable(f"engine nougat: cannot import {exc.name}; run with "
                                    "'--sdm conda' (envs/nougat.yaml)") from exc
        if self.settings["device"] == "cuda":
            if not torch.cuda.is_available():
                raise EngineUnavailable("engine nougat: no CUDA GPU visible; run it on a GPU "
                                        "node (or set engines.nougat.device: cpu, slowly)")
            visible = visible_gpus()
            gpus = assign(self.settings["gpus"], self.slots) or ["0"]
            self.device = f"cuda:{visible.index(gpus[0]) if gpus[0] in visible else 0}"
        else:
            self.device = "cpu"
        self.processor = NougatProcessor.from_pretrained(model_id)
        self.model = VisionEncoderDecoderModel.from_pretrained(model_id).to(self.device).eval()

    def close(self) -> None:
        self.model = self.processor = None
        self.slots.release()

    def recognize(self, page: PageInput) -> PageOutput:
        return self.generate([page])[0]

    def run(self, pages: Iterable[PageInput]) -> Iterator[tuple[PageInput, PageOutput]]:
        batch: list[PageInput] = []
        for page in pages:
            batch.append(page)
            if len(batch) == self.settings["batch_size"]:
                yield from self._batch(batch)
                batch = []
        if batch:
            yield from self._batch(batch)

    def _batch(self, batch: list[PageInput]) -> Iterator[tuple[PageInput, PageOutput]]:
        try:
            outputs = self.generate(batch)
        except Exception as exc:  # the whole batch failed: each page is recorded as failed
            error = f"{type(exc).__name__}: {exc}".splitlines()[0][:500]
            outputs = [PageOutput(error=error) for _ in batch]
        yield from zip(batch, outputs, strict=True)

    def generate(self, batch: list[PageInput]) -> list[PageOutput]:
        import torch
        from transformers import StoppingCriteriaList

        s = self.settings
        images = [page.image.to_pil().convert("RGB") for page in batch if page.image]
        pixel_values = self.processor(images=images, return_tensors="pt").pixel_values
        stop = FlatConfidenceStop(len(batch), s["repetition_window"], s["repetition_threshold"])
        unk = self.processor.tokenizer.unk_token_id
        with torch.inference_mode():
            generated = self.model.generate(
                pixel_values.to(self.device), min_length=1, max_new_tokens=s["max_new_tokens"],
                bad_words_ids=[[unk]] if unk is not None else None,
                stopping_criteria=StoppingCriteriaList([stop]), output_scores=True,
                return_dict_in_generate=True).sequences
        texts = self.processor.batch_decode(generated, skip_special_tokens=True)
        texts = self.processor.post_process_generation(texts, fix_markdown=False)
        eos = self.model.generation_config.eos_token_id
        outputs = []
        for index, text in enumerate(texts):
            ended = eos is not None and bool((generated[index] == eos).any())
            if stop.stopped[index]:
                finish, missing = "repetition", "fail"
            elif not ended and generated.shape[1] - 1 >= s["max_new_tokens"]:
                finish, missing = "length", ""
            else:
                finish, missing = "stop", "" if text.strip() else "empty"
            outputs.append(PageOutput(text=text.strip(), finish_reason=finish,
                                      meta={"missing_page": missing} if missing else {}))
        return outputs
