"""``python -m ocrflow eval``: load the tests, score the results folder, print, write failures.

Exit status: 0 every scored test passed, 1 some failed, 2 the tests or folders cannot be used.
"""

from __future__ import annotations

import argparse
from pathlib import Path

from ocrflow.core import errors

PROGRAM = "ocrflow eval: "  # the prefix of its error lines


def add_arguments(command: argparse.ArgumentParser) -> None:
    command.add_argument("tests", nargs="+", type=Path, metavar="TESTS.jsonl",
                         help="olmOCR-bench-format tests; with several files the overall score "
                         "is the mean of the per-file scores, as olmOCR-bench's")
    command.add_argument("--pdfs", required=True, type=Path, metavar="DIR",
                         help="the folder the tests' pdf paths are relative to (the corpus)")
    command.add_argument("--results", required=True, type=Path, metavar="RESULTS",
                         help="the results folder to score (its markdown/<doc_id>.md)")
    command.add_argument("--failures", type=Path, metavar="FILE",
                         help="write the failed tests here, one JSON line each: id, type, pdf, "
                         "page, why")
    command.add_argument("--skip-baseline", action="store_true",
                         help="no baseline tests (by default each PDF without one gets one, "
                         "as olmOCR-bench does)")


def command(args: argparse.Namespace) -> int:
    # imported here: the other subcommands need neither rapidfuzz, fuzzysearch nor bs4
    from ocrflow.bench.scoring import (
        Results,
        report,
        run_test,
        summarize,
        with_baselines,
        write_failures,
    )
    from ocrflow.bench.spec import load_tests

    for folder, what in ((args.pdfs, "--pdfs"), (args.results, "--results")):
        if not folder.is_dir():
            return errors.report(errors.UsageError(f"{what} {folder}: no such folder"), PROGRAM)
    try:
        tests = load_tests(args.tests)
        results = Results(args.results, args.pdfs)
    except OSError as exc:  # a tests file that cannot be read
        return errors.report(errors.UsageError(str(exc)), PROGRAM)
    except errors.OcrflowError as error:  # a bad test line (SpecError), results (InputError)
        return errors.report(error, PROGRAM)
    tests = ([t for t in tests if t.type != "baseline"] if args.skip_baseline
             else with_baselines(tests))
    outcomes = [run_test(test, results) for test in tests]
    summary = summarize(outcomes)
    files = ", ".join(str(p) for p in args.tests)
    print(f"ocrflow eval: {len(tests)} tests ({files}) on {args.results}")
    print(report(summary))
    failed = [o for o in outcomes if o.status == "fail"]
    for outcome in failed[:20]:
        t = outcome.test
        print(f"FAIL {t.id} ({t.type}, {t.pdf} p.{t.page}): {outcome.why}")
    if len(failed) > 20:
        print(f"... and {len(failed) - 20} more")
    if args.failures:
        count = write_failures(outcomes, args.failures)
        print(f"{count} failure(s) written to {args.failures}")
    return 1 if failed else 0
