"""What a model server's start cost, read from the lines vLLM logs as it starts.

A GPU job pays for its servers' start before it reads a page: the weights read, torch.compile
(or its cache read back), CUDA-graph capture, the engine's profiling and warm-up. ``phases``
reads those figures from the server's own log, as vLLM 0.32.0 writes them:

- ``weights_s``: "Model loading took %s GiB memory and %.6f seconds" (the GPU runners:
  vllm/v1/worker/gpu_model_runner.py, GPUModelRunner.load_model; vllm/v1/worker/gpu/
  model_runner.py, load_model): the model built and its weights read. Where no runner says so
  (the CPU build's cpu_model_runner.py does not), the loader's "Loading weights took %.2f
  seconds" (vllm/model_executor/model_loader/default_loader.py, load_weights;
  sharded_state_loader.py).
- ``compile_s``: the "(compilation: %.2f s" of the engine's "init engine ..." line, vLLM's own
  sum of its compilation times (vllm/v1/engine/core.py, EngineCore._initialize_kv_caches); else
  the "[tag] torch.compile took %.2f s in total" lines (vllm/compilation/monitor.py,
  monitor_torch_compile) or "torch.compile and initial profiling/warmup run together took %.2f
  s in total" (vllm/compilation/decorators.py), one per compiled part (backbone, encoder).
  Neither is logged where vLLM does not compile in its VLLM_COMPILE mode: the CPU build
  (platforms/cpu.py: DYNAMO_TRACE_ONCE) compiles inside its warm-up, counted in engine_init_s.
- ``cuda_graphs_s``: "Graph capturing finished in %.0f secs, took %.2f GiB" (gpu_model_runner.py,
  capture_model; gpu/model_runner.py): whole seconds, as vLLM rounds them.
- ``engine_init_s``: "init engine (profile, create kv cache, warmup model) took %.2f s"
  (core.py): profiling, the KV cache, compilation and graph capture together.

With several workers (tensor parallelism), each logs its own loading and compiling, at once: the
slowest counts. A phase vLLM did not log is left out.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

_MODEL_LOADING = re.compile(r"Model loading took \S+ GiB memory and ([\d.]+) seconds")
_WEIGHTS = re.compile(r"Loading weights took ([\d.]+) seconds")
_ENGINE_INIT = re.compile(r"init engine \(profile, create kv cache, warmup model\) took "
                          r"([\d.]+) s(?: \(compilation: ([\d.]+) s)?")
_COMPILE = re.compile(r"\] (?:\[([^\]]+)\] )?torch\.compile (?:and initial profiling/warmup run "
                      r"together )?took ([\d.]+) s in total")
_GRAPHS = re.compile(r"Graph capturing finished in ([\d.]+) secs")


def phases(text: str) -> dict[str, float]:
    """The phases of one server start, from the log it wrote during that start."""
    found: dict[str, float] = {}
    loading = [float(m.group(1)) for m in _MODEL_LOADING.finditer(text)]
    weights = loading or [float(m.group(1)) for m in _WEIGHTS.finditer(text)]
    if weights:
        found["weights_s"] = max(weights)
    init = list(_ENGINE_INIT.finditer(text))
    compiled: dict[str, float] = {}  # compiled part (its tag) -> its slowest worker's time
    for match in _COMPILE.finditer(text):
        tag = match.group(1) or ""
        compiled[tag] = max(compiled.get(tag, 0.0), float(match.group(2)))
    if init and init[-1].group(2) is not None:
        found["compile_s"] = float(init[-1].group(2))
    elif compiled:
        found["compile_s"] = round(sum(compiled.values()), 3)
    graphs = [float(m.group(1)) for m in _GRAPHS.finditer(text)]
    if graphs:
        found["cuda_graphs_s"] = max(graphs)
    if init:
        found["engine_init_s"] = float(init[-1].group(1))
    return found


def log_size(path: Path) -> int:
    """Where a start's lines will begin in a log the server appends to."""
    try:
        return path.stat().st_size
    except FileNotFoundError:
        return 0


def phases_since(path: Path, offset: int) -> dict[str, float]:
    """The phases logged from ``offset`` on: this start's, not an earlier one's."""
    try:
        with open(path, "rb") as log_file:
            log_file.seek(offset)
            return phases(log_file.read().decode(errors="replace"))
    except OSError:
        return {}


def job_start_s(first_starts: list[dict[str, Any]]) -> float:
    """Seconds a job waited for its servers: the slowest of their first starts (0.0: none)."""
    return max((start["seconds"] for start in first_starts), default=0.0)
