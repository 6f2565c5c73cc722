"""``python -m ocrflow eval``: score a results folder on olmOCR-bench-format unit tests.

One module per concern, each following the rules of olmOCR-bench (allenai/olmocr 0.4.27,
``olmocr/bench/tests.py``, ``table_parsing.py``, ``benchmark.py``), written anew:

    spec.py      the JSONL test format, its validation and the text normalisation
    matching.py  present / absent / order / baseline (and math, skipped without a renderer)
    tables.py    Markdown and HTML tables as cell grids, and the ``table`` test
    scoring.py   a test's page of Markdown in a results folder, the scores, the failures
"""
