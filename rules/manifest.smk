rule manifest:
    """One row per page and per unreadable PDF, the report (Markdown and HTML with plots), the summary."""
    input:
        pages=all_shards(LAYOUT.pages),
        stats=ocr_stats(),
        plan=plan_record(),  # a shard that left the plan leaves the manifest too
    output:
        manifest=LAYOUT.manifest,
        report=LAYOUT.report,
        report_html=LAYOUT.report_html,
        summary=LAYOUT.summary,
    resources:
        **job_resources("manifest"),
    log:
        LAYOUT.log("manifest"),
    conda:
        "../envs/ocrflow.yaml"
    script:
        "../scripts/manifest.py"
