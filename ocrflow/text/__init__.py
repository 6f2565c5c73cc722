"""Judging text: its quality and language, scripts and direction, the verdict on each
page, running heads and footers. Imports core only."""
