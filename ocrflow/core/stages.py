"""The per-shard stages of the workflow, named once: the Snakefile's rules (rules/*.smk), the
plan, the layout, ``ocrflow status``, the cost estimate and detection all read this table.

A shard goes through them in order: its inventory, the primary engine's reading (each page
judged), the recovery engine's reading of the pages that failed (in a pool of shards), its
merge. A new per-shard stage is a row here, its rule in rules/, its entry point in scripts/ and
its module; tests/test_stages.py holds the table to the Snakefile's rules and their outputs.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ocrflow.core.layout import (
    DOCUMENTS,
    INVENTORY,
    INVENTORY_COUNTS,
    PAGES,
    TEXTS,
    Layout,
    records_name,
    stats_name,
    verdict_counts_name,
    verdicts_name,
)

# The engine whose "reading" is the PDF's own text layer (ocrflow/engines/textlayer.py): detection
# trusts its pages by the inventory's judgement, merge keeps its tables' text, and a trusted layer
# is never sent to it again.
TEXT_LAYER_ENGINE = "textlayer"
NO_ENGINE = "none"  # an engine setting that leaves its stage out of the run (recovery.engine)


@dataclass(frozen=True)
class Stage:
    """One per-shard stage: its Snakemake rule, the files it writes in its unit's folder (by the
    names its rule gives its outputs, in the order it writes them), and for an OCR stage its
    role and the setting that names its engine."""

    rule: str  # the Snakemake rule: users' profiles and logs name it, never rename it
    files: tuple[tuple[str, str], ...]  # (output name in the rule, file name), in writing order
    # what ``ocrflow status`` says of a shard once one of these files is there and up to date
    states: tuple[tuple[str, str], ...]
    role: str | None = None  # "primary" or "recovery": an OCR stage's readings and verdicts
    engine_setting: str | None = None  # "<section>.engine" of the config; "none" skips the stage
    per_pool: bool = False  # its unit is a recovery pool of shards (pools.py), not one shard

    @property
    def file_names(self) -> tuple[str, ...]:
        return tuple(name for _, name in self.files)

    def file(self, output: str) -> str:
        """The file name of the rule's output named ``output``."""
        return dict(self.files)[output]

    def engine(self, config: Mapping[str, Any]) -> str | None:
        """The engine the config names for this stage (None: no engine setting, or none set)."""
        if self.engine_setting is None:
            return None
        section, key = self.engine_setting.split(".")
        return (config.get(section) or {}).get(key)

    def runs(self, config: Mapping[str, Any]) -> bool:
        """Whether the run of ``config`` has this stage (a config without its engine setting,
        recorded before the setting existed, had it)."""
        return self.engine(config) != NO_ENGINE

    def paths(self, layout: Layout, unit: str) -> list[Path]:
        """Its files in ``layout``: ``unit`` is a shard, or a pool for a per-pool stage (either
        may be the wildcard)."""
        folder = layout.pool_dir(unit) if self.per_pool else layout.shard_dir(unit)
        return [folder / name for name in self.file_names]

    @property
    def running_state(self) -> str | None:
        """What status says of a shard whose job of this stage runs (OCR stages: they write
        progress files)."""
        return f"{self.role} running" if self.role else None


def _ocr_stage(role: str, per_pool: bool, read: str, judged: str) -> Stage:
    """An OCR stage: the role's engine reads its pages (records, stats), then detection judges
    them (verdicts, their counts)."""
    return Stage(
        rule=f"ocr_{role}",
        files=(("records", records_name(role)), ("stats", stats_name(role)),
               ("verdicts", verdicts_name(role)), ("counts", verdict_counts_name(role))),
        states=((stats_name(role), read), (verdict_counts_name(role), judged)),
        role=role, engine_setting=f"{role}.engine", per_pool=per_pool)


INVENTORY_STAGE = Stage("inventory", (("inventory", INVENTORY), ("counts", INVENTORY_COUNTS)),
                        ((INVENTORY_COUNTS, "inventoried"),))
PRIMARY = _ocr_stage("primary", per_pool=False, read="primary done", judged="detected")
RECOVERY = _ocr_stage("recovery", per_pool=True, read="recovered", judged="recovered")
# merge also writes <results>/dolma/<shard>.jsonl with outputs: [dolma]: outside the shard folder
MERGE = Stage("merge", (("pages", PAGES), ("texts", TEXTS), ("documents", DOCUMENTS)),
              ((PAGES, "merged"),))

STAGES = (INVENTORY_STAGE, PRIMARY, RECOVERY, MERGE)  # in the order a shard goes through them
OCR_STAGES = tuple(stage for stage in STAGES if stage.role)
ROLES = tuple(stage.role for stage in OCR_STAGES if stage.role)
RULE_OF_ROLE = {stage.role: stage.rule for stage in OCR_STAGES}
# The rules whose job reads one shard's paths only (a recovery job reads its pool's shards).
SHARD_RULES = frozenset(stage.rule for stage in STAGES if not stage.per_pool)


def stage(rule: str) -> Stage:
    """The stage of a Snakemake rule."""
    return next(s for s in STAGES if s.rule == rule)


def of_role(role: str) -> Stage:
    return next(s for s in OCR_STAGES if s.role == role)


def stages_of(config: Mapping[str, Any]) -> tuple[Stage, ...]:
    """The stages a run of ``config`` has, in order (no recovery with recovery.engine: none)."""
    return tuple(s for s in STAGES if s.runs(config))


def after(first: Stage) -> tuple[Stage, ...]:
    """The stages after ``first``."""
    return STAGES[STAGES.index(first) + 1:]


def outputs_after(first: Stage, layout: Layout, shard: str, pool: str) -> list[Path]:
    """The files of ``shard`` (and of its recovery ``pool``) that the stages after ``first``
    write: removing them makes Snakemake redo those stages (it does not rerun a job for a
    missing intermediate while the final outputs are there, so the corpus outputs must go too:
    Layout.corpus_files)."""
    return [path for s in after(first) for path in s.paths(layout, pool if s.per_pool else shard)]
