"""Planning cost at corpus scale: wall time and peak memory of `snakemake -n` on N PDFs, and the
start of one cluster job (the Snakefile parsed again and the DAG of its one job).

    python benchmarks/dag_scale.py [--python PY] [N ...]        (default: 10000 100000)

--python: the interpreter whose Snakemake is timed (default: this one), e.g. that of a venv with
only requirements.txt (no SLURM plugin, whose import takes pandas' 0.26 s).

The PDFs are placeholder files (a dry run lists and stats the input, it never opens a PDF).
Each size is dry-run twice: before anything is planned (a first run: every shard is new), and
after the plan was written as a real run's plan job writes it (every later run: the member lists
are read back and compared). A dry run writes nothing, so both see every job still to do. Each
is timed with Snakemake's full listing of the jobs (`-n`) and with `-n --quiet rules progress`.
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


SLURM_TOOLS = {"scontrol", "sacct", "squeue", "sbatch", "sinfo", "srun", "scancel"}


def without_slurm(root: Path) -> dict[str, str]:
    """An environment whose PATH has every command of this one's but Slurm's."""
    shim = root / "bin"
    shim.mkdir(exist_ok=True)
    for folder in reversed(os.environ["PATH"].split(os.pathsep)):
        for program in Path(folder).glob("*") if Path(folder).is_dir() else []:
            if program.name not in SLURM_TOOLS and os.access(program, os.X_OK):
                (shim / program.name).unlink(missing_ok=True)
                (shim / program.name).symlink_to(program)
    return {**os.environ, "PATH": str(shim)}


ENV: dict[str, str] | None = None


def timed(command: list[str]) -> tuple[float, float, str]:
    """(seconds, peak RSS in MiB, output) of one command, which must succeed."""
    started = time.monotonic()
    process = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                               text=True, env=ENV)
    out = process.stdout.read() if process.stdout else ""
    _, status, usage = os.wait4(process.pid, 0)
    seconds = time.monotonic() - started
    if os.waitstatus_to_exitcode(status) != 0:
        raise SystemExit(f"{' '.join(command[:4])} ... failed:\n{out[-3000:]}")
    return seconds, usage.ru_maxrss / 1024, out


SNAKEMAKE = [sys.executable, "-m", "snakemake", "-s", str(REPO / "Snakefile")]


def dry_run(workdir: Path, quiet: bool) -> tuple[float, float, int]:
    """(seconds, peak RSS in MiB, jobs planned) of one `snakemake -n`."""
    command = [*SNAKEMAKE, "-d", str(workdir), "-n", "--scheduler", "greedy", "--cores", "2"]
    seconds, peak, out = timed(command + (["--quiet", "rules", "progress"] if quiet else []))
    jobs = next((int(line.split()[1]) for line in out.splitlines()
                 if line.startswith("total")), -1)
    return seconds, peak, jobs


def job_start(workdir: Path) -> tuple[float, float]:
    """(seconds, peak MiB) of a cluster job's Snakemake up to its job: the arguments an executor
    plugin passes (target job, allowed rules, remote mode), with -n so the job itself is not run."""
    command = [*SNAKEMAKE, "-d", str(workdir), "--target-jobs", "inventory:shard=s000000",
               "--allowed-rules", "inventory", "--cores", "1", "--force", "--nolock",
               "--no-hooks", "--mode", "remote", "-n", "--quiet", "all"]
    seconds, peak, _ = timed(command)
    return seconds, peak


SHARD_SIZE = 100


def write_plan(config: dict[str, str | int]) -> None:
    """The plan as a real run's plan job writes it, in a process of its own: a child's peak
    memory (ru_maxrss) would count this process's if it grew here."""
    subprocess.run([sys.executable, "-c", "import sys; from ocrflow.run import plan; "
                    f"plan.update(sys.argv[1], sys.argv[2], {SHARD_SIZE})", config["input"],
                    config["results"]], check=True, cwd=REPO)


def main(sizes: list[int]) -> None:
    global ENV
    version = [SNAKEMAKE[0], "-m", "snakemake", "--version"]
    with_slurm, _, _ = timed(version)
    with tempfile.TemporaryDirectory() as shim:
        ENV = without_slurm(Path(shim))
        floor, _, _ = timed(version)
        print(f"python -m snakemake --version (importing Snakemake): {floor:.2f} s; "
              f"{with_slurm:.2f} s with Slurm's commands on PATH and no controller answering")
        run_sizes(sizes)


def run_sizes(sizes: list[int]) -> None:
    print(f"{'PDFs':>8} {'planned':>8} {'jobs':>6} {'-n s':>6} {'MiB':>5} "
          f"{'-n -q s':>8} {'MiB':>5}")
    for n in sizes:
        with tempfile.TemporaryDirectory() as tmp:
            root = Path(tmp)
            make_corpus(root / "corpus", n)
            (root / "config").mkdir()
            # shards of 100 PDFs: many shards, the DAG's worst case (by default a shard holds
            # up to 1,000 PDFs or 6,000 pages)
            config = {"input": str(root / "corpus"), "results": str(root / "results"),
                      "shard_size": SHARD_SIZE}
            (root / "config" / "config.yaml").write_text(yaml.safe_dump(config))
            for planned in ("no", "yes"):
                if planned == "yes":
                    write_plan(config)
                full, full_peak, jobs = dry_run(root, quiet=False)
                quiet, quiet_peak, _ = dry_run(root, quiet=True)
                print(f"{n:>8} {planned:>8} {jobs:>6} {full:>6.2f} {full_peak:>5.0f} "
                      f"{quiet:>8.2f} {quiet_peak:>5.0f}", flush=True)
            seconds, peak = job_start(root)
            print(f"{n:>8} one cluster job's start (parse + DAG of its job): {seconds:.2f} s, "
                  f"{peak:.0f} MiB", flush=True)


if __name__ == "__main__":
    arguments = sys.argv[1:]
    if arguments[:1] == ["--python"]:
        SNAKEMAKE[0] = arguments[1]
        arguments = arguments[2:]
    main([int(a) for a in arguments] or [10_000, 100_000])
