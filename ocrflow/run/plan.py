"""The shard plan: which shard each document belongs to, and what a run changes in it.

Computed in memory when the Snakefile is parsed in the main process, reading the input and the
results folder but writing nothing: a dry run, and a run that Snakemake's lock refuses, leave
the results folder as it was. The ``plan`` rule's job writes it (``apply``): the member lists
that changed, the registry, the record of the change, and the removal of what documents that
left the input had made. Snakemake runs that job only in a real run holding its lock.

Why that shape: a shard's member list (``inputs.tsv``) is the input of its first job, so a
shard reruns exactly when one of its PDFs is added, removed or modified. The plan rule declares
as outputs the member lists that change, so Snakemake's DAG, built at parse time, reruns those
shards and no other, without a checkpoint; and the record of the change
(``work/plans/<id>.json``, a new id for every change) is missing until the job ran, which makes
the job run when the only change is a shard whose documents all left. Cluster jobs read the
plan back from the member lists (``corpus.existing_shards``) and never list the input.
"""

from __future__ import annotations

import hashlib
import json
import shutil
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ocrflow.core import atomic
from ocrflow.core.layout import IMAGES_SUFFIX, Layout, output_stem
from ocrflow.core.stages import SHARD_RULES
from ocrflow.inputs import corpus, page_counts
from ocrflow.inputs.corpus import Document, InputError
from ocrflow.inputs.registry import Registry
from ocrflow.run.settings import PlanSettings, RemovalSettings

SHARD_PAGES = 6000  # config/schema.yaml's default of shard_pages (tools and tests)


def lists_shards(argv: list[str]) -> bool:
    """Whether a cluster job's Snakemake (``argv``: its command line) lists every shard. Not
    when it runs only one-shard rules (stages.SHARD_RULES: a job of these reads no other
    shard's paths), read from the --allowed-rules its executor passes (Snakemake sets a
    workflow's target jobs and allowed rules only after the Snakefile is parsed): that skips
    listing 1,000 shard folders and building 4,000 paths in the rules that read them all,
    0.1 s of each job's start. In any doubt, list them."""
    if "--allowed-rules" not in argv:
        return True
    allowed = []
    for arg in argv[argv.index("--allowed-rules") + 1:]:
        if arg.startswith("-"):
            break
        allowed.append(arg)
    return not allowed or not set(allowed) <= SHARD_RULES


@dataclass(frozen=True)
class Planned:
    """What the workflow keeps of a plan once it is computed: its shards and what the plan job
    writes. The plan job computes the plan again, so the documents (100,000 of them: tens of
    MB) need not stay in the memory of a dry run."""

    shards: list[str]
    outputs: list[str]
    record: Path
    changes: bool
    plan_id: str
    shard_pages: dict[str, int]  # shard -> its pages, as counted at planning


@dataclass
class Plan:
    """The plan of one run; ``changes`` says whether the plan job has anything to do."""

    layout: Layout
    shard_size: int
    members: dict[str, list[Document]]  # shard -> its documents, by doc_id
    pages: dict[str, int]  # doc_id -> its pages (0: PDFium could not open it)
    previous: Registry
    registry: Registry  # the new one
    changed: list[str]  # shards whose member list is written
    retired: list[str]  # shards of the previous plan with no document left
    left: list[str]  # doc_ids of the previous plan no longer in the input
    counts_changed: bool = False  # page counts the results folder does not hold yet

    @property
    def shards(self) -> list[str]:
        return sorted(self.members)

    @property
    def shard_pages(self) -> dict[str, int]:
        return {shard: sum(self.pages.get(d.doc_id, 0) for d in docs)
                for shard, docs in sorted(self.members.items())}

    @property
    def documents(self) -> list[Document]:
        """Every document of the plan, by doc_id (as the input lists them)."""
        return sorted((d for docs in self.members.values() for d in docs), key=lambda d: d.doc_id)

    @property
    def changes(self) -> bool:
        return bool(self.changed or self.retired or self.left or self.counts_changed
                    or self.registry.shards != self.previous.shards)

    @property
    def record(self) -> Path:
        return self.layout.plan_record(self.registry.plan_id)

    def outputs(self) -> list[str]:
        """What the plan job writes, as the rule declares it: nothing when nothing changes."""
        if not self.changes:
            return []
        return [str(self.layout.members(s)) for s in self.changed] + [str(self.record)]

    def planned(self) -> Planned:
        return Planned(self.shards, self.outputs(), self.record, self.changes,
                       self.registry.plan_id, self.shard_pages)

    def member_text(self, shard: str) -> str:
        return corpus.tsv([d.fields() for d in self.members[shard]])

    def check_removals(self, removal: RemovalSettings) -> None:
        """A vanishing input is not a mass deletion: stop, removing nothing, when the
        documents that left are all the known ones, or more than ``removal.max_share`` of them
        and more than ``removal.max_count`` (rsync's --max-delete). ``max_share`` 1 allows any
        removal."""
        max_share, max_count = removal.max_share, removal.max_count
        known, gone = len(self.previous.shards), len(self.left)
        if not gone or max_share >= 1:
            return
        if gone == known or (gone > max_share * known and gone > max_count):
            raise InputError(
                f"ocrflow: stopped: {gone} of the {known} documents known to "
                f"{self.layout.root} are no longer in the input (first: {self.left[0]!r}), "
                f"and a run would remove their outputs; nothing was removed. If the input is "
                f"right, allow it once: --config removal='{{max_share: 1}}' (removal.max_share "
                f"{max_share:g}, removal.max_count {max_count})")

    def describe(self) -> str:
        """What a run will change in the plan, for the dry run's output ('' when nothing)."""
        if not self.changes:
            return ""
        new = len(set(self.registry.shards) - set(self.previous.shards))
        line = (f"ocrflow plan: {_count(len(self.registry.shards), 'document')} "
                f"({sum(self.pages.values()):,} pages) in "
                f"{_count(len(self.members), 'shard')}; a run writes the member lists of "
                f"{_count(len(self.changed), 'shard')} ({_count(new, 'new document')})")
        if self.left:
            line += (f"; documents that left the input, whose outputs a run removes: "
                     f"{len(self.left)} (first: {self.left[0]!r})")
        if self.retired:
            line += f"; {_count(len(self.retired), 'shard')} with no document left removed"
        return line


