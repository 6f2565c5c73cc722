"""What a run leaves: merge's per-document outputs and their formats, the manifest and
report, the GPU hours, the SQL export. Imports engines, inputs, text and core."""
