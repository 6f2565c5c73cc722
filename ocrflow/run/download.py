"""`python -m ocrflow models download`: each engine's model from the Hugging Face Hub into its
folder of models.dir (ocrflow/engines/models.py says where, and what the record there means), on a
machine with internet, with huggingface_hub:

- the revision: ``engines.<name>.revision`` when set; else the commit the folder's record names
  (a rerun verifies that commit again, never moves to a newer one); else the default branch,
  resolved to its commit, which the record keeps (the pin);
- ``snapshot_download(repo, revision=<commit>, local_dir=<folder>)``: files already there that
  match the Hub's ETag are kept; within a run, a connection lost mid-file is resumed with an HTTP
  Range from the last whole 10 MiB written; across runs, huggingface_hub 2.4 keeps no partial
  file (each is named after its process and deleted when it fails), so the file cut starts over;
- ``verify_repo_checksums``: each file against the Hub's sha256 (LFS) or git blob sha1; a damaged
  or missing one is named, fetched once more and verified again; a file another revision left
  is removed; one of someone else's fails the engine;
- the record, last and atomically; it goes first whenever anything in the folder changes.

Each failure is one line naming the engine and the repo; the other engines go on.
"""

from __future__ import annotations

import errno
import json
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ocrflow.core import atomic
from ocrflow.core.errors import OcrflowError
from ocrflow.engines import models

# What huggingface_hub keeps of a download inside its local_dir (partial files, ETags): never
# part of the repo, never verified.
HF_METADATA = Path(".cache", "huggingface")


@dataclass
class Target:
    """One engine's model to fetch into its folder."""

    engine: str
    repo_id: str
    revision: str | None  # engines.<name>.revision
    folder: Path


@dataclass
class Outcome:
    target: Target
    commit: str = ""
    files: dict[str, int] = field(default_factory=dict)
    error: str = ""  # one line per problem

    def summary(self) -> str:
        t = self.target
        if self.error:
            return f"{t.engine}: {t.repo_id} not downloaded (the error above)"
        return (f"{t.engine}: {t.repo_id}@{self.commit} in {t.folder}: {len(self.files)} files, "
                f"{_size(sum(self.files.values()))}, verified")


class DownloadFailed(OcrflowError):
    """What went wrong, as lines (each naming the engine and repo)."""


def targets(config: dict[str, Any], models_dir: str | Path,
            only: Iterable[str] = ()) -> tuple[list[Target], list[str]]:
    """The models to download for the engines the config runs (primary, recovery), or those
    ``only`` names; and one line for each engine left out (an endpoint, a model given as a path).
    """
    from ocrflow.engines import engine_settings

    names = list(dict.fromkeys(only)) or [
        name for name in dict.fromkeys([config["primary"]["engine"], config["recovery"]["engine"]])
        if name in models.LOADERS]
    found, skipped = [], []
    for name in names:
        settings = {**engine_settings(config, name), "models_dir": str(models_dir)}
        if settings.get("endpoint"):
            skipped.append(f"{name}: served at {settings['endpoint']} (endpoint): nothing to "
                           "download")
        elif (folder := models.hub_folder(settings)) is None:
            skipped.append(f"{name}: model is the path {settings['model']}: nothing to download")
        else:
            found.append(Target(name, settings["model"], settings.get("revision") or None,
                                folder))
    return found, skipped


def download(targets: list[Target], say: Callable[[str], None]) -> list[Outcome]:
    """Each target fetched, verified and recorded; a failure is recorded in its outcome and the
    others go on. Two engines on one repo fetch it once."""
    outcomes: list[Outcome] = []
    done: dict[Path, Outcome] = {}
    for target in targets:
        if target.folder in done:
            first = done[target.folder]
            outcomes.append(Outcome(target, first.commit, first.files, first.error))
            continue
        outcome = Outcome(target)
        try:
            outcome.commit, outcome.files = fetch(target, say)
        except DownloadFailed as failed:
            outcome.error = str(failed)
        done[target.folder] = outcome
        outcomes.append(outcome)
    return outcomes