def _count(n: int, noun: str) -> str:
    return f"{n} {noun}{'' if n == 1 else 's'}"


def _claim_output_names(docs: list[Document], previous: Registry, sheet: bool) -> list[Document]:
    """Documents whose outputs would be the same files on a case-insensitive filesystem (or
    where one's figures folder holds another): the first keeps its names (a document of the
    last plan first, so adding a PDF never takes a name from one that has it), the second is
    unreadable with one line naming both, and never touches the other's files. In a sample
    sheet the ids are the user's own: a clash stops the plan."""
    stems = {d.doc_id: output_stem(d.doc_id).casefold() for d in docs}  # ids are NFC already
    order = sorted(docs, key=lambda d: (d.doc_id not in previous.shards, d.doc_id))
    owners: dict[str, str] = {}  # folded stem -> doc_id
    folders: dict[str, str] = {}  # folded "<stem>_images" folder some document is in -> doc_id
    for doc in order:
        stem = stems[doc.doc_id]
        if IMAGES_SUFFIX + "/" in stem:  # rare: only such a path can sit in a figures folder
            parts = stem.split("/")
            for depth in range(1, len(parts)):
                folders.setdefault("/".join(parts[:depth]), doc.doc_id)
    clashes: dict[str, str] = {}
    for doc in order:
        stem = stems[doc.doc_id]
        other = owners.get(stem) or folders.get(stem + IMAGES_SUFFIX)
        if other is None:
            owners[stem] = doc.doc_id
            continue
        if sheet:
            raise InputError(f"ocrflow: doc_id {doc.doc_id!r} and doc_id {other!r} would write "
                             "the same output files on a case-insensitive filesystem: rename one")
        clashes[doc.doc_id] = other
    return [Document(d.doc_id, d.source_path, -1, -1, corpus.name_taken(clashes[d.doc_id]))
            if d.doc_id in clashes else d for d in docs]


def assign(docs: list[Document], previous: Registry, shard_size: int, shard_pages: int,
            pages: dict[str, int]) -> tuple[dict[str, str], int]:
    """Keep every known document in its shard; take new ones, in order, into the last open
    shard, then new ones. A shard takes the next PDF while it holds fewer than ``shard_size``
    and the PDF brings its pages nearer ``shard_pages`` than they are without it, so a shard
    ends within half the largest PDF of the target, and a PDF larger than the target is alone
    in its shard. Numbering continues after the highest shard ever made (never reused)."""
    known = previous.shards if previous.same_sizes(shard_size, shard_pages) else {}
    current = {d.doc_id for d in docs}
    assigned = {doc_id: shard for doc_id, shard in known.items() if doc_id in current}
    counts: dict[str, int] = {}
    held: dict[str, int] = {}  # shard -> its pages
    for doc_id, shard in assigned.items():
        counts[shard] = counts.get(shard, 0) + 1
        held[shard] = held.get(shard, 0) + pages.get(doc_id, 0)
    next_index = previous.next_index
    open_shard = max(known.values(), default=None)
    for doc in docs:
        if doc.doc_id in assigned:
            continue
        if open_shard is None or not _takes(counts.get(open_shard, 0), held.get(open_shard, 0),
                                            pages.get(doc.doc_id, 0), shard_size, shard_pages):
            open_shard = f"s{next_index:06d}"
            next_index += 1
        assigned[doc.doc_id] = open_shard
        counts[open_shard] = counts.get(open_shard, 0) + 1
        held[open_shard] = held.get(open_shard, 0) + pages.get(doc.doc_id, 0)
    return assigned, next_index


