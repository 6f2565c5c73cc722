"""The page store survives a writer killed mid-line and forgets pages marked for retry."""

from __future__ import annotations

from pathlib import Path

from ocrflow.core.store import PageStore


def test_interrupted_line_is_ignored_and_appending_continues(tmp_path: Path) -> None:
    store = PageStore(tmp_path, "rapidocr", "abc")
    store.append("ff00", [{"page": 1, "text": "one"}])
    path = store._path("ff00")
    with open(path, "ab") as handle:
        handle.write(b'{"page": 2, "text": "half-writ')  # the kill came here
    assert set(store.load("ff00")) == {1}
    store.append("ff00", [{"page": 2, "text": "two"}])
    assert {n: r["text"] for n, r in store.load("ff00").items()} == {1: "one", 2: "two"}


def test_invalidate_forgets_only_the_named_pages(tmp_path: Path) -> None:
    store = PageStore(tmp_path, "textlayer", "abc")
    store.append("aa11", [{"page": n, "text": str(n)} for n in (1, 2, 3)])
    store.invalidate("aa11", [2])
    assert sorted(store.load("aa11")) == [1, 3]
    store.append("aa11", [{"page": 2, "text": "again"}])
    assert store.load("aa11")[2]["text"] == "again"


def test_settings_are_part_of_the_key(tmp_path: Path) -> None:
    PageStore(tmp_path, "rapidocr", "settings1").append("bb", [{"page": 1, "text": "x"}])
    assert PageStore(tmp_path, "rapidocr", "settings2").load("bb") == {}
