"""The corpus: which PDFs exist and their document ids.

Runs at the top of the Snakefile in the main process (plan.py), so it must stay cheap: it lists
and stats files, it never opens a PDF, and it writes nothing.

Document ids are paths: in folder mode the PDF's path below the folder without its extension,
in a sample sheet the ``doc_id`` column. Both are normalised (Unicode NFC; in a sheet also
``.``, empty and trailing segments dropped), and a sheet id with ``..``, a leading ``/`` or a
control character is refused with one line naming its row.
"""

from __future__ import annotations

import csv
import errno
import io
import os
import stat
import sys
import tempfile
import unicodedata
from dataclasses import dataclass
from pathlib import Path

from ocrflow.core.errors import OcrflowError
from ocrflow.core.layout import Layout

SHEET_SUFFIXES = (".tsv", ".txt")
# What a path that is no regular file is, for the one line that says why it is unreadable.
SPECIAL_KINDS = ((stat.S_ISFIFO, "a FIFO (named pipe)"), (stat.S_ISCHR, "a character device"),
                 (stat.S_ISBLK, "a block device"), (stat.S_ISSOCK, "a socket"))


class InputError(OcrflowError, ValueError):
    """The input folder or sample sheet cannot be used; the message names it."""

    exit_status = 2


@dataclass(frozen=True, slots=True)  # 100,000 of them at planning: no __dict__ each
class Document:
    doc_id: str
    source_path: str
    size: int = -1
    mtime_ns: int = -1
    problem: str = ""  # why it cannot be read, when that is known before opening it

    def fields(self) -> list[str]:
        return [self.doc_id, self.source_path, str(self.size), str(self.mtime_ns), self.problem]


NAME_TAKEN = "its output files would be those of "


def name_taken(other: str) -> str:
    """Why a document is unreadable whose output names another document has."""
    return (f"{NAME_TAKEN}{other!r} on a case-insensitive filesystem (names that differ only in "
            "letter case or Unicode form, or a folder inside its figures folder): rename one")


def owns_output_names(problem: str) -> bool:
    """Whether a document may write or remove files under its own output names."""
    return not problem.startswith(NAME_TAKEN)


def special_kind(mode: int) -> str:
    """What a path is when it is neither a regular file nor a folder ('' when it is one)."""
    return next((kind for test, kind in SPECIAL_KINDS if test(mode)), "")


def not_regular(kind: str) -> str:
    return f"not a regular file: {kind}"


def _stat(path: str) -> tuple[int, int, str]:
    """Size, mtime and the problem known without opening the file."""
    try:
        st = os.stat(path)
    except OSError:
        return -1, -1, ""  # recorded later as unreadable by the inventory, never dropped
    if kind := special_kind(st.st_mode):  # reading a FIFO or /dev/zero would never end
        return -1, -1, not_regular(kind)
    return st.st_size, st.st_mtime_ns, ""


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


def nfc(text: str) -> str:
    return text if text.isascii() else unicodedata.normalize("NFC", text)


def _scan_folder(root: str) -> list[Document]:
    """Every *.pdf below ``root`` (any letter case), with the odd entries recorded. Plain
    strings, no pathlib: this lists every PDF of the corpus at every run's start."""
    prefix = os.path.join(root, "")
    found: list[tuple[str, str, int, int, str]] = []  # relative path, path, size, mtime, problem

    def key(st: os.stat_result) -> tuple[int, int]:
        return st.st_dev, st.st_ino

    seen = {key(os.stat(root))}  # folders listed, so a link back up is not followed forever
    stack = [root]
    while stack:
        folder = stack.pop()
        with os.scandir(folder) as entries:
            for entry in entries:
                rel = entry.path[len(prefix):]
                # is_symlink() comes with the listing: only links cost a stat to check
                if entry.is_symlink() and (broken := broken_link(entry.path)):
                    found.append((rel, entry.path, -1, -1, broken))  # recorded, never dropped
                elif entry.is_dir(follow_symlinks=True):
                    inode = key(entry.stat(follow_symlinks=True))
                    if inode in seen:
                        found.append((rel + "/", entry.path, -1, -1,
                                      "symbolic link loop (a folder that contains itself)"))
                    else:
                        seen.add(inode)
                        stack.append(entry.path)
                elif entry.name[-4:].lower() == ".pdf":
                    st = entry.stat(follow_symlinks=True)  # the one stat a listed PDF costs
                    if kind := special_kind(st.st_mode):
                        found.append((rel, entry.path, -1, -1, not_regular(kind)))
                    else:
                        found.append((rel, entry.path, st.st_size, st.st_mtime_ns, ""))
    return _folder_documents(found)


