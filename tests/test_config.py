"""A bad configuration value fails at start, with the key named, in one line."""

from __future__ import annotations

import copy

import pytest
import yaml

from ocrflow.run import config as ocrflow_config
from tests.conftest import REPO

BASE = yaml.safe_load((REPO / "config/config.yaml").read_text())
SCHEMA = ocrflow_config.schema()  # config/schema.yaml with the engines' own OPTIONS


def with_change(path: str, value: object) -> dict:
    cfg = copy.deepcopy(BASE)
    *parents, last = path.split(".")
    node = cfg
    for key in parents:
        node = node.setdefault(key, {})
    node[last] = value
    return cfg


def test_shipped_config_is_valid_and_schema_fills_defaults() -> None:
    ocrflow_config.validate(copy.deepcopy(BASE))
    minimal = ocrflow_config.validate({"input": "somewhere"})
    assert (minimal["shard_size"], minimal["shard_pages"]) == (1000, 6000)
    assert minimal["recovery"] == {"engine": "tesseract", "pages_per_job": None,
                                   "expected_failure": 0.05}
    assert minimal["detection"]["text_layer_agreement"]["enabled"] is False
    assert minimal["engines"]["rapidocr"]["dpi"] == 150


def test_vllm_engines_share_their_server_keys_and_keep_their_own_defaults() -> None:
    """engines.chandra and engines.deepseek take their server and client keys from $defs.vllm;
    an engine's own default of a shared key (max_in_flight, served_model_name) still wins."""
    engines = ocrflow_config.validate({"input": "somewhere"})["engines"]
    for name, served, in_flight in (("chandra", "chandra", 96), ("deepseek", "deepseek-ocr", 64)):
        assert engines[name]["served_model_name"] == served
        assert engines[name]["max_in_flight"] == in_flight
        assert engines[name]["request_timeout_s"] == 900  # from $defs.vllm
        assert engines[name]["endpoint"] == ""
    assert engines["chandra"]["server_args"][:2] == ["--max-model-len", "18000"]
    assert "--logits_processors" in engines["deepseek"]["server_args"]
    coerced = ocrflow_config.validate({"input": "somewhere",
                                       "engines": {"deepseek": {"max_in_flight": "8"}}})
    assert coerced["engines"]["deepseek"]["max_in_flight"] == 8


@pytest.mark.parametrize("engine", ["chandra", "deepseek"])
def test_unknown_engine_key_is_named(engine: str) -> None:
    with pytest.raises(ocrflow_config.ConfigError) as error:
        ocrflow_config.validate(with_change(f"engines.{engine}.endpont", "http://x/v1"))
    assert str(error.value).startswith(f"config error: engines.{engine}:")
    assert "'endpont'" in str(error.value)


@pytest.mark.parametrize(("path", "value", "named"), [
    ("detection.min_chars", -1, "detection.min_chars"),
    ("shard_size", 0, "shard_size"),
    ("shard_pages", 0, "shard_pages"),
    ("recovery.expected_failure", 1.5, "recovery.expected_failure"),
    ("recovery.pages_per_job", -1, "recovery.pages_per_job"),
    ("engines.chandra.pages_per_second", 0, "engines.chandra.pages_per_second"),
    ("engines.tesseract.server_start_s", -5, "engines.tesseract.server_start_s"),
    ("resources.walltime_margin", 0.5, "resources.walltime_margin"),
    ("primary.engine", "ocropus", "primary.engine"),  # an engine ocrflow does not have
    ("engines.rapidocr.dpi", "high", "engines.rapidocr.dpi"),
    ("detection.max_garbage_ratio", 2, "detection.max_garbage_ratio"),
    ("detection.no_such_threshold", 3, "detection"),
    ("engines.deepseek.max_in_flight", 0, "engines.deepseek.max_in_flight"),  # via $defs.vllm
    ("engines.chandra.retries", "many", "engines.chandra.retries"),
    ("engines.deepseek.max_num_seqs", 4, "engines.deepseek"),  # a chandra key only
])
def test_bad_value_names_the_key(path: str, value: object, named: str) -> None:
    with pytest.raises(ocrflow_config.ConfigError) as error:
        ocrflow_config.validate(with_change(path, value))
    message = str(error.value)
    assert message.startswith(f"config error: {named}:")
    assert "\n" not in message


def test_same_engine_twice_is_refused() -> None:
    cfg = with_change("recovery.engine", BASE["primary"]["engine"])
    with pytest.raises(ocrflow_config.ConfigError, match=r"recovery\.engine"):
        ocrflow_config.validate(cfg)


