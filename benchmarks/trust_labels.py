"""Text trust on real PDFs no one here made: the labelled pages of tests/data/real_pdfs/.

    python benchmarks/trust_labels.py [--repo PATH]

Runs the tests' CPU pipeline (``.test/config/cpu.yaml``: text layer first, then Tesseract) of
the repo at PATH (default: this one; give an older checkout for "before" figures) over every
labelled page (real PDFs, and pages made with known garbling), then prints false failures,
missed failures, no_text precision and text-layer trust accuracy, for the pipeline and for
stand-in VLM readings (a good reading, a loop, prose on an empty page, a picture-only answer).
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from tests.support import real_pdfs


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--repo", type=Path, default=real_pdfs.REPO)
    parser.add_argument("--details", action="store_true", help="list every page counted")
    args = parser.parse_args()
    sys.path.insert(0, str(args.repo.resolve()))  # the stand-in readings are judged by its code
    with tempfile.TemporaryDirectory() as tmp:
        started = time.monotonic()
        results = real_pdfs.run_pipeline(Path(tmp), repo=args.repo.resolve())
        seconds = time.monotonic() - started
        figures = {}
        for name, chosen in (("real", real_pdfs.labels()), ("made", real_pdfs.made_labels())):
            figures[f"{name} pages, cpu pipeline"] = real_pdfs.pipeline_figures(results, chosen)
            try:
                figures[f"{name} pages, stand-in VLM"] = real_pdfs.vlm_figures(results, chosen)
            except ImportError:  # judged through its own records, which predate ocrflow.records
                figures[f"{name} pages, stand-in VLM"] = {
                    "skipped": "a checkout older than ocrflow/records.py (issue 8's note has "
                               "the figures of 6b3117c and c89b0cb)", "details": {}}
    for name, values in figures.items():
        details = values.pop("details")
        print(f"{name}: {json.dumps(values)}")
        if args.details:
            for kind, items in details.items():
                for item in items:
                    print(f"  {kind}: {item}")
    print(f"pipeline run: {seconds:.0f} s")


if __name__ == "__main__":
    main()
