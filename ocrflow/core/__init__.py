"""What every layer shares: the per-shard stages, every path of a results folder, the
records the stages write, the error type, atomic writes, progress and the page store. Imports
no other part of ocrflow."""
