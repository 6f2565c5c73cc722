"""The stand-in vLLM server (tests/support/fake_vllm.py) as the tests start it, and one shard's
inventory, OCR and detection run as the workflow's jobs run them."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

from ocrflow import engines
from ocrflow.core import atomic
from ocrflow.core.layout import Layout
from ocrflow.engines.ocr import ShardJob, ocr_shard
from ocrflow.engines.server import ModelServer, free_port
from ocrflow.engines.settings import OcrSettings
from ocrflow.inputs.inventory import inventory_shard
from ocrflow.inputs.settings import InventorySettings, RenderSettings
from ocrflow.run import config
from ocrflow.text.detect import detect_shard
from ocrflow.text.settings import DetectionSettings, TrustSettings
from tests.support import pdfs

FAKE = Path(__file__).parent / "fake_vllm.py"
DEFAULTS = config.validate({"input": "x"})


def settings(engine: str, **changes: object) -> dict:
    return {**DEFAULTS["engines"][engine], "retry_backoff_s": 0.05, "request_timeout_s": 5,
            **changes}


def served_command(engine: str, **changes: object) -> list[str]:
    """The exact `vllm serve` command line the engine builds, with the stand-in as the program."""
    built = engines.create(engine, settings(engine, server_command=fake_command(), **changes))
    return built.serve_command(gpu_memory_mib=81559)  # an 80 GB card, as nvidia-smi reports it


class FakeServer:
    def __init__(self, root: Path, plan: dict, command: list[str]) -> None:
        self.port = free_port()  # each server its own plan and request log
        self.plan_path = root / f"plan-{self.port}.json"
        self.log = root / f"requests-{self.port}.jsonl"
        self.plan_path.write_text(json.dumps(plan))
        self.env = {**os.environ, "FAKE_VLLM_PLAN": str(self.plan_path),
                    "FAKE_VLLM_LOG": str(self.log), "FAKE_VLLM_STARTUP_S": "0"}
        self.process = subprocess.Popen([*command, "--host", "127.0.0.1", "--port",
                                         str(self.port)], env=self.env)
        self.url = f"http://127.0.0.1:{self.port}/v1"
        probe = ModelServer(["x"], [], root / "probe.log", port=self.port)
        deadline = time.monotonic() + 20
        while not probe.ready():
            assert self.process.poll() is None, f"stand-in exited ({self.process.returncode})"
            assert time.monotonic() < deadline
            time.sleep(0.1)

    def requests(self) -> list[dict]:
        return [json.loads(x) for x in self.log.read_text().splitlines()] if self.log.exists() \
            else []

    def stop(self) -> None:
        self.process.kill()
        self.process.wait()


def run_job(tmp: Path, engine: str, engine_settings: dict, tags: list[int | None],
            role: str = "primary", policy: dict | None = None,
            verdicts: Path | None = None,
            page_size: tuple[float, float] = (595, 842),
            handoff: bool = False) -> dict[int, tuple[dict, dict]]:
    """Inventory, OCR and detection of one PDF, as the workflow's jobs do them (``handoff``: a
    recovery engine is configured)."""
    pdf = pdfs.write(tmp / "corpus" / "doc.pdf", pdfs.tagged_pdf(tags, page_size))
    members = tmp / "inputs.tsv"
    members.write_text(f"doc\t{pdf}\t1\t1\n")
    inventory_shard(members, tmp / "inventory.jsonl",
                    InventorySettings.from_config(DEFAULTS["inventory"]), workers=1,
                    trust_settings=TrustSettings.from_config(DEFAULTS["trust"]))
    ocr_shard(ShardJob(inventories=(tmp / "inventory.jsonl",), output=tmp / f"{role}.jsonl",
                       stats=tmp / f"{role}.stats.json", role=role, engine_name=engine,
                       settings=engine_settings, store_root=Layout.of(tmp).page_store,
                       render=RenderSettings.from_config({**DEFAULTS["render"], "workers": 2}),
                       log_path=tmp / "job.log",
                       policy=OcrSettings.from_config({**DEFAULTS["ocr"], **(policy or {})}),
                       verdicts=(verdicts,) if verdicts else None,
                       handoff=handoff))
    detect_shard(inventories=(tmp / "inventory.jsonl",), records=tmp / f"{role}.jsonl",
                 output=tmp / f"{role}_verdicts.jsonl",
                 settings=DetectionSettings.from_config(DEFAULTS["detection"]),
                 trust_settings=TrustSettings.from_config(DEFAULTS["trust"]))
    records = {r["page"]: r for r in atomic.read_jsonl(tmp / f"{role}.jsonl")}
    verdicts = {v["page"]: v for v in atomic.read_jsonl(tmp / f"{role}_verdicts.jsonl")}
    return {page: (records[page], verdicts[page]) for page in records}



def fake_command() -> str:
    return f"{sys.executable} {FAKE}"


def serve_gpu_engines(ws: Any, monkeypatch: Any, plan: dict, gpus: str,
                      chandra: dict | None = None, startup_s: str | None = None) -> Path:
    """A workspace whose primary (Chandra) and recovery (DeepSeek-OCR) engines are the stand-in,
    started by the jobs themselves on the GPUs ``gpus`` lists (CUDA_VISIBLE_DEVICES), answering
    as ``plan`` says; ``chandra``: more of its settings. Returns the stand-in's request log."""
    plan_path, log = ws.root / "plan.json", ws.root / "requests.jsonl"
    plan_path.write_text(json.dumps(plan))
    env = {"FAKE_VLLM_PLAN": plan_path, "FAKE_VLLM_LOG": log, "CUDA_VISIBLE_DEVICES": gpus,
           "OCRFLOW_GPU_LOCK_DIR": ws.root / "gpu-locks"}
    if startup_s is not None:
        env["FAKE_VLLM_STARTUP_S"] = startup_s
    for name, value in env.items():
        monkeypatch.setenv(name, str(value))
    server = f"{sys.executable} {FAKE}"
    ws.config.update(primary={"engine": "chandra"}, recovery={"engine": "deepseek"})
    ws.config.setdefault("engines", {}).update(
        chandra={"server_command": server, "startup_timeout_s": 60, **(chandra or {})},
        deepseek={"server_command": server, "startup_timeout_s": 60})
    return log
