"""A stand-in for `vllm serve` that holds ocrflow to vLLM 0.32.0's contract: an OpenAI-compatible
server on loopback, started with the command line the engine builds, answering like Chandra or
DeepSeek-OCR, with faults injected per page and per attempt. tests/test_real_vllm.py sends the
same requests to it and to the real `vllm serve` of that version (its CPU build) and compares
what comes back; this file keeps what a real server cannot do on demand (5xx, timeouts, dropped
connections, dying mid-request) and answers shaped like the real models'.

What it enforces, as vLLM 0.32.0 does (its parser's options in tests/data/vllm-0.32.0/):
- the command line: the model first, then only options `vllm serve` 0.32.0 has
  (serve_flags.txt, read from its own parser), "_" read as "-", JSON options parsed; anything else
  stops the start with argparse's message and exit code 2, as vLLM does;
- `--served-model-name`: a request for another model is answered 404, naming the served one;
- request length (vllm/renderers/params.py, vllm/v1/engine/input_processor.py): max_tokens below
  1 or above max_model_len is HTTP 400; a text prompt that fills the context is 400; so is one
  that the image's tokens push over it; prompt + max_tokens over the context is not an error:
  max_tokens is cut to what the context leaves (as it is when max_tokens is not given), and an
  answer longer than that is cut, with finish_reason "length";
- `stream_options` without `stream` is 400 (ChatCompletionRequest.validate_stream_options); a
  streamed answer has the shape of vLLM's (below);
- an image that cannot be read is 400 ("Failed to load image: ..."); more images than
  `--limit-mm-per-prompt` allows is 400 (vllm/multimodal/processing/context.py
  validate_num_items);
- with DeepSeek-OCR's NGramPerReqLogitsProcessor loaded, its `vllm_xargs` are checked as its
  validate_params checks them (vllm/model_executor/models/deepseek_ocr.py);
- `usage.prompt_tokens` counts the images' tokens on the model's grid (a local model's vision
  patch x merge, from its config.json);
- `/version` answers the version, as vLLM's server does.
Token counts are estimates (models.json says how), close enough to fail where vLLM fails; the
messages are vLLM's, their numbers this estimate's.

Which page a request is for is read from the image itself: the test PDFs carry a black bar at
the top whose width is ``tag`` fortieths of the page width (no bar: tag 0). The plan (JSON, path
in FAKE_VLLM_PLAN) maps tags, or "<served model>:<tag>", to behaviours by attempt, e.g.
{"pages": {"3": ["http500", "ok"], "chandra:4": ["loop"]}}. Every request is appended to
FAKE_VLLM_LOG as one JSON line, each server's start and stop (SIGTERM) to FAKE_VLLM_LOG.servers
(with the variables it was started with that vLLM and the Hub read).

Behaviours: ok, http500, timeout (answers after 30 s), drop (closes the connection), loop
(runaway repetition until the context or max_tokens is full, after half a page), page (a page of
page_tokens tokens that does not repeat), length (cut at the token limit), empty, prose (a long
made-up text),
figure (Chandra: a page with an Image block), bilingual (a French and an Arabic paragraph, in
logical order as the models write them), die (the server process exits).
Plan keys besides "pages": die_once_after (die on the next request after N, once across
restarts), delay_s or delay_mean_s (answer time), skip_decode (no tag reading: benchmarks),
reject_all (every request answered 400, as a server that rejects them), page_tokens (the length
of "page" answers, and of the text a loop starts after), tokens_per_s (decoding speed of a
streamed answer), loop_images and loop_again (a corpus: see corpus_page; benchmarks/loop_cost.py).

A streamed request (``stream``) is answered as vLLM streams: chunks of ``stream_interval`` tokens
with usage where ``stream_options`` asks for it; the tokens decoded before the client went away
(vLLM aborts such a request) are appended to FAKE_VLLM_LOG.decoded, one line per request.
"""

from __future__ import annotations

