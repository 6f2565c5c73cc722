"""The requests that hold the stand-in (tests/support/fake_vllm.py) to the real `vllm serve`: the
same
requests go to both, and what comes back is compared up to the numbers that depend on the
tokenizer (test_real_vllm.py).

Both servers are started with Chandra's command line (as the engine builds it) plus DeepSeek-OCR's
logits processor, so one server answers for both engines' requests.
"""

from __future__ import annotations

import base64
import io
import json
import re
from typing import Any

import httpx
from PIL import Image, ImageDraw

SERVED = "chandra"
CONTEXT = 18000  # Chandra's --max-model-len


def page_png(width: int = 1008, height: int = 1400, text: str = "Bulletin officiel") -> str:
    image = Image.new("RGB", (width, height), "white")
    ImageDraw.Draw(image).text((50, 50), text, fill="black")
    out = io.BytesIO()
    image.save(out, format="PNG")
    return "data:image/png;base64," + base64.b64encode(out.getvalue()).decode()


def chat(images: list[str], text: str = "OCR this page.", **sampling: Any) -> dict[str, Any]:
    content: list[dict[str, Any]] = [{"type": "image_url", "image_url": {"url": url}}
                                     for url in images]
    content.append({"type": "text", "text": text})
    return {"model": SERVED, "messages": [{"role": "user", "content": content}],
            "temperature": 0.0, **sampling}


def cases() -> dict[str, dict[str, Any]]:
    """Each request the engines can send or meet, by name."""
    page = page_png()
    big = page_png(2048, 3072)  # 6,144 image tokens on Qwen3.5's 32-px grid (8,024 on 28 px)
    not_an_image = "data:image/png;base64," + base64.b64encode(b"not a picture").decode()
    return {
        "good": chat([page], max_tokens=50),
        "no max_tokens": chat([page]),
        "max_tokens above the context": chat([page], max_tokens=CONTEXT + 2000),
        "max_tokens zero": chat([page], max_tokens=0),
        # Prompt + max_tokens over the context: vLLM 0.32 cuts max_tokens to what is left.
        "prompt and max_tokens over the context": chat([page], "the " * 2000,
                                                       max_tokens=CONTEXT - 100),
        # Text alone within the context, the image's tokens push it over.
        "image fills the context": chat([big], "the " * 13000, max_tokens=50),
        "text over the context": chat([page], "the " * (CONTEXT + 500), max_tokens=50),
        "two images": chat([page, page], max_tokens=50),
        "bad image": chat([not_an_image], max_tokens=50),
        "unknown model": {**chat([page], max_tokens=50), "model": "nope"},
        "bad vllm_xargs": chat([page], max_tokens=50, vllm_xargs={"ngram_size": "x"}),
        "good vllm_xargs": chat([page], max_tokens=50, skip_special_tokens=False, vllm_xargs={
            "ngram_size": 30, "window_size": 90, "whitelist_token_ids": [1, 2]}),
        # Streamed as the shared client streams a page it watches for loops.
        "streamed with usage": chat([page], max_tokens=50, stream=True, stream_interval=16,
                                    stream_options=USAGE),
        "streamed": chat([page], max_tokens=50, stream=True),
        "stream options without stream": chat([page], max_tokens=50, stream_options=USAGE),
    }


USAGE = {"include_usage": True, "continuous_usage_stats": True}


_NUMBER = re.compile(r"\d+")


def outcome(base_url: str, body: dict[str, Any]) -> tuple[int, str]:
    """(HTTP status, finish_reason or the error message with its numbers masked); for a
    streamed answer, the finish_reason and the stream's shape."""
    response = httpx.post(f"{base_url}/chat/completions", json=body, timeout=300)
    if response.status_code == 200 and body.get("stream"):
        return 200, stream_shape(response.text)
    payload = response.json()
    if response.status_code == 200:
        return 200, payload["choices"][0]["finish_reason"]
    message = payload.get("error", {}).get("message", str(payload))
    return response.status_code, mask(message)


def stream_shape(text: str) -> str:
    """What a client of a server-sent stream relies on: the events' kinds in order (role,
    content, finish, usage only), which carry usage, the finish_reason, the end marker."""
    events = [line[5:].strip() for line in text.splitlines() if line.startswith("data:")]
    kinds = []
    for data in events[:-1]:
        chunk = json.loads(data)
        choices = chunk.get("choices") or []
        delta = choices[0].get("delta", {}) if choices else {}
        kind = ("usage" if not choices else "finish " + str(choices[0].get("finish_reason"))
                if choices[0].get("finish_reason") else "role" if "role" in delta else "content")
        kinds.append(kind + ("+usage" if chunk.get("usage") and choices else ""))
    # runs of content chunks as one: how many depends on the tokens decoded
    shape = [k for i, k in enumerate(kinds) if i == 0 or k != kinds[i - 1]]
    return ", ".join(shape) + f"; ends {events[-1] if events else 'without events'}"


def mask(message: str) -> str:
    """An error message without what depends on the tokenizer or the request: numbers, and
    the text of an image that could not be read."""
    message = re.sub(r"cannot identify image file .*", "cannot identify image file ...", message)
    return _NUMBER.sub("N", message)


def image_tokens(base_url: str) -> int:
    """How many more prompt tokens a 2048 x 3072 page costs than a 1008 x 1400 one (the text is
    the same): the server's image-token count, free of its tokenizer."""
    counts = []
    for size in ((1008, 1400), (2048, 3072)):
        # Images not sent before: vLLM 0.32 once answered a repeated one 500 ("Multi-modal
        # cache miss ... P0/P1 cache drift"), which the engines' client retries.
        body = chat([page_png(*size, text=f"image tokens {size}")], max_tokens=1)
        response = httpx.post(f"{base_url}/chat/completions", json=body, timeout=300)
        assert response.status_code == 200, f"{base_url}: {response.text}"
        counts.append(response.json()["usage"]["prompt_tokens"])
    return counts[1] - counts[0]
