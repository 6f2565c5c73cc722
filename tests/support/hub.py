"""A Hugging Face Hub for the tests: folders served as model repos over HTTP on 127.0.0.1, as the
Hub answers what `huggingface_hub` asks for to download and verify a repo; point HF_ENDPOINT at
``hub.url``::

    with serve_hub({"datalab-to/chandra-ocr-2": folder, ...}) as hub:
        run(..., env={"HF_ENDPOINT": hub.url})
        hub.commit        # the commit every repo is at
        hub.requests      # what was asked: method, repo, file, revision, Range

Its contract was read from huggingface_hub 2.4.0 (the version requirements.txt pins):
- hf_api.py: ``HfApi.model_info`` (``GET /api/models/{repo_id}`` and
  ``/api/models/{repo_id}/revision/{revision}``: ModelInfo's ``id`` and ``sha``, the commit a
  revision resolves to), ``list_repo_tree`` (``GET /api/models/{repo_id}/tree/{revision}[/{path}]``
  with ``recursive`` and ``expand``: a JSON list of ``{"type": "file", "oid", "size", "path",
  "lfs": {"oid", "size", "pointerSize"}}`` and ``{"type": "directory", "oid", "size", "path"}``,
  paginated by a ``Link`` header, which a repo this small never needs), ``verify_repo_checksums``;
- utils/_verification.py (``verify_maps``): a file is compared with its LFS ``oid`` (sha256) when
  it has one, else with its git blob id (sha1 of ``blob <size>\\0<content>``);
- _snapshot_download.py (``snapshot_download``): the model info, the tree at the commit, then
  ``hf_hub_download`` for each file at that commit;
- file_download.py (``get_hf_file_metadata``, ``_hf_hub_download_to_local_dir``, ``http_get``):
  ``HEAD /{repo_id}/resolve/{revision}/{path}`` read for ``X-Repo-Commit`` (required),
  ``ETag`` (required: the blob id, or the sha256 of an LFS file) and ``Content-Length``; no
  ``X-Xet-Hash`` header or xet ``Link``, so that the file comes by plain HTTP; then ``GET`` of the
  same URL; a connection lost mid-file is asked again from where it stopped with
  ``Range: bytes=N-`` (206 with ``Content-Range``), in the same run;
- utils/_http.py (``hf_raise_for_status``): errors are told apart by ``X-Error-Code``:
  ``RepoNotFound``, ``RevisionNotFound``, ``EntryNotFound``, ``GatedRepo``;
- utils/_detect_agent.py: ``GET /api/agent-harnesses``, once a day, best effort (the registry's
  shape, with no harness in it).

What the Hub does that is left out: the redirect of an LFS file to its CDN (answered here
directly, with the same ETag and size, and the CDN's ``X-Linked-Etag`` and ``X-Linked-Size``),
Xet storage, compression, tags and branches other than ``main`` (a revision is ``main`` or a
commit of the repo), and the 401 the Hub gives an anonymous request for a missing repo (404 here,
with the same ``X-Error-Code``). Which files are LFS follows the ``.gitattributes`` a new Hub repo
gets (by suffix).

Knobs for the tests: ``cut`` closes the connection after N bytes of a file, the first time it is
sent; ``hold`` stops sending after N bytes until ``release`` (a download killed mid-file);
``gate`` makes a repo's files need a token; ``push`` gives a repo a new commit, made main.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import re
import socket
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, unquote, urlsplit

# The first commit of every repo served: fixed, so that a test can name it.
COMMIT = hashlib.sha1(b"ocrflow tests: the hub's first commit").hexdigest()
# The LFS patterns of the .gitattributes a new Hub repo starts with.
LFS_SUFFIXES = (".7z", ".arrow", ".bin", ".bz2", ".ckpt", ".ftz", ".gz", ".h5", ".joblib",
                ".mlmodel", ".model", ".msgpack", ".npy", ".npz", ".onnx", ".ot", ".parquet",
                ".pb", ".pickle", ".pkl", ".pt", ".pth", ".rar", ".safetensors", ".tar",
                ".tflite", ".tgz", ".wasm", ".xz", ".zip", ".zst")
API = re.compile(r"^/api/models/(?P<repo>[^/]+/[^/]+)(?:/(?P<kind>revision|tree)/(?P<rev>[^/]+)"
                 r"(?P<path>/.*)?)?$")
RESOLVE = re.compile(r"^/(?P<repo>[^/]+/[^/]+)/resolve/(?P<rev>[^/]+)/(?P<path>.+)$")
RANGE = re.compile(r"^bytes=(\d*)-(\d*)$")


def git_blob_id(data: bytes) -> str:
    return hashlib.sha1(b"blob %d\0" % len(data) + data).hexdigest()


@dataclass
class Blob:
    data: bytes
    lfs: bool

    @property
    def sha256(self) -> str:
        return hashlib.sha256(self.data).hexdigest()

    def pointer(self) -> bytes:
        """The LFS pointer git stores in the file's place."""
        return (f"version https://git-lfs.github.com/spec/v1\noid sha256:{self.sha256}\n"
                f"size {len(self.data)}\n").encode()

    @property
    def etag(self) -> str:
        return self.sha256 if self.lfs else git_blob_id(self.data)

    def tree_entry(self, path: str) -> dict[str, Any]:
        if not self.lfs:
            return {"type": "file", "oid": git_blob_id(self.data), "size": len(self.data),
                    "path": path}
        pointer = self.pointer()
        return {"type": "file", "oid": git_blob_id(pointer), "size": len(self.data),
                "path": path, "lfs": {"oid": self.sha256, "size": len(self.data),
                                      "pointerSize": len(pointer)}}


