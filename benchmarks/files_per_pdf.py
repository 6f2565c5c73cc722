"""Files a corpus costs: the CPU pipeline over N born-digital PDFs, files counted per 1,000 PDFs.

    python benchmarks/files_per_pdf.py [N]        (default: 1000)

HPC scratch quotas count files: a million PDFs must not cost millions of files more than needed.
Counted under the results folder: per-document outputs (markdown/), the page store, and the
workflow's own files (work/, logs/, benchmarks/), for the default outputs and with page records.
"""

from __future__ import annotations

import subprocess
import sys
import tempfile
import time
from pathlib import Path

import yaml

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from tests.support import pdfs  # noqa: E402


def count(folder: Path) -> int:
    return sum(1 for p in folder.rglob("*") if p.is_file()) if folder.exists() else 0


def run(workdir: Path, outputs: list[str]) -> float:
    config = yaml.safe_load((REPO / "config" / "config.yaml").read_text())
    config.update(input=str(workdir / "corpus"), results=str(workdir / "results"),
                  outputs=outputs)
    (workdir / "config").mkdir(exist_ok=True)
    (workdir / "config" / "config.yaml").write_text(yaml.safe_dump(config))
    started = time.monotonic()
    subprocess.run([sys.executable, "-m", "snakemake", "-s", str(REPO / "Snakefile"), "-d",
                    str(workdir), "--profile", str(REPO / "profiles" / "local"), "--cores", "2",
                    "--quiet"], check=True, capture_output=True)
    return time.monotonic() - started


def main() -> None:
    n = int(sys.argv[1]) if len(sys.argv) > 1 else 1000
    with tempfile.TemporaryDirectory() as tmp:
        workdir = Path(tmp)
        for i in range(n):
            pdfs.write(workdir / "corpus" / f"{i // 100:03d}" / f"doc{i:05d}.pdf",
                       pdfs.text_pdf([f"Document {i}: minutes of the harbour board meeting, "
                                      "the budget of the new quay and the dredging."]))
        for outputs in (["markdown"], ["markdown", "page_records"]):
            seconds = run(workdir, outputs)
            results = workdir / "results"
            parts = {name: count(results / name) for name in
                     ("markdown", "page_store", "work", "logs", "benchmarks")}
            total = count(results)
            per = {name: round(v * 1000 / n) for name, v in parts.items()}
            print(f"outputs={outputs}: {n} PDFs, {seconds:.0f} s; files per 1,000 PDFs: "
                  f"{per} total {round(total * 1000 / n)}")


if __name__ == "__main__":
    main()