def fetch(target: Target, say: Callable[[str], None]) -> tuple[str, dict[str, int]]:
    """One repo into its folder at the revision to keep (see ``_asked``), verified file by file;
    the record written last. Returns (commit, files); raises DownloadFailed, whatever failed, with
    one line per problem, each naming the engine and the repo."""
    record = models.read_record(target.folder)
    if record and record.get("repo_id") != target.repo_id:
        record = None
    asked, why = _asked(target, record)
    say(f"{target.engine}: {target.repo_id} at {asked or 'the default branch'}{why} "
        f"-> {target.folder}")
    try:
        return _fetch(target, record, asked, say)
    except DownloadFailed:
        raise
    except Exception as exc:
        raise DownloadFailed(f"engine {target.engine}: {target.repo_id}: "
                             f"{_reason(exc, target, asked)}") from exc


def _fetch(target: Target, record: dict[str, Any] | None, asked: str | None,
           say: Callable[[str], None]) -> tuple[str, dict[str, int]]:
    """The record goes before anything in the folder changes, and comes back once all of it is
    verified: a folder with a record is one the jobs may read, all the while."""
    from huggingface_hub import HfApi, snapshot_download

    api, folder = HfApi(), target.folder
    # The revision the folder is kept at: the pinned one; unpinned, the one of its first download.
    revision = target.revision or (record or {}).get("revision")
    # Resolved first, so that no network, an unknown repo or revision fail here, before the
    # folder changes (snapshot_download falls back to an existing folder when the Hub is away).
    commit = api.model_info(target.repo_id, revision=asked).sha
    if not commit:
        raise DownloadFailed(f"engine {target.engine}: {target.repo_id}: the Hub gave no commit "
                             f"for {asked or 'its default branch'}")
    if record and (record["commit"] != commit or models.damaged(folder, record)):
        record = None
    if record is None:  # fetched: what is there already and matches the Hub's ETag is kept
        (folder / models.RECORD).unlink(missing_ok=True)
        folder.mkdir(parents=True, exist_ok=True)
        snapshot_download(target.repo_id, revision=commit, local_dir=folder)
    problems, again, stale = _verify(api, target, commit)
    if problems or stale:
        record = None
        (folder / models.RECORD).unlink(missing_ok=True)
        for path in stale:  # another revision's, put there by huggingface_hub
            say(f"{target.engine}: removed {path}: not in {target.repo_id}@{commit}")
            _forget(folder, path)
    if problems:
        if len(again) < len(problems):  # a file of someone else's in the folder
            raise DownloadFailed("\n".join(problems))
        for line in problems:
            say(line)
        for path in again:
            _forget(folder, path)
        say(f"{target.engine}: fetching {', '.join(again)} again")
        snapshot_download(target.repo_id, revision=commit, local_dir=folder)
        problems, _, _ = _verify(api, target, commit)
        if problems:
            raise DownloadFailed("\n".join(problems))
    files = _repo_files(folder)
    if record is None:
        atomic.write_text(folder / models.RECORD, json.dumps({
            "repo_id": target.repo_id, "revision": revision,
            "commit": commit, "files": files,
            "downloaded_at": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())},
            indent=1) + "\n")
    _drop_partial_files(folder)
    return commit, files


def _asked(target: Target, record: dict[str, Any] | None) -> tuple[str | None, str]:
    """The revision to fetch: engines.<name>.revision when set; else the commit the folder was
    recorded at (a rerun re-verifies that commit, never moves to a newer one); else None, the
    default branch, whose commit the record then keeps."""
    if target.revision:
        return target.revision, f" (engines.{target.engine}.revision)"
    if record:
        return str(record["commit"]), f" (recorded in {models.RECORD})"
    return None, ""


def _verify(api: Any, target: Target,
            commit: str) -> tuple[list[str], list[str], list[str]]:
    """verify_repo_checksums: every file of the repo at ``commit`` compared with the Hub's
    checksum (the LFS sha256, else the git blob sha1). Returns one line per problem; the files to
    fetch again (damaged or missing); and the files there that the repo has not and that
    huggingface_hub put there (another revision's). A file in the folder that is neither is a
    problem: ocrflow owns the folder."""
    check = api.verify_repo_checksums(target.repo_id, revision=commit, local_dir=target.folder)
    where = f"engine {target.engine}: {target.repo_id}@{commit}"
    problems, again, stale = [], [], []
    for mismatch in check.mismatches:
        problems.append(f"{where}: {mismatch['path']} does not match the Hub's "
                        f"{mismatch['algorithm']} (expected {mismatch['expected']}, found "
                        f"{mismatch['actual']})")
        again.append(mismatch["path"])
    for path in check.missing_paths:
        problems.append(f"{where}: {path} is missing")
        again.append(path)
    for path in check.extra_paths:
        if path == models.RECORD:
            continue
        if _downloaded(target.folder, path):
            stale.append(path)
        else:
            problems.append(f"{where}: {path} in {target.folder} is not in the repo: move it out "
                            "of the folder")
    return problems, again, stale


