"""Configuration: validated against its schema (config/schema.yaml, with each engine's settings
as its class declares them), defaults filled, one-line errors."""

from __future__ import annotations

import copy
import functools
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import yaml

from ocrflow.core.errors import OcrflowError
from ocrflow.core.layout import Layout

SCHEMA_PATH = Path(__file__).resolve().parents[2] / "config" / "schema.yaml"


class ConfigError(OcrflowError, ValueError):
    """A bad configuration value; the message names the key."""

    exit_status = 2


def _key_path(path: Any) -> str:
    return ".".join(str(part) for part in path) or "<top level>"


def _resolved(schema: dict[str, Any], root: dict[str, Any]) -> dict[str, Any]:
    """``schema`` over the ``$defs`` entry its ``$ref`` names ("#/$defs/<name>", the only kind of
    reference the schema uses): its own keywords win, and so do its own property schemas, key by
    key (an engine declares ``max_in_flight: {default: 64}`` over the shared definition)."""
    if "$ref" not in schema:
        return schema
    target = _resolved(root["$defs"][schema["$ref"].rsplit("/", 1)[1]], root)
    merged = {**target, **{k: v for k, v in schema.items() if k != "$ref"}}
    properties = dict(target.get("properties", {}))
    for key, sub in schema.get("properties", {}).items():
        properties[key] = {**properties.get(key, {}), **sub}
    if properties:
        merged["properties"] = properties
    return merged


def _fill_defaults(value: Any, schema: dict[str, Any], root: dict[str, Any]) -> None:
    if not isinstance(value, dict):
        return
    for key, sub in _resolved(schema, root).get("properties", {}).items():
        if key not in value and "default" in sub:
            # a copy: the schema is read once per process, and a config may be changed later
            value[key] = copy.deepcopy(sub["default"])
        if key in value:
            _fill_defaults(value[key], sub, root)


def _coerce(value: Any, schema: dict[str, Any], root: dict[str, Any]) -> Any:
    """Strings where the schema wants numbers or booleans, converted: `--config` hands nested
    values over as strings ("{min_chars: 5}" gives min_chars "5")."""
    schema = _resolved(schema, root)
    if isinstance(value, dict):
        properties = schema.get("properties", {})
        return {k: _coerce(v, properties[k], root) if k in properties else v
                for k, v in value.items()}
    if isinstance(value, list) and isinstance(schema.get("items"), dict):
        return [_coerce(v, schema["items"], root) for v in value]
    if not isinstance(value, str):
        return value
    types = schema.get("type", [])
    types = [types] if isinstance(types, str) else types
    if "string" in types or "enum" in schema:
        return value
    if "boolean" in types and value.lower() in ("true", "false"):
        return value.lower() == "true"
    if "null" in types and value.lower() in ("null", "none", "~", ""):
        return None
    for kind, convert in (("integer", int), ("number", float)):
        if kind in types:
            try:
                return convert(value)
            except ValueError:
                pass
    return value


def _errors(config: dict[str, Any], schema: dict[str, Any]) -> Iterator[str]:
    import jsonschema  # imported here: only the planner and scripts pay for it

    validator = jsonschema.Draft202012Validator(schema)
    for error in sorted(validator.iter_errors(config), key=lambda e: list(e.absolute_path)):
        yield f"{_key_path(error.absolute_path)}: {error.message}"


def _refuse_password_in_url(config: dict[str, Any]) -> None:
    """A password in export.url is refused before anything records or prints the URL (the
    run's config.yaml, Snakemake's metadata and logs): it belongs in the environment."""
    export = config.get("export")
    if not isinstance(export, dict) or not isinstance(export.get("url"), str):
        return
    from ocrflow.results import dburl  # the standard library only: no SQLAlchemy at every job start

    env = export.get("password_env")
    if problem := dburl.refusal(export["url"], "export.url", env if isinstance(env, str) else None):
        raise ConfigError(problem)


@functools.cache
def _assembled_schema() -> dict[str, Any]:
    # libyaml's loader where PyYAML has it: the schema is read in every Snakemake process,
    # cluster jobs included, and the pure-Python loader takes 0.07 s of a job's start.
    loader = getattr(yaml, "CSafeLoader", yaml.SafeLoader)
    assembled: dict[str, Any] = yaml.load(SCHEMA_PATH.read_text(encoding="utf-8"), Loader=loader)
    from ocrflow.engines import ENGINES, engine_class

    sections = assembled["properties"]["engines"]["properties"] = {}
    for name in ENGINES:
        cls = engine_class(name)
        # Keys brought by a $ref are seen only by unevaluatedProperties: additionalProperties
        # would refuse them.
        closed = "unevaluatedProperties" if "$ref" in cls.OPTIONS else "additionalProperties"
        sections[name] = {"type": "object", closed: False, "default": {},
                          **copy.deepcopy(cls.OPTIONS)}
        assembled["$defs"].update(copy.deepcopy(cls.OPTION_DEFS))
    choices = assembled["properties"]
    choices["primary"]["properties"]["engine"]["enum"] = list(ENGINES)
    choices["recovery"]["properties"]["engine"]["enum"] = [*ENGINES, "none"]
    return assembled


