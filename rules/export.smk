rule export:
    """The page results in SQL (SQLite under the results folder, or the database export.url names)."""
    input:
        manifest=LAYOUT.manifest,
        pages=all_shards(LAYOUT.pages),
        texts=all_shards(LAYOUT.texts),
    output:
        receipt=LAYOUT.export_receipt,
    params:
        results=lambda wildcards, output: Path(output.receipt).parent,  # the results folder
        settings=config["export"],
    log:
        LAYOUT.log("export"),
    conda:
        "../envs/ocrflow.yaml"
    script:
        "../scripts/export.py"
