"""Snakemake entry point: inventory every PDF of a shard."""

from pathlib import Path

from ocrflow import scripting
from ocrflow.inventory import inventory_shard

# Guarded: the isolated workers are spawned and re-import this module.
if __name__ == "__main__":
    scripting.run(
        snakemake.log[0],
        inventory_shard,
        members=Path(snakemake.input.members),
        output=Path(snakemake.output.inventory),
        settings=snakemake.params.settings,
        workers=snakemake.threads,
    )
