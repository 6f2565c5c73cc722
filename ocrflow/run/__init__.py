"""The run and its Snakemake glue: the config, the shard plan, the rules' entry points,
`ocrflow status`, retries and model downloads. The top layer: it may import every other."""
