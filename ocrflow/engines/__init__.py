"""The engines layer: the engines, one module each, their base class, and what serves them (the
HTTP client, model servers, GPUs, model weights, cluster pools and resources), and the OCR stage
that runs an engine over a shard. Imports inputs, text and core.

This module is the registry: config names to engine classes (imported only when used) and what
each needs."""

from __future__ import annotations

import importlib
from dataclasses import dataclass
from typing import Any

from ocrflow.engines.base import Engine, EngineUnavailable, JobContext, PageInput, PageOutput

__all__ = ["ENGINES", "Engine", "EngineSpec", "EngineUnavailable", "JobContext", "PageInput",
           "PageOutput", "create", "engine_class", "engine_settings", "job_env", "job_gpus",
           "job_servers"]


@dataclass(frozen=True)
class EngineSpec:
    target: str  # "module:Class"; a GPU engine's heavy imports stay out of CPU jobs
    env: str  # conda env file of its OCR jobs, relative to rules/
    uses_gpu: bool = False  # its jobs ask for engines.<name>.gpus GPUs (none with an endpoint)
    serves: bool = False  # its jobs start model servers (vLLM), unless given an endpoint
    # (backend setting, "module:Class", env): a backend with its own module and env
    backends: tuple[tuple[str, str, str], ...] = ()

    def backend(self, settings: dict[str, Any]) -> tuple[str, str]:
        """(target, env) for these settings."""
        for backend, target, env in self.backends:
            if settings.get("backend") == backend:
                return target, env
        return self.target, self.env


ENGINES = {
    "rapidocr": EngineSpec("ocrflow.engines.rapidocr:RapidOCREngine", "../envs/rapidocr.yaml"),
    "tesseract": EngineSpec("ocrflow.engines.tesseract:TesseractEngine", "../envs/tesseract.yaml"),
    "textlayer": EngineSpec("ocrflow.engines.textlayer:TextLayerEngine", "../envs/ocrflow.yaml"),
    "chandra": EngineSpec("ocrflow.engines.chandra:ChandraEngine", "../envs/chandra.yaml", True,
                          True),
    "deepseek": EngineSpec("ocrflow.engines.deepseek:DeepSeekEngine", "../envs/deepseek.yaml",
                           True, True, (("transformers",
                                   "ocrflow.engines.deepseek_transformers:DeepSeekTransformersEngine",
                                   "../envs/deepseek-transformers.yaml"),)),
    "nougat": EngineSpec("ocrflow.engines.nougat:NougatEngine", "../envs/nougat.yaml", True),
}


def engine_settings(config: dict[str, Any], name: str) -> dict[str, Any]:
    """An engine's settings in a run's config, with the folder of the run's models (models.dir)
    where one is set."""
    settings = dict(config["engines"].get(name, {}))
    if config["models"]["dir"]:
        settings["models_dir"] = config["models"]["dir"]
    return settings


def job_servers(name: str, settings: dict[str, Any]) -> int:
    """Model servers one OCR job of this engine starts: one per GPU, one on the CPU, none with
    an endpoint or an engine that runs in the job's own process."""
    if name not in ENGINES or not ENGINES[name].serves or settings.get("endpoint") \
            or settings.get("backend", "vllm") != "vllm":
        return 0
    return 1 if settings.get("device", "cuda") == "cpu" else int(settings.get("gpus", 1))


def job_env(name: str, settings: dict[str, Any]) -> str:
    """The conda env of this engine's OCR jobs, relative to rules/."""
    return ENGINES[name].backend(settings)[1]


def job_gpus(name: str, settings: dict[str, Any]) -> int:
    """GPUs one OCR job of this engine asks the scheduler for."""
    if name not in ENGINES or not ENGINES[name].uses_gpu or settings.get("endpoint"):
        return 0
    if settings.get("device", "cuda") != "cuda":
        return 0
    return int(settings.get("gpus", 1))


def engine_class(name: str) -> type[Engine]:
    """The class registered under ``name``: the one that declares the engine's options (a backend
    with its own class, deepseek's transformers, takes the same settings)."""
    module_name, class_name = ENGINES[name].target.split(":")
    cls: type[Engine] = getattr(importlib.import_module(module_name), class_name)
    return cls


def create(name: str, settings: dict[str, Any], threads: int = 1) -> Engine:
    if name not in ENGINES:
        raise EngineUnavailable(f"unknown engine {name!r}; known: {', '.join(sorted(ENGINES))}")
    module_name, class_name = ENGINES[name].backend(settings)[0].split(":")
    cls = getattr(importlib.import_module(module_name), class_name)
    return cls(settings, threads)
