"""Every conda env parses and holds the packages that the code its rules run imports."""

from __future__ import annotations

import ast
import re
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from ocrflow.engines import ENGINES
from tests.conftest import REPO

# import name -> package name in an env file
PACKAGES = {"PIL": "pillow", "yaml": "pyyaml", "chandra": "chandra-ocr", "Levenshtein":
            "python-levenshtein", "bs4": "beautifulsoup4", "cv2": "opencv-python-headless"}
# packages that come with another one listed in the env (or go by another name on conda-forge)
PROVIDED_BY = {"torch": "vllm", "transformers": "vllm", "numpy": "vllm", "torchvision": "vllm",
               "beautifulsoup4": "chandra-ocr", "opencv-python-headless": "py-opencv"}
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
    stages = ["ocrflow.run.entrypoints", "ocrflow.run.plan", "ocrflow.inputs.inventory",
              "ocrflow.text.detect",
              "ocrflow.results.merge", "ocrflow.results.manifest", "ocrflow.engines.ocr",
              "ocrflow.engines.textlayer"]
    assert missing(imports(stages), env_packages(REPO / "envs" / "ocrflow.yaml")) == set()


@pytest.mark.parametrize("engine", sorted(ENGINES))
def test_each_engine_env_has_what_its_ocr_jobs_import(engine: str) -> None:
    spec = ENGINES[engine]
    for target, env in [(spec.target, spec.env), *((t, e) for _, t, e in spec.backends)]:
        # what scripts/ocr.py runs: the engine, then detection on its readings
        needed = imports(["ocrflow.engines.ocr", "ocrflow.text.detect", target.split(":")[0]])
        path = (REPO / "rules" / env).resolve()
        assert missing(needed, env_packages(path)) == set(), path


def test_every_rule_names_its_env() -> None:
    for smk in (REPO / "rules").glob("*.smk"):
        text = smk.read_text()
        assert text.count("    conda:") == len(re.findall(r"^rule ", text, re.MULTILINE)), smk


def pip_requirements(env: dict) -> list[str]:
    """An env as pip requirements: its pip part, and its conda pins (`numpy=2.2` is 2.2.*)."""
    found = []
    for dep in env["dependencies"]:
        if isinstance(dep, dict):
            found += [item.split("#")[0].strip() for item in dep["pip"]]
            continue
        name, _, version = str(dep).partition("=")
        if name not in ("python", "pip"):
            found.append(f"{name}=={version}.*" if version else name)
    return found


def resolves(requirements: list[str]) -> subprocess.CompletedProcess[str]:
    """pip's resolver on metadata alone, as for a Python 3.11 manylinux x86_64 machine."""
    platforms = [arg for n in range(17, 36) for arg in ("--platform", f"manylinux_2_{n}_x86_64")]
    return subprocess.run(
        [sys.executable, "-m", "pip", "install", "--dry-run", "--ignore-installed", "--quiet",
         "--python-version", "3.11", "--implementation", "cp", "--abi", "cp311", *platforms,
         "--platform", "manylinux2014_x86_64", "--only-binary=:all:", *requirements],
        capture_output=True, text=True, timeout=900)


PIP_ENVS = sorted(env.name for env in (REPO / "envs").glob("*.yaml")
                  if any(isinstance(d, dict) for d in yaml.safe_load(env.read_text())
                         ["dependencies"]))


@pytest.mark.services  # pip's resolver reads PyPI's metadata
@pytest.mark.parametrize("name", PIP_ENVS)
def test_each_env_pip_part_resolves_with_its_conda_pins(name: str) -> None:
    result = resolves(pip_requirements(yaml.safe_load((REPO / "envs" / name).read_text())))
    errors = [line for line in result.stderr.splitlines() if line.startswith("ERROR")]
    assert result.returncode == 0, "\n".join(errors[-5:])


@pytest.mark.services  # PyPI
def test_the_resolution_check_fails_on_a_pin_vllm_refuses() -> None:
    # vLLM 0.32.0 requires transformers>=5.16.1,<5.20: an env that pinned 5.15 cannot be.
    env = yaml.safe_load((REPO / "envs" / "deepseek.yaml").read_text())
    result = resolves([*pip_requirements(env), "transformers==5.15.*"])
    assert result.returncode != 0 and "ResolutionImpossible" in result.stderr
    assert "transformers==5.15" in result.stderr
