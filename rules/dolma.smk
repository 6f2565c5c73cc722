rule dolma:
    """Every shard's Dolma records (outputs: [dolma]) in one file, in shard order."""
    input:
        shards=all_shards(LAYOUT.dolma_shard),
        plan=plan_record(),
    output:
        merged=LAYOUT.dolma,
    log:
        LAYOUT.log("dolma"),
    conda:
        "../envs/ocrflow.yaml"
    script:
        "../scripts/dolma.py"
