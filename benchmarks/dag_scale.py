"""Dry-run cost at corpus scale: wall time and peak memory of `snakemake -n` on N PDFs.

    python benchmarks/dag_scale.py [N ...]        (default: 10000 100000)

The PDFs are placeholder files (a dry run lists and stats the input, it never opens a PDF).
Each size is planned twice: the first run writes the shard member lists, the second only checks
them, as every later run does.
"""

from __future__ import annotations

import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import yaml

REPO = Path(__file__).resolve().parent.parent


def make_corpus(root: Path, n: int) -> None:
    for i in range(n):
        folder = root / f"year{i % 20:02d}" / f"batch{i % 97:02d}"
        if i < 20 * 97:
            folder.mkdir(parents=True, exist_ok=True)
        (folder / f"doc{i:06d}.pdf").write_bytes(b"%PDF-1.4\n")


def dry_run(workdir: Path) -> tuple[float, float, int]:
    """(seconds, peak RSS in MiB, jobs planned) of one `snakemake -n`."""
    command = [sys.executable, "-m", "snakemake", "-s", str(REPO / "Snakefile"), "-d",
               str(workdir), "-n", "--quiet", "rules", "--scheduler", "greedy", "--cores", "2"]
    started = time.monotonic()
    process = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                               text=True)
    out = process.stdout.read() if process.stdout else ""
    _, status, usage = os.wait4(process.pid, 0)
    seconds = time.monotonic() - started
    if os.waitstatus_to_exitcode(status) != 0:
        raise SystemExit(f"snakemake -n failed:\n{out[-3000:]}")
    jobs = next((int(line.split()[1]) for line in out.splitlines()
                 if line.startswith("total")), -1)
    return seconds, usage.ru_maxrss / 1024, jobs


def main(sizes: list[int]) -> None:
    print(f"{'PDFs':>8} {'run':>6} {'jobs':>6} {'seconds':>8} {'peak MiB':>9}")
    for n in sizes:
        with tempfile.TemporaryDirectory() as tmp:
            root = Path(tmp)
            make_corpus(root / "corpus", n)
            (root / "config").mkdir()
            config = {"input": str(root / "corpus"), "results": str(root / "results")}
            (root / "config" / "config.yaml").write_text(yaml.safe_dump(config))
            for label in ("first", "again"):
                seconds, peak, jobs = dry_run(root)
                print(f"{n:>8} {label:>6} {jobs:>6} {seconds:>8.2f} {peak:>9.0f}", flush=True)


if __name__ == "__main__":
    main([int(a) for a in sys.argv[1:]] or [10_000, 100_000])
