"""The shard registry: which shard each document belongs to, as the last plan assigned it
(``work/registry.tsv``), and the pages each shard holds by that plan's count. The plan
(ocrflow.run.plan) writes it; the cost estimate and the manifest read it."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from ocrflow.core.layout import Layout
from ocrflow.inputs import corpus, page_counts

REGISTRY_HEADER = "# shard_size="  # then: "<size> pages=<shard_pages> next=<index> plan=<id>"


@dataclass(frozen=True)
class Registry:
    """What the last plan assigned: doc_id -> shard, the shard size (PDFs and pages), the next
    shard number (never reused, even when the highest shard retired) and the plan's id."""

    shards: dict[str, str] = field(default_factory=dict)
    shard_size: int | None = None
    next_index: int = 0
    plan_id: str = ""
    shard_pages: int | None = None  # None: planned before shards had a page target

    @classmethod
    def read(cls, path: Path) -> Registry:
        if not path.exists():
            return cls()
        rows = corpus.read_tsv(path)
        header = rows[0][0] if rows and rows[0] else ""
        if not header.startswith(REGISTRY_HEADER):
            return cls()
        words = header[len(REGISTRY_HEADER):].split()
        values = dict(w.split("=", 1) for w in words[1:] if "=" in w)
        shards = {doc_id: shard for shard, doc_id in rows[1:]}
        next_index = int(values.get("next", -1))
        if next_index < 0:  # written before the header kept it
            next_index = max((int(s[1:]) for s in shards.values()), default=-1) + 1
        pages = int(values["pages"]) if values.get("pages", "").isdigit() else None
        return cls(shards, int(words[0]), next_index, values.get("plan", ""), pages)

    def same_sizes(self, shard_size: int, shard_pages: int) -> bool:
        """Whether a plan with these sizes keeps this one's shards (a registry from before the
        page target keeps its shards while shard_size stays)."""
        return self.shard_size == shard_size and self.shard_pages in (None, shard_pages)

    def text(self) -> str:
        header = (f"{REGISTRY_HEADER}{self.shard_size} pages={self.shard_pages} "
                  f"next={self.next_index} plan={self.plan_id}")
        return corpus.tsv([[header], *([shard, doc_id] for doc_id, shard
                                       in sorted(self.shards.items()))])


def pages_by_shard(layout: Layout) -> dict[str, int]:
    """Each shard's pages as the last plan counted them (the registry and the page counts it
    kept): what estimates of a run's cost start from."""
    registry = Registry.read(layout.registry)
    counted = page_counts.read_cache(layout.page_counts)
    out: dict[str, int] = dict.fromkeys(sorted(set(registry.shards.values())), 0)
    for doc_id, shard in registry.shards.items():
        out[shard] += counted[doc_id][1] if doc_id in counted else 0
    return out
