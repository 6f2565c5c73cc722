"""The output formats (outputs: markdown, page_records, json, dolma, text): each round-trips to
the same pages, a failed page is explicit in each, the JSON validates against its published
schema, and the Dolma records follow olmOCR's, as read from its source
(tests/data/olmocr-0.4.27/dolma_contract.json)."""

from __future__ import annotations

import itertools
import json
import random
import re
import shutil
from pathlib import Path
from typing import Any

import jsonschema
import pytest

from ocrflow.core.layout import DOCUMENT_SUFFIXES, Layout, document_file
from ocrflow.core.records import FinalPage, InventoryDocument
from ocrflow.results import outputs
from ocrflow.results.merge import remove_document
from tests.conftest import EXAMPLES, REPO, Workspace
from tests.support import pdfs

CONTRACT = json.loads((Path(__file__).parent / "data" / "olmocr-0.4.27" /
                       "dolma_contract.json").read_text(encoding="utf-8"))
SCHEMA = json.loads((REPO / "schemas" / "document.schema.json").read_text(encoding="utf-8"))
TYPES = {"str": str, "int": int, "dict": dict, "list": list}
ARABIC = "\u200fمرسوم رقم 2.24.117 صادر في 12 فبراير 2024\u200f"  # with right-to-left marks


# --- olmOCR's rule, reproduced from the contract file alone ---------------------------------

def contract_join(pages: list[str | None]) -> tuple[str, list[list[int]] | None]:
    """The text and spans olmOCR's build_dolma_document makes of these page texts (None: no
    text), by the rule the contract file states (None spans: olmOCR writes no record)."""
    rule = CONTRACT["spans"]["rule"]
    assert rule["separator_inside_span_of"] == "previous_page" and rule["end_exclusive"]
    assert rule["offset_unit"] == "unicode_code_point"  # Python str indices
    text, spans = "", []
    for index, page in enumerate(pages):
        last = index == len(pages) - 1
        if page is None:
            content = rule["page_without_text_adds"]
        else:
            content = page + ("" if last and not rule["separator_after_last_page"]
                              else rule["separator"])
        spans.append([len(text), len(text) + len(content), index + rule["first_page_number"]])
        text += content
    if not text and not rule["record_for_empty_text"]:
        return text, None
    return text, spans


def test_the_contracts_rule_gives_its_examples_and_ours_gives_the_same() -> None:
    for example in CONTRACT["examples"]:
        assert contract_join(example["pages"]) == (example["text"], example["pdf_page_numbers"])
        if example["pdf_page_numbers"] is not None:
            numbered = [(n + 1, t) for n, t in enumerate(example["pages"])]
            assert outputs.dolma_spans(numbered) == (example["text"],
                                                     example["pdf_page_numbers"])
    pieces = ["", "a", "Line\n", "\n\n", ARABIC, "é\u0301", "tab\there", "\f", "😀 emoji"]
    rng = random.Random(11)
    for _ in range(300):
        pages = [rng.choice([None, *pieces]) for _ in range(rng.randint(1, 6))]
        text, spans = contract_join(pages)
        ours = outputs.dolma_spans((n + 1, t) for n, t in enumerate(pages))
        if spans is None:  # olmOCR drops an empty document; ocrflow keeps one record per PDF
            assert ours == ("", [[0, 0, n + 1] for n in range(len(pages))])
        else:
            assert ours == (text, spans)


# --- the writers, without Snakemake --------------------------------------------------------

DOC = InventoryDocument("gazettes/2024/decret", "/data/gazettes/2024/decret.pdf", "ab" * 16)


def sample_pages() -> list[FinalPage]:
    return [
        FinalPage(1, "ok", "textlayer", [], "", 0.97, "fr", 1, None,
                  {"engine": "textlayer"}, "Décret n° 2.21.45\nArticle premier"),
        FinalPage(2, "failed", None, ["textlayer:empty_output", "tesseract:empty_output"],
                  "", 0.0),
        FinalPage(3, "no_text", None, ["textlayer:empty_output", "tesseract:empty_output"]),
        FinalPage(4, "recovered", "chandra", ["textlayer:untrusted_text_layer"], "", 0.9, "ar",
                  2, [{"label": "Text", "bbox": [10, 20, 300, 80]},
                      {"label": "Picture", "bbox": None, "boxes": []}],
                  {"engine": "chandra", "model": "datalab-to/chandra"}, ARABIC),
        FinalPage(5, "ok", "textlayer", [], "", 1.0, "fr", 1, None, None,
                  "a form\ffeed inside"),
    ]


