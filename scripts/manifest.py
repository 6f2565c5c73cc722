"""Snakemake entry point: the corpus manifest, report and summary."""

# Guarded: isolated worker processes are spawned and re-run this file as their main module.
if __name__ == "__main__":
    import sys
    from pathlib import Path

    sys.path.insert(0, str(Path(snakemake.scriptdir).parent))  # the ocrflow package
    from ocrflow.run import entrypoints

    entrypoints.manifest(snakemake)
