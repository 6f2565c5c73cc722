"""Command line: ``python -m ocrflow retry-failed [--configfile config/config.yaml]``."""

from __future__ import annotations

import argparse
import sys

from ocrflow import config as ocrflow_config
from ocrflow.retry import retry_failed


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m ocrflow")
    commands = parser.add_subparsers(dest="command", required=True)
    retry = commands.add_parser(
        "retry-failed", help="mark the pages still failed for retry; then run snakemake again")
    retry.add_argument("--configfile", default="config/config.yaml")
    args = parser.parse_args(argv)
    try:
        config = ocrflow_config.load(args.configfile)
    except (OSError, ocrflow_config.ConfigError) as exc:
        print(f"ocrflow: {exc}", file=sys.stderr)
        return 2
    pages, shards = retry_failed(config)
    print(f"{pages} failed pages in {shards} shards will be retried by the next snakemake run")
    return 0


if __name__ == "__main__":
    sys.exit(main())