def write_all(folder: Path) -> dict[str, Path]:
    pages = sample_pages()
    written = {}
    for kind, write in outputs.WRITERS.items():
        written[kind] = document_file(folder, DOC.doc_id, kind)
        write(written[kind], DOC, pages)
    written["dolma"] = folder / "dolma.jsonl"
    with open(written["dolma"], "w", encoding="utf-8") as handle:
        outputs.write_dolma_line(handle, DOC, pages)
    return written


def check_record(record: dict[str, Any]) -> None:
    """A Dolma record has olmOCR's required keys with their types, the metadata and attributes
    both write, and one attribute value per page."""
    required = CONTRACT["record"]["required"]
    assert set(required) <= set(record)
    for key, kind in required.items():
        assert isinstance(record[key], TYPES[kind]), key
    date = re.compile(CONTRACT["record"]["date_format"])
    assert date.match(record["added"]) and date.match(record["created"])
    for key, kind in CONTRACT["ocrflow"]["shared_metadata"].items():
        assert isinstance(record["metadata"][key], TYPES[kind]), key
    pages = record["metadata"]["pdf-total-pages"]
    for key in CONTRACT["ocrflow"]["shared_attributes"]:
        assert isinstance(record["attributes"][key], list) and \
            len(record["attributes"][key]) == pages
    assert all(isinstance(span, list) and len(span) == 3 and all(type(x) is int for x in span)
               for span in record["attributes"]["pdf_page_numbers"])


def test_no_format_file_can_be_another_documents() -> None:
    """A suffix that ends with another's would make a document's file of one format the file of
    another format of a document named like it (``x.words`` + ``.txt`` = ``x`` + ``.words.txt``)."""
    suffixes = list(DOCUMENT_SUFFIXES.values())
    assert [(a, b) for a in suffixes for b in suffixes if a != b and a.endswith(b)] == []
    assert set(outputs.WRITERS) < set(DOCUMENT_SUFFIXES)  # markdown: merge writes it


def test_a_failed_page_is_explicit_in_every_format(tmp_path: Path) -> None:
    files = write_all(tmp_path)
    reasons = "textlayer:empty_output; tesseract:empty_output"
    placeholder = f"[ocrflow] page 2 could not be recognised ({reasons})"
    assert placeholder == outputs.text_placeholder(2, reasons.split("; "))

    records = [json.loads(line) for line in files["page_records"].read_text().splitlines()]
    document = json.loads(files["json"].read_text(encoding="utf-8"))
    jsonschema.validate(document, SCHEMA)
    assert document["pages"] == records  # the same page fields, figures' store paths left out
    assert (document["doc_id"], document["source_path"], document["content_hash"]) == \
        (DOC.doc_id, DOC.source_path, DOC.content_hash)
    failed = document["pages"][1]
    assert (failed["status"], failed["reasons"], failed["text"]) == \
        ("failed", reasons.split("; "), "")
    assert document["pages"][3]["blocks"][0] == {"label": "Text", "bbox": [10, 20, 300, 80]}

    text_pages = files["text"].read_text(encoding="utf-8").split("\f")
    assert text_pages == ["Décret n° 2.21.45\nArticle premier", placeholder, "", ARABIC,
                          "a form\nfeed inside"]

    (record,) = [json.loads(line) for line in files["dolma"].read_text().splitlines()]
    check_record(record)
    spans = record["attributes"]["pdf_page_numbers"]
    pieces = [record["text"][start:end] for start, end, _ in spans]
    assert pieces == ["Décret n° 2.21.45\nArticle premier\n", placeholder + "\n", "",
                      ARABIC + "\n", "a form\ffeed inside"]
    assert [n for _, _, n in spans] == [1, 2, 3, 4, 5]
    assert record["id"] == DOC.doc_id and record["source"] == "ocrflow"
    assert record["metadata"]["total-failed-pages"] == 1
    assert record["metadata"]["Source-File"] == DOC.source_path
    assert record["attributes"]["ocrflow_page_status"] == \
        ["ok", "failed", "no_text", "recovered", "ok"]
    assert record["attributes"]["ocrflow_page_reasons"][1] == reasons.split("; ")
    assert record["attributes"]["primary_language"] == ["fr", None, None, "ar", "fr"]


def test_arabic_stays_utf8_with_its_direction_marks(tmp_path: Path) -> None:
    files = write_all(tmp_path)
    for kind, path in files.items():
        raw = path.read_bytes()
        assert ARABIC.encode("utf-8") in raw, kind  # not \u escapes, marks kept
        assert b"\\u06" not in raw and b"\\u200f" not in raw, kind
    assert json.loads(files["json"].read_text(encoding="utf-8"))["pages"][3]["text"] == ARABIC


