"""What each job asks the scheduler for: cores and memory derived from its engine, checked against
the size of a node when the workflow starts; and the resources that depend on the data, decided
when a job is ready to run.
"""

from __future__ import annotations

import functools
import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ocrflow.engines import engine_settings, job_servers
from ocrflow.engines.models import model_folder
from ocrflow.engines.serve_options import option_values

# Cores of an OCR job besides its render workers: the job's own process (the engine's client,
# or a CPU engine's recognition threads).
JOB_CORES = 1
# Cores of each model server it starts: vLLM's API process (HTTP, tokenising, the multimodal
# processor) and its engine core, which schedules batches in a busy loop.
SERVER_CORES = 2
# Host memory of one `vllm serve` (0.32.0), in MB, besides its cache of processed images and its
# weights (docs/clusters.md, "What runs where"). cpu: measured, every process of the server's
# session (VmHWM) while it starts and reads four pages at once, with the tests'
# VLLM_CPU_KVCACHE_SPACE of 1 GB: 3,965 MB. cuda: its two processes (API server; engine core with
# the model) without the CPU build's KV cache and worker process, with CUDA's context and pinned
# buffers: an estimate with room, no GPU here.
SERVER_BASE_MB = {"cpu": 5000, "cuda": 6000}
# vLLM keeps processed images in the API process and again in the engine core, up to
# --mm-processor-cache-gb each (config/multimodal.py; 4 by default).
MM_CACHE_GB_DEFAULT = 4
WEIGHT_SUFFIXES = (".safetensors", ".bin", ".pt")


@dataclass(frozen=True)
class OcrJob:
    """What one OCR job of a role asks for, and why (for the messages that name a setting)."""

    role: str
    engine: str
    render_workers: int
    servers: int
    job_mem_mb: int  # resources.ocr.mem_mb
    server_mem_mb: int  # per server
    # Servers on GPUs, each with cores of its own; a server on the CPU (device: cpu, the tests)
    # computes on the job's cores.
    gpu_servers: int = 0

    @property
    def cores(self) -> int:
        return self.render_workers + JOB_CORES + SERVER_CORES * self.gpu_servers

    @property
    def mem_mb(self) -> int:
        return self.job_mem_mb + self.server_mem_mb * self.servers

    def describe_cores(self) -> str:
        servers = f" + {SERVER_CORES * self.gpu_servers} for {_servers(self.gpu_servers)}" \
            if self.gpu_servers else ""
        return (f"{self.cores} cores: render.workers ({self.render_workers}) + {JOB_CORES} for "
                f"the job{servers}")

    def describe_mem(self) -> str:
        servers = f" + {self.server_mem_mb * self.servers:,} MB for {_servers(self.servers)} " \
                  f"(engines.{self.engine}.server_mem_mb)" if self.servers else ""
        return f"{self.mem_mb:,} MB: resources.ocr.mem_mb ({self.job_mem_mb:,} MB){servers}"


def _servers(count: int) -> str:
    return "its model server" if count == 1 else f"its {count} model servers"


def ocr_job(config: dict[str, Any], role: str) -> OcrJob:
    engine = config[role]["engine"]
    settings = engine_settings(config, engine)
    servers = job_servers(engine, settings)
    on_gpus = servers if settings.get("device", "cuda") == "cuda" else 0
    return OcrJob(role, engine, config["render"]["workers"], servers,
                  config["resources"]["ocr"]["mem_mb"],
                  server_mem_mb(settings) if servers else 0, on_gpus)


def server_mem_mb(settings: dict[str, Any]) -> int:
    """Host memory of one model server: the engine's server_mem_mb, else the base of the device
    plus, on a GPU, twice its cache of processed images and the model's weight files where they
    are on disk (vLLM maps them while it loads them, and a scheduler that counts resident memory
    charges them to the job)."""
    if settings.get("server_mem_mb"):
        return int(settings["server_mem_mb"])
    device = settings.get("device", "cuda")
    if device != "cuda":
        return SERVER_BASE_MB[device]
    given = option_values(list(settings.get("server_args") or [])).get("--mm-processor-cache-gb")
    cache_gb = float(given[0]) if given else MM_CACHE_GB_DEFAULT
    return SERVER_BASE_MB[device] + int(2 * cache_gb * 1024) + weights_mb(model_folder(settings))


@functools.lru_cache
def weights_mb(folder: Path | None) -> int:
    """MB of the weight files in ``folder``: listed once per process (each rule's threads and
    resources, and the node check, ask for it; the folder may be on a network filesystem)."""
    if folder is None or not folder.is_dir():
        return 0
    size = sum(p.stat().st_size for p in folder.rglob("*") if p.name.endswith(WEIGHT_SUFFIXES))
    return -(-size // 2**20)


def too_large_for_node(config: dict[str, Any]) -> str | None:
    """The first job a node cannot hold (resources.node), as one line naming what to lower;
    None when every job fits or the node's size is not given."""
    node = config["resources"]["node"]
    roles = ["primary"] + (["recovery"] if config["recovery"]["engine"] != "none" else [])
    for job in (ocr_job(config, role) for role in roles):
        if node["cores"] and job.cores > node["cores"]:
            return (f"resources.node.cores: an ocr_{job.role} job ({job.engine}) asks "
                    f"{job.describe_cores()}; a node has {node['cores']}: lower render.workers")
        if node["mem_mb"] and job.mem_mb > node["mem_mb"]:
            return (f"resources.node.mem_mb: an ocr_{job.role} job ({job.engine}) asks "
                    f"{job.describe_mem()}; a node has {node['mem_mb']:,} MB")
    for stage in ("inventory", "manifest"):
        asked = config["resources"][stage]["mem_mb"]
        if node["mem_mb"] and asked > node["mem_mb"]:
            return (f"resources.{stage}.mem_mb: {asked:,} MB is more than a node has "
                    f"(resources.node.mem_mb: {node['mem_mb']:,})")
    return None


def failed_pages(verdict_counts: list[str] | list[Path]) -> int:
    """Pages the primary failed in these shards, from detection's counts (small JSON)."""
    return sum(json.loads(Path(path).read_bytes()).get("failed", 0) for path in verdict_counts)


def recovery_gpus(engine_gpus: int, verdict_counts: list[str] | list[Path]) -> int:
    """A recovery job asks for its engine's GPUs only when some page failed: a pool with
    nothing to recover never holds a GPU."""
    return engine_gpus if engine_gpus and failed_pages(verdict_counts) else 0


def primary_pages(inventory_counts: str | Path, trusted_text_layer: bool) -> int:
    """Pages a primary job sends to its engine: the shard's readable pages, less those read
    from a trusted text layer when the config takes them from it."""
    counts = json.loads(Path(inventory_counts).read_bytes())
    readable = counts.get("pages", 0) - counts.get("bad_pages", 0)
    return readable - (counts.get("trusted_text_layer", 0) if trusted_text_layer else 0)
