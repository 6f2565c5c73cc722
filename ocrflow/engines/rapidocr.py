"""RapidOCR (PP-OCR models shipped inside the wheel, run with onnxruntime): the CPU engine."""

from __future__ import annotations

import statistics
from typing import Any

from ocrflow.engines.base import Engine, EngineUnavailable, JobContext, PageInput, PageOutput
from ocrflow.engines.reading_order import from_quads, reading_order
from ocrflow.inputs.render import RenderSpec


class RapidOCREngine(Engine):
    name = "rapidocr"
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
