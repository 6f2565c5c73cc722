"""The GPU engines' real code paths, without a GPU or model weights: the vLLM client path of
Chandra and DeepSeek-OCR against an OpenAI-compatible server on loopback
(tests/support/fake_vllm.py)
that answers like each model and injects faults; the model server's lifecycle with that server
standing in for `vllm serve`; GPU slots; clear errors. Pages go through the same functions a
Snakemake job runs: inventory_shard, ocr_shard, detect_shard.
"""

from __future__ import annotations

import json
import multiprocessing as mp
import os
import signal
import subprocess
import sys
import time
from collections import Counter
from pathlib import Path

import pytest

from ocrflow import engines
from ocrflow.engines import EngineUnavailable
from ocrflow.engines.gpus import GpuSlots
from ocrflow.engines.server import ModelServer, ServerFailed, ServerGroup
from tests.support.stand_in import fake_command, run_job, served_command, settings


def oks_per_tag(requests: list[dict]) -> Counter[int]:
    return Counter(r["tag"] for r in requests if r["behaviour"] == "ok")


def test_chandra_through_the_vllm_api_with_faults(tmp_path: Path, fake_server) -> None:
    plan = {"pages": {"2": ["http500", "ok"], "3": ["loop", "loop", "ok"], "4": ["length"],
                      "5": ["drop", "ok"], "6": ["timeout", "ok"], "7": ["empty"],
                      "8": ["loop"]}}
    server = fake_server(plan, "chandra")
    pages = run_job(tmp_path, "chandra", settings("chandra", endpoint=server.url), tags=list(
        range(1, 9)))
    assert sorted(pages) == list(range(1, 9))  # no page lost
    record, verdict = pages[1]
    assert verdict["ok"] and record["attempts"] == 1
    assert record["text"].startswith("# Report page 1\n\nText of page 1 with **bold** words")
    assert "<table>" in record["text"] and "Page-Footer" not in record["text"]
    assert [b["label"] for b in record["meta"]["blocks"]] == [
        "Section-Header", "Text", "Table", "Page-Footer"]
    width = json.loads((tmp_path / "inventory.jsonl").read_text())["pages"][0]["width"]
    assert record["meta"]["blocks"][0]["bbox"][0] > 0 and width > 0
    # HTTP 500, a dropped connection and a timeout are retried by the client; the page is ok.
    for page in (2, 5, 6):
        assert pages[page][1]["ok"], pages[page]
    # Repetition: asked again with rising temperature, as Chandra does; attempts recorded.
    assert pages[3][0]["attempts"] == 3 and pages[3][1]["ok"]
    tries = [(r["temperature"], r["top_p"]) for r in server.requests() if r["tag"] == 3]
    assert tries == [(0.0, 0.1), (0.2, 0.95), (0.4, 0.95)]
    assert pages[4][1]["reasons"] == ["truncated"]
    assert pages[7][1]["reasons"] == ["empty_output"]
    assert pages[8][0]["attempts"] == 7 and "repetition" in pages[8][1]["reasons"]
    # Every page answered successfully once at most: nothing sent again after success.
    assert all(n == 1 for n in oks_per_tag(server.requests()).values())
    # A rerun: every page comes from the page store, nothing reaches the server.
    before = len(server.requests())
    run_job(tmp_path, "chandra", settings("chandra", endpoint=server.url), list(range(1, 9)))
    assert len(server.requests()) == before


def test_deepseek_switches_the_ngram_guard_on_and_cleans_grounding(tmp_path: Path,
                                                                    fake_server) -> None:
    server = fake_server({"pages": {"2": ["length"]}}, "deepseek")
    pages = run_job(tmp_path, "deepseek", settings("deepseek", endpoint=server.url), [1, 2],
                    role="recovery")
    record, verdict = pages[1]
    assert verdict["ok"]
    assert record["text"] == "# Report page 1\n\nText of page 1 recovered."
    assert [(b["label"], b["bbox"]) for b in record["meta"]["blocks"]] == [
        ("title", [50, 40, 950, 90]), ("text", [50, 100, 950, 400]),
        ("image", [100, 500, 400, 700])]
    assert pages[2][1]["reasons"] == ["truncated"]  # not finished: failed, never dropped
    request = server.requests()[0]
    assert request["vllm_xargs"] == {"ngram_size": 30, "window_size": 90,
                                     "whitelist_token_ids": [128821, 128822]}
    assert request["skip_special_tokens"] is False and request["temperature"] == 0.0
    # No max_tokens: vLLM gives the page what its 8192-token context leaves after the prompt.
    assert request["max_tokens"] is None and request["image_format"] == "PNG"


