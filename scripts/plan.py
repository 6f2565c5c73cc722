"""Snakemake entry point: write the shard plan computed when the run started."""

if __name__ == "__main__":
    import sys
    from pathlib import Path

    sys.path.insert(0, str(Path(snakemake.scriptdir).parent))  # the ocrflow package
    from ocrflow.run import entrypoints

    entrypoints.plan(snakemake)