def _takes(count: int, held: int, more: int, shard_size: int, shard_pages: int) -> bool:
    """Whether a shard of ``count`` PDFs and ``held`` pages takes a PDF of ``more`` pages."""
    if count == 0:
        return True
    if count >= shard_size:
        return False
    return held + more <= shard_pages or held + more - shard_pages < shard_pages - held


def compute(input_path: str, results: str | Path, shard_size: int,
            shard_pages: int = SHARD_PAGES) -> Plan:
    """The plan of a run, from the input and the results folder as they are; writes nothing
    (the page counts of new PDFs are kept by the plan job)."""
    corpus.check_results(results)
    layout = Layout.of(results)
    previous = Registry.read(layout.registry)
    docs = corpus.discover(input_path)
    docs = _claim_output_names(docs, previous, corpus.sheet_kind(input_path))
    cached = page_counts.read_cache(layout.page_counts)
    pages = page_counts.pages_of(docs, cached)
    assigned, next_index = assign(docs, previous, shard_size, shard_pages, pages)
    members: dict[str, list[Document]] = {}
    for doc in docs:
        members.setdefault(assigned[doc.doc_id], []).append(doc)
    plan = Plan(layout, shard_size, members, pages, previous, Registry(), [], [], [])
    plan.counts_changed = not layout.page_counts.exists() or \
        page_counts.cache_text(docs, pages) != layout.page_counts.read_text(encoding="utf-8")
    digest = hashlib.sha256(previous.plan_id.encode())
    for shard in sorted(members):
        text = plan.member_text(shard)
        path = layout.members(shard)
        if not path.exists() or path.read_text(encoding="utf-8") != text:
            plan.changed.append(shard)
            digest.update(f"{shard}\n{text}".encode())
    plan.retired = sorted(set(previous.shards.values()) - set(members))
    plan.left = sorted(set(previous.shards) - set(assigned))
    registry = Registry(assigned, shard_size, next_index, shard_pages=shard_pages)
    digest.update(registry.text().encode())
    # A new id for every change (it chains the previous one), so the record is new each time.
    plan.registry = Registry(assigned, shard_size, next_index, digest.hexdigest()[:16],
                             shard_pages)
    if not plan.changes:
        plan.registry = previous
    return plan


def apply(plan: Plan) -> None:
    """Write the plan (the plan job): first remove what left, then the member lists, then the
    registry, then the record; a job killed halfway is simply redone by the next run."""
    from ocrflow.results.merge import remove_document

    layout = plan.layout
    for doc_id in plan.left:
        for path in remove_document(layout.markdown, doc_id):
            print(f"ocrflow: removed {path} ({doc_id!r} left the input)", file=sys.stderr)
        _remove_empty_folders(layout.markdown, doc_id)
    for shard in plan.retired:
        shutil.rmtree(layout.shard_dir(shard), ignore_errors=True)
        layout.dolma_shard(shard).unlink(missing_ok=True)
    for shard in plan.changed:
        atomic.write_text(layout.members(shard), plan.member_text(shard))
    page_counts.write_cache(layout.page_counts, plan.documents, plan.pages)
    atomic.write_text(layout.registry, plan.registry.text())
    atomic.write_text(plan.record, json.dumps(_record(plan), ensure_ascii=False, indent=1) + "\n")


def _remove_empty_folders(root: Path, doc_id: str) -> None:
    """The folders of a document's outputs that it leaves empty (a whole subfolder left)."""
    folder = (root / output_stem(doc_id)).parent
    while folder != root and root in folder.parents:
        try:
            folder.rmdir()
        except OSError:  # not empty (another document's), or already gone
            return
        folder = folder.parent


def _record(plan: Plan) -> dict[str, Any]:
    return {"plan": plan.registry.plan_id, "previous": plan.previous.plan_id,
            "planned_at": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
            "documents": len(plan.registry.shards), "shards": len(plan.members),
            "pages": sum(plan.pages.values()), "shard_size": plan.shard_size,
            "shard_pages": plan.registry.shard_pages, "changed_shards": plan.changed,
            "retired_shards": plan.retired, "removed_documents": plan.left}


def update(input_path: str, results: str | Path, shard_size: int,
           shard_pages: int = SHARD_PAGES) -> list[str]:
    """Compute and write the plan at once (tools and tests; the workflow splits the two)."""
    plan = compute(input_path, results, shard_size, shard_pages)
    if plan.changes:
        apply(plan)
    return plan.shards


def write_planned(input_path: str, results: str | Path, plan_id: str,
                  settings: PlanSettings) -> None:
    """The plan job: plan again (the job holds the lock now), check that it is the plan the
    run was started with, then write it."""
    plan = compute(input_path, results, settings.shard_size, settings.shard_pages)
    if plan.registry.plan_id != plan_id:
        raise InputError("ocrflow: the input or the results folder changed while this run was "
                         "starting; nothing was written: run again")
    plan.check_removals(settings.removal)
    apply(plan)
    print(f"ocrflow: plan {plan_id} written: member lists of {len(plan.changed)} shards, "
          f"{len(plan.left)} documents removed, {len(plan.retired)} shards retired",
          file=sys.stderr)
