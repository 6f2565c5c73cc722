"""The example corpus's own olmOCR-bench-format tests (examples/bench/): the CPU pipeline passes
what it should and fails exactly its documented known failures; header and footer removal is
what makes the running-head tests pass."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

from tests.conftest import EXAMPLES, REPO, Workspace

BENCH = EXAMPLES / "bench"


def failed_tests(results: Path, tmp_path: Path) -> tuple[set[str], str]:
    failures = tmp_path / "failures.jsonl"
    run = subprocess.run([sys.executable, "-m", "ocrflow", "eval", str(BENCH / "tests.jsonl"),
                          "--pdfs", str(EXAMPLES / "corpus"), "--results", str(results),
                          "--failures", str(failures)],
                         cwd=REPO, capture_output=True, text=True, timeout=300)
    assert run.returncode in (0, 1), run.stderr  # 1: some tests failed
    return {json.loads(line)["id"] for line in failures.read_text().splitlines()}, run.stdout


def test_the_cpu_pipeline_fails_only_its_known_failures(example_workspace: Workspace,
                                                        tmp_path: Path) -> None:
    expected = json.loads((BENCH / "expected.json").read_text())
    ws = example_workspace
    ws.config["recovery"]["engine"] = "tesseract"  # as config/config.yaml
    ws.snakemake()
    failed, printed = failed_tests(ws.results, tmp_path)
    assert failed == set(expected["fail"])
    assert "overall: 91.1%" in printed and "table     100.0%  (2/2)" in printed

    ws.config["headers_footers"] = {"remove": False}
    rerun = ws.snakemake()
    assert "Rule: ocr_primary" not in rerun.stderr  # only merge and what follows it
    failed, printed = failed_tests(ws.results, tmp_path)
    assert failed == set(expected["fail_without_header_removal"])
    header_tests = {json.loads(line)["id"] for line in
                    (BENCH / "tests.jsonl").read_text(encoding="utf-8").splitlines()
                    if json.loads(line)["id"].startswith("bo_absent")}
    assert header_tests <= failed  # every running head and footer is back in the text
    assert "overall: 82.1%" in printed
