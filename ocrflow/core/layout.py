"""Every path of a results folder, named once. The rules, the stages and the commands all ask
this module where a file lives; a shard may be given as the wildcard ``"{shard}"``.

    <results>/
      config.yaml                         the config the folder was last run with
      work/shards.tsv                     doc_id -> shard (the plan's registry)
      work/plans/<id>.json                what each change of the plan did (plan.py)
      work/shards/<shard>/inputs.tsv      a shard's members; then each stage's files
                                          (stages.py: the per-shard stages)
      work/pages.tsv                      each PDF's page count, as the plan counted it
      work/pools/<pool>/recovery*         a recovery pool's readings and verdicts (pools.py)
      page_store/<engine>-<fingerprint>/  every finished page, per engine settings (store.py)
      markdown/<doc_id>.md                per document (.pages.jsonl, .json, .txt if asked for,
                                          <doc_id>_images/)
      dolma/<shard>.jsonl, dolma.jsonl    Dolma records per shard, and all shards' (if asked for)
      manifest.parquet, report.md, report.html, summary.txt
      ocrflow.sqlite, export.json          the SQL export (export.py) and its receipt
      logs/<rule>/<shard>.log, benchmarks/<rule>/<shard>.tsv
      logs/ocr_<role>/<unit>.progress.json   a running OCR job's counts (status.py); unit: the
                                          primary's shard, the recovery's pool
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from pathlib import Path

MEMBERS = "inputs.tsv"
INVENTORY = "inventory.jsonl"
INVENTORY_COUNTS = "inventory.counts.json"
PAGES = "pages.jsonl"
TEXTS = "texts.jsonl"
DOCUMENTS = "documents.tsv"


def records_name(role: str) -> str:
    return f"{role}.jsonl"


def stats_name(role: str) -> str:
    return f"{role}.stats.json"


def verdicts_name(role: str) -> str:
    return f"{role}_verdicts.jsonl"


def verdict_counts_name(role: str) -> str:
    return f"{role}_verdicts.counts.json"


# Per document, by output kind (the config's ``outputs``): files under <results>/markdown/.
DOCUMENT_SUFFIXES = {"markdown": ".md", "page_records": ".pages.jsonl", "json": ".json",
                     "text": ".txt"}
DOLMA = "dolma"  # <results>/dolma/<shard>.jsonl per shard, <results>/dolma.jsonl all of them
CORPUS_FILES = ("manifest.parquet", "report.md", "report.html", "summary.txt", "export.json")


IMAGES_SUFFIX = "_images"
# Bytes in one file name (NAME_MAX) on Linux filesystems: ext4, XFS, Lustre, GPFS, NFS. Temp
# files are kept within it by atomic.py; a document's own names by output_stem.
NAME_MAX = 255
LONGEST_SUFFIX = max(len(s.encode()) for s in (*DOCUMENT_SUFFIXES.values(), IMAGES_SUFFIX))
HASH_TAG = 12  # hex digits of sha256 that stand for the part of a name cut off


def fit_name(name: str, limit: int) -> str:
    """``name`` when its UTF-8 fits in ``limit`` bytes; else as much of it as fits (whole
    characters) and ``~`` and a hash of the whole name, so two long names never meet."""
    raw = name.encode()
    if len(raw) <= limit:
        return name
    tag = "~" + hashlib.sha256(raw).hexdigest()[:HASH_TAG]
    return raw[:limit - len(tag)].decode("utf-8", "ignore") + tag


def output_stem(doc_id: str) -> str:
    """The path below markdown/ that a document's files are named after: its doc_id, each part
    shortened to fit NAME_MAX with the longest suffix ocrflow adds (``.pages.jsonl``). The
    doc_id itself stays whole in every record."""
    if len(doc_id) * 4 <= NAME_MAX - LONGEST_SUFFIX:  # no part can be too long (UTF-8: <= 4 bytes)
        return doc_id
    *folders, name = doc_id.split("/")
    return "/".join([*(fit_name(f, NAME_MAX) for f in folders),
                     fit_name(name, NAME_MAX - LONGEST_SUFFIX)])


def document_file(markdown: Path, doc_id: str, kind: str) -> Path:
    """A document's output of ``kind`` (one of DOCUMENT_SUFFIXES) in the ``markdown`` folder."""
    return markdown / f"{output_stem(doc_id)}{DOCUMENT_SUFFIXES[kind]}"


def document_images(markdown: Path, doc_id: str) -> Path:
    """The folder of a document's figures, beside its Markdown."""
    return markdown / f"{output_stem(doc_id)}{IMAGES_SUFFIX}"


