"""Resources decided from the data when a job is ready to run."""

from __future__ import annotations

from pathlib import Path

from ocrflow.resources import recovery_gpus


def test_recovery_holds_a_gpu_only_when_a_page_failed(tmp_path: Path) -> None:
    clean, failing = tmp_path / "clean.jsonl", tmp_path / "failing.jsonl"
    clean.write_text('{"doc_id": "a", "page": 1, "ok": true}\n')
    failing.write_text('{"doc_id": "a", "page": 1, "ok": true}\n'
                       '{"doc_id": "a", "page": 2, "ok": false}\n')
    assert recovery_gpus(1, clean) == 0
    assert recovery_gpus(1, failing) == 1
    assert recovery_gpus(0, failing) == 0  # a CPU engine never asks for one
