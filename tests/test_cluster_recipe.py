"""docs/clusters.md's recipe, run as its reader runs it: a user without root, in folders of their
own, on a machine where Tesseract's models are not readable system-wide; the models step against
a hub-compatible server (HF_ENDPOINT, serving the tests' tiny models under the engines' hub ids);
the run through profiles/pbs with the Torque commands of a real Slurm; the GPU engines' real
servers (vLLM's CPU build) reading the local model folder, no hub reachable from their jobs (none
is, from this machine: they are as offline as a cluster's GPU nodes); then `ocrflow status` and
`ocrflow report`.

The commands between the recipe's marks run as written, except for these, each checked to be
there before it is changed:
- /shared is a folder of the test's, and the clone a copy of this checkout;
- the SITE block of profiles/pbs/config.yaml gets this cluster's flavour and queue, as its reader
  edits it for theirs;
- `make gpu` finds .venv-gpu holding vLLM 0.32.0 already: the CPU build the tests run (linked in),
  where a GPU site's `make gpu` downloads the CUDA build;
- the run takes one more config file, the test's: the servers on the CPU (device: cpu) with
  --enforce-eager and 1 GB of KV cache, and one render worker (this node has two cores).
"""

from __future__ import annotations

import json
import os
import pwd
import re
import shutil
import subprocess
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest
import yaml

from tests.conftest import REPO
from tests.support import pdfs
from tests.support.hub import serve_hub
from tests.support.stand_in import DEFAULTS

pytestmark = [pytest.mark.slow, pytest.mark.services,  # Slurm, root (a user made for it)
              pytest.mark.real_server]  # the GPU engines' real servers, vLLM's CPU build

USER = "ocrflow-reader"
RECIPE = re.compile(r"<!-- recipe -->\s*```sh\n(.*?)```\s*<!-- /recipe -->", re.DOTALL)
VLLM_VENV = REPO / ".venv-vllm"
SYSTEM_TESSDATA = Path("/usr/share/tesseract-ocr")
HUB_IDS = ("datalab-to/chandra-ocr-2", "deepseek-ai/DeepSeek-OCR")


def recipe() -> str:
    (block,) = RECIPE.findall((REPO / "docs" / "clusters.md").read_text())
    return block


def replaced(text: str, old: str, new: str) -> str:
    assert old in text, f"{old!r} is no longer in the recipe"
    return text.replace(old, new)


@pytest.fixture(scope="module")
def reader() -> Iterator[pwd.struct_passwd]:
    """A user without root, with a home of their own, removed afterwards."""
    if os.geteuid() != 0:
        if os.environ.get("CI"):
            pytest.fail("the cluster recipe's test runs as root (it makes a user without root)")
        pytest.skip("making a user without root takes root")
    subprocess.run(["useradd", "--create-home", "--shell", "/bin/bash", USER], check=True)
    try:
        yield pwd.getpwnam(USER)
    finally:
        subprocess.run(["scancel", "--user", USER], capture_output=True)
        subprocess.run(["pkill", "-KILL", "-u", USER], capture_output=True)
        subprocess.run(["userdel", "--remove", USER], capture_output=True)


def copy_of_checkout(target: Path) -> None:
    """What `git clone` gives: the files git knows (committed or not), nothing it ignores."""
    listed = subprocess.run(["git", "ls-files", "-z", "--cached", "--others", "--exclude-standard"],
                            cwd=REPO, capture_output=True, text=True, check=True).stdout
    for name in filter(None, listed.split("\0")):
        source = REPO / name
        if source.is_file():
            (target / name).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(source, target / name)


def test_the_cluster_recipe_runs_as_written(slurm, reader, tmp_path_factory) -> None:
    assert VLLM_VENV.joinpath("bin", "vllm").exists(), "make test installs vLLM's CPU build"
    python = Path(os.path.realpath(VLLM_VENV / "bin" / "python"))
    assert not python.is_relative_to("/root"), (
        f"{VLLM_VENV} runs {python}, which a user without root cannot: rebuild it with "
        "`rm -r .venv-vllm && make test` (it takes the system's Python)")
    base = Path(tempfile.mkdtemp(prefix="ocrflow-recipe-", dir="/tmp"))
    try:
        run_recipe(base, reader, tmp_path_factory.mktemp("hub"))
    finally:
        subprocess.run(["scancel", "--user", USER], capture_output=True)
        shutil.rmtree(base, ignore_errors=True)


