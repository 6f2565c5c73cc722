"""The engines' models on disk (ocrflow/engines/models.py): `python -m ocrflow models download`
(ocrflow/run/download.py) as a user runs it, against a hub-compatible server (tests/support/hub.py,
through
HF_ENDPOINT) serving the tests' tiny model under the engines' hub ids; and the jobs that read
models.dir's folders: the model argument, the check before any server starts, the provenance,
the page-store key."""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import Any

import pytest

from ocrflow import engines
from ocrflow.__main__ import main
from ocrflow.engines import EngineUnavailable, models
from ocrflow.run import config, download
from tests.conftest import REPO
from tests.support.hub import serve_hub
from tests.support.stand_in import DEFAULTS, fake_command, run_job, settings

CHANDRA, DEEPSEEK = "datalab-to/chandra-ocr-2", "deepseek-ai/DeepSeek-OCR"
VLLM_VENV = REPO / ".venv-vllm"
COMMIT = "0123456789abcdef0123456789abcdef01234567"


# --- the jobs: where the model is read from ---------------------------------------------------


def place(models_dir: Path, repo_id: str, commit: str = COMMIT,
          revision: str | None = None) -> Path:
    """A model folder as `models download` leaves it: a file and the record naming it."""
    folder = models_dir / repo_id
    folder.mkdir(parents=True)
    (folder / "config.json").write_text("{}")
    (folder / models.RECORD).write_text(json.dumps({
        "repo_id": repo_id, "revision": revision, "commit": commit,
        "files": {"config.json": 2}, "downloaded_at": "2026-01-01T00:00:00Z"}))
    return folder


def test_the_page_store_key_is_the_same_with_models_dir_and_without() -> None:
    # The keys of 80ccb6a, before models.dir and revision were settings.
    before = {"chandra": "dcc872026528", "deepseek": "be3ecd7fcc4f", "nougat": "a1988920ca97"}
    for name, key in before.items():
        defaults = DEFAULTS["engines"][name]
        assert defaults["revision"] is None
        assert engines.create(name, dict(defaults)).fingerprint() == key
        assert engines.create(name, {**defaults, "models_dir": "/shared/models"}).fingerprint() \
            == key
        pinned = engines.create(name, {**defaults, "revision": "v1"}).fingerprint()
        assert pinned != key  # other weights, other text
        assert engines.create(name, {**defaults, "revision": "v1",
                                     "models_dir": "/shared/models"}).fingerprint() == pinned
    transformers = {**DEFAULTS["engines"]["deepseek"], "backend": "transformers"}
    assert engines.create("deepseek", transformers).fingerprint() == "0e805ec451b0"
    assert engines.create("deepseek", {**transformers, "models_dir": "/m"}).fingerprint() \
        == "0e805ec451b0"


def test_the_server_is_given_the_folder_and_the_record_names_the_revision(tmp_path: Path) -> None:
    folder = place(tmp_path / "models", CHANDRA)
    engine = engines.create("chandra", settings("chandra", models_dir=str(tmp_path / "models")))
    command = engine.serve_command(81559)
    assert command[2:5] == [str(folder), "--served-model-name", "chandra"]
    assert "--revision" not in command
    provenance = engine.provenance()
    assert (provenance["model"], provenance["model_path"], provenance["model_revision"]) == (
        CHANDRA, str(folder), COMMIT)
    # From the Hub, as before models.dir: the hub id; a pinned revision is asked of the Hub.
    hub = engines.create("chandra", settings("chandra"))
    assert hub.serve_command()[2] == CHANDRA and "--revision" not in hub.serve_command()
    assert hub.provenance()["model_revision"] is None and "model_path" not in hub.provenance()
    pinned = engines.create("chandra", settings("chandra", revision="v2"))
    assert pinned.serve_command()[-2:] == ["--revision", "v2"]
    assert pinned.provenance()["model_revision"] == "v2"
    # A model given as a path is read from there, whatever models.dir says.
    local = engines.create("deepseek", settings("deepseek", model=str(folder),
                                                models_dir=str(tmp_path / "elsewhere")))
    assert local.serve_command()[2] == str(folder)
    assert local.provenance()["model_path"] == str(folder.resolve())
    assert local.provenance()["model_revision"] == COMMIT
    # Someone else's server: the model as configured, nothing read here.
    remote = engines.create("chandra", settings("chandra", endpoint="http://gpu:8000/v1",
                                                models_dir=str(tmp_path / "models")))
    assert remote.provenance()["model"] == CHANDRA and "model_path" not in remote.provenance()


