"""A stand-in for `vllm serve`: an OpenAI-compatible server on loopback, started the same way
(``fake_vllm.py MODEL --served-model-name NAME ... --host H --port P``), answering like Chandra
or DeepSeek-OCR, with faults injected per page and per attempt.

Which page a request is for is read from the image itself: the test PDFs carry a black bar at
the top whose width is ``tag`` fortieths of the page width. The plan (JSON, path in
FAKE_VLLM_PLAN) maps tags, or "<served model>:<tag>", to behaviours by attempt, e.g.
{"pages": {"3": ["http500", "ok"], "chandra:4": ["loop"]}}.
Every request is appended to FAKE_VLLM_LOG as one JSON line, each server's start and stop
(SIGTERM) to FAKE_VLLM_LOG.servers.

Behaviours: ok, http500, timeout (answers after 30 s), drop (closes the connection), loop
(runaway repetition), length (cut at the token limit), empty, die (the server process exits).
Plan keys besides "pages": die_once_after (die on the next request after N, once across
restarts), delay_s or delay_mean_s (answer time), skip_decode (no tag reading: benchmarks).
"""

from __future__ import annotations

import argparse
import base64
import io
import json
import os
import random
import signal
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

_PLAN_PATH = os.environ.get("FAKE_VLLM_PLAN")
PLAN = json.loads(open(_PLAN_PATH).read()) if _PLAN_PATH else {}  # noqa: SIM115
LOG = os.environ.get("FAKE_VLLM_LOG")
_lock = threading.Lock()
_served = 0


def page_tag(data_url: str) -> int:
    """The bar's width in fortieths of the page width, read along the bar's row."""
    from PIL import Image

    image = Image.open(io.BytesIO(base64.b64decode(data_url.split(",", 1)[1]))).convert("L")
    width, height = image.size
    best = 0
    for y in range(int(height * 0.005), int(height * 0.03)):
        row = image.crop((0, y, width, y + 1)).tobytes()
        run = 0
        for value in row:
            if value < 100:
                run += 1
            elif run:
                break
        best = max(best, run)
    return round(best / (width / 40))


def previous_attempts(tag: int, model: str) -> int:
    if not LOG or not os.path.exists(LOG):
        return 0
    with open(LOG) as handle:
        return sum(1 for line in handle
                   if (record := json.loads(line))["tag"] == tag and record["model"] == model)


def chandra_html(tag: int) -> str:
    return (f'<div data-bbox="50 40 950 90" data-label="Section-Header"><h1>Report page {tag}'
            f'</h1></div><div data-bbox="50 100 950 400" data-label="Text"><p>Text of page {tag}'
            ' with <b>bold</b> words and a formula <math>x^2</math>.</p></div>'
            '<div data-bbox="50 420 950 600" data-label="Table"><table><tr><td>a</td>'
            '<td>b</td></tr></table></div>'
            f'<div data-bbox="0 950 1000 1000" data-label="Page-Footer">{tag}</div>')