import base64
import hashlib
import io
import json
import math
import os
import random
import re
import signal
import sys
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

VERSION = "0.32.0"
DATA = Path(__file__).parents[1] / "data" / f"vllm-{VERSION}"
_PLAN_PATH = os.environ.get("FAKE_VLLM_PLAN")
PLAN = json.loads(open(_PLAN_PATH).read()) if _PLAN_PATH else {}  # noqa: SIM115
LOG = os.environ.get("FAKE_VLLM_LOG")
_lock = threading.Lock()
_served = 0
_TOKEN = re.compile(r"\w+|[^\w\s]")


class ServeArgs:
    """`vllm serve MODEL [options]`, read as vLLM 0.32.0's parser reads it."""

    def __init__(self, argv: list[str]) -> None:
        kinds = dict(line.split() for line in (DATA / "serve_flags.txt").read_text().splitlines()
                     if line.startswith("--"))
        self.options: dict[str, list[str]] = {}
        if not argv or argv[0].startswith("-"):
            fail("the following arguments are required: model_tag")
        self.model, rest, index = argv[0], argv[1:], 0
        while index < len(rest):
            name, has_value, value = rest[index].partition("=")
            if not name.startswith("--"):
                fail(f"unrecognized arguments: {rest[index]}")
            name = "--" + name[2:].replace("_", "-")
            if name not in kinds:
                fail(f"unrecognized arguments: {rest[index]}")
            values = [value] if has_value else []
            index += 1
            if kinds[name] != "flag" and not has_value:
                while index < len(rest) and not rest[index].startswith("--"):
                    values.append(rest[index])
                    index += 1
                    if kinds[name] != "many":
                        break
            if kinds[name] == "flag" and values:
                fail(f"argument {name}: ignored explicit argument '{values[0]}'")
            if kinds[name] != "flag" and not values:
                fail(f"argument {name}: expected one argument")
            if kinds[name] == "json":
                try:
                    json.loads(values[0])
                except ValueError:
                    fail(f"argument {name}: invalid loads value: '{values[0]}'")
            self.options[name] = values

    def value(self, name: str, default: str | None = None) -> str | None:
        return self.options.get(name, [default])[0]


def fail(message: str) -> None:
    print(f"usage: vllm serve [model_tag] [options]\nvllm: error: {message}",
          file=sys.stderr)
    sys.exit(2)


