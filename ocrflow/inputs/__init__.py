"""The corpus and its untrusted PDFs: finding and counting them, the shards, the
inventory, workers a PDF cannot crash, rendering, the text layer and its structure. Imports
text and core."""