def test_api_key_comes_from_the_environment_and_is_not_logged(tmp_path: Path, fake_server,
                                                               monkeypatch, caplog) -> None:
    server = fake_server({}, "chandra")
    monkeypatch.setenv("OCR_TEST_KEY", "sk-test-secret-123")
    pages = run_job(tmp_path, "chandra", settings("chandra", endpoint=server.url,
                                                  api_key_env="OCR_TEST_KEY"), [1])
    assert pages[1][1]["ok"]
    assert server.requests()[0]["authorization"] == "Bearer sk-test-secret-123"
    assert "sk-test-secret-123" not in caplog.text
    assert "sk-test-secret-123" not in (tmp_path / "primary.jsonl").read_text()
    monkeypatch.delenv("OCR_TEST_KEY")
    engine = engines.create("chandra", settings("chandra", endpoint=server.url,
                                                api_key_env="OCR_TEST_KEY"))
    with pytest.raises(EngineUnavailable, match="OCR_TEST_KEY"):
        list(engine.run([]))


def test_job_starts_its_server_and_restarts_it_when_it_dies(tmp_path: Path, monkeypatch) -> None:
    log = tmp_path / "requests.jsonl"
    plan = tmp_path / "plan.json"
    plan.write_text(json.dumps({"die_once_after": 3}))
    monkeypatch.setenv("FAKE_VLLM_PLAN", str(plan))
    monkeypatch.setenv("FAKE_VLLM_LOG", str(log))
    monkeypatch.setenv("CUDA_VISIBLE_DEVICES", "0")
    for name in ("SLURM_JOB_ID", "PBS_JOBID"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("OCRFLOW_GPU_LOCK_DIR", str(tmp_path / "locks"))
    chosen = settings("chandra", server_command=fake_command(), max_in_flight=2)
    pages = run_job(tmp_path, "chandra", chosen, list(range(1, 9)))
    assert all(verdict["ok"] for _, verdict in pages.values())
    requests = [json.loads(x) for x in log.read_text().splitlines()]
    assert len({r["pid"] for r in requests}) == 2  # the first server died, a second took over
    assert all(n == 1 for n in oks_per_tag(requests).values())
    assert sorted(oks_per_tag(requests)) == list(range(1, 9))
    assert {r["gpu"] for r in requests} == {"0"}
    job_log = (tmp_path / "job.server-0.log").read_text()
    assert "fake_vllm.py datalab-to/chandra-ocr-2 --served-model-name chandra" in job_log
    assert "--port" in job_log
    assert not any(alive(pid) for pid in {r["pid"] for r in requests})


def alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    # A zombie (exited, not yet reaped by its parent) is gone for our purposes.
    stat = Path(f"/proc/{pid}/stat")
    return stat.exists() and stat.read_text().split()[2] != "Z"


def group(tmp: Path) -> ServerGroup:
    return ServerGroup([ModelServer(served_command("chandra"), ["0"], tmp / "server.log",
                                    startup_timeout_s=15)])


def test_server_is_stopped_on_success_and_on_error(tmp_path: Path) -> None:
    with group(tmp_path) as servers:
        process = servers.servers[0].process
        assert servers.servers[0].ready()
    assert process.poll() is not None
    with pytest.raises(RuntimeError, match="boom"), group(tmp_path) as servers:
        process = servers.servers[0].process
        raise RuntimeError("boom")
    assert process.poll() is not None and not alive(process.pid)


def test_server_that_cannot_start_is_named_with_its_log(tmp_path: Path) -> None:
    broken = ServerGroup([ModelServer(
        [sys.executable, "-c", "import sys; print('loading'); sys.exit('ValueError: no weights')"],
        ["0"], tmp_path / "bad.log", startup_timeout_s=10)])
    with pytest.raises(ServerFailed, match=r"exited \(1\) while starting: ValueError: no weights "
                                           r"\(log: .*bad\.log\)"):
        broken.__enter__()
    os.environ["FAKE_VLLM_STARTUP_S"] = "60"
    try:
        slow = ServerGroup([ModelServer(served_command("chandra"), ["0"], tmp_path / "slow.log",
                                        startup_timeout_s=2)])
        with pytest.raises(ServerFailed, match="not ready after 2 s"):
            slow.__enter__()
    finally:
        del os.environ["FAKE_VLLM_STARTUP_S"]
    started = [server.process.pid for server in (*broken.servers, *slow.servers)]
    assert not any(alive(pid) for pid in started)


def test_sigterm_from_the_scheduler_stops_the_server(tmp_path: Path) -> None:
    script = tmp_path / "job.py"
    script.write_text(
        "import sys, time\n"
        f"sys.path.insert(0, {str(Path(__file__).parent.parent)!r})\n"
        "from pathlib import Path\n"
        "from ocrflow.engines.server import ModelServer, ServerGroup\n"
        f"servers = ServerGroup([ModelServer({served_command('chandra')!r}, ['0'], "
        f"Path({str(tmp_path / 's.log')!r}))])\n"
        "with servers:\n"
        "    print(servers.servers[0].process.pid, flush=True)\n"
        "    time.sleep(600)\n")
    job = subprocess.Popen([sys.executable, str(script)], stdout=subprocess.PIPE, text=True)
    server_pid = int(job.stdout.readline())
    job.send_signal(signal.SIGTERM)
    assert job.wait(timeout=60) == 128 + signal.SIGTERM
    assert not alive(server_pid)


def hold_one_gpu(lock_dir: str, results: mp.Queue, hold_s: float) -> None:
    slots = GpuSlots(lock_dir)
    gpu = slots.acquire(["0", "1", "2"], 1)
    results.put((gpu[0], time.monotonic()))
    time.sleep(hold_s)
    slots.release()


def test_gpu_slots_give_concurrent_jobs_distinct_gpus(tmp_path: Path) -> None:
    ctx = mp.get_context("spawn")
    results = ctx.Queue()
    jobs = [ctx.Process(target=hold_one_gpu, args=(str(tmp_path), results, 3)) for _ in range(3)]
    for job in jobs:
        job.start()
    first = [results.get(timeout=60) for _ in range(3)]
    assert sorted(g for g, _ in first) == ["0", "1", "2"]
    late = ctx.Process(target=hold_one_gpu, args=(str(tmp_path), results, 0))
    late.start()
    _, at = results.get(timeout=60)
    assert at >= min(t for _, t in first) + 2.5  # waited for a GPU to be given back
    for job in [*jobs, late]:
        job.join()


def test_clear_errors_at_start(tmp_path: Path, monkeypatch) -> None:
    monkeypatch.setenv("CUDA_VISIBLE_DEVICES", "")
    cases = [
        ("chandra", {"server_command": "no-such-vllm serve"}, "'no-such-vllm' not found; run "
         "`make gpu` and set engines.chandra.server_command to '.venv-gpu/bin/vllm serve', run "
         "with '--sdm conda' (envs/chandra.yaml)"),
        ("deepseek", {"server_command": fake_command(), "model": "/models/DeepSeek-OCR"},
         "model path /models/DeepSeek-OCR does not exist (engines.deepseek.model)"),
        ("chandra", {"server_command": fake_command()}, "no GPU visible to this job"),
        ("nougat", {"model": str(tmp_path / "missing")}, "does not exist"),
    ]
    for name, changes, message in cases:
        engine = engines.create(name, settings(name, **changes))
        with pytest.raises(EngineUnavailable) as error:
            engine.start()
        assert message in str(error.value) and "\n" not in str(error.value)
    monkeypatch.setitem(sys.modules, "chandra", None)  # as if chandra-ocr were not installed
    with pytest.raises(EngineUnavailable, match=r"cannot import chandra; run `make gpu` \(it "
                                                r"installs chandra-ocr into .venv\), run with "
                                                r"'--sdm conda' \(envs/chandra.yaml\)"):
        engines.create("chandra", settings("chandra", endpoint="http://127.0.0.1:9/v1")).start()
