"""The settings of the stages that open and render PDFs, typed (config sections ``inventory``
and ``render``). No defaults here: config/schema.yaml fills them, so they are written once."""

from __future__ import annotations

from dataclasses import dataclass

from ocrflow.core.settings import SectionSettings


@dataclass(frozen=True)
class InventorySettings(SectionSettings):
    """Config section ``inventory``: the per-PDF inventory's limits."""

    timeout_s: float
    max_page_points: float
    ink_dpi: float
    text_layer_min_chars: int
    max_page_chars: int
    max_image_pixels: int


@dataclass(frozen=True)
class RenderSettings(SectionSettings):
    """Config section ``render``: the workers that render pages for an OCR engine."""

    workers: int
    prefetch: int
    timeout_s: float
