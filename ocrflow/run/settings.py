"""The validated config as typed, frozen settings: one dataclass per section a stage reads.

The dataclasses live beside the stages that take them (a layer imports only downwards):
``ocrflow.inputs.settings`` (inventory, render), ``ocrflow.engines.settings`` (ocr),
``ocrflow.text.settings`` (trust, detection, headers_footers), ``ocrflow.results.settings``
(merge, export), and this module (the shard plan: shard_size, shard_pages, removal). An
engine's own settings are the JSON schema its class declares (``Engine.OPTIONS``) and reach it
as they are validated.

A Snakemake job is handed its sections as plain params (what Snakemake compares to decide
that a job is out of date), and its entry point makes them typed with the same
``from_config`` constructors this module uses.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from ocrflow.core.settings import SectionSettings, from_section
from ocrflow.engines.settings import OcrSettings
from ocrflow.inputs.settings import InventorySettings, RenderSettings
from ocrflow.results.settings import ExportSettings, MergeSettings
from ocrflow.text.settings import DetectionSettings, HeadersFootersSettings, TrustSettings


@dataclass(frozen=True)
class RemovalSettings(SectionSettings):
    """Config section ``removal``: the deletion guard (``Plan.check_removals``)."""

    max_share: float
    max_count: int


@dataclass(frozen=True)
class PlanSettings:
    """What the shard plan reads: the top-level ``shard_size`` and ``shard_pages`` and the
    section ``removal``."""

    shard_size: int
    shard_pages: int
    removal: RemovalSettings

    @classmethod
    def from_config(cls, config: Mapping[str, Any]) -> PlanSettings:
        """From the validated config (or the plan rule's params, which hold the same keys)."""
        return from_section(cls, config)


@dataclass(frozen=True)
class Settings:
    """Every section a stage takes, typed, from one validated config."""

    inventory: InventorySettings
    render: RenderSettings
    ocr: OcrSettings
    trust: TrustSettings
    detection: DetectionSettings
    headers_footers: HeadersFootersSettings
    merge: MergeSettings
    export: ExportSettings
    plan: PlanSettings

    @classmethod
    def from_config(cls, config: Mapping[str, Any]) -> Settings:
        """From a config ``ocrflow.run.config.validate`` returned (its defaults filled)."""
        return cls(inventory=InventorySettings.from_config(config["inventory"]),
                   render=RenderSettings.from_config(config["render"]),
                   ocr=OcrSettings.from_config(config["ocr"]),
                   trust=TrustSettings.from_config(config["trust"]),
                   detection=DetectionSettings.from_config(config["detection"]),
                   headers_footers=HeadersFootersSettings.from_config(config["headers_footers"]),
                   merge=MergeSettings.from_config(config),
                   export=ExportSettings.from_config(config["export"]),
                   plan=PlanSettings.from_config(config))
