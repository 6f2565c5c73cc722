"""`vllm serve` options as vLLM's own parser reads them: light, so that planning (a job's memory)
can read them without importing an engine."""

from __future__ import annotations


def option_values(args: list[str]) -> dict[str, list[str]]:
    """``--option value ...`` as vLLM's parser reads them: "_" in a name is "-", ``--a=b`` is
    ``--a b``; an option's values are what follows it up to the next option."""
    found: dict[str, list[str]] = {}
    current: list[str] | None = None
    for arg in args:
        if arg.startswith("--"):
            name, _, value = arg.partition("=")
            current = found.setdefault(name.replace("_", "-"), [])
            if value:
                current.append(value)
        elif current is not None:
            current.append(arg)
    return found
