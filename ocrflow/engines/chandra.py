"""Chandra (datalab-to/chandra-ocr-2) on vLLM's OpenAI-compatible API.

Chandra's own prompt, image scaling and HTML-to-Markdown parser come from the ``chandra-ocr``
package (envs/chandra.yaml). A page whose output repeats itself, or whose request failed, is asked
again with a rising temperature, as Chandra's own client does; the attempt count is recorded.
"""

from __future__ import annotations

from types import SimpleNamespace
from typing import Any

from ocrflow.client import ChatClient, RequestFailed
from ocrflow.engines.base import PageInput, PageOutput
from ocrflow.engines.vlm import ServerEngine, data_url
from ocrflow.render import RenderSpec


class ChandraEngine(ServerEngine):
    name = "chandra"
    package = "chandra"

    @property
    def render_spec(self) -> RenderSpec:
        s = self.settings
        # Rendered straight to a 28-px grid under Chandra's pixel cap, so Chandra's own
        # scale_to_fit finds nothing to resample (it costs ~75 ms a page otherwise).
        return RenderSpec(dpi=s["dpi"], min_short_side=s["min_short_side"],
                          max_pixels=s["max_pixels"], encoding=s["image_format"], grid=28,
                          jpeg_quality=s["jpeg_quality"], fit="chandra.model.util:scale_to_fit")

    def prompt(self) -> str:
        from chandra.prompts import PROMPT_MAPPING

        return self.settings["prompt"] or PROMPT_MAPPING[self.settings["prompt_type"]]

    async def ask(self, client: ChatClient, page: PageInput) -> PageOutput:
        from chandra.model.util import detect_repeat_token

        s = self.settings
        messages = [{"role": "user", "content": [
            {"type": "image_url", "image_url": {"url": data_url(page)}},
            {"type": "text", "text": self.prompt()}]}]
        temperature, top_p = s["temperature"], s["top_p"]
        error, raw, finish, http_attempts, tokens = "", "", "stop", 0, 0
        for attempt in range(1, s["max_retries"] + 2):
            try:
                completion = await client.complete(messages, max_tokens=s["max_tokens"],
                                                   temperature=temperature, top_p=top_p)
            except RequestFailed as exc:
                error, raw = str(exc), ""
            else:
                error, raw, finish = "", completion.text, completion.finish_reason
                http_attempts += completion.attempts
                tokens = completion.completion_tokens
                repeats = detect_repeat_token(raw) or (
                    len(raw) > 50 and detect_repeat_token(raw, cut_from_end=50))
                if not repeats:
                    break
            if attempt <= s["max_retries"]:
                temperature, top_p = min(s["temperature"] + 0.2 * attempt, 0.8), 0.95
        if error:
            return PageOutput(error=error, attempts=attempt)
        return self.parse(raw, page, finish, attempt, {"completion_tokens": tokens})

    def parse(self, html: str, page: PageInput, finish: str, attempts: int,
              meta: dict[str, Any]) -> PageOutput:
        from chandra.output import parse_layout, parse_markdown

        size = (page.image.width, page.image.height) if page.image else (1000, 1000)
        blocks = [{"label": b.label, "bbox": b.bbox}
                  for b in parse_layout(html, SimpleNamespace(size=size))]
        markdown = parse_markdown(html, include_headers_footers=self.settings["headers_footers"])
        return PageOutput(text=markdown, finish_reason=finish, attempts=attempts,
                          meta={**meta, "blocks": blocks})
