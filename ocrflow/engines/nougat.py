"""Nougat (facebook/nougat-small, -base) through transformers: NougatProcessor and
VisionEncoderDecoderModel, pages generated in batches on this job's GPU, in bf16 there.

Nougat's own failure handling (facebookresearch/nougat, ``nougat/model.py``: StoppingCriteriaScores,
RunningVarTorch and the repetition search in ``NougatModel.inference``; ``predict.py``) is kept,
page by page so that a page reads the same in any batch:
- while generating, the variance over ``repetition_window`` steps of a 15-step running variance
  of the highest logit going flat (below ``repetition_threshold``) marks a loop; the page stops
  one step later, as upstream's criterion does for a batch of one;
- after generating, where that variance of variances stays under 0.045 locates the start of the
  repetition; the page is cut there and reported with finish_reason "repetition" (upstream's
  [MISSING_PAGE_FAIL]), or as an empty page when it repeats from the start ([MISSING_PAGE_EMPTY]);
- the text is made Markdown-compatible (``markdown_compatible``), as ``predict.py`` does.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from typing import Any, ClassVar

from ocrflow.engines import models
from ocrflow.engines.base import (
    Engine,
    EngineUnavailable,
    JobContext,
    PageInput,
    PageOutput,
    Readings,
    check_model_path,
    error_line,
)
from ocrflow.engines.gpus import assign, cuda_index
from ocrflow.inputs.render import RenderSpec

LOGIT_WINDOW = 15  # RunningVarTorch's default L in StoppingCriteriaScores
MAX_STOP_INDEX = 4095
REPEAT_VARVAR, REPEAT_MIN_LEN, REPEAT_SCALE = 0.045, 120, 1.08  # NougatModel.inference


def _var(values: list[float]) -> float:
    """torch.var's default (unbiased); NaN for fewer than two values, as torch gives."""
    if len(values) < 2:
        return float("nan")
    mean = sum(values) / len(values)
    return sum((v - mean) ** 2 for v in values) / (len(values) - 1)


class RepetitionStop:
    """StoppingCriteriaScores, one page at a time: each row keeps its own running variances and
    step count, and a row that has ended (EOS or stopped) is no longer scored."""

    def __init__(self, batch_size: int, window: int, threshold: float,
                 eos_token_id: int | None) -> None:
        self.window, self.threshold, self.eos = window, threshold, eos_token_id
        self.max_logits: list[list[float]] = [[] for _ in range(batch_size)]
        self.running: list[list[float]] = [[] for _ in range(batch_size)]
        self.stop_index = [0] * batch_size
        self.stopped = [False] * batch_size
        self.ended = [False] * batch_size

    def __call__(self, input_ids: Any, scores: Any, **kwargs: Any) -> Any:
        import torch

        if isinstance(scores, (tuple, list)):  # generate() hands over every step's scores
            scores = scores[-1]
        done = torch.zeros(input_ids.shape[0], dtype=torch.bool, device=input_ids.device)
        if scores is None:
            return done
        highest = scores.max(-1).values.float().cpu().tolist()
        for row, value in enumerate(highest):
            if not (self.stopped[row] or self.ended[row]):
                self._step(row, value)
                self.ended[row] = self.eos is not None and int(input_ids[row, -1]) == self.eos
            done[row] = self.stopped[row] or self.ended[row]
        return done

    def _step(self, row: int, value: float) -> None:
        logits = self.max_logits[row]
        logits.append(value)
        recent = logits[-LOGIT_WINDOW:]
        self.running[row].append(_var(recent) / len(recent))
        steps = len(logits)
        if steps < self.window:
            return
        if _var(self.running[row][-self.window:]) < self.threshold:
            if self.stop_index[row] > 0 and not self.stopped[row]:
                self.stopped[row] = self.stop_index[row] >= steps
            else:
                self.stop_index[row] = int(min(max(steps, 1) * 1.15 + 150 + self.window,
                                               MAX_STOP_INDEX))
        else:
            self.stop_index[row], self.stopped[row] = 0, False