def test_the_json_schema_rejects_what_is_not_a_document(tmp_path: Path) -> None:
    jsonschema.Draft202012Validator.check_schema(SCHEMA)
    document = outputs.document_json(DOC, sample_pages())
    jsonschema.validate(document, SCHEMA)
    for broken in ({**document, "extra": 1},
                   {k: v for k, v in document.items() if k != "pages"},
                   {**document, "pages": [{**document["pages"][0], "status": "lost"}]},
                   {**document, "pages": [{**document["pages"][0], "page": 0}]}):
        with pytest.raises(jsonschema.ValidationError):
            jsonschema.validate(broken, SCHEMA)


def test_outputs_removed_with_their_document_and_the_dolma_files_with_the_output(
        tmp_path: Path) -> None:
    files = write_all(tmp_path)
    removed = remove_document(tmp_path, DOC.doc_id, keep=("markdown", "json"))
    assert sorted(removed) == sorted([files["page_records"], files["text"]])
    assert files["json"].exists()
    remove_document(tmp_path, DOC.doc_id)
    assert not files["json"].exists()

    layout = Layout.of(tmp_path / "results")
    for shard, line in (("s000000", "a\n"), ("s000001", "b\n"), ("s000002", "gone\n")):
        layout.dolma_shard(shard).parent.mkdir(parents=True, exist_ok=True)
        layout.dolma_shard(shard).write_text(line)
    kept = [layout.dolma_shard("s000000"), layout.dolma_shard("s000001")]
    outputs.concatenate_dolma(kept, layout.dolma)
    assert layout.dolma.read_text() == "a\nb\n"
    assert not layout.dolma_shard("s000002").exists()  # its shard left the plan
    outputs.remove_dolma(layout.dolma_shard("s000000"), layout.dolma)
    assert not layout.dolma.exists() and not layout.dolma_shard("s000001").parent.exists()


# --- a real run of the example corpus ------------------------------------------------------

ALL = ["markdown", "json", "dolma", "text"]


@pytest.fixture(scope="module")
def example_run(tmp_path_factory: pytest.TempPathFactory) -> Workspace:
    """The example corpus and a PDF whose first page cannot be read (an absurd page size:
    inventory:bad_page), in 3 shards, with every format; text layer, then RapidOCR."""
    ws = Workspace(tmp_path_factory.mktemp("formats"))
    shutil.copytree(EXAMPLES / "corpus", ws.root / "corpus")
    huge = pdfs.text_pdf(["huge page", "normal page"])
    pdfs.write(ws.root / "corpus" / "huge.pdf",
               huge.replace(b"/MediaBox [ 0 0 595 842 ]", b"/MediaBox [ 0 0 595 9000000 ]", 1))
    ws.config.update(outputs=ALL, shard_size=4)
    ws.snakemake()
    return ws


def manifest_pages(ws: Workspace) -> dict[str, list[dict[str, Any]]]:
    pages: dict[str, list[dict[str, Any]]] = {}
    for row in sorted(ws.manifest(), key=lambda r: (r["doc_id"], r["page"] or 0)):
        if row["page"] is not None:
            pages.setdefault(row["doc_id"], []).append(row)
    return pages


def page_texts(document: dict[str, Any]) -> list[str | None]:
    """What the plain text and Dolma outputs hold of each page of a JSON document."""
    return [outputs.text_placeholder(p["page"], p["reasons"]) if p["status"] == "failed"
            else None if p["status"] == "no_text" else p["text"] for p in document["pages"]]


