"""Snakemake entry point: the page results into the SQL database."""

if __name__ == "__main__":
    import sys
    from pathlib import Path

    sys.path.insert(0, str(Path(snakemake.scriptdir).parent))  # the ocrflow package
    from ocrflow.run import entrypoints

    entrypoints.export(snakemake)