def _downloaded(folder: Path, path: str) -> bool:
    return (folder / HF_METADATA / "download" / f"{path}.metadata").exists()


def _forget(folder: Path, path: str) -> None:
    (folder / path).unlink(missing_ok=True)
    (folder / HF_METADATA / "download" / f"{path}.metadata").unlink(missing_ok=True)


def _repo_files(folder: Path) -> dict[str, int]:
    """The repo's files in the folder (verified: nothing else is left there), with their sizes."""
    files = {}
    for path in sorted(folder.rglob("*")):
        relative = path.relative_to(folder)
        if path.is_file() and relative.parts[:2] != HF_METADATA.parts \
                and relative.parts[0] != ".git" and relative.as_posix() != models.RECORD:
            files[relative.as_posix()] = path.stat().st_size
    return files


def _drop_partial_files(folder: Path) -> None:
    """huggingface_hub 2.4 names each partial download after its process and deletes it when the
    download fails; one whose process was killed stays: garbage once the folder is complete."""
    for partial in (folder / HF_METADATA / "download").rglob("*.incomplete"):
        partial.unlink(missing_ok=True)


def _reason(exc: BaseException, target: Target, asked: str | None) -> str:
    """What went wrong, in one line that says what to do."""
    import httpx2
    from huggingface_hub import constants
    from huggingface_hub.errors import (
        GatedRepoError,
        HfHubHTTPError,
        LocalEntryNotFoundError,
        OfflineModeIsEnabled,
        RemoteEntryNotFoundError,
        RepositoryNotFoundError,
        RevisionNotFoundError,
    )

    hub = constants.ENDPOINT
    if isinstance(exc, GatedRepoError):
        return (f"gated: accept its conditions at {hub}/{target.repo_id} with your account, then "
                "log in here (`hf auth login`, or export HF_TOKEN)")
    if isinstance(exc, RepositoryNotFoundError):
        return (f"no such repo on {hub} (a private one needs a token: `hf auth login`, or "
                f"export HF_TOKEN); engines.{target.engine}.model")
    if isinstance(exc, RevisionNotFoundError):
        if asked == target.revision:
            return f"no revision {asked} in the repo (engines.{target.engine}.revision)"
        return (f"the commit {asked} recorded in {target.folder / models.RECORD} is no longer "
                f"in the repo: set engines.{target.engine}.revision, or delete that file to take "
                "the newest")
    if isinstance(exc, RemoteEntryNotFoundError):
        return f"a file the repo lists is not served: {_first_line(exc)}"
    if isinstance(exc, OfflineModeIsEnabled) or constants.HF_HUB_OFFLINE:
        return "HF_HUB_OFFLINE is set here: it is for the jobs; unset it to download"
    if isinstance(exc, httpx2.TransportError | LocalEntryNotFoundError) or (
            isinstance(exc, OSError) and exc.errno in (errno.ECONNREFUSED, errno.ENETUNREACH,
                                                       errno.EHOSTUNREACH)):
        return (f"cannot reach {hub} ({_first_line(exc)}): run this on a node with internet "
                "(behind a proxy: export HTTPS_PROXY)")
    if isinstance(exc, HfHubHTTPError):
        status = exc.response.status_code if exc.response is not None else "?"
        return f"the Hub answered HTTP {status}: {_first_line(exc)}"
    if isinstance(exc, OSError) and exc.errno in (errno.ENOSPC, errno.EDQUOT):
        return f"no space left in {target.folder} ({exc.strerror}): free some, then run again"
    if isinstance(exc, OSError) and exc.errno in (errno.EACCES, errno.EPERM, errno.EROFS):
        return f"cannot write {exc.filename or target.folder}: {exc.strerror}"
    return f"{type(exc).__name__}: {_first_line(exc)}"


def _first_line(exc: BaseException) -> str:
    lines = [line.strip() for line in str(exc).splitlines() if line.strip()]
    return lines[0] if lines else type(exc).__name__


def _size(size: int) -> str:
    for unit in ("bytes", "kB", "MB", "GB"):
        if size < 1000 or unit == "GB":
            return f"{size:,} {unit}" if unit == "bytes" else f"{size:.1f} {unit}"
        size /= 1000  # type: ignore[assignment]
    raise AssertionError("unreachable")
