"""The settings of an OCR job, typed (config section ``ocr``: how it treats engine errors). An
engine's own settings are declared by its class (``Engine.OPTIONS``)."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from ocrflow.core.settings import from_section


@dataclass(frozen=True)
class OcrSettings:
    """Config section ``ocr`` (config/schema.yaml describes each key)."""

    max_page_attempts: int
    failing_window: int
    failing_share: float

    @classmethod
    def from_config(cls, section: Mapping[str, Any]) -> OcrSettings:
        return from_section(cls, section)
