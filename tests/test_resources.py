"""What jobs ask the scheduler for: cores and memory derived from their engine, checked against
a node's size when the workflow starts, and resources decided from the data when a job is ready
to run."""

from __future__ import annotations

import json
import math
import re
from pathlib import Path

import pytest

from ocrflow.core.records import Verdict
from ocrflow.engines.resources import SERVER_BASE_MB, recovery_gpus
from ocrflow.text.detect import verdict_counts
from tests.conftest import Workspace
from tests.support import pdfs
from tests.support.stand_in import DEFAULTS

# Chandra's server: its processes, and vLLM's cache of processed images (4 GB by default) kept in
# both; DeepSeek-OCR's server runs with no such cache (--mm-processor-cache-gb 0).
CHANDRA_SERVER_MB = SERVER_BASE_MB["cuda"] + 2 * 4 * 1024
DEEPSEEK_SERVER_MB = SERVER_BASE_MB["cuda"]


def test_recovery_holds_a_gpu_only_when_a_page_failed(tmp_path: Path) -> None:
    """A pool's job reads its shards' detection counts, as detection writes them."""
    clean, failing = tmp_path / "clean.counts.json", tmp_path / "failing.counts.json"
    clean.write_text(json.dumps(verdict_counts([Verdict("a", 1, "chandra", ok=True)])))
    failing.write_text(json.dumps(verdict_counts([
        Verdict("b", 1, "chandra", ok=True),
        Verdict("b", 2, "chandra", ok=False, reasons=["empty_output"])])))
    assert recovery_gpus(1, [clean, clean]) == 0
    assert recovery_gpus(1, [clean, failing]) == 1  # one shard of the pool had a failure
    assert recovery_gpus(0, [failing]) == 0  # a CPU engine never asks for one


@pytest.mark.slow  # Snakemake dry runs
def test_an_ocr_jobs_walltime_follows_its_pages(gpu_workspace: Workspace) -> None:
    """Before the inventory, the plan's page count; resources.walltime_margin times the pages at
    the engine's pages_per_second and its server_start_s, at least resources.ocr.runtime."""
    pdfs.write(gpu_workspace.root / "corpus" / "long.pdf",
               pdfs.text_pdf([f"Page {n}." for n in range(40)]))
    gpu_workspace.config["engines"] = {"chandra": {"pages_per_second": 0.01,
                                                   "server_start_s": 60}}
    job = dry_run_job(gpu_workspace, "ocr_primary")
    # 41 pages (a.pdf's one, long.pdf's 40): 2 x (60 s + 41 / 0.01 pages/s) = 138.7 min
    assert job["runtime"] == str(math.ceil(2 * (60 + 41 / 0.01) / 60)) == "139"
    gpu_workspace.config["engines"] = {"chandra": {"pages_per_second": 100.0}}
    assert dry_run_job(gpu_workspace, "ocr_primary")["runtime"] == "30"  # resources.ocr.runtime


def dry_run_job(ws: Workspace, rule: str) -> dict[str, str]:
    """The threads and resources a dry run shows for the first job of ``rule``: what a scheduler
    is asked for."""
    result = ws.snakemake("-n", "--cores", "64")
    block = result.stdout.split(f"rule {rule}:", 1)[1].split("\n[", 1)[0]
    found = dict(re.findall(r"^\s+(threads): (\d+)$", block, re.MULTILINE))
    resources = re.search(r"^\s+resources: (.*)$", block, re.MULTILINE).group(1)
    found |= dict(pair.split("=", 1) for pair in resources.split(", "))
    return found


@pytest.fixture
def gpu_workspace(workspace: Workspace) -> Workspace:
    pdfs.write(workspace.root / "corpus" / "a.pdf", pdfs.text_pdf(["A page."]))
    workspace.config.update(primary={"engine": "chandra"}, recovery={"engine": "deepseek"},
                            render={"workers": 2})
    return workspace


