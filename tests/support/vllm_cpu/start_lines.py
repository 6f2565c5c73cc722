"""The lines a server start logs on CUDA, as vLLM 0.32.0 writes them, where the CPU build writes
none (no CUDA graphs, no VLLM_COMPILE): each message's format string is read out of vLLM's own
source (its implicitly joined literals, by ``ast``) and logged through vLLM's own logger, so the
lines carry its prefix (the file named in it is this one, the caller). Run with the vLLM venv's
Python:

    .venv-vllm/bin/python tests/support/vllm_cpu/start_lines.py '{"key": [args...], ...}'

The argument maps a message's key (MESSAGES) to the values it is logged with; ``init engine``
takes as many values as the format it picks (3 formats: 1, 2 or 4 values). Prints the log lines
on stdout.
"""

from __future__ import annotations

import ast
import json
import sys
from pathlib import Path

# key: (module whose logger writes it, its source file under vllm/, words of its format)
MESSAGES = {
    "model loading": ("vllm.v1.worker.gpu_model_runner", "v1/worker/gpu_model_runner.py",
                      "Model loading took"),
    "model loading v2": ("vllm.v1.worker.gpu.model_runner", "v1/worker/gpu/model_runner.py",
                         "Model loading took"),
    "weights": ("vllm.model_executor.model_loader.default_loader",
                "model_executor/model_loader/default_loader.py", "Loading weights took"),
    "torch.compile": ("vllm.compilation.monitor", "compilation/monitor.py",
                      "torch.compile took"),
    "compile and warmup": ("vllm.compilation.decorators", "compilation/decorators.py",
                           "torch.compile and initial profiling/warmup run together"),
    "graphs": ("vllm.v1.worker.gpu_model_runner", "v1/worker/gpu_model_runner.py",
               "Graph capturing finished in"),
    "graphs v2": ("vllm.v1.worker.gpu.model_runner", "v1/worker/gpu/model_runner.py",
                  "Graph capturing finished in"),
    "init engine": ("vllm.v1.engine.core", "v1/engine/core.py", "init engine (profile"),
}


def formats(source: Path, words: str) -> list[str]:
    """The string constants of a source file that hold ``words`` (adjacent literals joined)."""
    tree = ast.parse(source.read_text())
    return [node.value for node in ast.walk(tree)
            if isinstance(node, ast.Constant) and isinstance(node.value, str)
            and words in node.value]


def main(wanted: dict[str, list]) -> None:
    """Logs each message through vLLM's logger, whose handler writes it to stdout."""
    import vllm
    from vllm.logger import _configure_vllm_root_logger, init_logger

    _configure_vllm_root_logger()
    root = Path(vllm.__file__).parent
    for key, values in wanted.items():
        module, path, words = MESSAGES[key]
        found = [f for f in formats(root / path, words) if f.count("%") == len(values)]
        assert len(found) == 1, (key, formats(root / path, words))
        init_logger(module).info(found[0], *values)


if __name__ == "__main__":
    main(json.loads(sys.argv[1]))
