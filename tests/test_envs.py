"""Every conda env parses and holds the packages that the code its rules run imports."""

from __future__ import annotations

import ast
import re
import sys
from pathlib import Path

import pytest
import yaml

from ocrflow.engines import ENGINES
from tests.conftest import REPO

# import name -> package name in an env file
PACKAGES = {"PIL": "pillow", "yaml": "pyyaml", "chandra": "chandra-ocr", "Levenshtein":
            "python-levenshtein"}
# packages that come with another one listed in the env
PROVIDED_BY = {"torch": "vllm", "transformers": "vllm", "numpy": "vllm"}
OCRFLOW = REPO / "ocrflow"


def module_file(name: str) -> Path:
    path = REPO / Path(*name.split("."))
    return path / "__init__.py" if path.is_dir() else path.with_suffix(".py")


def imports(start: list[str]) -> set[str]:
    """Third-party top-level imports of ``start`` and every ocrflow module they import."""
    seen, todo, found = set(), list(start), set()
    while todo:
        name = todo.pop()
        if name in seen:
            continue
        seen.add(name)
        tree = ast.parse(module_file(name).read_text())
        for node in ast.walk(tree):
            names = []
            if isinstance(node, ast.Import):
                names = [alias.name for alias in node.names]
            elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
                names = [node.module] + [f"{node.module}.{a.name}" for a in node.names]
            for full in names:
                top = full.split(".")[0]
                if top == "ocrflow":
                    if module_file(full).exists():
                        todo.append(full)
                elif top not in sys.stdlib_module_names and top != "__future__":
                    found.add(PACKAGES.get(top, top).lower())
    return found


def env_packages(env: Path) -> set[str]:
    spec = yaml.safe_load(env.read_text())
    names = set()
    for dep in spec["dependencies"]:
        for item in dep["pip"] if isinstance(dep, dict) else [dep]:
            names.add(re.split(r"[=<>!~ \[]", item, maxsplit=1)[0].lower())
    return names


def missing(needed: set[str], present: set[str]) -> set[str]:
    return {p for p in needed if p not in present and PROVIDED_BY.get(p) not in present}


def test_every_env_file_parses() -> None:
    for env in sorted((REPO / "envs").glob("*.yaml")):
        spec = yaml.safe_load(env.read_text())
        assert spec["channels"] and any(str(d).startswith("python=") for d in
                                        spec["dependencies"]), env


def test_cpu_stages_env_has_what_they_import() -> None:
    stages = ["ocrflow.entrypoints", "ocrflow.inventory", "ocrflow.detect", "ocrflow.merge",
              "ocrflow.manifest", "ocrflow.ocr", "ocrflow.engines.textlayer"]
    assert missing(imports(stages), env_packages(REPO / "envs" / "ocrflow.yaml")) == set()


@pytest.mark.parametrize("engine", sorted(ENGINES))
def test_each_engine_env_has_what_its_ocr_jobs_import(engine: str) -> None:
    spec = ENGINES[engine]
    module = spec.target.split(":")[0]
    needed = imports(["ocrflow.ocr", module])  # what scripts/ocr.py runs
    for env in [spec.env, *dict(spec.backend_envs).values()]:
        path = (REPO / "rules" / env).resolve()
        assert missing(needed, env_packages(path)) == set(), path


def test_every_rule_names_its_env() -> None:
    for smk in (REPO / "rules").glob("*.smk"):
        text = smk.read_text()
        assert text.count("    conda:") == len(re.findall(r"^rule ", text, re.MULTILINE)), smk
