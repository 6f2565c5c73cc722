rule ocr_primary:
    """Every readable page of a shard through the primary engine, then each page judged (verdict and reasons)."""
    input:
        inventory=LAYOUT.inventory(SHARD),
    output:
        records=LAYOUT.records(SHARD, "primary"),
        stats=LAYOUT.stats(SHARD, "primary"),
        verdicts=LAYOUT.verdicts(SHARD, "primary"),
        counts=LAYOUT.verdict_counts(SHARD, "primary"),
    params:
        **engine_params("primary"),
    threads: ocr_threads("primary")
    resources:
        **ocr_job_resources("primary", gpu=engine_gpus("primary")),
    log:
        log=LAYOUT.log("ocr_primary", SHARD),
        progress=LAYOUT.progress("primary", SHARD),
    benchmark:
        LAYOUT.benchmark("ocr_primary", SHARD)
    conda:
        engine_env("primary")
    script:
        "../scripts/ocr.py"


rule ocr_recovery:
    """Only the pages whose primary output failed detection, through the recovery engine, then judged."""
    input:
        inventory=LAYOUT.inventory(SHARD),
        primary_verdicts=LAYOUT.verdicts(SHARD, "primary"),
    output:
        records=LAYOUT.records(SHARD, "recovery"),
        stats=LAYOUT.stats(SHARD, "recovery"),
        verdicts=LAYOUT.verdicts(SHARD, "recovery"),
        counts=LAYOUT.verdict_counts(SHARD, "recovery"),
    params:
        **engine_params("recovery"),
    threads: ocr_threads("recovery")
    resources:
        **ocr_job_resources("recovery", gpu=recovery_gpus),
    log:
        log=LAYOUT.log("ocr_recovery", SHARD),
        progress=LAYOUT.progress("recovery", SHARD),
    benchmark:
        LAYOUT.benchmark("ocr_recovery", SHARD)
    conda:
        engine_env("recovery")
    script:
        "../scripts/ocr.py"
