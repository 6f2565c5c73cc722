"""One error type: every error ocrflow raises for a user is an OcrflowError, told as its line by
every entry point through errors.report, exiting with its class's status; its line survives a
pickle and an isolated worker."""

from __future__ import annotations

import logging
import pickle
from pathlib import Path
from types import SimpleNamespace

import pytest

from ocrflow.__main__ import main
from ocrflow.bench.spec import SpecError
from ocrflow.core import errors
from ocrflow.core.errors import OcrflowError, UsageError
from ocrflow.core.records import error_line
from ocrflow.engines.base import EngineUnavailable
from ocrflow.engines.client import RequestFailed, StreamError
from ocrflow.engines.ocr import EngineFailing, PagesToRetry
from ocrflow.engines.server import ServerFailed
from ocrflow.inputs.corpus import InputError
from ocrflow.inputs.isolation import IsolatedPool, TooLarge
from ocrflow.results.database import ExportError
from ocrflow.run import entrypoints
from ocrflow.run.config import ConfigError
from ocrflow.run.download import DownloadFailed
from ocrflow.run.environment import NotShared
from ocrflow.run.status import NoPlan
from tests.conftest import REPO, Workspace
from tests.support.isolation_tasks import ocrflow_error

# Each class, the built-in base its callers catch it by, and its exit status (2: change the
# command or the configuration; 1: the run failed).
CLASSES = [
    (EngineUnavailable, RuntimeError, 1), (EngineFailing, RuntimeError, 1),
    (PagesToRetry, RuntimeError, 1), (RequestFailed, RuntimeError, 1),
    (StreamError, RuntimeError, 1), (ServerFailed, RuntimeError, 1),
    (TooLarge, MemoryError, 1), (NotShared, RuntimeError, 1), (DownloadFailed, Exception, 1),
    (ExportError, Exception, 2), (InputError, ValueError, 2), (ConfigError, ValueError, 2),
    (NoPlan, RuntimeError, 2), (SpecError, ValueError, 2), (UsageError, Exception, 2),
]


def _made(cls: type[OcrflowError], line: str) -> OcrflowError:
    return cls(line, transient=False) if cls is RequestFailed else cls(line)


def _all_subclasses(cls: type) -> set[type]:
    return {sub for direct in cls.__subclasses__() for sub in {direct, *_all_subclasses(direct)}}


def test_every_error_class_is_an_ocrflow_error_with_its_status() -> None:
    assert _all_subclasses(OcrflowError) == {cls for cls, _, _ in CLASSES}
    for cls, builtin, status in CLASSES:
        assert issubclass(cls, builtin) and cls.exit_status == status, cls


@pytest.mark.parametrize(("cls", "status"), [(cls, status) for cls, _, status in CLASSES])
def test_a_pickled_error_keeps_its_class_line_and_attributes(cls: type[OcrflowError],
                                                            status: int) -> None:
    error = _made(cls, f"{cls.__name__}: what to change")
    error.detail = "set after"  # type: ignore[attr-defined]
    again = pickle.loads(pickle.dumps(error))
    assert type(again) is cls and str(again) == str(error) and again.exit_status == status
    assert again.detail == "set after"  # type: ignore[attr-defined]
    if cls is RequestFailed:
        assert again.transient is False


def test_an_error_in_an_isolated_worker_arrives_with_its_line() -> None:
    tasks = ["shard", "request", "return shard", "return request"]
    with IsolatedPool(ocrflow_error, workers=1, timeout_s=60) as pool:
        outcomes = {o.task: o for o in pool.imap_unordered(tasks)}
    for task in ("shard", "request"):  # raised: the line the parent would have written itself
        with pytest.raises(OcrflowError) as raised:
            ocrflow_error(task)
        assert not outcomes[task].ok and outcomes[task].error == error_line(raised.value)
    returned = outcomes["return request"].value  # returned: the error itself, pickled
    assert isinstance(returned, RequestFailed) and returned.transient is True
    assert str(returned) == "engine x: server unreachable (3 attempts)"
    assert str(outcomes["return shard"].value) == "input: shard cannot be used"


def test_report_prefixes_each_line_and_returns_the_status(capsys, caplog) -> None:
    assert errors.report(DownloadFailed("engine a: one\nengine b: two")) == 1
    assert capsys.readouterr().err == "ocrflow: engine a: one\nocrflow: engine b: two\n"
    assert errors.report(ConfigError("config error: x: bad"), prefix="") == 2
    assert capsys.readouterr().err == "config error: x: bad\n"
    with caplog.at_level(logging.ERROR, logger="ocrflow"):
        assert errors.report(InputError("input: gone"), "", logging.getLogger("ocrflow")) == 2
    assert caplog.messages == ["input: gone"] and capsys.readouterr().err == ""


def test_the_command_line_reports_a_usage_error(tmp_path: Path, capsys) -> None:
    run = ["--configfile", str(REPO / "config" / "config.yaml"), "--config",
           f"results={tmp_path}", f"input={tmp_path}"]
    assert main(["retry-failed", *run, "--below", "2"]) == 2
    assert capsys.readouterr().err == ("ocrflow: --below 2.0: a quality score is between 0 "
                                       "and 1\n")
    assert main(["models", "download", *run, "--to", str(tmp_path), "--engine", "nope"]) == 2
    assert capsys.readouterr().err == ("ocrflow: models download: --engine nope: an engine with "
                                       "a model to download is one of chandra, deepseek, nougat\n")
    assert main(["export", "--results", str(tmp_path / "none")]) == 2  # a ConfigError
    assert capsys.readouterr().err.startswith("ocrflow: config error: results: no run recorded")
    assert main(["status", "--configfile", str(tmp_path / "none.yaml")]) == 2
    err = capsys.readouterr().err
    assert err.startswith("ocrflow: ") and "none.yaml" in err and len(err.splitlines()) == 1


def test_a_job_reports_its_error_as_one_line_and_exits_with_its_status(
        tmp_path: Path, monkeypatch) -> None:
    log = tmp_path / "job.log"
    job = SimpleNamespace(log=[str(log)], rule="export", attempt=1, config={})

    def refuse() -> None:
        raise ExportError("export: ocrflow.sqlite is locked")

    monkeypatch.setattr(logging.getLogger(), "handlers", [])  # _run installs its own
    with pytest.raises(SystemExit) as stopped:
        entrypoints._run(job, refuse)
    assert stopped.value.code == 2
    lines = log.read_text().splitlines()
    assert lines[-1].endswith(" ERROR ocrflow: export: ocrflow.sqlite is locked")
    assert "Traceback" not in log.read_text()


@pytest.mark.slow  # a Snakemake dry run
def test_the_snakefile_reports_a_config_error_as_its_line(workspace: Workspace) -> None:
    workspace.config["input"] = str(workspace.root / "no-such-folder")
    result = workspace.snakemake("-n", check=False)
    assert result.returncode != 0 and "Traceback" not in result.stderr
    assert any(line.startswith("config error: input:") and "no-such-folder" in line
               for line in result.stderr.splitlines())
