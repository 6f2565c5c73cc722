"""Tables as olmOCR-bench reads them, and its ``table`` test.

A table becomes a grid: each cell is stored once, at the row and column where it starts, and
occupies ``rowspan`` x ``colspan`` grid slots. A cell's neighbour up / down / left / right is the
first other cell met walking that way from any slot of its edge (several with spans). Its
``top_heading`` / ``left_heading`` are the heading cells met walking up / left through the
neighbours; when there is none, the cells where that walk ends.

Markdown: a run of >= 2 consecutive lines holding "|"; the first row of only "-", ":", " " and
pipes is the separator and dropped; headings are the first row and the first column.
HTML (as Chandra emits): every ``<table>`` (BeautifulSoup's html.parser), its ``<tr>``s, their
``<td>``/``<th>`` with ``rowspan``/``colspan`` (rowspan="0": to the end); headings are ``<th>``s
and the cells of rows inside ``<thead>``.
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from dataclasses import dataclass, field

from bs4 import BeautifulSoup
from rapidfuzz import fuzz

from ocrflow.bench.spec import BenchTest, normalize_text

Slot = tuple[int, int]


@dataclass
class CellSpec:
    text: str
    rowspan: int = 1
    colspan: int = 1
    heading: bool = False


@dataclass
class Table:
    text: dict[Slot, str] = field(default_factory=dict)
    headings: set[Slot] = field(default_factory=set)
    near: dict[str, dict[Slot, set[Slot]]] = field(default_factory=dict)  # direction -> cell ->

    def heading_cells(self, start: Slot, direction: str) -> set[Slot]:
        step = self.near[direction]
        seen: set[Slot] = set()
        todo, headings, ends = [start], set(), set()
        while todo:
            cell = todo.pop()
            if cell in seen:
                continue
            seen.add(cell)
            if cell in self.headings:
                headings.add(cell)
            if step[cell]:
                todo.extend(step[cell])
            else:
                ends.add(cell)
        headings.discard(start)
        ends.discard(start)
        return headings or ends


def build_table(rows: list[list[CellSpec]]) -> Table | None:
    """Place the cells on the grid (rowspans from above take their slots first), then find each
    cell's neighbours."""
    grid: list[list[Slot | None]] = []
    spans: dict[Slot, tuple[int, int]] = {}
    table = Table()
    carried: list[tuple[Slot, int] | None] = []  # per column: a cell from above, rows left
    for r, specs in enumerate(rows):
        line: list[Slot | None] = []
        queue = list(specs)
        while queue or len(line) < len(carried):
            c = len(line)
            above = carried[c] if c < len(carried) else None
            if above is not None:
                cell, left = above
                line.append(cell)
                carried[c] = (cell, left - 1) if left > 1 else None
                continue
            if not queue:
                line.append(None)
                continue
            spec = queue.pop(0)
            cell = (r, c)
            table.text[cell] = spec.text
            if spec.heading:
                table.headings.add(cell)
            spans[cell] = (max(1, spec.rowspan), max(1, spec.colspan))
            carried.extend([None] * (c + spans[cell][1] - len(carried)))
            for col in range(c, c + spans[cell][1]):
                line.append(cell)
                carried[col] = (cell, spans[cell][0] - 1) if spans[cell][0] > 1 else None
        grid.append(line)
    while any(carried):  # rowspans running past the last row
        line = []
        for c, item in enumerate(carried):
            line.append(item[0] if item else None)
            if item:
                carried[c] = (item[0], item[1] - 1) if item[1] > 1 else None
        grid.append(line)
    used = [c for line in grid for c, cell in enumerate(line) if cell is not None]
    if not table.text or not used:
        return None
    width = max(used) + 1
    grid = [(line + [None] * width)[:width] for line in grid]

    def first(cell: Slot, slots: list[tuple[int, int]]) -> Slot | None:
        for r, c in slots:
            if 0 <= r < len(grid) and 0 <= c < width and grid[r][c] not in (None, cell):
                return grid[r][c]
        return None

    table.near = {d: {} for d in ("up", "down", "left", "right")}
    for cell, (rowspan, colspan) in spans.items():
        r0, c0 = cell
        r1, c1 = r0 + rowspan - 1, c0 + colspan - 1
        walks = {
            "right": [[(r, c) for c in range(c1 + 1, width)] for r in range(r0, r1 + 1)],
            "left": [[(r, c) for c in range(c0 - 1, -1, -1)] for r in range(r0, r1 + 1)],
            "down": [[(r, c) for r in range(r1 + 1, len(grid))] for c in range(c0, c1 + 1)],
            "up": [[(r, c) for r in range(r0 - 1, -1, -1)] for c in range(c0, c1 + 1)],
        }
        for direction, lines in walks.items():
            table.near[direction][cell] = {n for n in (first(cell, s) for s in lines) if n}
    return table


