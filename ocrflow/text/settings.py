"""The settings of the text-judging stages, typed: detection's checks and the running heads
and feet merge takes off (config sections ``detection`` and ``headers_footers``). No defaults
here: config/schema.yaml fills them, so they are written once."""

from __future__ import annotations

from dataclasses import dataclass

from ocrflow.core.settings import SectionSettings


@dataclass(frozen=True)
class HeadersFootersSettings(SectionSettings):
    """Config section ``headers_footers`` (config/schema.yaml describes each key)."""

    remove: bool
    min_share: float
    max_lines: int
    min_pages: int
    keep_first_page: bool


@dataclass(frozen=True)
class TextLayerAgreementSettings:
    """Config section ``detection.text_layer_agreement``."""

    enabled: bool
    min_text_layer_chars: int
    min_similarity: float


@dataclass(frozen=True)
class DetectionSettings(SectionSettings):
    """Config section ``detection``: the checks that fail a page's reading."""

    min_chars: int
    min_ink: float
    ngram_size: int
    min_ngrams: int
    max_repeated_ngram_ratio: float
    tail_min_chars: int
    tail_min_repeats: int
    max_garbage_ratio: float
    max_chars_on_blank: int
    min_quality: float
    min_agreement: float
    text_layer_agreement: TextLayerAgreementSettings


@dataclass(frozen=True)
class TrustSettings(SectionSettings):
    """Config section ``trust``: when a text layer is trusted, and every reading's quality."""

    languages: tuple[str, ...]
    min_word_share: float
    min_words: int
    max_bad_chars: float
    max_symbols: float
    max_picture_without_text: float
    max_text_off_page: float
