"""ocrflow: the logic behind the Snakemake workflow, one module per concern."""

__version__ = "0.1.0"
