#!/usr/bin/env python3
"""Cancel this run's jobs: the ids Snakemake passes, and every submitted job without an exit record
(one whose id Snakemake never heard because Ctrl-C came during its submission). Standard library
only; called by the cluster-generic executor as ``cancel.py <job id> ...``.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from pbs_common import EXIT_DIR, SUBMITTED


def unfinished_submissions() -> list[str]:
    try:
        ids = SUBMITTED.read_text().split()
    except FileNotFoundError:
        return []
    return [job_id for job_id in ids if not (EXIT_DIR / job_id).exists()]


def main(given: list[str]) -> None:
    ids = list(dict.fromkeys([*given, *unfinished_submissions()]))
    for start in range(0, len(ids), 50):
        # qdel of an already finished job only complains: the others are still cancelled.
        subprocess.run(["qdel", *ids[start:start + 50]], capture_output=True)
    SUBMITTED.unlink(missing_ok=True)


if __name__ == "__main__":
    main(sys.argv[1:])
