rule plan:
    """The shard plan (ocrflow/run/plan.py): the member lists that changed, the registry, and the outputs of documents that left the input removed. Declared only when the plan changes; runs only in a real run, holding Snakemake's lock."""
    output:
        plan_outputs(),
    params:
        input=config["input"],
        shard_size=config["shard_size"],
        shard_pages=config["shard_pages"],
        plan_id=plan_id(),
        removal=config["removal"],
    log:
        LAYOUT.log("plan"),
    conda:
        "../envs/ocrflow.yaml"
    script:
        "../scripts/plan.py"