def start_error(name: str, changes: dict[str, Any]) -> str:
    engine = engines.create(name, settings(name, server_command=fake_command(), device="cpu",
                                           **changes))
    with pytest.raises(EngineUnavailable) as error:
        engine.start()
    assert "\n" not in str(error.value)
    return str(error.value)


def test_a_model_not_in_models_dir_stops_the_engine_at_start_in_one_line(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    log = tmp_path / "requests.jsonl"
    monkeypatch.setenv("FAKE_VLLM_LOG", str(log))
    monkeypatch.setenv("FAKE_VLLM_STARTUP_S", "0")
    shared = tmp_path / "shared" / "models"
    fill = (f"run `python -m ocrflow models download --to {shared}` with this config on a node "
            "with internet")
    assert start_error("chandra", {"models_dir": str(shared)}) == (
        f"engine chandra: model {CHANDRA} is not in {shared}/{CHANDRA} (models.dir): {fill}")
    (shared / DEEPSEEK).mkdir(parents=True)  # a download that did not finish
    assert start_error("deepseek", {"models_dir": str(shared)}) == (
        f"engine deepseek: model {DEEPSEEK} is not in {shared}/{DEEPSEEK} (models.dir) "
        f"(a download there did not finish): {fill}")
    folder = place(shared, CHANDRA, revision="v1")
    assert start_error("chandra", {"models_dir": str(shared), "revision": "v2"}) == (
        f"engine chandra: {folder} holds {CHANDRA} at {COMMIT}, not at "
        f"engines.chandra.revision v2: {fill}")
    (folder / "config.json").write_text("{")  # cut since it was verified
    assert start_error("chandra", {"models_dir": str(shared), "revision": "v1"}) == (
        f"engine chandra: model {CHANDRA} in {folder} is damaged (config.json has 1 of 2 "
        f"bytes): {fill}")
    assert start_error("nougat", {"models_dir": str(shared)}).startswith(
        f"engine nougat: model facebook/nougat-small is not in {shared}/facebook/nougat-small")
    assert not Path(f"{log}.servers").exists()  # no server was started


def test_a_job_whose_model_is_missing_starts_no_server(tmp_path: Path,
                                                      monkeypatch: pytest.MonkeyPatch) -> None:
    log = tmp_path / "requests.jsonl"
    monkeypatch.setenv("FAKE_VLLM_LOG", str(log))
    shared = tmp_path / "models"
    chosen = settings("chandra", server_command=fake_command(), device="cpu",
                      models_dir=str(shared))
    with pytest.raises(EngineUnavailable, match=rf"^engine chandra: model {CHANDRA} is not in "
                                                rf"{shared}/{CHANDRA} \(models.dir\): run "):
        run_job(tmp_path, "chandra", chosen, [1, 2])
    assert not Path(f"{log}.servers").exists()
    # With the folder there, the same job starts its server on it.
    folder = place(shared, CHANDRA)
    pages = run_job(tmp_path, "chandra", chosen, [1, 2])
    (start,) = [json.loads(line) for line in Path(f"{log}.servers").read_text().splitlines()
                if json.loads(line)["event"] == "start"]
    assert start["argv"][0] == str(folder)
    provenance = pages[1][0]["provenance"]
    assert (provenance["model"], provenance["model_path"], provenance["model_revision"]) == (
        CHANDRA, str(folder), COMMIT)


def test_nougat_reads_its_folder_with_nothing_asked_of_the_hub(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    pytest.importorskip("torch")
    transformers = pytest.importorskip("transformers")
    from tests.test_nougat import nougat_settings, tiny_nougat

    shared = tmp_path / "models"
    folder = tiny_nougat(shared / "facebook" / "nougat-small")
    files = {p.name: p.stat().st_size for p in folder.iterdir()}
    (folder / models.RECORD).write_text(json.dumps({
        "repo_id": "facebook/nougat-small", "revision": None, "commit": COMMIT, "files": files}))
    loaded = []
    for cls in (transformers.NougatProcessor, transformers.VisionEncoderDecoderModel):
        original = cls.from_pretrained.__func__

        def spy(klass, model, *args, _original=original, **kwargs):
            loaded.append((model, kwargs.get("local_files_only")))
            return _original(klass, model, *args, **kwargs)

        monkeypatch.setattr(cls, "from_pretrained", classmethod(spy))
    engine = engines.create("nougat", {**nougat_settings(Path("x")), "model":
                                       "facebook/nougat-small", "models_dir": str(shared)})
    engine.start()
    engine.close()
    assert loaded[:2] == [(str(folder), True), (str(folder), True)]
    provenance = engine.provenance()
    assert (provenance["model_path"], provenance["model_revision"]) == (str(folder), COMMIT)


def test_deepseeks_transformers_backend_loads_the_folder(tmp_path: Path,
                                                         monkeypatch: pytest.MonkeyPatch) -> None:
    torch = pytest.importorskip("torch")
    transformers = pytest.importorskip("transformers")

    class Loaded:
        eos_token_id = 1

        def eval(self):
            return self

        def cuda(self):
            return self

        def to(self, _dtype):
            return self

    loaded = []

    def loader(model, **kwargs):
        loaded.append((model, kwargs.get("local_files_only"), kwargs.get("revision")))
        return Loaded()

    monkeypatch.setitem(sys.modules, "torchvision", type(sys)("torchvision"))
    monkeypatch.setattr(torch.cuda, "is_available", lambda: True)
    monkeypatch.setattr(torch.cuda, "set_device", lambda _index: None)
    monkeypatch.setattr(transformers.AutoTokenizer, "from_pretrained", loader)
    monkeypatch.setattr(transformers.AutoModel, "from_pretrained", loader)
    monkeypatch.setenv("CUDA_VISIBLE_DEVICES", "0")
    monkeypatch.setenv("OCRFLOW_GPU_LOCK_DIR", str(tmp_path / "locks"))
    folder = place(tmp_path / "models", DEEPSEEK)
    changes = {"backend": "transformers", "models_dir": str(tmp_path / "models")}
    engine = engines.create("deepseek", settings("deepseek", **changes))
    engine.start()
    engine.close()
    assert loaded == [(str(folder), True, None)] * 2
    assert engine.provenance()["model_revision"] == COMMIT
    pinned = engines.create("deepseek", settings("deepseek", backend="transformers",
                                                 revision="v1"))
    pinned.start()
    pinned.close()
    assert loaded[2:] == [(DEEPSEEK, None, "v1")] * 2
    (folder / models.RECORD).unlink()
    with pytest.raises(EngineUnavailable, match=rf"^engine deepseek: model {DEEPSEEK} is not in "
                                                r".* \(a download there did not finish\)"):
        engine.start()


def test_a_full_disk_is_one_line_naming_the_engine_and_repo(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    import errno

    import huggingface_hub

    def full(*_args, **_kwargs):
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(huggingface_hub.HfApi, "model_info",
                        lambda self, repo_id, revision=None: type("Info", (), {"sha": COMMIT}))
    monkeypatch.setattr(huggingface_hub, "snapshot_download", full)
    folder = place(tmp_path, CHANDRA)
    (folder / "config.json").unlink()  # to be fetched again: the record goes first
    target = download.Target("chandra", CHANDRA, None, folder)
    (outcome,) = download.download([target], lambda _line: None)
    assert outcome.error == (f"engine chandra: {CHANDRA}: no space left in {folder} (No space "
                             "left on device): free some, then run again")
    assert not (folder / models.RECORD).exists()


# --- the download, against the tests' hub ----------------------------------------------------


@pytest.fixture(scope="module")
def tiny(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The tiny model of tests/test_real_vllm.py that answers every page empty (Chandra 2's
    architecture, 5.9 MB), built with vLLM's CPU venv."""
    assert VLLM_VENV.joinpath("bin", "python").exists(), "make test installs vLLM's CPU build"
    folder = tmp_path_factory.mktemp("tiny") / "eos"
    subprocess.run([str(VLLM_VENV / "bin" / "python"),
                    str(REPO / "tests/support/vllm_cpu/build_model.py"),
                    str(folder), "--answer", "eos"], check=True, capture_output=True, timeout=300)
    return folder


def both(tiny: Path) -> dict[str, Path]:
    return {CHANDRA: tiny, DEEPSEEK: tiny}


def ocrflow_models(tmp_path: Path, hub_url: str, *args: str, env: dict[str, str] | None = None,
                   config_extra: dict | None = None,
                   wait: bool = True) -> subprocess.CompletedProcess[str] | subprocess.Popen:
    """`python -m ocrflow models download ARGS` in a folder of the user's, their config saying
    Chandra reads, DeepSeek-OCR re-reads."""
    import yaml

    cfg = tmp_path / "run.yaml"
    cfg.write_text(yaml.safe_dump({"input": str(tmp_path), "results": str(tmp_path / "results"),
                                   "primary": {"engine": "chandra"},
                                   "recovery": {"engine": "deepseek"}, **(config_extra or {})}))
    environment = {name: value for name, value in os.environ.items()
                   if not name.startswith(("HF_", "HUGGINGFACE"))}
    environment |= {"HF_ENDPOINT": hub_url, "HF_HOME": str(tmp_path / "hf-home"),
                    "NO_PROXY": "127.0.0.1", **(env or {})}
    command = [sys.executable, "-m", "ocrflow", "models", "download", "--configfile", str(cfg),
               *args]
    if not wait:
        return subprocess.Popen(command, cwd=tmp_path, env=environment, stdout=subprocess.PIPE,
                                stderr=subprocess.PIPE, text=True)
    return subprocess.run(command, cwd=tmp_path, env=environment, capture_output=True,
                          text=True, timeout=300)


def same_files(folder: Path, source: Path) -> bool:
    repo = {p.relative_to(source).as_posix(): p.read_bytes() for p in source.rglob("*")
            if p.is_file()}
    got = {p.relative_to(folder).as_posix(): p.read_bytes() for p in folder.rglob("*")
           if p.is_file() and ".cache" not in p.parts and p.name != models.RECORD}
    return got == repo


def errors(result: subprocess.CompletedProcess[str]) -> list[str]:
    return [line for line in result.stderr.splitlines() if line.startswith("ocrflow: ")]


def resolved(hub, repo_id: str, method: str = "GET") -> list[dict]:
    """The file requests of the repo (HEAD and GET of /resolve/)."""
    return [r for r in hub.requests if r["repo"] == repo_id and r["file"]
            and r["method"] == method]


@pytest.mark.slow
@pytest.mark.real_server  # tiny: built with vLLM's CPU build
def test_the_command_downloads_each_engines_model_verified_at_the_hubs_commit(
        tiny: Path, tmp_path: Path) -> None:
    shared = tmp_path / "shared" / "models"
    with serve_hub(both(tiny)) as hub:
        result = ocrflow_models(tmp_path, hub.url, "--to", str(shared))
        assert result.returncode == 0, result.stderr[-3000:]
        for repo_id in (CHANDRA, DEEPSEEK):
            folder = shared / repo_id
            assert same_files(folder, tiny)
            record = json.loads((folder / models.RECORD).read_text())
            assert (record["repo_id"], record["revision"], record["commit"]) == (
                repo_id, None, hub.commit)
            assert record["files"] == {p.name: p.stat().st_size for p in tiny.iterdir()}
        lines = result.stdout.splitlines()
        size = sum(p.stat().st_size for p in tiny.iterdir())
        assert lines == [
            f"chandra: {CHANDRA} at the default branch -> {shared}/{CHANDRA}",
            f"deepseek: {DEEPSEEK} at the default branch -> {shared}/{DEEPSEEK}",
            f"chandra: {CHANDRA}@{hub.commit} in {shared}/{CHANDRA}: 7 files, "
            f"{size / 1e6:.1f} MB, verified",
            f"deepseek: {DEEPSEEK}@{hub.commit} in {shared}/{DEEPSEEK}: 7 files, "
            f"{size / 1e6:.1f} MB, verified",
            "The jobs read these folders once the config says:",
            f"models: {{dir: {shared}}}"]
        # Run again, with models.dir in the config: nothing fetched, every file verified again.
        hub.requests.clear()
        again = ocrflow_models(tmp_path, hub.url, config_extra={"models": {"dir": str(shared)}})
        assert again.returncode == 0, again.stderr[-3000:]
        assert not resolved(hub, CHANDRA) and not resolved(hub, DEEPSEEK)
        assert again.stdout.splitlines()[0] == (
            f"chandra: {CHANDRA} at {hub.commit} (recorded in {models.RECORD}) -> "
            f"{shared}/{CHANDRA}")
        assert again.stdout.splitlines()[-1].endswith(", verified")  # and no config line


@pytest.mark.slow
@pytest.mark.real_server  # tiny: built with vLLM's CPU build
def test_a_rerun_keeps_the_recorded_commit_until_a_revision_is_pinned(
        tiny: Path, tmp_path: Path) -> None:
    newer = shutil.copytree(tiny, tmp_path / "newer")
    (newer / "generation_config.json").write_text('{"temperature": 0.5}')
    (newer / "chat_template.jinja").unlink()  # gone in the newer commit
    shared = tmp_path / "models"
    with serve_hub(both(tiny)) as hub:
        assert ocrflow_models(tmp_path, hub.url, "--to", str(shared),
                              "--engine", "chandra").returncode == 0
        commit = hub.push(CHANDRA, newer)  # the Hub's main moves on
        again = ocrflow_models(tmp_path, hub.url, "--to", str(shared), "--engine", "chandra")
        assert again.returncode == 0, again.stderr[-3000:]
        folder = shared / CHANDRA
        assert json.loads((folder / models.RECORD).read_text())["commit"] == hub.commit
        assert same_files(folder, tiny)
        pinned = ocrflow_models(tmp_path, hub.url, "--to", str(shared), "--engine", "chandra",
                                config_extra={"engines": {"chandra": {"revision": "main"}}})
        assert pinned.returncode == 0, pinned.stderr[-3000:]
        record = json.loads((folder / models.RECORD).read_text())
        assert (record["revision"], record["commit"]) == ("main", commit)
        assert same_files(folder, newer)
        assert f"chandra: removed chat_template.jinja: not in {CHANDRA}@{commit}" in \
            pinned.stdout.splitlines()
        assert not (shared / DEEPSEEK).exists()  # --engine chandra only


@pytest.mark.slow
@pytest.mark.real_server  # tiny: built with vLLM's CPU build
def test_a_connection_cut_mid_file_resumes_from_where_it_stopped(tiny: Path,
                                                                 tmp_path: Path) -> None:
    """huggingface_hub writes what it received in 10 MiB chunks (DOWNLOAD_CHUNK_SIZE) and asks
    again from the last whole chunk: the repo gets a 30 MiB file, cut after 15 MiB."""
    source = shutil.copytree(tiny, tmp_path / "source")
    (source / "weights.bin").write_bytes(os.urandom(30 * 2**20))
    shared = tmp_path / "models"
    with serve_hub({CHANDRA: source}) as hub:
        hub.cut(CHANDRA, "weights.bin", 15 * 2**20)
        result = ocrflow_models(tmp_path, hub.url, "--to", str(shared), "--engine", "chandra")
        assert result.returncode == 0, result.stderr[-3000:]
        asked = [r["range"] for r in hub.file_requests(CHANDRA, "weights.bin")]
        assert asked == [None, f"bytes={10 * 2**20}-"]
        assert same_files(shared / CHANDRA, source)
        assert result.stdout.splitlines()[-3].endswith("8 files, 37.3 MB, verified")


@pytest.mark.slow
@pytest.mark.real_server  # tiny: built with vLLM's CPU build
def test_a_download_killed_mid_file_is_finished_by_the_next_run(tiny: Path,
                                                                tmp_path: Path) -> None:
    """A run killed (a login node's session closed): the next one fetches what was missing and
    nothing else. huggingface_hub 2.4 keeps no partial file across runs (each is named after its
    process and deleted when it fails), so the cut file comes again whole."""
    shared = tmp_path / "models"
    folder = shared / CHANDRA
    with serve_hub({CHANDRA: tiny}) as hub:
        hold = hub.hold(CHANDRA, "model.safetensors", 2**20)
        first = ocrflow_models(tmp_path, hub.url, "--to", str(shared), "--engine", "chandra",
                               wait=False)
        assert hold.reached.wait(120), "the download never reached the file"
        deadline = time.monotonic() + 30  # the other files land while this one hangs
        while len([p for p in folder.glob("*") if p.is_file()]) < 6 \
                and time.monotonic() < deadline:
            time.sleep(0.1)
        first.send_signal(signal.SIGKILL)
        first.communicate()
        hold.released.set()
        assert not (folder / "model.safetensors").exists()
        assert not (folder / models.RECORD).exists()
        landed = {p.name for p in folder.iterdir() if p.is_file()}
        assert len(landed) == 6
        hub.requests.clear()
        again = ocrflow_models(tmp_path, hub.url, "--to", str(shared), "--engine", "chandra")
        assert again.returncode == 0, again.stderr[-3000:]
        assert [r["file"] for r in resolved(hub, CHANDRA)] == ["model.safetensors"]
        assert resolved(hub, CHANDRA)[0]["range"] is None
        assert same_files(folder, tiny)
        assert not list((folder / ".cache").rglob("*.incomplete"))  # the killed run's, removed


@pytest.mark.slow
@pytest.mark.real_server  # tiny: built with vLLM's CPU build
def test_a_file_damaged_on_disk_is_named_and_fetched_again(tiny: Path, tmp_path: Path) -> None:
    shared = tmp_path / "models"
    folder = shared / CHANDRA
    with serve_hub({CHANDRA: tiny}) as hub:
        assert ocrflow_models(tmp_path, hub.url, "--to", str(shared),
                              "--engine", "chandra").returncode == 0
        weights = bytearray((folder / "model.safetensors").read_bytes())
        weights[4096] ^= 0xFF  # one bit flipped on the shared filesystem: same size
        (folder / "model.safetensors").write_bytes(bytes(weights))
        hub.requests.clear()
        again = ocrflow_models(tmp_path, hub.url, "--to", str(shared), "--engine", "chandra")
        assert again.returncode == 0, again.stderr[-3000:]
        import hashlib

        expected = hashlib.sha256((tiny / "model.safetensors").read_bytes()).hexdigest()
        found = hashlib.sha256(bytes(weights)).hexdigest()
        assert again.stdout.splitlines()[1:3] == [
            f"engine chandra: {CHANDRA}@{hub.commit}: model.safetensors does not match the "
            f"Hub's sha256 (expected {expected}, found {found})",
            "chandra: fetching model.safetensors again"]
        assert [r["file"] for r in resolved(hub, CHANDRA)] == ["model.safetensors"]
        assert same_files(folder, tiny)
        assert json.loads((folder / models.RECORD).read_text())["commit"] == hub.commit


@pytest.mark.slow
@pytest.mark.real_server  # tiny: built with vLLM's CPU build
def test_an_unknown_repo_fails_its_engine_in_one_line_and_the_other_downloads(
        tiny: Path, tmp_path: Path) -> None:
    shared = tmp_path / "models"
    with serve_hub(both(tiny)) as hub:
        result = ocrflow_models(tmp_path, hub.url, "--to", str(shared), config_extra={
            "engines": {"chandra": {"model": "datalab-to/chandra-ocr-9"}}})
        assert result.returncode == 1
        assert errors(result) == [
            f"ocrflow: engine chandra: datalab-to/chandra-ocr-9: no such repo on {hub.url} (a "
            "private one needs a token: `hf auth login`, or export HF_TOKEN); "
            "engines.chandra.model"]
        assert not (shared / "datalab-to").exists()
        assert same_files(shared / DEEPSEEK, tiny)
        summary = result.stdout.splitlines()
        assert "chandra: datalab-to/chandra-ocr-9 not downloaded (the error above)" in summary
        assert summary[-1] == f"models: {{dir: {shared}}}"  # for the model that is there


@pytest.mark.slow
@pytest.mark.real_server  # tiny: built with vLLM's CPU build
def test_what_the_hub_refuses_is_one_line_naming_the_engine_and_repo(
        tiny: Path, tmp_path: Path) -> None:
    shared = tmp_path / "models"
    with serve_hub({CHANDRA: tiny}) as hub:
        hub.gate(CHANDRA, "hf_reader")
        gated = ocrflow_models(tmp_path, hub.url, "--to", str(shared), "--engine", "chandra")
        assert (gated.returncode, errors(gated)) == (1, [
            f"ocrflow: engine chandra: {CHANDRA}: gated: accept its conditions at "
            f"{hub.url}/{CHANDRA} with your account, then log in here (`hf auth login`, or "
            "export HF_TOKEN)"])
        assert not (shared / CHANDRA / models.RECORD).exists()
        token = ocrflow_models(tmp_path, hub.url, "--to", str(shared), "--engine", "chandra",
                               env={"HF_TOKEN": "hf_reader"})
        assert token.returncode == 0, token.stderr[-3000:]
        revision = ocrflow_models(tmp_path, hub.url, "--to", str(tmp_path / "other"),
                                  "--engine", "chandra", env={"HF_TOKEN": "hf_reader"},
                                  config_extra={"engines": {"chandra": {"revision": "v9"}}})
        assert errors(revision) == [f"ocrflow: engine chandra: {CHANDRA}: no revision v9 in the "
                                    "repo (engines.chandra.revision)"]
    away = ocrflow_models(tmp_path, hub.url, "--to", str(shared), "--engine", "chandra")
    (line,) = errors(away)
    assert line.startswith(f"ocrflow: engine chandra: {CHANDRA}: cannot reach {hub.url} (")
    assert line.endswith("): run this on a node with internet (behind a proxy: export "
                         "HTTPS_PROXY)")
    assert (shared / CHANDRA / models.RECORD).exists()  # the folder that was good stays so
    offline = ocrflow_models(tmp_path, hub.url, "--to", str(shared), "--engine", "chandra",
                             env={"HF_HUB_OFFLINE": "1"})
    assert errors(offline) == [f"ocrflow: engine chandra: {CHANDRA}: HF_HUB_OFFLINE is set "
                               "here: it is for the jobs; unset it to download"]


@pytest.mark.slow
@pytest.mark.real_server  # tiny: built with vLLM's CPU build
def test_the_real_vllm_server_reads_the_downloaded_folder_offline(
        tiny: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """One start of `vllm serve` (vLLM's CPU build): the job, as a GPU node's runs without
    internet (HF_HUB_OFFLINE=1, the hub gone), starts it on models.dir's folder."""
    from tests.test_real_vllm import CPU_ENV, gone, real_settings, vllm_processes

    shared = tmp_path / "models"
    with serve_hub({CHANDRA: tiny}) as hub:
        result = ocrflow_models(tmp_path, hub.url, "--to", str(shared), "--engine", "chandra")
        assert result.returncode == 0, result.stderr[-3000:]
    folder = shared / CHANDRA
    for name, value in {**CPU_ENV, "HF_HUB_OFFLINE": "1", "TRANSFORMERS_OFFLINE": "1",
                        "HF_ENDPOINT": hub.url, "HF_HOME": str(tmp_path / "job-home")}.items():
        monkeypatch.setenv(name, value)
    seen: list[str] = []

    def server_environment() -> None:  # what the server process runs with
        deadline = time.monotonic() + 600
        while not seen and time.monotonic() < deadline:
            for pid in vllm_processes(folder):
                try:
                    seen.extend(Path(f"/proc/{pid}/environ").read_bytes().decode().split("\0"))
                except OSError:
                    continue
            time.sleep(0.5)

    watcher = threading.Thread(target=server_environment, daemon=True)
    watcher.start()
    chosen = real_settings("chandra", CHANDRA, models_dir=str(shared))
    (tmp_path / "job").mkdir()
    pages = run_job(tmp_path / "job", "chandra", chosen, [1])
    watcher.join(5)
    record, _ = pages[1]
    assert record["error"] == ""  # read (empty: the tiny model answers at once)
    provenance = record["provenance"]
    assert (provenance["model"], provenance["model_path"], provenance["model_revision"]) == (
        CHANDRA, str(folder), hub.commit)
    server_log = (tmp_path / "job" / "job.server-cpu.log").read_text()
    assert f"/bin/vllm serve {folder} --served-model-name chandra " in server_log
    assert "Application startup complete" in server_log
    assert "HF_HUB_OFFLINE=1" in seen
    assert gone(folder)


def test_the_config_names_what_to_download(tmp_path: Path) -> None:
    cfg = config.validate({"input": "x", "primary": {"engine": "chandra"},
                           "recovery": {"engine": "nougat"},
                           "engines": {"nougat": {"model": str(tmp_path)}}})
    found, skipped = download.targets(cfg, "/shared/models")
    assert [(t.engine, t.repo_id, str(t.folder)) for t in found] == [
        ("chandra", CHANDRA, f"/shared/models/{CHANDRA}")]
    assert skipped == [f"nougat: model is the path {tmp_path}: nothing to download"]
    served = config.validate({"input": "x", "primary": {"engine": "tesseract"},
                              "recovery": {"engine": "deepseek"},
                              "engines": {"deepseek": {"endpoint": "http://gpu:8000/v1"}}})
    assert download.targets(served, "/m") == ([], [
        "deepseek: served at http://gpu:8000/v1 (endpoint): nothing to download"])
    found, _ = download.targets(served, "/m", ["nougat"])  # named: whatever the config runs
    assert [t.repo_id for t in found] == ["facebook/nougat-small"]


def test_the_command_reads_the_config_as_snakemake_does(
        monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> None:
    """config/gpu.yaml says only what differs from config/config.yaml (input, results...)."""
    monkeypatch.chdir(REPO)
    assert main(["models", "download", "--configfile", "config/gpu.yaml"]) == 2
    assert capsys.readouterr().err == ("ocrflow: models download: give --to DIR (or set "
                                       "models.dir in the config)\n")
    assert main(["models", "download", "--configfile", "config/gpu.yaml", "--to", "/m",
                 "--engine", "tesseract"]) == 2
    assert capsys.readouterr().err == ("ocrflow: models download: --engine tesseract: an engine "
                                       "with a model to download is one of chandra, deepseek, "
                                       "nougat\n")
