"""The table of per-shard stages (ocrflow/core/stages.py) against the workflow itself: each stage's
rule is a rule of the Snakefile, its files are that rule's outputs, and every rule with a
per-shard output is a stage, so a stage added or changed in one and not the other fails here."""

from __future__ import annotations

import json
import re
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from ocrflow.core import stages
from ocrflow.core.layout import Layout
from ocrflow.engines import ENGINES
from ocrflow.engines.textlayer import TextLayerEngine
from ocrflow.results import cost
from ocrflow.run import config as ocrflow_config
from ocrflow.run import plan
from tests.conftest import REPO

# Parses the Snakefile with Snakemake's API (as `snakemake` does, planning in memory and writing
# nothing) and prints each rule's named outputs, and its inputs given as paths (not functions).
RULE_OUTPUTS = """
import json, sys
from pathlib import Path
from snakemake.api import SnakemakeApi
from snakemake.settings.types import ConfigSettings, OutputSettings, ResourceSettings

repo, config = Path(sys.argv[1]), json.loads(sys.argv[2])
with SnakemakeApi(OutputSettings(quiet={"all"})) as api:
    workflow = api.workflow(resource_settings=ResourceSettings(), snakefile=repo / "Snakefile",
                            config_settings=ConfigSettings(config=config), workdir=repo)._workflow
    print(json.dumps({rule.name: {
        "output": {name: str(path) for name, path in rule.output.items()},
        "input": [str(path) for path in rule.input if isinstance(path, str)]}
        for rule in workflow.rules}))
"""
# "{shard,s\\d{6}}", as Snakemake writes a wildcard with its constraint: "{shard}"
CONSTRAINED = re.compile(r"\{(\w+),(?:[^{}]|\{[^{}]*\})*\}")
WILDCARD = {False: "{shard}", True: "{pool}"}  # by Stage.per_pool


@pytest.fixture(scope="module")
def workflow_rules(tmp_path_factory) -> tuple[Layout, dict[str, dict[str, Any]]]:
    """rule -> its outputs (name -> path) and its inputs given as paths, wildcards without their
    constraints, of a workflow with every optional output on (the shards' Dolma records)."""
    results = tmp_path_factory.mktemp("stages") / "results"
    config = {"input": str(REPO / "examples" / "corpus"), "results": str(results),
              "outputs": ["markdown", "dolma"]}
    done = subprocess.run([sys.executable, "-c", RULE_OUTPUTS, str(REPO), json.dumps(config)],
                          capture_output=True, text=True, cwd=REPO, timeout=300)
    assert done.returncode == 0, done.stderr
    assert not results.exists()  # parsing writes nothing
    rules = json.loads(done.stdout.splitlines()[-1])
    return Layout.of(results), {rule: {
        "output": {name: CONSTRAINED.sub(r"{\1}", path) for name, path in io["output"].items()},
        "input": [CONSTRAINED.sub(r"{\1}", path) for path in io["input"]]}
        for rule, io in rules.items()}


def test_every_stage_is_a_rule_whose_outputs_are_its_files(workflow_rules) -> None:
    layout, rules = workflow_rules
    for stage in stages.STAGES:
        assert stage.rule in rules, f"{stage.rule}: no such rule in the Snakefile"
        unit = WILDCARD[stage.per_pool]
        folder = str(stage.paths(layout, unit)[0].parent)
        in_folder = {name: path for name, path in rules[stage.rule]["output"].items()
                     if str(Path(path).parent) == folder}
        assert in_folder == {name: str(path) for (name, _), path in
                             zip(stage.files, stage.paths(layout, unit), strict=True)}, stage.rule


def test_every_rule_with_a_per_shard_output_is_a_stage(workflow_rules) -> None:
    _, rules = workflow_rules
    per_shard = {rule for rule, io in rules.items()
                 if any("{shard}" in path or "{pool}" in path for path in io["output"].values())}
    assert per_shard == {stage.rule for stage in stages.STAGES}
    assert set(rules) - per_shard == {"plan", "dolma", "manifest", "export", "all"}


def test_a_stage_reads_the_files_of_the_stages_before_it(workflow_rules) -> None:
    """A stage rule's inputs in a shard's folder (those given as paths) are the shard's member
    list or files of stages before it: the table's order is the workflow's."""
    layout, rules = workflow_rules
    made = {str(layout.members("{shard}"))}
    for stage in stages.STAGES:
        ours = [path for path in rules[stage.rule]["input"] if "{shard}" in path]
        assert set(ours) <= made, stage.rule
        assert ours or stage.per_pool, stage.rule  # a pool's inputs are a function's
        made |= {str(path) for path in stage.paths(layout, WILDCARD[stage.per_pool])}


