"""Tables on born-digital pages: the olmOCR-bench table tests ocrflow passes on the table corpus,
against pdfplumber's, camelot's and docling's own table output on the same pages, and the
example bench's text-only tests (which must not regress).

    python benchmarks/tables.py [--before REF] [--no-tabula]

The corpus (tests/support/table_corpus.py): the PDFs made here (tests/data/tables/pdfs, tests.jsonl)
and tabula-py's test PDFs (downloaded on first use, tabula.jsonl; ``--no-tabula`` leaves them
out where PyPI cannot be reached).

Readers:
- pdfplumber: ``page.find_tables()`` (its default: ruling lines) written as HTML tables among
  the page's other text lines;
- camelot 2.0 (where installed): lattice, else stream, per page;
- docling: not run here (its layout and TableFormer models come from the Hugging Face Hub);
- ocrflow: the pipeline (``snakemake``, ``config/config.yaml``, input the corpus folder) scored
  by ``python -m ocrflow eval``; and ``config/gpu.yaml``'s text-layer path,
  tests/support/fake_vllm.py
  standing in for the GPU engines' servers (the pages sent to it are counted: GPU pages).

Then the example bench (examples/bench/tests.jsonl on examples/corpus, text only) with this
checkout's pipeline and, with ``--before REF``, with the commit REF (a git worktree of it, made
and removed here; ``make bench`` gives the commit before tables were read), so a regression
shows.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import yaml

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from tests.support import table_corpus as corpus

REPO = corpus.REPO
EXAMPLES = REPO / "examples"
Tally = dict[str, tuple[int, int]]


def merged(base: dict[str, Any], over: dict[str, Any]) -> dict[str, Any]:
    """``over`` on ``base``, nested mappings merged (as snakemake merges config files)."""
    out = dict(base)
    for key, value in over.items():
        out[key] = merged(out[key], value) if isinstance(value, dict) and isinstance(
            out.get(key), dict) else value
    return out


def run_pipeline(pdfs: Path, workdir: Path, repo: Path = REPO,
                 layers: tuple[dict[str, Any], ...] = (), args: tuple[str, ...] = (),
                 env: dict[str, str] | None = None) -> Path:
    """``repo``'s pipeline over the folder ``pdfs`` with its default config, then ``layers``
    merged over it (Snakemake's ``args`` and ``env`` added); the results folder."""
    settings = yaml.safe_load((repo / "config" / "config.yaml").read_text())
    for layer in layers:
        settings = merged(settings, layer)
    settings.update(input=str(pdfs), results=str(workdir / "results"))
    (workdir / "config").mkdir(parents=True, exist_ok=True)
    (workdir / "config" / "config.yaml").write_text(yaml.safe_dump(settings))
    run = subprocess.run([sys.executable, "-m", "snakemake", "-s", str(repo / "Snakefile"), "-d",
                          str(workdir), "--profile", str(repo / "profiles" / "local"),
                          "--cores", "2", *args], capture_output=True, text=True, timeout=3600,
                         env={**os.environ, **(env or {})})
    if run.returncode != 0:
        raise RuntimeError(f"the pipeline failed in {workdir}:\n{run.stderr[-3000:]}")
    return workdir / "results"


def eval_summary(tests: list[Path], pdfs: Path, results: Path) -> str:
    """``python -m ocrflow eval``'s report (the figures the README quotes)."""
    run = subprocess.run([sys.executable, "-m", "ocrflow", "eval", *map(str, tests), "--pdfs",
                          str(pdfs), "--results", str(results)],
                         cwd=REPO, capture_output=True, text=True, timeout=600)
    if run.returncode not in (0, 1):  # 1: some tests failed
        raise RuntimeError(run.stderr)
    return run.stdout.split("\nFAIL ")[0]  # the scores; not each failure


def _cell(tally: Tally | None, key: str) -> str:
    if tally is None or key not in tally:
        return "-"
    passed, total = tally[key]
    return f"{passed}/{total} ({passed / total:.0%})"


def print_row(name: str, made: Tally | None, tabula: Tally | None, note: str = "") -> None:
    if note:
        print(f"{name:34} {note}")
        return
    text: Tally = {}
    for tally in (made, tabula):
        for key in ("present", "order"):
            if tally and key in tally:
                done, total = text.get("text", (0, 0))
                text["text"] = (done + tally[key][0], total + tally[key][1])
    print(f"{name:34} {_cell(made, 'table'):>16} {_cell(tabula, 'table'):>16} "
          f"{_cell(text, 'text'):>16}")


def library_rows(made: list[Any], tabula: list[Any], pdfs: Path) -> None:
    import pdfplumber

    print_row(f"pdfplumber {pdfplumber.__version__} (find_tables)",
              corpus.score(made, corpus.pdfplumber_pages, pdfs),
              corpus.score(tabula, corpus.pdfplumber_pages, pdfs))
    # camelot reads tables only: its text would be pdfplumber's again
    made_tables = [t for t in made if t.type == "table"]
    camelot_made = corpus.score(made_tables, corpus.camelot_pages, pdfs)
    if camelot_made is None:
        print_row("camelot 2.0", None, None, "not installed (pip install camelot-py==2.0.0)")
    else:
        print_row("camelot 2.0 (lattice, else stream)", camelot_made,
                  corpus.score(tabula, corpus.camelot_pages, pdfs))
    print_row("docling", None, None, "not run here: its layout and TableFormer models come "
                                     "from the Hugging Face Hub")


def run_gpu_path(pdfs: Path, workdir: Path) -> tuple[Path, dict[str, int]]:
    """config/gpu.yaml with tests/support/fake_vllm.py standing in for the servers of Chandra and
    DeepSeek-OCR (no GPU here): the born-digital pages are read from their layer as on a GPU
    machine; the pages sent to the stand-in are counted."""
    stand_in = f"{sys.executable} {REPO / 'tests' / 'support' / 'fake_vllm.py'}"
    plan = workdir / "plan.json"
    workdir.mkdir(parents=True, exist_ok=True)
    plan.write_text(json.dumps({"pages": {}}))
    engines = {name: {"server_command": stand_in, "startup_timeout_s": 60}
               for name in ("chandra", "deepseek")}
    gpu = yaml.safe_load((REPO / "config" / "gpu.yaml").read_text())
    env = {"FAKE_VLLM_PLAN": str(plan), "FAKE_VLLM_LOG": str(workdir / "requests.jsonl"),
           "CUDA_VISIBLE_DEVICES": "0", "OCRFLOW_GPU_LOCK_DIR": str(workdir / "gpu-locks")}
    results = run_pipeline(pdfs, workdir, layers=(gpu, {"engines": engines}),
                           args=("--resources", "gpu=1"), env=env)
    pages = {"sent": 0, "from_layer": 0, "structure": 0}
    for stats in (results / "work" / "shards").glob("*/primary.stats.json"):
        found = json.loads(stats.read_text())
        pages["sent"] += found.get("pages_sent", 0)
        pages["from_layer"] += found.get("pages_from_text_layer", 0)
        pages["structure"] += found.get("pages_structure_to_engine", 0)
    return results, pages


def structure_speed(pdfs: list[Path]) -> None:
    """What reading a page as structure costs, against the layer's text alone (pdfium)."""
    import pypdfium2 as pdfium

    from ocrflow.inputs.structure import read_page

    flat, structured, tables = [], [], 0
    for path in pdfs:
        try:
            document = pdfium.PdfDocument(str(path))
        except pdfium.PdfiumError:
            continue  # the example corpus's broken files
        for index in range(len(document)):
            started = time.perf_counter()
            page = document[index]
            text = page.get_textpage().get_text_range()
            flat.append(time.perf_counter() - started)
            started = time.perf_counter()
            tables += read_page(str(path), index + 1, text).tables
            structured.append(time.perf_counter() - started)
        document.close()
    print(f"\nreading a page as structure ({len(structured)} pages, {tables} tables): "
          f"{statistics.mean(structured) * 1000:.0f} ms mean, "
          f"{max(structured) * 1000:.0f} ms at most; the layer's text alone "
          f"{statistics.mean(flat) * 1000:.1f} ms")


def grid_speed() -> None:
    """What looking for a ruled grid costs the tesseract engine on a scanned A4 page at 300 dpi
    without a table (most pages), and on one with a table."""
    import numpy as np
    import pypdfium2 as pdfium

    from ocrflow.inputs.structure.grid import find_grids
    from tests.support import pdfs
    from tests.test_scanned_tables import _grid_page
    from tests.test_tesseract import FRENCH, scanned

    document = pdfium.PdfDocument(scanned(pdfs.text_pdf(["\n".join(FRENCH)])))
    text_page = np.asarray(document[0].render(scale=300 / 72, grayscale=True).to_pil()
                           .convert("L"))
    document.close()
    for name, page in (("without a table", text_page), ("with one", np.asarray(_grid_page()))):
        runs = []
        for _ in range(5):
            started = time.perf_counter()
            find_grids(page, 300)
            runs.append(time.perf_counter() - started)
        print(f"grid search, scanned A4 page at 300 dpi {name}: {min(runs) * 1000:.0f} ms "
              f"(best of 5)")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--before", metavar="REF", help="a commit whose example-bench figures "
                                                        "are the 'before'")
    parser.add_argument("--no-tabula", action="store_true")
    args = parser.parse_args()
    test_files = [corpus.MADE_TESTS] + ([] if args.no_tabula else [corpus.TABULA_TESTS])
    made, tabula = corpus.load([corpus.MADE_TESTS]), (
        [] if args.no_tabula else corpus.load([corpus.TABULA_TESTS]))
    with tempfile.TemporaryDirectory() as tmp:
        pdfs = corpus.corpus_folder(Path(tmp) / "pdfs", tabula=not args.no_tabula)
        pages = len({(x.pdf, x.page) for x in made + tabula})
        print(f"table corpus: {len(made)} tests on the made PDFs, {len(tabula)} on tabula-py's "
              f"({pages} pages with tests)\n")
        print(f"{'reader':34} {'made: table':>16} {'tabula: table':>16} {'text tests':>16}")
        library_rows(made, tabula, pdfs)

        results = run_pipeline(pdfs, Path(tmp) / "cpu")
        print_row("ocrflow (config/config.yaml)", corpus.pipeline_tally(made, pdfs, results),
                  corpus.pipeline_tally(tabula, pdfs, results) if tabula else None)
        cpu_report = eval_summary(test_files, pdfs, results)

        results, gpu_pages = run_gpu_path(pdfs, Path(tmp) / "gpu")
        print_row("ocrflow (gpu.yaml text-layer path)", corpus.pipeline_tally(made, pdfs, results),
                  corpus.pipeline_tally(tabula, pdfs, results) if tabula else None)
        gpu_report = eval_summary(test_files, pdfs, results)
        print(f"{'':34} pages sent to the GPU engine: {gpu_pages['sent']} of "
              f"{gpu_pages['sent'] + gpu_pages['from_layer']}, of them "
              f"{gpu_pages['structure']} for a structure their layer cannot give "
              "(primary.structure_to_engine); the stand-in answers for the GPU, so their tests "
              "say nothing of Chandra")
        structure_speed(sorted(pdfs.rglob("*.pdf")) + sorted((EXAMPLES / "corpus").rglob(
            "*.pdf")))
        grid_speed()

        print("\nocrflow eval, config/config.yaml:\n" + cpu_report.strip())
        if gpu_report:
            print("\nocrflow eval, gpu.yaml text-layer path:\n" + gpu_report.strip())

        print("\nexample bench (text only: examples/bench/tests.jsonl on examples/corpus)")
        from ocrflow.bench.scoring import with_baselines
        from ocrflow.bench.spec import load_tests

        bench = with_baselines(load_tests([EXAMPLES / "bench" / "tests.jsonl"]))
        checkouts = [("this checkout", REPO)]
        if args.before:
            before = Path(tmp) / "before"
            subprocess.run(["git", "-C", str(REPO), "worktree", "add", "--detach", str(before),
                            args.before], check=True, capture_output=True)
            checkouts.append((f"before ({args.before})", before))
        failures: list[set[str]] = []
        for number, (name, repo) in enumerate(checkouts):
            results = run_pipeline(EXAMPLES / "corpus", Path(tmp) / f"bench-{number}", repo)
            failures.append(set())
            tally = corpus.pipeline_tally(bench, EXAMPLES / "corpus", results, failures[-1])
            kinds = ", ".join(f"{k} {_cell(tally, k)}" for k in sorted(tally) if k != "all")
            print(f"  {name:14} all {_cell(tally, 'all')}: {kinds}")
        if len(failures) == 2:
            now, before = failures
            print(f"  regressed (passed before): {', '.join(sorted(now - before)) or '-'}")
            print(f"  fixed: {', '.join(sorted(before - now)) or '-'}")
            subprocess.run(["git", "-C", str(REPO), "worktree", "remove", "--force",
                            str(checkouts[1][1])], check=False, capture_output=True)


if __name__ == "__main__":
    main()
