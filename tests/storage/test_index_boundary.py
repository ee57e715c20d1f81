"""The index database is reached through its one public object: code outside ``storage/``
calls :class:`storage.index.RecordIndex`'s methods and never opens a transaction or a session
on it, and no module reaches for another's private session."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
OUTSIDE = ["api", "bench", "cli", "extraction", "flows", "models", "ocr", "review", "tests"]


def _sources(folder: str) -> list[Path]:
    return sorted(p for p in (ROOT / folder).rglob("*.py") if "__pycache__" not in p.parts)


def _attributes(path: Path) -> set[str]:
    tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
    return {n.attr for n in ast.walk(tree) if isinstance(n, ast.Attribute)}


def _imports(path: Path) -> set[str]:
    tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
    found: set[str] = set()
    for n in ast.walk(tree):
        if isinstance(n, ast.ImportFrom) and n.module:
            found.add(n.module)
            found.update(f"{n.module}.{a.name}" for a in n.names)
        elif isinstance(n, ast.Import):
            found.update(a.name for a in n.names)
    return found


@pytest.mark.parametrize("folder", OUTSIDE)
def test_nothing_outside_storage_opens_a_transaction_on_the_index(folder: str) -> None:
    """
    GIVEN the code outside the storage package (the app, flows, tools, tests)
    WHEN its modules are read
    THEN none imports the index database's parts (``storage.db``) or opens a transaction or a
         session on it: they call RecordIndex's methods
    """
    bad = []
    for path in _sources(folder):
        used = _attributes(path) & {"transaction", "_session"}
        parts = {m for m in _imports(path) if m == "storage.db" or m.startswith("storage.db.")}
        if used or parts:
            bad.append(f"{path.relative_to(ROOT)}: {sorted(used | parts)}")
    assert bad == []


def test_storage_modules_use_the_index_databases_own_interface() -> None:
    """
    GIVEN the modules of the storage package
    WHEN they work in the index database
    THEN they use its transactions (``Database.transaction``), never a private session
    """
    bad = [str(p.relative_to(ROOT)) for p in _sources("storage")
           if "_session" in _attributes(p)]
    assert bad == []