def _folder_documents(found: list[tuple[str, str, int, int, str]]) -> list[Document]:
    """Ids from relative paths: the extension dropped (a.pdf beside a.PDF: the second keeps its
    extension, in sorted order so the choice never depends on the listing's order)."""
    docs: dict[str, Document] = {}
    for rel, path, size, mtime, problem in sorted(found):
        if rel.endswith("/") or rel[-4:].lower() != ".pdf":  # a folder loop, a broken link
            doc_id = nfc(rel.rstrip("/"))
        else:
            doc_id = nfc(rel[:-4])
            if doc_id in docs:
                doc_id = nfc(rel)
        docs[doc_id] = Document(doc_id, path, size, mtime, problem)
    return sorted(docs.values(), key=lambda d: d.doc_id)


def normalise_id(raw: str) -> str:
    """A sample sheet's doc_id as ocrflow names the document, or ValueError saying why not:
    NFC; ``a//b``, ``a/./b`` and ``a/b/`` are ``a/b``; ``..``, a leading ``/``, control
    characters (NUL, tab, newline) and an empty id are refused."""
    doc_id = nfc(raw.strip())
    if bad := next((c for c in doc_id if unicodedata.category(c) == "Cc"), None):
        raise ValueError(f"a control character ({bad!r}) is not allowed")
    parts = [part for part in doc_id.split("/") if part not in ("", ".")]
    if not parts or doc_id.startswith("/") or ".." in parts:
        raise ValueError("must be a relative path without '..'")
    return "/".join(parts)


def _read_sheet(sheet: str) -> list[Document]:
    base = os.path.dirname(os.path.abspath(sheet))
    docs: dict[str, Document] = {}
    rows: dict[str, int] = {}  # doc_id -> its line, for the line naming a duplicate
    with open(sheet, encoding="utf-8", newline="") as handle:
        reader = csv.DictReader(handle, delimiter="\t")
        missing = {"doc_id", "path"} - set(reader.fieldnames or [])
        if missing:
            raise InputError(f"{sheet}: missing column(s) {', '.join(sorted(missing))}")
        for line_no, row in enumerate(reader, start=2):
            raw, path = row["doc_id"] or "", (row["path"] or "").strip()
            where = f"{sheet}:{line_no}"
            try:
                doc_id = normalise_id(raw)
            except ValueError as exc:
                raise InputError(f"{where}: doc_id {raw!r}: {exc}") from None
            if not path:
                raise InputError(f"{where}: empty path for doc_id {doc_id!r}")
            if doc_id in docs:
                same = "" if raw.strip() == doc_id else f" ({raw!r} is {doc_id!r})"
                raise InputError(f"{where}: duplicate doc_id {doc_id!r}{same}: line "
                                 f"{rows[doc_id]} has it already")
            path = path if os.path.isabs(path) else os.path.join(base, path)
            docs[doc_id] = Document(doc_id, path, *_stat(path))
            rows[doc_id] = line_no
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


def sheet_kind(input_path: str) -> bool:
    """Whether the input is a sample sheet (its ids are the user's: a clash is an error)."""
    return not os.path.isdir(input_path)


def tsv(rows: list[list[str]]) -> str:
    """Rows as TSV, quoted where a field holds a tab, newline or quote (file names may)."""
    out = io.StringIO()
    csv.writer(out, delimiter="\t", lineterminator="\n").writerows(rows)
    return out.getvalue()


def read_tsv(path: str | Path) -> list[list[str]]:
    with open(path, encoding="utf-8", newline="") as handle:
        return [row for row in csv.reader(handle, delimiter="\t") if row]


def existing_shards(results: str | Path) -> list[str]:
    """The shards of the last plan, read back without listing the input (cluster jobs)."""
    layout = Layout.of(results)
    if not layout.shards.is_dir():
        return []
    return sorted(p.name for p in layout.shards.iterdir() if layout.members(p.name).exists())


def read_members(path: str | Path) -> list[Document]:
    docs = []
    for doc_id, doc_path, size, mtime_ns, *problem in read_tsv(path):
        docs.append(Document(doc_id, doc_path, int(size), int(mtime_ns), "".join(problem)))
    return docs


def check_results(results: str | Path) -> None:
    """The results folder can be made and written, or one line says why not. Writes nothing
    that stays: the probe is an unnamed temporary file (O_TMPFILE) in the folder, or in the
    nearest folder above it that exists."""
    folder = Path(results)
    probe = folder
    while not probe.exists() and probe != probe.parent:
        probe = probe.parent
    try:
        if not probe.is_dir():
            raise NotADirectoryError(errno.ENOTDIR, os.strerror(errno.ENOTDIR))
        with tempfile.TemporaryFile(dir=probe):
            pass
    except OSError as exc:
        raise InputError(f"config error: results: cannot write to {folder}: "
                         f"{exc.strerror or exc}") from None
