rule manifest:
    """One row per page and per unreadable PDF, a report, and the summary printed at the end."""
    input:
        pages=all_shards("pages.jsonl"),
        stats=ocr_stats(),
    output:
        manifest=f"{RESULTS}/manifest.parquet",
        report=f"{RESULTS}/report.md",
        summary=f"{RESULTS}/summary.txt",
    resources:
        **job_resources("manifest"),
    log:
        f"{RESULTS}/logs/manifest.log",
    conda:
        "../envs/ocrflow.yaml"
    script:
        "../scripts/manifest.py"
