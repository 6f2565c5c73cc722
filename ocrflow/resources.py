"""Scheduler resources that depend on the data: decided when a job is ready to run."""

from __future__ import annotations

import json
from pathlib import Path

from ocrflow.records import Verdict, needs_recovery


def has_failed_pages(verdicts: str | Path) -> bool:
    with open(verdicts, encoding="utf-8") as handle:
        return any(needs_recovery(Verdict.from_json(json.loads(line)))
                   for line in handle if line.strip())


def recovery_gpus(engine_gpus: int, verdicts: str | Path) -> int:
    """A recovery job asks for its engine's GPUs only when some page failed: a shard with
    nothing to recover never holds a GPU."""
    return engine_gpus if engine_gpus and has_failed_pages(verdicts) else 0
