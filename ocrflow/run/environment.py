"""What a job sets in its own environment as it starts, so that nothing depends on the shell that
submitted it (a PBS job sees none of that shell's variables): the config's ``environment``, and
what other settings imply. ``config.validate`` fills the implied ones into the config, so that
``<results>/config.yaml`` records every variable the jobs set.
"""

from __future__ import annotations

import logging
import os
import re
import socket
from typing import Any

from ocrflow.core.errors import OcrflowError

log = logging.getLogger(__name__)

# Names of secrets: the config is recorded in the results folder, so they are refused there.
SECRET = re.compile(r"KEY|TOKEN|SECRET|PASSWORD|PASSWD|CREDENTIAL", re.IGNORECASE)


def implied(config: dict[str, Any]) -> dict[str, str]:
    """Variables other settings call for; the config's own ``environment`` wins over them.

    - models.dir: the weights are on disk, and nothing may wait on the network (HF_HUB_OFFLINE
      for huggingface_hub and vLLM, TRANSFORMERS_OFFLINE for transformers' own loaders;
      VLLM_NO_USAGE_STATS for vLLM's usage reports, vllm/usage/usage_lib.py).
    - vLLM's cache (torch.compile's artefacts) in the results folder, which every node sees: a
      run's later server starts reuse what its first one compiled.
    """
    variables = {"VLLM_CACHE_ROOT": os.path.abspath(f"{config['results']}/cache/vllm")}
    if config["models"]["dir"]:
        variables |= {"HF_HUB_OFFLINE": "1", "TRANSFORMERS_OFFLINE": "1",
                      "VLLM_NO_USAGE_STATS": "1"}
    return variables


def secret_names(environment: dict[str, Any]) -> list[str]:
    return [name for name in environment if SECRET.search(name)]


def fill(config: dict[str, Any]) -> None:
    """The config's ``environment`` with the implied variables added, every value a string."""
    given = {name: _text(value) for name, value in config["environment"].items()}
    config["environment"] = {**implied(config), **given}


def apply(environment: dict[str, Any]) -> dict[str, str]:
    """Set the job's variables (a relative path in one is relative to the job's working
    directory, the submitting Snakemake's); returns what changed, which the job's log lists."""
    changed = {}
    for name, value in environment.items():
        text = _text(value)
        if os.environ.get(name) != text:
            os.environ[name] = text
            changed[name] = text
    if changed:
        log.info("environment from the config: %s",
                 " ".join(f"{name}={value}" for name, value in sorted(changed.items())))
    return changed


def _text(value: Any) -> str:
    if isinstance(value, bool):
        return "1" if value else "0"
    return str(value)


class NotShared(OcrflowError, RuntimeError):
    """A path the submitting host planned with is not there where the job runs."""


SHARED = ("the checkout, its .venv, the conda envs, the models and the results must be on a "
          "filesystem every node shares, at the same paths (docs/clusters.md)")


def check_shared(what: str, path: str | os.PathLike[str]) -> None:
    """Raise NotShared, naming ``path``, when this node cannot see it."""
    if not os.path.exists(path):
        raise NotShared(f"ocrflow: this node ({socket.gethostname()}) cannot see {what} "
                        f"{os.path.abspath(path)}: {SHARED}")
