rule merge:
    """Final page states; writes <results>/markdown/<doc_id>.md and .pages.jsonl per document."""
    input:
        unpack(merge_inputs),
    output:
        pages=shard_file("pages.jsonl"),
    params:
        markdown_dir=f"{RESULTS}/markdown",
    log:
        f"{RESULTS}/logs/merge/{{shard}}.log",
    conda:
        "../envs/ocrflow.yaml"
    script:
        "../scripts/merge.py"
