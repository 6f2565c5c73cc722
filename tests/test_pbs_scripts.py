"""The PBS profile's submit and status commands, without a PBS server.

Submit lines are asserted exactly (PBS Pro and Torque). The status command runs as Snakemake runs
it, as a process, against recorded ``qstat -f`` outputs of PBS Pro, Torque and Slurm's Torque
wrappers served by a stand-in qstat, and against the exit records the job wrapper leaves.
"""

from __future__ import annotations

import importlib.util
import os
import subprocess
import sys
from pathlib import Path

import pytest

from tests.conftest import REPO

PROFILE = REPO / "profiles" / "pbs"
RECORDED = Path(__file__).parent / "data" / "qstat"


def load(name: str):
    sys.path.insert(0, str(PROFILE))
    spec = importlib.util.spec_from_file_location(f"pbs_{name}", PROFILE / f"{name}.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


submit = load("submit")

SITE = {"pbs_flavour": "pbspro", "pbs_cpu_queue": "cpu", "pbs_gpu_queue": "gpu",
        "pbs_account": "", "pbs_gpu_resource": "", "pbs_extra": ""}


def props(rule: str, threads: int, gpu: int, mem_mb: int, runtime: int, **site) -> dict:
    resources = {**SITE, **site, "gpu": gpu, "mem_mb": mem_mb, "runtime": runtime}
    return {"rule": rule, "jobid": 7, "threads": threads, "wildcards": {"shard": "s000012"},
            "resources": resources}


def test_pbspro_submit_lines() -> None:
    gpu_job = props("ocr_primary", 8, 1, 16000, 240, pbs_account="ocr-proj",
                    pbs_extra="-W group_list=ocr")
    assert submit.qsub_command(gpu_job, Path("/w/job.sh"), Path("/w/job.out")) == [
        "qsub", "-N", "ocrflow.ocr_primary.s000012", "-q", "gpu", "-A", "ocr-proj",
        "-l", "select=1:ncpus=8:mem=16000mb:ngpus=1", "-l", "walltime=04:00:00",
        "-o", "/w/job.out", "-j", "oe", "-W", "group_list=ocr", "/w/job.sh"]
    cpu_job = props("inventory", 1, 0, 2000, 90)
    assert submit.qsub_command(cpu_job, Path("/w/j.sh"), Path("/w/j.out")) == [
        "qsub", "-N", "ocrflow.inventory.s000012", "-q", "cpu",
        "-l", "select=1:ncpus=1:mem=2000mb", "-l", "walltime=01:30:00",
        "-o", "/w/j.out", "-j", "oe", "/w/j.sh"]


def test_torque_submit_lines_are_one_switch_away() -> None:
    gpu_job = props("ocr_recovery", 4, 2, 8000, 30, pbs_flavour="torque")
    assert submit.qsub_command(gpu_job, Path("/w/j.sh"), Path("/w/j.out")) == [
        "qsub", "-N", "ocrflow.ocr_recovery.s000012", "-q", "gpu",
        "-l", "nodes=1:ppn=4:gpus=2,mem=8000mb,walltime=00:30:00",
        "-o", "/w/j.out", "-j", "oe", "/w/j.sh"]
    site_gpu = props("ocr_primary", 4, 1, 8000, 30, pbs_flavour="pbspro",
                     pbs_gpu_resource="gpus", pbs_cpu_queue="")
    assert "select=1:ncpus=4:mem=8000mb:gpus=1" in submit.qsub_command(
        site_gpu, Path("j"), Path("o"))
    assert "-q" not in submit.qsub_command(props("manifest", 1, 0, 4000, 60, pbs_cpu_queue=""),
                                           Path("j"), Path("o"))


@pytest.fixture
def fake_qstat(tmp_path: Path):
    """A stand-in qstat on PATH that replays a recorded answer and counts its calls."""
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    script = bin_dir / "qstat"
    script.write_text('#!/bin/bash\necho "$*" >> "$QSTAT_REPLAY/calls"\n'
                      'kind=plain; [[ " $* " == *" -x "* ]] && kind=x\n'
                      'cat "$QSTAT_REPLAY/$kind.out" 2>/dev/null\n'
                      'cat "$QSTAT_REPLAY/$kind.err" >&2 2>/dev/null\n'
                      'exit "$(cat "$QSTAT_REPLAY/$kind.rc")"\n')
    script.chmod(0o755)
    replay = tmp_path / "replay"
    replay.mkdir()

    def serve(kind: str = "plain", recorded: str | None = None, rc: int = 0,
              stderr: str | None = None) -> None:
        if recorded:
            (replay / f"{kind}.out").write_text((RECORDED / recorded).read_text())
        if stderr:
            (replay / f"{kind}.err").write_text((RECORDED / stderr).read_text())
        (replay / f"{kind}.rc").write_text(str(rc))

    def status(job_id: str, grace: float = 600) -> str:
        env = {**os.environ, "PATH": f"{bin_dir}:{os.environ['PATH']}", "QSTAT_REPLAY":
               str(replay), "OCRFLOW_EXIT_RECORD_GRACE_S": str(grace)}
        result = subprocess.run([sys.executable, str(PROFILE / "status.py"), job_id], env=env,
                                cwd=tmp_path, capture_output=True, text=True, check=True)
        return result.stdout.strip()

    def calls() -> list[str]:
        path = replay / "calls"
        return path.read_text().splitlines() if path.exists() else []

    serve.status, serve.calls, serve.root = status, calls, tmp_path
    return serve


@pytest.mark.parametrize(("recorded", "expected"), [
    ("pbspro_queued.txt", "running"), ("pbspro_held.txt", "running"),
    ("pbspro_running.txt", "running"), ("pbspro_finished_ok.txt", "success"),
    ("pbspro_finished_error.txt", "failed"), ("pbspro_walltime_killed.txt", "failed"),
    ("torque_queued.txt", "running"), ("torque_held.txt", "running"),
    ("torque_running.txt", "running"), ("torque_completed_ok.txt", "success"),
    ("torque_completed_error.txt", "failed"), ("torque_walltime_killed.txt", "failed"),
])
def test_status_from_recorded_qstat(fake_qstat, recorded: str, expected: str) -> None:
    fake_qstat(recorded=recorded)
    assert fake_qstat.status("4127.pbs01") == expected


def test_pbspro_finished_job_is_read_from_history(fake_qstat) -> None:
    fake_qstat(stderr="pbspro_finished_needs_x.err", rc=35)
    fake_qstat("x", recorded="pbspro_finished_error.txt")
    assert fake_qstat.status("4127.pbs01") == "failed"
    assert fake_qstat.calls() == ["-f 4127.pbs01", "-x -f 4127.pbs01"]


@pytest.mark.parametrize(("recorded", "stderr", "rc"), [
    ("slurm_torque_completed.txt", None, 0),  # finished, no exit status shown
    (None, "pbspro_unknown.err", 153),  # purged from the server's history
    (None, "torque_unknown.err", 153),
    (None, None, 153),  # Slurm's qstat: nothing printed, exit 153
])
def test_finished_or_purged_job_is_decided_by_its_exit_record(fake_qstat, recorded, stderr,
                                                              rc) -> None:
    fake_qstat(recorded=recorded, stderr=stderr, rc=rc)
    exits = fake_qstat.root / "logs" / "cluster" / "exit"
    exits.mkdir(parents=True)
    (exits / "41").write_text("exit=0\n")
    (exits / "42").write_text("exit=143\n")
    assert fake_qstat.status("41") == "success"
    assert fake_qstat.status("42") == "failed"
    # No record: wait for the shared filesystem, then call it failed (SIGKILL leaves none).
    assert fake_qstat.status("43", grace=600) == "running"
    assert fake_qstat.status("43", grace=600) == "running"
    assert fake_qstat.status("43", grace=0) == "failed"


def test_unreachable_server_is_retried_and_never_success(fake_qstat) -> None:
    fake_qstat(stderr="pbspro_unreachable.err", rc=1)
    assert fake_qstat.status("4127.pbs01") == "running"
    assert len(fake_qstat.calls()) == 3