def deepseek_text(tag: int) -> str:
    return (f"<|ref|>title<|/ref|><|det|>[[50, 40, 950, 90]]<|/det|>\n# Report page {tag}\n\n"
            f"<|ref|>text<|/ref|><|det|>[[50, 100, 950, 400]]<|/det|>\nText of page {tag} "
            "recovered.\n\n<|ref|>image<|/ref|><|det|>[[100, 500, 400, 700]]<|/det|>\n"
            "<｜end▁of▁sentence｜>")


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    served_name = "model"

    def log_message(self, *args: object) -> None:  # quiet
        pass

    def _send(self, status: int, payload: dict) -> None:
        body = json.dumps(payload).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def do_GET(self) -> None:
        if self.path.rstrip("/") == "/v1/models":
            self._send(200, {"object": "list", "data": [{"id": self.served_name}]})
        else:
            self._send(404, {"error": "not found"})

    def do_POST(self) -> None:
        global _served
        body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
        content = body["messages"][0]["content"]
        url = next(c["image_url"]["url"] for c in content if c["type"] == "image_url")
        tag = 0 if PLAN.get("skip_decode") else page_tag(url)
        with _lock:
            model = str(body.get("model"))
            attempt = previous_attempts(tag, model)
            pages = PLAN.get("pages", {})
            plan = pages.get(f"{model}:{tag}") or pages.get(str(tag)) or ["ok"]
            behaviour = plan[min(attempt, len(plan) - 1)]
            _served += 1
            died_before = f"{LOG}.died"
            if PLAN.get("die_once_after") and _served > PLAN["die_once_after"] and LOG and \
                    not os.path.exists(died_before):
                open(died_before, "w").close()
                behaviour = "die"
            if LOG:
                with open(LOG, "a") as handle:
                    handle.write(json.dumps({
                        "tag": tag, "attempt": attempt, "behaviour": behaviour,
                        "model": body.get("model"), "temperature": body.get("temperature"),
                        "top_p": body.get("top_p"), "max_tokens": body.get("max_tokens"),
                        "vllm_xargs": body.get("vllm_xargs"),
                        "skip_special_tokens": body.get("skip_special_tokens"),
                        "authorization": self.headers.get("Authorization"),
                        "pid": os.getpid(), "gpu": os.environ.get("CUDA_VISIBLE_DEVICES"),
                        "t": time.time()})
                        + "\n")
        delay = PLAN.get("delay_s", 0.0)
        if PLAN.get("delay_mean_s"):
            delay = random.expovariate(1 / PLAN["delay_mean_s"])
        if LOG and PLAN.get("log_timing"):
            with _lock, open(f"{LOG}.timing", "a") as handle:
                handle.write(f"{time.time()} {delay}\n")
        if delay:
            time.sleep(delay)
        deepseek = "deepseek" in str(body.get("model"))
        text, finish = (deepseek_text(tag) if deepseek else chandra_html(tag)), "stop"
        if behaviour == "die":
            os._exit(1)
        if behaviour == "drop":
            self.close_connection = True
            self.connection.close()
            return
        if behaviour == "timeout":
            time.sleep(30)
        if behaviour == "http500":
            self._send(500, {"error": {"message": "CUDA out of memory (injected)"}})
            return
        if behaviour == "loop":
            text = (f'<div data-bbox="0 0 1000 1000" data-label="Text"><p>Page {tag} '
                    + "the same words again " * 300 + "</p></div>")
        if behaviour == "length":
            text, finish = text[: len(text) // 2], "length"
        if behaviour == "empty":
            text = ""
        self._send(200, {"id": "x", "object": "chat.completion", "model": body.get("model"),
                         "choices": [{"index": 0, "finish_reason": finish,
                                      "message": {"role": "assistant", "content": text}}],
                         "usage": {"prompt_tokens": 2300, "completion_tokens": len(text) // 4}})


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("model")
    parser.add_argument("--served-model-name", default="model")
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--startup-delay", type=float, default=float(
        os.environ.get("FAKE_VLLM_STARTUP_S", "0.5")))
    args, _unknown = parser.parse_known_args()  # vLLM's own flags are accepted and ignored
    lifetimes = f"{LOG}.servers" if LOG else None

    def note(event: str) -> None:  # when this server lived, and on which GPU
        if lifetimes:
            with open(lifetimes, "a") as handle:
                handle.write(json.dumps({"event": event, "pid": os.getpid(), "t": time.time(),
                                         "gpu": os.environ.get("CUDA_VISIBLE_DEVICES")}) + "\n")

    def stop(_signum: int, _frame: object) -> None:
        note("stop")
        os._exit(0)

    signal.signal(signal.SIGTERM, stop)
    note("start")
    time.sleep(args.startup_delay)  # a real server takes a while to load its model
    Handler.served_name = args.served_model_name
    ThreadingHTTPServer.daemon_threads = True
    ThreadingHTTPServer.request_queue_size = 1024
    ThreadingHTTPServer((args.host, args.port), Handler).serve_forever()


if __name__ == "__main__":
    main()
