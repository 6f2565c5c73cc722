"""One HTTP client for every server-backed engine: OpenAI-compatible chat completions with bounded
concurrency, timeouts, retries with backoff, and load spread over several servers (one per GPU).

Retried: transport errors (refused, reset, dropped), timeouts, HTTP 429 and 5xx. Not retried: other
4xx (a request the server rejected is rejected again): the page fails at once with the server's
message. The API key is sent, never logged.

With a ``cut`` test, the answer is streamed and the request closed as soon as the test says the
text so far is a loop: vLLM aborts a request whose client has gone, so the GPU stops decoding it.
Its tokens are counted from the usage vLLM sends with every chunk.
"""

from __future__ import annotations

import asyncio
import json
import logging
import random
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

from ocrflow.core.errors import OcrflowError
from ocrflow.core.records import error_line

log = logging.getLogger(__name__)

RETRY_STATUS = {408, 409, 425, 429, 500, 502, 503, 504}


# Tokens vLLM decodes between two chunks of a streamed answer (its per-request stream_interval):
# a loop is cut at most this many tokens late, and a page streams in a few dozen chunks.
STREAM_INTERVAL = 16
CUT = "repetition"  # the finish reason of an answer closed as a loop (vLLM's own word for it)


@dataclass
class Completion:
    text: str
    finish_reason: str  # "stop", "length", or "repetition" (closed as a loop)
    completion_tokens: int
    attempts: int  # HTTP attempts
    prompt_tokens: int = 0

    def usage(self) -> dict[str, Any]:
        """What this request cost, as a page record keeps it."""
        return {"prompt_tokens": self.prompt_tokens, "completion_tokens": self.completion_tokens,
                "finish_reason": self.finish_reason}


class RequestFailed(OcrflowError, RuntimeError):
    """Every attempt failed; the message is one line. ``transient``: the server could not answer
    (unreachable, timed out, overloaded, 5xx), so a later attempt may succeed; otherwise it
    rejected the request itself (4xx), and the same request would be rejected again."""

    def __init__(self, message: str, *, transient: bool) -> None:
        super().__init__(message)
        self.transient = transient


