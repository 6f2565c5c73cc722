"""The PDF's own text layer as an engine: free, exact on born-digital pages, empty on scans."""

from __future__ import annotations

from ocrflow.engines.base import Engine, PageInput, PageOutput


class TextLayerEngine(Engine):
    name = "textlayer"
    version = "2"  # hyphenated words joined (inventory.clean_text_layer)

    def recognize(self, page: PageInput) -> PageOutput:
        lines = [line.rstrip() for line in page.text_layer.splitlines()]
        return PageOutput(text="\n".join(lines).strip())
