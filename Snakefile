# ocrflow: PDFs to per-document Markdown. Stages, one .smk each under rules/:
# plan -> inventory -> primary OCR (each page judged) -> recovery of the failed pages (judged) -> merge
# -> manifest -> SQL export (and, with outputs: [dolma], the shards' Dolma records in one file).
# Work is done per shard of PDFs; a shard's files live in <results>/work/shards/<shard>/. The
# per-shard stages (their rules, files, roles, engines) are named once in ocrflow/core/stages.py.

from snakemake.utils import min_version

min_version("9.0")


configfile: "config/config.yaml"


include: "rules/common.smk"
include: "rules/plan.smk"
include: "rules/inventory.smk"
include: "rules/ocr.smk"
include: "rules/merge.smk"
include: "rules/dolma.smk"
include: "rules/manifest.smk"
include: "rules/export.smk"


# Seconds-long steps run in the submitting Snakemake instead of waiting in a queue.
localrules:
    all,
    plan,
    merge,
    dolma,
    export,


rule all:
    input:
        rules.manifest.output,
        final_outputs(),
        plan_record(),
    default_target: True


onstart:
    record_config()


onsuccess:
    print_summary()
