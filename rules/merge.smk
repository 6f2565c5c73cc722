rule merge:
    """Final page states and texts; per document its outputs under <results>/markdown/, indexed in documents.tsv."""
    input:
        unpack(merge_inputs),
    output:
        pages=LAYOUT.pages(SHARD),
        texts=LAYOUT.texts(SHARD),
        documents=LAYOUT.documents(SHARD),
    params:
        markdown_dir=str(LAYOUT.markdown),
        store=str(LAYOUT.page_store),
        outputs=config["outputs"],
        min_agreement=config["detection"]["min_agreement"],
    log:
        LAYOUT.log("merge", SHARD),
    conda:
        "../envs/ocrflow.yaml"
    script:
        "../scripts/merge.py"
