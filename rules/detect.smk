rule detect:
    """A verdict per page of one engine's output, with the reasons it failed."""
    input:
        inventory=shard_file("inventory.jsonl"),
        records=shard_file("{role}.jsonl"),
    output:
        verdicts=shard_file("{role}_verdicts.jsonl"),
    params:
        detection=config["detection"],
        trust=config["trust"],
    log:
        f"{RESULTS}/logs/detect_{{role}}/{{shard}}.log",
    conda:
        "../envs/ocrflow.yaml"
    script:
        "../scripts/detect.py"
