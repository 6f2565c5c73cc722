"""The README, the manual (docs/, mkdocs.yml) and the changelog hold together: every relative link
and anchor of the files outside the site resolves, the README stays short, every page is in the
nav, the site builds with --strict, the SQL the manual gives is the SQL the code runs, and
`python -m ocrflow --version` is the changelog's newest version."""

from __future__ import annotations

import os
import re
import subprocess
import sys
import tomllib
import unicodedata
from pathlib import Path

import markdown
import yaml

import ocrflow
from ocrflow.results import database
from tests.conftest import REPO

# Markdown files read outside the site (on a forge, in a checkout): mkdocs checks the links of
# docs/ when it builds; these are checked here.
OUTSIDE_THE_SITE = ("README.md", "config/README.md", "CHANGELOG.md")
README_MAX_LINES = 200

FENCE = re.compile(r"^ {0,3}(```|~~~).*?^ {0,3}\1[^\n]*$", re.MULTILINE | re.DOTALL)
CODE_SPAN = re.compile(r"(`+)(?!`).+?(?<!`)\1(?!`)", re.DOTALL)
LINK = re.compile(r"!?\[(?:[^\[\]]|\[[^\]]*\])*\]\(\s*<?([^()\s>]*)>?(?:\s+\"[^\"]*\")?\s*\)")
VERSION_HEADING = re.compile(r"^## \[(\d+\.\d+\.\d+)\] - (\d{4}-\d{2}-\d{2})$", re.MULTILINE)
SECTIONS = {"Added", "Changed", "Deprecated", "Removed", "Fixed", "Security"}


def links(text: str) -> list[str]:
    """The targets of the inline links and images of a Markdown text, code left out."""
    text = CODE_SPAN.sub("", FENCE.sub("", text))
    return LINK.findall(text)


def mkdocs_anchors(path: Path) -> set[str]:
    """The heading ids of a Markdown file as the site makes them: Python-Markdown's toc extension
    with its default slugify (markdown.extensions.toc.slugify), snippets included as mkdocs.yml
    includes them."""
    md = markdown.Markdown(extensions=["toc", "tables", "attr_list", "pymdownx.snippets"],
                           extension_configs={"pymdownx.snippets": {"base_path": [str(REPO)],
                                                                    "check_paths": True}})
    md.convert(path.read_text(encoding="utf-8"))

    def walk(tokens: list[dict]) -> set[str]:
        return {id_ for token in tokens for id_ in {token["id"], *walk(token["children"])}}

    return walk(md.toc_tokens)


def github_anchors(path: Path) -> set[str]:
    """The heading ids a forge renders for the same file (GitHub's rule: lower case, letters,
    digits, spaces, `-` and `_` kept, each space a `-`), so that a link from a file read there
    works there too."""
    ids = set()
    for heading in re.findall(r"^#{1,6}\s+(.+?)\s*#*\s*$", FENCE.sub("", path.read_text()),
                              re.MULTILINE):
        text = re.sub(r"[`*]|\[([^\]]*)\]\([^)]*\)", r"\1", heading).lower()
        kept = "".join(c for c in text if c in " -_" or unicodedata.category(c)[0] in "LNM")
        ids.add(kept.replace(" ", "-"))
    return ids


def broken_links(path: Path) -> list[str]:
    """Each relative link of a Markdown file whose file, or whose #anchor, does not exist."""
    broken = []
    for target in links(path.read_text(encoding="utf-8")):
        if re.match(r"[a-z][a-z0-9+.-]*:", target, re.IGNORECASE):  # https:, mailto:
            continue
        file_part, _, anchor = target.partition("#")
        linked = (path.parent / file_part).resolve() if file_part else path
        if not linked.exists():
            broken.append(f"{target}: no such file")
        elif anchor and linked.suffix != ".md":
            broken.append(f"{target}: an anchor into a file that is not Markdown")
        elif anchor and anchor not in mkdocs_anchors(linked) & github_anchors(linked):
            broken.append(f"{target}: no heading with that anchor")
    return broken


def test_links_of_the_files_outside_the_site_resolve() -> None:
    found = {name: links((REPO / name).read_text()) for name in OUTSIDE_THE_SITE}
    assert len(found["README.md"]) >= 10
    broken = {name: bad for name in OUTSIDE_THE_SITE if (bad := broken_links(REPO / name))}
    assert broken == {}


