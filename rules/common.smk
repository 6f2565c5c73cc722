# Configuration, the shard plan and helpers. Everything here runs at parse time, which every
# cluster job repeats: it must stay cheap (no PDF is opened, the input is listed only once), and
# it writes nothing: a dry run or a run refused by Snakemake's lock leaves the results as they
# are. The plan rule (rules/plan.smk) writes the plan; onstart records the config.

import functools
import inspect
import sys
from pathlib import Path

from snakemake.common import overwrite_function_params

# The ocrflow package sits beside the Snakefile (scripts/ add the same folder to their path).
sys.path.insert(0, workflow.basedir)

from ocrflow.core import errors as ocrflow_errors  # noqa: E402
from ocrflow.core import stages as ocrflow_stages  # noqa: E402
from ocrflow.core.layout import Layout  # noqa: E402
from ocrflow.engines import ENGINES, engine_settings, job_env, job_gpus  # noqa: E402
from ocrflow.engines import pools as ocrflow_pools  # noqa: E402
from ocrflow.engines import resources as ocrflow_resources  # noqa: E402
from ocrflow.inputs import corpus  # noqa: E402
from ocrflow.inputs.inventory import engine_plan  # noqa: E402
from ocrflow.results import cost as ocrflow_cost  # noqa: E402
from ocrflow.run import config as ocrflow_config  # noqa: E402
from ocrflow.run import environment as ocrflow_environment  # noqa: E402
from ocrflow.run import plan as ocrflow_plan  # noqa: E402
from ocrflow.run.settings import PlanSettings  # noqa: E402

try:
    config = ocrflow_config.validate(config)
    RESULTS = config["results"]
    LAYOUT = Layout.of(RESULTS)  # every path of the results folder
    # The main process lists the input and plans in memory; a cluster job re-parses this file
    # and lists the shard folders only when its rule reads every shard.
    if workflow.is_main_process:
        plan_settings = PlanSettings.from_config(config)
        computed = ocrflow_plan.compute(config["input"], RESULTS, plan_settings.shard_size,
                                        plan_settings.shard_pages)
        computed.check_removals(plan_settings.removal)
        PLAN = computed.planned()
        SHARDS = PLAN.shards
        for line in (computed.describe(),
                     engine_plan([LAYOUT.inventory_counts(s) for s in SHARDS],
                                 config["primary"]["engine"],
                                 config["primary"]["trusted_text_layer"]),
                     *ocrflow_cost.describe(ocrflow_cost.estimate(
                         config, PLAN.shard_pages,
                         ocrflow_cost.pages_to_ocr(config, LAYOUT, PLAN.shard_pages)))):
            if line:
                print(line, file=sys.stderr)
        del computed
    else:
        # A cluster job: the results folder the main process planned in must be here too.
        ocrflow_environment.check_shared("the results folder", RESULTS)
        PLAN = None
        SHARDS = corpus.existing_shards(RESULTS) if ocrflow_plan.lists_shards(sys.argv) else []
except ocrflow_errors.OcrflowError as error:  # a bad config, input or node: its line, no traceback
    sys.exit(ocrflow_errors.report(error, prefix=""))

SHARD = "{shard}"  # the wildcard, where a layout path takes a shard
POOL = "{pool}"  # the wildcard of a recovery pool (ocrflow/engines/pools.py)
HAS_RECOVERY = ocrflow_stages.RECOVERY.runs(config)
PER_POOL = ocrflow_pools.shards_per_pool(config)

CPU_ENV = "../envs/ocrflow.yaml"


wildcard_constraints:
    shard=r"s\d{6}",
    pool=r"r\d{6}",
    role="|".join(ocrflow_stages.ROLES),


def plan_outputs():
    """The member lists the plan job writes and the record of the change; none when the plan
    stays as it is (and in cluster jobs, which never plan)."""
    return PLAN.outputs if PLAN else []


def plan_record():
    """The record of the plan in effect (made by this run's plan job when the plan changes):
    what reads the whole plan depends on it, so a shard that leaves the plan reruns the corpus
    outputs, and the same plan gives the same input."""
    if PLAN and (PLAN.changes or PLAN.record.exists()):
        return [str(PLAN.record)]
    return []


