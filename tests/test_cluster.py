"""The cluster profiles against a real batch scheduler: Slurm on localhost, driven through its
Torque-compatible qsub/qstat/qdel by profiles/pbs and through sbatch by profiles/slurm.

Started by the ``slurm`` fixture (tests/support/local_slurm.py), stopped at the end. Without Slurm
installed these tests are skipped, except in CI, where that is a failure.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest
import yaml

from tests.conftest import EXAMPLES, REPO, Workspace
from tests.support import pdfs
from tests.support.stand_in import FAKE

pytestmark = [pytest.mark.slow, pytest.mark.services]  # a real Slurm, started as root


@pytest.fixture(autouse=True)
def empty_queue(slurm):
    subprocess.run(["scancel", "--user", "root"], capture_output=True)
    yield
    subprocess.run(["scancel", "--user", "root"], capture_output=True)


_seen: set[str] = set()


@pytest.fixture(autouse=True)
def new_jobs_only(slurm):
    """jobs() lists only the jobs of the running test: Slurm remembers older ones for an hour."""
    _seen.update(j["JobId"] for j in jobs())
    yield


def pbs_profile(ws: Workspace) -> Path:
    """profiles/pbs with the one switch to Torque flipped and this cluster's queue names."""
    profile = ws.root / "pbs-profile"
    shutil.copytree(REPO / "profiles" / "pbs", profile)
    text = (profile / "config.yaml").read_text()
    # PBS hands a job none of the submitting shell's variables; Slurm's qsub passes them all
    # unless -v names some: naming one makes these jobs start as bare as PBS jobs do.
    for old, new in (("pbs_flavour: pbspro", "pbs_flavour: torque"),
                     ("pbs_cpu_queue: cpu", "pbs_cpu_queue: batch"),
                     ('pbs_extra: ""', 'pbs_extra: "-v OCRFLOW_TEST_CLUSTER=1"'),
                     ("seconds-between-status-checks: 15", "seconds-between-status-checks: 2")):
        assert old in text
        text = text.replace(old, new)
    (profile / "config.yaml").write_text(text)
    return profile


def command(ws: Workspace, profile: Path | str, *args: str) -> list[str]:
    ws.write_config()
    return [sys.executable, "-m", "snakemake", "-s", str(REPO / "Snakefile"), "-d", str(ws.root),
            "--profile", str(profile), *args]


def env(ws: Workspace) -> dict[str, str]:
    return {**os.environ, "OCRFLOW_CALL_LOG": str(ws.call_log),
            "OCRFLOW_EXIT_RECORD_GRACE_S": "5"}


def run(ws: Workspace, profile: Path | str, *args: str,
        check: bool = True) -> subprocess.CompletedProcess[str]:
    result = subprocess.run(command(ws, profile, *args), cwd=ws.root, env=env(ws),
                            capture_output=True, text=True, timeout=900)
    if check and result.returncode:
        raise AssertionError(f"{result.stdout[-3000:]}\n{result.stderr[-6000:]}")
    return result


def jobs(name_prefix: str = "ocrflow.") -> list[dict[str, str]]:
    """Every job Slurm still remembers (MinJobAge is an hour here), as key=value fields."""
    out = subprocess.run(["scontrol", "show", "job", "-o"], capture_output=True, text=True).stdout
    found = []
    for line in out.splitlines():
        fields = dict(re.findall(r"(\w+)=(\S*)", line))
        if fields.get("JobName", "").startswith(name_prefix) and fields["JobId"] not in _seen:
            found.append(fields)
    return sorted(found, key=lambda f: int(f["JobId"]))


def queued() -> list[str]:
    out = subprocess.run(["squeue", "-h", "-o", "%i %j %T"], capture_output=True, text=True)
    return [line for line in out.stdout.splitlines() if "ocrflow." in line]


def outcome(ws: Workspace) -> tuple[dict, dict]:
    """What a user compares between two runs: Markdown files and manifest rows."""
    markdown = {str(p.relative_to(ws.results)): p.read_text()
                for p in (ws.results / "markdown").rglob("*") if p.is_file()}
    rows = {(r["doc_id"], r["page"]): (r["status"], r["engine"], tuple(r["reasons"]),
                                       r["n_chars"], r["error"]) for r in ws.manifest()}
    return markdown, rows


@pytest.fixture(scope="module")
def local_reference(tmp_path_factory) -> tuple[dict, dict]:
    ws = Workspace(tmp_path_factory.mktemp("local"))
    shutil.copytree(EXAMPLES / "corpus", ws.root / "corpus")
    ws.snakemake()
    return outcome(ws)