@pytest.mark.slow  # a Snakemake dry run
def test_snakemake_stops_at_start_on_a_bad_value(workspace) -> None:
    (workspace.root / "corpus").mkdir()
    workspace.config["detection"] = {"min_ink": 5}
    result = workspace.snakemake("-n", check=False)
    assert result.returncode != 0
    assert "config error: detection.min_ink: 5 is greater than the maximum of 1" in result.stderr
    assert not (workspace.results / "work").exists()


@pytest.mark.slow  # a Snakemake dry run
def test_snakemake_names_a_missing_input(workspace) -> None:
    workspace.config["input"] = str(workspace.root / "no-such-folder")
    result = workspace.snakemake("-n", check=False)
    assert result.returncode != 0
    assert "config error: input:" in result.stderr
    assert "no-such-folder" in result.stderr


# A URL with a password, its secret in each form it may be printed in, and the URL masked.
PASSWORD_URLS = [
    ("postgresql+psycopg://ocrflow:hunter2@db.example:5432/corpus", {"hunter2"},
     "'postgresql+psycopg://ocrflow:***@db.example:5432/corpus'"),
    ("postgresql+psycopg://ocrflow@db.example/corpus?sslmode=require&password=hunter2",
     {"hunter2"}, "'postgresql+psycopg://ocrflow@db.example/corpus?sslmode=require&password=***'"),
    ("postgresql+psycopg://ocrflow:hun%40ter2@db.example/corpus", {"hun%40ter2", "hun@ter2"},
     "'postgresql+psycopg://ocrflow:***@db.example/corpus'"),
]


@pytest.mark.parametrize(("url", "secrets", "masked"), PASSWORD_URLS)
def test_a_password_in_export_url_is_refused_masked(url: str, secrets: set[str],
                                                    masked: str) -> None:
    with pytest.raises(ocrflow_config.ConfigError) as error:
        ocrflow_config.validate(with_change("export.url", url))
    message = str(error.value)
    assert message.startswith(f"config error: export.url: {masked} holds a password")
    assert "\n" not in message
    assert "OCRFLOW_DB_PASSWORD" in message and "export.password_env" in message
    assert not any(secret in message for secret in secrets)


@pytest.mark.parametrize("url", [
    "postgresql://:hunter2@db.example/corpus",  # no user name
    "postgresql://ocrflow:hunt/er2@db.example/corpus",  # SQLAlchemy reads a '/' in a password
    "postgresql://ocrflow:hun@ter2@db.example/corpus",  # an '@' not encoded
    "postgresql://ocrflow@db.example/corpus?sslpassword=hunter2",
    "postgresql://ocrflow@db.example/corpus?Pass%77ord=hunter2",  # a key percent-encoded
    "postgresql://ocrflow@db.example/corpus?api_token=hunter2&application_name=x",
    "postgres://ocrflow:hunter2@db.example/corpus",  # a scheme the schema refuses: same line
])
def test_every_form_of_a_password_in_export_url_is_refused(url: str) -> None:
    cfg = with_change("export.url", url)
    cfg["export"]["password_env"] = "CORPUS_DB_PASSWORD"
    with pytest.raises(ocrflow_config.ConfigError) as error:
        ocrflow_config.validate(cfg)
    message = str(error.value)
    assert message.startswith("config error: export.url: ") and "***" in message
    assert "CORPUS_DB_PASSWORD" in message  # the variable export.password_env names
    assert "hunter2" not in message and "ter2" not in message and "\n" not in message


def test_export_url_without_a_password_is_kept() -> None:
    url = "postgresql+psycopg://ocrflow@db.example:5432/corpus?sslmode=require&passfile=/x"
    assert ocrflow_config.validate(with_change("export.url", url))["export"]["url"] == url


@pytest.mark.slow  # a Snakemake dry run
@pytest.mark.parametrize(("url", "secrets", "masked"), PASSWORD_URLS)
def test_a_dry_run_refuses_a_password_in_export_url_and_writes_it_nowhere(
        workspace, url: str, secrets: set[str], masked: str) -> None:
    (workspace.root / "corpus").mkdir()
    result = workspace.snakemake("-n", "--config", f"export={{url: '{url}'}}", check=False,
                                 timeout=120)
    assert result.returncode != 0
    line, = (line for line in result.stderr.splitlines() if "config error" in line)
    assert line.startswith(f"config error: export.url: {masked} holds a password")
    assert not any(secret in result.stdout + result.stderr for secret in secrets)
    assert not (workspace.results / "config.yaml").exists()


