rule ocr_primary:
    """Every readable page of a shard through the primary engine, then each page judged (verdict and reasons)."""
    input:
        inventory=LAYOUT.inventory(SHARD),
    output:
        **stage_outputs("ocr_primary"),
    params:
        **engine_params("primary"),
    threads: ocr_threads("primary")
    priority: primary_priority
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
    """Only the pages whose primary output failed detection, in a pool of shards (one model start for all), through the recovery engine, then judged."""
    input:
        unpack(pool_inputs),
    output:
        **stage_outputs("ocr_recovery"),
    params:
        **engine_params("recovery"),
    threads: ocr_threads("recovery")
    priority: RECOVERY_PRIORITY
    resources:
        **ocr_job_resources("recovery", gpu=recovery_gpus),
    log:
        log=LAYOUT.log("ocr_recovery", POOL),
        progress=LAYOUT.progress("recovery", POOL),
    benchmark:
        LAYOUT.benchmark("ocr_recovery", POOL)
    conda:
        engine_env("recovery")
    script:
        "../scripts/ocr.py"
