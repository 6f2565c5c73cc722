"""Snakemake entry point: final page states and per-document Markdown for a shard."""

from pathlib import Path

from ocrflow import scripting
from ocrflow.merge import merge_shard

# Guarded: the isolated workers are spawned and re-import this module.
if __name__ == "__main__":
    recovery = snakemake.input.get("recovery")
    recovery_verdicts = snakemake.input.get("recovery_verdicts")
    scripting.run(
        snakemake.log[0],
        merge_shard,
        inventory=Path(snakemake.input.inventory),
        primary=Path(snakemake.input.primary),
        primary_verdicts=Path(snakemake.input.primary_verdicts),
        recovery=Path(recovery) if recovery else None,
        recovery_verdicts=Path(recovery_verdicts) if recovery_verdicts else None,
        markdown_dir=Path(snakemake.params.markdown_dir),
        output=Path(snakemake.output.pages),
    )