def run_recipe(base: Path, user: pwd.struct_passwd, hub_root: Path) -> None:
    shared = base / "shared"
    clone = shared / USER / "ocrflow"
    copy_of_checkout(clone)
    (clone / ".venv-gpu").symlink_to(VLLM_VENV)
    scans = {"a": ["Bulletin officiel, page one.", "Page two of the issue."],
             "b": ["Decret relatif a l'organisation."]}
    for doc, pages in scans.items():  # scans: no text layer to take pages from, all to Chandra
        pdfs.write(shared / "gazettes" / f"{doc}.pdf", pdfs.scanned_pdf(pages))
    site = clone / "profiles" / "pbs" / "config.yaml"
    text = site.read_text()
    for old, new in (("pbs_flavour: pbspro", "pbs_flavour: torque"),
                     ("pbs_cpu_queue: cpu", "pbs_cpu_queue: batch"),
                     # PBS hands a job none of the submitting shell's variables; Slurm's qsub
                     # passes them all unless -v names some.
                     ('pbs_extra: ""', 'pbs_extra: "-v OCRFLOW_TEST_CLUSTER=1"')):
        text = replaced(text, old, new)
    site.write_text(text)
    on_cpu = base / "servers-on-the-cpu.yaml"
    on_cpu.write_text(yaml.safe_dump({
        "render": {"workers": 1},
        "environment": {"VLLM_CPU_KVCACHE_SPACE": "1"},
        "engines": {name: {"device": "cpu", "startup_timeout_s": 900, "request_timeout_s": 600,
                           "server_args": [*DEFAULTS["engines"][name]["server_args"],
                                           "--enforce-eager"]}
                    for name in ("chandra", "deepseek")}}))
    subprocess.run(["chown", "-R", f"{user.pw_uid}:{user.pw_gid}", str(base)], check=True)
    os.chmod(base, 0o755)

    hub_models = {}
    for hub_id in HUB_IDS:  # the tiny model that answers every page empty, under each id
        folder = hub_root / hub_id
        subprocess.run([str(VLLM_VENV / "bin" / "python"),
                        str(REPO / "tests" / "support" / "vllm_cpu" / "build_model.py"),
                        str(folder),
                        "--answer", "eos"], check=True, capture_output=True, timeout=300)
        hub_models[hub_id] = folder

    commands = replaced(recipe(), "/shared", str(shared))
    commands = replaced(commands, "--configfile config/gpu.yaml config/site.yaml",
                        f"--configfile config/gpu.yaml config/site.yaml {on_cpu}")
    with serve_hub(hub_models) as hub:
        script = base / "recipe.sh"
        script.write_text(
            "set -euxo pipefail\n"
            f"export HF_ENDPOINT={hub.url}\n"
            # the machine this user is on has no Tesseract model anyone can read
            f"! ls {SYSTEM_TESSDATA}/*/tessdata/*.traineddata\n"
            f"cd {clone}\n" + commands)
        os.chmod(script, 0o755)
        log = base / "recipe.log"
        with open(log, "w") as out:
            result = subprocess.run(
                ["unshare", "--mount", "--propagation", "private", "sh", "-c",
                 'mount -t tmpfs none "$1" && exec setpriv --reuid="$2" --regid="$3" '
                 '--init-groups --reset-env bash "$4"', "recipe", str(SYSTEM_TESSDATA),
                 str(user.pw_uid), str(user.pw_gid), str(script)],
                stdout=out, stderr=subprocess.STDOUT, timeout=3000)
        output = log.read_text()
        assert result.returncode == 0, output[-8000:]
        commit = hub.commit

    # make demo: the example corpus read with Tesseract's models fetched without root
    assert "ocrflow: 11 documents, 19 pages" in output
    tessdata = clone / ".venv" / "share" / "tessdata"
    assert {p.name for p in tessdata.glob("*.traineddata")} >= {
        "ara.traineddata", "fra.traineddata", "eng.traineddata", "osd.traineddata"}
    # the models step: each engine's model in its folder, verified, at the hub's commit
    for hub_id in HUB_IDS:
        record = json.loads((shared / "models" / hub_id / ".ocrflow-model.json").read_text())
        assert (record["repo_id"], record["commit"]) == (hub_id, commit)
    # the run: its jobs in the batch queue as this user, the servers on the local folders
    jobs = subprocess.run(["scontrol", "show", "job", "-o"], capture_output=True,
                          text=True).stdout.splitlines()
    ran = {dict(re.findall(r"(\w+)=(\S*)", line))["JobName"] for line in jobs
           if f"UserId={USER}(" in line and "JobState=COMPLETED" in line}
    assert {"ocrflow.inventory.s000000", "ocrflow.ocr_primary.s000000",
            "ocrflow.ocr_recovery.r000000", "ocrflow.manifest"} <= ran
    results = shared / "ocr"
    # the primary's job per shard, recovery's per pool of shards (here the one shard's)
    for role, unit, hub_id in (("primary", "s000000", HUB_IDS[0]),
                               ("recovery", "r000000", HUB_IDS[1])):
        server_log = (results / "logs" / f"ocr_{role}" / f"{unit}.server-cpu.log").read_text()
        assert f".venv-gpu/bin/vllm serve {shared}/models/{hub_id} " in server_log
        assert "Application startup complete" in server_log
    import pyarrow.parquet as pq

    rows = pq.read_table(results / "manifest.parquet").to_pylist()
    assert len(rows) == 3
    for row in rows:  # the tiny model answers every page empty: both engines found nothing
        assert (row["status"], row["reasons"]) == (
            "no_text", ["chandra:empty_output", "deepseek:empty_output"])
    records = [json.loads(line) for line in
               (results / "work" / "pools" / "r000000" / "recovery.jsonl").read_text()
               .splitlines()]
    provenance = records[0]["provenance"]
    assert (provenance["model"], provenance["model_path"], provenance["model_revision"]) == (
        HUB_IDS[1], f"{shared}/models/{HUB_IDS[1]}", commit)
    # status and report, as the reader asked for them
    assert "time left: none, every shard is merged" in output
    assert (results / "report.html").stat().st_size > 0