def plan_id():
    return PLAN.plan_id if PLAN else ""


def record_config():
    """Keep the run's config in the results folder (retry-failed acts on the run as it was
    configured). Called by onstart: a real run holding Snakemake's lock, never a dry run."""
    ocrflow_config.record(config)


def engine_params(role):
    engine = config[role]["engine"]
    return {
        "role": role,
        "engine": engine,
        "settings": engine_settings(config, engine),
        "store": str(LAYOUT.page_store),
        "render": config["render"],
        "policy": config["ocr"],
        # recovery reads failed pages whatever their layer: the switch is the primary's
        "trusted_text_layer": role == "primary" and config["primary"]["trusted_text_layer"],
        # one dict, not a third bare boolean: Snakemake compares a job's params as a set of
        # their reprs (persistence.params_changed), where a True among others hides its flip
        "text_layer": {"structure_to_engine": role == "primary"
                       and config["primary"]["structure_to_engine"],
                       "settings": engine_settings(config, ocrflow_stages.TEXT_LAYER_ENGINE)},
        # another engine reads the pages this one fails: a looping page is handed on sooner
        "handoff": role == "primary" and HAS_RECOVERY,
        "detection": config["detection"],
        "trust": config["trust"],
    }


def stage_outputs(rule_name):
    """A per-shard stage's outputs, as ocrflow/core/stages.py names them (its scripts read them by
    those names): in the shard's folder, or the pool's for a pooled stage."""
    stage = ocrflow_stages.stage(rule_name)
    paths = stage.paths(LAYOUT, POOL if stage.per_pool else SHARD)
    return {output: path for (output, _), path in zip(stage.files, paths)}


def merge_inputs():
    files = {
        "inventory": LAYOUT.inventory(SHARD),
        "primary": LAYOUT.records(SHARD, "primary"),
        "primary_verdicts": LAYOUT.verdicts(SHARD, "primary"),
    }
    if HAS_RECOVERY:  # the readings of the shard's recovery pool
        files["recovery"] = lambda wildcards: LAYOUT.records(pool_of(wildcards.shard), "recovery")
        files["recovery_verdicts"] = lambda wildcards: LAYOUT.verdicts(
            pool_of(wildcards.shard), "recovery")
    return files


def pool_of(shard):
    return ocrflow_pools.pool_of(shard, PER_POOL)


@functools.cache
def plan_pools():
    """pool -> its shards, for the plan's shards (computed once: every pool's job asks)."""
    return ocrflow_pools.pools(SHARDS, PER_POOL)


def pool_inputs(wildcards):
    """A recovery pool's job reads its shards' inventories and the primary's verdicts."""
    shards = plan_pools().get(wildcards.pool, [])
    return {
        "inventory": [LAYOUT.inventory(s) for s in shards],
        "primary_verdicts": [LAYOUT.verdicts(s, "primary") for s in shards],
        "primary_counts": [LAYOUT.verdict_counts(s, "primary") for s in shards],
    }


def all_pools(path_of):
    """``path_of(pool)`` for every recovery pool of the plan."""
    return [str(path_of(pool)) for pool in plan_pools()]


def engine_env(role):
    """The conda env of a role's OCR jobs: its engine's."""
    engine = config[role]["engine"]
    if engine not in ENGINES:
        return CPU_ENV
    return job_env(engine, engine_settings(config, engine))


def job_resources(stage, gpu=0, mem_mb=None):
    """Scheduler resources of a stage (``mem_mb``: what the job needs, when more than the
    stage's resources.<stage>.mem_mb); a retried job (killed at walltime or for memory) gets
    ``retry_scale`` times more memory and time on each new attempt, its memory never more than a
    node has (resources.node.mem_mb)."""
    base = {**config["resources"][stage], **({"mem_mb": mem_mb} if mem_mb else {})}
    scale = config["resources"]["retry_scale"]
    node_mem = config["resources"]["node"]["mem_mb"] or float("inf")

    if scale == 1:
        return {"mem_mb": base["mem_mb"], "runtime": base["runtime"], "gpu": gpu}

    def grown(key, limit=float("inf")):
        return signature_known(
            lambda wildcards, attempt: int(min(limit, base[key] * scale ** (attempt - 1))))

    return {"mem_mb": grown("mem_mb", node_mem), "runtime": grown("runtime"), "gpu": gpu}