def _resolved(node: dict) -> dict:
    """``node`` over the $defs entry its $ref names, property schemas merged key by key."""
    if "$ref" not in node:
        return node
    target = _resolved(SCHEMA["$defs"][node["$ref"].removeprefix("#/$defs/")])
    properties = dict(target.get("properties", {}))
    for key, sub in node.get("properties", {}).items():
        properties[key] = {**properties.get(key, {}), **sub}
    return {**target, **{k: v for k, v in node.items() if k != "$ref"}, "properties": properties}


def schema_keys(node: dict = SCHEMA, prefix: str = ""):
    """(dotted name, schema) of every key of the config's schema (config/schema.yaml and the
    engines' OPTIONS), those reached through $ref included: engines.chandra.endpoint is defined
    once in $defs.vllm."""
    for key, sub in _resolved(node).get("properties", {}).items():
        name = f"{prefix}.{key}" if prefix else key
        sub = _resolved(sub)
        yield name, sub
        yield from schema_keys(sub, name)


def test_schema_walk_reaches_shared_keys() -> None:
    keys = dict(schema_keys())
    for engine in ("chandra", "deepseek"):
        for key in SCHEMA["$defs"]["vllm"]["properties"]:
            assert f"engines.{engine}.{key}" in keys
    assert keys["engines.deepseek.max_in_flight"]["default"] == 64
    assert keys["resources.ocr.mem_mb"]["type"] == "integer"


def test_every_schema_key_has_a_description() -> None:
    undescribed = [name for name, sub in schema_keys()
                   if not str(sub.get("description", "")).strip()]
    assert undescribed == []


def test_config_readme_documents_every_schema_key() -> None:
    """Each key of the schema (through $ref too) has its row in config/README.md: by its
    full name, a `section.*` row, or its name in its section's table."""
    readme = (REPO / "config/README.md").read_text()
    keys = [name for name, sub in schema_keys() if not sub.get("properties")]
    assert len(keys) > 100
    missing = [key for key in keys if not any(
        name in readme for name in (f"`{key}`", f"`{key.rsplit('.', 1)[0]}.*`",
                                    f"`{key.rsplit('.', 1)[-1]}`"))]
    assert missing == []


def test_typed_settings_have_a_field_for_every_key_of_their_section() -> None:
    """A key added to a section the stages take typed needs its field there, and the other way
    round: the settings are the schema's sections, frozen."""
    from dataclasses import FrozenInstanceError, fields

    from ocrflow.run.settings import Settings

    settings = Settings.from_config(ocrflow_config.validate(copy.deepcopy(BASE)))
    for section in ("inventory", "render", "ocr", "trust", "detection", "headers_footers",
                    "export"):
        declared = {field.name for field in fields(getattr(settings, section))}
        assert declared == set(SCHEMA["properties"][section]["properties"]), section
    assert {f.name for f in fields(settings.plan.removal)} == \
        set(SCHEMA["properties"]["removal"]["properties"])
    assert {f.name for f in fields(settings.plan)} == {"shard_size", "shard_pages", "removal"}
    agreement = SCHEMA["properties"]["detection"]["properties"]["text_layer_agreement"]
    assert {f.name for f in fields(settings.detection.text_layer_agreement)} == \
        set(agreement["properties"])
    assert settings.merge.headers_footers == settings.headers_footers
    assert isinstance(settings.trust.languages, tuple)  # lists frozen too
    with pytest.raises(FrozenInstanceError):
        settings.detection.min_chars = 0  # type: ignore[misc]


def test_each_engine_declares_its_settings_and_the_schema_file_does_not() -> None:
    """engines.<name> comes from the engine's class (OPTIONS), once: config/schema.yaml holds no
    engine's keys and names no engine."""
    from ocrflow.engines import ENGINES, engine_class

    written = yaml.safe_load((REPO / "config/schema.yaml").read_text())
    assert "properties" not in written["properties"]["engines"]
    assert "vllm" not in written["$defs"]
    assert "enum" not in written["properties"]["primary"]["properties"]["engine"]
    for name in ENGINES:
        options = engine_class(name).OPTIONS
        assert options["description"] and options["properties"], name
        assert SCHEMA["properties"]["engines"]["properties"][name]["properties"] == \
            options["properties"]
    assert SCHEMA["properties"]["recovery"]["properties"]["engine"]["enum"] == [*ENGINES, "none"]
