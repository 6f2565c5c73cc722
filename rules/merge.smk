rule merge:
    """Final page states; writes <results>/markdown/<doc_id>.md, .pages.jsonl and figures per document."""
    input:
        unpack(merge_inputs),
    output:
        pages=shard_file("pages.jsonl"),
    params:
        markdown_dir=f"{RESULTS}/markdown",
        store=f"{RESULTS}/page_store",
        min_agreement=config["detection"]["min_agreement"],
    log:
        f"{RESULTS}/logs/merge/{{shard}}.log",
    conda:
        "../envs/ocrflow.yaml"
    script:
        "../scripts/merge.py"
