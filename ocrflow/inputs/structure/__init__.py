"""Born-digital pages read as structure from their text layer: tables (ruled and unruled, as
HTML), headings and lists (as Markdown), in reading order (``read_page``)."""

from ocrflow.inputs.structure.page import PageStructure, read_page

__all__ = ["PageStructure", "read_page"]
