"""Engine registry: config names to engine classes (imported only when used) and what each needs."""

from __future__ import annotations

import importlib
from dataclasses import dataclass
from typing import Any

from ocrflow.engines.base import Engine, EngineUnavailable, PageInput, PageOutput

__all__ = ["ENGINES", "Engine", "EngineSpec", "EngineUnavailable", "PageInput", "PageOutput",
           "create"]


@dataclass(frozen=True)
class EngineSpec:
    target: str  # "module:Class"; a GPU engine's heavy imports stay out of CPU jobs
    env: str  # conda env file of its OCR jobs, relative to rules/
    gpus: int  # GPUs one OCR job of this engine asks the scheduler for


ENGINES = {
    "rapidocr": EngineSpec("ocrflow.engines.rapidocr:RapidOCREngine", "../envs/rapidocr.yaml", 0),
    "textlayer": EngineSpec("ocrflow.engines.textlayer:TextLayerEngine", "../envs/ocrflow.yaml",
                            0),
}


def create(name: str, settings: dict[str, Any], threads: int = 1) -> Engine:
    if name not in ENGINES:
        raise EngineUnavailable(f"unknown engine {name!r}; known: {', '.join(sorted(ENGINES))}")
    module_name, class_name = ENGINES[name].target.split(":")
    cls = getattr(importlib.import_module(module_name), class_name)
    return cls(settings, threads)
