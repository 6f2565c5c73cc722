"""The package's shape, as docs/development.md draws it: layers that import only downwards
(import-linter's contract in pyproject.toml, run here as `make test` runs it), no module over
MODULE_LINES_MAX lines, and no private name of one module used by another."""

from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
PACKAGE = REPO / "ocrflow"
MODULE_LINES_MAX = 500  # issue 33: a module a newcomer reads in one sitting


def modules() -> list[Path]:
    return sorted(PACKAGE.rglob("*.py"))


def module_name(path: Path) -> str:
    parts = path.relative_to(REPO).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def test_the_layers_import_only_downwards() -> None:
    lint = Path(sys.executable).with_name("lint-imports")
    done = subprocess.run([str(lint)], cwd=REPO, capture_output=True, text=True)
    assert done.returncode == 0, done.stdout[-3000:]
    assert "1 kept, 0 broken" in done.stdout


def test_no_module_is_over_the_size_a_newcomer_reads() -> None:
    long = {module_name(p): n for p in modules()
            if (n := len(p.read_text().splitlines())) > MODULE_LINES_MAX}
    assert long == {}


def private_uses(source: str, here: str) -> list[str]:
    """Private names (one leading underscore) module ``here`` takes from another ocrflow module:
    ``from ocrflow.x import _y`` or ``x._y`` on a module imported from ocrflow."""
    tree = ast.parse(source)
    imported: dict[str, str] = {}  # local name -> ocrflow module
    found = []
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom) and (node.module or "").startswith("ocrflow"):
            for alias in node.names:
                target = f"{node.module}.{alias.name}"
                if alias.name.startswith("_") and not alias.name.startswith("__"):
                    found.append(f"{here} imports {target}")
                imported[alias.asname or alias.name] = target
        elif isinstance(node, ast.Import):
            for alias in node.names:
                if alias.name.startswith("ocrflow"):
                    imported[alias.asname or alias.name] = alias.name
    for node in ast.walk(tree):
        if (isinstance(node, ast.Attribute) and isinstance(node.value, ast.Name)
                and node.value.id in imported and node.attr.startswith("_")
                and not node.attr.startswith("__")):
            found.append(f"{here} uses {imported[node.value.id]}.{node.attr}")
    return found


def test_no_module_reaches_into_another_ones_private_parts() -> None:
    assert [use for path in modules()
            for use in private_uses(path.read_text(), module_name(path))] == []


def test_the_private_use_finder_sees_both_forms() -> None:
    source = ("from ocrflow.text.trust import _hidden, public\nfrom ocrflow.text import trust\n"
              "trust._other(public, trust.covers, self._own)\n")
    assert private_uses(source, "ocrflow.probe") == [
        "ocrflow.probe imports ocrflow.text.trust._hidden",
        "ocrflow.probe uses ocrflow.text.trust._other"]