def schema() -> dict[str, Any]:
    """The config's JSON schema: config/schema.yaml, with each registered engine's name in
    primary.engine and recovery.engine and its settings under engines.<name>, as its class
    declares them (``Engine.OPTIONS``): an engine's options are written once, next to it."""
    return copy.deepcopy(_assembled_schema())


def validate(config: dict[str, Any]) -> dict[str, Any]:
    """Return ``config`` with defaults filled; raise ConfigError naming the first bad key."""
    checked = _assembled_schema()  # read only: the defaults filled are copies
    if not isinstance(config, dict):
        raise ConfigError("config: expected a mapping of keys to values")
    config.update(_coerce(config, checked, checked))
    _fill_defaults(config, checked, checked)
    _refuse_password_in_url(config)  # first: a schema error would print the URL as written
    for message in _errors(config, checked):
        raise ConfigError(f"config error: {message}")
    for index, language in enumerate(config["trust"]["languages"]):
        from ocrflow.text.trust import check_language

        if problem := check_language(language):
            raise ConfigError(f"config error: trust.languages.{index}: {problem}")
    if config["primary"]["engine"] == config["recovery"]["engine"]:
        raise ConfigError(
            "config error: recovery.engine: must differ from primary.engine "
            f"({config['primary']['engine']!r}); use 'none' to switch recovery off"
        )
    from ocrflow.engines import resources
    from ocrflow.run import environment

    for name in environment.secret_names(config["environment"]):
        raise ConfigError(
            f"config error: environment.{name}: a secret does not belong in the config (it is "
            f"recorded in {Layout.of(config['results']).recorded_config}); export it where the "
            "jobs start and name it in api_key_env or export.password_env")
    environment.fill(config)
    if too_large := resources.too_large_for_node(config):
        raise ConfigError(f"config error: {too_large}")
    return config


def load(path: str | Path) -> dict[str, Any]:
    with open(path, encoding="utf-8") as handle:
        return validate(yaml.safe_load(handle) or {})


def record(config: dict[str, Any]) -> None:
    """Keep the validated config in the results folder, so that commands acting on a run
    (retry-failed) use the settings it was run with, whatever the command line was."""
    from ocrflow.core import atomic

    path = Layout.of(config["results"]).recorded_config
    text = yaml.safe_dump(config, sort_keys=True, allow_unicode=True)
    if not path.exists() or path.read_text(encoding="utf-8") != text:
        atomic.write_text(path, text)


def override(config: dict[str, Any], pairs: list[str]) -> dict[str, Any]:
    """Snakemake's ``--config KEY=VALUE ...``: each value read as YAML, replacing the key."""
    for pair in pairs:
        key, sep, value = pair.partition("=")
        if not sep or not key:
            raise ConfigError(f"config error: --config {pair!r}: expected KEY=VALUE")
        config[key] = yaml.safe_load(value) if value else ""
    return config


DEFAULT_CONFIG = Path("config/config.yaml")  # the Snakefile's configfile, from the working folder


def layered(configfiles: list[str]) -> dict[str, Any]:
    """The config files as Snakemake reads them: the Snakefile's config/config.yaml (where there
    is one here), then each file over the one before (config/gpu.yaml says only what differs)."""
    files = [Path(name) for name in configfiles]
    if DEFAULT_CONFIG.exists() and not any(f.exists() and DEFAULT_CONFIG.samefile(f)
                                           for f in files):
        files.insert(0, DEFAULT_CONFIG)
    config: dict[str, Any] = {}
    for path in files:
        with open(path, encoding="utf-8") as handle:
            config = _merged(config, yaml.safe_load(handle) or {})
    return config


def for_run(results: str | None, configfiles: list[str], pairs: list[str]) -> dict[str, Any]:
    """The config of a run: recorded in its results folder (``results``, or the one the config
    files and overrides name), with ``configfiles`` (layered as Snakemake layers them) and
    ``pairs`` applied on top; ``results``, when given, stays the results folder whatever the
    recorded config says (a folder moved since)."""
    given: dict[str, Any] = {}
    if configfiles or results is None:
        given = layered(configfiles)
    given = override(given, pairs)
    folder = Path(results or given.get("results", "results"))
    recorded = Layout.of(folder).recorded_config
    if results is not None and not recorded.exists():
        raise ConfigError(f"config error: results: no run recorded in {folder} "
                          f"({recorded.name} is missing)")
    base = yaml.safe_load(recorded.read_text(encoding="utf-8")) if recorded.exists() else {}
    merged = _merged(base, given)
    if results is not None:  # the folder named is the one acted on, even moved or copied
        merged["results"] = str(results)
    return validate(merged)


def _merged(base: dict[str, Any], update: dict[str, Any]) -> dict[str, Any]:
    """``update`` over ``base``, nested mappings merged key by key (as Snakemake merges)."""
    out = dict(base)
    for key, value in update.items():
        if isinstance(value, dict) and isinstance(out.get(key), dict):
            out[key] = _merged(out[key], value)
        else:
            out[key] = value
    return out
