"""The project explains itself: every command, setting and module is documented.

Fails when a command or an environment variable is added without documentation (the
README is the user's manual), and keeps the two set-up commands at the top of the README.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import typer.main

from serialvault.cli.main import app

ROOT = Path(__file__).resolve().parent.parent
README = (ROOT / "README.md").read_text(encoding="utf-8")
ARCHITECTURE = (ROOT / "ARCHITECTURE.md").read_text(encoding="utf-8")


def _commands(group: Any, prefix: str = "") -> list[str]:
    out: list[str] = []
    for name, cmd in sorted(group.commands.items()):
        full = f"{prefix}{name}"
        if hasattr(cmd, "commands"):
            out += _commands(cmd, full + " ")
        else:
            out.append(full)
    return out


def test_every_command_is_in_the_readme() -> None:
    commands = _commands(typer.main.get_command(app))
    assert len(commands) >= 18
    missing = [c for c in commands if f"serialvault {c}" not in README]
    assert not missing, f"undocumented commands: {missing}"


def test_every_environment_variable_is_in_the_readme() -> None:
    used: set[str] = set()
    for path in (ROOT / "src").rglob("*.py"):
        used.update(re.findall(r"SERIALVAULT_[A-Z_]+", path.read_text(encoding="utf-8")))
    for path in (ROOT / "tests").rglob("*.py"):
        used.update(re.findall(r"\"(SERIALVAULT_[A-Z_]+)\"", path.read_text(encoding="utf-8")))
    missing = sorted(v for v in used if v not in README)
    assert not missing, f"undocumented settings: {missing}"


def test_readme_starts_with_the_two_commands() -> None:
    head = README.splitlines()[:10]
    assert any(line.startswith("make demo") for line in head)
    assert any(line.startswith("make test") for line in head)


def test_ci_runs_the_readme_test_command() -> None:
    ci = (ROOT / ".ci" / "run").read_text(encoding="utf-8")
    assert re.search(r"^make test$", ci, re.MULTILINE)


def test_every_package_is_described_in_the_architecture() -> None:
    packages = sorted(
        p.name for p in (ROOT / "src" / "serialvault").iterdir() if (p / "__init__.py").exists()
    )
    missing = [
        p for p in packages if f"`{p}`" not in ARCHITECTURE and f"  {p}/ " not in ARCHITECTURE
    ]
    assert not missing, f"packages missing from ARCHITECTURE.md: {missing}"


def test_the_readme_exit_code_table_is_the_error_classes_table() -> None:
    """The README's table is exactly ``errors.exit_codes()``: one row per code, its
    meaning as the owning error class states it, in order."""
    from serialvault import errors

    section = README.split("### Exit codes", 1)[1].split("\n### ", 1)[0]
    rows = re.findall(r"^\| (\d+) \| (.+) \|$", section, re.MULTILINE)
    assert [(int(c), m) for c, m in rows] == errors.exit_codes()


def test_every_error_class_exit_code_is_in_the_table() -> None:
    from serialvault import errors

    codes = {
        cls.exit_code
        for cls in vars(errors).values()
        if isinstance(cls, type) and issubclass(cls, errors.SerialvaultError)
    }
    assert codes | {0} == {c for c, _ in errors.exit_codes()}
