rule inventory:
    """Per PDF of a shard: content hash, pages, sizes, rotation, text layer, ink, or why unreadable."""
    input:
        members=shard_file("inputs.tsv"),
    output:
        inventory=shard_file("inventory.jsonl"),
        counts=shard_file("inventory.counts.json"),
    params:
        settings=config["inventory"],
        trust=config["trust"],
    threads: 1
    resources:
        **job_resources("inventory"),
    log:
        f"{RESULTS}/logs/inventory/{{shard}}.log",
    benchmark:
        f"{RESULTS}/benchmarks/inventory/{{shard}}.tsv"
    conda:
        "../envs/ocrflow.yaml"
    script:
        "../scripts/inventory.py"