class Model:
    """What vLLM knows of the served model: its context and how it counts image tokens."""

    def __init__(self, args: ServeArgs) -> None:
        known = json.loads((DATA / "models.json").read_text())
        entry = known.get(args.model) or {}
        config_path = Path(args.model) / "config.json"
        context = entry.get("max_model_len")
        config = json.loads(config_path.read_text()) if config_path.exists() else {}
        context = config.get("max_position_embeddings",
                             config.get("text_config", {}).get("max_position_embeddings", context))
        # The image grid: a local model's vision patch times its merge (Qwen2.5-VL 14 x 2,
        # Qwen3.5 16 x 2), else the 28 px of chandra-ocr's own scaling.
        vision = config.get("vision_config", {})
        self.grid = vision.get("patch_size", 14) * vision.get("spatial_merge_size", 2)
        given = args.value("--max-model-len")
        if given is None and context is None:
            print(f"stand-in: the context of {args.model} is not known here; give "
                  "--max-model-len", file=sys.stderr)
            sys.exit(1)
        self.max_model_len = int(given) if given is not None else int(context)
        self.image_tokens = entry.get("image_tokens") or (
            ("deepseek_ocr2" if "ocr-2" in args.model.lower() or "ocr2" in args.model.lower()
             else "deepseek_ocr") if "deepseek" in args.model.lower() else "qwen_vl")
        limits = json.loads(args.value("--limit-mm-per-prompt", "{}") or "{}")
        self.max_images = int(limits.get("image", 999))
        self.ngram_guard = "NGramPerReqLogitsProcessor" in (args.value("--logits-processors")
                                                           or "")
        pixels = json.loads(args.value("--mm-processor-kwargs", "{}") or "{}")
        self.min_pixels = pixels.get("min_pixels", 3136)
        self.max_pixels = pixels.get("max_pixels", 12845056)

    def check_xargs(self, xargs: dict) -> str:
        """NGramPerReqLogitsProcessor.validate_params, where that processor is loaded."""
        ngram = xargs.get("ngram_size")
        if not self.ngram_guard or ngram is None:
            return ""
        window = xargs.get("window_size", 100)
        for name, value in (("ngram_size", ngram), ("window_size", window)):
            if not isinstance(value, int) or value <= 0:
                return f"`{name}` has to be a strictly positive integer, got {value}."
        whitelist = xargs.get("whitelist_token_ids")
        if whitelist is not None and not isinstance(whitelist, (list, tuple)):
            return f"`whitelist_token_ids` has to be a sequence of integers, got {whitelist}."
        return ""

    def count_image(self, width: int, height: int) -> int:
        if self.image_tokens == "deepseek_ocr":
            return deepseek_image_tokens(width, height)
        if self.image_tokens == "deepseek_ocr2":
            return deepseek_image_tokens(width, height, tile=768, newlines=False)
        factor = self.grid  # Qwen2VLImageProcessor.smart_resize
        h = max(factor, round(height / factor) * factor)
        w = max(factor, round(width / factor) * factor)
        if h * w > self.max_pixels:
            beta = math.sqrt(height * width / self.max_pixels)
            h = math.floor(height / beta / factor) * factor
            w = math.floor(width / beta / factor) * factor
        elif h * w < self.min_pixels:
            beta = math.sqrt(self.min_pixels / (height * width))
            h = math.ceil(height * beta / factor) * factor
            w = math.ceil(width * beta / factor) * factor
        return (h // factor) * (w // factor)


def deepseek_image_tokens(width: int, height: int, tile: int = 640, newlines: bool = True) -> int:
    """get_num_image_tokens of vLLM's DeepSeek-OCR processing: a 1024 px global view plus 2-6
    tiles of ``tile`` px (DeepSeek-OCR: 640, a newline token closing each row of the views;
    DeepSeek-OCR-2, vllm/model_executor/models/deepseek_ocr2.py: 768, no newline tokens)."""
    tiles = (1, 1)
    if width > tile or height > tile:
        ratios = sorted({(i, j) for n in range(2, 7) for i in range(1, n + 1)
                         for j in range(1, n + 1) if 2 <= i * j <= 6}, key=lambda r: r[0] * r[1])
        aspect, best_diff = width / height, float("inf")
        for ratio in ratios:  # find_closest_aspect_ratio
            diff = abs(aspect - ratio[0] / ratio[1])
            if diff < best_diff:
                best_diff, tiles = diff, ratio
            elif diff == best_diff and width * height > 0.5 * tile * tile * ratio[0] * ratio[1]:
                tiles = ratio
    base, local = 1024 // 16 // 4, tile // 16 // 4
    tokens = base * (base + newlines)
    if tiles != (1, 1):
        tokens += (tiles[1] * local) * (tiles[0] * local + newlines)
    return tokens + 1


def varied(tag: int, tokens: int | None = None) -> str:
    """``tokens`` words (the plan's page_tokens) that never repeat as a run: a page's text."""
    count = PLAN.get("page_tokens", 200) if tokens is None else tokens
    rng = random.Random(tag)
    return " ".join(rng.choice(WORDS) + str(rng.randrange(100)) for _ in range(count))


WORDS = ("harbour", "pier", "crane", "wages", "pilot", "treasurer", "accounts", "winter",
         "lighthouse", "committee", "repairs", "season", "report", "spring", "works")


def text_tokens(text: str) -> int:
    return len(_TOKEN.findall(text))


def page_tag(image: object) -> int:
    """The bar's width in fortieths of the page width, read along the bar's row."""
    gray = image.convert("L")  # type: ignore[attr-defined]
    width, height = gray.size
    best = 0
    for y in range(int(height * 0.005), int(height * 0.03)):
        row = gray.crop((0, y, width, y + 1)).tobytes()
        run = 0
        for value in row:
            if value < 100:
                run += 1
            elif run:
                break
        best = max(best, run)
    return round(best / (width / 40))


_asked: dict[str, int] = {}  # a corpus page's requests so far, by model and image


def corpus_page(body: dict, model: str) -> tuple[int, list[str]]:
    """(attempt, behaviours) of a page of a corpus where known pages loop: those whose image
    (its data URL's sha1) the plan's loop_images lists loop at the first request to a model
    whose name has "chandra", and at each re-ask again with probability loop_again (drawn from
    the page: the same page, the same fate); every other answer is a page of page_tokens
    tokens."""
    image = next(part["image_url"]["url"] for message in body["messages"]
                 for part in message["content"] if part["type"] == "image_url")
    digest = hashlib.sha1(image.encode()).hexdigest()
    key = f"{model}:{digest}"
    attempt = _asked.get(key, 0)
    _asked[key] = attempt + 1
    draw = random.Random(key)
    loops = digest in PLAN["loop_images"] and "chandra" in model
    again = [draw.random() < PLAN.get("loop_again", 1.0) for _ in range(attempt)]
    return attempt, ["page"] * attempt + ["loop" if loops and all(again) else "page"]


def previous_attempts(tag: int, model: str) -> int:
    if not LOG or not os.path.exists(LOG):
        return 0
    with open(LOG) as handle:
        return sum(1 for line in handle
                   if (record := json.loads(line))["tag"] == tag and record["model"] == model)


def chandra_html(tag: int, figure: bool = False) -> str:
    image = ('<div data-bbox="100 620 500 900" data-label="Image"><img alt="harbour map"/>'
             '</div>' if figure else "")
    return (f'<div data-bbox="50 40 950 90" data-label="Section-Header"><h1>Report page {tag}'
            f'</h1></div><div data-bbox="50 100 950 400" data-label="Text"><p>Text of page {tag}'
            ' with <b>bold</b> words and a formula <math>x^2</math>.</p></div>'
            '<div data-bbox="50 420 950 600" data-label="Table"><table><tr><td>a</td>'
            f'<td>b</td></tr></table></div>{image}'
            f'<div data-bbox="0 950 1000 1000" data-label="Page-Footer">{tag}</div>')


def deepseek_text(tag: int) -> str:
    return (f"<|ref|>title<|/ref|><|det|>[[50, 40, 950, 90]]<|/det|>\n# Report page {tag}\n\n"
            f"<|ref|>text<|/ref|><|det|>[[50, 100, 950, 400]]<|/det|>\nText of page {tag} "
            "recovered.\n\n<|ref|>image<|/ref|><|det|>[[100, 500, 400, 700]]<|/det|>\n"
            "<｜end▁of▁sentence｜>")


FRENCH = "La bibliothèque municipale sera fermée du 2 au 6 septembre pour l'inventaire."
ARABIC = "ستغلق المكتبة البلدية من 2 إلى 6 شتنبر من أجل الجرد السنوي للمجموعات."


def bilingual(deepseek: bool) -> str:
    """A bilingual notice as each model writes it (Chandra: HTML layout blocks; DeepSeek-OCR:
    Markdown with grounding tags)."""
    if deepseek:
        return (f"<|ref|>title<|/ref|><|det|>[[50, 40, 950, 90]]<|/det|>\n# Avis — إعلان\n\n"
                f"<|ref|>text<|/ref|><|det|>[[50, 100, 950, 300]]<|/det|>\n{FRENCH}\n\n"
                f"<|ref|>text<|/ref|><|det|>[[50, 320, 950, 500]]<|/det|>\n{ARABIC}\n\n"
                "<｜end▁of▁sentence｜>")
    return ('<div data-bbox="50 40 950 90" data-label="Section-Header"><h1>Avis — إعلان</h1>'
            f'</div><div data-bbox="50 100 950 300" data-label="Text"><p>{FRENCH}</p></div>'
            f'<div data-bbox="50 320 950 500" data-label="Text"><p>{ARABIC}</p></div>')


PROSE = ("The committee met on the third day of the month to review the accounts of the harbour. "
         "After a long discussion it agreed that the works on the northern pier would continue "
         "through the winter season, and that the treasurer should report in the spring on the "
         "cost of the new cranes, the repairs to the lighthouse and the wages of the pilots.")


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    served_name = "model"
    model: Model
    prompt_tokens = 0  # of the request being answered, images expanded

    def log_message(self, *args: object) -> None:  # quiet
        pass

    def _send(self, status: int, payload: dict) -> None:
        body = json.dumps(payload).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def _error(self, status: int, message: str, kind: str = "BadRequestError") -> None:
        self._send(status, {"error": {"message": message, "type": kind, "param": None,
                                      "code": status}})

    def do_GET(self) -> None:
        if self.path.rstrip("/") == "/v1/models":
            self._send(200, {"object": "list", "data": [{"id": self.served_name}]})
        elif self.path.rstrip("/") == "/version":
            self._send(200, {"version": VERSION})
        else:
            self._send(404, {"detail": "Not Found"})

    def validate(self, body: dict, images: list[object]) -> tuple[str, int]:
        """("", tokens the answer may have) or (vLLM's error message, status)."""
        if body.get("model") != self.served_name:
            return (f"The model `{body.get('model')}` does not exist. Valid aliases: "
                    f"{self.served_name}."), 404
        limit = self.model.max_model_len
        asked = body.get("max_completion_tokens", body.get("max_tokens"))
        if asked is not None and (not isinstance(asked, int) or asked < 1):
            return f"max_tokens must be at least 1, got {asked}. (parameter=max_tokens, " \
                f"value={asked})", 400
        if asked is not None and asked > limit:
            return (f"max_tokens={asked} cannot be greater than max_model_len={limit}. Please "
                    f"request fewer output tokens. (parameter=max_tokens, value={asked})"), 400
        if body.get("stream_options") and not body.get("stream"):  # validate_stream_options
            return ("Stream options can only be defined when `stream=True`. "
                    "(parameter=stream_options)"), 400
        problem = self.model.check_xargs(body.get("vllm_xargs") or {})
        if problem:
            return problem, 400
        if len(images) > self.model.max_images:
            return f"At most {self.model.max_images} image(s) may be provided in one prompt.", 400
        prompt = sum(10 + sum(text_tokens(part.get("text", "")) + (part["type"] == "image_url")
                              for part in message["content"])
                     for message in body["messages"])
        if prompt > limit:
            return (f"This model's maximum context length is {limit} tokens. However, your "
                    f"prompt contains at least {prompt} input tokens, which exceeds this limit "
                    "even without any output tokens. Please reduce the length of the input "
                    f"prompt. (parameter=input_tokens, value={prompt})"), 400
        expanded = prompt - len(images) + sum(self.model.count_image(*i.size) for i in images)
        if expanded > limit:
            return (f"Input length ({expanded}) exceeds model's maximum context length "
                    f"({limit})."), 400
        self.prompt_tokens = expanded
        return "", min(asked or limit, limit - expanded)

    def do_POST(self) -> None:
        global _served
        from PIL import Image

        if self.path.rstrip("/") != "/v1/chat/completions":
            self._send(404, {"detail": "Not Found"})
            return
        body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
        content = [part for message in body["messages"] for part in message["content"]]
        try:
            images = [Image.open(io.BytesIO(base64.b64decode(
                part["image_url"]["url"].split(",")[1]))) for part in content
                if part["type"] == "image_url"]
        except OSError as exc:  # PIL.UnidentifiedImageError
            self._error(400, f"Failed to load image: {exc}")
            return
        problem, room = self.validate(body, images)
        if PLAN.get("reject_all") and not problem:
            problem, room = "rejected by the test's plan", 400
        tag = 0 if PLAN.get("skip_decode") or not images else page_tag(images[0])
        with _lock:
            model = str(body.get("model"))
            if "loop_images" in PLAN:  # a corpus: pages told apart by their image
                attempt, plan = corpus_page(body, model)
            else:
                attempt = previous_attempts(tag, model)
                pages = PLAN.get("pages", {})
                plan = pages.get(f"{model}:{tag}") or pages.get(str(tag)) or ["ok"]
            behaviour = "rejected" if problem else plan[min(attempt, len(plan) - 1)]
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
                        "image_format": images[0].format if images else None,
                        "image_size": images[0].size if images else None,
                        "authorization": self.headers.get("Authorization"),
                        "pid": os.getpid(), "gpu": os.environ.get("CUDA_VISIBLE_DEVICES"),
                        "t": time.time()})
                        + "\n")
        if problem:
            self._error(room, problem, "NotFoundError" if room == 404 else "BadRequestError")
            return
        delay = PLAN.get("delay_s", 0.0)
        if PLAN.get("delay_mean_s"):
            delay = random.expovariate(1 / PLAN["delay_mean_s"])
        if LOG and PLAN.get("log_timing"):
            with _lock, open(f"{LOG}.timing", "a") as handle:
                handle.write(f"{time.time()} {delay}\n")
        if delay:
            time.sleep(delay)
        self.answer(body, behaviour, tag, room)

    def answer(self, body: dict, behaviour: str, tag: int, room: int) -> None:
        deepseek = "deepseek" in str(body.get("model"))
        text = deepseek_text(tag) if deepseek else chandra_html(tag, behaviour == "figure")
        finish = "stop"
        if behaviour == "die":
            os._exit(1)
        if behaviour == "drop":
            self.close_connection = True
            self.connection.close()
            return
        if behaviour == "timeout":
            time.sleep(30)
        if behaviour == "http500":
            self._error(500, "CUDA out of memory (injected)", "InternalServerError")
            return
        if behaviour == "page":  # a page of a realistic length: page_tokens tokens, no loop
            text = f'<div data-bbox="0 0 1000 1000" data-label="Text"><p>{varied(tag)}</p></div>'
        if behaviour == "loop":  # a model that loops decodes until the context or max_tokens
            start = varied(tag, PLAN.get("page_tokens", 0) // 2) or f"Page {tag}"
            text = f'<div data-bbox="0 0 1000 1000" data-label="Text"><p>{start} ' + \
                "the same words again " * (room // 4 + 1)
        if behaviour == "prose":
            text = PROSE if deepseek else f'<div data-bbox="0 0 1000 1000" data-label="Text">' \
                f"<p>{PROSE}</p></div>"
        if behaviour == "length":
            text, finish = text[: len(text) // 2], "length"
        if behaviour == "empty":
            text = ""
        if behaviour == "bilingual":
            text = bilingual(deepseek)
        ends = [m.end() for m in _TOKEN.finditer(text)]
        if len(ends) > room:  # the context is full: vLLM stops generating there
            text, finish, ends = text[:ends[room - 1] if room else 0], "length", ends[:room]
        if body.get("stream"):
            generated = self.stream(body, text, ends, finish)
        else:
            generated = len(ends)
            self._send(200, {"id": "x", "object": "chat.completion", "model": body.get("model"),
                             "choices": [{"index": 0, "finish_reason": finish,
                                          "message": {"role": "assistant", "content": text}}],
                             "usage": {"prompt_tokens": self.prompt_tokens,
                                       "completion_tokens": generated}})
        if LOG:  # what the model decoded for this request, before its client went away or not
            with _lock, open(f"{LOG}.decoded", "a") as handle:
                handle.write(json.dumps({"tag": tag, "model": body.get("model"),
                                         "behaviour": behaviour, "tokens": generated,
                                         "of": len(ends), "stream": bool(body.get("stream"))})
                             + "\n")

    def stream(self, body: dict, text: str, ends: list[int], finish: str) -> int:
        """Server-sent chunks as vLLM 0.32's chat_completion_stream_generator sends them
        (vllm/entrypoints/openai/chat_completion/serving.py): the role first, then content
        ``stream_interval`` tokens at a time, decoded at the plan's ``tokens_per_s``, the
        finish_reason on the last, usage on each where continuous_usage_stats asks for it, a
        usage-only chunk where include_usage does, then [DONE]. Returns the tokens decoded
        before the client went away."""
        options = body.get("stream_options") or {}
        continuous = bool(options.get("include_usage") and options.get("continuous_usage_stats"))
        every = max(1, int(body.get("stream_interval") or 1))
        rate = PLAN.get("tokens_per_s")
        self.send_response(200)
        self.send_header("Content-Type", "text/event-stream")
        self.send_header("Connection", "close")
        self.end_headers()
        self.close_connection = True
        started, sent, decoded = time.monotonic(), 0, 0

        def event(choices: list[dict], usage: bool) -> None:
            chunk: dict = {"id": "x", "object": "chat.completion.chunk", "choices": choices}
            if usage:
                chunk["usage"] = {"prompt_tokens": self.prompt_tokens,
                                  "completion_tokens": decoded,
                                  "total_tokens": self.prompt_tokens + decoded}
            self.wfile.write(f"data: {json.dumps(chunk)}\n\n".encode())
            self.wfile.flush()

        try:
            event([{"index": 0, "delta": {"role": "assistant", "content": ""},
                    "finish_reason": None}], continuous)
            while decoded < len(ends):
                decoded = min(len(ends), decoded + every)
                if rate:
                    time.sleep(max(0.0, started + decoded / rate - time.monotonic()))
                piece, sent = text[sent:ends[decoded - 1]], ends[decoded - 1]
                done = decoded == len(ends)
                event([{"index": 0, "delta": {"content": piece + (text[sent:] if done else "")},
                        "finish_reason": finish if done else None}], continuous)
            if not ends:
                event([{"index": 0, "delta": {"content": ""}, "finish_reason": finish}],
                      continuous)
            if options.get("include_usage"):
                event([], True)
            self.wfile.write(b"data: [DONE]\n\n")
            self.wfile.flush()
        except (BrokenPipeError, ConnectionResetError):  # the client closed: vLLM aborts
            pass
        return decoded


def main() -> None:
    argv = sys.argv[1:]
    if argv[:1] == ["serve"]:
        argv = argv[1:]
    args = ServeArgs(argv)
    model = Model(args)
    lifetimes = f"{LOG}.servers" if LOG else None

    def note(event: str) -> None:  # when this server lived, on which GPU, with what variables
        if lifetimes:
            seen = {name: value for name, value in os.environ.items()
                    if name.startswith(("OCRFLOW_", "VLLM_", "HF_", "TRANSFORMERS_"))}
            with open(lifetimes, "a") as handle:
                handle.write(json.dumps({"event": event, "pid": os.getpid(), "t": time.time(),
                                         "gpu": os.environ.get("CUDA_VISIBLE_DEVICES"),
                                         "argv": argv, "env": seen}) + "\n")

    def stop(_signum: int, _frame: object) -> None:
        note("stop")
        os._exit(0)

    signal.signal(signal.SIGTERM, stop)
    note("start")
    time.sleep(float(os.environ.get("FAKE_VLLM_STARTUP_S", "0.5")))  # loading the model
    Handler.served_name = args.value("--served-model-name", args.model) or args.model
    Handler.model = model
    ThreadingHTTPServer.daemon_threads = True
    ThreadingHTTPServer.request_queue_size = 1024
    server = ThreadingHTTPServer((args.value("--host", "127.0.0.1") or "127.0.0.1",
                                  int(args.value("--port", "8000") or 8000)), Handler)
    server.serve_forever()


if __name__ == "__main__":
    main()