@pytest.mark.slow
def test_every_format_round_trips_to_the_same_pages(example_run: Workspace) -> None:
    ws = example_run
    layout = Layout.of(ws.results)
    readable = manifest_pages(ws)
    assert "huge" in readable and "broken/truncated_download" not in readable  # unreadable
    documents = {}
    for doc_id, rows in readable.items():
        document = json.loads(document_file(layout.markdown, doc_id, "json")
                              .read_text(encoding="utf-8"))
        jsonschema.validate(document, SCHEMA)
        assert [(p["page"], p["status"], p["engine"], p["reasons"], p["error"])
                for p in document["pages"]] == \
            [(r["page"], r["status"], r["engine"], list(r["reasons"]), r["error"])
             for r in rows]
        assert document["content_hash"] == rows[0]["content_hash"]
        assert [len(p["text"]) for p in document["pages"]] == [r["n_chars"] for r in rows]
        text = document_file(layout.markdown, doc_id, "text").read_text(encoding="utf-8")
        assert text.split("\f") == [t or "" for t in page_texts(document)]
        documents[doc_id] = document
    assert {r["status"] for rows in readable.values() for r in rows} >= \
        {"ok", "recovered", "failed"}

    # Dolma: one record per readable document, per shard in shard order, merged = shards
    shards = sorted(p.name for p in layout.shards.iterdir())
    assert len(shards) >= 3
    shard_files = [layout.dolma_shard(s) for s in shards]
    assert layout.dolma.read_bytes() == b"".join(p.read_bytes() for p in shard_files)
    records = [json.loads(line) for line in layout.dolma.read_text(encoding="utf-8")
               .splitlines()]
    assert [r["id"] for r in records] == [
        line.split("\t")[0] for s in shards
        for line in layout.documents(s).read_text(encoding="utf-8").splitlines()]
    assert sorted(r["id"] for r in records) == sorted(readable)
    for record in records:
        check_record(record)
        document = documents[record["id"]]
        texts = page_texts(document)
        assert (record["text"], record["attributes"]["pdf_page_numbers"]) == \
            contract_join(texts)  # olmOCR's rule
        spans = record["attributes"]["pdf_page_numbers"]
        assert spans[0][0] == 0 and spans[-1][1] == len(record["text"])
        assert all(a[1] == b[0] for a, b in itertools.pairwise(spans))
        for (start, end, number), page, page_text in zip(spans, document["pages"], texts,
                                                         strict=True):
            assert number == page["page"]
            last = number == spans[-1][2]
            assert record["text"][start:end] == \
                ("" if page_text is None else page_text + ("" if last else "\n"))
        assert record["attributes"]["ocrflow_page_status"] == \
            [p["status"] for p in document["pages"]]
        assert record["metadata"]["content-hash"] == document["content_hash"]

    # the page that could not be read, in each format
    huge = documents["huge"]["pages"][0]
    assert (huge["status"], huge["reasons"]) == ("failed", ["inventory:bad_page"])
    placeholder = "[ocrflow] page 1 could not be recognised (inventory:bad_page)"
    assert document_file(layout.markdown, "huge", "text").read_text() == \
        f"{placeholder}\fnormal page"
    (huge_record,) = [r for r in records if r["id"] == "huge"]
    assert huge_record["text"] == f"{placeholder}\nnormal page"
    assert "could not be recognised** (inventory:bad_page)" in \
        document_file(layout.markdown, "huge", "markdown").read_text()

    # Arabic stays UTF-8 in every file
    arabic = "مرسوم رقم 2.24.117"
    (shard,) = [s for s in shards if "born_digital/decret_ar\t" in
                layout.documents(s).read_text(encoding="utf-8")]
    for path in (document_file(layout.markdown, "born_digital/decret_ar", "json"),
                 document_file(layout.markdown, "born_digital/decret_ar", "text"),
                 layout.dolma_shard(shard), layout.dolma):
        assert arabic.encode("utf-8") in path.read_bytes(), path
    assert documents["born_digital/decret_ar"]["pages"][0]["language"] == "ar"
    assert "born_digital/decret_ar\tborn_digital/decret_ar.md\tborn_digital/decret_ar.json\t" \
        "born_digital/decret_ar.txt\n" in layout.documents(shard).read_text(encoding="utf-8")


@pytest.mark.slow
def test_outputs_leave_with_their_document_or_their_format(workspace: Workspace) -> None:
    for name in "abc":
        pdfs.write(workspace.root / "corpus" / f"{name}.pdf",
                   pdfs.text_pdf([f"Minutes of meeting {name}: the harbour board approved the "
                                  "budget of the new quay.", "Second page of the minutes."]))
    workspace.config.update(outputs=ALL, shard_size=1, recovery={"engine": "none"})
    workspace.config["export"] = {"enabled": False}
    workspace.snakemake()
    layout = Layout.of(workspace.results)
    assert [json.loads(line)["id"] for line in layout.dolma.read_text().splitlines()] == \
        ["a", "b", "c"]
    assert sorted(p.name for p in layout.markdown.iterdir()) == \
        sorted(f"{d}.{s}" for d in "abc" for s in ("md", "json", "txt"))

    (workspace.root / "corpus" / "c.pdf").unlink()  # its shard goes with it
    workspace.snakemake()
    assert [json.loads(line)["id"] for line in layout.dolma.read_text().splitlines()] == \
        ["a", "b"]
    assert sorted(p.name for p in layout.dolma_shard("s000000").parent.iterdir()) == \
        ["s000000.jsonl", "s000001.jsonl"]
    assert sorted(p.name for p in layout.markdown.iterdir()) == \
        sorted(f"{d}.{s}" for d in "ab" for s in ("md", "json", "txt"))

    workspace.config["outputs"] = ["markdown", "text"]
    workspace.snakemake()
    assert not layout.dolma.exists() and not layout.dolma_shard("s000000").parent.exists()
    assert sorted(p.name for p in layout.markdown.iterdir()) == ["a.md", "a.txt", "b.md", "b.txt"]
    assert layout.documents("s000000").read_text() == "a\ta.md\ta.txt\n"
