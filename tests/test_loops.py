"""A looping answer is cut while it streams, a page's own repetition never is, and a looping page
costs one re-ask before recovery (Chandra's schedule without one); every request's tokens are
recorded. The real server's side of the cut is in test_real_vllm.py."""

from __future__ import annotations

import json
import random
import time
from pathlib import Path

import pytest

from ocrflow.engines.loops import LoopCut
from tests.support.stand_in import run_job, settings

CUT = LoopCut()
rng = random.Random(7)
NAMES = ["Alaoui", "Benjelloun", "Chraibi", "Dupont", "El Fassi", "Martin", "Tazi", "Bernard",
         "العلوي", "بنجلون", "الشرايبي", "التازي", "الفاسي"]


def first_cut(text: str, step: int = 16) -> int | None:
    """Where a stream of ``text`` would be cut, read ``step`` characters at a time."""
    return next((end for end in range(step, len(text) + step, step) if CUT(text[:end])), None)


def long_table(rows: int = 120) -> str:
    """A real table as Chandra writes one: a row per person, numbers and names in both
    scripts, many cells alike."""
    body = "".join(f"<tr><td>{n}</td><td>{rng.choice(NAMES)}</td><td>Rabat</td><td>0</td>"
                   f"<td>{rng.randrange(100, 999)},00</td><td></td><td></td></tr>"
                   for n in range(1, rows + 1))
    return f'<div data-label="Table"><table><tr><th>N°</th><th>Nom</th></tr>{body}</table></div>'


def dot_leaders(entries: int = 70) -> str:
    """A table of contents: every line a title, a row of dots and a page number."""
    return "".join(f"<p>{n}. {rng.choice(NAMES)} {'.' * rng.randrange(30, 140)} {3 * n}</p>\n"
                   for n in range(1, entries + 1))


def calendar() -> str:
    days = "".join(f"<th>{d}</th>" for d in ("Lun", "Mar", "Mer", "Jeu", "Ven", "Sam", "Dim"))
    months = []
    for month in range(12):
        cells = [""] * (month % 7) + [str(d) for d in range(1, 31)]
        weeks = "".join("<tr>" + "".join(f"<td>{c}</td>" for c in cells[i:i + 7]) + "</tr>"
                        for i in range(0, len(cells), 7))
        months.append(f"<table><tr>{days}</tr>{weeks}</table>")
    return "".join(months)


def blank_form(rows: int = 40) -> str:
    """A form: rows of empty cells, all alike (40 rows of 4 cells: 1,815 characters; about 45
    such rows are where the cut starts: config/README.md says so)."""
    return "<table>" + "<tr><td></td><td></td><td></td><td></td></tr>" * rows + "</table>"


@pytest.mark.parametrize("page", [long_table(), dot_leaders(), calendar(), blank_form()])
def test_a_pages_own_repetition_is_never_cut(page: str) -> None:
    assert len(page) > 1500
    assert first_cut(page) is None


@pytest.mark.parametrize("pattern", [
    "the same words again ",  # a phrase
    " ",  # blank space until the limit (Chandra's issue 51)
    "<tr><td>0</td><td>0</td></tr>",  # a table row, again and again
    "البند " + "الفصل الأول من المرسوم رقم 2.19.1086 " * 3,  # a long Arabic line
    "x" * 1500 + "\n",  # a pattern near the longest looked for
])
def test_a_loop_is_cut_soon_after_it_starts(pattern: str) -> None:
    start = long_table(20)
    loop = start + pattern * (20000 // len(pattern) + 3)
    cut = first_cut(loop)
    assert cut is not None
    # cut once the repeated stretch covers min_chars (and 3 copies), one read step late at most
    assert cut - len(start) <= max(CUT.min_chars, CUT.min_copies * len(pattern)) + 16


def test_cutting_can_be_switched_off() -> None:
    assert not LoopCut(min_chars=0)("ab" * 5000)


def decoded(server, wait_s: float = 10) -> list[dict]:
    """What the server decoded, one line per request. A cut request's line is written when the
    server notices its client has gone, which may be after the job returned: wait for one line
    per request."""
    path = Path(f"{server.log}.decoded")
    deadline = time.monotonic() + wait_s
    while True:
        lines = path.read_text().splitlines() if path.exists() else []
        if len(lines) >= len(server.requests()) or time.monotonic() > deadline:
            return [json.loads(line) for line in lines]
        time.sleep(0.05)


def test_a_looping_page_costs_one_re_ask_then_goes_to_recovery(tmp_path: Path,
                                                                fake_server) -> None:
    rate = 2000  # tokens a second, per request
    late = rate // 8  # what the server may decode between the cut and noticing the client go
    plan = {"pages": {"2": ["loop"], "3": ["loop", "page"]}, "page_tokens": 600,
            "tokens_per_s": rate}
    server = fake_server(plan, "chandra")
    pages = run_job(tmp_path, "chandra", settings("chandra", endpoint=server.url), [1, 2, 3],
                    handoff=True)
    record, verdict = pages[2]
    assert record["attempts"] == 2 and record["finish_reason"] == "repetition"
    assert not verdict["ok"] and "repetition" in verdict["reasons"]  # recovery reads it
    assert [r["finish_reason"] for r in record["requests"]] == ["repetition"] * 2
    assert [r["temperature"] for r in record["requests"]] == [0.0, 0.2]
    # Page 3 looped once, then read well at the re-ask: ok, two requests recorded.
    assert pages[3][1]["ok"] and [r["finish_reason"] for r in pages[3][0]["requests"]] == [
        "repetition", "stop"]
    for line in decoded(server):
        if line["behaviour"] == "loop":
            # the server decoded a few hundred tokens of the 12,384 the loop would have taken:
            # 300 of text before the loop, the 2,000 repeated characters (~400 tokens), and
            # what was decoded while the cut reached the server
            assert line["of"] == 12384 and line["tokens"] < 300 + 400 + late, line
    requests = {page: record["requests"] for page, (record, _) in pages.items()}
    usage = [r for page in requests.values() for r in page]
    assert all(r["prompt_tokens"] > 1000 for r in usage)  # the page image's tokens counted
    # The records count what the client received: what the server decoded, less what it
    # decoded between the cut and noticing the client had gone (3 cut requests here).
    counted = sum(r["completion_tokens"] for r in usage)
    assert 0 <= sum(line["tokens"] for line in decoded(server)) - counted <= 3 * late


def test_without_recovery_chandras_own_schedule_holds(tmp_path: Path, fake_server) -> None:
    server = fake_server({"pages": {"1": ["loop"]}, "tokens_per_s": 50000}, "chandra")
    pages = run_job(tmp_path, "chandra", settings("chandra", endpoint=server.url), [1])
    record, verdict = pages[1]
    assert record["attempts"] == 7 and "repetition" in verdict["reasons"]
    assert [r["temperature"] for r in record["requests"]] == pytest.approx(
        [0.0, 0.2, 0.4, 0.6, 0.8, 0.8, 0.8])


def test_with_the_cut_off_a_loop_runs_to_max_tokens(tmp_path: Path, fake_server) -> None:
    server = fake_server({"pages": {"1": ["loop"]}}, "chandra")
    pages = run_job(tmp_path, "chandra", settings("chandra", endpoint=server.url,
                                                  loop_cut_chars=0, max_retries=0), [1])
    record, verdict = pages[1]
    assert record["requests"][0]["completion_tokens"] == 12384
    assert record["finish_reason"] == "length" and not verdict["ok"]
    assert not decoded(server)[0]["stream"]  # nothing to watch: not streamed
