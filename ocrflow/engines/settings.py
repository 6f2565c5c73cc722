"""The settings of an OCR job, typed (config section ``ocr``: how it treats engine errors). An
engine's own settings are declared by its class (``Engine.OPTIONS``)."""

from __future__ import annotations

from dataclasses import dataclass

from ocrflow.core.settings import SectionSettings


@dataclass(frozen=True)
class OcrSettings(SectionSettings):
    """Config section ``ocr`` (config/schema.yaml describes each key)."""

    max_page_attempts: int
    failing_window: int
    failing_share: float
