"""Fixtures: a workspace with its own config, and a real Snakemake run of the workflow in it."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from collections import Counter
from collections.abc import Iterable
from pathlib import Path
from typing import Any

import pytest
import yaml

REPO = Path(__file__).resolve().parent.parent
EXAMPLES = REPO / "examples"
TEST_CONFIG = REPO / ".test" / "config" / "cpu.yaml"


class Workspace:
    """A working directory with config/config.yaml (the tests' own, .test/config/cpu.yaml),
    where snakemake runs the repo's workflow."""

    def __init__(self, root: Path) -> None:
        self.root = root
        self.call_log = root / "engine_calls.jsonl"
        self.config: dict[str, Any] = yaml.safe_load(TEST_CONFIG.read_text())
        self.config["input"] = str(root / "corpus")
        self.config["results"] = str(root / "results")

    @property
    def results(self) -> Path:
        return Path(self.config["results"])

    def write_config(self) -> None:
        path = self.root / "config" / "config.yaml"
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(yaml.safe_dump(self.config))

    def snakemake(self, *args: str, check: bool = True,
                  timeout: float = 900) -> subprocess.CompletedProcess[str]:
        self.write_config()
        command = [sys.executable, "-m", "snakemake", "-s", str(REPO / "Snakefile"),
                   "-d", str(self.root), "--profile", str(REPO / "profiles/local"),
                   "--cores", "2", *args]
        env = {**os.environ, "OCRFLOW_CALL_LOG": str(self.call_log)}
        result = subprocess.run(command, cwd=self.root, env=env, capture_output=True,
                                text=True, timeout=timeout)
        if check and result.returncode != 0:
            raise AssertionError(f"snakemake failed ({result.returncode}):\n"
                                 f"{result.stdout[-4000:]}\n{result.stderr[-8000:]}")
        return result

    def calls(self) -> list[dict[str, Any]]:
        """Every page sent to an engine so far, as the workflow's audit log records it."""
        if not self.call_log.exists():
            return []
        return [json.loads(line) for line in self.call_log.read_text().splitlines()]

    def reset_calls(self) -> None:
        self.call_log.unlink(missing_ok=True)

    def manifest(self) -> list[dict[str, Any]]:
        import pyarrow.parquet as pq

        return pq.read_table(self.results / "manifest.parquet").to_pylist()


def call_counts(calls: Iterable[dict[str, Any]]) -> Counter[tuple[str, str, int]]:
    return Counter((c["role"], c["content_hash"], c["page"]) for c in calls)


@pytest.fixture
def workspace(tmp_path: Path) -> Workspace:
    return Workspace(tmp_path)


@pytest.fixture
def example_workspace(tmp_path: Path) -> Workspace:
    ws = Workspace(tmp_path)
    shutil.copytree(EXAMPLES / "corpus", tmp_path / "corpus")
    return ws


def jobs_run(result: subprocess.CompletedProcess[str]) -> Counter[str]:
    """Rules Snakemake executed (or would execute, in a dry run), from its job stats table."""
    counts: Counter[str] = Counter()
    text = result.stdout + result.stderr
    if "Job stats:" not in text:
        return counts
    table = text.split("Job stats:", 1)[1].splitlines()[3:]
    for line in table:
        parts = line.split()
        if len(parts) != 2 or parts[0] == "total":
            break
        counts[parts[0]] = int(parts[1])
    return counts


# Fixtures that start a service (pyproject.toml's markers): a test that asks for one, however
# deep, is marked `services` even if its module forgets to say so, so `make test-fast` never
# starts Slurm or PostgreSQL.
SERVICE_FIXTURES = {"slurm", "postgres"}


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    for item in items:
        if SERVICE_FIXTURES & set(getattr(item, "fixturenames", ())):
            item.add_marker(pytest.mark.services)


@pytest.fixture(scope="session")
def slurm():
    """A real Slurm on localhost for the cluster tests, up until the whole session ends (the
    SLURM executor plugin probes the controller at every snakemake start, and waits ~9 s when
    it is installed but down)."""
    from tests.support import local_slurm

    if not local_slurm.available():
        if os.environ.get("CI"):
            pytest.fail("Slurm is not installed: `make test` installs slurm-wlm, "
                        "slurm-wlm-torque and munge")
        pytest.skip("Slurm is not installed (make test installs it as root)")
    if os.geteuid() != 0:
        pytest.skip("starting Slurm needs root")
    local_slurm.start()
    yield
    local_slurm.stop()


@pytest.fixture
def fake_server(tmp_path: Path):
    """A stand-in server started with the command line an engine builds for its own server."""
    servers = []

    from tests.support.stand_in import FakeServer, served_command

    def start(plan: dict, engine: str, **changes: object) -> FakeServer:
        server = FakeServer(tmp_path, plan, served_command(engine, **changes))
        servers.append(server)
        return server

    yield start
    for server in servers:
        server.stop()