def test_the_files_are_the_layouts(tmp_path: Path) -> None:
    """The table's files are where Layout puts them (what the rules' inputs, status and the
    commands ask for), by the names the entry points read them by."""
    layout, s = Layout.of(tmp_path), "s000001"

    def role_files(role: str, unit: str) -> dict[str, Path]:
        return {"records": layout.records(unit, role), "stats": layout.stats(unit, role),
                "verdicts": layout.verdicts(unit, role),
                "counts": layout.verdict_counts(unit, role)}

    expected = {
        "inventory": {"inventory": layout.inventory(s), "counts": layout.inventory_counts(s)},
        "ocr_primary": role_files("primary", s), "ocr_recovery": role_files("recovery", "r000000"),
        "merge": {"pages": layout.pages(s), "texts": layout.texts(s),
                  "documents": layout.documents(s)}}
    for rule, files in expected.items():
        stage = stages.stage(rule)
        paths = stage.paths(layout, "r000000" if stage.per_pool else s)
        assert dict(zip([name for name, _ in stage.files], paths, strict=True)) == files, rule


def test_the_stages_name_what_the_rest_reads() -> None:
    rules = [s.rule for s in stages.STAGES]  # users' profiles and logs name these rules
    assert [r for r in rules if r in ("inventory", "ocr_primary", "ocr_recovery", "merge")] == [
        "inventory", "ocr_primary", "ocr_recovery", "merge"]
    assert {"inventory", "ocr_primary", "merge"} <= stages.SHARD_RULES  # a job of one shard
    assert "ocr_recovery" not in stages.SHARD_RULES  # a job of a pool of shards
    # the last: the manifest reads its pages, and status counts a merged shard as done
    assert stages.STAGES[-1] is stages.MERGE
    assert cost.RULES == {"primary": "ocr_primary", "recovery": "ocr_recovery"}
    assert stages.ROLES == ("primary", "recovery")
    assert TextLayerEngine.name == stages.TEXT_LAYER_ENGINE and stages.TEXT_LAYER_ENGINE in ENGINES
    schema = ocrflow_config.schema()["properties"]  # the engines' names come from ENGINES
    for stage in stages.OCR_STAGES:  # the setting names an engine, or none (recovery)
        assert stage.engine_setting is not None
        section, key = stage.engine_setting.split(".")
        names = set(schema[section]["properties"][key]["enum"]) - {stages.NO_ENGINE}
        assert names <= set(ENGINES), stage.engine_setting
    every = {"primary": {"engine": "chandra"}, "recovery": {"engine": "deepseek"}}
    assert stages.stages_of(every) == stages.STAGES
    assert stages.stages_of({**every, "recovery": {"engine": "none"}}) == tuple(
        s for s in stages.STAGES if s is not stages.RECOVERY)
    assert stages.stages_of({}) == stages.STAGES  # a config recorded before the setting


def test_one_shard_rules_do_not_list_every_shard() -> None:
    """A cluster job of the shard stages' rules only skips listing the shard folders."""
    one_shard = [s.rule for s in stages.STAGES if not s.per_pool]
    assert not plan.lists_shards(["--allowed-rules", *one_shard, "--nolock"])
    assert plan.lists_shards(["--allowed-rules", stages.RECOVERY.rule])


def test_files_after_the_inventory(tmp_path: Path) -> None:
    """What retry-failed removes to redo a shard's OCR and merge: the shard's files and its
    pool's, every stage's after the inventory, none of the inventory's."""
    layout = Layout.of(tmp_path)
    files = stages.outputs_after(stages.INVENTORY_STAGE, layout, "s000001", "r000000")
    assert {str(f.relative_to(tmp_path)) for f in files} >= {
        "work/shards/s000001/primary.jsonl", "work/shards/s000001/primary.stats.json",
        "work/shards/s000001/primary_verdicts.jsonl",
        "work/shards/s000001/primary_verdicts.counts.json",
        "work/pools/r000000/recovery.jsonl", "work/pools/r000000/recovery.stats.json",
        "work/pools/r000000/recovery_verdicts.jsonl",
        "work/pools/r000000/recovery_verdicts.counts.json",
        "work/shards/s000001/pages.jsonl", "work/shards/s000001/texts.jsonl",
        "work/shards/s000001/documents.tsv"}
    assert not {layout.members("s000001"), layout.inventory("s000001"),
                layout.inventory_counts("s000001")} & set(files)