def test_pbs_profile_runs_the_example_like_the_local_run(example_workspace, local_reference):
    ws = example_workspace
    started = time.monotonic()
    result = run(ws, pbs_profile(ws))
    print(f"example corpus through profiles/pbs (Torque): {time.monotonic() - started:.0f} s")
    assert outcome(ws) == local_reference
    assert "ocrflow: 11 documents, 19 pages" in result.stdout + result.stderr
    # Long stages went to the queue, one job each, with a log per job; seconds-long ones did not.
    logs = ws.root / "logs" / "cluster"
    rule_logs = {p.name for p in logs.iterdir() if p.is_dir()} - {"exit", "jobscripts", "status"}
    assert sorted(rule_logs) == ["inventory", "manifest", "ocr_primary", "ocr_recovery"]
    records = {p.name: p.read_text() for p in (logs / "exit").iterdir()}
    assert len(records) == 4 and set(records.values()) == {"exit=0\n"}
    submitted = [j for j in jobs() if j["JobId"] in records]
    assert {j["Partition"] for j in submitted} == {"batch"}  # CPU engines: no GPU queue
    assert {j["JobName"] for j in submitted} == {
        "ocrflow.inventory.s000000", "ocrflow.ocr_primary.s000000",
        "ocrflow.ocr_recovery.r000000", "ocrflow.manifest"}


@pytest.fixture(scope="module")
def gpu_engines_run(slurm, tmp_path_factory) -> tuple[Workspace, Path]:
    """A run through profiles/pbs whose OCR jobs start their own model servers (the stand-in,
    on the CPU), everything they need set in the config's environment, the results outside the
    working directory; submitted from a shell with other values for some of them. Returns the
    workspace and the stand-in's request log."""
    ws = Workspace(tmp_path_factory.mktemp("gpu-engines"))
    ws.config["results"] = str(ws.root / "scratch" / "results")
    pdfs.write(ws.root / "corpus" / "a.pdf", pdfs.tagged_pdf([1, 2]))
    plan, log = ws.root / "plan.json", ws.root / "requests.jsonl"
    plan.write_text(json.dumps({"pages": {"chandra:2": ["empty"]}}))
    server = f"{sys.executable} {FAKE}"
    ws.config.update(primary={"engine": "chandra"}, recovery={"engine": "deepseek"})
    ws.config["engines"] = {name: {"server_command": server, "device": "cpu",
                                   "startup_timeout_s": 60, "server_mem_mb": 500}
                            for name in ("chandra", "deepseek")}
    ws.config["environment"] = {"FAKE_VLLM_PLAN": str(plan), "FAKE_VLLM_LOG": str(log),
                                "OCRFLOW_PROBE": "from the config"}
    shell = {name: value for name, value in env(ws).items() if not name.startswith("FAKE_VLLM")}
    shell |= {"OCRFLOW_PROBE": "from the shell", "VLLM_CACHE_ROOT": "/nonexistent/from-shell"}
    result = subprocess.run(command(ws, pbs_profile(ws)), cwd=ws.root, env=shell,
                            capture_output=True, text=True, timeout=900)
    assert result.returncode == 0, result.stderr[-6000:]
    return ws, log


def test_the_jobs_environment_comes_from_the_config_not_the_submitting_shell(gpu_engines_run):
    """Variables a job and its model server need (here the stand-in server's own plan and log,
    and a probe) are set by the job from the config's environment; the submitting shell's are
    neither needed nor used (PBS passes none of them; this test cluster's jobs get none either)."""
    ws, log = gpu_engines_run
    starts = [json.loads(line) for line in Path(f"{log}.servers").read_text().splitlines()
              if json.loads(line)["event"] == "start"]
    assert len(starts) == 2  # Chandra's server, then DeepSeek-OCR's for the page Chandra failed
    cache = str((ws.results / "cache" / "vllm").resolve())
    for start in starts:
        assert "OCRFLOW_CALL_LOG" not in start["env"]  # the shell's: the job started without it
        assert start["env"]["OCRFLOW_PROBE"] == "from the config"
        assert start["env"]["VLLM_CACHE_ROOT"] == cache  # the results folder: shared
    assert start["env"]["VLLM_USE_V2_MODEL_RUNNER"] == "0"  # DeepSeek-OCR's server's own
    rows = {r["page"]: (r["status"], r["engine"]) for r in ws.manifest()}
    assert rows == {1: ("ok", "chandra"), 2: ("recovered", "deepseek")}
    recorded = yaml.safe_load((ws.results / "config.yaml").read_text())["environment"]
    assert recorded == {**ws.config["environment"], "VLLM_CACHE_ROOT": cache}


def on_a_node_without(hidden: Path, script: Path, cwd: Path) -> subprocess.CompletedProcess[str]:
    """``script`` run as the scheduler runs a job, on a node where ``hidden`` (a folder) is
    empty: the folder of a filesystem that node does not mount (an empty tmpfs over it, in a
    mount namespace of its own)."""
    return subprocess.run(
        ["unshare", "--mount", "--propagation", "private", "sh", "-c",
         'mount -t tmpfs none "$1" && exec bash "$2"', "job", str(hidden), str(script)],
        cwd=cwd, capture_output=True, text=True, timeout=300,
        env={"PATH": os.environ["PATH"], "HOME": os.environ.get("HOME", "/root")})