@pytest.mark.slow  # Snakemake dry runs
def test_a_job_that_starts_a_model_server_asks_for_its_cores_and_host_memory(
        gpu_workspace: Workspace) -> None:
    job = dry_run_job(gpu_workspace, "ocr_primary")
    # 2 render workers, the job's own core, 2 for the vLLM server on its GPU (API + engine core)
    assert (job["threads"], job["gpu"]) == ("5", "1")
    assert job["mem_mb"] == str(8000 + CHANDRA_SERVER_MB)  # the job's, and the server's
    gpu_workspace.config["engines"] = {"chandra": {"gpus": 2, "server_mem_mb": 12000}}
    job = dry_run_job(gpu_workspace, "ocr_primary")
    assert (job["threads"], job["gpu"], job["mem_mb"]) == ("7", "2", str(8000 + 2 * 12000))


@pytest.mark.slow  # Snakemake dry runs
def test_a_servers_cache_of_processed_images_counts_twice(gpu_workspace: Workspace) -> None:
    assert dry_run_job(gpu_workspace, "ocr_recovery")["mem_mb"] == str(8000 + DEEPSEEK_SERVER_MB)
    args = [*DEFAULTS["engines"]["chandra"]["server_args"], "--mm-processor-cache-gb", "1"]
    gpu_workspace.config["engines"] = {"chandra": {"server_args": args}}
    job = dry_run_job(gpu_workspace, "ocr_primary")
    assert job["mem_mb"] == str(8000 + SERVER_BASE_MB["cuda"] + 2 * 1024)


@pytest.mark.slow  # Snakemake dry runs
def test_a_job_that_uses_an_endpoint_asks_for_no_server(gpu_workspace: Workspace) -> None:
    gpu_workspace.config["engines"] = {"chandra": {"endpoint": "http://127.0.0.1:9/v1"}}
    job = dry_run_job(gpu_workspace, "ocr_primary")
    assert (job["threads"], job["gpu"], job["mem_mb"]) == ("3", "0", "8000")


@pytest.mark.slow  # Snakemake dry runs
def test_the_weights_in_the_model_folder_count_in_the_servers_memory(
        gpu_workspace: Workspace) -> None:
    """vLLM reads the weight files through the page cache, which schedulers that count resident
    memory charge to the job."""
    models = gpu_workspace.root / "models"
    folder = models / "datalab-to" / "chandra-ocr-2"
    folder.mkdir(parents=True)
    (folder / "model-00001-of-00002.safetensors").write_bytes(b"\0" * (3 * 2**20))
    (folder / "model-00002-of-00002.safetensors").write_bytes(b"\0" * (2 * 2**20 + 1))
    (folder / "tokenizer.json").write_bytes(b"\0" * 2**20)  # not weights
    gpu_workspace.config["models"] = {"dir": str(models)}
    job = dry_run_job(gpu_workspace, "ocr_primary")
    assert job["mem_mb"] == str(8000 + CHANDRA_SERVER_MB + 6)


@pytest.mark.slow  # Snakemake dry runs
def test_a_job_larger_than_a_node_is_refused_when_the_workflow_starts(
        gpu_workspace: Workspace) -> None:
    gpu_workspace.config["resources"] = {"node": {"cores": 4}}
    result = gpu_workspace.snakemake("-n", check=False)
    assert result.returncode != 0
    assert result.stderr.strip().splitlines()[-1] == (
        "config error: resources.node.cores: an ocr_primary job (chandra) asks 5 cores: "
        "render.workers (2) + 1 for the job + 2 for its model server; a node has 4: lower "
        "render.workers")
    gpu_workspace.config["resources"] = {"node": {"cores": 5, "mem_mb": 12000}}
    result = gpu_workspace.snakemake("-n", check=False)
    assert result.stderr.strip().splitlines()[-1] == (
        f"config error: resources.node.mem_mb: an ocr_primary job (chandra) asks "
        f"{8000 + CHANDRA_SERVER_MB:,} MB: resources.ocr.mem_mb (8,000 MB) + "
        f"{CHANDRA_SERVER_MB:,} MB for its model server (engines.chandra.server_mem_mb); "
        "a node has 12,000 MB")
    gpu_workspace.config["resources"] = {"node": {"cores": 5, "mem_mb": 64000}}
    assert gpu_workspace.snakemake("-n").returncode == 0
