"""Snakemake entry point: judge each page's OCR output (verdict and reasons)."""

from pathlib import Path

from ocrflow import scripting
from ocrflow.detect import detect_shard

# Guarded: the isolated workers are spawned and re-import this module.
if __name__ == "__main__":
    scripting.run(
        snakemake.log[0],
        detect_shard,
        inventory=Path(snakemake.input.inventory),
        records=Path(snakemake.input.records),
        output=Path(snakemake.output.verdicts),
        cfg=snakemake.params.detection,
    )
