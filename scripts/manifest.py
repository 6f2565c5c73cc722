"""Snakemake entry point: the corpus manifest, report and summary."""

from pathlib import Path

from ocrflow import scripting
from ocrflow.manifest import build

# Guarded: the isolated workers are spawned and re-import this module.
if __name__ == "__main__":
    scripting.run(
        snakemake.log[0],
        build,
        shard_pages=[Path(p) for p in snakemake.input.pages],
        stats=[Path(p) for p in snakemake.input.stats],
        manifest=Path(snakemake.output.manifest),
        report=Path(snakemake.output.report),
        summary_path=Path(snakemake.output.summary),
    )
