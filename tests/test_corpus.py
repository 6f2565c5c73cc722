"""Input discovery, document ids, sample sheets and stable shard membership."""

from __future__ import annotations

from pathlib import Path

import pytest

from ocrflow.core.layout import Layout
from ocrflow.inputs import corpus
from ocrflow.run import plan


def touch(root: Path, *names: str) -> None:
    for name in names:
        path = root / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(b"%PDF-1.4 " + name.encode())


def members(results: Path) -> dict[str, list[str]]:
    return {shard: [d.doc_id for d in corpus.read_members(Layout.of(results).members(shard))]
            for shard in corpus.existing_shards(results)}


def test_folder_is_searched_recursively_and_case_insensitively(tmp_path: Path) -> None:
    touch(tmp_path, "a.pdf", "sub/B.PDF", "sub/deeper/c.Pdf", "notes.txt", "sub/d.pdf.bak")
    docs = corpus.discover(str(tmp_path))
    assert [d.doc_id for d in docs] == ["a", "sub/B", "sub/deeper/c"]
    assert all(Path(d.source_path).is_file() for d in docs)


def test_same_stem_with_two_extensions_keeps_both(tmp_path: Path) -> None:
    touch(tmp_path, "x/report.pdf", "x/report.PDF")
    ids = [d.doc_id for d in corpus.discover(str(tmp_path))]
    assert len(ids) == 2 and len(set(ids)) == 2


def test_sample_sheet(tmp_path: Path) -> None:
    touch(tmp_path, "files/one.pdf")
    sheet = tmp_path / "sheet.tsv"
    sheet.write_text("doc_id\tpath\ngazette/2024/001\tfiles/one.pdf\nmissing\tfiles/none.pdf\n")
    docs = corpus.discover(str(sheet))
    assert [d.doc_id for d in docs] == ["gazette/2024/001", "missing"]
    assert docs[0].source_path == str(tmp_path / "files/one.pdf")
    assert docs[1].size == -1  # kept: the inventory records it as unreadable


@pytest.mark.parametrize(("body", "message"), [
    ("doc_id\tfile\na\tb.pdf\n", "missing column(s) path"),
    ("doc_id\tpath\na\tx.pdf\na\ty.pdf\n", "sheet.tsv:3: duplicate doc_id 'a'"),
    ("doc_id\tpath\n../up\tx.pdf\n", "sheet.tsv:2: doc_id '../up'"),
])
def test_bad_sample_sheet_names_the_line(tmp_path: Path, body: str, message: str) -> None:
    sheet = tmp_path / "sheet.tsv"
    sheet.write_text(body)
    with pytest.raises(corpus.InputError, match=message.replace("(", r"\(").replace(")", r"\)")):
        corpus.discover(str(sheet))


def test_adding_pdfs_changes_only_the_shards_they_land_in(tmp_path: Path) -> None:
    src, results = tmp_path / "in", tmp_path / "results"
    touch(src, *(f"doc{i:03d}.pdf" for i in range(10)))
    assert plan.update(str(src), results, shard_size=4) == ["s000000", "s000001", "s000002"]
    before = {s: Layout.of(results).members(s).read_text()
              for s in corpus.existing_shards(results)}
    # New names sort before and among the old ones: membership must not shift.
    touch(src, "aaa.pdf", "doc004b.pdf", "zzz.pdf")
    plan.update(str(src), results, shard_size=4)
    after = members(results)
    assert after["s000000"] == ["doc000", "doc001", "doc002", "doc003"]
    assert after["s000001"] == ["doc004", "doc005", "doc006", "doc007"]
    assert sorted(after["s000002"]) == ["aaa", "doc004b", "doc008", "doc009"]
    assert after["s000003"] == ["zzz"]
    for shard in ("s000000", "s000001"):
        assert Layout.of(results).members(shard).read_text() == before[shard]


def test_modified_pdf_changes_its_member_list(tmp_path: Path) -> None:
    src, results = tmp_path / "in", tmp_path / "results"
    touch(src, "a.pdf", "b.pdf")
    plan.update(str(src), results, shard_size=1)
    listing = Layout.of(results).members("s000001")
    first = listing.read_text()
    (src / "b.pdf").write_bytes(b"%PDF-1.4 changed and longer")
    plan.update(str(src), results, shard_size=1)
    assert listing.read_text() != first
    assert Layout.of(results).members("s000000").read_text().startswith("a\t")
