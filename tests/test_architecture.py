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


# --------------------------------------------------------------------------- layers
#
# Only the store talks to a database (DESIGN.md "Parts"; issue: the store owns every
# database operation). The rooms around it reach the database through named store
# functions; the store in turn knows nothing of the settings or of the rooms above it.

DATABASE = {"sqlalchemy", "sqlite3", "psycopg", "alembic", "serialvault.store.schema"}
NO_DATABASE = [
    "backup",
    "drill",
    "reviews",
    "inspection",
    "cli",
    "app",
    "demo",
    "identity",
    "settings.py",
]
ABOVE_STORE = {
    "serialvault.settings",
    "serialvault.backup",
    "serialvault.drill",
    "serialvault.cli",
    "serialvault.app",
    "serialvault.identity",
}


def _files(entries: list[str]) -> list[Path]:
    files: list[Path] = []
    for entry in entries:
        p = SRC / entry
        files += sorted(p.rglob("*.py")) if p.is_dir() else [p]
    return files


def _imported(path: Path) -> set[str]:
    """Modules imported, and ``module.name`` for each name taken from a module (so that
    ``from serialvault.store import schema`` is seen as ``serialvault.store.schema``)."""
    names = set(_imports(path))
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names.update(f"{node.module}.{a.name}" for a in node.names)
    return names


def _hits(path: Path, banned: set[str]) -> list[str]:
    return sorted(
        n for n in _imported(path) if any(n == b or n.startswith(b + ".") for b in banned)
    )


@pytest.mark.parametrize("path", _files(NO_DATABASE), ids=lambda p: str(p.relative_to(SRC)))
def test_only_the_store_talks_to_a_database(path: Path) -> None:
    bad = _hits(path, DATABASE)
    assert not bad, f"{path.relative_to(SRC)} imports {bad}: go through a store function"


@pytest.mark.parametrize("path", _files(["store"]), ids=lambda p: str(p.relative_to(SRC)))
def test_the_store_imports_nothing_above_it(path: Path) -> None:
    bad = _hits(path, ABOVE_STORE)
    assert not bad, f"{path.relative_to(SRC)} imports {bad}"


@pytest.mark.parametrize("path", _files(["cli"]), ids=lambda p: str(p.relative_to(SRC)))
def test_the_cli_calls_operations_not_libraries(path: Path) -> None:
    """The CLI parses, calls one operation of ``app`` and renders: it reaches neither the
    store's queries and writers nor the backup and drill machinery directly (types and
    constants it renders excepted)."""
    allowed = {
        "serialvault.store.engine",  # DATABASE_ERRORS, store_error: the error mapping
        "serialvault.store.capture",  # CaptureResult, rendered
        "serialvault.store.queries",  # EventQuery, built from the options
        "serialvault.store.identity",  # Account, rendered
        "serialvault.backup.take",  # BackupResult, rendered
        "serialvault.backup.follow",  # Follower, rendered at start
        "serialvault.backup.policy",  # DEFAULT_KEY_DIR
        "serialvault.drill.plan",  # SCENARIOS, for the help text
    }
    reached = _hits(
        path,
        {"serialvault.store", "serialvault.backup", "serialvault.drill", "serialvault.identity"},
    )
    bad = [n for n in reached if n not in allowed and n.rsplit(".", 1)[0] not in allowed]
    assert not bad, f"{path.relative_to(SRC)} imports {bad}: call serialvault.app instead"


def _reads_environment(path: Path) -> bool:
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Attribute) and node.attr in ("environ", "getenv", "environb"):
            return True
    return False


def test_only_the_settings_read_the_environment() -> None:
    """Settings are read once, at the edge (``Settings.from_env``) and passed in."""
    readers = sorted(str(p.relative_to(SRC)) for p in SRC.rglob("*.py") if _reads_environment(p))
    assert readers == ["settings.py"]


def test_the_layer_checks_catch_what_they_look_for(tmp_path: Path) -> None:
    sample = tmp_path / "m.py"
    sample.write_text(
        "import os\nfrom serialvault.store import schema\nx = os.environ['A']\n"
        "from serialvault.backup.restore import restore\n"
    )
    assert _hits(sample, DATABASE) == ["serialvault.store.schema"]
    assert _reads_environment(sample)
    assert _hits(sample, {"serialvault.backup"}) == [
        "serialvault.backup.restore",
        "serialvault.backup.restore.restore",
    ]


def _module_name(path: Path) -> str:
    rel = path.relative_to(SRC.parent).with_suffix("")
    parts = list(rel.parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def test_no_two_modules_import_each_other() -> None:
    """A pair of modules that import each other (even inside a function) is one module
    split in two, or a helper in the wrong place."""
    graph = {
        _module_name(p): {n for n in _imported(p) if n.startswith("serialvault.")}
        for p in SRC.rglob("*.py")
    }
    pairs = sorted(
        (a, b) for a, deps in graph.items() for b in deps if a < b and a in graph.get(b, set())
    )
    assert not pairs, f"modules importing each other: {pairs}"


# --------------------------------------------------------------------------- size

MAX_FUNCTION_LINES = 80


def _long_functions() -> list[tuple[str, int, bool]]:
    """(where, lines without the docstring, whether the docstring says why it is long)."""
    out = []
    for p in sorted(SRC.rglob("*.py")):
        for node in ast.walk(ast.parse(p.read_text(encoding="utf-8"))):
            if not isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef):
                continue
            lines = (node.end_lineno or node.lineno) - node.lineno + 1
            doc = ast.get_docstring(node) or ""
            first = node.body[0] if node.body else None
            if doc and isinstance(first, ast.Expr):
                lines -= (first.end_lineno or first.lineno) - first.lineno + 1
            if lines > MAX_FUNCTION_LINES:
                says_why = "long by nature" in doc.lower()
                out.append((f"{p.relative_to(SRC)}:{node.lineno} {node.name}", lines, says_why))
    return out


def test_no_function_is_over_80_lines_unless_its_docstring_says_why() -> None:
    """A long function hides its steps; where the length is the point (a migration, a
    table), the docstring says so with the words "long by nature"."""
    unexplained = [(where, n) for where, n, why in _long_functions() if not why]
    assert not unexplained, f"functions over {MAX_FUNCTION_LINES} lines: {unexplained}"
