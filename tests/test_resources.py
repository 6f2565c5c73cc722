"""Resources decided from the data when a job is ready to run."""

from __future__ import annotations

from pathlib import Path

from ocrflow.records import Verdict, write_records
from ocrflow.resources import recovery_gpus


def test_recovery_holds_a_gpu_only_when_a_page_failed(tmp_path: Path) -> None:
    clean, failing = tmp_path / "clean.jsonl", tmp_path / "failing.jsonl"
    write_records(clean, [Verdict("a", 1, "chandra", ok=True)])
    write_records(failing, [Verdict("a", 1, "chandra", ok=True),
                            Verdict("a", 2, "chandra", ok=False, reasons=["empty_output"])])
    assert recovery_gpus(1, clean) == 0
    assert recovery_gpus(1, failing) == 1
    assert recovery_gpus(0, failing) == 0  # a CPU engine never asks for one
