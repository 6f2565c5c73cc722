"""A bad configuration value fails at start, with the key named, in one line."""

from __future__ import annotations

import copy

import pytest
import yaml

from ocrflow import config as ocrflow_config
from tests.conftest import REPO

BASE = yaml.safe_load((REPO / "config/config.yaml").read_text())


def with_change(path: str, value: object) -> dict:
    cfg = copy.deepcopy(BASE)
    *parents, last = path.split(".")
    node = cfg
    for key in parents:
        node = node[key]
    node[last] = value
    return cfg


def test_shipped_config_is_valid_and_schema_fills_defaults() -> None:
    ocrflow_config.validate(copy.deepcopy(BASE))
    minimal = ocrflow_config.validate({"input": "somewhere"})
    assert minimal["shard_size"] == 100
    assert minimal["detection"]["text_layer_agreement"]["enabled"] is False
    assert minimal["engines"]["rapidocr"]["dpi"] == 150


@pytest.mark.parametrize(("path", "value", "named"), [
    ("detection.min_chars", -1, "detection.min_chars"),
    ("shard_size", 0, "shard_size"),
    ("primary.engine", "tesseract", "primary.engine"),
    ("engines.rapidocr.dpi", "high", "engines.rapidocr.dpi"),
    ("detection.max_garbage_ratio", 2, "detection.max_garbage_ratio"),
    ("detection.no_such_threshold", 3, "detection"),
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


def test_snakemake_stops_at_start_on_a_bad_value(workspace) -> None:
    (workspace.root / "corpus").mkdir()
    workspace.config["detection"] = {"min_ink": 5}
    result = workspace.snakemake("-n", check=False)
    assert result.returncode != 0
    assert "config error: detection.min_ink: 5 is greater than the maximum of 1" in result.stderr
    assert not (workspace.results / "work").exists()


def test_snakemake_names_a_missing_input(workspace) -> None:
    workspace.config["input"] = str(workspace.root / "no-such-folder")
    result = workspace.snakemake("-n", check=False)
    assert result.returncode != 0
    assert "config error: input:" in result.stderr
    assert "no-such-folder" in result.stderr


def test_config_readme_documents_every_schema_key() -> None:
    """Each key of config/schema.yaml has its row in config/README.md: by its full name, a
    `section.*` row, or its name in its section's table."""
    schema = yaml.safe_load((REPO / "config/schema.yaml").read_text())
    readme = (REPO / "config/README.md").read_text()

    def leaves(node: dict, prefix: str = ""):
        properties = node.get("properties")
        if not properties or "$ref" in node:
            yield prefix
            return
        for key, sub in properties.items():
            yield from leaves(sub, f"{prefix}.{key}" if prefix else key)

    keys = list(leaves(schema))
    assert len(keys) > 100
    missing = [key for key in keys if not any(
        name in readme for name in (f"`{key}`", f"`{key.rsplit('.', 1)[0]}.*`",
                                    f"`{key.rsplit('.', 1)[-1]}`"))]
    assert missing == []
