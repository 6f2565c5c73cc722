"""RapidOCR (PP-OCR models shipped inside the wheel, run with onnxruntime): the CPU engine."""

from __future__ import annotations

import statistics
from typing import Any, ClassVar

from ocrflow.engines.base import Engine, EngineUnavailable, JobContext, PageInput, PageOutput
from ocrflow.engines.reading_order import from_quads, reading_order
from ocrflow.inputs.render import RenderSpec


class RapidOCREngine(Engine):
    name = "rapidocr"
    # Its settings, engines.rapidocr in the config (JSON schema, defaults and descriptions):
    # ocrflow/run/config.py puts them in the schema the config is validated against.
    OPTIONS: ClassVar[dict[str, Any]] = {
        "description": "RapidOCR (onnxruntime, CPU).",
        "properties": {
            "dpi": {
                "type": "number", "exclusiveMinimum": 0, "maximum": 600, "default": 150,
                "description": "rendering resolution, in dots per inch"},
            "max_pixels": {
                "type": "integer", "minimum": 10000, "default": 12000000,
                "description": "pixel cap per rendered page (the resolution is lowered), so a "
                               "poster-sized page cannot exhaust memory"},
            "min_score": {
                "type": "number", "minimum": 0, "maximum": 1, "default": 0.5,
                "description": "text boxes recognised with a lower confidence (0-1) are dropped"},
            "threads": {
                "type": "integer", "minimum": 0, "default": 0,
                "description": "onnxruntime threads; 0: the cores the job was given"},
            "pages_per_second": {
                "$ref": "#/$defs/pages_per_second", "default": 0.25,
                "description": "pages one job reads per second (per GPU on GPUs), for its "
                               "walltime and the plan's estimate; measured here "
                               "(docs/figures.md, both cores)"},
            "server_start_s": {"$ref": "#/$defs/server_start_s", "default": 2}},
    }
    version = "2"  # lines in column-aware reading order (ocrflow.engines.reading_order)
    OPERATIONAL = frozenset({"threads"})

    def __init__(self, settings: dict[str, Any], threads: int = 1) -> None:
        super().__init__(settings, threads)
        self._ocr: Any = None

    @property
    def render_spec(self) -> RenderSpec:
        return RenderSpec(dpi=self.settings["dpi"], max_pixels=self.settings["max_pixels"])

    def start(self, job: JobContext | None = None) -> None:
        super().start(job)
        try:
            from rapidocr import RapidOCR
        except ImportError as exc:
            raise EngineUnavailable(
                f"engine rapidocr: cannot import {exc.name or 'rapidocr'}; install it with "
                "'pip install rapidocr onnxruntime' or run with '--sdm conda' (envs/rapidocr.yaml)"
            ) from exc
        params: dict[str, Any] = {
            "Global.log_level": "error",
            "Global.text_score": self.settings["min_score"],
            # Our renderer already caps pixels; let the detector see the page at that size.
            "Global.max_side_len": 4096,
        }
        threads = self.settings["threads"] or self.threads
        params["EngineConfig.onnxruntime.intra_op_num_threads"] = threads
        self._ocr = RapidOCR(params=params)

    def recognize(self, page: PageInput) -> PageOutput:
        import numpy as np

        assert page.image is not None, "rapidocr needs a rendered page"
        result = self._ocr(np.asarray(page.image.to_pil()))
        if result.boxes is None or result.txts is None:
            return PageOutput(text="", meta={"boxes": 0})
        lines = [(box, text, score) for box, text, score in
                 zip(result.boxes.tolist(), result.txts, result.scores, strict=True)]
        mean_score = round(statistics.fmean(score for *_, score in lines), 4)
        meta = {"boxes": len(lines), "mean_score": mean_score}
        return PageOutput(text=reading_order(from_quads(lines)), meta=meta)
