rule inventory:
    """Per PDF of a shard: content hash, pages, sizes, rotation, text layer, ink, or why unreadable."""
    input:
        members=LAYOUT.members(SHARD),
    output:
        **stage_outputs("inventory"),
    params:
        settings=config["inventory"],
        trust=config["trust"],
    threads: 1
    resources:
        **job_resources("inventory"),
    log:
        LAYOUT.log("inventory", SHARD),
    benchmark:
        LAYOUT.benchmark("inventory", SHARD)
    conda:
        "../envs/ocrflow.yaml"
    script:
        "../scripts/inventory.py"
