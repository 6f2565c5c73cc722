"""Command line: ``python -m ocrflow retry-failed [--results DIR] [--configfile FILE]
[--config KEY=VALUE ...] [--below SCORE]``: acts on the run recorded in the results folder."""

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
    retry.add_argument("--results", help="the results folder of the run (default: the one the "
                       "config names); the config it was run with is read from it")
    retry.add_argument("--configfile", help="as snakemake's (default: config/config.yaml "
                       "when --results is not given)")
    retry.add_argument("--config", nargs="*", default=[], metavar="KEY=VALUE",
                       help="as snakemake's")
    retry.add_argument("--below", type=float, metavar="SCORE",
                       help="also re-read the pages read with a quality score below SCORE (0-1): "
                       "they go to the recovery engine")
    args = parser.parse_args(argv)
    try:
        config = ocrflow_config.for_run(args.results, args.configfile, args.config)
    except (OSError, ocrflow_config.ConfigError) as exc:
        print(f"ocrflow: {exc}", file=sys.stderr)
        return 2
    if args.below is not None and not 0 <= args.below <= 1:
        print(f"ocrflow: --below {args.below}: a quality score is between 0 and 1",
              file=sys.stderr)
        return 2
    pages, shards = retry_failed(config, args.below)
    what = "failed pages" if args.below is None else f"failed pages or below {args.below}"
    print(f"{pages} {what} in {shards} shards will be retried by the next snakemake run")
    return 0


if __name__ == "__main__":
    sys.exit(main())
