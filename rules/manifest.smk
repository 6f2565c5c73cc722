rule manifest:
    """One row per page and per unreadable PDF, a report, and the summary printed at the end."""
    input:
        pages=all_shards(LAYOUT.pages),
        stats=ocr_stats(),
    output:
        manifest=LAYOUT.manifest,
        report=LAYOUT.report,
        summary=LAYOUT.summary,
    resources:
        **job_resources("manifest"),
    log:
        LAYOUT.log("manifest"),
    conda:
        "../envs/ocrflow.yaml"
    script:
        "../scripts/manifest.py"
