"""Shards sized by pages and recovery pools (issue 31), as the plan and the rules compute them."""

from __future__ import annotations

import random
from pathlib import Path

from ocrflow.core.layout import Layout
from ocrflow.engines import pools
from ocrflow.inputs import registry
from ocrflow.inputs.corpus import Document
from ocrflow.inputs.registry import Registry
from ocrflow.run import config, plan
from ocrflow.run.plan import assign
from tests.support import pdfs


def documents(pages: dict[str, int]) -> list[Document]:
    return [Document(doc_id, f"/in/{doc_id}.pdf", 1, 1) for doc_id in sorted(pages)]


def shard_pages(assigned: dict[str, str], pages: dict[str, int]) -> dict[str, int]:
    held: dict[str, int] = {}
    for doc_id, shard in assigned.items():
        held[shard] = held.get(shard, 0) + pages[doc_id]
    return held


def test_shards_end_within_half_the_largest_pdf_of_the_target() -> None:
    rng = random.Random(31)
    # Bulletin-like page counts: a few pages to several hundred (lognormal, median 48)
    pages = {f"bo{i:05d}": max(2, min(800, round(rng.lognormvariate(3.87, 0.9))))
             for i in range(3000)}
    target = 4000
    assigned, _ = assign(documents(pages), Registry(), 1000, target, pages)
    held = shard_pages(assigned, pages)
    last = max(held)  # the plan's last shard takes what is left
    largest = max(pages.values())
    assert all(abs(n - target) <= largest / 2 for shard, n in held.items() if shard != last)
    assert sum(held.values()) == sum(pages.values())
    # the GPU jobs are of about equal length: within 10% of the target here
    spread = [n for shard, n in held.items() if shard != last]
    assert max(spread) / min(spread) < 1.25, (min(spread), max(spread))


def test_a_pdf_larger_than_the_target_has_a_shard_of_its_own() -> None:
    pages = {"a": 10, "b": 9000, "c": 10, "d": 10}
    assigned, _ = assign(documents(pages), Registry(), 1000, 100, pages)
    assert assigned["b"] not in {assigned["a"], assigned["c"], assigned["d"]}
    assert list(assigned.values()).count(assigned["b"]) == 1


def test_adding_pdfs_keeps_every_known_pdf_in_its_shard() -> None:
    rng = random.Random(7)
    pages = {f"d{i:04d}": rng.randint(2, 300) for i in range(400)}
    first, next_index = assign(documents(pages), Registry(), 1000, 2000, pages)
    registry = Registry(first, 1000, next_index, "p1", 2000)
    more = {**pages, **{f"e{i:04d}": rng.randint(2, 300) for i in range(100)},
            "a_new_first": 50}  # sorts before the others: order of arrival does not matter
    second, _ = assign(documents(more), registry, 1000, 2000, more)
    assert {d: second[d] for d in first} == first
    # new PDFs go to the last open shard and then to new ones, never to a full shard
    full = set(first.values()) - {max(first.values())}
    assert not {second[d] for d in more if d not in first} & full


def test_changing_the_page_target_replans_and_an_older_registry_keeps_its_shards() -> None:
    pages = {"a": 5, "b": 5, "c": 5}
    older = Registry({"a": "s000000", "b": "s000000", "c": "s000001"}, 1000, 2, "old", None)
    kept, _ = assign(documents(pages), older, 1000, 4000, pages)
    assert kept == older.shards  # written before shard_pages: nothing moves
    moved, _ = assign(documents(pages), Registry(older.shards, 1000, 2, "p", 10), 1000, 4000,
                       pages)
    assert moved == dict.fromkeys(pages, "s000002")  # a new target: a new plan


def test_the_plan_counts_pages_once_and_records_them(tmp_path: Path) -> None:
    src = tmp_path / "in"
    for name, n in (("one", 1), ("three", 3), ("five", 5)):
        pdfs.write(src / f"{name}.pdf", pdfs.text_pdf([f"page {i}" for i in range(n)]))
    (src / "zero.pdf").write_bytes(b"")
    results = tmp_path / "results"
    computed = plan.compute(str(src), results, 1000, 4)
    assert computed.pages == {"five": 5, "one": 1, "three": 3, "zero": 0}
    assert "9 pages" in computed.describe()
    plan.apply(computed)
    layout = Layout.of(results)
    assert registry.pages_by_shard(layout) == computed.shard_pages
    # five alone (5 > 4); one + three = 4; zero joins the open shard
    assert sorted(computed.shard_pages.values()) == [4, 5]
    again = plan.compute(str(src), results, 1000, 4)
    assert not again.changes  # counts kept: nothing to write
    (src / "one.pdf").unlink()
    pdfs.write(src / "one.pdf", pdfs.text_pdf(["a", "b"]))  # changed: counted again
    assert plan.compute(str(src), results, 1000, 4).pages["one"] == 2


def gpu_config(**changes: object) -> dict:
    return config.validate({"input": "x", "primary": {"engine": "chandra"},
                            "recovery": {"engine": "deepseek"}, **changes})


def test_pools_hold_the_failed_pages_of_one_recovery_job() -> None:
    cfg = gpu_config()
    # 2,500 failed pages a job, 5% of 6,000-page shards fail: 8.3 shards -> 8 (300 pages each)
    assert pools.shards_per_pool(cfg) == round(2500 / (6000 * 0.05)) == 8
    assert pools.pool_of("s000007", 8) == "r000000" and pools.pool_of("s000008", 8) == "r000001"
    shards = [f"s{i:06d}" for i in range(20)]
    assert [len(members) for members in pools.pools(shards, 8).values()] == [8, 8, 4]
    cpu = config.validate({"input": "x"})  # tesseract starts nothing: one shard a job
    assert pools.shards_per_pool(cpu) == 1
    endpoint = gpu_config(engines={"deepseek": {"endpoint": "http://gpu:8000/v1"}})
    assert pools.shards_per_pool(endpoint) == 1  # a running server: no start to share
    assert pools.shards_per_pool(gpu_config(recovery={"engine": "deepseek",
                                                      "pages_per_job": 0})) == 1
