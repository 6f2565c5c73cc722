"""Recovery pools: the shards whose failed pages one recovery job reads.

A recovery job pays for its model server's start before it reads a page, and waits in the GPU
queue once. A few percent of a shard's pages fail, so one recovery job per shard would start a
server for tens of pages; a pool of consecutive shards gives one job the failed pages of about
``recovery.pages_per_job`` (expected: the pool's pages times ``recovery.expected_failure``).

A pool is ``shards_per_pool`` consecutive shard numbers: computed from the config alone, so the
main process, every cluster job and ``ocrflow status`` agree without a file, and a shard keeps
its pool for as long as the config keeps these settings (shard numbers are never reused). New
shards join the last pool until it is full. Engines with nothing to start (CPU engines, an
``endpoint``) get pools of one shard: pooling them would only make merges wait.
"""

from __future__ import annotations

from typing import Any

from ocrflow.engines import ENGINES, engine_settings, job_gpus, job_servers

POOL_PREFIX = "r"  # r000000: the pool of shards s000000.. (shard ids start with "s")
# Expected failed pages per recovery job when the engine starts a model (a vLLM server or a model
# loaded on a GPU): a DeepSeek-OCR start of about 2 minutes is then under 5% of the job at the
# published ~2.3 pages/s (docs/clusters.md, "GPU hours").
STARTING_ENGINE_PAGES = 2500


def starts_a_model(config: dict[str, Any], role: str) -> bool:
    """Whether a job of the role's engine loads a model before its first page (a server, or a
    model on a GPU in the job's process)."""
    engine = config[role]["engine"]
    if engine not in ENGINES:
        return False
    settings = engine_settings(config, engine)
    return bool(job_servers(engine, settings) or job_gpus(engine, settings))


def pages_per_job(config: dict[str, Any]) -> int:
    """Failed pages a recovery job is sized for: recovery.pages_per_job, or its default for the
    engine (0: one shard per job)."""
    given = config["recovery"].get("pages_per_job")
    if given is not None:
        return int(given)
    return STARTING_ENGINE_PAGES if starts_a_model(config, "recovery") else 0


def shards_per_pool(config: dict[str, Any]) -> int:
    """Consecutive shards one recovery job reads: enough of them that their expected failed pages
    reach pages_per_job (shard_pages pages each, recovery.expected_failure of them failing)."""
    wanted = pages_per_job(config)
    expected_per_shard = config["shard_pages"] * config["recovery"]["expected_failure"]
    if wanted <= 0 or expected_per_shard <= 0:
        return 1
    return max(1, round(wanted / expected_per_shard))


def pool_of(shard: str, per_pool: int) -> str:
    """The pool of ``shard`` (s000123 with 10 per pool: r000012)."""
    return f"{POOL_PREFIX}{int(shard[1:]) // per_pool:06d}"


def pools(shards: list[str], per_pool: int) -> dict[str, list[str]]:
    """pool -> its shards, in order, for the plan's ``shards``."""
    out: dict[str, list[str]] = {}
    for shard in shards:
        out.setdefault(pool_of(shard, per_pool), []).append(shard)
    return out
