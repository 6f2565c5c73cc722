rule detect:
    """A verdict per page of one engine's output, with the reasons it failed."""
    input:
        inventory=LAYOUT.inventory(SHARD),
        records=LAYOUT.records(SHARD, "{role}"),
    output:
        verdicts=LAYOUT.verdicts(SHARD, "{role}"),
        counts=LAYOUT.verdict_counts(SHARD, "{role}"),
    params:
        detection=config["detection"],
        trust=config["trust"],
    log:
        LAYOUT.log("detect_{role}", SHARD),
    conda:
        "../envs/ocrflow.yaml"
    script:
        "../scripts/detect.py"
