"""Snakemake entry point: OCR a shard's pages with one engine (primary, or recovery of failures)."""

from pathlib import Path

from ocrflow import scripting
from ocrflow.ocr import ocr_shard

# Guarded: the isolated workers are spawned and re-import this module.
if __name__ == "__main__":
    verdicts = snakemake.input.get("verdicts")
    scripting.run(
        snakemake.log[0],
        ocr_shard,
        inventory=Path(snakemake.input.inventory),
        verdicts=Path(verdicts) if verdicts else None,
        output=Path(snakemake.output.records),
        stats=Path(snakemake.output.stats),
        role=snakemake.params.role,
        engine_name=snakemake.params.engine,
        settings=snakemake.params.settings,
        store_root=Path(snakemake.params.store),
        render=snakemake.params.render,
    )