def test_the_link_check_finds_a_broken_link_and_a_broken_anchor(tmp_path: Path) -> None:
    (tmp_path / "docs").mkdir()
    (tmp_path / "docs" / "page.md").write_text(
        "# A page\n\n## Which text to trust (`trust`)\n\n## Chandra + DeepSeek\n")
    readme = tmp_path / "README.md"
    readme.write_text(
        "[ok](docs/page.md) [ok](docs/page.md#which-text-to-trust-trust) [ok](#top)\n"
        "[gone](docs/nope.md) [bad anchor](docs/page.md#which-text-to-trust)\n"
        "[forge and site differ](docs/page.md#chandra-deepseek) [web](https://example.org/x)\n"
        "`[in code](docs/nope.md)`\n\n# Top\n\n```\n[in a block](docs/nope.md)\n```\n")
    assert broken_links(readme) == [
        "docs/nope.md: no such file",
        "docs/page.md#which-text-to-trust: no heading with that anchor",
        "docs/page.md#chandra-deepseek: no heading with that anchor"]


def test_readme_is_short() -> None:
    lines = (REPO / "README.md").read_text().splitlines()
    assert len(lines) <= README_MAX_LINES, f"README.md: {len(lines)} lines; the manual is docs/"


def nav_pages(nav: list) -> list[str]:
    pages = []
    for entry in nav:
        value = next(iter(entry.values())) if isinstance(entry, dict) else entry
        pages += nav_pages(value) if isinstance(value, list) else [value]
    return pages


def test_every_page_of_the_manual_is_in_the_nav_once() -> None:
    site = yaml.safe_load((REPO / "mkdocs.yml").read_text())
    pages = nav_pages(site["nav"])
    on_disk = sorted(str(p.relative_to(REPO / "docs")) for p in (REPO / "docs").rglob("*.md"))
    assert sorted(pages) == on_disk
    assert len(set(pages)) == len(pages)
    assert site["theme"]["font"] is False  # no font fetched from the network


def test_the_site_builds_strictly(tmp_path: Path) -> None:
    """As `make test` builds it: a broken link or anchor inside docs/ is a warning, and --strict
    makes a warning fail the build."""
    mkdocs = Path(sys.executable).parent / "mkdocs"
    result = subprocess.run(
        [str(mkdocs), "build", "--strict", "--site-dir", str(tmp_path / "site")], cwd=REPO,
        capture_output=True, text=True, timeout=120,
        env={**os.environ, "NO_MKDOCS_2_WARNING": "1"})
    assert result.returncode == 0, result.stdout + result.stderr
    assert "WARNING" not in result.stderr, result.stderr
    configuration = (tmp_path / "site" / "configuration" / "index.html").read_text()
    assert "engines.tesseract.recheck_below" in configuration  # config/README.md is in it


def test_the_sql_of_the_manual_is_the_sql_users_run() -> None:
    """docs/sql.md's queries are ocrflow.results.database's (which tests/test_export.py runs on
    SQLite
    and PostgreSQL against the manifest), the document id apart."""
    page = (REPO / "docs" / "sql.md").read_text()
    block = re.search(r"^```sql\n(.*?)^```", page, re.MULTILINE | re.DOTALL)[1]
    code = "\n".join(line for line in block.splitlines() if not line.startswith("--"))
    shown = [" ".join(query.split()) for query in code.split(";") if query.strip()]
    run = [" ".join(query.split()) for query in
           [*database.QUERIES.values(), *database.REASON_QUERIES.values()]]
    assert sorted(re.sub(r"'[^']*/[^']*'", ":doc_id", query) for query in shown) == sorted(run)


def newest_version(changelog: str) -> str:
    return VERSION_HEADING.findall(changelog)[0][0]


def test_changelog_is_keep_a_changelog() -> None:
    text = (REPO / "CHANGELOG.md").read_text()
    headings = re.findall(r"^## (.+)$", text, re.MULTILINE)
    assert headings[0] == "[Unreleased]"
    versions = VERSION_HEADING.findall(text)
    assert len(versions) == len(headings) - 1, headings  # every other heading is a release
    assert [v for v, _ in versions] == sorted(
        (v for v, _ in versions), key=lambda v: [int(n) for n in v.split(".")], reverse=True)
    assert [d for _, d in versions] == sorted((d for _, d in versions), reverse=True)
    assert set(re.findall(r"^### (.+)$", text, re.MULTILINE)) <= SECTIONS


def test_version_is_the_changelogs_newest() -> None:
    """`python -m ocrflow --version` prints the newest released version of CHANGELOG.md, which
    is pyproject.toml's and ocrflow.__version__ (written into the Dolma records)."""
    newest = newest_version((REPO / "CHANGELOG.md").read_text())
    printed = subprocess.run([sys.executable, "-m", "ocrflow", "--version"], cwd=REPO,
                             capture_output=True, text=True, timeout=60, check=True).stdout
    project = tomllib.loads((REPO / "pyproject.toml").read_text())["project"]["version"]
    assert (printed.strip(), project, ocrflow.__version__) == (f"ocrflow {newest}",) + (newest,) * 2
