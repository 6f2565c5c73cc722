"""Command line, acting on the run recorded in a results folder:

    python -m ocrflow retry-failed [--below SCORE]   mark failed pages for the next run
    python -m ocrflow export [--url URL]             the page results into SQL
    python -m ocrflow status [--watch [SECONDS]]     where a run stands, while it runs
    python -m ocrflow report [--output FILE]         the HTML report, during or after a run
    python -m ocrflow eval TESTS.jsonl --pdfs DIR --results DIR [--failures FILE]
                                                     score a results folder on olmOCR-bench tests
    python -m ocrflow models download [--to DIR] [--engine NAME ...]
                                                     the engines' models into DIR/<hub id>, from
                                                     the Hub, verified (on a node with internet)
    python -m ocrflow --version                      the version (CHANGELOG.md's newest)

Each but eval takes ``--results DIR`` (the config the folder was run with is read from it) or
``--configfile FILE`` and ``--config KEY=VALUE ...`` as snakemake does; eval needs no config.
``--configfile`` files are read as snakemake reads them: config/config.yaml, then each over
the one before; ``models download`` needs no run to have started. An error is one line,
``ocrflow: ...`` (ocrflow.core.errors), exiting 2 when the command or the config is to change.
"""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path
from typing import Any

import ocrflow
from ocrflow.core.errors import OcrflowError, UsageError, report, say
from ocrflow.run import config as ocrflow_config


def _run_options(command: argparse.ArgumentParser) -> None:
    command.add_argument("--results", help="the results folder of the run (default: the one the "
                         "config names); the config it was run with is read from it")
    command.add_argument("--configfile", nargs="+", default=[], metavar="FILE",
                         help="as snakemake's: each over config/config.yaml and the one before")
    command.add_argument("--config", nargs="*", default=[], metavar="KEY=VALUE",
                         help="as snakemake's")


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m ocrflow")
    parser.add_argument("--version", action="version", version=f"ocrflow {ocrflow.__version__}")
    commands = parser.add_subparsers(dest="command", required=True)
    retry = commands.add_parser(
        "retry-failed", help="mark the pages still failed for retry; then run snakemake again")
    _run_options(retry)
    retry.add_argument("--below", type=float, metavar="SCORE",
                       help="also re-read the pages read with a quality score below SCORE (0-1): "
                       "they go to the recovery engine")
    export = commands.add_parser(
        "export", help="write the page results into the SQL database (as the export rule does)")
    _run_options(export)
    export.add_argument("--url", help="SQLAlchemy URL of the database, without its password "
                        "(default: the config's export.url, else <results>/ocrflow.sqlite); "
                        "the password comes from the variable export.password_env names")
    status = commands.add_parser(
        "status", help="shards and pages by stage, pages/s per engine and time left")
    _run_options(status)
    status.add_argument("--watch", nargs="?", type=float, const=10.0, metavar="SECONDS",
                        help="print again every SECONDS (default 10) until interrupted")
    report = commands.add_parser(
        "report", help="write the HTML report from what the jobs have written so far")
    _run_options(report)
    report.add_argument("--output", type=Path, help="where to write it (default: "
                        "<results>/report.html)")
    models = commands.add_parser(
        "models", help="the engines' model weights on disk, for nodes without internet")
    actions = models.add_subparsers(dest="action", required=True)
    download = actions.add_parser(
        "download", help="each engine's model from the Hugging Face Hub (HF_ENDPOINT) into "
        "DIR/<hub id>, at a pinned revision, verified against the Hub's checksums; a rerun "
        "keeps the files there, fetches what is missing or damaged, and verifies all again")
    _run_options(download)
    download.add_argument("--to", metavar="DIR", help="the models folder (default: the config's "
                          "models.dir); the jobs read it once the config's models.dir names it")
    download.add_argument("--engine", action="append", default=[], metavar="NAME",
                          help="only this engine's model: chandra, deepseek or nougat "
                          "(repeatable; default: the engines of primary and recovery)")
    from ocrflow.bench.command import add_arguments

    add_arguments(commands.add_parser(
        "eval", help="score a results folder on olmOCR-bench-format tests (present, absent, "
        "order, table, baseline; math is skipped)"))
    return parser


def _retry_failed(config: dict[str, Any], args: argparse.Namespace) -> int:
    from ocrflow.run.retry import retry_failed

    if args.below is not None and not 0 <= args.below <= 1:
        raise UsageError(f"--below {args.below}: a quality score is between 0 and 1")
    pages, shards = retry_failed(config, args.below)
    what = "failed pages" if args.below is None else f"failed pages or below {args.below}"
    print(f"{pages} {what} in {shards} shards will be retried by the next snakemake run")
    return 0


def _export(config: dict[str, Any], args: argparse.Namespace) -> int:
    from ocrflow.results import export

    return export.command(config, args.url)


def _status(config: dict[str, Any], args: argparse.Namespace) -> int:
    from ocrflow.run import status

    return status.command(Path(config["results"]), args.watch)


def _report(config: dict[str, Any], args: argparse.Namespace) -> int:
    from ocrflow.results import report_html

    return report_html.command(config, args.output)


def _models(config: dict[str, Any], args: argparse.Namespace) -> int:
    from ocrflow.engines import models
    from ocrflow.run import download

    folder = args.to or config["models"]["dir"]
    if not folder:
        raise UsageError("models download: give --to DIR (or set models.dir in the config)")
    if unknown := [name for name in args.engine if name not in models.LOADERS]:
        raise UsageError(f"models download: --engine {unknown[0]}: an engine with a model to "
                         f"download is one of {', '.join(models.LOADERS)}")
    folder = os.path.abspath(os.path.expanduser(folder))
    targets, skipped = download.targets(config, folder, args.engine)
    for line in skipped:
        print(line)
    outcomes = download.download(targets, lambda line: print(line, flush=True))
    for outcome in outcomes:
        if outcome.error:  # a DownloadFailed's lines, kept to say after each model's summary
            say(outcome.error)
    for outcome in outcomes:
        print(outcome.summary())
    configured = config["models"]["dir"]
    said = configured and os.path.abspath(os.path.expanduser(configured)) == folder
    if not said and any(not outcome.error for outcome in outcomes):
        print(f"The jobs read these folders once the config says:\nmodels: {{dir: {folder}}}")
    return 1 if any(outcome.error for outcome in outcomes) else 0


COMMANDS = {"retry-failed": _retry_failed, "export": _export, "status": _status,
            "report": _report, "models": _models}


def _command(args: argparse.Namespace) -> int:
    if args.command == "eval":  # reads a results folder as it is: no config
        from ocrflow.bench.command import command

        return command(args)
    try:
        config = ocrflow_config.for_run(args.results, args.configfile, args.config)
    except OSError as error:  # a --configfile that cannot be read
        raise UsageError(str(error)) from None
    return COMMANDS[args.command](config, args)


def main(argv: list[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    try:
        return _command(args)
    except OcrflowError as error:  # its line, saying what to change; no traceback to wade through
        return report(error)


if __name__ == "__main__":
    sys.exit(main())