def test_a_job_on_a_node_without_a_planned_path_stops_with_one_line_naming_it(gpu_engines_run):
    """The checkout, its venv, the conda envs, the models and the results must be on a
    filesystem every node shares at the same paths: a job on a node that lacks one says which,
    in one line, and fails."""
    ws, _ = gpu_engines_run
    scripts = ws.root / "logs" / "cluster" / "jobscripts"
    wrapper = next(p for p in scripts.glob("ocrflow.ocr_primary.*.sh") if ".inner." not in p.name)
    venv = Path(sys.prefix)
    no_venv = on_a_node_without(venv, wrapper, ws.root)
    assert no_venv.returncode == 66
    assert no_venv.stderr.splitlines() == [
        f"ocrflow: this node ({socket.gethostname()}) cannot see the workflow's Python "
        f"{sys.executable}: the checkout, its .venv, the conda envs, the models and the results "
        "must be on a filesystem every node shares, at the same paths (docs/clusters.md)"]
    no_results = on_a_node_without(ws.root / "scratch", wrapper, ws.root)
    assert no_results.returncode != 0
    assert (f"ocrflow: this node ({socket.gethostname()}) cannot see the results folder "
            f"{ws.results}: the checkout") in no_results.stdout + no_results.stderr
    assert "Traceback" not in no_results.stdout + no_results.stderr


def test_slurm_profile_runs_the_example_like_the_local_run(example_workspace, local_reference):
    ws = example_workspace
    started = time.monotonic()
    # This test cluster keeps no accounting database: status from squeue, polled early.
    run(ws, REPO / "profiles" / "slurm", "--slurm-status-command", "squeue",
        "--slurm-init-seconds-before-status-checks", "2")
    print(f"example corpus through profiles/slurm: {time.monotonic() - started:.0f} s")
    assert outcome(ws) == local_reference


def test_job_killed_for_memory_is_resubmitted_with_more(workspace):
    ws = workspace
    pdfs.write(ws.root / "corpus" / "a.pdf", pdfs.text_pdf(["A page of text to inventory."]))
    # Far too little memory for the first attempt: Slurm kills it; each retry asks 60 times
    # more, but never more than a node has.
    ws.config["resources"] = {"inventory": {"mem_mb": 100, "runtime": 10}, "retry_scale": 60,
                              "node": {"mem_mb": 3000}, "ocr": {"mem_mb": 3000, "runtime": 60},
                              "manifest": {"mem_mb": 2000, "runtime": 60}}
    run(ws, pbs_profile(ws))
    attempts = [j for j in jobs() if j["JobName"] == "ocrflow.inventory.s000000"]
    assert [(j["JobState"], j["MinMemoryNode"]) for j in attempts] == [
        ("FAILED", "100M"), ("COMPLETED", "3000M")]
    assert [j["TimeLimit"] for j in attempts] == ["00:10:00", "10:00:00"]
    assert [r["status"] for r in ws.manifest()] == ["ok"]


def wait_for(predicate, timeout: float = 120, step: float = 0.5):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(step)
    raise AssertionError("timed out waiting")


def test_job_deleted_with_qdel_is_seen_as_failed(workspace):
    ws = workspace
    ws.config["primary"]["engine"] = "rapidocr"
    ws.config["recovery"]["engine"] = "textlayer"
    lines = [f"Page {n} of a long scanned report, dense with words." for n in range(1, 31)]
    pdfs.write(ws.root / "corpus" / "long.pdf", pdfs.scanned_pdf(lines))
    process = subprocess.Popen(command(ws, pbs_profile(ws), "--retries", "0"), cwd=ws.root,
                               env=env(ws), stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                               text=True)
    running = wait_for(lambda: [q for q in queued() if "ocr_primary" in q and "RUNNING" in q])
    subprocess.run(["qdel", running[0].split()[0]], check=True)
    out, _ = process.communicate(timeout=180)
    assert process.returncode != 0
    assert "Error in rule ocr_primary" in out
    assert not queued()


def test_ctrl_c_cancels_queued_and_running_jobs(workspace):
    ws = workspace
    ws.config["shard_size"] = 1
    for n in range(6):
        pdfs.write(ws.root / "corpus" / f"doc{n}.pdf", pdfs.text_pdf([f"Document {n}."]))
    # A terminal's Ctrl-C reaches a program that listens for it; one started in the background
    # by a non-interactive shell (some CI launchers) inherits SIGINT ignored: give it back.
    process = subprocess.Popen(command(ws, pbs_profile(ws)), cwd=ws.root, env=env(ws),
                               stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                               start_new_session=True,
                               preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL))
    wait_for(lambda: len(queued()) >= 3)
    os.killpg(process.pid, signal.SIGINT)  # as a terminal's Ctrl-C: the whole process group
    process.wait(timeout=120)
    wait_for(lambda: not queued(), timeout=60)
    states = [j["JobState"] for j in jobs()]
    assert states.count("CANCELLED") >= 3
    assert set(states) <= {"CANCELLED", "COMPLETED"}  # none left behind, pending or running
