"""Where each engine's model weights are on disk, and how they get there.

With ``models.dir`` set, an engine whose model is a Hugging Face Hub id reads it from
``<models.dir>/<hub id>`` (``/shared/models/datalab-to/chandra-ocr-2``), never from the Hub: that
folder holds the repo's files as the Hub has them at one commit and, written last and atomically,
``.ocrflow-model.json``::

    {"repo_id": ..., "revision": <the revision asked, null: the default branch>,
     "commit": <the commit it resolved to>, "files": {path: size}, "downloaded_at": ...}

whose presence means "complete and verified against the Hub's checksums". ``python -m ocrflow
models download`` (ocrflow/run/download.py) fills the folders on a machine with internet; an OCR job
checks its engine's folder before it starts anything (``check``) and stops with one line when the
model is not there. Nothing here asks the Hub: the jobs' envs need no Hub client for it.

A model given as a path (``engines.<name>.model: /somewhere/model``) is read from that path, as
it always was.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

from ocrflow.engines.base import EngineUnavailable

RECORD = ".ocrflow-model.json"
# Engines that load a model by hub id, and so have one to download.
LOADERS = ("chandra", "deepseek", "nougat")
COMMAND = "python -m ocrflow models download"


def is_path(model: str) -> bool:
    """A model given as a path; anything else is a hub id (``org/name``)."""
    return model.startswith(("/", ".", "~"))


def hub_folder(settings: dict[str, Any]) -> Path | None:
    """models.dir's folder of the engine's model: None when models.dir is not set or the model is
    a path. Absolute, as the servers and loaders are given it."""
    model = str(settings.get("model", ""))
    if not settings.get("models_dir") or not model or is_path(model):
        return None
    return Path(os.path.abspath(Path(settings["models_dir"]).expanduser() / model))


def model_folder(settings: dict[str, Any]) -> Path | None:
    """The folder the model is read from, where it is one: models.dir's, or a local path."""
    if folder := hub_folder(settings):
        return folder
    model = str(settings.get("model", ""))
    local = Path(model).expanduser()
    return local if model and local.is_dir() else None


def loader_argument(settings: dict[str, Any]) -> str:
    """What the engine hands its loader (`vllm serve`, from_pretrained): models.dir's folder
    where it is set, else the model as configured (a hub id or a path)."""
    folder = hub_folder(settings)
    return str(folder) if folder else str(settings["model"])


def pinned_for_hub(settings: dict[str, Any]) -> str | None:
    """The revision to ask the Hub for when the engine loads its model from there itself (no
    models.dir, a hub id): the pinned one; None otherwise."""
    model = str(settings.get("model", ""))
    if hub_folder(settings) or not model or is_path(model):
        return None
    return settings.get("revision") or None


def loader_options(settings: dict[str, Any]) -> dict[str, Any]:
    """from_pretrained's options besides the model: a folder of models.dir is read as it is
    (local_files_only: nothing asked of the Hub); a hub id at its pinned revision, if any."""
    if hub_folder(settings):
        return {"local_files_only": True}
    pinned = pinned_for_hub(settings)
    return {"revision": pinned} if pinned else {}


def read_record(folder: Path) -> dict[str, Any] | None:
    try:
        record = json.loads((folder / RECORD).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    return record if isinstance(record, dict) and record.get("commit") else None


def check(engine: str, settings: dict[str, Any]) -> None:
    """Before anything starts: a model given as a path exists; a model read from models.dir is
    there, complete and at the pinned revision. Raises EngineUnavailable with one line naming
    the engine, the folder and what fills it."""
    model = str(settings["model"])
    if is_path(model) and not Path(model).expanduser().exists():
        raise EngineUnavailable(f"engine {engine}: model path {model} does not exist "
                                f"(engines.{engine}.model)")
    folder = hub_folder(settings)
    if folder is None:
        return
    fill = (f"run `{COMMAND} --to {settings['models_dir']}` with this config on a node with "
            "internet")
    record = read_record(folder)
    if record is None:
        why = " (a download there did not finish)" if folder.is_dir() else ""
        raise EngineUnavailable(f"engine {engine}: model {model} is not in {folder} "
                                f"(models.dir){why}: {fill}")
    if record.get("repo_id") != model:
        raise EngineUnavailable(f"engine {engine}: {folder} holds {record.get('repo_id')}, not "
                                f"{model} (engines.{engine}.model): {fill}")
    pinned = settings.get("revision")
    if pinned and not _same_revision(pinned, record):
        raise EngineUnavailable(
            f"engine {engine}: {folder} holds {model} at {record['commit']}, not at "
            f"engines.{engine}.revision {pinned}: {fill}")
    if damage := damaged(folder, record):
        raise EngineUnavailable(f"engine {engine}: model {model} in {folder} is damaged "
                                f"({damage}): {fill}")


def damaged(folder: Path, record: dict[str, Any]) -> str | None:
    """The first file the record lists that is not there at its size (a cheap look, no
    checksum), as "<path> is missing" or "<path> has N of M bytes"; None: all there."""
    for path, size in (record.get("files") or {}).items():
        try:
            found = (folder / path).stat().st_size
        except OSError:
            return f"{path} is missing"
        if found != size:
            return f"{path} has {found:,} of {size:,} bytes"
    return None


def _same_revision(pinned: str, record: dict[str, Any]) -> bool:
    """Whether the folder is at the pinned revision: the one it was downloaded for, or its commit
    (or that commit's first 7+ hex digits)."""
    commit = str(record["commit"])
    return pinned == record.get("revision") or (len(pinned) >= 7 and commit.startswith(pinned))


def revision(settings: dict[str, Any]) -> str | None:
    """The model's commit as far as it is known: recorded with the folder it is read from; else
    the revision pinned for a hub id; else None (the Hub's newest then, or a folder of the
    user's)."""
    folder = model_folder(settings)
    record = read_record(folder) if folder else None
    if record:
        return str(record["commit"])
    return None if is_path(str(settings.get("model", ""))) else settings.get("revision") or None


def provenance(settings: dict[str, Any], loaded_here: bool = True) -> dict[str, Any]:
    """The model part of a page record's provenance: ``model`` as configured, ``model_path`` when
    read from a folder, ``model_revision`` (recorded commit, pinned revision, or null).
    ``loaded_here`` False: a server of someone else's (an endpoint), which loaded what it did."""
    if not loaded_here:
        return {"model": settings["model"], "model_revision": settings.get("revision") or None}
    folder = hub_folder(settings)
    if folder is None and (local := model_folder(settings) or _local_file(settings)):
        folder = local.resolve()
    extra = {"model_path": str(folder)} if folder else {}
    return {"model": settings["model"], **extra, "model_revision": revision(settings)}


def _local_file(settings: dict[str, Any]) -> Path | None:
    model = str(settings.get("model", ""))
    local = Path(model).expanduser()
    return local if model and local.exists() else None