def ocr_job_resources(role, gpu):
    """An OCR job's: its own memory and its model servers' (ocrflow/engines/resources.py), and the
    walltime of its pages (ocr_runtime)."""
    resources = job_resources("ocr", gpu=gpu, mem_mb=ocrflow_resources.ocr_job(config, role).mem_mb)
    resources["runtime"] = ocr_runtime(role)
    return resources


def ocr_runtime(role):
    """The walltime of an OCR job, from the pages it reads (known when it is ready to run: the
    shard's inventory counts, the pool's failed pages) at its engine's pages_per_second, grown
    on each retry as job_resources grows it."""
    scale = config["resources"]["retry_scale"]
    trusted = config["primary"]["trusted_text_layer"]

    def runtime(wildcards, input, attempt):
        if role == "primary":  # the inventory's counts (written with it), else the plan's
            counts = LAYOUT.inventory_counts(wildcards.shard)
            pages = ocrflow_resources.primary_pages(counts, trusted) if counts.exists() \
                else PLAN.shard_pages.get(wildcards.shard, 0) if PLAN else 0
        else:
            pages = ocrflow_resources.failed_pages(input.primary_counts)
        minutes = ocrflow_cost.walltime_minutes(config, role, pages)
        return int(minutes * scale ** (attempt - 1))

    return signature_known(runtime)


def ocr_threads(role):
    """An OCR job's cores: its render workers, the job, its model servers."""
    return ocrflow_resources.ocr_job(config, role).cores


def engine_gpus(role):
    engine = config[role]["engine"]
    return job_gpus(engine, engine_settings(config, engine))


def signature_known(func):
    """``func`` with its parameters named once: Snakemake inspects a callable's signature each
    time it evaluates it for a job (measured: 1 s of a dry run at 100,000 PDFs)."""
    overwrite_function_params(func, inspect.signature(func).parameters)
    return func


# Snakemake starts ready jobs by priority: primaries pool by pool, and a pool's recovery as soon
# as its primaries are done, before further primaries, then its shards' merges, so a shard's
# merge waits at most for the primaries of its own pool and one recovery job (docs/clusters.md,
# "GPU hours").
RECOVERY_PRIORITY = 1_000_000
MERGE_PRIORITY = RECOVERY_PRIORITY + 1


@signature_known
def primary_priority(wildcards):
    return RECOVERY_PRIORITY - 1 - int(pool_of(wildcards.shard)[1:])


@signature_known
def recovery_gpus(wildcards, input):
    """Evaluated when the job is ready to run, once the primary's verdicts exist."""
    gpus = engine_gpus("recovery") if HAS_RECOVERY else 0
    return ocrflow_resources.recovery_gpus(gpus, input.primary_counts)


def all_shards(path_of):
    """``path_of(shard)`` for every shard of the plan: the path built once, with the wildcard,
    and filled in per shard (1,000 shards cost 0.05 s as paths, a tenth of that as strings;
    the main process and the corpus rules' cluster jobs build these lists)."""
    pattern = str(path_of(SHARD))
    return [pattern.replace(SHARD, shard) for shard in SHARDS]


def ocr_stats():
    recovery = all_pools(lambda p: LAYOUT.stats(p, "recovery")) if HAS_RECOVERY else []
    return all_shards(lambda s: LAYOUT.stats(s, "primary")) + recovery


def dolma_shard_output():
    """The shard's Dolma records, a merge output when outputs lists dolma."""
    return {"dolma": LAYOUT.dolma_shard(SHARD)} if "dolma" in config["outputs"] else {}


def final_outputs():
    """Beyond the manifest: the SQL export's receipt, when the export is on; every shard's
    Dolma records in one file, when outputs lists dolma."""
    files = [LAYOUT.export_receipt] if config["export"]["enabled"] else []
    if "dolma" in config["outputs"]:
        files.append(LAYOUT.dolma)
    return files


def print_summary():
    if LAYOUT.summary.exists():
        print(LAYOUT.summary.read_text(encoding="utf-8"), end="")
        print(f"Markdown: {LAYOUT.markdown}/  manifest: {LAYOUT.manifest}")
