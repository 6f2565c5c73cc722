"""The GPU engines held to their upstreams' contracts, through the stand-in server that enforces
vLLM 0.32.0's (tests/support/fake_vllm.py, tests/data/vllm-0.32.0/; tests/test_real_vllm.py holds
it to
the real server): what a real vLLM rejects is rejected here; engine errors, a failing engine,
blank-page prose, figures, server sizes and form fields."""

from __future__ import annotations

import json
import subprocess
import sys
import time
from collections import Counter
from pathlib import Path

import pytest

from ocrflow import engines
from ocrflow.core import atomic
from ocrflow.core.layout import Layout
from ocrflow.core.records import PageInput
from ocrflow.engines.chandra import server_sizes
from ocrflow.engines.deepseek_transformers import capture_generate, finish_reason
from ocrflow.engines.ocr import EngineFailing, PagesToRetry
from ocrflow.engines.server import ModelServer, ServerFailed, ServerGroup
from ocrflow.inputs.render import RenderTask, _close_open_document, render_page
from ocrflow.results.merge import merge_shard
from ocrflow.results.settings import MergeFiles, MergeSettings
from tests.support import pdfs
from tests.support.stand_in import DEFAULTS, fake_command, run_job, served_command, settings


def start_stand_in(tmp_path: Path, command: list[str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run([*command, "--port", "1"], capture_output=True, text=True, timeout=60,
                          env={"FAKE_VLLM_STARTUP_S": "0", "PATH": "/usr/bin:/bin"})


def test_the_stand_in_stops_at_start_on_what_vllm_serve_refuses(tmp_path: Path) -> None:
    unknown = start_stand_in(tmp_path, [*served_command("chandra"), "--max-num-seq", "8"])
    assert unknown.returncode == 2
    assert "unrecognized arguments: --max-num-seq" in unknown.stderr
    bad_json = start_stand_in(tmp_path, [*served_command("chandra"), "--mm-processor-kwargs",
                                         "{min_pixels: 3136}"])
    assert bad_json.returncode == 2 and "invalid loads value" in bad_json.stderr
    # The engines' own command lines pass (underscores read as dashes, as vLLM does).
    for engine in ("chandra", "deepseek"):
        with ServerGroup([ModelServer(served_command(engine), ["0"], tmp_path / f"{engine}.log",
                                      startup_timeout_s=20)]) as group:
            assert group.servers[0].ready()
    broken = settings("chandra", server_args=["--max-model-len", "18000", "--no-such-flag"])
    engine = engines.create("chandra", {**broken, "server_command": fake_command()})
    with pytest.raises(ServerFailed, match=r"exited \(2\) while starting: vllm: error: "
                                           r"unrecognized arguments: --no-such-flag"), ServerGroup(
            [ModelServer(engine.serve_command(81559), ["0"], tmp_path / "bad.log",
                         startup_timeout_s=20)]):
        pass


def test_deepseek_asking_more_than_its_context_is_rejected_once_per_page(tmp_path: Path,
                                                                         fake_server) -> None:
    server = fake_server({}, "deepseek")
    # vLLM 0.32 cuts a max_tokens that the prompt leaves no room for (0.17 answered 400)...
    whole = settings("deepseek", endpoint=server.url, max_tokens=8192)
    pages = run_job(tmp_path, "deepseek", whole, [1, 2], role="recovery")
    assert all(record["error"] == "" and verdict["ok"] for record, verdict in pages.values())
    # ... but not one above the context itself: rejected, and never asked again.
    beyond = tmp_path / "beyond"
    beyond.mkdir()
    pages = run_job(beyond, "deepseek", {**whole, "max_tokens": 9000}, [3, 4], role="recovery",
                    policy={"failing_window": 10})
    for record, verdict in pages.values():
        assert record["error"] == ("rejected: HTTP 400: max_tokens=9000 cannot be greater than "
                                   "max_model_len=8192. Please request fewer output tokens. "
                                   "(parameter=max_tokens, value=9000)")
        assert verdict["reasons"][0] == "engine_error"
    assert Counter(r["tag"] for r in server.requests()) == {1: 1, 2: 1, 3: 1, 4: 1}


def test_a_request_for_another_model_is_not_found(tmp_path: Path, fake_server) -> None:
    server = fake_server({}, "chandra")
    pages = run_job(tmp_path, "chandra", settings("chandra", endpoint=server.url,
                                                  served_model_name="chandra-2"), [1])
    assert pages[1][0]["error"] == ("rejected: HTTP 404: The model `chandra-2` does not exist. "
                                    "Valid aliases: chandra.")


def test_an_engine_that_fails_every_page_stops_early_and_a_fixed_run_reads_each_once(
        tmp_path: Path, fake_server) -> None:
    tags = list(range(1, 31))
    rejecting = fake_server({"reject_all": True}, "chandra")
    chosen = settings("chandra", endpoint=rejecting.url, max_in_flight=2)
    with pytest.raises(EngineFailing, match=r"8 of the last 8 pages failed, stopping; first "
                                            r"error: rejected: HTTP 400: rejected by the test"):
        run_job(tmp_path, "chandra", chosen, tags, policy={"failing_window": 8})
    sent = len(rejecting.requests())
    assert 8 <= sent <= 8 + 2, sent  # the window, plus what was in flight when it stopped
    assert not (tmp_path / "primary.jsonl").exists()
    rejecting.stop()
    fixed = fake_server({}, "chandra")
    pages = run_job(tmp_path, "chandra", {**chosen, "endpoint": fixed.url}, tags,
                    policy={"failing_window": 8})
    assert all(verdict["ok"] for _, verdict in pages.values())
    assert Counter(r["tag"] for r in fixed.requests()) == dict.fromkeys(tags, 1)


def test_a_shard_smaller_than_the_window_stops_when_all_its_pages_fail(tmp_path: Path,
                                                                      fake_server) -> None:
    rejecting = fake_server({"reject_all": True}, "chandra")
    with pytest.raises(EngineFailing, match="6 of the last 6 pages failed"):
        run_job(tmp_path, "chandra", settings("chandra", endpoint=rejecting.url),
                [1, 2, 3, 4, 5, 6])
    one = tmp_path / "one"
    one.mkdir()  # a single rejected page is a bad page, not a failing engine: final, not stopped
    pages = run_job(one, "chandra", settings("chandra", endpoint=rejecting.url), [1])
    assert pages[1][0]["error"].startswith("rejected: HTTP 400")


def test_a_page_whose_server_fails_twice_is_read_by_the_third_job_attempt(
        tmp_path: Path, fake_server) -> None:
    server = fake_server({"pages": {"2": ["http500", "http500", "ok"]}}, "chandra")
    chosen = settings("chandra", endpoint=server.url, retries=0)  # one request per job attempt
    for attempt in (1, 2):
        with pytest.raises(PagesToRetry, match=r"1 pages could not be answered \(first: 1 "
                                               r"attempts failed, last: HTTP 500"):
            run_job(tmp_path, "chandra", chosen, [1, 2, 3])
        assert [r["tag"] for r in server.requests()].count(2) == attempt
    pages = run_job(tmp_path, "chandra", chosen, [1, 2, 3])
    record, verdict = pages[2]
    assert verdict["ok"] and record["page_attempts"] == 3 and record["error"] == ""
    assert Counter(r["tag"] for r in server.requests()) == {1: 1, 2: 3, 3: 1}
    # With fewer attempts allowed, the error becomes final and the page goes to recovery.
    failing = fake_server({"pages": {"1": ["http500"]}}, "chandra")
    other = tmp_path / "other"
    other.mkdir()
    chosen = {**chosen, "endpoint": failing.url}
    with pytest.raises(PagesToRetry):
        run_job(other, "chandra", chosen, [1], policy={"max_page_attempts": 2})
    pages = run_job(other, "chandra", chosen, [1], policy={"max_page_attempts": 2})
    assert pages[1][1]["reasons"][0] == "engine_error" and pages[1][0]["page_attempts"] == 2


def test_prose_on_a_blank_page_is_a_hallucination_that_recovery_must_confirm(
        tmp_path: Path, fake_server) -> None:
    chandra = fake_server({"pages": {"0": ["prose"]}}, "chandra")
    pages = run_job(tmp_path, "chandra", settings("chandra", endpoint=chandra.url), [1, None])
    assert pages[1][1]["ok"]
    assert pages[2][1]["reasons"] == ["hallucination"]
    deepseek = fake_server({"pages": {"0": ["empty"]}}, "deepseek")
    recovered = run_job(tmp_path, "deepseek", settings("deepseek", endpoint=deepseek.url),
                        [1, None], role="recovery", verdicts=tmp_path / "primary_verdicts.jsonl")
    assert sorted(recovered) == [2]  # only the failed page went to recovery
    assert recovered[2][1]["ok"] and recovered[2][0]["text"] == ""
    prose_again = fake_server({"pages": {"0": ["prose"]}}, "deepseek")
    again = tmp_path / "again"
    again.mkdir()
    run_job(again, "chandra", settings("chandra", endpoint=chandra.url), [None])
    disagreed = run_job(again, "deepseek", settings("deepseek", endpoint=prose_again.url),
                        [None], role="recovery", verdicts=again / "primary_verdicts.jsonl")
    assert disagreed[1][1]["reasons"] == ["hallucination"]


def merged(tmp: Path) -> tuple[str, list[dict]]:
    merge_shard(MergeFiles(inventory=tmp / "inventory.jsonl", primary=tmp / "primary.jsonl",
                           primary_verdicts=tmp / "primary_verdicts.jsonl", recovery=None,
                           recovery_verdicts=None, markdown_dir=tmp / "markdown",
                           store_root=Layout.of(tmp).page_store, output=tmp / "pages.jsonl",
                           documents=tmp / "documents.tsv"),
                MergeSettings(("markdown", "page_records"), min_agreement=0.8,
                              headers_footers=None))
    return ((tmp / "markdown" / "doc.md").read_text(),
            list(atomic.read_jsonl(tmp / "markdown" / "doc.pages.jsonl")))


def test_chandra_figures_are_image_files_the_markdown_links_to(tmp_path: Path,
                                                                fake_server) -> None:
    from PIL import Image

    server = fake_server({"pages": {"1": ["figure"]}}, "chandra")
    run_job(tmp_path, "chandra", settings("chandra", endpoint=server.url), [1, 2])
    markdown, records = merged(tmp_path)
    links = [line for line in markdown.splitlines() if line.startswith("![")]
    assert len(links) == 1 and links[0].startswith("![harbour map](doc_images/p1-")
    figure = tmp_path / "markdown" / links[0].split("(")[1].rstrip(")")
    with Image.open(figure) as image:
        assert image.format == "WEBP" and image.width > 100 and image.height > 100
    provenance = records[0]["provenance"]
    assert provenance["model"] == "datalab-to/chandra-ocr-2"
    assert provenance["server_version"] == "0.32.0" and len(provenance["prompt_sha256"]) == 16
    assert provenance["sampling"] == {"max_tokens": 12384, "temperature": 0.0, "top_p": 0.1,
                                      "max_retries": 6}
    off = tmp_path / "off"
    off.mkdir()
    run_job(off, "chandra", settings("chandra", endpoint=server.url, images=False), [1])
    markdown, _ = merged(off)
    assert "![" not in markdown and not (off / "markdown" / "doc_images").exists()


def test_chandra_server_sizes_follow_the_gpu_memory(tmp_path: Path, monkeypatch) -> None:
    # chandra/scripts/vllm.py: 80 GB -> 64 seqs / 8192 tokens, 40 GB -> 32 / 4096, 24 -> 16 / 2048
    assert server_sizes(81559) == (64, 8192)
    assert server_sizes(40960) == (32, 4096)
    assert server_sizes(24564) == (16, 2048)
    assert server_sizes(143771) == (64, 8192)  # capped at the baseline upstream measured
    nvidia_smi = tmp_path / "bin" / "nvidia-smi"
    nvidia_smi.parent.mkdir()
    nvidia_smi.write_text("#!/bin/sh\necho 24564\n")
    nvidia_smi.chmod(0o755)
    monkeypatch.setenv("PATH", f"{nvidia_smi.parent}:/usr/bin:/bin")
    monkeypatch.setenv("CUDA_VISIBLE_DEVICES", "0")
    monkeypatch.setenv("OCRFLOW_GPU_LOCK_DIR", str(tmp_path / "locks"))
    for name in ("SLURM_JOB_ID", "PBS_JOBID"):
        monkeypatch.delenv(name, raising=False)
    engine = engines.create("chandra", settings("chandra", server_command=fake_command()))
    engine.start(engines.JobContext(log_path=tmp_path / "job.log"))
    try:
        started = (tmp_path / "job.server-0.log").read_text().splitlines()[0]
    finally:
        engine.close()
    assert "--max-num-seqs 16 --max-num-batched-tokens 2048" in started
    mine = engines.create("chandra", settings("chandra", max_num_seqs=4,
                                              server_args=["--max-model-len", "18000",
                                                           "--max_num_batched_tokens", "512"]))
    command = " ".join(mine.serve_command(24564))
    assert "--max-num-seqs 4" in command and "--max-num-batched-tokens" not in command
    assert "--max_num_batched_tokens 512" in command


def test_server_options_that_change_the_text_are_in_the_page_store_key() -> None:
    def fingerprint(engine: str, **changes: object) -> str:
        return engines.create(engine, settings(engine, **changes)).fingerprint()

    base = fingerprint("chandra")
    args = DEFAULTS["engines"]["chandra"]["server_args"]
    longer = [("36000" if a == "18000" else a) for a in args]
    assert fingerprint("chandra", server_args=longer) != base
    assert fingerprint("chandra", server_args=[*args, "--max_model_len=9000"]) != base
    assert fingerprint("chandra", server_args=[*args, "--gpu-memory-utilization", "0.9"]) == base
    assert fingerprint("chandra", max_in_flight=8, gpus=4, max_num_seqs=8) == base
    assert fingerprint("deepseek", server_args=["--mm-processor-kwargs", "{}"]) != \
        fingerprint("deepseek")


def test_requests_in_flight_grow_with_the_job_gpus(tmp_path: Path, monkeypatch) -> None:
    log, plan = tmp_path / "requests.jsonl", tmp_path / "plan.json"
    plan.write_text(json.dumps({"delay_s": 1.0}))
    for name, value in {"FAKE_VLLM_PLAN": plan, "FAKE_VLLM_LOG": log,
                        "CUDA_VISIBLE_DEVICES": "0,1", "FAKE_VLLM_STARTUP_S": "0",
                        "OCRFLOW_GPU_LOCK_DIR": tmp_path / "locks"}.items():
        monkeypatch.setenv(name, str(value))
    for name in ("SLURM_JOB_ID", "PBS_JOBID"):
        monkeypatch.delenv(name, raising=False)
    chosen = settings("chandra", server_command=fake_command(), gpus=2, max_in_flight=3)
    started = time.monotonic()
    pages = run_job(tmp_path, "chandra", chosen, list(range(1, 13)))
    assert all(verdict["ok"] for _, verdict in pages.values())
    arrivals = sorted((r["t"], r["pid"]) for r in map(json.loads, log.read_text().splitlines()))
    open_at = [[p for t2, p in arrivals if t - 1.0 < t2 <= t] for t, _ in arrivals]
    assert max(map(len, open_at)) == 6  # 3 per server, 2 servers
    assert max(max(Counter(o).values()) for o in open_at) == 3
    assert time.monotonic() - started < 30


def test_filled_form_fields_are_drawn_in_the_ocr_input(tmp_path: Path) -> None:
    from rapidocr import RapidOCR

    path = pdfs.write(tmp_path / "form.pdf", pdfs.form_pdf("HARBOUR 1907"))
    spec = engines.create("chandra", settings("chandra")).render_spec
    image = render_page(RenderTask(PageInput("h", 1, str(path)), spec)).to_pil()
    _close_open_document()  # render_page keeps its last PDF open in a worker; here, in the test
    result = RapidOCR()(image)
    assert "HARBOUR 1907" in " ".join(result.txts or ())


def test_deepseek_transformers_reports_a_cut_page_and_its_env(monkeypatch) -> None:
    torch = pytest.importorskip("torch")
    eos = 1

    class Model:  # infer() calls self.generate once, as DeepSeek-OCR's model code does
        def __init__(self, ids: list[int]) -> None:
            self.ids = ids

        def generate(self, *args: object, **kwargs: object) -> object:
            return torch.tensor([self.ids])

        def infer(self) -> str:
            self.generate()
            return "text"

    for ids, reason in (([5, 6, eos], "stop"), ([5, 6, 6], "length")):
        model = Model(ids)
        with capture_generate(model) as generated:
            model.infer()
        assert finish_reason(generated, eos) == reason
        assert "generate" not in vars(model)  # the model's own method is back
    monkeypatch.setitem(sys.modules, "torchvision", None)
    engine = engines.create("deepseek", settings("deepseek", backend="transformers"))
    with pytest.raises(engines.EngineUnavailable,
                       match=r"cannot import torchvision; run with '--sdm conda' "
                             r"\(envs/deepseek-transformers.yaml\)"):
        engine.start()
