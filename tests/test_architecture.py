"""The domain core imports no I/O library (DESIGN.md principle 2, STYLE.md "layout").

GS1 identifiers, the EPCIS model, validation and hashing, the lifecycle rules and master
data are pure: they work on values already in memory. Storage, files, network and the
CLI sit around them. This test reads the imports of every core module (including
imports inside functions) and fails on any I/O library.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

SRC = Path(__file__).resolve().parent.parent / "src" / "serialvault"
CORE = [
    "gs1",
    "epcis",
    "domain",
    "masterdata",
    "drill/plan.py",
    "canonical.py",
    "timefmt.py",
    "errors.py",
]
BANNED = {
    "os",
    "pathlib",
    "io",
    "shutil",
    "tempfile",
    "socket",
    "subprocess",
    "sqlite3",
    "sqlalchemy",
    "alembic",
    "psycopg",
    "urllib.request",
    "http",
    "requests",
    "boto3",
    "botocore",
    "typer",
    "rich",
    "serialvault.store",
    "serialvault.cli",
    "serialvault.settings",
}


def _core_files() -> list[Path]:
    files: list[Path] = []
    for entry in CORE:
        p = SRC / entry
        files += sorted(p.rglob("*.py")) if p.is_dir() else [p]
    return files


def _imports(path: Path) -> set[str]:
    names: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            names.update(a.name for a in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names.add(node.module)
    return names


def _banned(name: str) -> bool:
    return any(name == b or name.startswith(b + ".") for b in BANNED)


@pytest.mark.parametrize("path", _core_files(), ids=lambda p: str(p.relative_to(SRC)))
def test_core_module_imports_no_io_library(path: Path) -> None:
    bad = sorted(n for n in _imports(path) if _banned(n))
    assert not bad, f"{path.relative_to(SRC)} imports {bad}"


def test_the_check_itself_catches_an_io_import(tmp_path: Path) -> None:
    sample = tmp_path / "m.py"
    sample.write_text("def f():\n    import sqlite3\n    from os import path\n")
    assert {n for n in _imports(sample) if _banned(n)} == {"sqlite3", "os"}
