"""The corpus: which PDFs exist, their document ids, and which shard each belongs to.

Runs at the top of the Snakefile in the main process only, so it must stay cheap: it lists and
stats files, it never opens a PDF.
"""

from __future__ import annotations

import csv
import errno
import io
import os
import sys
import tempfile
from dataclasses import dataclass
from pathlib import Path, PurePosixPath

from ocrflow import atomic
from ocrflow.layout import Layout

SHEET_SUFFIXES = (".tsv", ".txt")


class InputError(ValueError):
    """The input folder or sample sheet cannot be used; the message names it."""


@dataclass(frozen=True)
class Document:
    doc_id: str
    source_path: str
    size: int = -1
    mtime_ns: int = -1
    problem: str = ""  # why it cannot be read, when that is known before opening it

    def fields(self) -> list[str]:
        return [self.doc_id, self.source_path, str(self.size), str(self.mtime_ns), self.problem]


def _stat(path: str) -> tuple[int, int]:
    try:
        st = os.stat(path)
    except OSError:
        return -1, -1  # recorded later as unreadable by the inventory, never dropped
    return st.st_size, st.st_mtime_ns


def broken_link(path: str) -> str:
    """Why a symbolic link cannot be followed, or "" when it can (or is no link)."""
    if not os.path.islink(path):
        return ""
    try:
        os.stat(path)
    except OSError as exc:
        if exc.errno == errno.ELOOP:
            return "symbolic link loop"
        return f"dangling symbolic link (to {os.readlink(path)})"
    return ""


def _scan_folder(root: str) -> list[Document]:
    found: dict[str, Document] = {}

    def add(entry: os.DirEntry[str], problem: str = "", strip_suffix: bool = True) -> None:
        rel = PurePosixPath(Path(entry.path).relative_to(root).as_posix())
        doc_id = str(rel.with_suffix("")) if strip_suffix else str(rel)
        if doc_id in found:  # a.pdf beside a.PDF: keep both, tell them apart
            doc_id = str(rel)
        size, mtime = (-1, -1) if problem else _stat_of(entry)
        found[doc_id] = Document(doc_id, entry.path, size, mtime, problem)

    def key(st: os.stat_result) -> tuple[int, int]:
        return st.st_dev, st.st_ino

    seen = {key(os.stat(root))}  # folders listed, so a link back up is not followed forever
    stack = [root]
    while stack:
        folder = stack.pop()
        with os.scandir(folder) as entries:
            for entry in entries:
                # is_symlink() comes with the listing: only links cost a stat to check
                if entry.is_symlink() and (broken := broken_link(entry.path)):
                    add(entry, broken)  # recorded, never silently dropped
                elif entry.is_dir(follow_symlinks=True):
                    inode = key(entry.stat(follow_symlinks=True))
                    if inode in seen:
                        add(entry, "symbolic link loop (a folder that contains itself)",
                            strip_suffix=False)
                    else:
                        seen.add(inode)
                        stack.append(entry.path)
                elif entry.name.lower().endswith(".pdf") and entry.is_file(follow_symlinks=True):
                    add(entry)
    return sorted(found.values(), key=lambda d: d.doc_id)


def _stat_of(entry: os.DirEntry[str]) -> tuple[int, int]:
    st = entry.stat(follow_symlinks=True)  # the one stat a listed PDF costs
    return st.st_size, st.st_mtime_ns


def _check_doc_id(doc_id: str, where: str) -> None:
    parts = PurePosixPath(doc_id).parts
    if not doc_id or doc_id.startswith("/") or ".." in parts or "\t" in doc_id:
        raise InputError(f"{where}: doc_id {doc_id!r} must be a relative path without '..'")


def _read_sheet(sheet: str) -> list[Document]:
    base = os.path.dirname(os.path.abspath(sheet))
    docs: dict[str, Document] = {}
    with open(sheet, encoding="utf-8", newline="") as handle:
        reader = csv.DictReader(handle, delimiter="\t")
        missing = {"doc_id", "path"} - set(reader.fieldnames or [])
        if missing:
            raise InputError(f"{sheet}: missing column(s) {', '.join(sorted(missing))}")
        for line_no, row in enumerate(reader, start=2):
            doc_id, path = (row["doc_id"] or "").strip(), (row["path"] or "").strip()
            where = f"{sheet}:{line_no}"
            _check_doc_id(doc_id, where)
            if not path:
                raise InputError(f"{where}: empty path for doc_id {doc_id!r}")
            if doc_id in docs:
                raise InputError(f"{where}: duplicate doc_id {doc_id!r}")
            path = path if os.path.isabs(path) else os.path.join(base, path)
            docs[doc_id] = Document(doc_id, path, *_stat(path))
    return sorted(docs.values(), key=lambda d: d.doc_id)


