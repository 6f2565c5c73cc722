"""The settings of the merge and export stages, typed, and the files of one merge job."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ocrflow.core.settings import SectionSettings
from ocrflow.text.settings import HeadersFootersSettings


@dataclass(frozen=True)
class MergeSettings:
    """What decides merge's output, from the config: the per-document ``outputs`` chosen, the
    agreement at which two doubted readings settle a page (``detection.min_agreement``) and
    the running heads and feet taken off (``headers_footers``; None: nothing removed)."""

    outputs: tuple[str, ...]
    min_agreement: float
    headers_footers: HeadersFootersSettings | None

    @classmethod
    def from_config(cls, config: Mapping[str, Any]) -> MergeSettings:
        """From the validated config (or the merge rule's params, which hold the same keys)."""
        return cls(tuple(config["outputs"]), config["detection"]["min_agreement"],
                   HeadersFootersSettings.from_config(config["headers_footers"]))


@dataclass(frozen=True)
class MergeFiles:
    """The files of one merge job: the shard's inventory, its readings and their verdicts (the
    recovery pool's: None without recovery), and what it writes. ``texts``: one JSON line per
    page for the SQL export; ``dolma``: the shard's Dolma records, with ``dolma_merged`` (all
    shards') removed when dolma is not among the outputs."""

    inventory: Path
    primary: Path
    primary_verdicts: Path
    recovery: Path | None
    recovery_verdicts: Path | None
    markdown_dir: Path
    store_root: Path
    output: Path
    documents: Path
    texts: Path | None = None
    dolma: Path | None = None
    dolma_merged: Path | None = None


@dataclass(frozen=True)
class ExportSettings(SectionSettings):
    """Config section ``export`` (config/schema.yaml describes each key). ``url`` holds no
    password (the config refuses one); the password is read from the environment variable
    ``password_env`` names, when the export connects, and is never logged nor recorded."""

    enabled: bool
    url: str | None  # None: SQLite in the results folder
    password_env: str
    batch_size: int
