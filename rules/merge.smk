rule merge:
    """Final page states and texts; per document its outputs under <results>/markdown/, indexed in documents.tsv; the shard's Dolma records with outputs: [dolma]."""
    input:
        **merge_inputs(),
    output:
        **stage_outputs("merge"),
        **dolma_shard_output(),
    params:
        markdown_dir=str(LAYOUT.markdown),
        store=str(LAYOUT.page_store),
        outputs=config["outputs"],
        min_agreement=config["detection"]["min_agreement"],
        headers_footers=config["headers_footers"],
        # merge removes them when dolma is not in outputs
        dolma=str(LAYOUT.dolma_shard(SHARD)),
        dolma_merged=str(LAYOUT.dolma),
    priority: MERGE_PRIORITY
    log:
        LAYOUT.log("merge", SHARD),
    conda:
        "../envs/ocrflow.yaml"
    script:
        "../scripts/merge.py"
