"""Engine registry: config names to engine classes, imported only when used."""

from __future__ import annotations

import importlib
from typing import Any

from ocrflow.engines.base import Engine, EngineUnavailable, PageInput, PageOutput

__all__ = ["ENGINES", "Engine", "EngineUnavailable", "PageInput", "PageOutput", "create"]

# name -> "module:Class"; a GPU engine's heavy imports stay out of CPU jobs.
ENGINES = {
    "rapidocr": "ocrflow.engines.rapidocr:RapidOCREngine",
    "textlayer": "ocrflow.engines.textlayer:TextLayerEngine",
}


def create(name: str, settings: dict[str, Any], threads: int = 1) -> Engine:
    if name not in ENGINES:
        raise EngineUnavailable(f"unknown engine {name!r}; known: {', '.join(sorted(ENGINES))}")
    module_name, class_name = ENGINES[name].split(":")
    cls = getattr(importlib.import_module(module_name), class_name)
    return cls(settings, threads)
