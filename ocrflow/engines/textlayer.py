"""The PDF's own text layer as an engine: free, exact on born-digital pages, empty on scans.

A page is read as structure (ocrflow.inputs.structure: tables as HTML tables, the shape the GPU
engines
write, headings and lists as Markdown) from its layer's geometry and fonts; a page without any
keeps the inventory's reading of its layer as it is.
"""

from __future__ import annotations

import logging
from typing import Any, ClassVar

from ocrflow.engines.base import Engine, PageInput, PageOutput, error_line

log = logging.getLogger(__name__)


class TextLayerEngine(Engine):
    name = "textlayer"
    # Its settings, engines.textlayer in the config (JSON schema, defaults and descriptions):
    # ocrflow/run/config.py puts them in the schema the config is validated against.
    OPTIONS: ClassVar[dict[str, Any]] = {
        "description": "The PDF's own text layer.",
        "properties": {
            "structure": {
                "type": "boolean", "default": True,
                "description": "read born-digital pages as structure: tables (ruled and unruled) "
                               "as HTML tables, headings and lists as Markdown, from the layer's "
                               "geometry and fonts (ocrflow.inputs.structure); false: the "
                               "layer's lines as they are"},
            "pages_per_second": {
                "$ref": "#/$defs/pages_per_second", "default": 20,
                "description": "pages one job reads per second (an estimate: the text layer "
                               "takes milliseconds a page; rendering the page for its checks "
                               "most of it)"},
            "server_start_s": {"$ref": "#/$defs/server_start_s", "default": 0}},
    }
    version = "3"  # tables, headings and lists from the layer's geometry (ocrflow.inputs.structure)

    def recognize(self, page: PageInput) -> PageOutput:
        lines = [line.rstrip() for line in page.text_layer.splitlines()]
        flat = "\n".join(lines).strip()
        if not flat or not self.settings.get("structure", True):
            return PageOutput(text=flat)
        from ocrflow.inputs import structure  # pdfplumber: only for pages with a layer

        try:
            found = structure.read_page(page.source_path, page.page, flat)
        except Exception as exc:  # the geometry of a hostile PDF: its lines are still the text
            log.warning("%s page %d: structure not read (%s); the layer's lines are kept",
                        page.source_path, page.page, error_line(exc))
            return PageOutput(text=flat, meta={"structure_error": error_line(exc)})
        meta: dict[str, object] = {"tables": found.tables} if found.tables else {}
        if found.unresolved:
            meta["unresolved"] = found.unresolved
        return PageOutput(text=found.markdown, meta=meta)
