"""Configuration: validated against config/schema.yaml, defaults filled, one-line errors."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import yaml

SCHEMA_PATH = Path(__file__).resolve().parent.parent / "config" / "schema.yaml"


class ConfigError(ValueError):
    """A bad configuration value; the message names the key."""


def _key_path(path: Any) -> str:
    return ".".join(str(part) for part in path) or "<top level>"


def _fill_defaults(value: Any, schema: dict[str, Any]) -> None:
    if not isinstance(value, dict):
        return
    for key, sub in schema.get("properties", {}).items():
        if key not in value and "default" in sub:
            default = sub["default"]
            value[key] = dict(default) if isinstance(default, dict) else default
        if key in value:
            _fill_defaults(value[key], sub)


def _errors(config: dict[str, Any], schema: dict[str, Any]) -> Iterator[str]:
    import jsonschema  # imported here: only the planner and scripts pay for it

    validator = jsonschema.Draft202012Validator(schema)
    for error in sorted(validator.iter_errors(config), key=lambda e: list(e.absolute_path)):
        yield f"{_key_path(error.absolute_path)}: {error.message}"


def validate(config: dict[str, Any], schema_path: Path = SCHEMA_PATH) -> dict[str, Any]:
    """Return ``config`` with defaults filled; raise ConfigError naming the first bad key."""
    schema = yaml.safe_load(schema_path.read_text(encoding="utf-8"))
    if not isinstance(config, dict):
        raise ConfigError("config: expected a mapping of keys to values")
    _fill_defaults(config, schema)
    for message in _errors(config, schema):
        raise ConfigError(f"config error: {message}")
    if config["primary"]["engine"] == config["recovery"]["engine"]:
        raise ConfigError(
            "config error: recovery.engine: must differ from primary.engine "
            f"({config['primary']['engine']!r}); use 'none' to switch recovery off"
        )
    return config


def load(path: str | Path) -> dict[str, Any]:
    with open(path, encoding="utf-8") as handle:
        return validate(yaml.safe_load(handle) or {})


def engine_settings(config: dict[str, Any], name: str) -> dict[str, Any]:
    return dict(config["engines"].get(name, {}))