def discover(input_path: str) -> list[Document]:
    """Every input document, sorted by doc_id."""
    if os.path.isdir(input_path):
        docs = _scan_folder(input_path)
        if not docs:
            print(f"ocrflow: warning: input folder {input_path} holds no PDF", file=sys.stderr)
        return docs
    if os.path.isfile(input_path) and input_path.lower().endswith(SHEET_SUFFIXES):
        return _read_sheet(input_path)
    raise InputError(f"config error: input: {input_path!r} is neither a folder nor a .tsv sheet")


def _tsv(rows: list[list[str]]) -> str:
    """Rows as TSV, quoted where a field holds a tab, newline or quote (file names may)."""
    out = io.StringIO()
    csv.writer(out, delimiter="\t", lineterminator="\n").writerows(rows)
    return out.getvalue()


def _read_tsv(path: Path) -> list[list[str]]:
    with open(path, encoding="utf-8", newline="") as handle:
        return [row for row in csv.reader(handle, delimiter="\t") if row]


def _read_registry(path: Path, shard_size: int) -> dict[str, str]:
    """doc_id -> shard, or {} when there is none or it was made for another shard size."""
    if not path.exists():
        return {}
    rows = _read_tsv(path)
    if not rows or rows[0] != [f"# shard_size={shard_size}"]:
        return {}
    return {doc_id: shard for shard, doc_id in rows[1:]}


def _assign(docs: list[Document], previous: dict[str, str], shard_size: int) -> dict[str, str]:
    """Keep every known document in its shard; fill the last open shard, then new ones."""
    current = {d.doc_id for d in docs}
    assigned = {doc_id: shard for doc_id, shard in previous.items() if doc_id in current}
    counts: dict[str, int] = {}
    for shard in assigned.values():
        counts[shard] = counts.get(shard, 0) + 1
    # Numbering continues after the highest shard ever made, so a shard id is never reused.
    next_index = max((int(s[1:]) for s in previous.values()), default=-1) + 1
    open_shard = max(previous.values(), default=None)
    for doc in docs:
        if doc.doc_id in assigned:
            continue
        if open_shard is None or counts.get(open_shard, 0) >= shard_size:
            open_shard = f"s{next_index:06d}"
            next_index += 1
        assigned[doc.doc_id] = open_shard
        counts[open_shard] = counts.get(open_shard, 0) + 1
    return assigned


def plan(input_path: str, results: str | Path, shard_size: int) -> list[str]:
    """Assign documents to shards and write each shard's member list when it changed.

    A member list holds doc_id, path, size and mtime: it is the input file of the shard's
    first job, so a shard reruns exactly when one of its PDFs is added, removed or modified.
    Returns the sorted shard ids.
    """
    check_results(results)
    docs = discover(input_path)
    layout = Layout.of(results)
    registry = layout.registry
    previous = _read_registry(registry, shard_size)
    assigned = _assign(docs, previous, shard_size)
    if assigned != previous:
        rows = [[f"# shard_size={shard_size}"]]
        rows += [[shard, doc_id] for doc_id, shard in sorted(assigned.items())]
        atomic.write_text(registry, _tsv(rows))
    members: dict[str, list[list[str]]] = {}
    for doc in docs:
        members.setdefault(assigned[doc.doc_id], []).append(doc.fields())
    for shard, rows in members.items():
        path = layout.members(shard)
        text = _tsv(rows)
        if not path.exists() or path.read_text(encoding="utf-8") != text:
            atomic.write_text(path, text)
    for shard in set(previous.values()) - set(members):  # every member was removed
        layout.members(shard).unlink(missing_ok=True)
    left = sorted(set(previous) - set(assigned))
    if left:  # the workflow owns its outputs: a document that left the corpus leaves them too
        from ocrflow.merge import remove_document

        for doc_id in left:
            remove_document(layout.markdown, doc_id)
        print(f"ocrflow: {len(left)} documents left the input; their outputs were removed "
              f"(first: {left[0]})", file=sys.stderr)
    return sorted(members)


def existing_shards(results: str | Path) -> list[str]:
    """The shards of the last plan, read back without listing the input (cluster jobs)."""
    layout = Layout.of(results)
    if not layout.shards.is_dir():
        return []
    return sorted(p.name for p in layout.shards.iterdir() if layout.members(p.name).exists())


def read_members(path: str | Path) -> list[Document]:
    docs = []
    for doc_id, doc_path, size, mtime_ns, *problem in _read_tsv(Path(path)):
        docs.append(Document(doc_id, doc_path, int(size), int(mtime_ns), "".join(problem)))
    return docs


def check_results(results: str | Path) -> None:
    """The results folder can be made and written, or one line says why not."""
    folder = Path(results)
    work = Layout.of(results).work
    try:
        work.mkdir(parents=True, exist_ok=True)
        with tempfile.NamedTemporaryFile(dir=work, prefix=".write-test."):
            pass
    except OSError as exc:
        raise InputError(f"config error: results: cannot write to {folder}: "
                         f"{exc.strerror or exc}") from None