@dataclass(frozen=True)
class Layout:
    root: Path

    @classmethod
    def of(cls, results: str | Path) -> Layout:
        return cls(Path(results))

    # the plan
    @property
    def recorded_config(self) -> Path:
        return self.root / "config.yaml"

    @property
    def work(self) -> Path:
        return self.root / "work"

    @property
    def registry(self) -> Path:
        return self.work / "shards.tsv"

    @property
    def shards(self) -> Path:
        return self.work / "shards"

    def plan_record(self, plan_id: str) -> Path:
        """What one change of the plan did (plan.py): shards written and retired, documents
        removed; one file per change, kept as the folder's history."""
        return self.work / "plans" / f"{plan_id}.json"

    def shard_dir(self, shard: str) -> Path:
        return self.shards / shard

    @property
    def page_counts(self) -> Path:
        """Each PDF's pages as the plan counted them (doc_id, size, mtime, pages): a PDF is
        opened to count its pages once, not at every run."""
        return self.work / "pages.tsv"

    @property
    def pools(self) -> Path:
        return self.work / "pools"

    def pool_dir(self, pool: str) -> Path:
        return self.pools / pool

    def _role_dir(self, unit: str, role: str) -> Path:
        """The folder of a role's files: a shard's for the primary, a pool's for recovery."""
        return self.pool_dir(unit) if role == "recovery" else self.shard_dir(unit)

    # one shard's files
    def members(self, shard: str) -> Path:
        return self.shard_dir(shard) / MEMBERS

    def inventory(self, shard: str) -> Path:
        return self.shard_dir(shard) / INVENTORY

    def inventory_counts(self, shard: str) -> Path:
        return self.shard_dir(shard) / INVENTORY_COUNTS

    def records(self, unit: str, role: str) -> Path:
        return self._role_dir(unit, role) / records_name(role)

    def stats(self, unit: str, role: str) -> Path:
        return self._role_dir(unit, role) / stats_name(role)

    def verdicts(self, unit: str, role: str) -> Path:
        return self._role_dir(unit, role) / verdicts_name(role)

    def verdict_counts(self, unit: str, role: str) -> Path:
        """Detection's counts (pages judged, failed, by reason): what status reads."""
        return self._role_dir(unit, role) / verdict_counts_name(role)

    def pages(self, shard: str) -> Path:
        return self.shard_dir(shard) / PAGES

    def texts(self, shard: str) -> Path:
        """Each final page's text (doc_id, page, text), for the SQL export."""
        return self.shard_dir(shard) / TEXTS

    def documents(self, shard: str) -> Path:
        """The index merge writes of the per-document files it made for the shard."""
        return self.shard_dir(shard) / DOCUMENTS

    # shared by every shard
    @property
    def page_store(self) -> Path:
        return self.root / "page_store"

    @property
    def markdown(self) -> Path:
        return self.root / "markdown"

    def dolma_shard(self, shard: str) -> Path:
        """A shard's documents as Dolma records (outputs: dolma), written by its merge."""
        return self.root / DOLMA / f"{shard}.jsonl"

    @property
    def dolma(self) -> Path:
        """Every shard's Dolma records, in shard order."""
        return self.root / f"{DOLMA}.jsonl"

    @property
    def manifest(self) -> Path:
        return self.root / "manifest.parquet"

    @property
    def report(self) -> Path:
        return self.root / "report.md"

    @property
    def report_html(self) -> Path:
        return self.root / "report.html"

    @property
    def summary(self) -> Path:
        return self.root / "summary.txt"

    @property
    def database(self) -> Path:
        """The SQLite database of the export, when the config names no other."""
        return self.root / "ocrflow.sqlite"

    @property
    def export_receipt(self) -> Path:
        """What the last export wrote, and where (the URL without its password)."""
        return self.root / "export.json"

    def corpus_files(self) -> list[Path]:
        return [self.root / name for name in CORPUS_FILES]

    def log(self, rule: str, shard: str | None = None) -> Path:
        return self.root / "logs" / (f"{rule}.log" if shard is None else f"{rule}/{shard}.log")

    def progress(self, role: str, unit: str) -> Path:
        """A running OCR job's counts, rewritten every few seconds (a log: kept on failure);
        ``unit``: its shard, or its pool for recovery."""
        return self.root / "logs" / f"ocr_{role}" / f"{unit}.progress.json"

    def benchmark(self, rule: str, shard: str) -> Path:
        return self.root / "benchmarks" / rule / f"{shard}.tsv"