class ChatClient:
    def __init__(self, base_urls: list[str], model: str, *, api_key: str | None = None,
                 max_in_flight_per_server: int = 96, timeout_s: float = 600, retries: int = 3,
                 backoff_s: float = 2.0,
                 recover: Callable[[str], Awaitable[None]] | None = None) -> None:
        import httpx

        if not base_urls:
            raise ValueError("ChatClient needs at least one base URL")
        self.base_urls = [url.rstrip("/") for url in base_urls]
        self.model = model
        self.retries = retries
        self.backoff_s = backoff_s
        self.recover = recover  # called after a connection error: may restart a dead server
        # Each server gets its own share: a job with N GPUs keeps N times as many requests open.
        self.max_in_flight = max_in_flight_per_server * len(self.base_urls)
        self.semaphore = asyncio.Semaphore(self.max_in_flight)
        self.in_flight = dict.fromkeys(self.base_urls, 0)
        headers = {"Authorization": f"Bearer {api_key}"} if api_key else {}
        limits = httpx.Limits(max_connections=self.max_in_flight + 8,
                              max_keepalive_connections=self.max_in_flight + 8)
        self._http = httpx.AsyncClient(headers=headers, limits=limits,
                                       timeout=httpx.Timeout(timeout_s, connect=30))

    def _pick(self) -> str:
        """The server with the fewest requests in flight."""
        return min(self.base_urls, key=lambda url: self.in_flight[url])

    async def complete(self, messages: list[dict[str, Any]], *,
                       cut: Callable[[str], bool] | None = None, **params: Any) -> Completion:
        """One chat completion. ``cut``: stream the answer and close it where ``cut(text so
        far)`` is true (finish_reason "repetition")."""
        import httpx

        body = {"model": self.model, "messages": messages, **params}
        if cut is not None:
            body.update(stream=True, stream_interval=STREAM_INTERVAL, stream_options={
                "include_usage": True, "continuous_usage_stats": True})
        last_error = ""
        async with self.semaphore:
            for attempt in range(1, self.retries + 2):
                url = self._pick()
                self.in_flight[url] += 1
                try:
                    async with self._http.stream("POST", f"{url}/chat/completions",
                                                 json=body) as response:
                        if response.status_code == 200:
                            if cut is None:
                                return self._parse(json.loads(await response.aread()), attempt)
                            return await self._read_stream(response, cut, attempt)
                        await response.aread()
                        last_error = f"HTTP {response.status_code}: {_error_message(response)}"
                        if response.status_code not in RETRY_STATUS:
                            raise RequestFailed(f"rejected: {last_error}", transient=False)
                except (httpx.TransportError, httpx.TimeoutException) as exc:
                    last_error = error_line(exc)
                    lost = (httpx.ConnectError, httpx.RemoteProtocolError, httpx.ReadError)
                    if self.recover and isinstance(exc, lost):
                        await self.recover(url)
                except StreamError as exc:  # the server failed mid-answer: as a 5xx
                    last_error = str(exc)
                finally:
                    self.in_flight[url] -= 1
                if attempt <= self.retries:
                    delay = self.backoff_s * 2 ** (attempt - 1) * (0.5 + random.random())
                    log.warning("request failed (%s); retry %d in %.1f s", last_error, attempt,
                                delay)
                    await asyncio.sleep(delay)
        raise RequestFailed(f"{self.retries + 1} attempts failed, last: {last_error}",
                            transient=True)

    @staticmethod
    def _parse(payload: dict[str, Any], attempts: int) -> Completion:
        choice = payload["choices"][0]
        return _completion(choice["message"].get("content") or "",
                           choice.get("finish_reason") or "stop", payload.get("usage"), attempts)

    @staticmethod
    async def _read_stream(response: Any, cut: Callable[[str], bool],
                           attempts: int) -> Completion:
        """Server-sent chunks until [DONE], or until the text is a loop: then the caller's
        ``async with`` closes the connection, and vLLM aborts the request."""
        text, finish = "", "stop"
        usage: dict[str, Any] = {}
        async for line in response.aiter_lines():
            if not line.startswith("data:"):
                continue
            data = line[5:].strip()
            if data == "[DONE]":
                break
            chunk = json.loads(data)
            if "error" in chunk:
                raise StreamError(f"error while streaming: {_message(chunk['error'])}")
            usage = chunk.get("usage") or usage
            choices = chunk.get("choices") or []
            piece = "".join((c.get("delta") or {}).get("content") or "" for c in choices)
            finish = next((c["finish_reason"] for c in choices if c.get("finish_reason")), finish)
            if piece:
                text += piece  # grown in place (nothing else holds it): no copy per chunk
                if cut(text):
                    finish = CUT
                    break
        return _completion(text, finish, usage, attempts)

    async def aclose(self) -> None:
        await self._http.aclose()


def server_version(base_url: str, api_key: str | None = None) -> str:
    """vLLM's version from its ``/version`` route, or "" where the server has none."""
    import httpx

    headers = {"Authorization": f"Bearer {api_key}"} if api_key else {}
    try:
        response = httpx.get(f"{base_url.rstrip('/').removesuffix('/v1')}/version",
                             headers=headers, timeout=10)
        return str(response.json().get("version", "")) if response.status_code == 200 else ""
    except (httpx.HTTPError, ValueError, AttributeError):
        return ""


def _completion(text: str, finish: str, usage: dict[str, Any] | None,
                attempts: int) -> Completion:
    usage = usage or {}
    return Completion(text=text, finish_reason=finish, attempts=attempts,
                      completion_tokens=int(usage.get("completion_tokens") or 0),
                      prompt_tokens=int(usage.get("prompt_tokens") or 0))


class StreamError(OcrflowError, RuntimeError):
    """The server sent an error instead of the rest of a streamed answer."""


def _message(error: Any) -> str:
    message = error.get("message") if isinstance(error, dict) else error
    return " ".join(str(message).split())[:400]


def _error_message(response: Any) -> str:
    """The server's own words, on one line: vLLM answers {"error": {"message": ...}}."""
    try:
        error = response.json().get("error")
    except (ValueError, AttributeError):
        error = None
    return _message(error or response.text)