def read_folder(folder: Path) -> dict[str, Blob]:
    """A folder's files as one commit's (read now: the commit does not change with the folder)."""
    return {p.relative_to(folder).as_posix(): Blob(p.read_bytes(), p.name.endswith(LFS_SUFFIXES))
            for p in sorted(folder.rglob("*")) if p.is_file()}


@dataclass
class Repo:
    commits: dict[str, dict[str, Blob]]  # commit -> files, oldest first
    main: str
    token: str | None = None  # gated: files need "Authorization: Bearer <token>"

    def files(self, revision: str) -> dict[str, Blob] | None:
        return self.commits.get(self.main if revision == "main" else revision)

    def commit_of(self, revision: str) -> str:
        return self.main if revision == "main" else revision


@dataclass
class Hold:
    after: int
    reached: threading.Event = field(default_factory=threading.Event)
    released: threading.Event = field(default_factory=threading.Event)


class Hub:
    """The served repos, what was asked, and the knobs."""

    def __init__(self, repos: dict[str, Path]) -> None:
        self.repos = {repo_id: Repo({COMMIT: read_folder(Path(folder))}, COMMIT)
                      for repo_id, folder in repos.items()}
        self.commit = COMMIT
        self.requests: list[dict[str, Any]] = []
        self.lock = threading.Lock()
        self._cuts: dict[tuple[str, str], int] = {}
        self._holds: dict[tuple[str, str], Hold] = {}
        self.server = ThreadingHTTPServer(("127.0.0.1", 0), _handler(self))
        self.server.daemon_threads = True
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"

    def cut(self, repo_id: str, path: str, after: int) -> None:
        """The first time the file is sent, close the connection after ``after`` bytes."""
        self._cuts[(repo_id, path)] = after

    def hold(self, repo_id: str, path: str, after: int) -> Hold:
        """The first time the file is sent, stop after ``after`` bytes (``reached`` is set) until
        ``released``, then close the connection."""
        hold = self._holds[(repo_id, path)] = Hold(after)
        return hold

    def gate(self, repo_id: str, token: str) -> None:
        """The repo's files need the token (its info and tree stay public, as on the Hub)."""
        self.repos[repo_id].token = token

    def push(self, repo_id: str, folder: Path) -> str:
        """A new commit of the repo with the folder's files, made main; returns its sha."""
        repo = self.repos[repo_id]
        files = read_folder(folder)
        digest = hashlib.sha1(repo.main.encode())
        for path, blob in files.items():
            digest.update(f"{path}\0{blob.etag}\0".encode())
        commit = digest.hexdigest()
        repo.commits[commit] = files
        repo.main = commit
        return commit

    def file_requests(self, repo_id: str, path: str, method: str = "GET") -> list[dict[str, Any]]:
        return [r for r in self.requests
                if (r["repo"], r["file"], r["method"]) == (repo_id, path, method)]

    def start(self) -> None:
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def stop(self) -> None:
        for hold in self._holds.values():
            hold.released.set()
        self.server.shutdown()
        self.server.server_close()


