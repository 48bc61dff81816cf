"""The catalogue of log record kinds is the one gate into the chain.

A record of a kind nobody declared (``domain.records.CATALOGUE``) is refused with a
named error and leaves the log as it was; every kind serialvault writes is declared.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

from serialvault.domain import records
from serialvault.errors import StoreError
from serialvault.store.repository import Repository

SRC = Path(records.__file__).resolve().parent.parent


def test_an_undeclared_kind_is_refused_and_nothing_is_recorded(repo: Repository) -> None:
    before = repo.head()
    with pytest.raises(StoreError, match=r"'drill\.rogue' is not in the catalogue"):
        repo.append("drill.rogue", {"x": 1}, "tester@test", "why")
    assert repo.head() == before


def test_a_declared_kind_goes_through_the_one_helper(repo: Repository) -> None:
    rec = repo.append(records.DRILL_RUN, {"drill_id": "d1"}, "tester@test", "drill p")
    assert rec.seq == repo.head().seq == 2
    assert rec.kind == "drill.run"


def test_every_kind_constant_is_in_the_catalogue() -> None:
    tree = ast.parse(Path(records.__file__).read_text(encoding="utf-8"))
    constants = {
        node.value.value
        for node in tree.body
        if isinstance(node, ast.Assign)
        and isinstance(node.value, ast.Constant)
        and isinstance(node.value.value, str)
        and all(isinstance(t, ast.Name) and t.id.isupper() for t in node.targets)
    }
    assert constants
    assert constants <= set(records.CATALOGUE)
    for kind in records.CATALOGUE.values():
        assert kind.writers, kind
        assert kind.writers <= records.ROLES, kind


def test_no_module_declares_a_kind_of_its_own() -> None:
    """A kind is a string literal only in the catalogue: elsewhere it is its name.

    The EPCIS model is left out: ``exception`` is also a field of an EPCIS 2.0 sensor
    report (EPCIS 2.0 §7.3.8), a word of the standard, not a record kind; so are field
    names (dictionary keys and subscripts), such as the ``exception`` an action names."""
    kinds = set(records.CATALOGUE)
    offenders = []
    for path in sorted(SRC.rglob("*.py")):
        if path.name == "records.py" and path.parent.name == "domain":
            continue
        if path.relative_to(SRC).parts[0] == "epcis":
            continue
        tree = ast.parse(path.read_text(encoding="utf-8"))
        # a field name is not a kind: ``{"exception": seq}``, ``body["exception"]``
        names = {id(k) for n in ast.walk(tree) if isinstance(n, ast.Dict) for k in n.keys}
        names |= {id(n.slice) for n in ast.walk(tree) if isinstance(n, ast.Subscript)}
        names |= {  # ``body.get("exception")``
            id(n.args[0])
            for n in ast.walk(tree)
            if isinstance(n, ast.Call)
            and isinstance(n.func, ast.Attribute)
            and n.func.attr == "get"
            and n.args
        }
        if path.name == "main.py" and path.parent.name == "cli":  # command names are words
            names |= {
                id(t.elts[0])
                for n in ast.walk(tree)
                if isinstance(n, ast.Tuple) and n.elts and isinstance(n.elts[0], ast.Constant)
                for t in [n]
            }
        for node in ast.walk(tree):
            if isinstance(node, ast.Constant) and node.value in kinds and id(node) not in names:
                offenders.append(f"{path.relative_to(SRC)}:{node.lineno} {node.value!r}")
    assert not offenders, offenders