def _is_rule(line: str) -> bool:
    return all(c in "- :" for c in line.replace("|", "").strip())


def _markdown_table(lines: list[str]) -> Table | None:
    rule = next((i for i, line in enumerate(lines)
                 if line.replace("|", "").strip() and _is_rule(line)), None)
    rows: list[list[str]] = []
    for i, line in enumerate(lines):
        if i == rule or (line.strip() and all(c in "- :|" for c in line)):
            continue
        cells = [cell.strip() for cell in line.split("|")]
        if cells and cells[0] == "":
            cells = cells[1:]
        if cells and cells[-1] == "":
            cells = cells[:-1]
        if cells:
            rows.append(cells)
    specs = [[CellSpec(text, heading=r == 0 or c == 0) for c, text in enumerate(row)]
             for r, row in enumerate(rows)]
    return build_table(specs) if specs else None


def markdown_tables(page: str) -> list[Table]:
    found: list[Table] = []
    run: list[str] = []
    for line in [*page.strip().split("\n"), ""]:  # the sentinel ends a table at the end
        if "|" in line:
            run.append(line)
            continue
        if len(run) >= 2 and (table := _markdown_table(run)):
            found.append(table)
        run = []
    return found


def _span(value: object) -> int:
    try:
        span = int(value)  # type: ignore[call-overload]
    except (TypeError, ValueError):
        return 1
    return span if span > 0 else 1


def html_tables(page: str) -> list[Table]:
    found = []
    for element in BeautifulSoup(page, "html.parser").find_all("table"):
        rows = element.find_all("tr")  # nested tables' rows too, as upstream
        specs = []
        for r, row in enumerate(rows):
            in_head = row.find_parent("thead") is not None
            line = []
            for cell in row.find_all(["th", "td"], recursive=False):
                for br in cell.find_all("br"):
                    br.replace_with("\n")
                rowspan = _span(cell.get("rowspan"))
                if str(cell.get("rowspan", "")).strip() == "0":
                    rowspan = max(1, len(rows) - r)
                line.append(CellSpec(cell.get_text(separator="").strip(), rowspan,
                                     _span(cell.get("colspan")), cell.name == "th" or in_head))
            specs.append(line)
        if specs and (table := build_table(specs)):
            found.append(table)
    return found


RELATIONS = ("up", "down", "left", "right", "top_heading", "left_heading")


def _similar(expected: str, text: str, max_diffs: int) -> tuple[bool, float]:
    # fuzz.ratio: Indel similarity of the whole strings; never below 0.5, as upstream
    ratio = fuzz.ratio(expected, normalize_text(text)) / 100.0
    return ratio >= max(0.5, 1.0 - max_diffs / (len(expected) or 1)), ratio


def table_test(test: BenchTest, page: str) -> tuple[bool, str]:
    tables = [] if test["ignore_markdown_tables"] else markdown_tables(page)
    tables += html_tables(page)
    if not tables:
        return False, "no table on the page"
    reasons: list[str] = []
    for table in tables:
        neighbours: dict[str, Callable[[Slot], set[Slot]]] = {
            **{d: table.near[d].__getitem__ for d in ("up", "down", "left", "right")},
            "top_heading": functools.partial(table.heading_cells, direction="up"),
            "left_heading": functools.partial(table.heading_cells, direction="left"),
        }
        for slot, text in table.text.items():
            if not _similar(test["cell"], text, test.max_diffs)[0]:
                continue
            missed = []
            for relation in RELATIONS:
                expected = test[relation]
                if not expected:
                    continue
                scored = [(_similar(expected, table.text[n], test.max_diffs), table.text[n])
                          for n in neighbours[relation](slot)]
                if not any(ok for (ok, _), _ in scored):
                    best = max(scored, key=lambda s: s[0][1], default=((False, 0.0), None))
                    missed.append(f"{relation} {expected!r}: best {best[1]!r} "
                                  f"({best[0][1]:.2f})")
            if not missed:
                return True, ""
            reasons.append(f"cell {text!r}: " + ", ".join(missed))
    if not reasons:
        return False, f"no cell matches {test['cell']!r} in {len(tables)} table(s)"
    return False, "; ".join(reasons[:3])