@contextlib.contextmanager
def serve_hub(repos: dict[str, Path]) -> Iterator[Hub]:
    """The folders served as the repos named, at ``hub.commit``, until the block ends."""
    hub = Hub(repos)
    hub.start()
    try:
        yield hub
    finally:
        hub.stop()


def _handler(hub: Hub) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def log_message(self, format: str, *args: Any) -> None:
            pass  # hub.requests has them

        def do_HEAD(self) -> None:
            self.answer(body=False)

        def do_GET(self) -> None:
            self.answer(body=True)

        def answer(self, body: bool) -> None:
            url = urlsplit(self.path)
            if match := RESOLVE.match(url.path):
                self.note(match["repo"], unquote(match["path"]), unquote(match["rev"]))
                self.resolve(match["repo"], unquote(match["rev"]), unquote(match["path"]), body)
            elif url.path == "/api/agent-harnesses":
                self.note(None, None, None)
                self.json({"standardEnvVars": [], "harnesses": {}}, body)
            elif match := API.match(url.path):
                self.note(match["repo"], None, unquote(match["rev"] or "main"))
                self.api(match, parse_qs(url.query), body)
            else:
                self.note(None, None, None)
                self.error(404, None, "Not Found", body)

        def note(self, repo: str | None, path: str | None, revision: str | None) -> None:
            with hub.lock:
                hub.requests.append({"method": self.command, "url": self.path, "repo": repo,
                                     "file": path, "revision": revision,
                                     "range": self.headers.get("Range")})

        def found(self, repo_id: str, revision: str, body: bool,
                  ) -> tuple[Repo, dict[str, Blob]] | None:
            repo = hub.repos.get(repo_id)
            if repo is None:
                self.error(404, "RepoNotFound", "Repository not found", body)
                return None
            files = repo.files(revision)
            if files is None:
                self.error(404, "RevisionNotFound", f"Invalid rev id: {revision}", body)
                return None
            return repo, files

        def api(self, match: re.Match[str], query: dict[str, list[str]], body: bool) -> None:
            revision = unquote(match["rev"] or "main")
            found = self.found(match["repo"], revision, body)
            if found is None:
                return
            repo, files = found
            repo_id, commit = match["repo"], repo.commit_of(revision)
            if match["kind"] == "tree":
                under = unquote(match["path"] or "").strip("/")
                recursive = query.get("recursive", ["false"])[0].lower() == "true"
                entries = _tree(files, under, recursive)
                if entries is None:
                    self.error(404, "EntryNotFound", f"{under} does not exist on {revision}",
                               body)
                    return
                self.json(entries, body)
                return
            self.json({"_id": hashlib.sha1(repo_id.encode()).hexdigest()[:24], "id": repo_id,
                       "modelId": repo_id, "author": repo_id.split("/")[0], "sha": commit,
                       "lastModified": "2026-01-01T00:00:00.000Z",
                       "createdAt": "2026-01-01T00:00:00.000Z", "private": False,
                       "gated": "manual" if repo.token else False, "disabled": False,
                       "tags": [], "library_name": "transformers",
                       "siblings": [{"rfilename": path} for path in files]}, body)

        def resolve(self, repo_id: str, revision: str, path: str, body: bool) -> None:
            found = self.found(repo_id, revision, body)
            if found is None:
                return
            repo, files = found
            commit = repo.commit_of(revision)
            if repo.token and self.headers.get("Authorization") != f"Bearer {repo.token}":
                status = 403 if self.headers.get("Authorization") else 401
                self.error(status, "GatedRepo", f"Access to model {repo_id} is restricted. You "
                           "must have access to it and be authenticated to access it.", body)
                return
            blob = files.get(path)
            if blob is None:
                self.error(404, "EntryNotFound", "Entry not found", body,
                           {"X-Repo-Commit": commit})
                return
            size = len(blob.data)
            start, end, status = 0, size - 1, 200
            if asked := self.headers.get("Range"):
                span = RANGE.match(asked.strip())
                first = int(span[1]) if span and span[1] else None
                last = int(span[2]) if span and span[2] else None
                if first is None and last is not None:  # the last N bytes
                    first, last = max(size - last, 0), size - 1
                if span is None or first is None or first >= size:
                    self.error(416, None, "Range Not Satisfiable", body,
                               {"Content-Range": f"bytes */{size}"})
                    return
                start, end, status = first, min(last if last is not None else size - 1,
                                                size - 1), 206
            headers = {"Content-Type": "application/octet-stream", "Accept-Ranges": "bytes",
                       "ETag": f'"{blob.etag}"', "X-Repo-Commit": commit,
                       "Content-Length": str(end - start + 1)}
            if blob.lfs:  # what the Hub's CDN redirect carries
                headers |= {"X-Linked-Etag": f'"{blob.sha256}"', "X-Linked-Size": str(size)}
            if status == 206:
                headers["Content-Range"] = f"bytes {start}-{end}/{size}"
            self.send_response(status)
            for name, value in headers.items():
                self.send_header(name, value)
            self.end_headers()
            if body:
                self.send_file(repo_id, path, blob.data[start:end + 1])

        def send_file(self, repo_id: str, path: str, data: bytes) -> None:
            with hub.lock:
                cut = hub._cuts.pop((repo_id, path), None)
                hold = hub._holds.pop((repo_id, path), None)
            stop = cut if cut is not None else hold.after if hold else None
            if stop is None:
                self.wfile.write(data)
                return
            self.wfile.write(data[:stop])
            self.wfile.flush()
            if hold:
                hold.reached.set()
                hold.released.wait(120)
            self.close_connection = True
            with contextlib.suppress(OSError):
                self.connection.shutdown(socket.SHUT_RDWR)

        def json(self, value: Any, body: bool) -> None:
            data = json.dumps(value).encode()
            self.send_response(200)
            self.send_header("Content-Type", "application/json; charset=utf-8")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            if body:
                self.wfile.write(data)

        def error(self, status: int, code: str | None, message: str, body: bool,
                  headers: dict[str, str] | None = None) -> None:
            data = json.dumps({"error": message}).encode()
            self.send_response(status)
            if code:
                self.send_header("X-Error-Code", code)
                self.send_header("X-Error-Message", message)
            for name, value in (headers or {}).items():
                self.send_header(name, value)
            self.send_header("Content-Type", "application/json; charset=utf-8")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            if body:
                self.wfile.write(data)

    return Handler


def _tree(files: dict[str, Blob], under: str, recursive: bool) -> list[dict[str, Any]] | None:
    """The tree listing's entries below ``under`` ("": the root); None when nothing is there."""
    prefix = f"{under}/" if under else ""
    below = {path: blob for path, blob in files.items() if path.startswith(prefix)}
    if under and not below:
        return None
    folders, entries = set(), []
    for path, blob in below.items():
        rest = path[len(prefix):].split("/")
        depth = len(rest) if recursive else 1
        for n in range(1, min(len(rest), depth + 1)):
            folders.add(prefix + "/".join(rest[:n]))
        if recursive or len(rest) == 1:
            entries.append(blob.tree_entry(path))
    directories = [{"type": "directory", "oid": hashlib.sha1(f"tree {d}".encode()).hexdigest(),
                    "size": 0, "path": d} for d in sorted(folders)]
    return directories + entries
