rule ocr_primary:
    """Every readable page of a shard through the primary engine."""
    input:
        inventory=shard_file("inventory.jsonl"),
    output:
        records=shard_file("primary.jsonl"),
        stats=shard_file("primary.stats.json"),
    params:
        **engine_params("primary"),
    threads: config["render"]["workers"] + 1
    resources:
        **job_resources("ocr", gpu=engine_gpus("primary")),
    log:
        f"{RESULTS}/logs/ocr_primary/{{shard}}.log",
    benchmark:
        f"{RESULTS}/benchmarks/ocr_primary/{{shard}}.tsv"
    conda:
        engine_env("primary")
    script:
        "../scripts/ocr.py"


rule ocr_recovery:
    """Only the pages whose primary output failed detection, through the recovery engine."""
    input:
        inventory=shard_file("inventory.jsonl"),
        verdicts=shard_file("primary_verdicts.jsonl"),
    output:
        records=shard_file("recovery.jsonl"),
        stats=shard_file("recovery.stats.json"),
    params:
        **engine_params("recovery"),
    threads: config["render"]["workers"] + 1
    resources:
        **job_resources("ocr", gpu=recovery_gpus),
    log:
        f"{RESULTS}/logs/ocr_recovery/{{shard}}.log",
    benchmark:
        f"{RESULTS}/benchmarks/ocr_recovery/{{shard}}.tsv"
    conda:
        engine_env("recovery")
    script:
        "../scripts/ocr.py"