def repetition_start(max_logits: list[float], ended: bool) -> int | None:
    """Where a page's repetition starts (a position in the generated sequence, the decoder's
    start token being position 0), or None: NougatModel.inference's search."""
    import numpy as np

    windows = [max_logits[i:i + LOGIT_WINDOW] for i in range(len(max_logits) - LOGIT_WINDOW)]
    variances = np.array([np.var(w) / len(w) for w in windows])
    if len(variances) < 10 or ended:  # too short to tell, or the page came to an end
        return None
    tails = variances[::-1]
    varvar = np.array([np.var(tails[:i + 10]) for i in range(len(tails) - 10)][::-1])
    small = np.where(varvar < REPEAT_VARVAR)[0]
    if len(small) <= 1 or not np.all(np.diff(small) < 2):
        return None
    start = int(min(max(small[0], 1) * REPEAT_SCALE + REPEAT_MIN_LEN, MAX_STOP_INDEX))
    if start / len(max_logits) > 0.9:  # only the very end repeats: keep it all
        return None
    return 0 if small[0] < 30 else start


class NougatEngine(Engine):
    name = "nougat"
    # Its settings, engines.nougat in the config (JSON schema, defaults and descriptions):
    # ocrflow/run/config.py puts them in the schema the config is validated against.
    OPTIONS: ClassVar[dict[str, Any]] = {
        "description": "Nougat, run with transformers.",
        "properties": {
            "model": {
                "type": "string", "minLength": 1, "default": "facebook/nougat-small",
                "description": "Hugging Face Hub id or local path of the model"},
            "revision": {
                "type": ["string", "null"], "minLength": 1, "default": None,
                "description": "the model's hub revision (a branch, tag or commit) that `ocrflow "
                               "models download` fetches; null: the newest, recorded when first "
                               "downloaded and kept"},
            "device": {
                "enum": ["cuda", "cpu"], "default": "cuda",
                "description": "where the model runs; cpu is slow (the tests use it)"},
            "gpus": {
                "type": "integer", "minimum": 1, "maximum": 1, "default": 1,
                "description": "GPUs per OCR job (one: the model runs in the job's process)"},
            "batch_size": {
                "type": "integer", "minimum": 1, "maximum": 1024, "default": 8,
                "description": "pages per generate() call"},
            "dpi": {
                "type": "number", "exclusiveMinimum": 0, "default": 96,
                "description": "rendering resolution, in dots per inch (Nougat's processor "
                               "resizes to 896 x 672 itself)"},
            "max_pixels": {
                "type": "integer", "minimum": 10000, "default": 12000000,
                "description": "pixel cap per rendered page"},
            "max_new_tokens": {
                "type": "integer", "minimum": 1, "default": 3584,
                "description": "output token limit; reaching it is truncated"},
            "repetition_window": {
                "type": "integer", "minimum": 2, "default": 200,
                "description": "generation steps over which Nougat's loop detection measures the "
                               "logit variance"},
            "repetition_threshold": {
                "type": "number", "minimum": 0, "default": 0.015,
                "description": "variance below which Nougat's loop detection stops the page"},
            "markdown_compatible": {
                "type": "boolean", "default": True,
                "description": "apply Nougat's markdown_compatible post-processing, as its "
                               "predict.py does"},
            "pages_per_second": {
                "$ref": "#/$defs/pages_per_second", "default": 0.34,
                "description": "pages one job reads per second (per GPU on GPUs), for its "
                               "walltime and the plan's estimate; published in the seeds: 1,240 "
                               "pages an hour on one GH200 (nougat-small)"},
            "server_start_s": {"$ref": "#/$defs/server_start_s", "default": 30}},
    }
    OPERATIONAL = frozenset({"batch_size", "device", "gpus"})

    def __init__(self, settings: dict[str, Any], threads: int = 1) -> None:
        super().__init__(settings, threads)
        self.processor: Any = None
        self.model: Any = None
        self.device = "cpu"
        self.dtype: Any = None

    @property
    def render_spec(self) -> RenderSpec:
        # Nougat reads pages rendered at 96 dpi and resizes them to 896x672 itself.
        return RenderSpec(dpi=self.settings["dpi"], max_pixels=self.settings["max_pixels"])

    def provenance(self) -> dict[str, Any]:
        return {**super().provenance(), **models.provenance(self.settings),
                "dtype": str(self.dtype).removeprefix("torch.")}

    def start(self, job: JobContext | None = None) -> None:
        super().start(job)
        check_model_path(self.name, self.settings)
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
            self.device = f"cuda:{cuda_index(assign(self.settings['gpus'], self.job.slots))}"
        else:
            self.device = "cpu"
        # Upstream runs in bf16 on a GPU; on the CPU it keeps fp32 (half is slow or missing).
        self.dtype = torch.bfloat16 if self.device.startswith("cuda") else torch.float32
        model, source = models.loader_argument(self.settings), models.loader_options(self.settings)
        self.processor = NougatProcessor.from_pretrained(model, **source)
        loaded = VisionEncoderDecoderModel.from_pretrained(model, dtype=self.dtype, **source)
        # transformers 5 wraps `to` (functools.wraps), and mypy reads the wrapper's first argument
        # as `self`
        self.model = loaded.to(self.device).eval()  # type: ignore[arg-type]

    def close(self) -> None:
        self.model = self.processor = None
        super().close()

    def run(self, pages: Iterable[PageInput]) -> Readings:
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
            outputs = [PageOutput(error=error_line(exc)) for _ in batch]
        yield from zip(batch, outputs, strict=True)

    def generate(self, batch: list[PageInput]) -> list[PageOutput]:
        import torch
        from transformers import StoppingCriteriaList

        s = self.settings
        images = [page.image.to_pil().convert("RGB") for page in batch if page.image]
        pixel_values = self.processor(images=images, return_tensors="pt").pixel_values
        tokenizer = self.processor.tokenizer
        eos = self.model.generation_config.eos_token_id
        stop = RepetitionStop(len(batch), s["repetition_window"], s["repetition_threshold"], eos)
        unk = tokenizer.unk_token_id
        with torch.inference_mode():
            sequences = self.model.generate(
                pixel_values.to(self.device, self.dtype), min_length=1,
                max_new_tokens=s["max_new_tokens"], do_sample=False,
                bad_words_ids=[[unk]] if unk is not None else None,
                stopping_criteria=StoppingCriteriaList([stop]), output_scores=True,
                return_dict_in_generate=True).sequences
        texts, outputs = [], []
        for row in range(len(batch)):
            steps = len(stop.max_logits[row])
            # An end of sentence at the token limit is forced (MBart's forced_eos_token_id), not
            # the page's end: upstream tells them apart the same way (N + 1 < length).
            ended = stop.ended[row] and steps < s["max_new_tokens"]
            cut = repetition_start(stop.max_logits[row], ended)
            kept = sequences[row, :1 + steps] if cut is None else sequences[row, :cut]
            texts.append(tokenizer.decode(kept, skip_special_tokens=True))
            if cut is not None:
                finish, missing = ("repetition", "fail") if cut > 0 else ("stop", "empty")
            elif not ended and not stop.stopped[row]:
                finish, missing = "length", ""
            else:
                finish, missing = "stop", ""
            meta: dict[str, Any] = {"generated_tokens": steps, "repetition_at": cut}
            outputs.append((finish, missing, meta))
        texts = self.processor.post_process_generation(texts, fix_markdown=s["markdown_compatible"])
        results = []
        for text, (finish, missing, meta) in zip(texts, outputs, strict=True):
            if not text.strip() and not missing:
                missing = "empty"
            if missing:
                meta["missing_page"] = missing
            results.append(PageOutput(text="" if missing == "empty" else text.strip(),
                                      finish_reason=finish, meta=meta))
        return results
