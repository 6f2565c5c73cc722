"""RapidOCR (PP-OCR models shipped inside the wheel, run with onnxruntime): the CPU engine."""

from __future__ import annotations

import statistics
from typing import Any

from ocrflow.engines.base import Engine, EngineUnavailable, PageInput, PageOutput
from ocrflow.render import RenderSpec


class RapidOCREngine(Engine):
    name = "rapidocr"

    def __init__(self, settings: dict[str, Any], threads: int = 1) -> None:
        super().__init__(settings, threads)
        self._ocr: Any = None

    @property
    def render_spec(self) -> RenderSpec:
        return RenderSpec(dpi=self.settings["dpi"], max_pixels=self.settings["max_pixels"])

    def output_settings(self) -> dict[str, Any]:
        return {k: v for k, v in self.settings.items() if k != "threads"}

    def start(self) -> None:
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
        return PageOutput(text=layout_text(lines), meta=meta)


def layout_text(boxes: list[tuple[list[list[float]], str, float]]) -> str:
    """Reading order from text boxes: rows by vertical overlap, left to right, paragraph gaps."""
    items = []
    for quad, text, _ in boxes:
        ys = [p[1] for p in quad]
        xs = [p[0] for p in quad]
        items.append((min(ys), max(ys), min(xs), text))
    items.sort(key=lambda item: (item[0] + item[1]) / 2)
    rows: list[list[tuple[float, float, float, str]]] = []
    for item in items:
        if rows:
            top = min(i[0] for i in rows[-1])
            bottom = max(i[1] for i in rows[-1])
            overlap = min(bottom, item[1]) - max(top, item[0])
            if overlap > 0.5 * min(bottom - top, item[1] - item[0]):
                rows[-1].append(item)
                continue
        rows.append([item])
    if not rows:
        return ""
    heights = [max(i[1] for i in row) - min(i[0] for i in row) for row in rows]
    line_height = statistics.median(heights)
    out: list[str] = []
    previous_bottom = None
    for row in rows:
        top = min(i[0] for i in row)
        if previous_bottom is not None and top - previous_bottom > 1.2 * line_height:
            out.append("")
        out.append(" ".join(i[3] for i in sorted(row, key=lambda i: i[2])))
        previous_bottom = max(i[1] for i in row)
    return "\n".join(out)
